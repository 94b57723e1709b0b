"""Reads and writes of stored runs (DESIGN.md §3).

A run is written in one DuckDB transaction together with its segments,
assignments and transitions, and its model folder is moved into place just
before the commit, so a run is visible completely or not at all.
"""

from __future__ import annotations

import json
import re
import shutil
import time
from datetime import datetime
from pathlib import Path
from typing import Any, Iterable

import duckdb
import pandas as pd

from segmentation.errors import ConflictError, InputError, NotFoundError
from segmentation.data.journal import crash_point, staging_dir
from segmentation.data.queries import load_query
from segmentation.data.store import fetch_row, transaction

__all__ = [
    "tracking_inputs",
    "value_rows",
    "model_staging_dir",
    "next_run_id",
    "save_run",
    "list_runs",
    "get_run",
    "latest_run_id",
    "previous_run",
    "parse_profiles",
    "list_segments",
    "name_segment",
    "records",
]

SEGMENT_COLUMNS = [
    "segment_id", "lineage_id", "size", "name", "suggested_name", "description",
    "transition", "profile", "named_by", "named_at",
]
ASSIGNMENT_COLUMNS = ["customer_id", "segment_id", "probability", "x", "y", "reconstruction_error"]
TRANSITION_COLUMNS = ["from_run", "from_segment", "to_segment", "kind", "overlap"]


def _frame(con: duckdb.DuckDBPyConnection, query: str, params: dict | None = None) -> pd.DataFrame:
    return con.execute(load_query(query), params or {}).df()


def model_staging_dir(models_root: Path) -> Path:
    """Where a run writes its models before :func:`save_run` moves them to ``run_<id>``.

    The name carries the process id, so the next command can tell a folder left by
    a killed process from one another process is still writing (segmentation/data/journal.py).
    """
    return staging_dir(models_root)


def next_run_id(con: duckdb.DuckDBPyConnection) -> int:
    return int(fetch_row(con, "runs_next_id")[0])


def save_run(
    con: duckdb.DuckDBPyConnection,
    run: dict[str, Any],
    segments: pd.DataFrame,
    assignments: pd.DataFrame,
    transitions: pd.DataFrame | None = None,
    model_tmp_dir: Path | None = None,
    model_dir: Path | None = None,
) -> int:
    """Store one complete run atomically and return its id.

    ``run`` holds the ``runs`` columns except ``run_id``/``status``. The run id is
    taken inside the transaction. ``model_tmp_dir`` (already written) is renamed to
    ``model_dir / f"run_{id}"`` right before the commit.

    A snapshot in which every customer is noise has no segment to show, track, name
    or export: it is refused with :class:`InputError` (nothing is stored).
    """
    if int(run["n_segments"]) < 1:
        params = run.get("params") or {}
        share = params.get("min_cluster_share") or (params.get("segment_floor") or {}).get("share")
        smallest = f" of at least {float(share):.0%} of the fitted customers (--min-cluster-share)" if share else ""
        raise InputError(
            f"no segments found as of {run['as_of']}: all {int(run['n_customers']):,} customers are noise, "
            f"no group{smallest} stands out; nothing was stored. Try a smaller --min-cluster-share "
            "or a longer --window-days")
    final_models: Path | None = None
    try:
        with transaction(con):
            run_id = next_run_id(con)
            if model_tmp_dir is not None and model_dir is not None:
                final_models = model_dir / f"run_{run_id}"
                if final_models.exists():  # left by a run that died before its commit
                    shutil.rmtree(final_models)
                model_dir.mkdir(parents=True, exist_ok=True)
            params = {
                "run_id": run_id,
                "created_at": run.get("created_at") or datetime.now(),
                "as_of": run["as_of"],
                "window_days": int(run["window_days"]),
                "n_customers": int(run["n_customers"]),
                "n_segments": int(run["n_segments"]),
                "noise_share": float(run["noise_share"]),
                "params": json.dumps(run.get("params", {}), default=str),
                "metrics": json.dumps(run.get("metrics", {}), default=str),
                "model_path": str(final_models) if final_models else None,
            }
            con.execute(load_query("runs_insert"), params)
            staged_segments = _fresh_lineages(con, segments.reindex(columns=SEGMENT_COLUMNS))
            staged_segments["profile"] = staged_segments["profile"].map(
                lambda p: p if isinstance(p, str) or p is None else json.dumps(p, default=str)
            )
            con.register("staged_segments", staged_segments)
            con.execute(load_query("segments_insert"), {"run_id": run_id})
            con.register("staged_assignments", assignments.reindex(columns=ASSIGNMENT_COLUMNS))
            con.execute(load_query("assignments_insert"), {"run_id": run_id})
            if transitions is not None and not transitions.empty:
                con.register("staged_transitions", transitions.reindex(columns=TRANSITION_COLUMNS))
                con.execute(load_query("transitions_insert"), {"run_id": run_id})
                # Names given to the previous snapshot while this one was computed are not lost.
                for from_run in sorted({int(r) for r in transitions["from_run"].dropna()}):
                    con.execute(load_query("segments_update_carried_names"),
                                {"run_id": run_id, "from_run": from_run})
            crash_point("save_run:before-rename")
            if final_models is not None:
                model_tmp_dir.rename(final_models)
            crash_point("save_run:before-commit")
        crash_point("save_run:after-commit")
    except BaseException:
        if final_models is not None and final_models.exists():
            shutil.rmtree(final_models, ignore_errors=True)
        raise
    finally:
        for view in ("staged_segments", "staged_assignments", "staged_transitions"):
            try:
                con.unregister(view)
            except Exception:  # noqa: BLE001 - view may not exist
                pass
    return run_id


def _fresh_lineages(con: duckdb.DuckDBPyConnection, segments: pd.DataFrame) -> pd.DataFrame:
    """Lineage ids of segments that start a lineage, moved past every id stored meanwhile.

    Tracking numbers new lineages from the ids stored when it read the database; a run
    stored by another process since then may have taken the same numbers.
    """
    fresh = segments["transition"].isin(("new", "emerged", "split", "forming")) & segments["lineage_id"].notna()
    # a forming lineage goes on (forming, then emerged once announced): its id is its parent's
    fresh &= pd.Series([not _goes_on(lineage, profile) for lineage, profile
                        in zip(segments["lineage_id"], segments["profile"])], index=segments.index, dtype=bool)
    if not fresh.any():
        return segments
    next_free = int(fetch_row(con, "segments_next_lineage_id")[0])
    lowest = int(pd.to_numeric(segments.loc[fresh, "lineage_id"]).min())
    if lowest >= next_free:
        return segments
    out = segments.copy()
    out["lineage_id"] = out["lineage_id"].astype(object)
    out.loc[fresh, "lineage_id"] = [int(v) + next_free - lowest for v in out.loc[fresh, "lineage_id"]]
    return out


def _goes_on(lineage_id: Any, profile: Any) -> bool:
    """Whether a segment continues a lineage of the previous snapshot (its id among its parents')."""
    profile = json.loads(profile) if isinstance(profile, str) else profile
    parents = (profile.get("lineage_parents") or []) if isinstance(profile, dict) else []
    return pd.notna(lineage_id) and int(lineage_id) in {int(p) for p in parents}


def list_runs(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Complete runs, newest first."""
    return _frame(con, "runs_list")


def get_run(con: duckdb.DuckDBPyConnection, run_id: int) -> dict[str, Any]:
    """One complete run as a dict; :class:`NotFoundError` names the known ids otherwise."""
    frame = _frame(con, "runs_select", {"run_id": int(run_id)})
    if frame.empty:
        known = list_runs(con)["run_id"].tolist()
        hint = f"known runs: {', '.join(map(str, sorted(known)))}" if known else "no runs yet"
        raise NotFoundError(f"no run {run_id} ({hint})")
    row = frame.iloc[0].to_dict()
    for key in ("params", "metrics"):
        row[key] = json.loads(row[key]) if isinstance(row[key], str) else (row[key] or {})
    return row


def latest_run_id(con: duckdb.DuckDBPyConnection) -> int | None:
    row = fetch_row(con, "runs_select_latest")
    return int(row[0]) if row else None


def parse_profiles(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with its ``profile`` column parsed from JSON (in place; returned for chaining)."""
    frame["profile"] = frame["profile"].map(lambda p: json.loads(p) if isinstance(p, str) else p)
    return frame


def previous_run(con: duckdb.DuckDBPyConnection, as_of, window_days: int | None = None) -> dict[str, Any] | None:
    """The complete run just before ``as_of`` (what a new snapshot is compared with).

    With ``window_days``, only a run with the same look-back window: a 60-day and a 90-day
    snapshot do not describe the same behaviour, so they are not compared.
    """
    row = fetch_row(con, "runs_select_previous", {"as_of": as_of, "window_days": window_days})
    return ({"run_id": int(row[0]), "as_of": row[1], "window_days": int(row[2]), "fitted": bool(row[3])}
            if row else None)


def lineage_starts(con: duckdb.DuckDBPyConnection, run_id: int, lookback: int = 6) -> pd.DataFrame:
    """queries/runs/segments_select_lineage_starts.sql: for each segment of ``run_id``, where its lineage
    was first seen among the ``lookback`` complete runs up to it (the drift check's reach,
    :func:`segmentation.workflows.reuse._drift_references`): ``since_run``, ``since_segment``."""
    return con.execute(load_query("segments_select_lineage_starts"), {"run_id": int(run_id), "lookback": lookback}).df()


def members_of(con: duckdb.DuckDBPyConnection, run_id: int, segment_id: int) -> pd.Index:
    """The customer ids ``run_id`` assigned to ``segment_id`` (queries/runs/assignments_select_of_segment.sql)."""
    frame = con.execute(load_query("assignments_select_of_segment"),
                        {"run_id": int(run_id), "segment_id": int(segment_id)}).df()
    return pd.Index(frame["customer_id"].astype(str))


def list_segments(con: duckdb.DuckDBPyConnection, run_id: int | None = None) -> pd.DataFrame:
    """Segments of ``run_id`` (default: the latest run)."""
    if run_id is None:
        run_id = latest_run_id(con)
        if run_id is None:
            raise NotFoundError("no runs yet: try `python -m segmentation run --as-of YYYY-MM-DD`")
    else:
        get_run(con, run_id)
    frame = _frame(con, "segments_list", {"run_id": int(run_id)})
    parse_profiles(frame)
    return frame


def segment_history(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Every segment of every complete run, oldest snapshot first (profile parsed)."""
    frame = _frame(con, "segments_select_history")
    parse_profiles(frame)
    return frame


_UNCHANGED = object()
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
MAX_NAME_CHARS = 200
MAX_DESCRIPTION_CHARS = 2000
# Two sessions of one process renaming at the same moment: DuckDB lets the second retry.
_CONFLICT_RETRIES = 8


def _clean_text(value: str | None, what: str, limit: int, allow_newlines: bool) -> str | None:
    """``value`` trimmed; InputError for control characters (line breaks and tabs only when
    ``allow_newlines``) or more than ``limit`` characters. None stays None."""
    if value is None:
        return None
    text = str(value).strip()
    checked = text.translate({ord(c): None for c in "\n\r\t"}) if allow_newlines else text
    if _CONTROL.search(checked):
        raise InputError(f"a segment {what} cannot contain control characters"
                         f"{'' if allow_newlines else ' (line breaks, tabs)'}")
    if len(text) > limit:
        raise InputError(f"a segment {what} has at most {limit:,} characters (got {len(text):,})")
    return text


def name_segment(
    con: duckdb.DuckDBPyConnection,
    run_id: int,
    segment_id: int,
    name: str | None,
    description: str | None = None,
    who: str = "unknown",
    *,
    expected_name: Any = _UNCHANGED,
    expected_description: Any = _UNCHANGED,
) -> dict[str, Any]:
    """Give a segment a name and/or a description; the change is kept in ``name_history``.

    ``name`` or ``description`` None leaves that field as it is (an empty description
    clears it), so two people editing different fields at the same time both keep
    their edit; on the same field the last write wins. Pass ``expected_name`` /
    ``expected_description`` (what the editor showed) to be refused with
    :class:`ConflictError` instead when someone else changed the field meanwhile.
    Names are one line of at most 200 characters, descriptions at most 2,000.
    """
    name = _clean_text(name, "name", MAX_NAME_CHARS, allow_newlines=False)
    description = _clean_text(description, "description", MAX_DESCRIPTION_CHARS, allow_newlines=True)
    if name is not None and not name:
        raise InputError("a segment name cannot be empty")
    if name is None and description is None:
        raise InputError("give a name or a description to change")
    get_run(con, run_id)
    params = {"run_id": int(run_id), "segment_id": int(segment_id), "name": name,
              "description": description, "who": who}
    for attempt in range(_CONFLICT_RETRIES):
        params["at"] = datetime.now()
        try:
            with transaction(con):
                _check_expected(con, params, expected_name, expected_description)
                if name is not None:
                    _check_name_free(con, params)
                row = fetch_row(con, "segments_update_name", params)
                if row is None:
                    raise NotFoundError(f"run {run_id} has no segment {segment_id}")
                con.execute(load_query("name_history_insert"),
                            {**params, "lineage_id": row[2], "name": row[3], "description": row[4]})
            break
        except duckdb.TransactionException:  # a concurrent writer: rolled back, try again
            if attempt == _CONFLICT_RETRIES - 1:
                raise ConflictError(f"segment {segment_id} of run {run_id} is being changed by someone else "
                                    "right now; try again") from None
            time.sleep(0.02 * (attempt + 1))
    keys = ["run_id", "segment_id", "lineage_id", "name", "description", "named_by", "named_at"]
    return dict(zip(keys, row))


def _check_name_free(con: duckdb.DuckDBPyConnection, params: dict) -> None:
    """InputError when another segment of the run is already shown under that name (any case)."""
    taken = fetch_row(con, "segments_select_name_taken", {k: params[k] for k in ("run_id", "segment_id", "name")})
    if taken is not None:
        raise InputError(f"segment {taken[0]} of this snapshot is already called “{taken[1]}”; "
                         "two segments cannot share a name, choose another one")


def _check_expected(con: duckdb.DuckDBPyConnection, params: dict, expected_name: Any,
                    expected_description: Any) -> None:
    """ConflictError when a field the caller edits was changed by someone else since they read it."""
    current = fetch_row(con, "segments_select_names", {"run_id": params["run_id"], "segment_id": params["segment_id"]})
    if current is None:
        return  # segments_update_name reports the unknown segment
    stored_name, stored_description, named_by, named_at = current
    for field, wanted, expected, stored in (("name", params["name"], expected_name, stored_name),
                                            ("description", params["description"], expected_description,
                                             stored_description)):
        if wanted is None or expected is _UNCHANGED or (expected or None) == (stored or None):
            continue
        when = f" at {named_at:%Y-%m-%d %H:%M:%S}" if named_at else ""
        raise ConflictError(
            f"the {field} of segment {params['segment_id']} (run {params['run_id']}) was changed by "
            f"{named_by or 'someone else'}{when} to {stored!r} while you were editing it; "
            "reload it and make your change again")


def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """JSON-friendly rows (timestamps as ISO text, NaN as null)."""
    cleaned = frame.astype(object).where(frame.notna(), None)
    return cleaned.to_dict(orient="records")


def tracking_inputs(con: duckdb.DuckDBPyConnection, as_of, window_days: int | None = None) -> dict[str, Any]:
    """What tracking a new snapshot of ``as_of`` needs from the store
    (:func:`segmentation.dynamics.tracking.track_snapshot`): the next lineage id, the run just
    before it with the same window (None for none) with its assignments, parsed segments and where
    their lineages began (``lineage_starts``: :func:`lineage_starts`), and an earlier run with another
    window (``other_run``, for the note that they were not compared)."""
    inputs: dict[str, Any] = {"next_lineage": int(fetch_row(con, "segments_next_lineage_id")[0]),
                              "run": previous_run(con, as_of, window_days), "other_run": None}
    if inputs["run"] is None:
        inputs["other_run"] = previous_run(con, as_of) if window_days is not None else None
        return inputs
    run_id = {"run_id": inputs["run"]["run_id"]}
    inputs["assignments"] = con.execute(load_query("assignments_select_of_run"), run_id).df()
    inputs["segments"] = parse_profiles(con.execute(load_query("segments_select_of_run"), run_id).df())
    inputs["lineage_starts"] = lineage_starts(con, run_id["run_id"])
    return inputs


def value_rows(con: duckdb.DuckDBPyConnection, run_ids: Iterable[int] | None = None) -> pd.DataFrame:
    """queries/runs/segments_select_value.sql: customers, purchases, revenue and quiet customers per (run, segment)
    of ``run_ids`` (all runs for None) and the runs just before them
    (:func:`segmentation.dynamics.value.segment_value` turns them into value over time)."""
    return con.execute(load_query("segments_select_value"),
                       {"run_ids": None if run_ids is None else [int(r) for r in run_ids]}).df()

"""Reads and writes of stored runs (DESIGN.md §3).

A run is written in one DuckDB transaction together with its segments,
assignments and transitions, and its model folder is moved into place just
before the commit, so a run is visible completely or not at all.
"""

from __future__ import annotations

import json
import shutil
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from .errors import InputError, NotFoundError
from .queries import load_query
from .store import fetch_row

__all__ = [
    "next_run_id",
    "save_run",
    "list_runs",
    "get_run",
    "latest_run_id",
    "previous_run",
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


def next_run_id(con: duckdb.DuckDBPyConnection) -> int:
    return int(fetch_row(con, "run_next_id")[0])


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
    """
    con.execute("BEGIN TRANSACTION")
    final_models: Path | None = None
    try:
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
        staged_segments = segments.reindex(columns=SEGMENT_COLUMNS)
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
        if final_models is not None:
            model_tmp_dir.rename(final_models)
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
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


def list_runs(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Complete runs, newest first."""
    return _frame(con, "runs_list")


def get_run(con: duckdb.DuckDBPyConnection, run_id: int) -> dict[str, Any]:
    """One complete run as a dict; :class:`NotFoundError` names the known ids otherwise."""
    frame = _frame(con, "run_get", {"run_id": int(run_id)})
    if frame.empty:
        known = list_runs(con)["run_id"].tolist()
        hint = f"known runs: {', '.join(map(str, sorted(known)))}" if known else "no runs yet"
        raise NotFoundError(f"no run {run_id} ({hint})")
    row = frame.iloc[0].to_dict()
    for key in ("params", "metrics"):
        row[key] = json.loads(row[key]) if isinstance(row[key], str) else (row[key] or {})
    return row


def latest_run_id(con: duckdb.DuckDBPyConnection) -> int | None:
    row = fetch_row(con, "run_latest")
    return int(row[0]) if row else None


def previous_run(con: duckdb.DuckDBPyConnection, as_of) -> dict[str, Any] | None:
    """The complete run just before ``as_of`` (what a new snapshot is compared with)."""
    row = fetch_row(con, "run_previous", {"as_of": as_of})
    return {"run_id": int(row[0]), "as_of": row[1]} if row else None


def list_segments(con: duckdb.DuckDBPyConnection, run_id: int | None = None) -> pd.DataFrame:
    """Segments of ``run_id`` (default: the latest run)."""
    if run_id is None:
        run_id = latest_run_id(con)
        if run_id is None:
            raise NotFoundError("no runs yet: try `python -m segmentation run --as-of YYYY-MM-DD`")
    else:
        get_run(con, run_id)
    frame = _frame(con, "segments_list", {"run_id": int(run_id)})
    frame["profile"] = frame["profile"].map(lambda p: json.loads(p) if isinstance(p, str) else p)
    return frame


def segment_history(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Every segment of every complete run, oldest snapshot first (profile parsed)."""
    frame = _frame(con, "segments_history")
    frame["profile"] = frame["profile"].map(lambda p: json.loads(p) if isinstance(p, str) else p)
    return frame


def name_segment(
    con: duckdb.DuckDBPyConnection,
    run_id: int,
    segment_id: int,
    name: str,
    description: str | None = None,
    who: str = "unknown",
) -> dict[str, Any]:
    """Give a segment a name (and description); the change is kept in ``name_history``."""
    name = (name or "").strip()
    if not name:
        raise InputError("a segment name cannot be empty")
    if len(name) > 200:
        raise InputError(f"a segment name has at most 200 characters (got {len(name)})")
    get_run(con, run_id)
    at = datetime.now()
    params = {
        "run_id": int(run_id), "segment_id": int(segment_id), "name": name,
        "description": description, "who": who, "at": at,
    }
    con.execute("BEGIN TRANSACTION")
    try:
        row = fetch_row(con, "segment_rename", params)
        if row is None:
            raise NotFoundError(f"run {run_id} has no segment {segment_id}")
        con.execute(load_query("name_history_insert"), {**params, "lineage_id": row[2],
                                                         "description": row[4]})
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    keys = ["run_id", "segment_id", "lineage_id", "name", "description", "named_by", "named_at"]
    return dict(zip(keys, row))


def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """JSON-friendly rows (timestamps as ISO text, NaN as null)."""
    cleaned = frame.astype(object).where(frame.notna(), None)
    return cleaned.to_dict(orient="records")

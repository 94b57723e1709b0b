"""Acting on a stored segment: its rules (``explain``) and its lookalikes (``lookalike``).

Workflows: they read a stored run (features rebuilt from the events at the run's date and window,
the stored assignments, the run's models) and call the pure parts in :mod:`segmentation.dynamics.rules` and
:mod:`segmentation.audiences.lookalike`. :func:`with_rules` and :func:`with_lookalike_quality` add both to the
profiles of every new snapshot, so reading them later costs nothing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd

from segmentation.constants import NOISE
from segmentation.data import results, store
from segmentation.errors import InputError, NotFoundError
from segmentation.present.digest import display_name
from segmentation.data.queries import load_query

__all__ = ["RunData", "load_run_data", "explain_segment", "lookalike_segment", "lookalike_members",
           "ranked_lookalikes", "with_rules", "with_lookalike_quality"]


@dataclass
class RunData:
    run: dict
    table: Any              # features.FeatureTable of the run's date and window
    labels: pd.Series       # segment per customer (index: customer_id, in the table's order)
    names: dict[int, str]   # segment id -> name shown to people
    profiles: dict[int, dict]  # segment id -> stored profile (rules, lookalike quality, …)


def load_run_data(db: Any, run_id: int) -> RunData:
    """The run, its feature table and its stored labels (a clear error for an unknown run)."""
    from segmentation.features.table import build_features

    with store.connect(db, read_only=True) as con:
        run = results.get_run(con, int(run_id))
        table = build_features(con, run["as_of"], int(run["window_days"]))
        stored = con.execute(load_query("assignments_select_of_run"), {"run_id": int(run_id)}).df()
        segments = results.list_segments(con, int(run_id))
    labels = (stored.assign(customer_id=stored["customer_id"].astype(str)).set_index("customer_id")["segment_id"]
              .reindex(table.frame.index).fillna(NOISE).astype(int))
    names = {int(r.segment_id): display_name(r.name, r.suggested_name)
             for r in segments.itertuples(index=False)}
    profiles = {int(r.segment_id): r.profile or {} for r in segments.itertuples(index=False)}
    return RunData(run, table, labels, names, profiles)


def _check_segment(data: RunData, segment_id: int, lookalikes: bool = False) -> np.ndarray:
    from segmentation.audiences.lookalike import MIN_MEMBERS

    if int(segment_id) == NOISE:
        raise InputError("segment -1 is noise (customers who fit no segment): pick a segment id from `segments`")
    member = data.labels.to_numpy() == int(segment_id)
    if not member.any():
        known = ", ".join(str(s) for s in sorted(data.names) if s != NOISE)
        raise NotFoundError(f"run {data.run['run_id']} has no segment {segment_id} (segments: {known})")
    if lookalikes and (member.sum() < MIN_MEMBERS or member.all()):
        raise InputError(f"segment {segment_id} has {int(member.sum())} of {len(member)} customers: lookalikes "
                         f"need at least {MIN_MEMBERS} members and customers outside the segment")
    return member


def explain_segment(db: Any, run_id: int, segment_id: int) -> dict[str, Any]:
    """Rules for one segment with their fidelity (see :mod:`segmentation.dynamics.rules`)."""
    from segmentation.dynamics.rules import display_kinds, segment_rules

    data = load_run_data(db, run_id)
    member = _check_segment(data, segment_id)
    kinds = display_kinds(data.table.frame, data.table.catalog)
    words = {f.name: f.label for f in data.table.catalog}
    found = segment_rules(data.table.frame, member, kinds, words)
    return {"run_id": int(run_id), "segment_id": int(segment_id), "name": data.names.get(int(segment_id)),
            "size": int(member.sum()), "table": "the feature table of the run (one row per customer; "
            "columns as in `segments --json` profile traits)", **found}


def _space(data: RunData) -> np.ndarray:
    """Every customer of the run in the cluster space of the run's models."""
    from segmentation.workflows.assign import load_run_models

    from segmentation.features.table import fill_missing_features

    pipeline = load_run_models(data.run)
    # the run's own feature table: normally nothing is missing; anything that is gets the value for
    # no such activity, as in assign (not 0, which would mean "active today" for day counts)
    frame, _ = fill_missing_features(data.table, list(pipeline.feature_names_in_))
    return pipeline.transform(frame)


def lookalike_members(db: Any, run_id: int, segment_id: int, size: int | None = None,
                      share: float | None = None) -> tuple[pd.DataFrame, dict[str, Any]]:
    """``(ranked lookalikes, quality)``: a frame ``customer_id, rank, similarity`` of the ``size``
    (or ``share`` of the non-members) closest non-members, and the evaluation: the one measured with
    the snapshot (stored in the profile), measured now for runs stored before it was."""
    from segmentation.audiences.lookalike import evaluate, rank_lookalikes

    data = load_run_data(db, run_id)
    member = _check_segment(data, segment_id, lookalikes=True)
    outside = int((~member).sum())
    if size is not None and share is not None:
        raise InputError("give --size or --share, not both")
    if share is not None:
        if not 0 < share <= 1:
            raise InputError(f"--share {share}: give a share of the non-members between 0 and 1, e.g. 0.05")
        size = int(math.ceil(share * outside))
    if size is None:
        size = min(int(member.sum()), outside)  # default: as many lookalikes as members
    if size < 0:
        raise InputError(f"--size {size}: give a number of customers ≥ 0")
    size = min(int(size), outside)
    space = _space(data)
    quality = (data.profiles.get(int(segment_id), {}).get("lookalike")
               or evaluate(space, member, features=data.table.frame.to_numpy(np.float64)))
    positions, similarity = rank_lookalikes(space, member, size)
    ranked = pd.DataFrame({"customer_id": data.table.frame.index[positions].astype(str),
                           "rank": np.arange(1, len(positions) + 1),
                           "similarity": np.round(similarity, 4)})
    document = {"run_id": int(run_id), "segment_id": int(segment_id), "name": data.names.get(int(segment_id)),
                "members": int(member.sum()), "non_members": outside, "customers": int(len(ranked)),
                "recall_at_20": quality["recall_at_20"],
                "baseline_recall_at_20": quality.get("baseline_recall_at_20"),
                "held_out": quality["held_out"], "candidates": quality["candidates"], "curve": quality["curve"],
                "mean_similarity": float(ranked["similarity"].mean()) if len(ranked) else None}
    return ranked, document


def lookalike_segment(db: Any, run_id: int, segment_id: int, size: int | None = None,
                      share: float | None = None, out: Path | None = None) -> dict[str, Any]:
    """:func:`lookalike_members`, written to ``out`` (CSV: ``customer_id, rank, similarity``) whole or
    not at all."""
    ranked, document = lookalike_members(db, run_id, segment_id, size, share)
    if out is not None:
        out = Path(out)
        if out.suffix.lower() not in (".csv", ""):
            raise InputError(f"--out {out}: lookalikes are written as a .csv file")
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_name(f".{out.name}.tmp")
        ranked.to_csv(tmp, index=False)
        tmp.replace(out)
    document["out"] = str(out) if out else None
    return document


# ---- with every snapshot: rules and lookalike quality stored in the segments' profiles

def with_rules(segments: pd.DataFrame, table, assignments: pd.DataFrame) -> list:
    """The segments' profiles with their ``rules`` (see :mod:`segmentation.dynamics.rules`) added."""
    from segmentation.dynamics.rules import rules_for_run

    found = rules_for_run(table.frame, assignments.set_index("customer_id")["segment_id"], table.catalog)
    return [{**(profile or {}), "rules": found.get(int(segment))} if segment != NOISE else profile
            for segment, profile in zip(segments["segment_id"], segments["profile"])]


def with_lookalike_quality(segments: pd.DataFrame, space: np.ndarray, frame: pd.DataFrame,
                           labels: np.ndarray) -> list:
    """The profiles with ``lookalike``: each segment's measured recall (:func:`segmentation.audiences.lookalike.evaluate`)."""
    from segmentation.audiences.lookalike import MIN_MEMBERS, evaluate

    values = frame.to_numpy(np.float64)
    out = []
    for segment, profile in zip(segments["segment_id"], segments["profile"]):
        member = labels == segment
        if segment != NOISE and member.sum() >= MIN_MEMBERS and (~member).any():
            profile = {**profile, "lookalike": evaluate(space, member, features=values, random_state=int(segment))}
        out.append(profile)
    return out


def ranked_lookalikes(db: Any, run_id: int, ids: list[int], size: int) -> pd.DataFrame | None:
    """The ranked lookalikes an export of segments ``ids`` adds (None for none): ``plan_export(lookalikes=…)``."""
    ids = [int(ids)] if isinstance(ids, int) else [int(i) for i in ids]
    if not size:
        return None
    if size < 0:
        raise InputError(f"--lookalike {size}: give a number of customers ≥ 0")
    if len(ids) != 1 or ids[0] == -1:
        raise InputError("--lookalike goes with exactly one segment (not noise)")
    if isinstance(db, duckdb.DuckDBPyConnection):
        raise InputError("lookalikes need the database path, not an open connection")
    ranked, _ = lookalike_members(db, run_id, ids[0], size=int(size))
    return ranked

"""The reads an export is planned from, shared by planning (export.py) and writing (export_write.py).

A write reads them again and compares the :func:`fingerprint`, so a file is never written from
a plan whose members, names, contact data, consent or earlier exports changed meanwhile.
"""

from __future__ import annotations

import hashlib
from datetime import date

import duckdb
import pandas as pd

from segmentation.data import results, store
from segmentation.errors import NotFoundError
from segmentation.data.queries import load_query

__all__ = ["segments", "candidates", "previous_export", "fingerprint"]


def segments(con: duckdb.DuckDBPyConnection, run_id: int, segment_ids: list[int]) -> pd.DataFrame:
    """The chosen segments of a run (in the order asked) with ``segment_name`` (given, else suggested)."""
    known = results.list_segments(con, run_id)  # NotFoundError for an unknown run
    missing = [s for s in segment_ids if s not in set(known["segment_id"].tolist())]
    if missing:
        ids = ", ".join(str(s) for s in sorted(known["segment_id"].tolist()))
        raise NotFoundError(f"run {run_id} has no segment {', '.join(map(str, missing))} (segments: {ids})")
    chosen = known[known["segment_id"].isin(segment_ids)].copy()
    chosen["segment_name"] = chosen["name"].where(chosen["name"].notna(), chosen["suggested_name"])
    return chosen.set_index("segment_id").loc[segment_ids].reset_index()


def candidates(con: duckdb.DuckDBPyConnection, run_id: int, run_date: date,
                segments: pd.DataFrame, lookalikes: pd.DataFrame | None = None) -> pd.DataFrame:
    """The segments' members (and ``lookalikes``, ranked non-members of the one segment) with their
    contact data and consent; ``from_lookalike`` says which is which."""
    frames = []
    for seg in segments.itertuples(index=False):
        frame = con.execute(load_query("assignments_select_export_candidates"),
                            {"run_id": int(run_id), "segment_id": int(seg.segment_id)}).df()
        frame["lineage_id"] = seg.lineage_id
        frame["segment_name"] = seg.segment_name
        frame["from_lookalike"] = False
        frames.append(frame)
    if lookalikes is not None and len(lookalikes):
        seg = next(segments.itertuples(index=False))
        con.register("staged_lookalikes", lookalikes[["customer_id", "rank", "similarity"]])
        try:
            frame = con.execute(load_query("customers_select_lookalike_candidates"), {"segment_id": int(seg.segment_id)}).df()
        finally:
            con.unregister("staged_lookalikes")
        frame["lineage_id"] = seg.lineage_id
        frame["segment_name"] = f"{seg.segment_name} (lookalike)"
        frame["from_lookalike"] = True
        frames.append(frame)
    out = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    out["run_id"] = int(run_id)
    out["run_date"] = run_date
    return out


def previous_export(con: duckdb.DuckDBPyConnection, platform: str, lineage_key: str) -> int | None:
    """The latest export of the same lineages to the same platform (what a delta is taken against)."""
    try:
        row = store.fetch_row(con, "exports_select_previous", {"platform": platform, "lineage_key": lineage_key})
    except (duckdb.CatalogException, duckdb.BinderException):
        return None  # a database not yet migrated to schema 2 (opened read-only) has no exports
    return int(row[0]) if row else None


def fingerprint(candidates: pd.DataFrame, previous_export_id: int | None) -> str:
    """What the plan was computed from; a write checks it is unchanged."""
    digest = hashlib.sha256(str(previous_export_id).encode())
    if len(candidates):
        frame = candidates.astype(str)
        digest.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
        digest.update(",".join(frame.columns).encode())
    return digest.hexdigest()

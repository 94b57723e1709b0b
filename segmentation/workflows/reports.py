"""What the command line and the app report about stored runs beyond the plain reads: the reads of
:mod:`segmentation.data.read` combined with the pure computations of :mod:`segmentation.dynamics`.

Every function takes an open connection, like the read model, so the app caches them with the same
wrapper (``segmentation/ui/common.py``: ``cached``) and the command line calls them directly.
"""

from __future__ import annotations

from typing import Any, Iterable

import duckdb
import pandas as pd

from segmentation.data import read, results
from segmentation.dynamics import tracking
from segmentation.dynamics.value import lineage_value, segment_value as value_over_time, value_record

__all__ = ["segment_value", "emerging_alerts", "customer_flows", "segment_records", "timeline_value"]


def _ids(run_ids: Iterable[int] | None) -> list[int] | None:
    return None if run_ids is None else [int(r) for r in run_ids]


def segment_value(con: duckdb.DuckDBPyConnection, run_ids: Iterable[int] | None = None) -> pd.DataFrame:
    """Value per (run, segment) of ``run_ids`` (all runs for None): customers, purchases, revenue, revenue
    per customer, purchase frequency, quiet share and revenue change
    (:func:`segmentation.dynamics.value.segment_value` of :func:`segmentation.data.read.value_rows`)."""
    ids = _ids(run_ids)
    return value_over_time(read.value_rows(con, ids), ids)


def emerging_alerts(con: duckdb.DuckDBPyConnection, run_ids: Iterable[int] | None = None) -> list[dict]:
    """One alert per segment that emerged in ``run_ids`` (all runs for None): size, sources, traits and
    growth over the later snapshots (:func:`segmentation.dynamics.tracking.emerging_alerts`)."""
    return tracking.emerging_alerts(read.segment_history(con), _ids(run_ids))


def customer_flows(con: duckdb.DuckDBPyConnection, before: int, after: int) -> pd.DataFrame:
    """Customers moving from run ``before`` to run ``after`` (``source, target, customers``; a Sankey's
    links): :func:`segmentation.dynamics.tracking.customer_flows` of both runs' assignments."""
    return tracking.customer_flows(read.assignments(con, before), read.assignments(con, after))


def segment_records(con: duckdb.DuckDBPyConnection, frame: pd.DataFrame) -> list[dict[str, Any]]:
    """The JSON records of ``segments --json``: each row of ``frame`` (:func:`segmentation.data.read.segments`)
    with who moved in and why (``lineage_from, sources, changes, internal``), the ``growth`` of an
    emerged segment since, its ``rules`` and its ``value``."""
    run_ids = frame["run_id"].unique().tolist()
    values = segment_value(con, run_ids).set_index("segment_id")
    alerts = {a["segment_id"]: a for a in emerging_alerts(con, run_ids)}
    documents = results.records(frame)
    for document in documents:
        alert = alerts.get(document["segment_id"])
        document.update(tracking.movement(document.get("profile")))
        document["growth"] = alert["growth"] if alert else None
        document["rules"] = (document.get("profile") or {}).get("rules")
        known = document["segment_id"] in values.index
        document["value"] = value_record(values.loc[document["segment_id"]]) if known else None
    return documents


def timeline_value(con: duckdb.DuckDBPyConnection, run_ids: Iterable[int]) -> dict[str, Any]:
    """What a timeline reports beyond its snapshots: ``emerging_alerts`` of its runs, ``value`` per
    ``(run_id, segment_id)`` (JSON records) and ``lineage_value`` (each lineage's value at every snapshot)."""
    ids = _ids(run_ids)
    values = segment_value(con, ids)
    return {
        "emerging_alerts": emerging_alerts(con, ids),
        "value": {(int(r.run_id), int(r.segment_id)): value_record(r._asdict())
                  for r in values.itertuples(index=False)},
        "lineage_value": lineage_value(values),
    }

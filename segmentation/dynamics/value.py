"""A segment's value over time: customers, revenue, revenue per customer, purchase frequency and the
share of its earlier customers who went quiet, per snapshot and per lineage.

The sums run in DuckDB (``queries/runs/segments_select_value.sql``) over each run's own window, so a
segment's revenue is the purchase amount its members spent in the window its snapshot looked at
(before refunds, like the ``monetary`` feature). :func:`revenue_trend` and :func:`rank_rising` are
pure frames; :func:`segmentation.data.results.value_rows` reads the sums.
"""

from __future__ import annotations

from typing import Any, Iterable

import numpy as np
import pandas as pd


__all__ = ["segment_value", "lineage_value", "value_record", "revenue_trend", "rank_rising", "VALUE_FIELDS"]

VALUE_FIELDS = ("customers", "purchases", "revenue", "revenue_per_customer", "purchase_frequency", "quiet_share")


def segment_value(rows: pd.DataFrame, run_ids: Iterable[int] | None = None) -> pd.DataFrame:
    """One row per (run, segment) of ``run_ids``: the :data:`VALUE_FIELDS` (``quiet_share`` is NaN
    without an earlier run with the same window, and for noise). ``rows``:
    :func:`segmentation.data.results.value_rows` of the same runs."""
    ids = None if run_ids is None else [int(r) for r in run_ids]
    frame = revenue_trend(rows)
    return frame if ids is None else frame[frame["run_id"].isin(ids)].reset_index(drop=True)


def revenue_trend(frame: pd.DataFrame) -> pd.DataFrame:
    """Adds ``revenue_change``: the relative change of the lineage's revenue since its previous row
    (NaN for a lineage's first snapshot)."""
    frame = frame.sort_values(["lineage_id", "as_of", "run_id"]).copy()
    previous = frame.groupby("lineage_id", dropna=False)["revenue"].shift(1)
    frame["revenue_change"] = np.where(previous > 0, frame["revenue"] / previous - 1, np.nan)
    frame.loc[frame["segment_id"] == -1, "revenue_change"] = np.nan
    return frame.sort_values(["run_id", "segment_id"]).reset_index(drop=True)


def _clean(value: Any) -> Any:
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return None
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating, float)):
        return round(float(value), 4)
    return value


def value_record(row: pd.Series | dict | None) -> dict[str, Any] | None:
    """The JSON ``value`` of one segment of one run."""
    if row is None:
        return None
    return {key: _clean(row[key]) for key in (*VALUE_FIELDS, "revenue_change")}


def lineage_value(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Per lineage (noise left out), its value at every snapshot in ``frame``, oldest first."""
    out = []
    real = frame[frame["segment_id"] != -1].sort_values(["as_of", "run_id"])
    for lineage, rows in real.groupby("lineage_id", sort=True):
        out.append({"lineage_id": int(lineage), "points": [
            {"run_id": int(r["run_id"]), "as_of": str(pd.Timestamp(r["as_of"]).date()),
             "segment_id": int(r["segment_id"]), **value_record(r)} for _, r in rows.iterrows()]})
    return out


def rank_rising(cards: pd.DataFrame, snapshot_revenue_per_customer: float | None = None) -> pd.DataFrame:
    """The Overview's order of segment cards (docs/app.md).

    Emerging (badge NEW) first, then growing (GROWING), then the rest. Within each group, by revenue
    trend: the change of the lineage's revenue since the previous snapshot, or for a segment without
    an earlier snapshot its revenue per customer against the whole snapshot's (``+0.5`` = 50 % more);
    then by size. Cards need ``badge``, ``size``, ``revenue_change`` and ``revenue_per_customer``.
    """
    group = cards["badge"].map({"NEW": 0, "GROWING": 1}).fillna(2).to_numpy()
    trend = cards["revenue_change"].astype(float)
    if snapshot_revenue_per_customer:
        relative = cards["revenue_per_customer"].astype(float) / snapshot_revenue_per_customer - 1
        trend = trend.fillna(relative)
    order = np.lexsort((-cards["size"].to_numpy(), -trend.fillna(-np.inf).to_numpy(), group))
    return cards.iloc[order].reset_index(drop=True)

"""A segment's value over time (segmentation.dynamics.value): sums that match the events, and the Overview order."""

from __future__ import annotations

import json

import duckdb
import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from segmentation.cli.main import app
from segmentation.dynamics.value import rank_rising


def test_timeline_json_revenue_per_lineage_matches_a_direct_sum_over_events(demo_runs_db):
    result = CliRunner().invoke(app, ["--db", str(demo_runs_db), "timeline", "--start", "2025-04-30", "--end",
                                      "2025-06-30", "--every", "61", "--window-days", "60", "--json"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert [s["skipped"] for s in document["snapshots"]] == [True, True]
    lineages = document["lineage_value"]
    assert len(lineages) >= 5 and all(len(l["points"]) >= 1 for l in lineages)
    con = duckdb.connect(str(demo_runs_db), read_only=True)
    checked = 0
    for lineage in lineages:
        for point in lineage["points"]:
            revenue, purchases, customers = con.execute(
                """SELECT coalesce(sum(e.amount) FILTER (WHERE e.event_type = 'purchase'), 0),
                          count(*) FILTER (WHERE e.event_type = 'purchase'),
                          (SELECT count(*) FROM assignments WHERE run_id = $run AND segment_id = $seg)
                   FROM assignments a JOIN runs r USING (run_id)
                   JOIN events e ON e.customer_id = a.customer_id
                    AND e.ts >= r.as_of - r.window_days AND e.ts < r.as_of + 1
                   WHERE a.run_id = $run AND a.segment_id = $seg""",
                {"run": point["run_id"], "seg": point["segment_id"]}).fetchone()
            assert point["revenue"] == pytest.approx(revenue, abs=0.01)
            assert point["customers"] == customers and point["purchases"] == purchases
            assert point["revenue_per_customer"] == pytest.approx(revenue / customers, abs=1e-3)
            checked += 1
        later = lineage["points"][1:]
        for before, after in zip(lineage["points"], later):
            assert after["revenue_change"] == pytest.approx(after["revenue"] / before["revenue"] - 1, abs=1e-3)
            assert 0 <= after["quiet_share"] <= 1
    con.close()
    assert checked >= 10


def test_segments_json_has_the_value_fields(demo_runs_db):
    result = CliRunner().invoke(app, ["--db", str(demo_runs_db), "segments", "--json"])
    documents = json.loads(result.stdout)
    real = [d for d in documents if d["segment_id"] != -1]
    assert all(set(d["value"]) >= {"customers", "revenue", "revenue_per_customer", "purchase_frequency",
                                   "quiet_share", "revenue_change"} for d in real)
    assert all(d["value"]["customers"] == d["size"] for d in real)


def test_overview_order_new_then_growing_then_by_revenue_trend_then_size():
    cards = pd.DataFrame({
        "segment_id": [0, 1, 2, 3, 4, 5],
        "badge": [None, "GROWING", "NEW", None, "NEW", None],
        "size": [900, 300, 100, 500, 200, 700],
        "revenue_change": [0.10, 0.05, np.nan, 0.40, np.nan, 0.10],
        "revenue_per_customer": [50.0, 60.0, 150.0, 40.0, 80.0, 45.0],
    })
    ordered = rank_rising(cards, snapshot_revenue_per_customer=100.0)
    # NEW: 2 (+50 % per customer) before 4 (−20 %); GROWING: 1; the rest: 3 (+40 %), then 0 and 5 (+10 %) by size
    assert ordered["segment_id"].tolist() == [2, 4, 1, 3, 0, 5]

"""Timelines on the demo's emerging persona: the emerged segment with its sources and growth."""

from __future__ import annotations

import json

from tests.test_cli import cli


def test_timeline_json_reports_emerged_segments_with_sources_and_growth(tmp_path):
    db = tmp_path / "emerging.duckdb"
    cli(db, "demo", "--customers", "3000", "--months", "6")
    document = json.loads(cli(db, "timeline", "--start", "2025-03-31", "--end", "2025-06-30", "--every", "30",
                              "--window-days", "60", "--min-cluster-share", "0.02", "--json").stdout)
    alerts = document["emerging_alerts"]
    assert alerts, [s["metrics"]["tracking"]["counts"] for s in document["snapshots"][1:]]
    alert = alerts[0]
    later = [s for s in document["snapshots"] if s["as_of"] > alert["as_of"]]
    assert [g["run_id"] for g in alert["growth"]] == [s["run_id"] for s in later]
    assert alert["growth"][-1]["share"] > alert["share"]  # the planted persona keeps growing
    assert sum(s["customers"] for s in alert["sources"]) == alert["size"]
    assert alert["top_traits"] and alert["suggested_name"]

    segments = json.loads(cli(db, "segments", "--run", str(alert["run_id"]), "--json").stdout)
    emerged = next(s for s in segments if s["segment_id"] == alert["segment_id"])
    assert emerged["transition"] == "emerged" and emerged["lineage_id"] == alert["lineage_id"]
    assert emerged["sources"] == alert["sources"] and emerged["growth"] == alert["growth"]
    others = [s for s in segments if s["transition"] != "emerged"]
    assert all(s["growth"] is None for s in others)  # growth follows emerged segments only
    assert all(sum(src["customers"] for src in s["sources"]) == s["size"] for s in others if s["segment_id"] != -1)

"""Timelines: snapshots tracked against each other, idempotent re-runs, names carried over."""

from __future__ import annotations

import json

from tests.test_cli import cli


def test_timeline_is_idempotent_and_carries_names(tmp_path):
    db = tmp_path / "timeline.duckdb"
    cli(db, "demo", "--customers", "2500", "--months", "4", "--stationary")
    first = json.loads(cli(db, "timeline", "--start", "2025-03-01", "--end", "2025-03-31",
                           "--every", "30", "--window-days", "45", "--json").stdout)
    assert [s["as_of"] for s in first["snapshots"]] == ["2025-03-01", "2025-03-31"]
    assert [s["skipped"] for s in first["snapshots"]] == [False, False]
    second_run = first["snapshots"][1]
    counts = second_run["metrics"]["tracking"]["counts"]
    assert second_run["metrics"]["tracking"]["previous_run"] == first["snapshots"][0]["run_id"]
    # Stationary data: (almost) every segment survives.
    assert counts.get("survived", 0) >= 0.8 * sum(counts.values()), counts

    segments = json.loads(cli(db, "segments", "--json").stdout)
    survivor = next(s for s in segments if s["transition"] == "survived")
    cli(db, "name", "--run", str(survivor["run_id"]), "--segment", str(survivor["segment_id"]),
        "--name", "Loyal core")

    again = json.loads(cli(db, "timeline", "--start", "2025-03-01", "--end", "2025-04-30",
                           "--every", "30", "--window-days", "45", "--json").stdout)
    assert [s["skipped"] for s in again["snapshots"]] == [True, True, False]
    runs = json.loads(cli(db, "runs", "--json").stdout)
    assert len(runs) == 3  # no duplicates of the dates that existed
    latest = json.loads(cli(db, "segments", "--json").stdout)
    heir = [s for s in latest if s["lineage_id"] == survivor["lineage_id"]]
    assert len(heir) == 1 and heir[0]["name"] == "Loyal core"
    assert heir[0]["transition"] in ("survived", "merged")

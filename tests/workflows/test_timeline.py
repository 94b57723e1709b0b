"""Timelines: snapshots tracked against each other, idempotent re-runs, names carried over."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from segmentation.data import store
from tests.helpers import cli, planted_counts


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
    # Stationary data: no drift, so the second snapshot reuses the first one's models and
    # every segment survives.
    model = second_run["metrics"]["model"]
    assert model["refit"] is False and model["from_run"] == first["snapshots"][0]["run_id"], model
    assert counts == {"survived": second_run["n_segments"]}, counts
    # Under reused models, customers beyond the fit's 99.9th error percentile are reported as noise.
    n = second_run["n_customers"]
    assert model["unexplained_threshold"] > model["novelty_threshold"]
    assert round(second_run["noise_share"] * n) == round(model["noise_share"] * n) + model["unexplained_as_noise"]
    assert model["unexplained_as_noise"] <= 0.01 * n  # stationary data: only the fit's extreme tail
    with store.connect(db, read_only=True) as con:
        placed_beyond = con.execute(
            "SELECT count(*) FROM assignments WHERE run_id = ? AND reconstruction_error > ? AND segment_id >= 0",
            [second_run["run_id"], model["unexplained_threshold"]]).fetchone()[0]
    assert placed_beyond == 0
    assert first["snapshots"][0]["metrics"]["model"]["refit"] is True

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
    tracked = again["snapshots"][2]["segments"]
    real = [s for s in tracked if s["segment_id"] != -1]
    # Stationary data: nothing emerges. The persona that emerges in the dynamic demo is here from the
    # first month on: an ordinary segment of the first snapshot that survives every later one. A group
    # under the 2 % a new lineage is announced at may form (the floor the data chose is 1 %), announced never.
    counts = dict(again["snapshots"][2]["metrics"]["tracking"]["counts"])
    forming = [s for s in real if s["transition"] == "forming"]
    assert counts.pop("forming", 0) == len(forming) and counts == {"survived": len(real) - len(forming)}
    assert all(s["size"] < 0.02 * again["snapshots"][2]["n_customers"] for s in forming)
    assert first["emerging_alerts"] == [] and again["emerging_alerts"] == []
    snapshots = [(s["run_id"], s["as_of"]) for s in first["snapshots"] + again["snapshots"][2:]]
    persona_lineages = []
    for run_id, as_of in snapshots:
        count = planted_counts(db, run_id, as_of)
        persona = [segment for segment, (size, mine) in count.items() if segment != -1 and mine > 0.8 * size]
        assert len(persona) == 1, count
        with store.connect(db, read_only=True) as con:
            persona_lineages += con.execute("SELECT lineage_id FROM segments WHERE run_id = ? AND segment_id = ?",
                                            [run_id, persona[0]]).fetchall()
    assert len(set(persona_lineages)) == 1, persona_lineages
    # who moved, and why: every tracked segment says where its customers were and what changed
    assert all(sum(src["customers"] for src in s["sources"]) == s["size"] for s in real)
    assert all(s["changes"] and len(s["changes"]) <= 3 for s in real)
    assert all((s["internal"] is not None) == (s["transition"] == "survived") for s in real)  # survivors' change

    # a snapshot with another window is not compared with the 45-day ones, and says so
    other = json.loads(cli(db, "run", "--as-of", "2025-05-15", "--window-days", "30", "--json").stdout)
    tracking = other["metrics"]["tracking"]
    assert tracking["previous_run"] is None and {s["transition"] for s in other["segments"]} <= {"new", "forming", None}
    assert f"run {again['snapshots'][2]['run_id']}" in tracking["note"] and "45 days" in tracking["note"]
    # no --min-cluster-share: the data chose the floor, and the run stores which and why
    with store.connect(db, read_only=True) as con:
        stored, median = con.execute(
            "SELECT params::VARCHAR, (SELECT median(n) FROM (SELECT count(*) AS n FROM events "
            "WHERE ts >= DATE '2025-05-15' - INTERVAL 30 DAY AND ts < DATE '2025-05-16' GROUP BY customer_id)) "
            "FROM runs WHERE run_id = ?", [other["run_id"]]).fetchone()
    stored = json.loads(stored)
    assert stored["min_cluster_share"] is None
    assert stored["segment_floor"]["share"] == (0.01 if median > 10 else 0.02), (median, stored["segment_floor"])
    assert f"the median customer has {median:g} events in the window" in stored["segment_floor"]["why"]


def test_new_behaviour_is_judged_against_the_window_the_models_were_fitted_on():
    """A segment a refit finds is new behaviour only if its customers behaved otherwise when the old
    models were fitted: under models reused since March, the window before a September snapshot
    says nothing about what those models saw."""
    from datetime import date

    from segmentation.workflows.reuse import reference_window

    september = date(2025, 9, 30)
    assert reference_window(september, 90) == date(2025, 7, 2)  # the previous run fitted its own models
    assert reference_window(september, 90, fitted_at=date(2025, 3, 31)) == date(2025, 3, 31)
    # models fitted after the window before this one: that window still comes first (no overlap)
    assert reference_window(september, 90, fitted_at=date(2025, 8, 31)) == date(2025, 7, 2)


def test_a_window_before_the_data_begins_has_nobody_to_compare_not_an_error(demo_runs_db):
    """A weekly timeline's second snapshot compares with a window that ends before the first event:
    the earlier behaviour is empty (group_shift gives NaN, counted as new), the snapshot does not fail."""
    from datetime import date

    import duckdb
    import numpy as np

    from segmentation.engine.resemblance import group_shift
    from segmentation.workflows.reuse import behaviour_before

    con = duckdb.connect(str(demo_runs_db), read_only=True)
    as_of = con.execute("SELECT max(as_of) FROM runs").fetchone()[0]
    con.close()
    now = behaviour_before(demo_runs_db, as_of, 90)
    assert len(now) > 1000 and now.shape[1] > 10
    empty = behaviour_before(demo_runs_db, date(2000, 1, 1), 90)
    assert empty.empty
    assert np.isnan(group_shift(empty, now, now.index[:50]))


def test_a_snapshot_tells_tracking_who_each_old_segment_held_where_its_lineage_began(demo_runs_db, monkeypatch):
    """The snapshot hands tracking, for each segment of the run before it, the customers its lineage held in
    the lineage's first run (a part cut out of it later is new behaviour when most of its customers came since,
    docs/dynamics.md): for a lineage that began two runs back, those are that run's members, not the last run's."""
    from datetime import date

    import duckdb

    from segmentation.dynamics import tracking
    from segmentation.workflows.snapshot import SnapshotParams, run_snapshot

    seen = {}
    real = tracking.track_snapshot

    def spy(previous, *args, started_with=None, **kwargs):
        seen.update(previous=previous, started_with=started_with)
        return real(previous, *args, started_with=started_with, **kwargs)

    monkeypatch.setattr(tracking, "track_snapshot", spy)
    run_snapshot(demo_runs_db, date(2025, 7, 15), SnapshotParams(window_days=60, min_cluster_share=0.02))

    con = duckdb.connect(str(demo_runs_db), read_only=True)
    first, last = [r[0] for r in con.execute("SELECT run_id FROM runs WHERE as_of IN ('2025-04-30', '2025-06-30') "
                                             "ORDER BY as_of").fetchall()]
    assert seen["previous"]["run"]["run_id"] == last
    # and each old segment's transition there: a lineage still forming is announced (emerged) once it holds 2 %
    stored = dict(con.execute("SELECT segment_id, transition FROM segments WHERE run_id = ?", [last]).fetchall())
    assert seen["previous"]["segments"].set_index("segment_id")["transition"].to_dict() == stored
    pairs = con.execute("SELECT l.segment_id, f.segment_id FROM segments l JOIN segments f USING (lineage_id) "
                        "WHERE l.run_id = ? AND f.run_id = ? AND l.segment_id >= 0", [last, first]).fetchall()
    assert pairs, "no lineage of the first run went on to the second"

    def members(run_id, segment_id):
        return set(r[0] for r in con.execute("SELECT customer_id FROM assignments WHERE run_id = ? AND segment_id = ?",
                                            [run_id, segment_id]).fetchall())
    for now, began in pairs:
        given = set(seen["started_with"](now))
        assert given == members(first, began) and given != members(last, now)
    con.close()


@pytest.mark.parametrize("stored, floor, reason", [
    ({"min_cluster_share": None, "segment_floor": {"share": 0.01}}, 0.01, "no reusable models"),
    ({"min_cluster_share": 0.01}, 0.01, "no reusable models"),
    ({"min_cluster_share": None, "segment_floor": {"share": 0.01}}, 0.02,
     "the smallest segment changed from 1.0% of the customers (run 4) to 2.0%"),
    ({"min_cluster_share": None, "segment_floor": {"share": 0.01}}, 0.015,
     "the smallest segment changed from 1.0% of the customers (run 4) to 1.5%"),
    ({"min_cluster_share": 0.02}, 0.01, "parameters differ from run 4"),
])
def test_a_floor_the_data_chose_compares_with_the_floor_this_snapshot_uses(monkeypatch, stored, floor, reason):
    """Models are reused under the floor they were fitted with: a stored run keeps None (chosen by the
    data) beside the floor it used, and the snapshot compares the floor it uses now with that one."""
    from contextlib import nullcontext
    from dataclasses import asdict, replace

    from segmentation.workflows import reuse
    from segmentation.workflows.snapshot import SnapshotParams

    params = replace(SnapshotParams(window_days=60), min_cluster_share=floor)
    run = {"run_id": 4, "params": {**asdict(SnapshotParams(window_days=60)), **stored}, "metrics": {},
           "model_path": None}
    monkeypatch.setattr(reuse.store, "connect", lambda *a, **k: nullcontext(None))
    monkeypatch.setattr(reuse.results, "previous_run", lambda *a: {"run_id": 4})
    monkeypatch.setattr(reuse.results, "get_run", lambda *a: run)
    found, why = reuse._previous_models("db", None, params, pd.DataFrame())
    assert found is None and reason in why, why

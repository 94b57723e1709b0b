"""First run (`make run` → `first-run`): an empty database gets the demo data and a demo timeline
whose latest snapshot has an emerged segment, so the app opens on segments; anything else is left alone."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime

import duckdb
import pandas as pd
from streamlit.testing.v1 import AppTest

from segmentation.workflows import firstrun
from segmentation.data import store
from tests.helpers import ROOT


def test_empty_database_gets_demo_data_and_a_timeline_with_an_emerged_segment(db_file, monkeypatch):
    steps: list[str] = []
    document = firstrun.prepare(db_file, progress=steps.append)
    assert document["created_demo"] and document["runs"] == [1, 2] and document["emerged"] >= 1
    assert steps[0].startswith("first run: creating demo data (2,500 customers, 6 months)")
    assert "[2/2] snapshot 2025-05-31" in steps and any(s.startswith("stored: run 2") for s in steps)
    con = duckdb.connect(str(db_file), read_only=True)
    runs = con.execute("SELECT run_id, as_of::VARCHAR, window_days FROM runs ORDER BY run_id").fetchall()
    emerged = con.execute("SELECT count(*) FROM segments WHERE run_id = 2 AND transition = 'emerged'").fetchall()
    # the planted change is the only one reported: the other personas survive (at the floor the data
    # would choose, 1 %, a persona cut in two at the first snapshot was reported merged at the second)
    kinds = con.execute("SELECT DISTINCT transition FROM segments WHERE run_id = 2 AND segment_id >= 0").fetchall()
    floors = con.execute("SELECT DISTINCT params->>'$.segment_floor.share' FROM runs").fetchall()
    con.close()
    assert runs == [(1, "2025-03-31", 60), (2, "2025-05-31", 60)]
    assert emerged[0][0] == document["emerged"]
    assert sorted(k for (k,) in kinds) == ["emerged", "survived"] and floors == [("0.02",)]

    # the first screen: the Overview of run 2 with its segments and the emerged alert
    monkeypatch.setenv("SEGMENTATION_DB", str(db_file))
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120).run()
    assert not at.exception and at.title[0].value == "Overview"
    assert len([b for b in at.button if b.key and b.key.startswith("open_")]) >= 5
    assert sum(w.value.startswith("New segment emerged: ") for w in at.warning) == document["emerged"]

    # a second call finds the snapshots and changes nothing
    again = firstrun.prepare(db_file)
    assert (again["created_demo"], again["runs"]) == (False, [])
    assert again["message"] == "the database already holds 2 snapshot(s)"


def test_own_events_get_no_automatic_snapshot_and_the_command_says_what_to_do(db_file):
    events = pd.DataFrame({"customer_id": ["A", "B"], "ts": [datetime(2025, 3, 1), datetime(2025, 3, 2)],
                           "event_type": ["purchase", "view"], "channel": ["web", "app"],
                           "category": ["books", None], "amount": [10.0, 0.0], "quantity": [1.0, None]})
    with store.connect(db_file) as con:
        con.register("new_events", events)
        con.execute("INSERT INTO events (customer_id, ts, event_type, channel, category, amount, quantity) "
                    "SELECT * FROM new_events")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("SEGMENTATION_DB", None)
    result = subprocess.run([sys.executable, "-m", "segmentation", "--db", str(db_file), "first-run", "--json"],
                            capture_output=True, text=True, cwd=ROOT, env=env, timeout=300)
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert (document["created_demo"], document["runs"]) == (False, [])
    assert document["message"].startswith("your events have no snapshot yet: compute one on the app's Run page")
    with store.connect(db_file, read_only=True) as con:
        assert store.summary(con)["n_runs"] == 0 and store.table_count(con, "events") == 2


def test_a_first_run_killed_between_its_snapshots_is_finished_by_the_next_one(db_file, monkeypatch):
    from segmentation.workflows import snapshot

    timelines: list = []
    monkeypatch.setattr(firstrun, "_state", lambda db: {"events": 9, "runs": 1, "demo_truth": 9})
    monkeypatch.setattr(firstrun, "_demo_timeline", lambda db, say: timelines.append(db) or {
        "runs": [1, 2], "emerged": 1, "message": "demo timeline ready: runs 1, 2"})
    stored = {firstrun.DEMO_SNAPSHOTS[0]: 1}  # the first demo snapshot is complete, the second is not
    monkeypatch.setattr(snapshot, "existing_run",
                        lambda db, when, window: stored.get(when) if window == firstrun.DEMO_WINDOW_DAYS else None)
    document = firstrun.prepare(db_file)
    assert timelines == [db_file] and (document["created_demo"], document["runs"]) == (False, [1, 2])

    stored.clear()  # the one run is the user's own, not the demo timeline's: left alone
    again = firstrun.prepare(db_file)
    assert timelines == [db_file] and again["message"] == "the database already holds 1 snapshot(s)"


def test_the_next_command_says_how_to_finish_an_interrupted_first_run(db_file):
    from segmentation.data import journal, recovery

    with store.connect(db_file):
        pass
    marker = journal.journal_dir(db_file) / "first-run-1-0123456789ab.json"
    marker.parent.mkdir()
    # this pid with another start time: the process that wrote the marker is gone
    marker.write_text(json.dumps({"kind": "first-run", "pid": os.getpid(), "create_time": 0.0,
                                  "started_at": "2025-01-01T12:00:00", "detail": {}}))
    assert recovery.recover(db_file) == [
        f"an interrupted `first-run` (process {os.getpid()}, started 2025-01-01 12:00:00) was cleaned up: "
        "the demo data is complete or absent (one transaction); no snapshot of it was stored; "
        "run `first-run` again"]
    assert not marker.exists()

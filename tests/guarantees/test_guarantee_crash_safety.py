"""Crash safety: a process killed (SIGKILL) at any moment of ``run``, ``timeline``, ``ingest`` or
``export`` leaves a readable database with nothing half-written visible, and the next command
works and says what was interrupted (segmentation/data/journal.py and recovery.py).

Kills happen at named moments (``$SEGMENTATION_CRASH_AT``: the process SIGKILLs itself there),
from outside when a progress line appears, and after random delays.
"""

from __future__ import annotations

import csv
import json
import random
import signal
import subprocess
import time
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from tests.helpers import ROOT
from tests.guarantees.guarantee_tools import (NEXT_AS_OF, PYTHON, RUN_OPTIONS, assert_consistent, cli, cli_process,
                                              env, python, small_run, status)

KILLED = -signal.SIGKILL


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    return small_run(tmp_path_factory)


def _runs(db: Path) -> list[int]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return [r[0] for r in con.execute("SELECT run_id FROM runs ORDER BY run_id").fetchall()]
    finally:
        con.close()


# ----------------------------------------------------------------------------- run
def test_run_killed_before_its_commit_leaves_no_partial_run_and_the_next_run_succeeds(small, tmp_path):
    db = small.copy_to(tmp_path)
    models = db.with_name("small.models")
    killed = cli_process(db, "run", "--as-of", NEXT_AS_OF, *RUN_OPTIONS, check=False,
                         SEGMENTATION_CRASH_AT="save_run:before-commit")
    assert killed.returncode == KILLED, killed.stderr
    # The worst moment: its model folder was already renamed to run_2, the rows never committed.
    assert _runs(db) == [1] and (models / "run_2").is_dir()

    listed = cli(db, "runs", "--json")
    assert [r["run_id"] for r in json.loads(listed.stdout)] == [1]
    assert (f"note: an interrupted `run --as-of {NEXT_AS_OF} --window-days 30` (process "
            in listed.stderr)
    assert "nothing of it was stored; removed the model folder it had moved into place (run_2)" in listed.stderr
    assert assert_consistent(db)["runs"] == [1]

    again = cli(db, "run", "--as-of", NEXT_AS_OF, *RUN_OPTIONS, "--json")
    document = json.loads(again.stdout)
    assert document["run_id"] == 2 and document["n_segments"] >= 1
    assert "interrupted" not in again.stderr  # reported once, by the first command after the crash
    assert assert_consistent(db)["runs"] == [1, 2]


def test_run_killed_while_training_is_reported_and_stores_nothing(small, tmp_path):
    db = small.copy_to(tmp_path)
    process = subprocess.Popen(
        [PYTHON, "-m", "segmentation", "--db", str(db), "run", "--as-of", NEXT_AS_OF, *RUN_OPTIONS, "--refit"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, cwd=ROOT, env=env())
    seen = []
    for line in process.stderr:  # kill from outside as soon as the autoencoder starts training
        seen.append(line)
        if line.startswith("training:"):
            process.kill()
            break
    assert process.wait(timeout=120) == KILLED, "".join(seen)
    assert any(p.name.startswith("run-") for p in db.with_name("small.journal").iterdir())

    document, notes = status(db)
    assert document["n_runs"] == 1
    assert len(document["interrupted"]) == 1
    assert document["interrupted"][0].startswith(f"an interrupted `run --as-of {NEXT_AS_OF} --window-days 30`")
    assert document["interrupted"][0].endswith("was cleaned up: nothing of it was stored")
    assert assert_consistent(db)["runs"] == [1]


_SAVE_RUN = """
import sys
from datetime import date
import pandas as pd
from segmentation.data import results, store
from segmentation.workflows.snapshot import RUN

db = sys.argv[1]
models = store.models_dir(db)
with RUN.mark(db, as_of="2025-03-01", window_days=30, seed=0):  # seed is not marked
    staging = results.model_staging_dir(models)
    staging.mkdir(parents=True)
    (staging / "pipeline.joblib").write_bytes(b"fitted models")
    segments = pd.DataFrame({"segment_id": [0, -1], "lineage_id": [99, None], "size": [2, 1],
                             "suggested_name": ["Shoppers", "Unassigned (noise)"],
                             "transition": ["new", None], "profile": [{}, {}]})
    assignments = pd.DataFrame({"customer_id": ["a", "b", "c"], "segment_id": [0, 0, -1],
                                "probability": [1.0, 0.9, 0.0], "x": [0.0, 1.0, 2.0], "y": [0.0, 1.0, 2.0],
                                "reconstruction_error": [0.1, 0.2, 0.3]})
    run = {"as_of": date(2025, 3, 1), "window_days": 30, "n_customers": 3, "n_segments": 1,
           "noise_share": 1 / 3}
    with store.connect(db) as con:
        print(results.save_run(con, run, segments, assignments, None, model_tmp_dir=staging, model_dir=models))
"""


@pytest.mark.parametrize("moment, runs_after, left_behind, note", [
    ("save_run:before-rename", [1], ".tmp-", "nothing of it was stored; removed 1 unfinished model folder"),
    ("save_run:before-commit", [1], "run_2",
     "nothing of it was stored; removed the model folder it had moved into place (run_2)"),
    ("save_run:after-commit", [1, 2], None, "it had finished (run 2)"),
], ids=["before the model folder is moved", "moved but not committed", "just after the commit"])
def test_storing_a_run_killed_at_each_moment_is_all_or_nothing(small, tmp_path, moment, runs_after,
                                                               left_behind, note):
    db = small.copy_to(tmp_path)
    models = db.with_name("small.models")
    killed = python(_SAVE_RUN, str(db), check=False, SEGMENTATION_CRASH_AT=moment)
    assert killed.returncode == KILLED, killed.stderr
    assert _runs(db) == runs_after  # what another process sees right away, before any clean-up
    if left_behind:
        assert any(p.name.startswith(left_behind) for p in models.iterdir())

    document, _ = status(db)
    assert document["n_runs"] == len(runs_after)
    assert document["interrupted"] == [
        f"an interrupted `run --as-of 2025-03-01 --window-days 30` (process {_pid(document)}, "
        f"started {_started(document)}) was cleaned up: {note}"]
    assert assert_consistent(db)["runs"] == runs_after


def _pid(document: dict) -> str:
    return document["interrupted"][0].split("(process ", 1)[1].split(",", 1)[0]


def _started(document: dict) -> str:
    return document["interrupted"][0].split("started ", 1)[1].split(")", 1)[0]


# ----------------------------------------------------------------------------- timeline
def test_timeline_killed_in_its_second_snapshot_keeps_the_first_and_the_rerun_completes(small, tmp_path):
    db = small.copy_to(tmp_path)
    args = ("timeline", "--start", "2025-02-21", "--end", NEXT_AS_OF, "--every", "7", *RUN_OPTIONS)
    killed = cli_process(db, *args, check=False, SEGMENTATION_CRASH_AT="save_run:before-commit#2")
    assert killed.returncode == KILLED, killed.stderr
    assert _runs(db) == [1, 2]  # the first snapshot is complete, the second invisible

    again = cli(db, *args, "--json")
    assert "the 1 snapshot it completed (run 2) is kept; run the same timeline again for the rest" in again.stderr
    snapshots = json.loads(again.stdout)["snapshots"]
    assert [(s["as_of"], s["run_id"], s["skipped"]) for s in snapshots] == [
        ("2025-02-21", 2, True), (NEXT_AS_OF, 3, False)]
    assert assert_consistent(db)["runs"] == [1, 2, 3]


# ----------------------------------------------------------------------------- ingest
def _events_file(path: Path, n_rows: int, seed: int = 3) -> Path:
    rng = random.Random(seed)
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["customer_id", "ts", "event_type", "channel", "amount"])
        for i in range(n_rows):
            writer.writerow([f"x{i % 5000:05d}", f"2025-02-{1 + i % 28:02d} {i % 24:02d}:{i % 60:02d}:00",
                             rng.choice(["view", "purchase", "cart"]), rng.choice(["web", "app"]),
                             f"{rng.random() * 100:.2f}"])
    return path


def _imported(db: Path) -> tuple[int, int]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return (con.execute("SELECT count(*) FROM events WHERE ingest_id IS NOT NULL").fetchall()[0][0],
                con.execute("SELECT count(*) FROM ingests WHERE kind = 'events'").fetchall()[0][0])
    finally:
        con.close()


@pytest.mark.parametrize("moment, imported, note", [
    ("ingest:before-commit", (0, 0), "nothing of it was imported; import the file again"),
    ("ingest:after-commit", (2000, 1), "it had finished (import #"),
], ids=["before the commit", "just after the commit"])
def test_ingest_killed_at_each_moment_is_all_or_nothing(small, tmp_path, moment, imported, note):
    db = small.copy_to(tmp_path / "db")
    events = _events_file(tmp_path / "events.csv", 2000)
    killed = cli_process(db, "ingest", str(events), check=False, SEGMENTATION_CRASH_AT=moment)
    assert killed.returncode == KILLED, killed.stderr
    assert _imported(db) == imported

    document, _ = status(db)
    assert len(document["interrupted"]) == 1
    assert document["interrupted"][0].startswith(f"an interrupted `ingest {events} --kind events`")
    assert note in document["interrupted"][0]
    assert_consistent(db)
    retry = cli(db, "ingest", str(events), "--json", check=False)
    if imported[0]:  # it had finished: the same content again is refused, naming the import
        assert retry.returncode == 2 and "already imported" in retry.stderr
    else:
        assert retry.returncode == 0 and json.loads(retry.stdout)["n_rows"] == 2000
    assert _imported(db) == (2000, 1)


def _live_ingest_ids(db: Path) -> list[int]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return [r[0] for r in con.execute("SELECT ingest_id FROM ingests WHERE kind = 'events' AND "
                                          "options->>'replaced_by' IS NULL ORDER BY 1").fetchall()]
    finally:
        con.close()


def test_reimport_killed_at_random_moments_keeps_exactly_one_complete_import(small, tmp_path):
    db = small.copy_to(tmp_path / "db")
    events = _events_file(tmp_path / "big.csv", 300_000)
    cli(db, "ingest", str(events))
    journal = db.with_name("small.journal")
    rng = random.Random(8)
    killed_mid_import = 0
    for _ in range(8):
        before = _live_ingest_ids(db)
        process = subprocess.Popen([PYTHON, "-m", "segmentation", "--db", str(db), "ingest", str(events), "--replace"],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT, env=env())
        marker = f"ingest-{process.pid}-"
        while process.poll() is None and not (journal.exists() and any(
                p.name.startswith(marker) for p in journal.iterdir())):
            time.sleep(0.01)
        time.sleep(rng.uniform(0.0, 1.2))  # a random moment of the import
        process.kill()
        code = process.wait(timeout=60)
        # Either the old import or its replacement, whole: never a mix, never nothing.
        assert _imported(db)[0] == 300_000 and len(_live_ingest_ids(db)) == 1
        document, _ = status(db)
        # A kill that lands after the replacement committed (a loaded machine is slow to exit) is
        # not mid-import: the replacement is whole. Before the commit, the import is interrupted.
        if code == KILLED and _live_ingest_ids(db) == before:
            killed_mid_import += 1
            assert len(document["interrupted"]) == 1, document
            assert document["interrupted"][0].startswith(f"an interrupted `ingest {events} --kind events`")
        assert_consistent(db)
        if killed_mid_import >= 3:
            break
    assert killed_mid_import >= 3


# ----------------------------------------------------------------------------- export
@pytest.mark.parametrize("moment, committed", [
    ("export:temps-written", False), ("export:installed", False), ("export:after-commit", True)],
    ids=["temporary files written", "files moved into place", "just after the commit"])
def test_export_killed_at_each_moment_leaves_files_and_audit_rows_consistent(small, tmp_path, moment, committed):
    db = small.copy_to(tmp_path / "db")
    folder = tmp_path / "audiences"
    out = folder / "owls.csv"
    args = ("export", "--run", "1", "--segment", "0", "--platform", "crm", "--out", str(out))
    first = json.loads(cli(db, *args, "--json").stdout)
    original = out.read_bytes()
    # Replacing it (--force, more customers) also writes the delta files next to it.
    killed = cli_process(db, *args, "--force", "--allow-unknown-consent", check=False,
                         SEGMENTATION_CRASH_AT=moment)
    assert killed.returncode == KILLED, killed.stderr

    document, _ = status(db)
    assert len(document["interrupted"]) == 1
    note = document["interrupted"][0]
    assert note.startswith(f"an interrupted `export --run 1 --segment 0 --platform crm --out {out}`")
    counts = assert_consistent(db, (folder,))
    if committed:
        assert "its export had been committed (file and audit row kept)" in note
        assert counts["exports"] == [1, 2, 3, 4] and out.read_bytes() != original
        assert sorted(p.name for p in folder.iterdir()) == ["owls.adds.csv", "owls.csv", "owls.removes.csv"]
    else:
        assert "no file or audit row of it was kept" in note
        if moment == "export:installed":
            assert "put back 1 replaced file" in note
        assert counts["exports"] == [first["export_id"]] and out.read_bytes() == original
        assert sorted(p.name for p in folder.iterdir()) == ["owls.csv"]


# ----------------------------------------------------------------------------- assign --out
def test_assign_killed_before_its_file_is_in_place_leaves_no_file_and_the_next_command_cleans_up(
        small, tmp_path):
    db = small.copy_to(tmp_path / "db")
    folder = tmp_path / "scores"
    out = folder / "scores.parquet"
    killed = cli_process(db, "assign", "--run", "1", "--out", str(out), check=False,
                         SEGMENTATION_CRASH_AT="assign:before-replace")
    assert killed.returncode == KILLED, killed.stderr
    leftovers = [p.name for p in folder.iterdir()]
    assert len(leftovers) == 1 and leftovers[0].startswith(".scores.parquet.tmp-"), leftovers

    document, _ = status(db)
    assert len(document["interrupted"]) == 1
    note = document["interrupted"][0]
    assert note.startswith("an interrupted `assign --run 1` (process ")
    assert note.endswith("no score file of it was written (removed 1 unfinished file)")
    assert list(folder.iterdir()) == []  # nothing half-written left, and no file at --out

    done = json.loads(cli(db, "assign", "--run", "1", "--out", str(out), "--json").stdout)
    assert [p.name for p in folder.iterdir()] == ["scores.parquet"]
    assert len(pd.read_parquet(out)) == done["n_scored"]


def test_dask_assign_killed_mid_way_leaves_no_work_folder_after_the_next_command(small, tmp_path):
    db = small.copy_to(tmp_path / "db")
    folder = tmp_path / "scores"
    folder.mkdir()
    killed = cli_process(db, "assign", "--run", "1", "--engine", "dask", "--out", str(folder / "dataset.parquet"),
                         check=False, SEGMENTATION_CRASH_AT="assign:dask-partitions-written")
    assert killed.returncode == KILLED, killed.stderr
    leftovers = list(folder.iterdir())
    assert len(leftovers) == 1 and leftovers[0].name.startswith(".dataset.parquet.tmp-") and leftovers[0].is_dir()
    assert list((leftovers[0] / "features").glob("*.parquet"))  # the feature partitions were written

    document, _ = status(db)
    assert len(document["interrupted"]) == 1
    note = document["interrupted"][0]
    assert note.startswith("an interrupted `assign --run 1` (process ")
    assert note.endswith("no score file of it was written (removed 1 unfinished file)")
    assert list(folder.iterdir()) == []

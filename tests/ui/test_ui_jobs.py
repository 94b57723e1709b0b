"""Snapshots computed outside the page script (segmentation/ui/jobs.py): order, progress, cancel, failure."""

from __future__ import annotations

import json
import threading
from datetime import date
from types import SimpleNamespace

import pytest

from segmentation.errors import InputError
from segmentation.ui.jobs import Jobs
from segmentation.workflows.progress import ProgressEvent, Stage


def test_a_job_runs_in_its_own_thread_and_reports_its_runs_and_progress():
    jobs = Jobs()
    release = threading.Event()
    seen_threads, progress = [], []

    def work(job):
        seen_threads.append(threading.current_thread().name)
        job.report(ProgressEvent(Stage.FEATURES, "features: customers active in the 60 days up to 2025-06-30 …"))
        job.report(ProgressEvent(Stage.TRAINING, epoch=5, epochs=10))
        progress.append((job.fraction, job.step, len(job.log)))
        release.wait(5)
        job.report(ProgressEvent(Stage.STORE, "store: writing the run …"))
        job.report(ProgressEvent(Stage.STORED, "stored: run 7 (12 s)"))
        return [7]

    job = jobs.start("db.duckdb", "snapshot", "snapshot of 2025-06-30 (60-day window)", "session-a", work)
    assert job.state in ("waiting", "running")
    assert jobs.active("db.duckdb") == [job] and jobs.active("other.duckdb") == []
    release.set()
    assert jobs.wait(job, 10)
    assert (job.state, job.run_ids, job.fraction, job.error) == ("done", [7], 1.0, None)
    assert seen_threads == [f"snapshot-job-{job.job_id}"] != [threading.current_thread().name]
    assert job.log[-1] == "stored: run 7 (12 s)"
    # halfway through the training: the bar halfway between its start and the embedding's, no log line
    assert progress == [(pytest.approx(0.30), "learning the customers' behaviour (5 of at most 10 passes)", 1)]
    assert jobs.landed("db.duckdb", seen=set()) == [job] and jobs.landed("db.duckdb", seen={job.job_id}) == []


def test_a_second_job_on_the_same_database_waits_its_turn_and_another_database_does_not():
    jobs = Jobs()
    release = threading.Event()
    order = []

    def slow(job):
        order.append("first started")
        release.wait(5)
        order.append("first ended")
        return [1]

    def quick(name):
        def work(job):
            order.append(name)
            return [2]
        return work

    first = jobs.start("a.duckdb", "snapshot", "first", "s", slow)
    for _ in range(100):
        if first.state == "running":
            break
        threading.Event().wait(0.01)
    second = jobs.start("a.duckdb", "snapshot", "second", "s", quick("second"))
    elsewhere = jobs.start("b.duckdb", "snapshot", "elsewhere", "s", quick("elsewhere"))
    assert jobs.wait(elsewhere, 5) and elsewhere.state == "done"
    assert second.state == "waiting" and second.fraction == 0.0
    release.set()
    assert jobs.wait(second, 5) and second.state == "done"
    assert order == ["first started", "elsewhere", "first ended", "second"]


def test_cancel_stops_at_the_next_step_and_a_waiting_job_never_starts():
    jobs = Jobs()
    started, release = threading.Event(), threading.Event()
    reached = []

    def work(job):
        started.set()
        release.wait(5)
        job.report(ProgressEvent(Stage.EMBEDDING, "  embedding …"))  # the cancel takes effect here
        reached.append("after embedding")
        return [3]

    running = jobs.start("db", "snapshot", "running", "s", work)
    assert started.wait(5)
    waiting = jobs.start("db", "snapshot", "waiting", "s", lambda job: reached.append("waiting ran") or [4])
    jobs.cancel(waiting.job_id)
    jobs.cancel(running.job_id)
    release.set()
    assert jobs.wait(running, 5) and jobs.wait(waiting, 5)
    assert (running.state, running.run_ids) == ("cancelled", [])
    assert "nothing was stored" in running.error
    assert waiting.state == "cancelled" and reached == []


def test_a_cancel_after_the_commit_is_too_late_and_ignored():
    jobs = Jobs()

    def work(job):
        jobs.cancel(job.job_id)
        job.report(ProgressEvent(Stage.STORED, "stored: run 9 (3 s)"))
        return [9]

    job = jobs.start("db", "snapshot", "late cancel", "s", work)
    assert jobs.wait(job, 5) and (job.state, job.run_ids) == ("done", [9])


@pytest.mark.parametrize("error, expected", [
    (InputError("no customers were active in the 60 days up to 2020-01-01"),
     "no customers were active in the 60 days up to 2020-01-01"),
    (ZeroDivisionError("division by zero"), "ZeroDivisionError: division by zero"),
])
def test_a_failing_job_reports_its_error_and_the_next_one_still_runs(error, expected):
    jobs = Jobs()

    def fail(job):
        raise error

    failed = jobs.start("db", "snapshot", "fails", "s", fail)
    after = jobs.start("db", "snapshot", "after", "s", lambda job: [5])
    assert jobs.wait(failed, 5) and jobs.wait(after, 5)
    assert (failed.state, failed.error) == ("failed", expected)
    assert (after.state, after.run_ids) == ("done", [5])


def test_the_bar_says_each_stage_in_plain_words_and_the_lines_stay_in_the_log():
    jobs = Jobs()
    seen = []
    second = {"snapshot": 2, "snapshots": 3}  # of a timeline

    def work(job):
        for event in (ProgressEvent(Stage.SNAPSHOT, "[2/3] snapshot 2025-05-31", **second),
                      ProgressEvent(Stage.FITTING, "training: autoencoder on 2,600 customers …", **second),
                      ProgressEvent(Stage.SEGMENTS, "  note: no reconstruction", note="no reconstruction", **second),
                      ProgressEvent(Stage.SEGMENTS, "clustering: 8 segments, noise 0.2%", **second),
                      ProgressEvent(Stage.FEATURES, "features: …", **second)):  # out of order: never backwards
            job.report(event)
            seen.append((job.step, job.fraction))
        return [1]

    job = jobs.start("db", "timeline", "timeline", "s", work)
    assert jobs.wait(job, 5)
    assert seen == [("snapshot 2 of 3", pytest.approx(1 / 3)),
                    ("learning the customers' behaviour", pytest.approx(1.06 / 3)),
                    ("describing the segments", pytest.approx(1.72 / 3)),
                    ("describing the segments", pytest.approx(1.72 / 3)),
                    ("reading the customers' behaviour", pytest.approx(1.72 / 3))]
    assert job.log == ["[2/3] snapshot 2025-05-31", "training: autoencoder on 2,600 customers …",
                       "  note: no reconstruction", "clustering: 8 segments, noise 0.2%", "features: …"]

def test_every_stage_has_plain_words():
    from segmentation.ui.progress import PLAIN_WORDS, plain_words

    assert set(PLAIN_WORDS) == set(Stage)
    assert plain_words(ProgressEvent(Stage.SKIPPED, "[1/3] 2025-03-31: run 4 exists, skipped", snapshot=1,
                                     snapshots=3)) == "snapshot 1 of 3"
    assert plain_words(ProgressEvent(Stage.STORED, "stored: run 4 (20 s)")) == "stored"


@pytest.mark.parametrize("timeline", [None, (date(2025, 4, 30), date(2025, 6, 30), 30)], ids=["snapshot", "timeline"])
def test_the_app_marks_its_snapshot_jobs_as_the_command_line_marks_run_and_timeline(db_file, monkeypatch, timeline):
    """The same declared operations as the CLI's `run` and `timeline`: same kind, same marked values."""
    from segmentation.data import journal
    from segmentation.ui.jobs import snapshot_work
    from segmentation.workflows import snapshot, timeline as timelines
    from segmentation.workflows.snapshot import SnapshotParams

    markers = []

    def look(db, *args, **kwargs):
        markers.extend(json.loads(p.read_text()) for p in journal.journal_dir(db).glob("*.json"))
        return {"run_id": 7, "snapshots": [{"run_id": 7}]}

    monkeypatch.setattr(snapshot, "run_snapshot", look)
    monkeypatch.setattr(timelines, "run_timeline", look)
    job = SimpleNamespace(report=lambda event: None)
    assert snapshot_work(str(db_file), SnapshotParams(window_days=60, seed=3), date(2025, 6, 30), timeline)(job) == [7]
    assert [(m["kind"], m["detail"]) for m in markers] == (
        [("run", {"as_of": "2025-06-30", "window_days": 60})] if timeline is None else
        [("timeline", {"start": "2025-04-30", "end": "2025-06-30", "every": 30, "window_days": 60})])
    assert list(journal.journal_dir(db_file).iterdir()) == []  # removed when the work ends


def test_a_page_opened_after_a_snapshot_landed_is_not_told_about_it_again():
    """The browser walk saw "New snapshot stored … is run 3" on every reload and new tab, long after."""
    from datetime import datetime, timedelta

    jobs = Jobs()
    job = jobs.start("db.duckdb", "snapshot", "snapshot of 2025-06-30 (60-day window)", "session-a", lambda job: [3])
    assert jobs.wait(job, 10)
    before, after = job.finished_at - timedelta(seconds=1), job.finished_at + timedelta(seconds=1)
    assert jobs.landed("db.duckdb", set(), since=before, owner="session-b") == [job]  # open while it ran
    assert jobs.landed("db.duckdb", set(), since=after, owner="session-b") == []  # opened (or reloaded) later
    assert jobs.landed("db.duckdb", set(), since=after, owner="session-a") == [job]  # the session that started it
    assert jobs.landed("db.duckdb", set(), since=None) == [job] and datetime.now() >= job.finished_at

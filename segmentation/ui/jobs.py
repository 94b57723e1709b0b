"""Snapshots computed outside the page script, so leaving the Run page does not stop them (no streamlit here).

A :class:`Jobs` registry (one per app process, kept by ``st.cache_resource``) runs each
snapshot or timeline in a worker thread and keeps what the pages need to show: the state
(``waiting``, ``running``, ``done``, ``failed``, ``cancelled``), a progress fraction and the
latest stage in plain words (both from the workflows' progress events), the stored run ids and
the error. Jobs on one database run one at a time, in the order they were started: a second one
waits its turn and says so.

Cancelling is explicit (:meth:`Jobs.cancel`): the job stops at its next step or training
epoch. A snapshot is stored in one transaction at its end, so a cancelled (or killed) job
leaves nothing half-written; a timeline keeps the snapshots it stored before.
"""

from __future__ import annotations

import itertools
import threading
import traceback
from dataclasses import dataclass, field
from datetime import datetime
from typing import Callable

from segmentation.errors import WorkbenchError
from segmentation.ui.progress import plain_words
from segmentation.workflows.progress import ProgressEvent, Stage

__all__ = ["Job", "Jobs", "Cancelled", "STATES"]

STATES = ("waiting", "running", "done", "failed", "cancelled")
FINISHED = ("done", "failed", "cancelled")
KEEP_FINISHED = 20  # finished jobs remembered per registry (for "a new snapshot landed")


class Cancelled(WorkbenchError):
    """Raised inside a job's own progress callbacks when someone asked it to stop."""


@dataclass
class Job:
    """One snapshot or timeline started from the app. Read its fields; only the registry writes them."""

    job_id: int
    db: str
    kind: str  # "snapshot" or "timeline"
    label: str  # "snapshot of 2025-06-30 (60-day window)"
    owner: str  # the session that started it
    state: str = "waiting"
    fraction: float = 0.0
    step: str = "waiting for its turn"
    log: list[str] = field(default_factory=list)
    run_ids: list[int] = field(default_factory=list)
    error: str | None = None
    created_at: datetime = field(default_factory=datetime.now)
    started_at: datetime | None = None
    finished_at: datetime | None = None
    _cancel: threading.Event = field(default_factory=threading.Event, repr=False)
    _done: threading.Event = field(default_factory=threading.Event, repr=False)

    @property
    def finished(self) -> bool:
        return self.state in FINISHED

    @property
    def cancel_requested(self) -> bool:
        return self._cancel.is_set()

    def report(self, event: ProgressEvent) -> None:
        """A progress event of the snapshot (a step or a training epoch): log its line, move the bar
        (never backwards), say the stage in plain words; stop here if cancelled."""
        # The last event comes after the commit: a cancel then is too late, and is ignored.
        if self._cancel.is_set() and event.stage is not Stage.STORED:
            raise Cancelled("cancelled at your request; nothing was stored for the snapshot in progress")
        if event.message:
            self.log.append(event.message)
            del self.log[:-200]
        self.step = plain_words(event)
        self.fraction = max(self.fraction, event.fraction)


Work = Callable[[Job], list[int]]  # does the job, calling job.report; returns the stored run ids


def snapshot_work(db: str, params, when=None, timeline: tuple | None = None) -> Work:
    """The work of a snapshot of ``when`` (or of a ``timeline`` = (start, end, every_days)): the same
    functions as the command line, marked in the database's journal as its ``run``/``timeline`` (the
    same declared operations)."""

    def work(job: Job) -> list[int]:
        from segmentation.workflows.snapshot import RUN, run_snapshot
        from segmentation.workflows.timeline import TIMELINE, run_timeline

        if timeline is None:
            with RUN.mark(db, as_of=when, window_days=params.window_days):
                document = run_snapshot(db, when, params, progress=job.report)
            return [document["run_id"]]
        start, end, every = timeline
        with TIMELINE.mark(db, start=start, end=end, every=every, window_days=params.window_days):
            document = run_timeline(db, start, end, every, params, progress=job.report)
        return [s["run_id"] for s in document["snapshots"] if not s.get("skipped")]

    return work


def snapshot_label(params, when=None, timeline: tuple | None = None) -> str:
    """``snapshot of 2025-06-30 (60-day window)`` / ``timeline 2025-04-30 → 2025-06-30 every 30 days (…)``."""
    if timeline is None:
        return f"snapshot of {when} ({params.window_days}-day window)"
    start, end, every = timeline
    return f"timeline {start} → {end} every {every} days ({params.window_days}-day window)"


class Jobs:
    """The jobs of one app process, one worker thread each, serialised per database."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._db_locks: dict[str, threading.Lock] = {}
        self._jobs: list[Job] = []
        self._ids = itertools.count(1)

    def start(self, db: str, kind: str, label: str, owner: str, work: Work) -> Job:
        """Queue ``work`` for ``db`` in a new daemon thread; returns its job at once."""
        with self._lock:
            job = Job(next(self._ids), str(db), kind, label, owner)
            self._jobs.append(job)
            db_lock = self._db_locks.setdefault(job.db, threading.Lock())
        thread = threading.Thread(target=self._run, args=(job, db_lock, work), name=f"snapshot-job-{job.job_id}",
                                  daemon=True)
        thread.start()
        return job

    def _run(self, job: Job, db_lock: threading.Lock, work: Work) -> None:
        with db_lock:  # one job per database at a time, in order of arrival
            if job.cancel_requested:
                self._finish(job, "cancelled", "cancelled before it started")
                return
            job.state, job.started_at, job.step = "running", datetime.now(), "starting"
            try:
                job.run_ids = [int(r) for r in work(job)]
            except Cancelled as exc:
                self._finish(job, "cancelled", str(exc))
            except WorkbenchError as exc:
                self._finish(job, "failed", str(exc))
            except Exception as exc:  # noqa: BLE001 - a worker thread must report, never die silently
                job.log.append(traceback.format_exc(limit=5))
                self._finish(job, "failed", f"{type(exc).__name__}: {exc}")
            else:
                job.fraction = 1.0
                self._finish(job, "done", None)

    def _finish(self, job: Job, state: str, error: str | None) -> None:
        job.state, job.error, job.finished_at = state, error, datetime.now()
        job._done.set()
        with self._lock:
            finished = [j for j in self._jobs if j.finished]
            for old in finished[:-KEEP_FINISHED]:
                self._jobs.remove(old)

    def cancel(self, job_id: int) -> None:
        """Ask a job to stop at its next step (a waiting job never starts)."""
        for job in self.jobs():
            if job.job_id == job_id and not job.finished:
                job._cancel.set()

    def jobs(self, db: str | None = None) -> list[Job]:
        """The jobs (of ``db``), oldest first."""
        with self._lock:
            return [j for j in self._jobs if db is None or j.db == str(db)]

    def active(self, db: str) -> list[Job]:
        """Waiting and running jobs of ``db``, oldest first."""
        return [j for j in self.jobs(db) if not j.finished]

    def landed(self, db: str, seen: set[int], since: datetime | None = None, owner: str | None = None) -> list[Job]:
        """Finished jobs of ``db`` not in ``seen`` (job ids a session has already told about); with
        ``since``, only those that finished at or after it, unless ``owner`` started them: a page opened
        (or reloaded) after a snapshot landed is not told about it again."""
        return [j for j in self.jobs(db) if j.finished and j.job_id not in seen
                and (since is None or j.owner == owner or (j.finished_at is not None and j.finished_at >= since))]

    def wait(self, job: Job, seconds: float) -> bool:
        """Block until ``job`` has finished (tests, scripts); True when it did within ``seconds``."""
        return job._done.wait(seconds)

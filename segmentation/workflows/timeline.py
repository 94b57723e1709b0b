"""A timeline of snapshots (the ``timeline`` command and the app's first run):
:func:`timeline_dates` lists the snapshot dates from a start to an end date every so many days, and
:func:`run_timeline` computes one snapshot per date with
:func:`~segmentation.workflows.snapshot.run_snapshot`, each tracked against the one before, skipping
dates that already have a complete run with the same window."""

from __future__ import annotations

from datetime import date
from typing import Any

from segmentation.data import journal, recovery
from segmentation.errors import InputError
from segmentation.workflows.progress import Progress, Stage, in_timeline, say
from segmentation.workflows.snapshot import SnapshotParams, existing_run, run_snapshot

__all__ = ["TIMELINE", "timeline_dates", "run_timeline"]


def _timeline_outcome(con, marker: dict) -> str:
    """A killed timeline keeps the snapshots it completed; running it again skips them."""
    return recovery.snapshots_kept(con, marker, "run the same timeline again")


# A timeline (the `timeline` command, the app's timeline job) is marked in the crash journal while it works.
TIMELINE = journal.declare("timeline", marked=("start", "end", "every", "window_days"),
                           outcome=_timeline_outcome, stores_models=True)


def timeline_dates(start: date, end: date, every_days: int) -> list[date]:
    """Snapshot dates from ``start`` to ``end`` (inclusive) every ``every_days`` days."""
    from datetime import timedelta

    if every_days < 1:
        raise InputError(f"--every must be at least 1 day (got {every_days})")
    if end < start:
        raise InputError(f"--end {end} is before --start {start}")
    dates, current = [], start
    while current <= end:
        dates.append(current)
        current += timedelta(days=every_days)
    return dates


def run_timeline(
    db: Any,
    start: date,
    end: date,
    every_days: int,
    params: SnapshotParams | None = None,
    progress: Progress = None,
    progress_bar: bool = False,
) -> dict[str, Any]:
    """One snapshot per date, each tracked against the one before.

    Dates that already have a complete run with the same window are skipped
    (re-running a timeline does not duplicate runs). The events ``progress`` receives say which
    snapshot of the timeline they belong to.
    """
    params = params or SnapshotParams()
    dates = timeline_dates(start, end, every_days)
    snapshots = []
    for index, when in enumerate(dates, start=1):
        report = in_timeline(progress, index, len(dates))
        existing = existing_run(db, when, params.window_days)
        if existing is not None:
            say(report, Stage.SKIPPED, f"[{index}/{len(dates)}] {when}: run {existing} exists, skipped")
            snapshots.append({"as_of": when.isoformat(), "run_id": existing, "skipped": True})
            continue
        say(report, Stage.SNAPSHOT, f"[{index}/{len(dates)}] snapshot {when}")
        document = run_snapshot(db, when, params, progress=report, progress_bar=progress_bar)
        snapshots.append({**document, "skipped": False})
    return {"start": start.isoformat(), "end": end.isoformat(), "every_days": every_days,
            "window_days": params.window_days, "snapshots": snapshots}

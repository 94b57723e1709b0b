"""What ``make run`` does before the app opens, so a newcomer's first screen shows segments.

On an empty database: the demo data and a short demo timeline of two snapshots,
chosen so that the planted emerging persona ("social_live_shoppers", absent in
January–March 2025, about 4 % of active customers by the end of May) is flagged
``emerged`` in the second snapshot. Sized to finish in well under a minute on
two cores with a cold numba cache (most of that time is numba compiling
umap-learn once; the kernels are then cached in ``$NUMBA_CACHE_DIR`` for the
app's Run page and the command line).

A database that already has snapshots is left alone, except a demo database
holding only part of the demo timeline (a first run that was interrupted): its
missing snapshots are computed. One holding the user's own events (no demo
truth) gets no automatic snapshot: that is the user's call.
"""

from __future__ import annotations

import time
from datetime import date
from typing import Any, Callable, Optional

from segmentation.data import journal, recovery, store

__all__ = ["DEMO_CUSTOMERS", "DEMO_MONTHS", "DEMO_SNAPSHOTS", "FIRST_RUN", "demo_params", "prepare"]

DEMO_CUSTOMERS = 2_500
DEMO_MONTHS = 6  # January–June 2025
DEMO_SEED = 7
# Before the emerging persona exists, and two months later (every = the days between).
DEMO_SNAPSHOTS = (date(2025, 3, 31), date(2025, 5, 31))
DEMO_WINDOW_DAYS = 60
DEMO_MAX_EPOCHS = 20


def _first_run_outcome(con, marker: dict) -> str:
    """A killed first run: the demo data is whole or absent, the demo snapshots it completed are kept."""
    return ("the demo data is complete or absent (one transaction); "
            + recovery.snapshots_kept(con, marker, "run `first-run` again"))


# The `first-run` command is marked in the crash journal while it works (no options to keep).
FIRST_RUN = journal.declare("first-run", outcome=_first_run_outcome)


def demo_params():
    """Snapshot parameters of the demo timeline (also what the app's Run page would need to repeat it).

    The demo's own window and training budget; everything else is a snapshot's default, except the
    smallest segment: 2 % of the fitted customers keeps segments above ~40 of the ~1,900 customers
    that 2,500 leave active in a window. The floor the data would choose (1 %: the median customer
    has 16 events) lets the first snapshot cut the premium store shoppers into two parts of ~85
    customers whose mixes differ, which the second snapshot's refit finds as one again: a merge
    reported on the demo's first screen that nothing in the data made.
    """
    from segmentation.workflows.snapshot import SnapshotParams

    return SnapshotParams(window_days=DEMO_WINDOW_DAYS, max_epochs=DEMO_MAX_EPOCHS, min_cluster_share=0.02)


def _state(db: Any) -> dict[str, int]:
    with store.connect(db) as con:
        summary = store.summary(con)
    return {"events": int(summary["n_events"]), "runs": int(summary["n_runs"]),
            "demo_truth": int(summary["n_demo_truth_rows"])}


def prepare(db: Any, progress: Optional[Callable[[str], None]] = None,
            customers: int = DEMO_CUSTOMERS) -> dict[str, Any]:
    """Create the demo data and the demo timeline when the database needs them; say what was done.

    Returns ``created_demo``, ``runs`` (ids of the demo timeline's snapshots), ``emerged``
    (segments flagged emerged in the last one), ``seconds`` and a one-line ``message``.
    ``progress`` receives lines for a terminal: the first run's, the demo data's
    (:func:`~segmentation.demo.generate.create_demo` reports in lines) and the timeline's events' lines.
    """
    say = progress or (lambda message: None)
    started = time.perf_counter()
    state = _state(db)
    document: dict[str, Any] = {"created_demo": False, "runs": [], "emerged": 0}
    if state["runs"] and not _demo_timeline_unfinished(db, state):
        document["message"] = f"the database already holds {state['runs']} snapshot(s)"
    elif state["events"] and not state["demo_truth"]:
        document["message"] = ("your events have no snapshot yet: compute one on the app's Run page "
                               "or with `python -m segmentation run --as-of YYYY-MM-DD`")
    else:
        if not state["events"]:
            from segmentation.demo.generate import create_demo

            say(f"first run: creating demo data ({customers:,} customers, {DEMO_MONTHS} months) "
                f"in {store.db_path(db)} …")
            with store.connect(db) as con:
                create_demo(con, customers=customers, months=DEMO_MONTHS, seed=DEMO_SEED, progress=say)
            document["created_demo"] = True
        document.update(_demo_timeline(db, say))
    document["seconds"] = round(time.perf_counter() - started, 1)
    return document


def _demo_timeline_unfinished(db: Any, state: dict[str, int]) -> bool:
    """Does the demo database hold some, but not all, of the demo timeline's snapshots and no other run?"""
    from segmentation.workflows.snapshot import existing_run

    if not state["demo_truth"] or state["runs"] >= len(DEMO_SNAPSHOTS):
        return False
    found = sum(existing_run(db, when, DEMO_WINDOW_DAYS) is not None for when in DEMO_SNAPSHOTS)
    return found == state["runs"]


def _demo_timeline(db: Any, say: Callable[[str], None]) -> dict[str, Any]:
    from segmentation.data.results import list_segments
    from segmentation.workflows.progress import as_lines
    from segmentation.workflows.timeline import run_timeline

    start, end = DEMO_SNAPSHOTS
    say(f"first run: a demo timeline of {len(DEMO_SNAPSHOTS)} snapshots ({start}, {end}); "
        "the first one compiles the numba kernels (cached for later runs) …")
    timeline = run_timeline(db, start, end, (end - start).days, demo_params(), progress=as_lines(say))
    run_ids = [int(s["run_id"]) for s in timeline["snapshots"]]
    with store.connect(db, read_only=True) as con:
        emerged = int((list_segments(con, run_ids[-1])["transition"] == "emerged").sum())
    return {"runs": run_ids, "emerged": int(emerged),
            "message": f"demo timeline ready: runs {', '.join(map(str, run_ids))}, "
                       f"{int(emerged)} emerged segment(s) in the latest"}

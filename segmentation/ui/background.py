"""Snapshots computed in the background, as the pages see them: the app's job registry
(:class:`segmentation.ui.jobs.Jobs`, one per app process), starting a snapshot, its progress in the
sidebar of every page, and the notice that one has landed.
"""

from __future__ import annotations

import uuid
from datetime import datetime

import streamlit as st

from segmentation.data import read
from segmentation.present.digest import escape_markdown
from segmentation.ui import common

SESSION_KEY = "_session_token"
SEEN_JOBS_KEY = "_seen_jobs"
# When this browser session first looked for landed jobs: it is told only about those that landed after.
OPENED_KEY = "_opened_at"


@st.cache_resource(show_spinner=False)
def job_registry():
    """The app process's :class:`segmentation.ui.jobs.Jobs` (shared by every session)."""
    from segmentation.ui.jobs import Jobs

    return Jobs()


def session_token() -> str:
    """A random id of this browser session (who started a job)."""
    if SESSION_KEY not in st.session_state:
        st.session_state[SESSION_KEY] = uuid.uuid4().hex
    return st.session_state[SESSION_KEY]


def active_jobs() -> list:
    """Waiting and running snapshot jobs on this session's database, oldest first."""
    return job_registry().active(str(common.current_db()))


def start_snapshot(params, when=None, timeline: tuple | None = None):
    """Start a snapshot of ``when`` (or a ``timeline`` = (start, end, every_days)) in the background;
    returns its job. Leaving the page does not stop it."""
    from segmentation.ui.jobs import snapshot_label, snapshot_work

    db = str(common.current_db())
    return job_registry().start(db, "snapshot" if timeline is None else "timeline",
                                snapshot_label(params, when, timeline), session_token(),
                                snapshot_work(db, params, when, timeline))


def latest_params():
    """The parameters of the latest snapshot (what a new one starts from) and its run id; else the
    defaults and None."""
    from segmentation.errors import InputError
    from segmentation.workflows.engine_options import check_engine_options
    from segmentation.workflows.snapshot import SnapshotParams

    frame = common.cached(read.runs)
    if frame.empty:
        return SnapshotParams(), None
    latest = frame.iloc[0]
    stored = common.as_dict(latest["params"]) or {}
    known = {k: stored[k] for k in ("window_days", "seed", "fit_sample_size", "min_cluster_share", "max_epochs")
             if stored.get(k) is not None}
    if isinstance(stored.get("extra"), dict):  # engine options (run --engine-option) carry over too
        known["extra"] = stored["extra"]
    try:
        params = SnapshotParams(**known)
        check_engine_options(params.extra)
        return params, int(latest["run_id"])
    except (TypeError, ValueError, InputError):
        return SnapshotParams(), None


def _watch_jobs() -> None:
    """In the sidebar while snapshots are computed: their progress; the page reloads when they end."""
    jobs = active_jobs()
    if not jobs:  # the jobs this fragment watched have ended: show their runs everywhere
        common.after_write()
        st.rerun(scope="app")
    for job in jobs:
        text = (f"Computing the {job.label}: {job.fraction:.0%}" if job.state == "running"
                else f"Waiting to compute the {job.label}")
        st.progress(job.fraction, text=text)
    st.page_link(common.PAGES["run"], label="Follow it on the Run page", icon=":material/play_circle:")


def job_sidebar() -> None:
    """Progress of background snapshots on every page, refreshed every 2 s while there are any."""
    if not active_jobs():
        return
    with st.sidebar:
        st.fragment(_watch_jobs, run_every=2.0)()


def landed_jobs() -> list:
    """Finished jobs of this database this session was not told about yet (each is returned once).

    A snapshot this session started is shown at once: it becomes the chosen snapshot.
    """
    seen = st.session_state.setdefault(SEEN_JOBS_KEY, set())
    opened = st.session_state.setdefault(OPENED_KEY, datetime.now())
    landed = job_registry().landed(str(common.current_db()), seen, since=opened, owner=session_token())
    for job in landed:
        seen.add(job.job_id)
        if job.state == "done" and job.run_ids and job.owner == session_token():
            st.session_state[common.RUN_KEY] = int(job.run_ids[-1])
    return landed


def landed_notice(link_overview: bool = False) -> None:
    """Say what snapshots computed in the background came to since this session was last told:
    stored (with a link to the Overview when ``link_overview``), cancelled, or stopped."""
    for job in landed_jobs():
        when = f"{job.started_at or job.created_at:%H:%M}"
        if job.state == "done":
            runs_text = ", ".join(str(r) for r in job.run_ids) or "—"
            st.success(f"New snapshot stored: the {job.label} started at {when} is run {runs_text}.",
                       icon=":material/check_circle:")
            if link_overview:
                st.page_link(common.PAGES["overview"], label="Open the Overview", icon=":material/dashboard:")
        elif job.state == "cancelled":
            st.info(f"The {job.label} started at {when} was cancelled; nothing was stored for the snapshot "
                    "in progress.", icon=":material/cancel:")
        else:
            st.warning(f"The {job.label} started at {when} stopped; nothing was stored for the failed "
                       f"snapshot: {escape_markdown(job.error or job.state)}.", icon=":material/warning:")

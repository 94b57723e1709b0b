"""Run page: compute a snapshot or a timeline of snapshots, with a progress bar and step messages.

Uses segmentation.workflows.snapshot (the same functions as the command line) in a worker
thread the app keeps (segmentation.ui.jobs): the marketer may leave the page, and
the Overview says when the snapshot has landed. Results are stored in one
transaction per snapshot, so a cancelled or killed run leaves nothing half-written.
"""

from __future__ import annotations

from datetime import timedelta

import pandas as pd
import streamlit as st

from segmentation.workflows.snapshot import FLOOR_RULE, SnapshotParams
from segmentation.data import read
from segmentation.dynamics.refit_review import fold_sentence
from segmentation.ui import background, common
from segmentation.present.digest import escape_markdown

HELP = {
    "as_of": "Behaviour up to and including this day is used.",
    "window": "How many days of behaviour before the snapshot date describe a customer. "
              "90 days suits most shops; shorter windows react faster to change.",
    "seed": "Same data, parameters and seed give the same segments.",
    "fit_sample": "Customers used to fit the map and the clustering; everyone is then assigned. "
                  "Larger is slower and rarely changes the segments.",
    "min_share": "The smallest segment, as a share of the fitted customers. Lower finds smaller "
                 "(and more) segments. Used when 'Let the data choose the smallest segment' is off.",
    "floor_auto": FLOOR_RULE + " (with few events, chance alone forms small groups).",
    "epochs": "Training passes of the autoencoder (it stops earlier when it no longer improves).",
    "refit": "Fit new models even when the previous snapshot's models still explain the data.",
    "every": "Days between two snapshots of the timeline.",
}


def _job_status(job) -> None:
    with st.container(border=True):
        if job.state == "waiting":
            st.markdown(f"**{job.label}** waits its turn: another snapshot on this database is being "
                        "computed, and this one starts when it has finished.")
        else:
            st.markdown(f"**{job.label}** — started at {job.started_at:%H:%M:%S}")
        st.progress(job.fraction, text=job.step[:120])
        st.caption("You can open other pages meanwhile: the snapshot goes on, and the Overview says when "
                   "it has landed. A snapshot is stored completely or not at all.")
        if job.cancel_requested:
            st.caption("Cancelling at the next step …")
        elif st.button("Cancel", key=f"cancel_job_{job.job_id}", icon=":material/cancel:"):
            background.job_registry().cancel(job.job_id)
            st.rerun(scope="fragment")
        with st.expander("Details for analysts"):
            st.code("\n".join(job.log[-30:]) or "…", language=None)


def _jobs_panel() -> None:
    """Running and waiting snapshots (refreshed every second); when they end, the whole page reloads."""
    jobs = background.active_jobs()
    if not jobs:
        common.after_write()
        st.rerun(scope="app")
    for job in jobs:
        _job_status(job)


WINDOW, EVERY, FIT_SAMPLE = "Window (days)", "Every (days)", "Customers to fit on"
MIN_SHARE, EPOCHS = "Smallest segment (share), when set by hand", "Training epochs (at most)"
#: Each number field's allowed range (None: no bound). Checked on submit rather than by the field itself:
#: a form keeps a field's last valid value when an out-of-range one is typed, and ran with that value
#: while the field showed the typed one (the browser walk: a window of 0 ran with 60 days).
RANGES = {WINDOW: (7, 3650), EVERY: (1, 365), FIT_SAMPLE: (100, None), MIN_SHARE: (0.001, 0.5), EPOCHS: (1, 500)}


def feature_labels(con) -> dict[str, str]:
    """Every feature's label as the other pages say it (``email_click_rate`` → "email click-through",
    ``category_home_garden`` → "Home & Garden activity"): the catalog of the stored events' channels and
    categories (a scan of the events: read through :func:`common.events_cached`)."""
    from segmentation.features.catalog import feature_catalog

    return {feature.name: feature.label for feature in feature_catalog(con)}


def in_words(note: str, labels: dict[str, str]) -> str:
    """A stored run note with the feature it starts with named in words: ``event_other left out: …`` →
    ``“other activity” left out: …`` (the notes are the command line's too)."""
    name, _, rest = note.partition(" left out")
    return f"“{labels[name]}” left out{rest}" if rest and name in labels else note


def segments_in_words(granularity: dict) -> str | None:
    """How many segments the snapshot kept and why, for a marketer (the stored ``why`` is for analysts)."""
    found, final = granularity.get("clusters_found"), granularity.get("segments")
    if found is None or final is None:
        return None
    found, final = int(found), int(final)
    text = f"The workbench found {found} {'group' if found == 1 else 'groups'} of customers who behave alike"
    joined = found - final
    if joined > 0:
        text += (f"; {joined} of them behaved as another one did and {'was' if joined == 1 else 'were'} joined "
                 f"to it, which leaves {final} {'segment' if final == 1 else 'segments'}")
    elif found > 1:
        text += ", each different enough from the others to be a segment of its own"
    return text + ". Customers who fit none of them well are left unassigned."


def out_of_range(entered: dict) -> list[str]:
    """What is wrong with the entered numbers (field → value), in words; empty when every one is in range."""
    problems = []
    for field, value in entered.items():
        low, high = RANGES[field]
        if (low is not None and value < low) or (high is not None and value > high):
            allowed = f"between {low:,} and {high:,}" if high is not None else f"at least {low:,}"
            problems.append(f"“{field}” must be {allowed}, not {value:,}")
    return problems


def _refusal(kind: str, params: SnapshotParams, when, start, end, again: bool) -> str | None:
    """Why the form's snapshot is not started (None: start it)."""
    if kind == "timeline":
        return f"The last snapshot ({end}) is before the first ({start})." if end < start else None
    from segmentation.ui.jobs import snapshot_label
    from segmentation.workflows.snapshot import existing_run

    if not again:
        existing = existing_run(common.current_db(), when, params.window_days)
        if existing is not None:
            return (f"Run {existing} already covers {when} with a {params.window_days}-day window; "
                    "tick “Compute again” under More parameters to compute another one.")
    label = snapshot_label(params, when)
    if any(job.label == label for job in background.active_jobs()):
        return f"The {label} is already being computed (see below)."
    return None


def _covered_hint(runs: pd.DataFrame, last, window_days: int) -> None:
    """Say before the form when its default date (the last day with events) already has a snapshot: one of
    ``runs`` (the complete runs, as the page lists them) as of that day with that window."""
    covering = runs.loc[(pd.to_datetime(runs["as_of"]).dt.date == last) & (runs["window_days"] == window_days),
                        "run_id"]
    if len(covering):
        st.caption(f"Run {int(covering.min())} already covers {last}, the last day with events, with a {window_days}-day "
                   "window: a new snapshot needs newer events (import them on the Data page), another date, "
                   "another window, or “Compute again” under More parameters.")


def render() -> None:
    summary = common.page_summary(
        "Run", "Find the segments of a snapshot date, or of a series of dates tracked one after the other.",
        watch_jobs=False)
    if summary is None:
        return
    if not summary["n_events"]:
        st.info("There are no events to segment yet: create the demo data or import events first.",
                icon=":material/inbox:")
        st.page_link(common.PAGES["data"], label="Go to Data", icon=":material/database:")
        return
    first = pd.Timestamp(summary["first_event"]).date()
    last = pd.Timestamp(summary["last_event"]).date()
    st.caption(f"Events from {first} to {last}.")

    start_from, from_run = background.latest_params()
    if from_run is not None:
        options = ", ".join(f"{k}={v}" for k, v in start_from.extra.items())
        st.caption(f"The form starts from the parameters of the latest snapshot (run {from_run}), so the next "
                   "one can be compared with it" + (f"; its engine options carry over too ({options})." if options
                                                     else "."))
    kind = st.segmented_control("What to compute", ["snapshot", "timeline"], default="snapshot", required=True,
                                key="run_kind",
                                format_func={"snapshot": "One snapshot", "timeline": "A timeline"}.get)
    kind = kind or "snapshot"
    if kind == "snapshot":
        _covered_hint(common.cached(read.runs), last, start_from.window_days)
    with st.form("run_form", enter_to_submit=False):  # Enter in a field must not start a snapshot
        if kind == "snapshot":
            when = st.date_input("Snapshot date (as of)", value=last, min_value=first, max_value=last + timedelta(days=365),
                                 help=HELP["as_of"], key="run_as_of")
            start = end = when
            every = 1
        else:
            columns = st.columns(3)
            start = columns[0].date_input("First snapshot", value=max(first, last - timedelta(days=90)),
                                          min_value=first, max_value=last, key="run_start")
            end = columns[1].date_input("Last snapshot", value=last, min_value=first, max_value=last, key="run_end")
            every = columns[2].number_input(EVERY, value=30,
                                            help=HELP["every"], key="run_every")
            when = end
        window_days = st.number_input(WINDOW, value=start_from.window_days,
                                      help=HELP["window"], key="run_window")
        with st.expander("More parameters (for analysts)"):
            columns = st.columns(2)
            seed = columns[0].number_input("Seed", value=start_from.seed, step=1, help=HELP["seed"], key="run_seed")
            fit_sample = columns[1].number_input(FIT_SAMPLE, value=start_from.fit_sample_size,
                                                 step=1000, help=HELP["fit_sample"], key="run_fit_sample")
            chosen = columns[0].checkbox("Let the data choose the smallest segment",
                                         value=start_from.min_cluster_share is None, help=HELP["floor_auto"],
                                         key="run_floor_auto")
            min_share = columns[0].number_input(MIN_SHARE, value=start_from.min_cluster_share or 0.02,
                                                step=0.005, format="%.3f", help=HELP["min_share"],
                                                key="run_min_share")
            epochs = columns[1].number_input(EPOCHS, value=start_from.max_epochs, help=HELP["epochs"], key="run_epochs")
            refit = st.checkbox("Always fit new models", value=False, help=HELP["refit"], key="run_refit")
            again = st.checkbox("Compute again when the date already has a snapshot", value=False,
                                key="run_again", help="Timelines always skip dates that have one.")
        label = "Run snapshot" if kind == "snapshot" else "Run timeline"
        submitted = st.form_submit_button(label, type="primary", icon=":material/play_arrow:")
    status_area = st.container()  # running snapshots and what the last ones came to, under the button
    if submitted:
        entered = {WINDOW: window_days, FIT_SAMPLE: fit_sample, EPOCHS: epochs}
        entered.update({EVERY: every} if kind == "timeline" else {})
        entered.update({} if chosen else {MIN_SHARE: min_share})
        problems = out_of_range(entered)
        if problems:
            st.error("Nothing was started: " + "; ".join(problems) + ".", icon=":material/error:")
            submitted = False
    if submitted:
        params = SnapshotParams(window_days=int(window_days), seed=int(seed), fit_sample_size=int(fit_sample),
                                min_cluster_share=None if chosen else float(min_share),
                                max_epochs=int(epochs), refit=bool(refit), extra=dict(start_from.extra))
        refusal = _refusal(kind, params, when, start, end, again)
        if refusal:
            st.error(refusal)
        else:
            background.start_snapshot(params, when, None if kind == "snapshot" else (start, end, int(every)))
    with status_area:
        background.landed_notice(link_overview=True)
        if background.active_jobs():
            st.subheader("Computing now")
            st.fragment(_jobs_panel, run_every=1.0)()

    runs = common.cached(read.runs)
    if not runs.empty:
        st.subheader("Stored snapshots")
        common.table(runs[["run_id", "as_of", "window_days", "n_customers", "n_segments", "noise_share", "created_at"]],
                     {"run_id": st.column_config.NumberColumn("Snapshot", format="run %d"),
                      "as_of": st.column_config.DateColumn("Date"),
                      "window_days": st.column_config.NumberColumn(WINDOW, format="%d"),
                      "n_customers": st.column_config.NumberColumn("Customers", format="localized"),
                      "n_segments": st.column_config.NumberColumn("Segments"),
                      "noise_share": common.percent_column(
                          "In no segment", help="Customers who fit no segment well (shown as “unassigned”)."),
                      "created_at": st.column_config.DatetimeColumn("Computed", format="YYYY-MM-DD HH:mm")})
        _why_segments(runs.iloc[0])


def _why_segments(row) -> None:
    """How the latest snapshot chose its number of segments and its features (runs.metrics/params),
    and the notes it stored (values filled in, drift checked without reconstruction, …)."""
    metrics, params = common.as_dict(row["metrics"]), common.as_dict(row["params"])
    notes, weights = metrics.get("notes") or [], params.get("feature_weights") or {}
    # a scan of the events (cached per data): only when a note or the weights name features
    labels = common.events_cached(feature_labels, common.data_summary()) if notes or weights else {}
    if notes:
        st.info(f"Notes on run {int(row['run_id'])}:\n" + "\n".join(f"- {escape_markdown(in_words(n, labels))}"
                                                                     for n in notes),
                icon=":material/info:")
    granularity, choice, floor = metrics.get("granularity"), params.get("feature_choice"), params.get("segment_floor")
    if not granularity and not choice and not floor:
        return
    with st.expander(f"Why run {int(row['run_id'])} has {int(row['n_segments'])} segments"):
        if floor:
            st.markdown(f"**Smallest segment allowed.** {floor['why'][0].upper()}{floor['why'][1:]}.")
        if granularity:
            plain = segments_in_words(granularity)
            st.markdown(f"**Segments.** {plain or granularity['why'] + '.'}")
            if plain:
                st.caption(f"For analysts: {granularity['why']}.")
            for fold in granularity.get("folded") or []:
                st.markdown(f"**Kept together.** {fold_sentence(fold)}")
        if choice:
            st.markdown(f"**Features.** {choice}.")
        if weights:
            ranked = sorted(weights.items(), key=lambda item: item[1])
            low = ", ".join(f"{labels.get(name, name)} ({weight:.2f})" for name, weight in ranked[:5])
            st.markdown("**Signal.** A feature weighs less when two random halves of a customer's events "
                        "disagree on it (a habit counts fully, chance counts for nothing). "
                        f"The lightest: {low}.")


render()

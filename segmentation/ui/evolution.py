"""Evolution page: how the segments changed across snapshots.

Sizes over time annotated with emerged/split/merged transitions, a Sankey of
customers between two chosen snapshots, and the list of transitions into a
snapshot with the sources of emerged segments. Frames come from
segmentation.dynamics.tracking, figures from segmentation.present.plotting.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from segmentation.present import plotting
from segmentation.data import read
from segmentation.dynamics import tracking
from segmentation.present.digest import display_name, escape_markdown
from segmentation.ui import common
from segmentation.workflows import reports

KIND_ORDER = ["emerged", "split", "merged", "disappeared", "survived", "forming", "dissolved"]


def _node_colors(run_id: int) -> dict[str, str]:
    """``segment N`` (the Sankey's node keys) → the colour of that segment's lineage in run ``run_id``."""
    colors = plotting.segment_lineage_colors(common.cached(read.segments, run_id=int(run_id)))
    return {f"segment {k}": v for k, v in colors.items()}


def timeline_caption(window: int, other_windows: int, other_computations: int) -> str:
    """What the sizes chart holds, and what it left out (:func:`tracking.one_window`)."""
    caption = f"Snapshots over a {window}-day window, as the one chosen in the sidebar"
    if other_windows:
        caption += (f"; {other_windows:,} {'snapshot' if other_windows == 1 else 'snapshots'} over another window "
                    "left out (choose one in the sidebar to see its own timeline)")
    if other_computations:
        caption += (f"; {other_computations:,} other {'computation' if other_computations == 1 else 'computations'}"
                    " of a date shown once")
    return caption + "."


def internal_words(internal: dict) -> list[str]:
    """A survivor's changes in words, its growth in customers with its numbers (the Overview's badge and
    change are in share of all customers, which can stay the same while the count grows)."""
    words = []
    for label in internal.get("labels") or []:
        if label in ("grew", "shrank") and internal.get("size_before"):
            before, after = int(internal["size_before"]), int(internal["size_after"])
            label += f" {after / before - 1:+.0%} in customers ({before:,} → {after:,})"
        words.append(label)
    return words


def _sankey(frame: pd.DataFrame, run: dict, timeline_runs: list[int]) -> None:
    st.subheader("Where customers moved")
    ids = frame["run_id"].astype(int).tolist()  # newest first
    labels = {int(r["run_id"]): common.run_label(r) for r in frame.to_dict(orient="records")}
    after_default = ids.index(int(run["run_id"]))
    # From: the snapshot this one was tracked against (its transitions), else the one before it on its
    # own timeline (same window), else the next older one
    tracked = common.cached(read.transitions, run_id=int(run["run_id"]))
    position = timeline_runs.index(int(run["run_id"]))
    if not tracked.empty and int(tracked["from_run"].iloc[0]) in ids:
        before_default = ids.index(int(tracked["from_run"].iloc[0]))
    elif position > 0:
        before_default = ids.index(timeline_runs[position - 1])
    elif after_default + 1 < len(ids):
        before_default = after_default + 1
    else:  # the oldest snapshot: from it to the next one on its timeline, else the next newer one
        before_default = after_default
        if position + 1 < len(timeline_runs):
            after_default = ids.index(timeline_runs[position + 1])
        elif after_default > 0:
            after_default -= 1
    left, right = st.columns(2)
    # Keyed by the sidebar's snapshot: choosing another one there starts from its defaults (the browser
    # keeps a widget's value for as long as its key lives)
    chosen = int(run["run_id"])
    before = left.selectbox("From snapshot", ids, index=before_default, format_func=labels.get,
                            key=f"sankey_before_{chosen}")
    after = right.selectbox("To snapshot", ids, index=after_default, format_func=labels.get,
                            key=f"sankey_after_{chosen}")
    if before == after:
        st.caption("Choose two different snapshots.")
        return
    runs = {int(r["run_id"]): r for r in frame.to_dict(orient="records")}
    if pd.Timestamp(runs[int(before)]["as_of"]) > pd.Timestamp(runs[int(after)]["as_of"]):
        st.warning(f"“From snapshot” ({labels[before]}) is later than “To snapshot” ({labels[after]}): the flow "
                   "reads forward in time, so new customers and those who left would swap places. Choose an "
                   "earlier “From” or a later “To”.", icon=":material/swap_horiz:")
        return
    windows = {run_id: int(r["window_days"]) for run_id, r in runs.items()}
    if windows[int(before)] != windows[int(after)]:
        st.warning(f"These snapshots describe customers over different windows ({windows[int(before)]} and "
                   f"{windows[int(after)]} days): some moves come from the longer or shorter view, not from "
                   "a change in behaviour.", icon=":material/compare_arrows:")
    flows = common.cached(reports.customer_flows, before=int(before), after=int(after))
    figure = plotting.flow_sankey(flows, common.flow_labels(before), common.flow_labels(after),
                                  _node_colors(int(before)), _node_colors(int(after)))
    st.plotly_chart(figure, key="sankey")
    stayed = flows[(flows["source"] != tracking.NEW_CUSTOMERS) & (flows["target"] != "left")]["customers"].sum()
    new = flows.loc[flows["source"] == tracking.NEW_CUSTOMERS, "customers"].sum()
    gone = flows.loc[flows["target"] == "left", "customers"].sum()
    st.caption(f"{int(stayed):,} customers are in both snapshots; {int(new):,} are new and "
               f"{int(gone):,} were not active in the later window. Each side names its segments as its own "
               "snapshot does (a segment renamed since shows its earlier name on the left).")


def transitions_table(transitions: pd.DataFrame) -> pd.DataFrame:
    """The transitions as the page shows them: a segment that emerged had nothing before it, one that
    disappeared has nothing after it, and that empty side reads "—" (numbers as words), not "None"."""
    table = transitions[["kind", "from_label", "from_size", "to_label", "to_size", "overlap"]].rename(
        columns={"kind": "what happened", "from_label": "before", "from_size": "size before", "to_label": "after",
                 "to_size": "size after", "overlap": "share kept"})
    nothing = table["what happened"].isin(["emerged", "disappeared"]) | table["share kept"].isna()
    table["share kept"] = ["—" if gone else f"{kept:.1%}" for gone, kept in zip(nothing, table["share kept"])]
    for column in ("size before", "size after"):
        table[column] = [f"{int(n):,}" if pd.notna(n) else "—" for n in table[column]]
    for column in ("before", "after"):
        table[column] = table[column].fillna("—")
    return table


def _transitions(run: dict) -> None:
    run_id = int(run["run_id"])
    transitions = common.cached(read.transitions, run_id=run_id)
    st.subheader("Transitions into this snapshot")
    if transitions.empty:
        st.caption("This snapshot was the first: nothing to compare with.")
        return
    st.caption(f"{common.run_label(run)} compared with run {int(transitions['from_run'].iloc[0])} "
               f"({pd.Timestamp(transitions['from_as_of'].iloc[0]).date()})")
    counts = transitions["kind"].value_counts()
    columns = st.columns(len(KIND_ORDER))
    for column, kind in zip(columns, KIND_ORDER):
        column.metric(kind, int(counts.get(kind, 0)))
    st.dataframe(transitions_table(transitions), hide_index=True, width="stretch",
                 column_config={"share kept": st.column_config.TextColumn(
                     help="Of the customers before, the share still together after.")})
    current = common.cached(read.segments, run_id=run_id)
    previous_names = common.flow_labels(int(transitions["from_run"].iloc[0]))
    st.markdown("**Who moved, and why**")
    for row in current[current["transition"].isin(["emerged", "split", "merged", "survived", "forming"])].itertuples(index=False):
        profile = row.profile if isinstance(row.profile, dict) else {}
        name = escape_markdown(display_name(row.name, row.suggested_name))
        internal = (profile.get("internal") or {}).get("labels") or []
        if row.transition == "survived" and not internal:
            continue
        what = row.transition + (f" from {escape_markdown(profile['lineage_from'])}"
                                 if profile.get("lineage_from") else "")
        if internal:
            what += " — " + ", ".join(internal_words(profile["internal"]))
        changed = common.changes_in_words(profile)
        st.markdown(f"**{name}** ({what}): {int(row.size):,} customers"
                    + (f"; against where they came from: {changed}" if changed else ""))
        sources = common.sources_table(profile, previous_names)
        if not sources.empty and row.transition != "survived":
            common.table(sources, {"share": common.percent_column()})


def _value(timeline_runs: list[int]) -> None:
    """Value over time per lineage, for the snapshots of the sizes chart (this run's window, one per date)."""
    st.subheader("Value over time")
    value = common.cached(reports.segment_value, run_ids=timeline_runs)
    if value.empty:
        return
    names = {}
    for run_id in value["run_id"].unique():
        labels = common.segment_labels(common.cached(read.segments, run_id=int(run_id)))
        names.update({(int(run_id), k): v for k, v in labels.items()})
    latest = value.sort_values(["as_of", "run_id"]).groupby("lineage_id").tail(1)
    by_lineage = {int(r.lineage_id): names.get((int(r.run_id), int(r.segment_id)), f"segment {r.segment_id}")
                  for r in latest.itertuples(index=False) if pd.notna(r.lineage_id)}
    value = value.assign(label=value["lineage_id"].map(by_lineage))
    measure = st.segmented_control("Measure", list(plotting.VALUE_MEASURES), default="revenue", required=True,
                                   key="value_measure",
                                   format_func=plotting.VALUE_MEASURES.get) or "revenue"
    st.plotly_chart(plotting.value_over_time(value, measure, common.currency()), key="value_over_time")
    st.caption("Revenue: purchase amounts of the segment's customers in the snapshot's window (before refunds). "
               "Gone quiet: of the customers the segment held at the previous snapshot, the share with no "
               "activity in this window; a segment's first snapshot has no value, so a segment seen twice shows "
               "one point. Each segment is named as in its latest snapshot.")


def render() -> None:
    run = common.page_run("Evolution")
    if run is None:
        return
    frame = common.cached(read.runs)
    timeline_runs, other_windows, other_computations = tracking.one_window(frame, int(run["run_id"]))
    timeline = common.cached(read.segments_timeline)
    sizes = tracking.sizes_over_time(timeline[timeline["run_id"].astype(int).isin(timeline_runs)])
    st.subheader("Segment sizes over time")
    if len(timeline_runs) < 2:
        st.info("Only one snapshot date over this window so far. Compute a timeline on the Run page to see "
                "segments emerge, split, merge, grow and fade.", icon=":material/timeline:")
    st.plotly_chart(plotting.sizes_over_time(sizes), key="sizes")
    st.caption(timeline_caption(int(run["window_days"]), other_windows, other_computations))
    if len(frame) >= 2:
        _sankey(frame, run, timeline_runs)
    _transitions(run)
    _value(timeline_runs)


render()

"""Overview page: the chosen (by default the latest) snapshot at a glance.

Headline numbers, alerts for segments that emerged, split, merged or
disappeared since the previous snapshot, and one card per segment (name, size
and change, top traits in words, a badge); a card's button opens its profile.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from segmentation.data import read
from segmentation.present import digest
from segmentation.ui import common
from segmentation.dynamics.value import rank_rising
from segmentation.workflows import reports

BADGE_COLORS = {"NEW": "green", "SPLIT": "orange", "MERGED": "violet", "GROWING": "blue", "FADING": "gray"}
ALERT_ICONS = {"emerged": ":material/auto_awesome:", "split": ":material/call_split:",
               "merged": ":material/merge:", "disappeared": ":material/visibility_off:"}
CARDS_PER_ROW = 3


def _headline(run: dict, frame: pd.DataFrame, previous: dict | None) -> None:
    noise = frame.loc[frame["segment_id"] == -1, "size"].sum()
    columns = st.columns(4)
    change = int(run["n_segments"]) - int(previous["n_segments"]) if previous else 0
    columns[0].metric("Segments", f"{int(run['n_segments'])}", delta=change or None, delta_color="off",
                      help="Change since the previous snapshot below the number.")
    columns[1].metric("Customers covered", f"{int(run['n_customers']):,}",
                      help="Customers active in the snapshot's window, each in a segment or unassigned.")
    columns[2].metric("Unassigned", digest.share_text(run["noise_share"]),
                      help=f"{digest.customers_text(noise)} "
                           f"{'behaves' if int(noise) == 1 else 'behave'} unlike every segment: in no audience.")
    stability = run["metrics"].get("stability", {})
    stable = sum(1 for s in stability.values() if s.get("label") == "stable")
    columns[3].metric("Reliable segments", f"{stable} of {len(stability)}" if stability else "—",
                      help="Segments found again when the segmentation is repeated on different samples "
                           "of the customers: they are real groups, not an accident of the data.")


def _alerts(frame: pd.DataFrame, run: dict, transitions: pd.DataFrame, previous_frame: pd.DataFrame | None) -> None:
    labels = common.earlier_labels(previous_frame, frame) if previous_frame is not None else {}
    items = digest.alerts(frame, transitions, int(run["n_customers"]), labels)
    if not items:
        if transitions.empty:
            st.caption("First snapshot: no earlier snapshot to compare with yet.")
        else:
            st.caption("No segment emerged, split, merged or disappeared since the previous snapshot.")
        return
    for index, item in enumerate(items):
        box = st.warning if item["kind"] in ("emerged", "split") else st.info
        if item["segment_id"] is None:
            box(item["text"], icon=ALERT_ICONS[item["kind"]])
            continue
        text, button = st.columns([6, 1], vertical_alignment="center")
        with text:
            box(item["text"], icon=ALERT_ICONS[item["kind"]])
        if button.button("Open", key=f"alert_{index}_{item['segment_id']}", icon=":material/arrow_forward:",
                         width="stretch"):
            common.open_segment(int(run["run_id"]), int(item["segment_id"]))


def _card(card: dict, run_id: int) -> None:
    with st.container(border=True):
        badge = f" :{BADGE_COLORS[card['badge']]}-badge[{card['badge']}]" if card["badge"] else ""
        st.markdown(f"**{digest.escape_markdown(card['label'])}**{badge}")
        st.metric("customers", f"{card['size']:,} · {card['share']:.1%}", delta=card["change"],
                  delta_color="off" if card["change"] == digest.NO_CHANGE else "normal",
                  delta_arrow="off" if card["change"] == digest.NO_CHANGE else "auto",  # no arrow for no change
                  label_visibility="collapsed")
        if pd.notna(card.get("revenue")):
            trend = card.get("revenue_change")
            said = "about the same as" if pd.notna(trend) and round(trend, 2) == 0 else f"{trend:+.0%} since"
            st.caption(f"Revenue in the window {common.money(card['revenue'])}"
                       + (f" · {said} the previous snapshot" if pd.notna(trend) else ""))
        traits = card["top_traits"][:3]
        st.markdown("\n".join(f"- {t}" for t in traits) if traits else "_no distinctive trait_")
        note = "suggested name" if not card["named"] else "named"
        if card["review"]:
            note += " · please review"
        left, right = st.columns([3, 2], vertical_alignment="center")
        left.caption(note)
        if right.button("Open", key=f"open_{card['segment_id']}", icon=":material/arrow_forward:",
                        width="stretch"):
            common.open_segment(run_id, card["segment_id"])


def render() -> None:
    run = common.page_run("Overview")
    if run is None:
        return
    run_id = int(run["run_id"])
    frame = common.cached(read.segments, run_id=run_id)
    transitions = common.cached(read.transitions, run_id=run_id)
    previous, previous_frame = None, None
    if not transitions.empty:  # the run this one was tracked against
        runs = common.cached(read.runs)
        match = runs[runs["run_id"] == transitions["from_run"].iloc[0]]
        previous = match.iloc[0].to_dict() if not match.empty else None
    since = ""
    if previous:
        previous_frame = common.cached(read.segments, run_id=int(previous["run_id"]))
        since = f" · compared with run {int(previous['run_id'])} ({pd.Timestamp(previous['as_of']).date()})"
    st.caption(f"Snapshot {common.run_label(run)}{since}")
    note = ((run.get("metrics") or {}).get("tracking") or {}).get("note")
    if note:  # an earlier snapshot with another window was not compared with this one
        st.info(f"This snapshot was {note}.", icon=":material/info:")

    _headline(run, frame, previous)
    _alerts(frame, run, transitions, previous_frame)

    cards = digest.segment_cards(frame, int(run["n_customers"]), previous_frame,
                                 int(previous["n_customers"]) if previous else None)
    value = common.cached(reports.segment_value, run_ids=[run_id])
    cards = cards.merge(value[["segment_id", "revenue", "revenue_per_customer", "revenue_change"]],
                        on="segment_id", how="left")
    per_customer = float(value["revenue"].sum() / max(1, value["customers"].sum())) if not value.empty else None
    cards = rank_rising(cards, per_customer)  # new, then growing, then the rest; by revenue trend, then size
    st.subheader("Segments")
    st.caption("New segments first, then growing ones, then the rest; within each, "
               + ("by revenue per customer, highest first" if cards["revenue_change"].isna().all() else
                  "by revenue trend since the previous snapshot (for a segment without one: its revenue per customer)")
               + ", then size.")
    records = cards.to_dict(orient="records")
    for start in range(0, len(records), CARDS_PER_ROW):
        for column, card in zip(st.columns(CARDS_PER_ROW), records[start:start + CARDS_PER_ROW]):
            with column:
                _card(card, run_id)
    noise = frame[frame["segment_id"] == -1]
    if not noise.empty:
        unassigned = int(noise["size"].iloc[0])
        st.caption(f"Unassigned: {unassigned:,} {'customer fits' if unassigned == 1 else 'customers fit'} "
                   "no segment well.")


render()

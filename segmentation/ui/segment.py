"""Segment page: one segment's profile, history and name.

KPIs beside all customers, trait lifts, key feature distributions vs the
population, the membership-confidence histogram, the lineage across snapshots,
a sample of members (contact data masked in the database), and name /
description editing that is saved at once (who and when are kept).
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from segmentation.present import plotting
from segmentation.data import read, results, store
from segmentation.present.digest import display_name, escape_markdown
from segmentation.constants import ANNOUNCE_SHARE
from segmentation.errors import ConflictError, WorkbenchError
from segmentation.dynamics.profiles import KPI_FEATURES
from segmentation.ui import common

MEMBER_SAMPLE = 20
KPI_LABELS = {
    "avg_monetary": ("Spend per customer", "{:,.0f}"),
    "avg_basket": ("Average basket", "{:,.0f}"),
    "frequency": ("Events per customer", "{:,.1f}"),
    "recency_days": ("Days since active", "{:,.1f}"),
    "conversion": ("View → purchase", "{:.1%}"),
    "refund_rate": ("Refund rate", "{:.1%}"),
}
# The labels are short (six share one row, and a longer one was cut: "Average spend in t…"); the help says more.
KPI_HELP = {
    "avg_monetary": "Average spend per customer in the snapshot's window, before refunds.",
    "avg_basket": "Average amount of one purchase in the window.",
    "frequency": "Average number of events per customer in the window.",
    "recency_days": "Average days between a customer's last activity and the snapshot date.",
    "conversion": "Purchases per product view.",
    "refund_rate": "Refunds per purchase.",
}
# Where a rise is bad news (shown red), or neither good nor bad (grey); elsewhere a rise is green.
KPI_DELTA_COLORS = {"refund_rate": "inverse", "recency_days": "inverse"}
TRANSITION_WORDS = {"new": "first snapshot", "survived": "survived", "emerged": "emerged",
                    "split": "split off", "merged": "merged",
                    "forming": f"forming (announced once it holds {ANNOUNCE_SHARE:.0%} of customers)"}


# The tables' columns in words (the stored names are snake_case).
HISTORY_COLUMNS = {
    "as_of": st.column_config.DateColumn("Snapshot"), "run_id": st.column_config.NumberColumn("Run", format="%d"),
    "segment_id": st.column_config.NumberColumn("Segment number", format="%d"),
    "size": st.column_config.NumberColumn("Customers", format="localized"),
    "share": common.percent_column("Share"),
    "transition": st.column_config.TextColumn("What happened"), "label": st.column_config.TextColumn("Name")}
NAME_CHANGE_COLUMNS = {
    "changed_at": st.column_config.DatetimeColumn("When", format="YYYY-MM-DD HH:mm"),
    "changed_by": st.column_config.TextColumn("Who"), "run_id": st.column_config.NumberColumn("Run", format="%d"),
    "segment_id": st.column_config.NumberColumn("Segment number", format="%d"),
    "name": st.column_config.TextColumn("Name"), "description": st.column_config.TextColumn("Description")}
MEMBER_COLUMNS = {
    "customer_id": st.column_config.TextColumn("Customer"),
    "membership_probability": common.percent_column(
        "Membership", help="How surely the customer belongs to the segment (Glossary)."),
    "email": st.column_config.TextColumn("E-mail (masked)"), "phone": st.column_config.TextColumn("Phone (masked)"),
    "initials": st.column_config.TextColumn("Initials"), "country": st.column_config.TextColumn("Country"),
    "consent_ads": st.column_config.CheckboxColumn("Ad consent", help="Empty: never recorded.")}


# ------------------------------------------------------------------ naming
def _save(run_id: int, segment_id: int, keys: tuple[str, str], **change) -> None:
    """Save a name and/or description at once; on a conflict or bad input say why and reload the fields.

    ``change`` goes to :func:`segmentation.data.results.name_segment` (``name``, ``description`` and the
    ``expected_*`` values the page showed, so a concurrent edit is reported instead of overwritten).
    """
    try:
        with store.connect(common.current_db()) as con:
            saved = results.name_segment(con, run_id, segment_id, who=common.who(), **change)
    except ConflictError as exc:  # changed by someone else meanwhile: show what is stored now
        common.flash(False, escape_markdown(str(exc)))
        for key in keys:
            st.session_state.pop(key, None)
        common.after_write()
        return
    except WorkbenchError as exc:  # refused as typed (a name taken, too long): keep the text to edit
        common.flash(False, escape_markdown(str(exc)))
        return
    common.after_write()
    what = "name" if change.get("name") is not None else "description"
    common.flash(True, f"Saved the {what}" + (f": “{escape_markdown(saved['name'])}”" if what == "name" else ""))


def _on_name(run_id: int, segment_id: int, keys: tuple[str, str], shown: str | None) -> None:
    _save(run_id, segment_id, keys, name=st.session_state[keys[0]], description=None, expected_name=shown)


def _on_description(run_id: int, segment_id: int, keys: tuple[str, str], shown: str | None) -> None:
    _save(run_id, segment_id, keys, name=None, description=st.session_state[keys[1]], expected_description=shown)


def _on_suggested(run_id: int, segment_id: int, keys: tuple[str, str], suggested: str, shown: str | None) -> None:
    st.session_state[keys[0]] = suggested
    _save(run_id, segment_id, keys, name=suggested, description=None, expected_name=shown)


def _on_user() -> None:
    st.session_state[common.USER_KEY] = st.session_state["_user_name_input"]


def _naming(run_id: int, row: dict) -> None:
    segment_id = int(row["segment_id"])
    suggested = row["suggested_name"] or ""
    shown_name = row["name"] if isinstance(row["name"], str) else None
    shown_description = row["description"] if isinstance(row["description"], str) else None
    keys = (f"name_{run_id}_{segment_id}", f"description_{run_id}_{segment_id}")
    if keys[0] not in st.session_state:
        st.session_state[keys[0]] = shown_name or ""
    if keys[1] not in st.session_state:
        st.session_state[keys[1]] = shown_description or ""
    st.text_input("Name", key=keys[0], placeholder=suggested, max_chars=200,
                  on_change=_on_name, args=(run_id, segment_id, keys, shown_name),
                  help="Saved as soon as you press Enter or leave the field; later snapshots of "
                       "this segment's lineage keep it.")
    st.text_area("Description", key=keys[1], height=80, max_chars=2000,
                 placeholder="What should marketing do with these customers?",
                 on_change=_on_description, args=(run_id, segment_id, keys, shown_description))
    left, right = st.columns([3, 2], vertical_alignment="center")
    if suggested and suggested != (shown_name or ""):
        left.button(f"Use suggested name: {suggested}", key=f"suggest_{run_id}_{segment_id}",
                    icon=":material/auto_fix_high:", on_click=_on_suggested,
                    args=(run_id, segment_id, keys, suggested, shown_name))
    if isinstance(row.get("named_by"), str):
        when = pd.Timestamp(row["named_at"])
        right.caption(f"Named by {escape_markdown(common.person(row['named_by']))} on {when:%Y-%m-%d %H:%M}")
    common.show_flash()
    with st.expander("Recorded as"):
        st.session_state["_user_name_input"] = st.session_state.get(common.USER_KEY, "")
        st.text_input("Your name", key="_user_name_input", placeholder=common.who().removeprefix("app:"),
                      on_change=_on_user, help="Kept with every name change (who and when).")


# ------------------------------------------------------------------ profile parts
def _kpis(row: dict, traits: pd.DataFrame, run: dict) -> None:
    profile = row["profile"]
    kpis = profile.get("kpis", {})
    population = traits.set_index("feature")["population_mean"] if not traits.empty else pd.Series(dtype=float)
    stability = run["metrics"].get("stability", {}).get(str(int(row["segment_id"])), {})
    top = st.columns(4)
    top[0].metric("Customers", f"{int(row['size']):,}", help="Customers active in the window in this segment.")
    top[1].metric("Share of customers", f"{profile.get('share', 0):.1%}")
    revenue = profile.get("revenue_share")
    top[2].metric("Share of revenue", f"{revenue:.1%}" if revenue is not None else "—")
    top[3].metric("Stability", stability.get("label", "—"),
                  help=f"Bootstrap Jaccard {stability['jaccard']:.2f} (≥ 0.75 stable, < 0.6 not to be trusted)"
                  if stability else "Not measured for this segment.")
    shown = [k for k in KPI_LABELS if k in kpis]
    for column, kpi in zip(st.columns(len(shown) or 1), shown):
        label, fmt = KPI_LABELS[kpi]
        feature = KPI_FEATURES.get(kpi)
        base = population.get(feature) if feature else None
        delta, color = None, KPI_DELTA_COLORS.get(kpi, "normal")
        if base is not None and base and pd.notna(base):
            ratio = kpis[kpi] / base - 1
            delta, color = (("same as all", "off") if round(ratio, 2) == 0 else (f"{ratio:+.0%} vs all", color))
        money = kpi in ("avg_monetary", "avg_basket")
        column.metric(label, common.money(kpis[kpi]) if money else fmt.format(kpis[kpi]), delta=delta,
                      delta_color=color, delta_arrow="off" if color == "off" else "auto",  # none for "same as all"
                      help=KPI_HELP.get(kpi, "") + (" Shown in the currency chosen in the sidebar." if money else ""))


def _distributions(profile: dict, labels: dict[str, str]) -> pd.DataFrame:
    rows = []
    for feature, groups in profile.get("distributions", {}).items():
        for group, key in (("segment", "segment"), ("all customers", "population")):
            q10, q25, q50, q75, q90 = groups[key]
            rows.append({"feature": feature, "label": labels.get(feature, feature), "group": group,
                         "q10": q10, "q25": q25, "q50": q50, "q75": q75, "q90": q90})
    return pd.DataFrame(rows, columns=["feature", "label", "group", "q10", "q25", "q50", "q75", "q90"])


def _history(row: dict) -> None:
    profile = row["profile"]
    lineage = row["lineage_id"]
    if pd.isna(lineage):
        st.caption("No lineage recorded for this segment.")
        return
    history = common.cached(read.lineage_history, lineage_id=int(lineage))
    if len(history) > 1:
        color = plotting.lineage_colors([lineage])[int(lineage)]  # as on the Map and Evolution pages
        st.plotly_chart(plotting.lineage_history(history, color), key="lineage_chart")
    table = history.assign(label=[display_name(n, s) for n, s in zip(history["name"], history["suggested_name"])],
                           transition=history["transition"].map(lambda t: TRANSITION_WORDS.get(t, t)).fillna("—"))
    common.table(table[["as_of", "run_id", "segment_id", "size", "share", "transition", "label"]], HISTORY_COLUMNS)
    parents = profile.get("lineage_parents") or []
    if parents and row["transition"] in ("split", "merged"):
        names = common.cached(read.segments_timeline)
        named = names[names["lineage_id"].isin(parents)].sort_values("as_of").groupby("lineage_id").last()
        words = [display_name(r.name, r.suggested_name) for r in named.itertuples()]
        st.caption(f"{TRANSITION_WORDS[row['transition']].capitalize()} from: "
                   + ", ".join(escape_markdown(w) for w in words))
    if profile.get("lineage_from"):
        st.caption(f"Split from {escape_markdown(profile['lineage_from'])}")
    moved = common.cached(read.transitions, run_id=int(row["run_id"]))
    previous_names = common.flow_labels(int(moved["from_run"].iloc[0])) if not moved.empty else {}
    sources = common.sources_table(profile, previous_names)
    if not sources.empty:
        st.caption("Where its customers came from: " + ", ".join(
            f"{escape_markdown(str(s.source))} {float(s.share):.0%}" for s in sources.head(4).itertuples()))
    changed = common.changes_in_words(profile)
    if changed:
        st.caption(f"What changed for them: {escape_markdown(changed)}")
    changes = common.cached(read.name_history, lineage_id=int(lineage))
    if not changes.empty:
        st.markdown("**Name changes**")
        changes = changes.assign(changed_by=changes["changed_by"].map(common.person),
                                 description=changes["description"].fillna(""))
        st.dataframe(changes, hide_index=True, width="stretch", column_config=NAME_CHANGE_COLUMNS)


@st.cache_data(show_spinner="Finding rules …", max_entries=16)
def _computed_rules(path: str, version: float, run_id: int, segment_id: int) -> dict:
    from segmentation.workflows.segment_actions import explain_segment

    return explain_segment(path, run_id, segment_id)


def _rules(run_id: int, segment_id: int, profile: dict) -> None:
    """The segment as ≤ 3 rules of ≤ 3 conditions, their fidelity, and the SQL clause."""
    found = profile.get("rules")
    if found is None:  # runs stored before rules were computed with the snapshot
        path = common.current_db()
        try:
            found = _computed_rules(str(path), common.db_version(path), run_id, segment_id)
        except WorkbenchError as exc:
            common.show_error(exc)
            return
    fidelity = found["fidelity"]
    columns = st.columns(3)
    columns[0].metric("Precision", f"{fidelity['precision']:.0%}",
                      help="Of the customers the rules select, the share who are in the segment.")
    columns[1].metric("Recall", f"{fidelity['recall']:.0%}",
                      help="Of the segment's customers, the share the rules select.")
    columns[2].metric("F1", f"{fidelity['f1']:.2f}", help="The balance of the two (1 = the rules are the segment).")
    if not found["rules"]:
        st.caption("No rule of at most three conditions describes this segment well.")
        return
    st.markdown("\n".join(f"{i}. {escape_markdown(rule['text'])} — *precision {rule['precision']:.0%}, "
                           f"recall {rule['recall']:.0%}*" for i, rule in enumerate(found["rules"], start=1)))
    st.caption("A customer who matches any rule. Measured on this snapshot's customers; the SQL runs on the "
               "feature table (one row per customer; an analyst finds its columns in the workbench's data).")
    st.code(f"WHERE {found['sql']}", language="sql", wrap_lines=True)


def _from_url(name: str) -> int | None:
    value = st.query_params.get(name)
    return int(value) if value is not None and str(value).lstrip("-").isdigit() else None


def _pick_segment(frame: pd.DataFrame) -> int:
    ids = frame.loc[frame["segment_id"] != -1, "segment_id"].astype(int).tolist()
    chosen = st.session_state.get(common.SEGMENT_KEY)
    if chosen is None:  # a shared link (?run=…&segment=…) opens that segment
        chosen = _from_url("segment")
    current = chosen if chosen in ids else ids[0]
    labels = common.segment_labels(frame)
    common.sticky_selectbox(st, "Segment", ids, current, common.SEGMENT_KEY, "_segment_picker",
                            format_func=lambda s: f"{labels[s]} (segment {s})")
    return int(current)


def _export_this(run_id: int, segment_id: int) -> None:
    st.session_state[common.RUN_KEY] = int(run_id)
    st.session_state[common.SEGMENT_KEY] = int(segment_id)  # the Export page preselects it
    st.switch_page(common.PAGES["export"])


def render() -> None:
    if common.RUN_KEY not in st.session_state and _from_url("run") is not None:
        st.session_state[common.RUN_KEY] = _from_url("run")
    run = common.page_run("Segment")
    if run is None:
        return
    run_id = int(run["run_id"])
    frame = common.cached(read.segments, run_id=run_id)
    if not (frame["segment_id"] != -1).any():
        st.info("This snapshot found no segment (every customer is noise). Try a longer window or a "
                "smaller minimum segment share on the Run page.", icon=":material/info:")
        return
    segment_id = _pick_segment(frame)
    st.query_params.update({"run": str(run_id), "segment": str(segment_id)})  # the address keeps what is open
    row = frame[frame["segment_id"] == segment_id].iloc[0].to_dict()
    row["profile"] = profile = common.as_dict(row["profile"])  # {} for a segment stored without one
    traits = pd.DataFrame(profile.get("traits", []),
                          columns=["feature", "label", "kind", "segment_mean", "population_mean", "std_diff",
                                   "ratio", "phrase"])

    st.header(escape_markdown(display_name(row["name"], row["suggested_name"])), divider="gray")
    st.caption(f"{common.run_label(run)} · segment {segment_id} · "
               f"{TRANSITION_WORDS.get(row['transition'], row['transition'] or '')}"
               + (" · please review: it split off from a larger segment" if profile.get("review") else ""))
    if profile.get("summary"):
        st.markdown(escape_markdown(profile["summary"]))
    _naming(run_id, row)
    if st.button("Export this segment", icon=":material/ios_share:", key="segment_export"):
        _export_this(run_id, segment_id)
    _kpis(row, traits, run)

    lifts, spread = st.columns(2)
    with lifts:
        st.subheader("What sets them apart")
        st.plotly_chart(plotting.trait_lifts(traits), key="trait_lifts")
    with spread:
        st.subheader("Key features vs all customers")
        labels = dict(zip(traits["feature"], traits["label"]))
        st.plotly_chart(plotting.distributions_vs_population(_distributions(profile, labels)), key="distributions")
        st.subheader("Membership confidence")
        histogram = common.cached(read.probability_histogram, run_id=run_id, segment_id=segment_id)
        st.plotly_chart(plotting.probability_histogram(histogram), key="probability")

    st.subheader("As rules for your audience tools")
    _rules(run_id, segment_id, profile)

    st.subheader("History across snapshots")
    _history(row)

    st.subheader("Sample of members")
    members = common.cached(read.members_sample, run_id=run_id, segment_id=segment_id, limit=MEMBER_SAMPLE)
    st.caption("Contact data is masked; exports use the full (hashed) identifiers.")
    common.table(members, MEMBER_COLUMNS)


render()

"""Data page: what the database holds, the event and channel mix over time, imports."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from segmentation.present import plotting
from segmentation.data import read, store
from segmentation.errors import WorkbenchError
from segmentation.ui import common
from segmentation.ui.data_import import import_section, uploaded_name


def _create_demo() -> None:
    from segmentation.demo.generate import create_demo

    with st.status("Creating demo data…", expanded=True) as status:
        try:
            with store.connect(common.current_db()) as con:
                summary = create_demo(con, progress=status.write)
        except WorkbenchError as exc:
            status.update(label="Demo data not created", state="error")
            common.show_error(exc)
            return
        status.update(
            label=f"Demo data created: {summary['customers']:,} customers, {summary['events']:,} events",
            state="complete",
        )
    common.after_write()
    st.rerun()


def _empty_state() -> None:
    st.info(
        "The database holds no events yet. Create the demo data (synthetic customers with "
        "planted, evolving personas) or import your own events below.",
        icon=":material/inbox:",
    )
    if st.button("Create demo data", type="primary", key="create_demo"):
        _create_demo()


def render() -> None:
    summary = common.page_summary("Data", "The behaviour the segments are found in: what is loaded, and imports.")
    if summary is None:
        return
    with st.sidebar.expander("Details for analysts"):
        st.caption(f"Database file: `{common.current_db()}` ({common.environment_db_note()})")
    if not summary["n_events"]:
        _empty_state()
        import_section()
        return

    with_events, without_record = common.events_cached(read.event_customers, summary)
    columns = st.columns(4)
    columns[0].metric("Customers with events", f"{with_events:,}")
    columns[1].metric("Events", f"{summary['n_events']:,}")
    columns[2].metric("First event", f"{pd.Timestamp(summary['first_event']):%Y-%m-%d}")
    columns[3].metric("Last event", f"{pd.Timestamp(summary['last_event']):%Y-%m-%d}")
    if summary["n_customers"]:
        missing = (f"; {without_record:,} {'customer' if without_record == 1 else 'customers'} with events "
                   f"{'has' if without_record == 1 else 'have'} none: in the segments, but no audience export can "
                   f"reach {'them' if without_record != 1 else 'that customer'} (no contact data)"
                   if without_record else "")
        st.caption(f"{summary['n_customers']:,} customer records (contact data stays out of every chart){missing}.")

    mix = common.events_cached(read.event_mix, summary)
    by_type, by_channel = st.tabs(["Events by type", "Events by channel"])
    with by_type:
        st.plotly_chart(plotting.event_mix_over_time(mix, by="event_type", last_event=summary["last_event"],
                                                            first_event=summary["first_event"]), key="mix_type")
    with by_channel:
        st.plotly_chart(plotting.event_mix_over_time(mix, by="channel", last_event=summary["last_event"],
                                                            first_event=summary["first_event"]), key="mix_channel")

    st.subheader("Imports")
    imports = common.cached(read.imports)
    if imports.empty:
        st.caption("No imports recorded.")
    else:
        st.dataframe(imports.assign(file=imports["file"].map(uploaded_name)), hide_index=True, width="stretch",
                     column_config={
            "ingest_id": st.column_config.NumberColumn("Import", format="#%d"),
            "created_at": st.column_config.DatetimeColumn("When", format="YYYY-MM-DD HH:mm"),
            "kind": st.column_config.TextColumn("What"),
            "file": st.column_config.TextColumn("File"),
            "n_rows": st.column_config.NumberColumn("Rows loaded", format="localized"),
            "n_rejected": st.column_config.NumberColumn("Rows kept aside", format="localized"),
            "n_warnings": st.column_config.NumberColumn("Warnings", format="localized")})
    import_section()


render()

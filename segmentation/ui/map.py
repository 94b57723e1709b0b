"""Map page: the 2-D map of a snapshot, coloured by segment lineage; box or lasso a region to see who is there.

Large runs are downsampled in the database (every segment keeps its share, small
ones at least a few hundred points). Hover shows the segment and the membership
probability only: no ids, no contact data.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from segmentation.data import read
from segmentation.present import digest, plotting
from segmentation.ui import common

MAP_POINTS = 20_000


def selected_positions(event: Any) -> list[int]:
    """Row positions (in the map frame) of the points a box/lasso selection picked."""
    try:
        points = event["selection"]["points"]
    except (KeyError, TypeError):
        return []
    positions = []
    for point in points:
        custom = point.get("customdata")
        if isinstance(custom, dict):  # Streamlit ≥ 1.5x sends customdata as {"0": position, "1": ...}
            custom = [custom[k] for k in sorted(custom, key=lambda k: int(k))] if custom else None
        if isinstance(custom, (list, tuple)) and custom:
            positions.append(int(custom[0]))
    return positions


def _summary(points: pd.DataFrame, positions: list[int], labels: dict[int, str], run: dict) -> None:
    summary = digest.selection_summary(points, positions, labels)
    st.subheader("Selection")
    columns = st.columns(4)
    columns[0].metric("Points selected", f"{summary['n_points']:,}")
    columns[1].metric("Customers (estimated)", f"{summary['estimated_customers']:,}",
                      help="Points scaled back up by each segment's sampling rate.")
    columns[2].metric("Average membership", f"{summary['mean_probability']:.0%}")
    customer_ids = points.iloc[sorted(set(positions))]["customer_id"].astype(str).tolist()
    row = common.cached(read.selection_behaviour, customer_ids=customer_ids,
                        as_of=pd.Timestamp(run["as_of"]).date(), window_days=int(run["window_days"]))
    active = int(row["active_customers"] or 0)
    spend = float(row["spend"] or 0) / active if active else 0.0
    columns[3].metric("Spend per customer", common.money(spend),
                      help=f"Purchases in the {int(run['window_days'])}-day window, selected points only.")
    if active:
        st.caption(f"In the window the selected points made {int(row['events']):,} events and "
                   f"{int(row['purchases'] or 0):,} purchases; most often on **{row['top_channel'] or '—'}**, "
                   f"category **{row['top_category'] or '—'}**.")
    st.plotly_chart(plotting.selection_breakdown(summary["breakdown"]), key="selection_breakdown")
    common.table(summary["breakdown"].drop(columns=["segment_id"]),
                 {"label": st.column_config.TextColumn("Segment"),
                  "points": st.column_config.NumberColumn("Points selected", format="localized"),
                  "selected_share": common.percent_column("Share of selection"),
                  "overall_share": common.percent_column("Share of all"),
                  "estimated_customers": st.column_config.NumberColumn(
                      "Customers (estimated)", format="localized",
                      help="The map shows a sample of the customers: its points scaled up.")})


def render() -> None:
    run = common.page_run("Map")
    if run is None:
        return
    run_id = int(run["run_id"])
    points = common.cached(read.map_points, run_id=run_id, limit=MAP_POINTS)
    if points.empty or points[["x", "y"]].isna().all().all():
        st.info("This snapshot has no map coordinates.", icon=":material/info:")
        return
    segments = common.cached(read.segments, run_id=run_id)
    labels = common.segment_labels(segments)
    total = int(points["total"].iloc[0])
    shown = len(points)
    st.caption(f"{common.run_label(run)} · "
               + (f"showing {shown:,} of {total:,} customers (each segment keeps its share)"
                  if shown < total else f"all {total:,} customers")
               + " · drag a box or lasso to see who is in a region; double-click to clear")
    figure = plotting.segment_map(points[["segment_id", "x", "y", "probability"]], labels,
                                  plotting.segment_lineage_colors(segments))
    event = st.plotly_chart(figure, key=f"map_{run_id}", on_select="rerun", selection_mode=("box", "lasso"))
    positions = selected_positions(event)
    if positions:
        _summary(points, positions, labels, run)
    else:
        st.caption("Nothing selected yet.")


render()

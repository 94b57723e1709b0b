"""Pure plotting functions: a data frame in, a plotly Figure out.

No database access, no Streamlit, no PII: callers pass aggregates (or map
coordinates with segment ids), never customers' personal data.
"""

from __future__ import annotations

import pandas as pd
import plotly.express as px
import plotly.graph_objects as go

__all__ = ["event_mix_over_time", "sizes_over_time", "flow_sankey", "lineage_view"]

TRANSITION_MARKERS = {"emerged": "NEW", "split": "SPLIT", "merged": "MERGED"}

TEMPLATE = "plotly_white"


def event_mix_over_time(mix: pd.DataFrame, by: str = "event_type") -> go.Figure:
    """Stacked weekly event counts by ``by`` (``event_type`` or ``channel``).

    ``mix`` has columns ``week``, ``event_type``, ``channel``, ``events``
    (see queries/events_mix_weekly.sql).
    """
    if by not in ("event_type", "channel"):
        raise ValueError("by must be 'event_type' or 'channel'")
    weekly = mix.groupby(["week", by], as_index=False)["events"].sum()
    figure = px.area(
        weekly, x="week", y="events", color=by, template=TEMPLATE,
        labels={"week": "week", "events": "events", by: by.replace("_", " ")},
    )
    figure.update_layout(margin=dict(l=10, r=10, t=30, b=10), legend_title_text=by.replace("_", " "),
                         hovermode="x unified")
    return figure


def sizes_over_time(sizes: pd.DataFrame) -> go.Figure:
    """Stacked segment sizes per snapshot, annotated with emerged/split/merged transitions.

    ``sizes``: the frame of :func:`segmentation.tracking.sizes_over_time`.
    """
    figure = px.area(sizes, x="as_of", y="size", color="label", line_group="lineage_id",
                     template=TEMPLATE, labels={"as_of": "snapshot", "size": "customers", "label": "segment"})
    stacked = sizes.sort_values(["as_of", "lineage_id"]).copy()
    stacked["top"] = stacked.groupby("as_of")["size"].cumsum()
    for row in stacked[stacked["transition"].isin(TRANSITION_MARKERS)].itertuples(index=False):
        figure.add_annotation(x=row.as_of, y=row.top, text=TRANSITION_MARKERS[row.transition],
                              showarrow=True, arrowhead=2, ax=0, ay=-25, font=dict(size=10))
    figure.update_layout(margin=dict(l=10, r=10, t=30, b=10), hovermode="x unified")
    return figure


def flow_sankey(flows: pd.DataFrame, labels: dict[str, str] | None = None) -> go.Figure:
    """Sankey of customers between two snapshots.

    ``flows``: ``source, target, customers`` (see :func:`segmentation.tracking.customer_flows`);
    ``labels`` optionally maps ``segment N`` to a display name.
    """
    labels = labels or {}
    sources = [f"before: {labels.get(s, s)}" for s in flows["source"]]
    targets = [f"after: {labels.get(t, t)}" for t in flows["target"]]
    nodes = list(dict.fromkeys(sources + targets))
    index = {node: i for i, node in enumerate(nodes)}
    figure = go.Figure(go.Sankey(
        node=dict(label=nodes, pad=12, thickness=14),
        link=dict(source=[index[s] for s in sources], target=[index[t] for t in targets],
                  value=flows["customers"].tolist()),
    ))
    figure.update_layout(template=TEMPLATE, margin=dict(l=10, r=10, t=30, b=10))
    return figure


def lineage_view(sizes: pd.DataFrame) -> go.Figure:
    """Each lineage as a row over the snapshots; marker size = customers, colour = transition."""
    figure = px.scatter(sizes, x="as_of", y="label", size="size", color="transition", template=TEMPLATE,
                        labels={"as_of": "snapshot", "label": "segment lineage"},
                        hover_data={"size": True, "share": ":.1%"})
    for lineage, rows in sizes.sort_values("as_of").groupby("lineage_id"):
        figure.add_trace(go.Scatter(x=rows["as_of"], y=rows["label"], mode="lines",
                                    line=dict(color="#CBD5E1", width=1), showlegend=False,
                                    hoverinfo="skip"))
    figure.update_layout(margin=dict(l=10, r=10, t=30, b=10))
    return figure

"""Pure plotting functions: a data frame in, a plotly Figure out.

No database access, no Streamlit, no PII: callers pass aggregates (or map
coordinates with segment ids), never customers' personal data.
"""

from __future__ import annotations

import pandas as pd
import plotly.express as px
import plotly.graph_objects as go

__all__ = ["event_mix_over_time"]

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

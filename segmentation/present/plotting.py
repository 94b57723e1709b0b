"""Pure plotting functions: a data frame in, a plotly Figure out.

No database access, no Streamlit, no PII: callers pass aggregates (or map
coordinates with segment ids), never customers' personal data.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.express as px
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from segmentation.present.digest import customers_text

__all__ = ["short_label", "event_mix_over_time", "sizes_over_time", "flow_sankey", "lineage_view", "lineage_colors",
           "segment_lineage_colors", "segment_map", "trait_lifts", "distributions_vs_population",
           "probability_histogram", "lineage_history", "selection_breakdown", "value_over_time", "lookalike_curve"]

TRANSITION_MARKERS = {"emerged": "NEW", "split": "SPLIT", "merged": "MERGED"}

TEMPLATE = "plotly_white"
# Tableau's ten without its grey (grey is the unassigned customers'), then five more that differ from
# them; Bold + Pastel drew two lineages in nearly the same pink (the browser walk).
PALETTE = [c for c in px.colors.qualitative.T10 if c != "#BAB0AC"] + [
    "#8C2D04", "#17BECF", "#7F3C8D", "#11A579", "#CF1C90"]
NOISE_COLOR = "#CBD5E1"
MARGIN = dict(l=10, r=10, t=30, b=10)
#: Characters of a segment name shown in a legend or beside a node; the hover shows it whole. A name of
#: 200 characters (the most the Segment page takes) in a legend squeezed the map to a thumbnail; 40 keeps
#: the demo's suggested names whole.
LABEL_CHARS = 40


def short_label(name: str, width: int = LABEL_CHARS) -> str:
    """``name`` cut to ``width`` characters at a word where it can, with "…" when cut."""
    name = str(name)
    if len(name) <= width:
        return name
    cut = name[:width - 1]
    space = cut.rfind(" ")
    return (cut[:space] if space >= width // 2 else cut).rstrip(" ,;:-–·") + "…"


def _hover_text(name: str, width: int = 60) -> str:
    """``name`` as literal text inside a plotly hover template, on lines of at most ``width`` characters
    (a long name on one line ran past the plot)."""
    import textwrap

    lines = textwrap.wrap(str(name), width) or [""]
    return "<br>".join(line.replace("%{", "%\u200b{").replace("<", "&lt;") for line in lines)


def _lineage_key(lineage_id) -> int | None:
    return None if lineage_id is None or pd.isna(lineage_id) else int(lineage_id)


def lineage_colors(lineage_ids) -> dict[int | None, str]:
    """One colour per segment lineage, the same on every page and in every session.

    The colour follows from the lineage id alone (``PALETTE[id % len(PALETTE)]``), never from
    which lineages happen to be drawn together; a missing lineage (noise has none) is keyed
    ``None`` and light grey.
    """
    return {key: NOISE_COLOR if key is None else PALETTE[key % len(PALETTE)]
            for key in map(_lineage_key, lineage_ids)}


def segment_lineage_colors(segments: pd.DataFrame) -> dict[int, str]:
    """segment id → the colour of its lineage (noise −1 light grey), from ``segment_id, lineage_id`` rows."""
    colors = lineage_colors(segments["lineage_id"])
    return {int(s): NOISE_COLOR if int(s) == -1 else colors[_lineage_key(lineage)]
            for s, lineage in zip(segments["segment_id"], segments["lineage_id"])}


# The data contract's event types in words (the Data page's legend read app_open, email_click).
EVENT_WORDS = {"view": "views", "search": "searches", "cart": "cart additions", "purchase": "purchases",
               "refund": "refunds", "email_open": "e-mail opens", "email_click": "e-mail clicks",
               "app_open": "app opens", "store_visit": "store visits", "other": "other"}


def event_mix_over_time(mix: pd.DataFrame, by: str = "event_type", last_event=None, first_event=None) -> go.Figure:
    """Stacked weekly event counts by ``by`` (``event_type`` or ``channel``).

    ``mix`` has columns ``week``, ``event_type``, ``channel``, ``events``
    (see queries/ui/events_count_by_week.sql). ``last_event`` / ``first_event`` (the data's last and first
    timestamps): a first or last week the data covers only in part is marked as partial, so its lower
    count does not read as a collapse.
    """
    if by not in ("event_type", "channel"):
        raise ValueError("by must be 'event_type' or 'channel'")
    weekly = mix.groupby(["week", by], as_index=False)["events"].sum()
    weekly[by] = weekly[by].map(lambda v: EVENT_WORDS.get(v, str(v).replace("_", " ")))
    figure = px.area(
        weekly, x="week", y="events", color=by, template=TEMPLATE,
        labels={"week": "week", "events": "events", by: by.replace("_", " ")},
    )
    figure.update_traces(hovertemplate="%{fullData.name}: %{y:,} events<extra></extra>")
    if len(weekly):
        first_week, last_week = pd.Timestamp(weekly["week"].min()), pd.Timestamp(weekly["week"].max())
        covered = {}  # week start → the days of it the data covers, where the data starts or ends in it
        if first_event is not None:
            covered[first_week] = 7 - (pd.Timestamp(first_event).normalize() - first_week).days
        if last_event is not None:
            ends = (pd.Timestamp(last_event).normalize() - last_week).days + 1
            covered[last_week] = covered.get(last_week, 7) + ends - 7  # one week only: from the start to the end
        for week, days in covered.items():
            if days < 7:
                figure.add_vline(x=week, line_dash="dot", line_color="#94A3B8", annotation_font_size=11,
                                 annotation_text=f"partial week: {days} of 7 days",
                                 annotation_position="top right" if week < last_week else "top left")
    figure.update_layout(margin=MARGIN, legend_title_text=by.replace("_", " "),
                         hovermode="x unified", xaxis=dict(hoverformat="week of %b %d, %Y"))
    return figure


def sizes_over_time(sizes: pd.DataFrame) -> go.Figure:
    """Stacked segment sizes per snapshot, annotated with emerged/split/merged transitions.

    ``sizes``: the frame of :func:`segmentation.dynamics.tracking.sizes_over_time`. One area per lineage
    in its :func:`lineage_colors` colour (stacked in lineage order), a marker on every snapshot.
    """
    figure = go.Figure()
    colors = lineage_colors(sizes["lineage_id"])
    dates = sorted(pd.to_datetime(sizes["as_of"]).unique())
    for lineage, rows in sizes.sort_values("as_of").groupby("lineage_id", sort=True, dropna=False):
        color = colors[_lineage_key(lineage)]
        name = str(rows["label"].iloc[-1])
        # Every snapshot's point, 0 where the lineage was not (yet, or any more) a segment: the stack infers
        # those zeros anyway, and its hover then read "0 customers (-)" at a date the segment did not exist
        rows = rows.assign(as_of=pd.to_datetime(rows["as_of"])).set_index("as_of").reindex(dates)
        first = rows["size"].first_valid_index()
        said = [f"{int(size):,} customers ({share:.1%})" if pd.notna(size) else
                "not a segment yet" if when < first else "no longer a segment"
                for when, size, share in zip(rows.index, rows["size"], rows["share"])]
        figure.add_trace(go.Scatter(
            x=rows.index, y=rows["size"].fillna(0).astype(int), name=short_label(name), mode="lines+markers",
            stackgroup="sizes", line=dict(color=color, width=1.5), fillcolor=translucent(color, 0.55),
            marker=dict(color=color, size=[6 if pd.notna(size) else 0 for size in rows["size"]]),
            customdata=said, hovertemplate=_hover_text(name) + ": %{customdata}<extra></extra>"))
    figure.update_layout(template=TEMPLATE, xaxis_title="snapshot", yaxis_title="customers",
                         legend_title_text="segment")
    stacked = sizes.sort_values(["as_of", "lineage_id"]).copy()
    stacked["top"] = stacked.groupby("as_of")["size"].cumsum()
    for row in stacked[stacked["transition"].isin(TRANSITION_MARKERS)].itertuples(index=False):
        figure.add_annotation(x=row.as_of, y=row.top, text=TRANSITION_MARKERS[row.transition],
                              showarrow=True, arrowhead=2, ax=0, ay=-25, font=dict(size=10))
    figure.update_layout(margin=MARGIN, hovermode="x unified")
    if len(dates) == 1:  # one snapshot: its date on a fortnight's axis, not plotly's milliseconds around it
        day = pd.Timestamp(dates[0])
        figure.update_xaxes(range=[day - pd.Timedelta(days=7), day + pd.Timedelta(days=7)], tickvals=[day],
                            ticktext=[f"{day:%b} {day.day}, {day.year}"])
    return figure


LEFT = "left (not active in the later window)"
OUTSIDE_COLOR = "#94A3B8"  # new customers / left: not a segment


def _node_color(name: str, colors: dict[str, str]) -> str:
    if name.startswith("segment "):  # its lineage's colour; without one, by segment number
        return colors.get(name) or PALETTE[int(name.removeprefix("segment ")) % len(PALETTE)]
    return NOISE_COLOR if name == "noise" else OUTSIDE_COLOR


def translucent(color: str, alpha: float = 0.35) -> str:
    r, g, b = (int(v) for v in px.colors.hex_to_rgb(color)) if color.startswith("#") else \
        px.colors.unlabel_rgb(color)
    return f"rgba({r}, {g}, {b}, {alpha})"


def flow_sankey(flows: pd.DataFrame, labels: dict[str, str] | None = None,
                target_labels: dict[str, str] | None = None, colors_before: dict[str, str] | None = None,
                colors_after: dict[str, str] | None = None) -> go.Figure:
    """Sankey of customers between two snapshots: the earlier one on the left, the later on the right.

    ``flows``: ``source, target, customers`` (see :func:`segmentation.dynamics.tracking.customer_flows`);
    ``labels`` optionally maps ``segment N`` to a display name; ``target_labels``, when given,
    does so for the later snapshot (whose segment numbers are its own). ``colors_before`` /
    ``colors_after`` map ``segment N`` of each snapshot to its lineage's colour (see
    :func:`segment_lineage_colors`); new customers, left and noise stay grey. Each link takes
    its source node's colour, translucent, so a segment's customers can be followed across.
    """
    labels = labels or {}
    target_labels = labels if target_labels is None else target_labels
    colors_before, colors_after = colors_before or {}, colors_after or {}
    sources = list(dict.fromkeys(flows["source"]))
    targets = list(dict.fromkeys(flows["target"]))
    full = ([labels.get(s, s) for s in sources]
            + [LEFT if t == "left" else target_labels.get(t, t) for t in targets])
    names = [short_label(n) for n in full]
    colors = [_node_color(s, colors_before) for s in sources] + [_node_color(t, colors_after) for t in targets]
    source_index = {s: i for i, s in enumerate(sources)}
    target_index = {t: len(sources) + i for i, t in enumerate(targets)}
    totals = ([int(flows.loc[flows["source"] == s, "customers"].sum()) for s in sources]
              + [int(flows.loc[flows["target"] == t, "customers"].sum()) for t in targets])
    figure = go.Figure(go.Sankey(
        arrangement="snap",
        node=dict(label=names, color=colors, pad=12, thickness=14,
                  customdata=[f"{_hover_text(name)}: {customers_text(n)}" for name, n in zip(full, totals)],
                  x=[0.001] * len(sources) + [0.999] * len(targets),
                  hovertemplate="%{customdata}<extra></extra>"),
        link=dict(source=[source_index[s] for s in flows["source"]],
                  target=[target_index[t] for t in flows["target"]],
                  value=flows["customers"].tolist(),
                  customdata=[customers_text(n) for n in flows["customers"]],
                  color=[translucent(colors[source_index[s]]) for s in flows["source"]],
                  hovertemplate="%{source.label} → %{target.label}: %{customdata}<extra></extra>"),
    ))
    figure.update_traces(textfont=dict(color="#0F172A", size=12, shadow="auto"))  # readable where links cross
    figure.update_layout(template=TEMPLATE, margin=MARGIN)
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
    figure.update_layout(margin=MARGIN)
    return figure


def segment_map(points: pd.DataFrame, labels: dict[int, str], colors: dict[int, str] | None = None) -> go.Figure:
    """The 2-D map: one WebGL scatter trace per segment, noise underneath in grey.

    ``points``: ``segment_id, x, y, probability`` (already downsampled); each
    point's ``customdata`` is ``[row position in points, probability]`` so a box
    or lasso selection can be traced back to its rows. ``colors`` maps segment id
    to its lineage's colour (:func:`segment_lineage_colors`); a segment not in it is
    coloured by its id. Hover shows the segment name and the membership probability
    only: no ids, no contact data.
    """
    figure = go.Figure()
    positions = np.arange(len(points))
    given = colors or {}
    colors = {int(s): NOISE_COLOR if int(s) == -1 else given.get(int(s)) or PALETTE[int(s) % len(PALETTE)]
              for s in points["segment_id"].unique()}
    order = sorted(points["segment_id"].unique(), key=lambda s: (s != -1, s))
    for segment_id in order:
        mask = (points["segment_id"] == segment_id).to_numpy()
        rows = points[mask]
        name = labels.get(int(segment_id), f"segment {segment_id}")
        figure.add_trace(go.Scattergl(
            x=rows["x"], y=rows["y"], mode="markers", name=short_label(name),
            marker=dict(size=4 if segment_id != -1 else 3, color=colors[int(segment_id)],
                        opacity=0.75 if segment_id != -1 else 0.5),
            customdata=np.column_stack([positions[mask], rows["probability"].fillna(0).to_numpy()]),
            hovertemplate=_hover_text(name) + "<br>membership %{customdata[1]:.0%}<extra></extra>",
        ))
    figure.update_layout(template=TEMPLATE, margin=MARGIN, dragmode="select", legend_title_text="segment",
                         xaxis=dict(showticklabels=False, title=None, zeroline=False),
                         yaxis=dict(showticklabels=False, title=None, zeroline=False, scaleanchor="x"),
                         height=560)
    return figure


def trait_lifts(traits: pd.DataFrame, top: int = 12) -> go.Figure:
    """Horizontal bars of the strongest traits: how far the segment is from the population (standardised).

    ``traits``: ``label, phrase, std_diff`` (one row per feature, as in a segment
    profile); the ``top`` largest absolute differences are drawn, what the segment has more of on
    top (the most first), what it has less of below (the least at the bottom).
    """
    strongest = traits.reindex(traits["std_diff"].abs().sort_values(ascending=False).index).head(top)
    strongest = strongest.sort_values("std_diff", kind="stable")  # plotly draws the first row at the bottom
    colors = np.where(strongest["std_diff"] >= 0, "#4F46E5", "#F97316")
    # each bar is labelled with its trait in words ("13.6× more social media activity", "almost no
    # in-store buying"); the labels sit on the axis, where they always fit
    words = strongest["phrase"].where(strongest["phrase"].notna() & (strongest["phrase"] != ""), strongest["label"])
    figure = go.Figure(go.Bar(
        x=strongest["std_diff"], y=words, orientation="h", marker_color=colors,
        hovertemplate="%{y}<br>%{x:+.1f} standard deviations from all customers' average<extra></extra>",
    ))
    # The bar is how far the segment's average lies from everyone's, in standard deviations; the label's
    # ratio is not (a trait nearly nobody has can be 100× rarer and still only a short bar away).
    figure.update_layout(template=TEMPLATE, margin=MARGIN, height=max(260, 28 * len(strongest) + 60),
                         xaxis=dict(title="distance from the average (standard deviations)",
                                    showticklabels=True, zeroline=False),
                         yaxis=dict(title=None, automargin=True))
    figure.add_vline(x=0, line_color="#94A3B8", line_width=1)
    return figure


def distributions_vs_population(distributions: pd.DataFrame) -> go.Figure:
    """Box plots of key features: the segment beside all customers, one panel per feature.

    ``distributions``: ``feature, label, group`` (``segment`` or ``all customers``)
    and the quantiles ``q10, q25, q50, q75, q90`` (whiskers at the 10th and 90th percentile).
    """
    features = list(dict.fromkeys(distributions["feature"]))
    if not features:
        return go.Figure().update_layout(template=TEMPLATE, margin=MARGIN)
    titles = [_wrap(distributions.loc[distributions["feature"] == f, "label"].iloc[0]) for f in features]
    figure = make_subplots(rows=1, cols=len(features), subplot_titles=titles, horizontal_spacing=0.08)
    group_colors = {"segment": "#4F46E5", "all customers": "#94A3B8"}
    for col, feature in enumerate(features, start=1):
        rows = distributions[distributions["feature"] == feature]
        for row in rows.itertuples(index=False):
            figure.add_trace(go.Box(
                x=[row.group], q1=[row.q25], median=[row.q50], q3=[row.q75], lowerfence=[row.q10],
                upperfence=[row.q90], name=row.group, marker_color=group_colors.get(row.group),
                showlegend=False, hoverinfo="skip",
            ), row=1, col=col)
    figure.update_layout(template=TEMPLATE, margin=dict(l=10, r=10, t=60, b=10), height=340)
    figure.update_annotations(font_size=12)  # the panel titles, one or two short lines each
    figure.update_xaxes(tickvals=["segment", "all customers"], ticktext=["segment", "all"], tickangle=0)
    return figure


def _wrap(text: str, width: int = 12) -> str:
    """A panel title on lines of about ``width`` characters (plotly breaks lines only at ``<br>``)."""
    lines, line = [], ""
    for word in str(text).split():
        if line and len(line) + 1 + len(word) > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}".strip()
    return "<br>".join([*lines, line])


def probability_histogram(histogram: pd.DataFrame) -> go.Figure:
    """Membership probability of a segment's customers (``bin_start``, ``customers``; bins of 0.05)."""
    figure = go.Figure(go.Bar(
        x=histogram["bin_start"] + 0.025, y=histogram["customers"], width=0.048, marker_color="#4F46E5",
        customdata=[[f"{start:.0%}–{start + 0.05:.0%}", customers_text(n)]
                    for start, n in zip(histogram["bin_start"], histogram["customers"])],
        hovertemplate="membership %{customdata[0]}: %{customdata[1]}<extra></extra>",  # in per cent, as the axis
    ))
    figure.update_layout(template=TEMPLATE, margin=MARGIN, height=280, bargap=0.02,
                         xaxis=dict(range=[0, 1], title="membership probability", tickformat=".0%"),
                         yaxis_title="customers")
    return figure


def lineage_history(history: pd.DataFrame, color: str = "#4F46E5") -> go.Figure:
    """A segment's share of customers in each snapshot of its lineage, labelled with the transition.

    ``history``: ``as_of, share, size, transition`` (queries/ui/segments_select_lineage_history.sql); ``color``:
    the lineage's colour (:func:`lineage_colors`).
    """
    figure = go.Figure(go.Scatter(
        x=history["as_of"], y=history["share"], mode="lines+markers+text",
        text=[TRANSITION_MARKERS.get(t, "") for t in history["transition"]], textposition="top center",
        customdata=history["size"], line=dict(color=color), marker=dict(color=color),
        hovertemplate="%{x}: %{y:.1%} of customers (%{customdata:,})<extra></extra>",
    ))
    # tick labels with a decimal: a share between 27.6 % and 28.4 % read "28% 28% 28%" with none
    figure.update_layout(template=TEMPLATE, margin=MARGIN, height=260, yaxis=dict(tickformat=".1%", title="share"),
                         xaxis_title="snapshot")
    return figure


def selection_breakdown(breakdown: pd.DataFrame) -> go.Figure:
    """Segments of a map selection beside their share of all customers.

    ``breakdown``: ``label, selected_share, overall_share`` (0–1).
    """
    figure = go.Figure([
        go.Bar(y=breakdown["label"], x=breakdown["selected_share"], orientation="h", name="selection",
               marker_color="#4F46E5", hovertemplate="%{y}: %{x:.1%} of the selection<extra></extra>"),
        go.Bar(y=breakdown["label"], x=breakdown["overall_share"], orientation="h", name="all customers",
               marker_color="#CBD5E1", hovertemplate="%{y}: %{x:.1%} of all customers<extra></extra>"),
    ])
    figure.update_layout(template=TEMPLATE, margin=MARGIN, barmode="group", xaxis_tickformat=".0%",
                         height=max(220, 40 * len(breakdown) + 60), yaxis=dict(autorange="reversed"))
    return figure


VALUE_MEASURES = {"revenue": "revenue in the window", "revenue_per_customer": "revenue per customer",
                  "customers": "customers", "purchase_frequency": "purchases per customer",
                  "quiet_share": "share of earlier customers gone quiet"}


VALUE_FORMATS = {"quiet_share": ".0%", "purchase_frequency": ",.2f"}


MONEY_MEASURES = ("revenue", "revenue_per_customer")


def value_over_time(value: pd.DataFrame, measure: str = "revenue", currency: str = "") -> go.Figure:
    """One line per segment lineage, in its :func:`lineage_colors` colour: ``measure`` (a column of
    :func:`segmentation.dynamics.value.segment_value`, with a ``label`` column) at each snapshot; money
    measures carry the ``currency`` symbol on the axis and in the hover."""
    frame = value[value["segment_id"] != -1].sort_values(["as_of", "run_id"])
    colors = lineage_colors(frame["lineage_id"])
    number = VALUE_FORMATS.get(measure, ",.0f")
    prefix = currency if measure in MONEY_MEASURES else ""
    figure = go.Figure()
    for lineage, rows in frame.groupby("lineage_id", sort=True, dropna=False):
        color = colors[_lineage_key(lineage)]
        named = rows["label"].dropna() if "label" in rows else pd.Series(dtype=object)
        name = str(named.iloc[-1]) if len(named) else f"segment {int(rows['segment_id'].iloc[-1])}"
        figure.add_trace(go.Scatter(
            x=rows["as_of"], y=rows[measure], name=short_label(name), mode="lines+markers",
            line=dict(color=color), marker=dict(color=color),
            hovertemplate=_hover_text(name) + f": {prefix}%{{y:{number}}}<extra></extra>"))
    figure.update_layout(template=TEMPLATE, margin=MARGIN, hovermode="x unified", xaxis_title="snapshot",
                         yaxis_title=VALUE_MEASURES.get(measure, measure), legend_title_text="segment")
    if measure == "quiet_share":
        figure.update_yaxes(tickformat=".0%")
    elif prefix:
        figure.update_yaxes(tickprefix=prefix)
    return figure


def lookalike_curve(curve: list[dict]) -> go.Figure:
    """Audience size against the recall of held-out members and the mean similarity."""
    frame = pd.DataFrame(curve)
    figure = go.Figure()
    figure.add_scatter(x=frame["size"], y=frame["recall"], name="held-out members found", mode="lines+markers")
    figure.add_scatter(x=frame["size"], y=frame["mean_similarity"], name="mean similarity", mode="lines+markers",
                       line=dict(dash="dot"))
    figure.update_layout(template=TEMPLATE, margin=MARGIN, xaxis_title="lookalikes (customers)",
                         yaxis=dict(range=[0, 1.05], tickformat=".0%", title="share / similarity"),
                         legend=dict(orientation="h", y=-0.25))
    return figure

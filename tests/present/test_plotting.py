"""Plots: frames in, plotly figures out, with the numbers of the frame and no customer data."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from segmentation.present import plotting
from segmentation.dynamics.tracking import customer_flows, sizes_over_time


def _segments() -> pd.DataFrame:
    return pd.DataFrame({
        "as_of": [date(2025, 1, 31)] * 3 + [date(2025, 2, 28)] * 4,
        "run_id": [1, 1, 1, 2, 2, 2, 2],
        "segment_id": [0, 1, -1, 0, 1, 2, -1],
        "lineage_id": [1, 2, None, 1, 2, 3, None],
        "size": [60, 40, 5, 55, 35, 20, 4],
        "name": ["Night owls", None, None, "Night owls", None, None, None],
        "suggested_name": ["a", "Store fans", "noise", "a2", "Store fans", "Social shoppers", "noise"],
        "transition": ["new", "new", None, "survived", "survived", "emerged", None],
    })


def test_sizes_over_time_tidy_and_annotated():
    sizes = sizes_over_time(_segments())
    assert len(sizes) == 5  # noise dropped
    assert sizes.groupby("as_of")["share"].sum().round(9).tolist() == [1.0, 1.0]
    assert set(sizes["label"]) == {"Night owls", "Store fans", "Social shoppers"}
    figure = plotting.sizes_over_time(sizes)
    assert [a.text for a in figure.layout.annotations] == ["NEW"]
    assert sum(sum(trace.y) for trace in figure.data) == 60 + 40 + 55 + 35 + 20
    # a segment that emerged at the second snapshot: a point of 0 at the first, said so on hover (a browser walk
    # read "0 customers (-)" there), with no marker
    social = next(t for t in figure.data if t.name == "Social shoppers")
    assert list(social.y) == [0, 20] and list(social.marker.size) == [0, 6]
    assert list(social.customdata) == ["not a segment yet", "20 customers (18.2%)"]


def test_one_snapshot_shows_its_date_not_milliseconds_around_it():
    sizes = sizes_over_time(_segments().query("run_id == 2"))
    axis = plotting.sizes_over_time(sizes).layout.xaxis
    assert list(axis.ticktext) == ["Feb 28, 2025"] and len(axis.tickvals) == 1
    assert [pd.Timestamp(x) for x in axis.range] == [pd.Timestamp("2025-02-21"), pd.Timestamp("2025-03-07")]
    assert plotting.sizes_over_time(sizes_over_time(_segments())).layout.xaxis.tickvals is None  # two: plotly's own


def test_flows_and_sankey():
    before = pd.DataFrame({"customer_id": ["a", "b", "c", "d"], "segment_id": [0, 0, 1, -1]})
    after = pd.DataFrame({"customer_id": ["a", "b", "d", "e"], "segment_id": [0, 2, 2, 2]})
    flows = customer_flows(before, after)
    as_dict = {(r.source, r.target): r.customers for r in flows.itertuples(index=False)}
    assert as_dict == {("segment 0", "segment 0"): 1, ("segment 0", "segment 2"): 1,
                       ("segment 1", "left"): 1, ("noise", "segment 2"): 1,
                       ("new customers", "segment 2"): 1}
    figure = plotting.flow_sankey(flows, labels={"segment 2": "Social shoppers"})
    sankey = figure.data[0]
    assert sum(sankey.link.value) == 5
    labels = list(sankey.node.label)
    targets = labels[len(set(flows["source"])):]  # the later snapshot's nodes, on the right
    assert "Social shoppers" in targets and plotting.LEFT in targets
    assert all(x == 0.999 for x in sankey.node.x[len(labels) - len(targets):])
    # each link has its source segment's colour (segment 0's two links alike, noise grey)
    colours = dict(zip(zip(sankey.link.source, sankey.link.target), sankey.link.color))
    zero = labels.index("segment 0")
    assert len({c for (s, _), c in colours.items() if s == zero}) == 1
    assert not any(customer in str(figure.to_dict()) for customer in ('"a"', '"e"'))
    # hover words: one customer is "1 customer"; a node's count is all the customers through it
    assert list(sankey.link.customdata) == ["1 customer"] * 5
    nodes = list(sankey.node.customdata)
    assert nodes[zero] == "segment 0: 2 customers"  # the earlier snapshot's: a and b left it
    assert nodes[labels.index("Social shoppers")] == "Social shoppers: 3 customers"
    assert plotting.customers_text(12345) == "12,345 customers"  # present.digest's, shared


def test_lineage_view_has_a_line_per_lineage():
    figure = plotting.lineage_view(sizes_over_time(_segments()))
    lines = [t for t in figure.data if t.mode == "lines"]
    assert len(lines) == 3


def _two_runs() -> pd.DataFrame:
    """Lineage 7 ("Night owls") is segment 0 in run 1 and segment 1 in run 2; lineage 8 the other way round."""
    return pd.DataFrame({
        "as_of": [date(2025, 1, 31)] * 3 + [date(2025, 2, 28)] * 3,
        "run_id": [1, 1, 1, 2, 2, 2],
        "segment_id": [0, 1, -1, 0, 1, -1],
        "lineage_id": [7, 8, None, 8, 7, None],
        "size": [3, 2, 1, 2, 3, 1],
        "name": ["Night owls", None, None, None, "Night owls", None],
        "suggested_name": ["a", "Store fans", "noise", "Store fans", "b", "noise"],
        "transition": ["new", "new", None, "survived", "survived", None],
    })


def test_a_lineage_has_one_colour_on_every_chart():
    segments = _two_runs()
    owls, fans = plotting.lineage_colors([7])[7], plotting.lineage_colors([8])[8]
    assert owls != fans and plotting.lineage_colors([8, 7, None]) == {8: fans, 7: owls, None: plotting.NOISE_COLOR}
    run1, run2 = (segments[segments["run_id"] == r] for r in (1, 2))

    area = plotting.sizes_over_time(sizes_over_time(segments))
    assert {t.name: t.line.color for t in area.data} == {"Night owls": owls, "Store fans": fans}
    assert all("markers" in t.mode and len(t.x) == 2 for t in area.data)  # a marker on each snapshot

    value = segments.assign(revenue=[30.0, 20.0, 1.0, 25.0, 35.0, 2.0],
                            label=segments["lineage_id"].map({7: "Night owls", 8: "Store fans"}))
    lines = plotting.value_over_time(value).data
    assert {t.name: (t.line.color, t.marker.color) for t in lines} == {"Night owls": (owls, owls),
                                                                       "Store fans": (fans, fans)}

    before = pd.DataFrame({"customer_id": ["a", "b", "c", "d", "e", "f"], "segment_id": [0, 0, 0, 1, 1, -1]})
    after = pd.DataFrame({"customer_id": ["a", "b", "d", "e", "f", "g"], "segment_id": [1, 1, 0, 0, 1, -1]})
    node_colors = [{f"segment {k}": v for k, v in plotting.segment_lineage_colors(run).items()} for run in (run1, run2)]
    sankey = plotting.flow_sankey(customer_flows(before, after), {"segment 0": "Night owls", "segment 1": "Store fans"},
                                  {"segment 0": "Store fans", "segment 1": "Night owls"}, *node_colors).data[0]
    nodes = list(zip(sankey.node.label, sankey.node.color))
    assert {c for label, c in nodes if label == "Night owls"} == {owls}  # left and right, segment 0 then 1
    assert {c for label, c in nodes if label == "Store fans"} == {fans}
    assert {c for label, c in nodes if label in ("new customers", plotting.LEFT)} == {plotting.OUTSIDE_COLOR}
    assert {c for label, c in nodes if label == "noise"} == {plotting.NOISE_COLOR}  # noise on both sides
    links = [(sankey.node.label[s], c) for s, c in zip(sankey.link.source, sankey.link.color)]
    assert {c for label, c in links if label == "Night owls"} == {plotting.translucent(owls)}

    points = pd.DataFrame({"segment_id": [0, 1, -1], "x": [0.0, 1, 2], "y": [0.0, 1, 2], "probability": [0.9, 0.8, 0]})
    trace_map = plotting.segment_map(points, {0: "Store fans", 1: "Night owls", -1: "noise"},
                                     plotting.segment_lineage_colors(run2))
    assert {t.name: t.marker.color for t in trace_map.data} == {"Night owls": owls, "Store fans": fans,
                                                                "noise": plotting.NOISE_COLOR}


def test_a_long_segment_name_is_cut_in_legends_and_whole_in_the_hover():
    """The browser walk: a 200-character name in the legend squeezed the map to a thumbnail."""
    import numpy as np

    long = "Weeknight grocery regulars who open the app after work and buy fresh produce " * 2
    assert plotting.short_label(long) == "Weeknight grocery regulars who open…"
    assert len(plotting.short_label(long)) <= plotting.LABEL_CHARS
    assert plotting.short_label("Bargain hunters") == "Bargain hunters"
    assert plotting.short_label("x" * 50) == "x" * 39 + "…"  # no space to cut at
    points = pd.DataFrame({"segment_id": [0, 0, 1], "x": [0.0, 1.0, 2.0], "y": [0.0, 1.0, 2.0],
                           "probability": [1.0, 0.9, np.nan]})
    figure = plotting.segment_map(points, {0: long, 1: "Bargain hunters"})
    assert [t.name for t in figure.data] == ["Weeknight grocery regulars who open…", "Bargain hunters"]
    shown = figure.data[0].hovertemplate.split("<br>membership")[0]
    assert shown.replace("<br>", " ") == long.strip() and max(len(x) for x in shown.split("<br>")) <= 60
    sizes = pd.DataFrame({"as_of": [date(2025, 1, 31), date(2025, 2, 28)], "lineage_id": [1, 1],
                          "label": [long, long], "size": [10, 12], "share": [0.5, 0.6], "transition": ["new", "survived"]})
    figure = plotting.sizes_over_time(sizes)
    assert figure.data[0].name == "Weeknight grocery regulars who open…"
    assert long.strip() in figure.data[0].hovertemplate.replace("<br>", " ")
    value = sizes.assign(segment_id=[0, 0], run_id=[1, 2], revenue=[100.0, 120.0])
    figure = plotting.value_over_time(value, "revenue")
    assert figure.data[0].name == "Weeknight grocery regulars who open…"
    assert long.strip() in figure.data[0].hovertemplate.replace("<br>", " ")


def test_a_last_week_the_data_ends_in_is_marked_partial():
    """The browser walk: the weekly chart's last, partial week read as a collapse."""
    mix = pd.DataFrame({"week": [date(2025, 6, 16), date(2025, 6, 23), date(2025, 6, 30)],
                        "event_type": ["view"] * 3, "channel": ["web"] * 3, "events": [700, 690, 95]})
    marks = plotting.event_mix_over_time(mix, last_event=pd.Timestamp("2025-06-30 18:00")).layout.annotations
    assert [a.text for a in marks] == ["partial week: 1 of 7 days"]
    assert not plotting.event_mix_over_time(mix, last_event=pd.Timestamp("2025-07-06 10:00")).layout.annotations
    assert not plotting.event_mix_over_time(mix).layout.annotations
    # a first week the data starts in the middle of (Jun 16 is a Monday; data from Thursday the 19th)
    both = plotting.event_mix_over_time(mix, first_event=pd.Timestamp("2025-06-19 08:00"),
                                        last_event=pd.Timestamp("2025-06-30 18:00")).layout.annotations
    assert [a.text for a in both] == ["partial week: 4 of 7 days", "partial week: 1 of 7 days"]
    assert not plotting.event_mix_over_time(mix, first_event=pd.Timestamp("2025-06-16")).layout.annotations


def test_the_weekly_mix_names_event_types_in_words():
    """The browser walk read app_open, email_click and store_visit in the Data page's legend."""
    mix = pd.DataFrame({"week": [date(2025, 6, 16)] * 3, "event_type": ["app_open", "email_click", "store_visit"],
                        "channel": ["app", "email", "store"], "events": [5, 6, 7]})
    assert [t.name for t in plotting.event_mix_over_time(mix).data] == ["app opens", "e-mail clicks", "store visits"]
    assert [t.name for t in plotting.event_mix_over_time(mix, by="channel").data] == ["app", "email", "store"]


def test_lineage_colours_are_told_apart_and_none_is_the_unassigned_grey():
    """The browser walk: two segments of one map in nearly the same pink (Bold's #E73F74 and #CF1C90)."""
    import itertools

    import plotly.express as px

    def rgb(color):
        return np.array(px.colors.hex_to_rgb(color), dtype=float)

    distances = [np.linalg.norm(rgb(a) - rgb(b)) for a, b in itertools.combinations(plotting.PALETTE, 2)]
    assert len(plotting.PALETTE) >= 14 and min(distances) > 70
    assert min(np.linalg.norm(rgb(c) - rgb(plotting.NOISE_COLOR)) for c in plotting.PALETTE) > 90

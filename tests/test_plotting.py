"""Plots: frames in, plotly figures out, with the numbers of the frame and no customer data."""

from __future__ import annotations

from datetime import date

import pandas as pd

from segmentation import plotting
from segmentation.tracking import customer_flows, sizes_over_time


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


def test_lineage_view_has_a_line_per_lineage():
    figure = plotting.lineage_view(sizes_over_time(_segments()))
    lines = [t for t in figure.data if t.mode == "lines"]
    assert len(lines) == 3

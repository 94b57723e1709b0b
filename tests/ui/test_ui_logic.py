"""The app's pure helpers: cards, badges, alerts, map selections, new plots."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from segmentation.present import digest, plotting


def _segments(rows) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["segment_id", "lineage_id", "size", "name", "suggested_name", "transition",
                                       "profile"])


BEFORE = _segments([
    (0, 1, 500, "Night owls", "a", "new", {}),
    (1, 2, 300, None, "Store fans", "new", {}),
    (2, 3, 200, None, "Readers", "new", {}),
    (-1, None, 10, None, "Unassigned (noise)", None, {}),
])
AFTER = _segments([
    (0, 1, 450, "Night owls", "a", "survived", {"top_traits": ["3.0× more night activity", "2× more app use"]}),
    (1, 2, 420, None, "Store fans", "survived", {"top_traits": ["9× more store visits"], "summary": "s"}),
    (2, 4, 90, None, "Social live shoppers", "emerged",
     {"sources": [{"source": "new customers", "customers": 60, "share": 0.667},
                  {"source": "segment 2", "customers": 30, "share": 0.333}]}),
    (3, 3, 40, None, "Readers", "survived", {}),
    (-1, None, 0, None, "Unassigned (noise)", None, {}),
])


@pytest.mark.parametrize("transition, share, before, expected", [
    ("emerged", 0.1, None, "NEW"), ("split", 0.1, 0.2, "SPLIT"), ("merged", 0.3, 0.1, "MERGED"),
    ("survived", 0.115, 0.1, None), ("survived", 0.115, 0.099, "GROWING"), ("survived", 0.085, 0.1, "FADING"),
    ("survived", 0.0851, 0.1, None), ("new", 0.2, None, None), ("survived", 0.2, None, None),
])
def test_badge(transition, share, before, expected):
    assert digest.badge(transition, share, before) == expected


def test_one_customer_of_thousands_is_not_shown_as_none():
    """The browser walk: "Unassigned 0.0%" beside "1 customers behave unlike every segment"."""
    assert [digest.share_text(s) for s in (0.0, 1 / 2195, 0.0005, 0.0123)] == ["0.0%", "<0.1%", "0.1%", "1.2%"]
    assert [digest.customers_text(n) for n in (0, 1, 2, 12345)] == [
        "0 customers", "1 customer", "2 customers", "12,345 customers"]


def test_segment_cards_compare_each_lineage_with_its_previous_share():
    cards = digest.segment_cards(AFTER, 1000, BEFORE, 1010).set_index("segment_id")
    assert cards.index.tolist() == [0, 1, 2, 3]  # largest first, noise left out
    assert cards.at[0, "label"] == "Night owls" and cards.at[0, "named"]
    assert cards.at[1, "label"] == "Store fans" and not cards.at[1, "named"]
    assert cards.at[0, "share_before"] == pytest.approx(500 / 1010)
    assert cards.at[0, "change"] == f"{(0.45 - 500 / 1010) * 100:+.1f} pts"
    # a share that moved less than 0.05 points has no sign to show (the browser walk: "+0.0 pts", a green arrow)
    assert digest.format_change(0.3000, 0.3004) == digest.NO_CHANGE == digest.format_change(0.3004, 0.3000)
    assert digest.format_change(0.3, 0.3006) == "-0.1 pts" and digest.format_change(0.3, None) is None
    assert cards.at[0, "badge"] is None                      # 0.450 vs 0.495: −9 %, within the wobble
    assert cards.at[1, "badge"] == "GROWING"                 # 0.420 vs 0.297
    assert cards.at[2, "badge"] == "NEW" and cards.at[2, "share_before"] is None
    assert cards.at[3, "badge"] == "FADING"                  # 0.040 vs 0.198
    assert cards.at[0, "top_traits"] == ["3.0× more night activity", "2× more app use"]


def test_first_snapshot_cards_have_no_change_and_no_badge():
    first = BEFORE.assign(profile=[{}] * 4)
    cards = digest.segment_cards(first, 1010)
    assert cards["badge"].tolist() == [None] * 3 and cards["change"].tolist() == [None] * 3


def test_alerts_name_segments_and_the_sources_of_emerged_ones():
    transitions = pd.DataFrame({
        "from_run": [1] * 5, "to_run": [2] * 5,
        "from_segment": [pd.NA, 0, 1, 2, 2], "to_segment": [2, 0, 1, 3, pd.NA],
        "kind": ["emerged", "survived", "survived", "split", "disappeared"],
        "overlap": [0.3, 0.9, 0.9, 0.3, 0.0],
        "from_label": [None, "Night owls", "Store fans", "Readers", "Readers"],
        "from_size": [None, 500, 300, 200, 200],
    })
    alerts = digest.alerts(AFTER, transitions, 1000, {2: "Readers"})
    assert [a["kind"] for a in alerts] == ["emerged", "split", "disappeared"]
    assert alerts[0]["text"] == ("New segment emerged: **Social live shoppers** — 90 customers (9%); "
                                 "67% from new customers, 33% from Readers")
    assert alerts[1]["segment_id"] == 3 and "split off from Readers" in alerts[1]["text"]
    assert alerts[2]["text"] == "Segment disappeared: **Readers** (200 customers before)"
    assert digest.alerts(AFTER, transitions.iloc[:0], 1000) == []


def test_selection_summary_scales_points_back_to_customers():
    # segment 0: 1,000 customers shown by 100 points; segment 1: all 50 shown
    points = pd.DataFrame({
        "segment_id": [0] * 100 + [1] * 50,
        "probability": [0.8] * 100 + [0.4] * 50,
        "segment_size": [1000] * 100 + [50] * 50,
    })
    summary = digest.selection_summary(points, [0, 1, 2, 100, 101, 2], {0: "Night owls", 1: "Store fans"})
    assert summary["n_points"] == 5 and summary["estimated_customers"] == 32
    assert summary["mean_probability"] == pytest.approx((0.8 * 3 + 0.4 * 2) / 5)
    breakdown = summary["breakdown"].set_index("label")
    assert breakdown.loc["Night owls", "estimated_customers"] == 30
    assert breakdown.loc["Store fans", "selected_share"] == pytest.approx(2 / 32)
    assert breakdown.loc["Store fans", "overall_share"] == pytest.approx(50 / 1050)


def test_map_selection_positions_come_from_customdata():
    from segmentation.ui.map import selected_positions

    event = {"selection": {"points": [{"customdata": [4, 0.9]}, {"customdata": [7.0, 0.2]}, {"x": 1}]}}
    assert selected_positions(event) == [4, 7]
    assert selected_positions(None) == [] and selected_positions({"selection": {}}) == []
    # Streamlit 1.5x+ sends each point's customdata as a dict of its positions
    as_dicts = {"selection": {"points": [{"customdata": {"0": 12, "1": 0.9}}, {"customdata": {"1": 0.4, "0": 3}}]}}
    assert selected_positions(as_dicts) == [12, 3]


@pytest.mark.parametrize("kind", ["box", "lasso"])
def test_map_selection_as_streamlit_really_returns_it(kind):
    """The event of a box / lasso selection on the Map page, captured in Chromium from Streamlit 1.67
    (tests/fixtures; six of its points kept, structure untouched)."""
    import json

    from segmentation.ui.map import selected_positions
    from tests.helpers import ROOT

    event = json.loads((ROOT / "tests" / "fixtures" / f"map_{kind}_selection_streamlit_1.67.json").read_text())
    assert event["selection"][kind] and not event["selection"]["box" if kind == "lasso" else "lasso"]
    expected = [int(p["customdata"]["0"]) for p in event["selection"]["points"]]
    assert len(expected) == 6 and selected_positions(event) == expected


def test_segment_map_has_one_trace_per_segment_and_no_ids():
    points = pd.DataFrame({"segment_id": [1, 0, -1, 1], "x": [0.0, 1, 2, 3], "y": [3.0, 2, 1, 0],
                           "probability": [0.9, 0.8, 0.0, 0.7]})
    figure = plotting.segment_map(points, {0: "Night owls", 1: "Store fans", -1: "Unassigned (noise)"})
    names = [t.name for t in figure.data]
    assert names == ["Unassigned (noise)", "Night owls", "Store fans"]  # noise drawn first, underneath
    store_fans = figure.data[2]
    assert list(store_fans.x) == [0.0, 3.0] and [c[0] for c in store_fans.customdata] == [0, 3]
    assert all(t.type == "scattergl" for t in figure.data)
    assert "customer" not in json.dumps(figure.to_plotly_json()["data"], default=str)


def test_trait_lifts_draws_the_strongest_more_on_top_and_less_below():
    """The browser walk: bars sorted by strength alone alternated "more" and "less"."""
    traits = pd.DataFrame({"label": ["app use", "refunds", "spend", "web", "night"],
                           "phrase": ["3× more app use", "no refunds", "x", "2× less web use", "4× more night"],
                           "std_diff": [1.5, -2.0, 0.1, -1.0, 2.5]})
    bar = plotting.trait_lifts(traits, top=4).data[0]
    # plotly draws the first bar at the bottom: less of (the least lowest), then more of (the most on top)
    assert list(bar.y) == ["no refunds", "2× less web use", "3× more app use", "4× more night"]  # traits in words
    assert list(bar.x) == [-2.0, -1.0, 1.5, 2.5]
    assert list(bar.marker.color) == ["#F97316", "#F97316", "#4F46E5", "#4F46E5"]


def test_distribution_boxes_use_the_stored_quantiles():
    frame = pd.DataFrame({"feature": ["spend", "spend"], "label": ["spend", "spend"],
                          "group": ["segment", "all customers"], "q10": [1, 0], "q25": [2, 1], "q50": [3, 2],
                          "q75": [4, 3], "q90": [5, 4]})
    boxes = plotting.distributions_vs_population(frame).data
    assert [(b.name, b.median[0], b.lowerfence[0], b.upperfence[0]) for b in boxes] == [
        ("segment", 3, 1, 5), ("all customers", 2, 0, 4)]


def test_probability_histogram_and_selection_breakdown():
    histogram = pd.DataFrame({"bin_start": [0.5, 0.95], "customers": [1, 7]})
    bars = plotting.probability_histogram(histogram).data[0]
    assert np.allclose(bars.x, [0.525, 0.975]) and list(bars.y) == [1, 7]
    # the hover says the bar's range in per cent, as the axis does (the browser walk read "0.83 ± 0.025")
    assert [list(c) for c in bars.customdata] == [["50%–55%", "1 customer"], ["95%–100%", "7 customers"]]
    assert bars.hovertemplate == "membership %{customdata[0]}: %{customdata[1]}<extra></extra>"
    breakdown = pd.DataFrame({"label": ["a", "b"], "selected_share": [0.75, 0.25], "overall_share": [0.5, 0.5]})
    figure = plotting.selection_breakdown(breakdown)
    assert [list(t.x) for t in figure.data] == [[0.75, 0.25], [0.5, 0.5]]


@pytest.mark.parametrize("text, escaped", [
    ("Big **spenders** :fire: 3.5", "Big \\*\\*spenders\\*\\* :fire: 3.5"),
    ("<b>[x](javascript:1)</b> $x$", "\\<b\\>\\[x\\](javascript:1)\\</b\\> \\$x\\$"),
    ("- starts like a list", "\\- starts like a list"),
    ("12. starts like a list", "12\\. starts like a list"),
    ("Night-owl app-first shoppers", "Night-owl app-first shoppers"),
    ("file_name.csv # 2", "file\\_name.csv \\# 2"),
])
def test_user_text_is_escaped_for_markdown(text, escaped):
    assert digest.escape_markdown(text) == escaped


def test_the_glossary_explains_every_transition_and_badge_the_pages_show():
    """The browser walk: "forming", "dissolved", GROWING and FADING, "share kept" were not explained."""
    from segmentation.ui.evolution import KIND_ORDER
    from segmentation.ui.glossary import TERMS

    words = " ".join(term for term, _ in TERMS).casefold()
    badges = [*digest.BADGES.values(), "GROWING", "FADING"]
    missing = [w for w in [*KIND_ORDER, *badges, "share kept", "gone quiet", "stability", "pts"]
               if w.casefold() not in words]
    assert missing == []


def test_an_earlier_segment_renamed_since_is_named_as_now():
    """The browser walk: after a rename the Overview's banner still said "2% from Night owls", a name no
    longer on the page."""
    from segmentation.ui.common import earlier_labels

    previous = pd.DataFrame({"segment_id": [-1, 0, 1], "lineage_id": [None, 7, 8],
                             "name": [None, None, "Store fans"], "suggested_name": ["Unassigned", "Night owls", "x"]})
    current = pd.DataFrame({"segment_id": [-1, 0, 3], "lineage_id": [None, 7, 9],
                            "name": [None, "Late gamers", None], "suggested_name": ["Unassigned", "Night owls", "New"]})
    assert earlier_labels(previous, current) == {-1: "Unassigned", 0: "Night owls (now Late gamers)", 1: "Store fans"}


def test_messages_on_the_page_start_as_sentences():
    """The browser walk: "segment 7 of this snapshot is already called …" (the command line's wording)."""
    from segmentation.ui.common import sentence

    assert sentence("segment 7 of this snapshot is already called “A”") == "Segment 7 of this snapshot is already called “A”"
    assert [sentence(t) for t in ("", "“A” exists", "3 rows", "Saved", "a.csv already exists", "/srv/a.csv: bad",
                                  "iPhone users")] == [
        "", "“A” exists", "3 rows", "Saved", "a.csv already exists", "/srv/a.csv: bad", "iPhone users"]


def test_tables_round_shares_as_the_headlines_do():
    from segmentation.ui import common

    shares = [1 / 80, 3 / 80, 0.2779, 0.03371, 0.0005, 0.9995, 1 / 3]
    frame = pd.DataFrame({"share": shares + [None], "other": [0.12345] * (len(shares) + 1),
                          "as_text": [str(v) for v in shares] + [None]})
    columns = {"share": common.percent_column("Share"), "as_text": common.percent_column("As text"),
               "other": "Other"}  # a plain label is a column config too
    shown = common.shares_rounded(frame, columns)
    # Streamlit shows a share cut down to the column's step: the rounded value reads as the headline's
    assert [f"{v * 100:.1f}%" for v in shown["share"][:-1]] == [f"{v:.1%}" for v in shares]
    assert [f"{v * 100:.1f}%" for v in shown["as_text"][:-1]] == [f"{v:.1%}" for v in shares]
    assert shown["share"].isna().tolist()[-1] and shown["other"].tolist() == frame["other"].tolist()


def test_the_timeline_caption_says_what_it_left_out():
    from segmentation.ui.evolution import timeline_caption

    assert timeline_caption(60, 0, 0) == "Snapshots over a 60-day window, as the one chosen in the sidebar."
    assert timeline_caption(45, 3, 1) == (
        "Snapshots over a 45-day window, as the one chosen in the sidebar; 3 snapshots over another window left "
        "out (choose one in the sidebar to see its own timeline); 1 other computation of a date shown once.")


def test_a_survivors_growth_is_said_in_customers_with_its_numbers():
    """The browser walk: Evolution said "grew" where the Overview said "same share" (a count can grow while
    the share stays); the count's change is now said with its numbers."""
    from segmentation.ui.evolution import internal_words

    assert internal_words({"size_before": 63, "size_after": 74, "labels": ["grew", "shifted behaviour"]}) == [
        "grew +17% in customers (63 → 74)", "shifted behaviour"]
    assert internal_words({"size_before": 1200, "size_after": 900, "labels": ["shrank"]}) == [
        "shrank -25% in customers (1,200 → 900)"]
    assert internal_words({"labels": ["shifted behaviour"]}) == ["shifted behaviour"]


def test_why_a_snapshot_has_its_segments_in_a_marketers_words():
    from segmentation.ui.run import segments_in_words

    assert segments_in_words({"clusters_found": 9, "segments": 8}) == (
        "The workbench found 9 groups of customers who behave alike; 1 of them behaved as another one did and was "
        "joined to it, which leaves 8 segments. Customers who fit none of them well are left unassigned.")
    assert segments_in_words({"clusters_found": 1, "segments": 1}) == (
        "The workbench found 1 group of customers who behave alike. Customers who fit none of them well are left "
        "unassigned.")
    assert segments_in_words({"why": "old run"}) is None


def test_the_run_page_names_features_as_the_catalog_does(db_file):
    """A review: labels rebuilt from column names read "home garden activity" where the other pages say
    "Home & Garden activity"."""
    from segmentation.data import store
    from segmentation.ui.run import feature_labels, in_words

    with store.connect(db_file) as con:
        con.execute("INSERT INTO events (customer_id, ts, event_type, channel, category) VALUES "
                    "('c1', TIMESTAMP '2025-03-01', 'view', 'Call Center', 'Home & Garden')")
        labels = feature_labels(con)
    assert labels["category_home_garden"] == "Home & Garden activity"
    assert labels["channel_call_center"] == "Call Center channel activity"
    assert in_words("category_home_garden left out: the same value for every customer", labels) == (
        "“Home & Garden activity” left out: the same value for every customer")
    assert in_words("3 customers had undefined values", labels) == "3 customers had undefined values"

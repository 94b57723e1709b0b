"""Tracking: each transition kind on small hand-built member sets, thresholds, lineage."""

from __future__ import annotations

import pandas as pd
import pytest

from segmentation.dynamics.tracking import Thresholds, carry_lineage, emerged_sources, match_segments, overlap_table


def members(spec: dict[int, range | list]) -> pd.DataFrame:
    """{segment_id: customer numbers} -> assignments frame."""
    rows = [(f"C{c:04d}", s) for s, customers in spec.items() for c in customers]
    return pd.DataFrame(rows, columns=["customer_id", "segment_id"])


def kinds(transitions: pd.DataFrame) -> dict:
    out = {}
    for row in transitions.itertuples(index=False):
        key = (None if pd.isna(row.from_segment) else int(row.from_segment),
               None if pd.isna(row.to_segment) else int(row.to_segment))
        out[key] = row.kind
    return out


def test_survived_when_most_members_stay_together():
    before = members({0: range(0, 100), 1: range(100, 200)})
    after = members({5: list(range(0, 90)) + list(range(300, 310)), 6: range(100, 200)})
    assert kinds(match_segments(before, after)) == {(0, 5): "survived", (1, 6): "survived"}


def test_split_into_two_parts():
    before = members({0: range(0, 100), 1: range(100, 200)})
    after = members({3: range(0, 55), 4: range(55, 100), 6: range(100, 200)})
    result = kinds(match_segments(before, after))
    assert result[(0, 3)] == "split" and result[(0, 4)] == "split"
    assert result[(1, 6)] == "survived"


def test_merged_when_two_segments_survive_into_one():
    before = members({0: range(0, 100), 1: range(100, 160), 2: range(200, 300)})
    after = members({7: range(0, 160), 8: range(200, 300)})
    result = kinds(match_segments(before, after))
    assert result[(0, 7)] == "merged" and result[(1, 7)] == "merged"
    assert result[(2, 8)] == "survived"


def test_emerged_from_noise_and_new_customers():
    before = members({0: range(0, 100), -1: range(100, 150)})
    after = members({0: range(0, 100), 9: list(range(100, 140)) + list(range(500, 560))})
    transitions = match_segments(before, after)
    assert kinds(transitions)[(None, 9)] == "emerged"
    sources = emerged_sources(before, after, [9]).set_index("source")["customers"].to_dict()
    assert sources == {"new customers": 60, "noise": 40}


def test_emerged_from_many_small_contributions():
    # Each old segment gives 10 % of its members: no one contributes >= tau_split of the new one.
    before = members({s: range(s * 100, s * 100 + 100) for s in range(6)})
    taken = [c for s in range(6) for c in range(s * 100, s * 100 + 10)]
    after = members({s: range(s * 100 + 10, s * 100 + 100) for s in range(6)} | {20: taken})
    result = kinds(match_segments(before, after))
    assert result[(None, 20)] == "emerged"
    assert all(result[(s, s)] == "survived" for s in range(6))


def test_disappeared_when_members_scatter_into_noise():
    before = members({0: range(0, 100), 1: range(100, 200)})
    after = members({0: range(0, 100), -1: range(100, 200)})
    assert kinds(match_segments(before, after))[(1, None)] == "disappeared"


def test_thresholds_change_the_verdict():
    before = members({0: range(0, 100)})
    after = members({1: range(0, 45), 2: range(45, 70), -1: range(70, 100)})
    # default tau 0.5: parts 0.45 + 0.25 = 0.70 >= 0.5 with two parts >= 0.25 -> split
    assert set(kinds(match_segments(before, after)).values()) == {"split"}
    # stricter part size: only one part of 0.45 >= 0.3, and it is < tau 0.5 -> but the new segment
    # is entirely made of the old one, so it survives (shrunk); the other part splits off.
    strict = kinds(match_segments(before, after, Thresholds(tau=0.5, tau_split=0.3)))
    assert strict[(0, 1)] == "survived"
    with pytest.raises(ValueError):
        Thresholds(tau=0.2, tau_split=0.3)


def test_overlap_table_shares():
    before = members({0: range(0, 10)})
    after = members({1: range(0, 5), 2: range(5, 20)})
    table = overlap_table(before, after).set_index("to_segment")
    assert table.loc[1, "share_of_old"] == 0.5 and table.loc[1, "share_of_new"] == 1.0
    assert table.loc[2, "share_of_old"] == 0.5 and table.loc[2, "share_of_new"] == pytest.approx(5 / 15)


def _segments(ids, names=None):
    frame = pd.DataFrame({"segment_id": ids, "size": [100] * len(ids),
                          "suggested_name": [f"auto {i}" for i in ids],
                          "profile": [{} for _ in ids]})
    if names is not None:
        frame["lineage_id"] = [10 + i for i in ids]
        frame["name"] = names
        for column in ("description", "named_by", "named_at"):
            frame[column] = None
    return frame


def test_first_snapshot_marks_everything_new():
    tracked = carry_lineage(None, _segments([0, 1, -1]), None, next_lineage_id=1)
    assert tracked.set_index("segment_id")["transition"].to_dict() == {0: "new", 1: "new", -1: None}
    assert tracked.set_index("segment_id").loc[[0, 1], "lineage_id"].tolist() == [1, 2]


def test_lineage_and_names_carry_over():
    previous = _segments([0, 1, 2], names=["Night owls", None, "Store fans"])
    before = members({0: range(0, 100), 1: range(100, 200), 2: range(200, 300)})
    after = members({4: range(0, 100), 5: range(100, 150), 6: range(150, 200),
                     7: range(200, 300), 8: range(900, 950)})
    transitions = match_segments(before, after)
    tracked = carry_lineage(previous, _segments([4, 5, 6, 7, 8]), transitions, next_lineage_id=50)
    by_id = tracked.set_index("segment_id")
    assert by_id.loc[4, ["lineage_id", "name", "transition"]].tolist() == [10, "Night owls", "survived"]
    assert by_id.loc[7, ["lineage_id", "name"]].tolist() == [12, "Store fans"]
    # split children: new lineages, their own suggested name, the parent in lineage_from, flagged for review
    assert by_id.loc[5, "transition"] == "split" and by_id.loc[5, "lineage_id"] >= 50
    assert by_id.loc[5, "suggested_name"] == "auto 5" and by_id.loc[5, "lineage_from"] == "auto 1"
    assert bool(by_id.loc[5, "review"])
    assert by_id.loc[8, "transition"] == "emerged" and by_id.loc[8, "name"] is None


def test_merge_continues_larger_parent():
    previous = _segments([0, 1], names=["Big one", "Small one"])
    previous["size"] = [100, 60]
    before = members({0: range(0, 100), 1: range(100, 160)})
    after = members({3: range(0, 160)})
    tracked = carry_lineage(previous, _segments([3]), match_segments(before, after), next_lineage_id=90)
    row = tracked.iloc[0]
    assert row["transition"] == "merged" and row["lineage_id"] == 10 and row["name"] == "Big one"
    assert sorted(row["parents"]) == [10, 11]


def test_no_two_segments_are_shown_under_one_name():
    # two segments of the earlier run were given the same name (case aside): only the larger
    # successor keeps it; a new segment whose suggestion equals a given name is reworded
    previous = _segments([0, 1], names=["Night owls", "night owls"])
    before = members({0: range(0, 100), 1: range(100, 160)})
    after = members({3: range(0, 100), 4: range(100, 160), 5: range(500, 560)})
    current = _segments([3, 4, 5])
    current["size"] = [100, 60, 60]
    current.loc[2, "suggested_name"] = "Night owls"
    current["profile"] = [{}, {}, {"traits": [{"feature": "night_share", "label": "night", "std_diff": 2.0,
                                                "phrase": "3× more at night"}]}]
    tracked = carry_lineage(previous, current, match_segments(before, after), next_lineage_id=90)
    by_id = tracked.set_index("segment_id")
    assert by_id.loc[3, "name"] == "Night owls" and by_id.loc[4, "name"] is None
    shown = [n if isinstance(n, str) else s for n, s in zip(by_id["name"], by_id["suggested_name"])]
    assert len({s.casefold() for s in shown}) == 3, shown


def test_a_timeline_compares_one_window_one_snapshot_per_date():
    from datetime import date

    from segmentation.dynamics.tracking import one_window

    runs = pd.DataFrame({"run_id": [1, 2, 3, 4, 5],
                         "as_of": [date(2025, 1, 31), date(2025, 2, 28), date(2025, 2, 28), date(2025, 2, 14),
                                   date(2025, 3, 31)],
                         "window_days": [30, 30, 30, 45, 30]})
    # run 3 computed 2025-02-28 again: the latest computation of a date stands for it
    assert one_window(runs, 5) == ([1, 3, 5], 1, 1)
    # ...unless the earlier one is the snapshot chosen
    assert one_window(runs, 2) == ([1, 2, 5], 1, 1)
    # alone over its window
    assert one_window(runs, 4) == ([4], 4, 0)
    assert one_window(runs.iloc[[0]], 1) == ([1], 0, 0)

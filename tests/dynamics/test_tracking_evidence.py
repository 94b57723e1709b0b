"""Tracking by membership *and* behaviour: each mechanism pinned on a small hand-built case.

Each test shows the mechanism against the membership-only rule (MONIC), so removing the
profile evidence makes it fail.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from segmentation.dynamics.matching import monic_transitions
from segmentation.dynamics.profiles import unique_name
from segmentation.engine.resemblance import SHIFTED, TWIN, UNLIKE, expected_before, group_shift, merge_profile_twins, profile_distance
from segmentation.dynamics.tracking import carry_lineage, match_segments

FEATURES = ["social", "store", "toys", "garden", "night", "refunds"]


def members(spec: dict[int, range | list]) -> pd.DataFrame:
    rows = [(f"C{c:04d}", s) for s, customers in spec.items() for c in customers]
    return pd.DataFrame(rows, columns=["customer_id", "segment_id"])


def lifts(spec: dict[int, dict[str, float]]) -> pd.DataFrame:
    return pd.DataFrame.from_dict(spec, orient="index").reindex(columns=FEATURES).fillna(0.0)


def kinds(transitions: pd.DataFrame) -> dict:
    return {(None if pd.isna(r.from_segment) else int(r.from_segment),
             None if pd.isna(r.to_segment) else int(r.to_segment)): r.kind
            for r in transitions.itertuples(index=False)}


SOCIAL_TOYS = {"social": 2.0, "toys": 1.5}
STORE_GARDEN = {"store": 2.0, "garden": 1.6}
NIGHT_REFUNDS = {"night": 2.2, "refunds": 1.8}


def test_distance_separates_personas_not_noise():
    table = lifts({0: SOCIAL_TOYS, 1: {"social": 1.9, "toys": 1.6, "night": 0.1}, 2: STORE_GARDEN})
    d = profile_distance(table, table)
    assert d.at[0, 1] <= TWIN and d.at[0, 2] > UNLIKE


def test_emerged_by_behaviour_wherever_its_members_were():
    """A forming segment hid inside segment 0 under reused models; at the refit it is its own segment."""
    before = members({0: range(0, 300), 1: range(300, 500)})
    after = members({5: range(0, 220), 6: range(300, 500), 7: range(220, 300)})
    old = lifts({0: SOCIAL_TOYS, 1: STORE_GARDEN})
    new = lifts({5: SOCIAL_TOYS, 6: STORE_GARDEN, 7: NIGHT_REFUNDS})
    result = kinds(match_segments(before, after, lifts=(old, new)))
    # the forming segment (7) and only it emerged; no split of 0 is reported beside it
    assert result == {(0, 5): "survived", (1, 6): "survived", (None, 7): "emerged"}
    # membership alone calls it a split of segment 0
    assert kinds(monic_transitions(before, after))[(0, 7)] == "split"


def test_split_needs_children_that_resemble_the_parent():
    """Segment 0's customers went two ways: one half kept its behaviour, the other is new."""
    before = members({0: range(0, 200), 1: range(200, 400)})
    after = members({5: range(0, 100), 6: range(100, 200), 7: range(200, 400)})
    old = lifts({0: SOCIAL_TOYS, 1: STORE_GARDEN})
    new = lifts({5: {"social": 2.1, "toys": 1.4}, 6: NIGHT_REFUNDS, 7: STORE_GARDEN})
    result = kinds(match_segments(before, after, lifts=(old, new)))
    assert result == {(0, 5): "survived", (None, 6): "emerged", (1, 7): "survived"}
    assert set(kinds(monic_transitions(before, after)).values()) == {"split", "survived"}
    assert kinds(monic_transitions(before, after))[(0, 6)] == "split"
    # two children that each resemble the parent, each a third or more of it: a real split
    new_alike = lifts({5: {"social": 2.0, "toys": 0.6}, 6: {"social": 2.0, "toys": 2.4}, 7: STORE_GARDEN})
    split = kinds(match_segments(before, after, lifts=(old, new_alike)))
    assert split == {(0, 5): "split", (0, 6): "split", (1, 7): "survived"}  # and nothing emerged


def test_a_child_holding_most_of_the_parent_continues_it():
    """A segment that absorbed another group under reused models sheds it at the refit: the part
    holding most of its customers goes on (its lineage kept), the rest split off."""
    before = members({0: range(0, 200), 1: range(200, 400)})
    after = members({5: range(0, 110), 6: range(110, 180), 7: range(200, 400)})
    old = lifts({0: SOCIAL_TOYS, 1: STORE_GARDEN})
    new = lifts({5: {"social": 2.0, "toys": 1.2}, 6: {"social": 2.0, "toys": 2.2}, 7: STORE_GARDEN})
    result = kinds(match_segments(before, after, lifts=(old, new)))
    assert result == {(0, 5): "survived", (0, 6): "split", (1, 7): "survived"}


def test_a_part_that_came_to_the_segment_since_it_began_emerged_inside_it():
    """Segment 0 began with customers 0–199; since then 110–179 were replaced by sign-ups and converts
    (1110–1179) whose behaviour, close to 0's, an earlier fit lumped with it. A refit cuts them out:
    a behaviour that formed inside the segment (emerged), not a part it held from the start (split)."""
    before = members({0: list(range(0, 110)) + list(range(1110, 1180)), 1: range(200, 400)})
    after = members({5: range(0, 110), 6: range(1110, 1180), 7: range(200, 400)})
    old = lifts({0: SOCIAL_TOYS, 1: STORE_GARDEN})
    new = lifts({5: {"social": 2.0, "toys": 1.2}, 6: {"social": 2.0, "toys": 2.2}, 7: STORE_GARDEN})
    began = {0: pd.Index([f"C{c:04d}" for c in range(0, 200)]), 1: pd.Index([f"C{c:04d}" for c in range(200, 400)])}
    checks: list[dict] = []
    result = kinds(match_segments(before, after, lifts=(old, new), started_with=began.get, checks=checks))
    assert result == {(0, 5): "survived", (None, 6): "emerged", (1, 7): "survived"}
    assert checks == [{"segment_id": 6, "from_segment": 0, "customers": 70, "joined_since_start": 1.0, "new": True}]
    # the same cut, its customers in the segment from the start: a part the earlier fit lumped (split)
    lumped = members({0: range(0, 180), 1: range(200, 400)})
    after_lumped = members({5: range(0, 110), 6: range(110, 180), 7: range(200, 400)})
    assert kinds(match_segments(lumped, after_lumped, lifts=(old, new), started_with=began.get)) == \
        {(0, 5): "survived", (0, 6): "split", (1, 7): "survived"}
    # without the lineage's start, membership since the previous snapshot alone says split
    assert kinds(match_segments(before, after, lifts=(old, new)))[(0, 6)] == "split"


def test_lineage_kept_on_a_refit_when_behaviour_matches():
    """A refit renumbers segments and leaves 60 % of segment 0 in noise: still the same segment."""
    before = members({0: range(0, 200), 1: range(200, 400)})
    after = members({3: range(200, 400), 4: list(range(0, 80)) + list(range(900, 1020)), -1: range(80, 200)})
    old = lifts({0: SOCIAL_TOYS, 1: STORE_GARDEN})
    new = lifts({3: STORE_GARDEN, 4: {"social": 1.8, "toys": 1.6}})
    transitions = match_segments(before, after, lifts=(old, new))
    assert kinds(transitions) == {(0, 4): "survived", (1, 3): "survived"}
    # membership alone: under half of 0 stayed and over half of 4 is new, so 4 is a split-off of 0
    assert kinds(monic_transitions(before, after))[(0, 4)] == "split"
    previous = pd.DataFrame({"segment_id": [0, 1], "lineage_id": [10, 11], "size": [200, 200],
                             "name": ["Social toy fans", None], "suggested_name": ["Social toys shoppers",
                                                                                   "In-store garden shoppers"],
                             "description": None, "named_by": None, "named_at": None})
    current = pd.DataFrame({"segment_id": [3, 4, -1], "size": [200, 200, 120], "profile": [{}, {}, {}],
                            "suggested_name": ["Garden in-store shoppers", "Social toys kids", "Unassigned"]})
    tracked = carry_lineage(previous, current, transitions, next_lineage_id=50).set_index("segment_id")
    assert tracked.loc[4, ["lineage_id", "name", "suggested_name"]].tolist() == [10, "Social toy fans",
                                                                                  "Social toys shoppers"]
    # an unnamed survivor keeps its suggested name instead of rewording itself
    assert tracked.loc[3, ["lineage_id", "suggested_name"]].tolist() == [11, "In-store garden shoppers"]


def test_twins_are_merged_into_one_segment():
    rng = np.random.default_rng(0)
    blob = rng.normal(0, 1, (400, 6))
    other = rng.normal(0, 1, (300, 6)) + np.array([3, 0, 0, 2, 0, 0])
    Z = np.vstack([blob, other])
    labels = np.r_[np.where(blob[:, 0] > 0.2, 0, 1), np.full(300, 2)]  # the blob cut in two: twins
    merged, merges = merge_profile_twins(Z, labels, threshold=TWIN)
    assert len(np.unique(merged)) == 2 and len(merges) == 1
    assert (merged[:400] == merged[0]).all() and (merged[400:] == 2).all()


def _child(segment_id: int, traits: list[tuple[str, float]]) -> dict:
    return {"segment_id": segment_id, "size": 100, "suggested_name": "Weekend toys shoppers",
            "profile": {"traits": [{"feature": f, "std_diff": s, "phrase": f"more {f}"} for f, s in traits]}}


def test_names_never_pile_up_over_ten_snapshots_of_splits_and_merges():
    """A 10-snapshot timeline where segment 0 splits each time and pairs merge back."""
    traits = [("weekend", 1.5), ("category_toys", 1.2), ("event_refund", 0.9), ("channel_social", 0.7),
              ("time_night", 0.6), ("category_garden", 0.55)]
    previous, lineage = None, 1
    names_seen: list[str] = []
    for step in range(10):
        ids = [0, 1, 2] if step % 2 == 0 else [0, 1]
        current = pd.DataFrame([_child(i, traits[i:] + traits[:i]) for i in ids])
        current["suggested_name"] = "Weekend toys shoppers"  # the namer proposes the same words for all
        if previous is None:
            tracked = carry_lineage(None, current, None, lineage)
        else:
            if step % 2 == 0:   # 0 -> 0 and 2 (split), 1 survives
                t = pd.DataFrame({"from_segment": [0, 0, 1], "to_segment": [0, 2, 1],
                                  "kind": ["split", "split", "survived"], "overlap": [0.5, 0.5, 0.9]})
            else:               # 0 and 2 merge into 0, 1 survives
                t = pd.DataFrame({"from_segment": [0, 2, 1], "to_segment": [0, 0, 1],
                                  "kind": ["merged", "merged", "survived"], "overlap": [0.9, 0.9, 0.9]})
            tracked = carry_lineage(previous, current, t.astype({"from_segment": "Int64", "to_segment": "Int64"}),
                                    lineage)
        lineage = int(pd.to_numeric(tracked["lineage_id"]).max()) + 1
        names = tracked["suggested_name"].tolist()
        assert len(set(names)) == len(names), names
        names_seen += names
        previous = tracked.drop(columns=["parents", "review", "lineage_from"])
    for name in names_seen:
        assert "(split)" not in name and not name.rstrip().split()[-1].isdigit(), name
        words = name.replace(",", "").split()
        assert len(words) == len(set(words)) or "more" in words, name


def test_unique_name_adds_words_before_numbers():
    traits = [{"feature": "weekend", "std_diff": 1.4, "phrase": "1.8× more weekend"},
              {"feature": "category_toys", "std_diff": 1.1, "phrase": "2.0× more toys"},
              {"feature": "event_refund", "std_diff": 0.8, "phrase": "3.0× more refunds"}]
    taken: set[str] = set()
    for _ in range(4):
        name = unique_name(traits, taken)
        assert name not in taken and not name.split()[-1].isdigit(), name
        taken.add(name)
    assert sorted(taken) == sorted([
        "Weekend returns-prone toys shoppers", "Weekend returns-prone toys shoppers, 1.8× more weekend",
        "Weekend returns-prone toys shoppers, 2.0× more toys",
        "Weekend returns-prone toys shoppers, 3.0× more refunds"])


def test_a_young_segment_that_sharpens_keeps_its_lineage():
    """Emerged last time with 60 customers, now 130 and purer: its profile moved, its customers did not."""
    before = members({0: range(0, 300), 1: range(300, 360)})
    after = members({4: range(0, 290), 5: list(range(300, 355)) + list(range(900, 975))})
    old = lifts({0: SOCIAL_TOYS, 1: {"night": 1.0, "refunds": 0.8}})
    new = lifts({4: SOCIAL_TOYS, 5: {"night": 3.0, "refunds": 2.8, "garden": 1.0}})
    assert profile_distance(old, new).at[1, 5] > UNLIKE
    assert kinds(match_segments(before, after, lifts=(old, new))) == {(0, 4): "survived", (1, 5): "survived"}


def behaviour(groups: dict[range, dict[str, float]], seed: int) -> pd.DataFrame:
    """A feature table: each range of customers around its own means (1 standard deviation of noise)."""
    rng = np.random.default_rng(seed)
    frames = []
    for customers, means in groups.items():
        centre = np.array([means.get(f, 0.0) for f in FEATURES])
        frames.append(pd.DataFrame(centre + rng.normal(size=(len(customers), len(FEATURES))),
                                   index=[f"C{c:04d}" for c in customers], columns=FEATURES))
    return pd.concat(frames)


def test_group_shift_follows_a_group_own_behaviour_not_the_season():
    before = behaviour({range(0, 200): SOCIAL_TOYS, range(200, 400): STORE_GARDEN}, seed=1)
    season = before + 3.0  # everybody doubles down on everything: nobody's lift moves
    moved = behaviour({range(0, 200): NIGHT_REFUNDS, range(200, 400): STORE_GARDEN}, seed=2)
    group = [f"C{c:04d}" for c in range(0, 200)]
    assert group_shift(before, season, group) < 0.01
    assert group_shift(before, behaviour({range(0, 200): SOCIAL_TOYS, range(200, 400): STORE_GARDEN}, seed=3),
                       group) < SHIFTED
    assert group_shift(before, moved, group) > SHIFTED
    assert np.isnan(group_shift(before, moved, ["nobody"]))
    # a group most of which was not there before (sign-ups) has no earlier behaviour to show: NaN,
    # though the customers who were there did not change
    joined = pd.concat([season, behaviour({range(1000, 1201): SOCIAL_TOYS}, seed=4)])
    newcomers = group + [f"C{c:04d}" for c in range(1000, 1201)]
    assert np.isnan(group_shift(before, joined, newcomers))
    assert group_shift(before, joined, newcomers[:399]) < 0.1  # half of them there before: judged on those


def funnel_windows(seed: int = 0, n: int = 3000, converts: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Two overlapping windows of one population: five purchase-funnel features driven by whether a
    customer bought in the window (half a customer's own habit, half the window's luck: test-retest
    correlation about 0.5), and three steady features. The first ``converts`` customers take up a new
    habit in the second window (three steady features up by 2 standard deviations)."""
    rng = np.random.default_rng(seed)
    habit, steady = rng.normal(size=n), rng.normal(size=(n, 3))
    index = [f"C{c:04d}" for c in range(n)]

    def window(shifted: bool) -> pd.DataFrame:
        bought = habit + rng.normal(size=n)
        funnel = bought[:, None] + 0.3 * rng.normal(size=(n, 5))
        traits = steady + 0.3 * rng.normal(size=(n, 3))
        if shifted:
            traits[:converts] += 2.0
        return pd.DataFrame(np.hstack([funnel, traits]), index=index,
                            columns=["purchases", "purchase_events", "conversion", "spend", "basket",
                                     "web", "evening", "beauty"])

    return window(False), window(True)


def test_group_shift_does_not_mistake_regression_to_the_mean_for_new_behaviour():
    """Customers chosen for buying in this window looked more average the window before, though
    nobody changed: that is selection, not new behaviour. Customers who took up a new habit moved."""
    before, now = funnel_windows(seed=4, converts=300)
    buyers = now.index[300:][now["purchases"].iloc[300:].to_numpy() > np.quantile(now["purchases"].iloc[300:], 0.85)]
    lift = lambda frame, ids: ((frame.loc[ids].mean() - frame.mean()) / frame.std(ddof=0)).to_frame().T  # noqa: E731
    assert profile_distance(lift(before, buyers), lift(now, buyers)).iloc[0, 0] > SHIFTED  # the naive view
    assert group_shift(before, now, buyers) < SHIFTED / 2
    assert group_shift(before, now, now.index[:300]) > SHIFTED
    # too few customers beside the group to learn the windows' regression: the plain comparison stands
    small = before.iloc[:330], now.iloc[:330]
    assert expected_before(small[0], small[1], small[1].index[:300]) is None


def test_a_refit_that_tells_apart_a_merged_segment_reports_a_split_not_an_emergence():
    """The previous fit put two behaviours into segment 0; this fit tells them apart (segment 7).

    7 is unlike every earlier segment by profile, and all its customers were in 0: when those
    customers behave as they did, 7 is a part of 0 (split); when they took up new behaviour, 7
    emerged.
    """
    before = members({0: range(0, 300), 1: range(300, 500)})
    after = members({5: range(0, 200), 7: range(200, 300), 6: range(300, 500)})
    old = lifts({0: {"social": 1.2, "toys": 0.9, "night": 0.6, "refunds": 0.5}, 1: STORE_GARDEN})
    new = lifts({5: SOCIAL_TOYS, 6: STORE_GARDEN, 7: NIGHT_REFUNDS})
    then = behaviour({range(0, 200): SOCIAL_TOYS, range(200, 300): NIGHT_REFUNDS, range(300, 500): STORE_GARDEN}, 1)
    same = behaviour({range(0, 200): SOCIAL_TOYS, range(200, 300): NIGHT_REFUNDS, range(300, 500): STORE_GARDEN}, 2)
    changed = behaviour({range(0, 200): SOCIAL_TOYS, range(200, 300): NIGHT_REFUNDS,
                         range(300, 500): STORE_GARDEN}, 2)
    then_changed = behaviour({range(0, 300): SOCIAL_TOYS, range(300, 500): STORE_GARDEN}, 1)

    checks: list[dict] = []
    unchanged = kinds(match_segments(before, after, lifts=(old, new), checks=checks,
                                     behaviour_shift=lambda ids: group_shift(then, same, ids)))
    assert unchanged == {(0, 5): "survived", (0, 7): "split", (1, 6): "survived"}
    assert checks[0]["segment_id"] == 7 and checks[0]["customers"] == 100 and not checks[0]["new"]
    took_up = kinds(match_segments(before, after, lifts=(old, new),
                                   behaviour_shift=lambda ids: group_shift(then_changed, changed, ids)))
    assert took_up == {(0, 5): "survived", (None, 7): "emerged", (1, 6): "survived"}
    # without the customers' own behaviour (e.g. the previous models were reused), profiles alone say emerged
    assert kinds(match_segments(before, after, lifts=(old, new)))[(None, 7)] == "emerged"


def test_a_segment_whose_customers_went_two_new_ways_split():
    """Nothing continues segment 0: half its customers changed their categories, half their channels."""
    before = members({0: range(0, 400), 1: range(400, 700)})
    after = members({5: range(0, 190), 6: range(200, 400), 7: range(400, 700)})
    old = lifts({0: {"social": 2.0, "toys": 1.6}, 1: STORE_GARDEN})
    new = lifts({5: {"social": 2.0, "night": 2.2, "refunds": 1.5}, 6: {"toys": 1.6, "night": 1.8, "garden": -1.5},
                 7: STORE_GARDEN})
    assert profile_distance(old, new).loc[0, [5, 6]].min() > UNLIKE  # each part is unlike the parent
    assert kinds(match_segments(before, after, lifts=(old, new))) == {
        (0, 5): "split", (0, 6): "split", (1, 7): "survived"}
    # while part of segment 0 keeps its behaviour, the part that changed is new behaviour
    after_kept = members({5: range(0, 190), 6: range(200, 300), 8: range(300, 400), 7: range(400, 700)})
    new_kept = lifts({5: {"social": 2.0, "night": 2.2, "refunds": 1.5}, 6: {"toys": 1.6, "night": 1.8, "garden": -1.5},
                      8: {"social": 2.0, "toys": 1.5}, 7: STORE_GARDEN})
    result = kinds(match_segments(before, after_kept, lifts=(old, new_kept)))
    assert result[(0, 8)] == "survived" and result[(None, 5)] == "emerged" and result[(None, 6)] == "emerged"


def test_a_segment_whose_customers_took_up_new_behaviour_together_survives_shifted():
    """A fading persona: two thirds of segment 0 went quiet, the rest now buy rarely (a new profile)."""
    before = members({0: range(0, 300), 1: range(300, 600)})
    after = members({5: range(0, 100), 6: range(300, 600)})  # 200 of segment 0 are gone
    old = lifts({0: SOCIAL_TOYS, 1: STORE_GARDEN})
    new = lifts({5: {"refunds": -1.5, "night": -2.0, "social": 0.3}, 6: STORE_GARDEN})
    assert profile_distance(old, new).loc[:, 5].min() > UNLIKE
    assert kinds(match_segments(before, after, lifts=(old, new))) == {(0, 5): "survived", (1, 6): "survived"}
    # its last sixth, a month on: few of what it held (below tau_split), but all of it that is left
    last = members({5: range(0, 50), 6: range(300, 600)})
    assert kinds(match_segments(before, last, lifts=(old, new))) == {(0, 5): "survived", (1, 6): "survived"}
    # made mostly of newcomers, the same profile is new behaviour beside a disappearance
    newcomers = members({5: list(range(0, 100)) + list(range(1000, 1300)), 6: range(300, 600)})
    assert kinds(match_segments(before, newcomers, lifts=(old, new))) == {
        (None, 5): "emerged", (1, 6): "survived", (0, None): "disappeared"}


def test_a_small_group_the_refit_draws_again_with_another_edge_survives():
    """A small value tier across personas: the refit keeps a third of it and takes in as many customers
    of a big segment (a new edge, a new profile); the rest of it scatters. Not an emergence beside a
    disappearance."""
    before = members({0: range(0, 600), 1: range(600, 660)})
    redrawn = members({-1: range(642, 660), 5: list(range(0, 578)) + list(range(622, 642)),
                       6: list(range(600, 622)) + list(range(578, 600)) + list(range(1000, 1004))})
    old = lifts({0: SOCIAL_TOYS, 1: {"night": 2.0, "refunds": 1.5}})
    new = lifts({5: SOCIAL_TOYS, 6: {"store": 1.0, "garden": 1.2, "refunds": 0.6}})
    assert profile_distance(old, new).loc[:, 6].min() > UNLIKE  # unlike both, and no old segment gave most of it
    assert kinds(match_segments(before, redrawn, lifts=(old, new))) == {(0, 5): "survived", (1, 6): "survived"}
    # holding only a sixth of the small group, the new profile is new behaviour beside a disappearance
    apart = members({-1: range(610, 660), 5: range(0, 578), 6: list(range(600, 610)) + list(range(578, 600))})
    assert kinds(match_segments(before, apart, lifts=(old, new))) == {
        (0, 5): "survived", (None, 6): "emerged", (1, None): "disappeared"}


def test_a_new_behaviour_beside_an_heir_that_changed_too_is_a_split():
    """Half of segment 0 changed its categories (7, unlike every old segment), half its channels (5,
    still like 0): the old behaviour went two ways, a split. When the heir's customers stayed as
    they were, 7 is a behaviour that formed inside 0: emerged beside a survivor."""
    before = members({0: range(0, 400), 1: range(400, 600)})
    after = members({5: range(0, 200), 7: range(200, 400), 6: range(400, 600)})
    old = lifts({0: SOCIAL_TOYS, 1: STORE_GARDEN})
    new = lifts({5: {"social": 2.0, "toys": 1.5, "store": 0.8}, 6: STORE_GARDEN, 7: NIGHT_REFUNDS})
    assert profile_distance(old, new).at[0, 5] <= UNLIKE < profile_distance(old, new)[7].min()
    then = behaviour({range(0, 400): SOCIAL_TOYS, range(400, 600): STORE_GARDEN}, 1)
    both_moved = behaviour({range(0, 200): {"social": 0.5, "toys": 1.5, "store": 2.0},
                            range(200, 400): NIGHT_REFUNDS, range(400, 600): STORE_GARDEN}, 2)
    one_moved = behaviour({range(0, 200): SOCIAL_TOYS, range(200, 400): NIGHT_REFUNDS,
                           range(400, 600): STORE_GARDEN}, 2)
    split = kinds(match_segments(before, after, lifts=(old, new),
                                 behaviour_shift=lambda ids: group_shift(then, both_moved, ids)))
    assert split == {(0, 5): "split", (0, 7): "split", (1, 6): "survived"}
    formed = kinds(match_segments(before, after, lifts=(old, new),
                                  behaviour_shift=lambda ids: group_shift(then, one_moved, ids)))
    assert formed == {(0, 5): "survived", (None, 7): "emerged", (1, 6): "survived"}


def test_most_of_a_lumped_segment_merging_into_another_is_a_merge_and_its_rest_survives():
    """Segment 1 lumped B (400) and C (200); B's customers converged with segment 0's (A) on a mixture.
    The refit: A and B together (5, segment 0's survivor), C on its own (6, what is left of 1)."""
    before = members({0: range(0, 500), 1: range(500, 1100)})
    after = members({5: range(0, 900), 6: range(900, 1100)})
    old = lifts({0: SOCIAL_TOYS, 1: {"store": 1.0, "garden": 0.8, "night": 1.2, "refunds": 1.0}})
    new = lifts({5: {"social": 1.2, "toys": 0.9, "store": 1.0, "garden": 0.8}, 6: NIGHT_REFUNDS})
    assert profile_distance(old, new).at[1, 6] <= UNLIKE  # C still resembles the segment that held it
    then = behaviour({range(0, 500): SOCIAL_TOYS, range(500, 900): STORE_GARDEN, range(900, 1100): NIGHT_REFUNDS}, 1)
    mixture = {"social": 1.0, "toys": 0.8, "store": 1.0, "garden": 0.8}
    converged = behaviour({range(0, 900): mixture, range(900, 1100): NIGHT_REFUNDS}, 2)
    result = kinds(match_segments(before, after, lifts=(old, new),
                                  behaviour_shift=lambda ids: group_shift(then, converged, ids)))
    assert result == {(0, 5): "merged", (1, 5): "merged", (1, 6): "survived"}
    # B took up A's behaviour while A stayed as it was: no merge (the reused models show it as B's
    # customers moving into A's segment); segment 1 survives as C
    absorbed = behaviour({range(0, 900): SOCIAL_TOYS, range(900, 1100): NIGHT_REFUNDS}, 2)
    result = kinds(match_segments(before, after, lifts=(old, new),
                                  behaviour_shift=lambda ids: group_shift(then, absorbed, ids)))
    assert result == {(0, 5): "survived", (1, 6): "survived"}
    # without the customers' own behaviour nothing tells a merge: as before
    assert kinds(match_segments(before, after, lifts=(old, new))) == {(0, 5): "survived", (1, 6): "survived"}


def test_a_small_segment_redrawn_with_part_of_its_neighbour_survives():
    """Seasonal seed 100, weekly: a refit draws a small persona's segment (90) again with 110 of its
    neighbour's customers. Most of the neighbour (0) goes on; the part it sheds holds 94 % of the
    small segment (1), so it continues 1: not a split of 0 beside 1 disappearing."""
    before = members({0: range(0, 600), 1: range(600, 690)})
    after = members({5: range(0, 490), 6: list(range(490, 600)) + list(range(600, 685))})
    old = lifts({0: SOCIAL_TOYS, 1: {"social": 2.0, "toys": 1.5, "night": 1.2}})
    new = lifts({5: SOCIAL_TOYS, 6: {"social": 2.0, "toys": 1.5, "night": 0.7}})
    assert kinds(match_segments(before, after, lifts=(old, new))) == {(0, 5): "survived", (1, 6): "survived"}
    # a co-equal split (no child holds most of the parent) is not taken for a continuation
    after = members({5: range(0, 300), 6: list(range(300, 600)) + list(range(600, 685))})
    assert kinds(match_segments(before, after, lifts=(old, new)))[(0, 5)] == "split"
    # a group still forming (not announced) that the shed part takes in ends there: the part is a split
    after = members({5: range(0, 490), 6: list(range(490, 600)) + list(range(600, 685))})
    held = kinds(match_segments(before, after, lifts=(old, new), forming={1}))
    assert held == {(0, 5): "survived", (0, 6): "split", (1, None): "disappeared"}

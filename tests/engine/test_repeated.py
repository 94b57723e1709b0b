"""A difference between two groups counts only as far as their customers repeat it on both halves
of their events: a pocket of customers whose few events leaned one way by chance is one behaviour."""

from __future__ import annotations

import numpy as np
import pytest

from segmentation.engine.descent import split_distinct_children
from segmentation.engine.repeated import SplitHalves, repeated_share
from segmentation.engine.resemblance import TWIN, UNLIKE, merge_profile_twins


def _shares(counts: np.ndarray) -> np.ndarray:
    return counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)


def _customers(mixes: list[list[float]], sizes: list[int], seed: int = 0, n_events: tuple[int, int] = (4, 31)):
    """Customers drawing 4–30 events each (``n_events``: low, high + 1) from their persona's mix (5
    event types); every event falls in one of two halves at random. Returns the standardised shares on all events and on each half,
    and the persona of each customer."""
    rng = np.random.default_rng(seed)
    full, halves, truth = [], ([], []), []
    for persona, (mix, size) in enumerate(zip(mixes, sizes)):
        for _ in range(size):
            events = rng.choice(len(mix), size=rng.integers(*n_events), p=mix)
            half = rng.random(len(events)) < 0.5
            full.append(np.bincount(events, minlength=len(mix)))
            halves[0].append(np.bincount(events[half], minlength=len(mix)))
            halves[1].append(np.bincount(events[~half], minlength=len(mix)))
            truth.append(persona)
    full, first, second = (_shares(np.array(x, dtype=float)) for x in (full, *halves))
    present = (np.array(halves[0]).sum(axis=1) > 0) & (np.array(halves[1]).sum(axis=1) > 0)
    mean, std = full.mean(axis=0), full.std(axis=0)
    scale = lambda x: (x - mean) / std  # noqa: E731 - one scaling for the three tables
    return scale(full), SplitHalves(scale(first), scale(second), present), np.array(truth)


ONE = [0.4, 0.3, 0.15, 0.1, 0.05]
OTHER = [0.1, 0.15, 0.15, 0.3, 0.3]


@pytest.fixture(scope="module")
def one_persona_with_a_pocket():
    """One persona, and the customers whose third share happened to be highest (top 8 %): a pocket
    drawn by selection, 1–2 sd from the rest on the features that chose it."""
    Z, halves, _ = _customers([ONE], [1500])
    pocket = Z[:, 2] >= np.quantile(Z[:, 2], 0.92)
    return Z, halves, pocket


def test_a_pocket_selected_from_noise_is_not_a_repeated_difference(one_persona_with_a_pocket):
    Z, halves, pocket = one_persona_with_a_pocket
    gap = Z[pocket].mean(axis=0) - Z[~pocket].mean(axis=0)
    assert np.abs(gap).max() > 1.5  # far apart on the events that chose it ...
    half_gap = halves.first[pocket & halves.present, 2].mean() - halves.first[~pocket & halves.present, 2].mean()
    assert half_gap > 0.8  # ... and still on a random half of them (it shares the selected noise)
    assert repeated_share(Z, halves, ~pocket, pocket) < 0.25  # but nobody repeats it


def test_two_personas_differ_in_what_their_customers_repeat():
    Z, halves, truth = _customers([ONE, OTHER], [1200, 150], seed=1)
    assert repeated_share(Z, halves, truth == 0, truth == 1) > 0.85
    assert repeated_share(Z, halves, truth == 1, truth == 0) > 0.85  # either way round


def test_too_few_customers_in_the_groups_leave_the_difference_as_found():
    Z, halves, truth = _customers([ONE, OTHER], [20, 5], seed=2)
    assert repeated_share(Z, halves, truth == 0, truth == 1) == 1.0


def test_a_difference_only_one_time_customers_show_does_not_count():
    """Customers with one event sit on a corner of the share simplex: those who happened to do one
    thing are far from those who did another, and no customer can repeat it."""
    Z, halves, _ = _customers([ONE], [600], seed=3, n_events=(1, 2))
    assert not halves.present.any()
    first, second = Z[:, 0] > 0, Z[:, 1] > 0  # their one event was of the first type / of the second
    assert np.abs(Z[first].mean(axis=0) - Z[second].mean(axis=0)).max() > 2  # far apart ...
    assert repeated_share(Z, halves, first, second) == 0.0  # ... and nothing of it repeated
    labels = np.where(first, 0, np.where(second, 1, -1))
    merged, _ = merge_profile_twins(Z, labels, TWIN, repeated=([0, 1, 2, 3, 4], halves))
    assert len(np.unique(merged[merged >= 0])) == 1
    kept, _ = merge_profile_twins(Z, labels, TWIN)
    assert len(np.unique(kept[kept >= 0])) == 2  # without the halves the corners stay apart


def test_the_twins_merge_a_pocket_back_with_the_halves_and_keep_it_without(one_persona_with_a_pocket):
    Z, halves, pocket = one_persona_with_a_pocket
    labels = pocket.astype(np.int64)
    kept, none = merge_profile_twins(Z, labels, TWIN)
    assert none == [] and np.array_equal(kept, labels)  # its profile is far from the rest's
    merged, (merge,) = merge_profile_twins(Z, labels, TWIN, (list(range(Z.shape[1])), halves))
    assert len(np.unique(merged)) == 1 and merge["distance"] > TWIN >= merge["repeated"]
    assert merge["sizes"] == [int((~pocket).sum()), int(pocket.sum())]


def test_the_twins_keep_two_personas_with_the_halves():
    Z, halves, truth = _customers([ONE, OTHER], [1200, 150], seed=1)
    merged, merges = merge_profile_twins(Z, truth, TWIN, (list(range(Z.shape[1])), halves))
    assert merges == [] and np.array_equal(merged, truth)


def test_on_a_purchase_log_a_pocket_of_mix_is_a_twin_only_where_value_is_alike_too(one_persona_with_a_pocket):
    """With the rest asked to be alike too (a purchase log: value and rhythm are the behaviour), a pocket
    of one persona's mix merges back when its customers spend as the rest do, and stays its own segment
    when they spend otherwise, which the mix alone would merge."""
    Z, halves, pocket = one_persona_with_a_pocket
    spend = np.random.default_rng(5).normal(size=(len(Z), 1))
    mix = list(range(Z.shape[1]))
    rest = [Z.shape[1]]
    labels = pocket.astype(np.int64)
    alike = np.hstack([Z, spend])
    merged, (merge,) = merge_profile_twins(alike, labels, TWIN, (mix, halves, rest))
    assert len(np.unique(merged)) == 1 and merge["repeated"] <= TWIN < merge["distance"]
    richer = np.hstack([Z, spend + 2.0 * pocket[:, None]])  # the pocket's customers spend 2 sd more
    kept, none = merge_profile_twins(richer, labels, TWIN, (mix, halves, rest))
    assert none == [] and np.array_equal(kept, labels)
    by_mix_alone, merges = merge_profile_twins(richer, labels, TWIN, (mix, halves))
    assert len(merges) == 1 and len(np.unique(by_mix_alone)) == 1


def test_a_merge_measures_the_merged_group_afresh_not_its_part():
    """Three pockets of one persona merge in turn; each merge's repeated distance is the one of the
    groups as they are then (the shares of a pair a merge changed are measured again)."""
    from segmentation.engine.resemblance import lifts_of_labels, profile_distance, repeated_distances

    Z, halves, _ = _customers([ONE], [1500], seed=4)
    labels = np.where(Z[:, 2] >= np.quantile(Z[:, 2], 0.92), 1, np.where(Z[:, 3] >= np.quantile(Z[:, 3], 0.9), 2, 0))
    labels = np.where((labels == 0) & (Z[:, 0] >= np.quantile(Z[:, 0], 0.9)), 3, labels)
    mix = list(range(Z.shape[1]))
    merged, merges = merge_profile_twins(Z, labels, TWIN, (mix, halves))
    assert len(merges) == 3 and len(np.unique(merged)) == 1
    replay = labels.copy()
    for merge in merges:  # each recorded distance, measured from scratch on the labels of its turn
        lifts = lifts_of_labels(Z, replay)
        ids = lifts.index.to_numpy()
        fresh = repeated_distances(Z, replay, ids, profile_distance(lifts, lifts).to_numpy(), halves)
        i, j = np.flatnonzero(ids == merge["kept"])[0], np.flatnonzero(ids == merge["merged"])[0]
        assert merge["repeated"] == pytest.approx(min(fresh[i, j], merge["distance"]), abs=1e-3)
        replay = np.where(replay == merge["merged"], merge["kept"], replay)


def test_the_split_by_mix_needs_a_difference_the_customers_repeat():
    """HDBSCAN keeps two neighbouring blobs as one cluster whose children differ in mix: split when the
    halves repeat the difference, not when each customer's halves look like the other child."""
    import hdbscan

    rng = np.random.default_rng(0)
    space = np.vstack([rng.normal([0, 0], 0.6, (400, 2)), rng.normal([2, 0], 0.6, (300, 2)),
                       rng.normal([20, 20], 0.6, (300, 2))])
    mixes = ([0.7, 0.2, 0.1], [0.1, 0.8, 0.1], [0.1, 0.1, 0.8])
    mix = np.vstack([rng.dirichlet(np.array(p) * 40, n) for p, n in zip(mixes, (400, 300, 300))])
    clusterer = hdbscan.HDBSCAN(min_cluster_size=60).fit(space)
    noisy = lambda x: x + rng.normal(0, 0.05, x.shape)  # noqa: E731 - each half: the mix, resampled
    present = np.ones(len(mix), dtype=bool)
    repeated = SplitHalves(noisy(mix), noisy(mix), present)
    labels, splits = split_distinct_children(clusterer, mix, clusterer.labels_, UNLIKE, space=space,
                                             halves=repeated)
    assert len(splits) == 1 and len(np.unique(labels[labels >= 0])) == 3
    one_mix = np.vstack([rng.dirichlet(np.array(mixes[0]) * 40, 700), mix[700:]])  # the halves: one behaviour
    chance = SplitHalves(noisy(one_mix), noisy(one_mix), present)
    labels, splits = split_distinct_children(clusterer, mix, clusterer.labels_, UNLIKE, space=space, halves=chance)
    assert splits == [] and np.array_equal(labels, clusterer.labels_)


def test_the_pipeline_takes_the_halves_by_customer_and_says_so():
    import pandas as pd

    from segmentation.engine.inputs import PipelineInputError
    from segmentation.engine.pipeline import SegmentationPipeline

    Z, halves, truth = _customers([ONE, OTHER], [400, 300], seed=3)
    ids = pd.Index([f"c{i}" for i in range(len(Z))], name="customer_id")
    columns = [f"share_{j}" for j in range(Z.shape[1])]
    X = pd.DataFrame(Z, index=ids, columns=columns)
    first = pd.DataFrame(halves.first, index=ids, columns=columns)[halves.present]
    second = pd.DataFrame(halves.second, index=ids, columns=columns).iloc[::-1]  # any order: joined by customer
    fast = dict(encoder="passthrough", reducer="passthrough", map_reducer="passthrough", min_cluster_size=0.05,
                mix_columns=columns)
    fitted = SegmentationPipeline(**fast).fit(X, halves=(first, second))
    assert "the same behaviour mix in what their customers repeat" in fitted.granularity_["why"]
    assert "repeat" not in SegmentationPipeline(**fast).fit(X).granularity_["why"]
    assert "repeat" not in SegmentationPipeline(**fast, mix_twins=False).fit(X, halves=(first, second)).granularity_["why"]
    rest = SegmentationPipeline(**fast, mix_twins="rest alike").fit(X, halves=(first, second)).granularity_["why"]
    assert "repeat on both halves of their events and alike in everything else" in rest
    with pytest.raises(ValueError, match="mix_twins must be True, False or 'rest alike', not 'rest-alike'"):
        SegmentationPipeline(**fast, mix_twins="rest-alike").fit(X, halves=(first, second))
    with pytest.raises(PipelineInputError, match="halves need X as a DataFrame"):
        SegmentationPipeline(**fast).fit(X.to_numpy(), halves=(first, second))

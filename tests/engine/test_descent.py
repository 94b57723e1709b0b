"""A cluster HDBSCAN kept whole is split into its children when their behaviour mixes differ."""

from __future__ import annotations

import hdbscan
import numpy as np
import pytest
from sklearn.metrics import adjusted_rand_score

from segmentation.engine.clustering import segment_fit_sample
from segmentation.engine.descent import split_distinct_children
from segmentation.engine.resemblance import TWIN, UNLIKE


def _data(mix_differs: bool, seed: int = 0):
    """Two blobs side by side (400 and 300 rows; HDBSCAN keeps them as one cluster, its children
    one level down) and a far one; three mix columns (shares) and the truth."""
    rng = np.random.default_rng(seed)
    space = np.vstack([rng.normal([0, 0], 0.6, (400, 2)), rng.normal([2, 0], 0.6, (300, 2)),
                       rng.normal([20, 20], 0.6, (300, 2))])
    second = [0.1, 0.8, 0.1] if mix_differs else [0.7, 0.2, 0.1]
    mix = np.vstack([rng.dirichlet(np.array(p) * 40, n) for p, n in
                     (([0.7, 0.2, 0.1], 400), (second, 300), ([0.1, 0.1, 0.8], 300))])
    truth = np.repeat([0, 1, 2], [400, 300, 300])
    return space, mix, truth


@pytest.fixture(scope="module")
def clustered():
    space, _, truth = _data(True)
    clusterer = hdbscan.HDBSCAN(min_cluster_size=60, prediction_data=True).fit(space)
    assert len(np.unique(clusterer.labels_[clusterer.labels_ >= 0])) == 2  # the blobs side by side are one
    return clusterer, truth


def test_a_cluster_whose_children_differ_in_mix_is_split_into_them(clustered):
    clusterer, truth = clustered
    space, mix, _ = _data(True)
    labels, splits = split_distinct_children(clusterer, mix, clusterer.labels_, UNLIKE, space=space)
    assert len(np.unique(labels[labels >= 0])) == 3
    assert adjusted_rand_score(truth, labels) > 0.9
    (split,) = splits
    assert split["cluster"] == clusterer.labels_[0] and len(split["into"]) == 2
    assert split["sizes"][0] >= split["sizes"][1] > 250
    assert split["into"][0] == split["cluster"] and split["into"][1] == int(clusterer.labels_.max()) + 1


def test_children_with_the_same_mix_stay_one_segment(clustered):
    """The same two blobs, alike in mix (they differ only where the mix does not look): no split."""
    clusterer, _ = clustered
    space, mix, _ = _data(False)
    labels, splits = split_distinct_children(clusterer, mix, clusterer.labels_, UNLIKE, space=space)
    assert splits == [] and np.array_equal(labels, clusterer.labels_)


def test_the_fit_sample_segments_use_the_split_only_when_it_is_on(clustered):
    clusterer, truth = clustered
    space, mix, _ = _data(True)
    Z = np.hstack([space, mix])
    common = dict(outlier_floor=0.1, merge_alpha=None, twin_distance=TWIN, refine_neighbors=15, random_state=0,
                  min_size=60)
    on = segment_fit_sample(clusterer, Z, split_distance=UNLIKE, mix_columns=[2, 3, 4], **common)
    assert len(np.unique(on.labels[on.labels >= 0])) == 3 and adjusted_rand_score(truth, on.labels) > 0.9
    assert on.granularity["split_by_mix"][0]["sizes"][1] > 250
    assert on.granularity["why"].startswith("1 of HDBSCAN's clusters held parts whose behaviour mixes differ")
    assert on.label_map[clusterer.labels_[0]] == on.labels[0]  # the clusterer's cluster maps to its largest part
    off = segment_fit_sample(clusterer, Z, split_distance=None, mix_columns=[2, 3, 4], **common)
    assert len(np.unique(off.labels[off.labels >= 0])) == 2 and "split_by_mix" not in off.granularity
    assert len(np.unique(segment_fit_sample(clusterer, Z, split_distance=UNLIKE, mix_columns=[],
                                            **common).labels)) == 2  # no mix columns: nothing to split by


def test_the_split_is_refused_where_the_clusterer_would_score_new_customers():
    from segmentation.engine.pipeline import SegmentationPipeline

    X = np.random.default_rng(0).normal(size=(200, 3))
    with pytest.raises(ValueError, match="split_distance needs the default mapping"):
        SegmentationPipeline(encoder="passthrough", mapping="transform", split_distance=UNLIKE,
                             mix_columns=["0"]).fit(X)


def test_leaves_that_mix_alike_are_one_part_wherever_the_tree_put_them():
    """Four blobs: persona a and persona b side by side, twice. The tree's first split parts the two
    pairs, so each child holds both personas and the children mix alike; its leaves are the
    blobs. The cluster splits into a (both of its blobs) and b, not into the pairs."""
    rng = np.random.default_rng(0)
    centres, sizes = [(0, 0), (2.5, 0), (0, 3), (2.5, 3), (20, 20)], [250, 200, 200, 250, 300]
    space = np.vstack([rng.normal(c, 0.5, (n, 2)) for c, n in zip(centres, sizes)])
    a, b, c = [0.7, 0.2, 0.1], [0.1, 0.8, 0.1], [0.1, 0.1, 0.8]
    mix = np.vstack([rng.dirichlet(np.array(p) * 40, n) for p, n in zip((a, b, a, b, c), sizes)])
    truth = np.repeat([0, 1, 0, 1, 2], sizes)
    clusterer = hdbscan.HDBSCAN(min_cluster_size=60).fit(space)
    assert len(np.unique(clusterer.labels_[clusterer.labels_ >= 0])) == 2  # the four blobs are one cluster
    labels, splits = split_distinct_children(clusterer, mix, clusterer.labels_, UNLIKE, space=space)
    assert adjusted_rand_score(truth, labels) > 0.95
    (split,) = splits
    assert len(split["into"]) == 2 and split["sizes"][1] > 400  # a and b, each from two leaves

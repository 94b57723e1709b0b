"""A small segment is kept only when the clusterer finds it again on resamples: a small persona
comes back whole, a pocket cut from the edge of a large one does not and joins it."""

from __future__ import annotations

import copy
import math

import hdbscan
import numpy as np
import pandas as pd
import pytest

from segmentation.engine import clustering
from segmentation.engine.clustering import segment_fit_sample
from segmentation.engine.metrics import resample_clusterer
from segmentation.engine.reproducible import dissolve, unreproducible_small, whole_clusters


def _space(seed: int = 0):
    """Three personas of 600 customers and a small, distinct one of 30 (2-D), with their truth."""
    rng = np.random.default_rng(seed)
    centres = [(0, 0), (10, 0), (0, 10)]
    rows = [rng.normal(c, 1.0, size=(600, 2)) for c in centres] + [rng.normal((10, 10), 0.3, size=(30, 2))]
    truth = np.repeat(np.arange(4), [600, 600, 600, 30])
    return np.vstack(rows), truth


def _with_pocket(labels: np.ndarray, space: np.ndarray) -> np.ndarray:
    """``labels`` with the 30 rows of the segment around (0, 0) nearest (−3, 0) drawn as a segment of their own."""
    labels = labels.copy()
    persona0 = np.flatnonzero(labels == labels[np.argmin(np.hypot(space[:, 0], space[:, 1]))])
    edge = persona0[np.argsort(np.hypot(space[persona0, 0] + 3, space[persona0, 1]))[:30]]
    labels[edge] = labels.max() + 1
    return labels


@pytest.fixture(scope="module")
def fitted():
    space, truth = _space()
    clusterer = hdbscan.HDBSCAN(min_cluster_size=18, prediction_data=True).fit(space)
    assert len(np.unique(clusterer.labels_[clusterer.labels_ >= 0])) == 4  # the small persona is a cluster
    return space, truth, clusterer


def test_a_pocket_is_not_found_again_and_a_small_persona_is(fitted):
    space, truth, clusterer = fitted
    labels = _with_pocket(truth, space)
    found = unreproducible_small(space, labels, resample_clusterer(clusterer, 18, len(space)), below=40)
    assert list(found) == [4]  # the pocket; the small persona (segment 3, 30 rows) is kept
    assert found[4] < 0.2


def test_a_dissolved_pocket_joins_the_persona_around_it_and_the_rest_are_renumbered(fitted):
    space, truth, _ = fitted
    labels = _with_pocket(truth, space)
    pocket = labels == 4
    out, id_map, share = dissolve(space, labels, {4: 0.05})
    assert (out[pocket] == 0).all()
    np.testing.assert_array_equal(out[~pocket], truth[~pocket])
    assert id_map.tolist() == [0, 1, 2, 3, 0]
    assert np.isnan(share[~pocket]).all() and (share[pocket] > 0.5).all()  # their neighbours' vote
    # a dissolved segment in the middle of the numbering, and an id with no rows: no gaps after
    labels2 = np.select([labels == 4, labels == 3, labels == 1], [3, 5, 6], labels)  # ids 0, 2, 3, 5, 6
    out2, id_map2, _ = dissolve(space, labels2, {3: 0.05})
    assert sorted(np.unique(out2).tolist()) == [0, 1, 2, 3]
    assert id_map2.tolist() == [0, -1, 1, 0, -1, 2, 3]


def test_only_whole_clusters_are_asked_not_split_parts_or_merged_twins():
    clustered = np.array([0] * 6 + [1] * 4 + [2] * 4 + [3] * 3 + [-1] * 2)
    segments = np.array([0] * 4 + [4] * 2 + [1] * 8 + [3] * 3 + [-1] * 2)  # 4: a part of 0; 1: clusters 1 + 2
    assert whole_clusters(segments, clustered) == [3]


def test_the_fit_sample_keeps_only_the_small_segments_resamples_find_again(fitted):
    space, truth, fitted_clusterer = fitted
    clusterer = copy.deepcopy(fitted_clusterer)
    drawn = _with_pocket(clusterer.labels_, space)  # as if the clusterer had drawn the pocket
    clusterer.labels_ = drawn
    pocket = drawn == drawn.max()
    kwargs = dict(outlier_floor=None, merge_alpha=None, twin_distance=None, refine_neighbors=None, random_state=0)
    off = segment_fit_sample(clusterer, space, **kwargs)
    on = segment_fit_sample(clusterer, space, space=space, reproducible_below=40, **kwargs)
    assert len(np.unique(off.labels[off.labels >= 0])) == 5
    assert len(np.unique(on.labels[on.labels >= 0])) == 4
    big = np.bincount(on.labels[~pocket & (truth == 0) & (on.labels >= 0)]).argmax()
    assert (on.labels[pocket] == big).all()
    assert on.label_map[drawn.max()] == big  # scoring with the clusterer itself agrees
    assert [d["rows"] for d in on.granularity["dissolved"]] == [30]
    assert on.granularity["segments"] == 4 and "did not find again on resamples" in on.granularity["why"]


def test_the_pipeline_asks_with_its_share_in_rows_on_its_cluster_space(fitted, monkeypatch):
    from segmentation.engine.pipeline import SegmentationPipeline

    space, _, _ = fitted
    seen = {}
    real = clustering._keep_reproducible

    def spy(clusterer, space_rows, Z, labels, *args):
        seen.update(below=args[-3], rows=len(space_rows), dims=space_rows.shape[1], min_samples=args[-1])
        return real(clusterer, space_rows, Z, labels, *args)

    monkeypatch.setattr(clustering, "_keep_reproducible", spy)
    frame = pd.DataFrame(space, columns=["a", "b"])
    SegmentationPipeline(encoder="passthrough", reducer="passthrough", map_reducer="passthrough",
                         reproducible_below=0.03, min_samples=0.01, random_state=0).fit(frame)
    assert seen == {"below": math.ceil(0.03 * len(frame)), "rows": len(frame), "dims": 2, "min_samples": 0.01}
    with pytest.raises(ValueError, match="reproducible_below must be a positive share"):
        SegmentationPipeline(encoder="passthrough", reducer="passthrough", map_reducer="passthrough",
                             reproducible_below=float("nan")).fit(frame)


def test_a_split_part_is_not_asked_even_when_resamples_cannot_find_it(fitted):
    space, truth, clusterer = fitted
    labels = _with_pocket(truth, space)  # the pocket as segment 4
    probs = np.ones(len(labels), dtype=np.float32)
    args = (clusterer, space, space, labels, probs)
    rest = (np.arange(5), {"why": "found"}, 40, 0, None)
    as_split_part = clustering._keep_reproducible(*args, truth, *rest)  # HDBSCAN had it inside persona 0
    as_cluster = clustering._keep_reproducible(*args, labels, *rest)  # HDBSCAN drew it itself
    np.testing.assert_array_equal(as_split_part[0], labels)
    assert "dissolved" not in as_split_part[3]
    assert len(np.unique(as_cluster[0])) == 4 and [d["rows"] for d in as_cluster[3]["dissolved"]] == [30]

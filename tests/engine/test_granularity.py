"""Twin segments: a blob cut in two is one segment again; two behaviours stay two (issue 9)."""

from __future__ import annotations

import numpy as np

from segmentation.engine.granularity import choose_granularity, merge_twins


def _blobs(rng):
    one = rng.normal(0, 1, (600, 6))
    other = rng.normal(0, 1, (400, 6)) + np.r_[5.0, np.zeros(5)]
    return np.vstack([one, other])


def test_a_blob_cut_in_two_is_merged_and_a_real_second_behaviour_is_kept():
    rng = np.random.default_rng(0)
    Z = _blobs(rng)
    labels = np.r_[np.where(Z[:600, 1] > 0, 0, 1), np.full(400, 2)]  # the first blob cut in two
    labels[::97] = -1                                                 # a little noise stays noise
    merged, merges = merge_twins(Z, labels, alpha=0.05)
    assert len(merges) == 1 and {merges[0]["kept"], merges[0]["merged"]} == {0, 1}
    assert sorted(np.bincount(merged[merged >= 0]).tolist()) == sorted(
        [int(((labels == 0) | (labels == 1)).sum()), int((labels == 2).sum())])
    assert (merged[labels == -1] == -1).all()


def test_choose_granularity_maps_the_clusterers_ids_and_says_why():
    rng = np.random.default_rng(1)
    Z = _blobs(rng)
    labels = np.r_[np.where(Z[:600, 1] > 0, 0, 1), np.full(400, 2)]
    out, label_map, why = choose_granularity(Z, labels, 0.05, n_clusters=3, random_state=0)
    assert why["clusters_found"] == 3 and why["segments"] == 2 and len(why["merges"]) == 1
    assert label_map[0] == label_map[1] != label_map[2]
    np.testing.assert_array_equal(label_map[labels], out)
    kept, same_map, why_off = choose_granularity(Z, labels, None, n_clusters=3)
    np.testing.assert_array_equal(kept, labels)
    assert why_off["segments"] == 3 and "not merged" in why_off["why"]


def test_profile_twins_become_one_segment_for_fitted_and_scored_rows():
    """Two clusters with one profile are one segment; the label map sends the clusterer's clusters there too."""
    rng = np.random.default_rng(1)
    blob = rng.normal(0, 1, (400, 5))
    other = rng.normal(0, 1, (300, 5)) + np.array([4, 0, 2, 0, 0])
    Z = np.vstack([blob, other])
    clusters = np.r_[np.where(np.arange(400) % 2 == 0, 0, 2), np.full(300, 1)]  # 0 and 2: one behaviour
    labels, label_map, why = choose_granularity(Z, clusters, None, 3, twin_distance=0.6)
    assert len(np.unique(labels)) == 2 and len(why["profile_twins"]) == 1
    assert label_map[0] == label_map[2] != label_map[1]
    assert (labels[:400] == label_map[0]).all() and (labels[400:] == label_map[1]).all()
    kept, _, _ = choose_granularity(Z, clusters, None, 3, twin_distance=None)
    assert len(np.unique(kept)) == 3

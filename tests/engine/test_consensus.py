"""The consensus of several fits (``consensus=R``): what most fits put together stays together."""

from __future__ import annotations

import numpy as np
import pytest

from segmentation.engine.consensus import consensus_labels
from segmentation.engine.inputs import PipelineInputError
from segmentation.engine.metrics import adjusted_rand


def _blocks(*sizes):
    return np.repeat(np.arange(len(sizes)), sizes)


def test_a_block_one_fit_cuts_differently_follows_the_other_fits():
    truth = _blocks(40, 30, 30)
    odd = truth.copy()
    odd[40:55] = 0  # one fit gives half of segment 1 to segment 0
    labels, probabilities = consensus_labels([truth, odd, truth], min_size=5)
    assert adjusted_rand(truth, labels) == 1.0
    # the probability is the mean co-association with the segment: with all of it in two fits, half in one
    assert np.allclose(probabilities[40:70], (1 + 0.5 + 1) / 3)
    assert np.allclose(probabilities[:40], 1.0)


def test_segments_are_numbered_by_size_and_ids_do_not_matter():
    truth = _blocks(20, 50, 30)
    renamed = np.array([7, 3, 5])[truth]
    labels, _ = consensus_labels([truth, renamed, truth], min_size=5)
    assert (np.bincount(labels) == [50, 30, 20]).all()
    assert adjusted_rand(truth, labels) == 1.0


def test_customers_noise_in_most_fits_stay_noise_and_the_others_are_placed():
    truth = _blocks(40, 40)
    a, b, c = truth.copy(), truth.copy(), truth.copy()
    a[:5] = b[:5] = -1  # noise in two of three fits
    c[40:45] = -1  # noise in one fit only
    labels, _ = consensus_labels([a, b, c], min_size=5)
    assert (labels[:5] == -1).all() and (labels[5:] >= 0).all()
    assert adjusted_rand(truth[5:], labels[5:]) == 1.0


def test_a_group_below_the_floor_joins_the_group_it_is_most_with():
    truth = _blocks(50, 50)
    split = truth.copy()
    split[:4] = 2  # 4 customers on their own in two fits, with segment 0 in the third
    labels, _ = consensus_labels([split, split, truth], min_size=10)
    assert len(np.unique(labels)) == 2 and (labels[:4] == labels[10]).all()
    kept, _ = consensus_labels([split, split, truth], min_size=3)  # above this floor they are a segment
    assert len(np.unique(kept)) == 3


def test_groups_drawn_on_a_subset_give_every_customer_the_same_segments():
    rng = np.random.default_rng(0)
    truth = _blocks(400, 300, 300)
    runs = []
    for _ in range(5):
        run = truth.copy()
        flip = rng.random(len(run)) < 0.05  # each fit misplaces 5 % of the customers at random
        run[flip] = rng.integers(0, 3, flip.sum())
        runs.append(run)
    whole, _ = consensus_labels(runs, min_size=20)
    subset, _ = consensus_labels(runs, min_size=20, max_rows=200)
    assert adjusted_rand(truth, whole) > 0.99 and adjusted_rand(whole, subset) > 0.99
    assert np.mean([adjusted_rand(truth, run) for run in runs]) < 0.9  # the fits alone are worse


def test_fits_of_different_rows_are_refused():
    with pytest.raises(ValueError, match="same rows"):
        consensus_labels([np.zeros(5, int), np.zeros(6, int)], min_size=1)


@pytest.fixture(scope="module")
def blobs():
    from sklearn.datasets import make_blobs

    return make_blobs(n_samples=400, n_features=6, centers=4, cluster_std=1.0, random_state=5)


def _pipeline(**params):
    from segmentation.engine.pipeline import SegmentationPipeline

    return SegmentationPipeline(encoder="passthrough", map_reducer="passthrough", min_cluster_size=0.05, **params)


def test_the_pipeline_keeps_what_its_fits_agree_on_and_maps_new_customers_to_it(blobs):
    X, y = blobs
    model = _pipeline(consensus=3, fit_sample_size=300).fit(X)
    assert model.granularity_["consensus"]["fits"] == 3 and len(model.granularity_["consensus"]["segments"]) == 3
    assert "3 fits with their own seeds" in model.granularity_["why"]
    assert adjusted_rand(y, model.labels_) > 0.95
    rest = np.setdiff1d(np.arange(len(X)), model.fit_sample_index_)
    assert (model.assign(X[rest])["segment_id"].to_numpy() == model.labels_[rest]).mean() > 0.95


@pytest.mark.parametrize("value", [0, 2.5, True])
def test_consensus_must_be_a_whole_number_of_fits(blobs, value):
    with pytest.raises(PipelineInputError, match="consensus must be a whole number"):
        _pipeline(consensus=value).fit(blobs[0])


def test_consensus_refuses_the_models_own_transforms(blobs):
    with pytest.raises(ValueError, match="consensus needs the default mapping"):
        _pipeline(consensus=3, mapping="transform").fit(blobs[0])


def test_each_further_fit_is_announced_as_it_starts(blobs):
    """A consensus takes R times a fit: the command line and the app say which fit is running."""
    from types import SimpleNamespace

    from segmentation.workflows.reuse import _step_lines

    steps = []
    _pipeline(consensus=3, fit_sample_size=300).fit(blobs[0], on_step=steps.append)
    assert steps == ["training", "embedding", "clustering", "consensus", "consensus", "mapping", "assigning"]
    line = _step_lines(SimpleNamespace(consensus=3))
    assert [line(step) for step in steps[2:6]] == [
        "  clustering …", "  consensus: fit 2 of 3, with its own seed …", "  consensus: fit 3 of 3, with its own seed …",
        "  mapping …"]

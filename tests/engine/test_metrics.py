"""Quality metrics on small known inputs, and the report of a fitted pipeline."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.cluster import KMeans
from sklearn.datasets import make_blobs

from segmentation.engine.metrics import adjusted_rand, bootstrap_stability, cluster_stability, dbcv, nmi, quality_report, stability_label, trustworthiness
from segmentation.engine.pipeline import SegmentationPipeline


@pytest.fixture(scope="module")
def blobs():
    X, y = make_blobs(n_samples=400, n_features=3, centers=[[0, 0, 0], [10, 0, 0], [0, 10, 0]],
                      cluster_std=1.0, random_state=1)
    return X, y


@pytest.fixture(scope="module")
def cheap_pipeline(blobs):
    """HDBSCAN straight on the scaled features: no autoencoder, no UMAP (fast)."""
    X, _ = blobs
    frame = pd.DataFrame(X, columns=["a", "b", "c"])
    return SegmentationPipeline(encoder="passthrough", reducer="passthrough", map_reducer="passthrough",
                                min_cluster_size=0.1, min_samples=5).fit(frame), frame


def test_ari_and_nmi_known_values():
    truth = [0, 0, 1, 1, 2, 2]
    assert adjusted_rand(truth, [5, 5, 7, 7, 9, 9]) == 1.0  # relabelling does not matter
    assert nmi(truth, [5, 5, 7, 7, 9, 9]) == pytest.approx(1.0)
    assert adjusted_rand(truth, [0, 1, 0, 1, 0, 1]) < 0
    # Noise counts as its own label: marking a true segment as noise still matches it...
    assert adjusted_rand(truth, [-1, -1, 1, 1, 2, 2]) == 1.0
    # ...but noise spread over segments costs.
    assert adjusted_rand(truth, [-1, 0, -1, 1, 2, 2]) < 0.5


def test_dbcv_separated_vs_single_cluster(blobs):
    X, y = blobs
    assert dbcv(X, y) > 0.5
    assert dbcv(X, np.zeros(len(X), dtype=int)) is None
    assert dbcv(X, np.full(len(X), -1)) is None
    shuffled = np.random.default_rng(0).permutation(y)
    assert dbcv(X, shuffled) < 0


def test_dbcv_uses_a_subsample(blobs):
    X, y = blobs
    assert dbcv(X, y, sample_size=150, random_state=3) > 0.5


def test_trustworthiness_identity_and_random(blobs):
    X, _ = blobs
    assert trustworthiness(X, X) == pytest.approx(1.0)
    noise = np.random.default_rng(0).normal(size=(len(X), 2))
    assert trustworthiness(X, noise) < 0.7
    assert trustworthiness(X, X[:, :2], sample_size=100) > 0.9


def test_cluster_stability_of_clear_and_arbitrary_splits(blobs):
    X, y = blobs
    clear = cluster_stability(X, y, lambda n: KMeans(3, n_init=3, random_state=0), n_boot=3)
    assert set(clear) == {0, 1, 2} and min(clear.values()) > 0.95
    # One blob split arbitrarily in halves: KMeans(4) refits do not reproduce the halves reliably.
    Z = np.random.default_rng(0).normal(size=(300, 2))
    halves = (Z[:, 0] > 0).astype(int)
    shaky = cluster_stability(Z, halves, lambda n: KMeans(2, n_init=1, random_state=None), n_boot=5,
                              random_state=1)
    assert set(shaky) == {0, 1} and min(shaky.values()) < min(clear.values())


class _Refits:
    """A stand-in clusterer whose successive fits return the given labels (one list per refit)."""

    def __init__(self, *fits):
        self.fits = iter(fits)

    def __call__(self, n_rows):
        return self

    def fit(self, X):
        self.labels_ = np.asarray(next(self.fits))
        return self


def test_cluster_stability_is_the_mean_best_jaccard_computed_by_hand():
    # Reference: segment 0 = rows {0,1,2,3}, segment 1 = rows {4,5}, rows 6 and 7 noise.
    reference = np.array([0, 0, 0, 0, 1, 1, -1, -1])
    X = np.zeros((8, 1))  # sample_fraction=1.0: every refit sees all rows, in order
    # Refit A: 5 = {0,1,2}, 7 = {3,4,5,6}, row 7 noise (noise is never a match).
    #   segment 0: J(5) = |{0,1,2}| / |{0,1,2,3}| = 3/4; J(7) = |{3}| / |{0,...,6}| = 1/7 → best 3/4
    #   segment 1: J(7) = |{4,5}| / |{3,4,5,6}| = 2/4 → best 1/2
    refit_a = [5, 5, 5, 7, 7, 7, 7, -1]
    # Refit B: the reference itself, relabelled → 1 and 1.
    refit_b = [2, 2, 2, 2, 9, 9, -1, -1]
    one = cluster_stability(X, reference, _Refits(refit_a), n_boot=1, sample_fraction=1.0)
    assert one == {0: pytest.approx(3 / 4), 1: pytest.approx(1 / 2)}
    # Refit C: everything noise but row 4 → segment 0 has no match (0), segment 1: |{4}| / |{4,5}| = 1/2.
    refit_c = [-1, -1, -1, -1, 3, -1, -1, -1]
    three = cluster_stability(X, reference, _Refits(refit_a, refit_b, refit_c), n_boot=3, sample_fraction=1.0)
    assert three == {0: pytest.approx((3 / 4 + 1 + 0) / 3), 1: pytest.approx((1 / 2 + 1 + 1 / 2) / 3)}


def test_stability_labels():
    assert stability_label(0.9) == "stable"
    assert stability_label(0.75) == "stable"
    assert stability_label(0.7) == "uncertain"
    assert stability_label(0.6) == "uncertain"
    assert stability_label(0.59) == "not to be trusted"


def test_bootstrap_stability_of_a_pipeline(cheap_pipeline):
    pipeline, frame = cheap_pipeline
    stability = bootstrap_stability(pipeline, frame, pipeline.labels_, n_boot=3)
    assert set(stability) == {0, 1, 2}
    assert min(stability.values()) >= 0.9


def test_quality_report_is_json_and_complete(blobs, cheap_pipeline):
    _, y = blobs
    pipeline, frame = cheap_pipeline
    report = quality_report(pipeline, frame, truth=y, labels=pipeline.labels_, sample_size=300)
    json.dumps(report)  # serialisable as is
    assert report["n_segments"] == 3
    assert report["ari"] >= 0.95 and report["nmi"] >= 0.9
    assert report["dbcv"] > 0.3
    assert report["trustworthiness_cluster_space"] > 0.95
    assert report["trustworthiness_map"] is None  # map dropped
    assert report["mean_reconstruction_error"] == 0.0  # passthrough reconstructs perfectly
    assert {v["label"] for v in report["stability"].values()} == {"stable"}
    assert 0 <= report["noise_share"] <= 0.05
    without_truth = quality_report(pipeline, frame, sample_size=300)
    assert "ari" not in without_truth and "nmi" not in without_truth


def test_bootstrap_refits_with_min_samples_as_the_same_share_of_its_rows(blobs, monkeypatch):
    """A pipeline whose ``min_samples`` is a share refits each bootstrap draw with that share of the draw."""
    from segmentation.engine import metrics

    X, _ = blobs
    frame = pd.DataFrame(X, columns=["a", "b", "c"])
    pipeline = SegmentationPipeline(encoder="passthrough", reducer="passthrough", map_reducer="passthrough",
                                    min_cluster_size=0.1, min_samples=0.05).fit(frame)
    assert pipeline.clusterer_.min_samples == 20  # 5 % of the 400 rows fitted
    seen = []

    def record(embedding, ref, make_clusterer, *args):
        seen.append(make_clusterer(200).min_samples)
        return {}

    monkeypatch.setattr(metrics, "cluster_stability", record)
    metrics.bootstrap_stability(pipeline, frame)
    assert seen == [10]  # 5 % of a 200-row draw

"""The linear discriminant polish: the segments' edges redrawn in the features (segmentation/engine/polish.py)."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.cluster import KMeans
from sklearn.datasets import make_blobs
from sklearn.decomposition import PCA
from sklearn.random_projection import GaussianRandomProjection

from segmentation.engine.metrics import adjusted_rand
from segmentation.engine.pipeline import SegmentationPipeline
from segmentation.engine.polish import DiscriminantPolish


def _torn(polish, seed=0):
    # A 2-component PCA as the cluster space mixes up customers near the borders of 4 blobs in 6-D.
    X, y = make_blobs(n_samples=1200, n_features=6, centers=4, cluster_std=2.0, random_state=3)
    pipeline = SegmentationPipeline(encoder=PCA(n_components=2), reducer="passthrough", map_reducer="passthrough",
                                    clusterer=KMeans(n_clusters=4, n_init=1, random_state=seed),
                                    refine_neighbors=None, polish=polish, random_state=seed)
    return X, y, pipeline.fit(X)


def test_the_polish_redraws_the_edges_the_cluster_space_tore():
    X, y, plain = _torn(None)
    _, _, polished = _torn(0.99)
    assert SegmentationPipeline().get_params()["polish"] is None  # an option, off by default
    assert plain.polish_ is None
    np.testing.assert_array_equal(plain.labels_, plain.clusterer_.labels_)
    assert adjusted_rand(y, plain.labels_) == pytest.approx(0.928, abs=0.01)
    assert adjusted_rand(y, polished.labels_) >= 0.99
    moved = polished.labels_ != plain.labels_
    assert 0.01 < moved.mean() < 0.06
    assert polished.polish_.moved_share_ == pytest.approx(moved.mean(), abs=0.01)
    # A moved customer's probability is the discriminant's posterior of its new segment; others keep theirs.
    assert ((polished.probabilities_[moved] >= 0.25) & (polished.probabilities_[moved] <= 1)).all()
    np.testing.assert_array_equal(polished.probabilities_[~moved], plain.probabilities_[~moved])
    np.testing.assert_array_equal(polished.predict(X), polished.labels_)  # assign draws the same edges


def test_fits_that_tear_differently_agree_once_polished():
    # Each seed's cluster space is its own random 4-D projection: the blobs' borders tear another way.
    X, y = make_blobs(n_samples=1200, n_features=6, centers=4, cluster_std=2.0, random_state=3)

    def fit(polish, seed):
        return SegmentationPipeline(encoder=GaussianRandomProjection(4, random_state=seed), reducer="passthrough",
                                    map_reducer="passthrough", clusterer=KMeans(n_clusters=4, n_init=4, random_state=0),
                                    refine_neighbors=None, polish=polish, random_state=seed).fit(X).labels_

    pairs, truth = {}, {}
    for polish in (None, 0.99):
        labels = [fit(polish, seed) for seed in (0, 1, 2)]
        pairs[polish] = min(adjusted_rand(a, b) for i, a in enumerate(labels) for b in labels[i + 1:])
        truth[polish] = min(adjusted_rand(y, a) for a in labels)
    assert pairs[None] < 0.6 and truth[None] < 0.6
    assert pairs[0.99] >= 0.99 and truth[0.99] >= 0.99


def _two_groups_and_noise():
    rng = np.random.default_rng(0)
    a = rng.normal(0, 1, (400, 3))
    b = rng.normal(0, 1, (400, 3)) + [10, 0, 0]
    inside = rng.normal(0, 0.5, (20, 3))  # noise that sits in a's core
    far = rng.normal(0, 0.5, (20, 3)) + [0, 40, 0]  # noise that no segment holds
    Z = np.vstack([a, b, inside, far])
    labels = np.r_[np.zeros(400), np.ones(400), -np.ones(40)].astype(int)
    return Z, labels


def test_noise_joins_a_segment_only_within_its_spread():
    Z, labels = _two_groups_and_noise()
    probs = np.ones(len(Z), dtype=np.float32)
    polish = DiscriminantPolish(0.99).fit(Z[:800], labels[:800])
    out, out_probs = polish.apply(Z, labels, probs)
    assert (out[800:820] == 0).all()  # inside a's spread: joins a
    assert (out[820:] == -1).all()  # far from both: stays noise
    np.testing.assert_array_equal(out[:800], labels[:800])  # well apart: nobody moves
    assert (out_probs[800:820] > 0.99).all() and (out_probs[820:] == 1).all()
    # Without a spread the noise stays noise.
    none, _ = DiscriminantPolish(None).fit(Z[:800], labels[:800]).apply(Z, labels, probs)
    assert (none[800:] == -1).all()


def test_one_segment_leaves_the_polish_nothing_to_do():
    Z, labels = _two_groups_and_noise()
    labels = np.where(labels == 1, 0, labels)
    polish = DiscriminantPolish().fit(Z, labels)
    assert polish.discriminant_ is None
    out, _ = polish.apply(Z, labels, np.ones(len(Z), dtype=np.float32))
    np.testing.assert_array_equal(out, labels)


@pytest.mark.parametrize("value", [1.5, -0.1, True, "0.9"])
def test_a_polish_that_is_not_a_quantile_is_refused_before_any_work(value):
    X, _ = make_blobs(n_samples=300, n_features=4, centers=3, random_state=0)
    with pytest.raises(ValueError, match="polish must be a quantile between 0 and 1"):
        SegmentationPipeline(encoder="passthrough", polish=value).fit(X)


def test_customers_outside_the_fit_sample_and_new_ones_get_the_same_edges():
    X, y = make_blobs(n_samples=2400, n_features=6, centers=4, cluster_std=2.0, random_state=3)
    steps = dict(encoder=PCA(n_components=2), reducer="passthrough", map_reducer="passthrough",
                 clusterer=KMeans(n_clusters=4, n_init=4, random_state=0), refine_neighbors=None, fit_sample_size=1200)
    plain = SegmentationPipeline(polish=None, **steps).fit(X)
    polished = SegmentationPipeline(polish=0.99, **steps).fit(X)
    rest = np.setdiff1d(np.arange(len(X)), polished.fit_sample_index_)
    assert len(rest) == 1200
    assert adjusted_rand(y[rest], plain.labels_[rest]) < 0.96  # mapped through the torn cluster space
    assert adjusted_rand(y[rest], polished.labels_[rest]) >= 0.99
    np.testing.assert_array_equal(polished.predict(X), polished.labels_)



def test_the_kept_discriminant_is_fitted_on_the_labels_its_round_moved():
    # One round: the discriminant of the clusters moves customers, then is fitted again on the moved labels.
    X, _ = make_blobs(n_samples=900, n_features=4, centers=3, cluster_std=3.0, random_state=0)
    labels = KMeans(n_clusters=3, n_init=1, random_state=0).fit_predict(X[:, :1])  # torn: one feature only
    polish = DiscriminantPolish(max_rounds=1).fit(X, labels)
    first = DiscriminantPolish(max_rounds=0).fit(X, labels).discriminant_.predict(X)
    assert np.mean(first != labels) > 0.05 and polish.moved_share_ == pytest.approx(np.mean(first != labels))
    means = np.stack([X[first == c].mean(axis=0) for c in polish.discriminant_.classes_])
    np.testing.assert_allclose(polish.discriminant_.means_, means)


def test_the_latent_polish_draws_its_edges_where_the_encoder_put_the_customers():
    # polish_space="latent": the discriminant sees the encoder's rows (here a 2-D PCA that mixes up the
    # blobs' borders), not the 6 features, so it cannot mend what the features would; assign draws the same edges.
    X, y = make_blobs(n_samples=1200, n_features=6, centers=4, cluster_std=2.0, random_state=3)
    steps = dict(encoder=PCA(n_components=2), reducer="passthrough", map_reducer="passthrough",
                 clusterer=KMeans(n_clusters=4, n_init=1, random_state=0), refine_neighbors=None, polish=0.99)
    assert SegmentationPipeline().get_params()["polish_space"] == "features"  # v26's, the default
    features = SegmentationPipeline(**steps).fit(X)
    latent = SegmentationPipeline(polish_space="latent", **steps).fit(X)
    assert features.polish_.discriminant_.means_.shape == (4, 6)
    assert latent.polish_.discriminant_.means_.shape == (4, 2)
    assert adjusted_rand(y, features.labels_) >= 0.99
    assert adjusted_rand(y, latent.labels_) < 0.97
    np.testing.assert_array_equal(latent.predict(X), latent.labels_)
    with pytest.raises(ValueError, match="polish_space must be one of 'features', 'latent'"):
        SegmentationPipeline(encoder="passthrough", polish=0.99, polish_space="code").fit(X)


def test_a_fit_sample_that_large_is_polished_in_the_latent_space_and_a_smaller_one_is_not():
    # polish None (the default): the fit sample's size decides (polish_from rows or more: spread 0.99, latent).
    X, _ = make_blobs(n_samples=1200, n_features=6, centers=4, cluster_std=2.0, random_state=3)
    steps = dict(encoder=PCA(n_components=2), reducer="passthrough", map_reducer="passthrough",
                 clusterer=KMeans(n_clusters=4, n_init=1, random_state=0), refine_neighbors=None)
    assert SegmentationPipeline().get_params()["polish_from"] == 25_000
    at = SegmentationPipeline(polish_from=1200, **steps).fit(X)
    assert at.polish_space_ == "latent" and at.polish_.spread == 0.99
    assert at.polish_.discriminant_.means_.shape == (4, 2)  # the encoder's rows, not the 6 features
    assert at.polish_.moved_share_ > 0.005
    assert np.mean(at.labels_ != at.clusterer_.labels_) == pytest.approx(at.polish_.moved_share_, abs=0.005)
    np.testing.assert_array_equal(at.predict(X), at.labels_)  # assign polishes in the same space
    for below in (SegmentationPipeline(polish_from=1201, **steps), SegmentationPipeline(polish_from=None, **steps)):
        below.fit(X)
        assert below.polish_ is None
        np.testing.assert_array_equal(below.labels_, below.clusterer_.labels_)
    # polish set by hand: its spread and space at any size
    asked = SegmentationPipeline(polish=0.9, polish_from=1201, **steps).fit(X)
    assert asked.polish_space_ == "features" and asked.polish_.spread == 0.9


@pytest.mark.parametrize("value", [0, -5, True, "big"])
def test_a_polish_size_that_is_not_a_number_of_rows_is_refused_before_any_work(value):
    X, _ = make_blobs(n_samples=300, n_features=4, centers=3, random_state=0)
    with pytest.raises(ValueError, match="polish_from must be a number of fit-sample rows"):
        SegmentationPipeline(encoder="passthrough", polish_from=value).fit(X)

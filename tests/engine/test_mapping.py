"""Out-of-sample mapping (segmentation/engine/mapping.py) and its use by the pipeline's scoring path."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.datasets import make_blobs
from sklearn.exceptions import NotFittedError
from sklearn.neighbors import KNeighborsRegressor

from segmentation.engine.mapping import NeighborMapping, SampleMapping, join_noise, neighbour_vote
from segmentation.engine.metrics import adjusted_rand
from segmentation.engine.pipeline import SegmentationPipeline


def test_neighbor_mapping_weights_by_inverse_distance():
    X = np.array([[0.0], [1.0], [3.0]])
    Y = np.array([[0.0, 10.0], [1.0, 20.0], [9.0, 90.0]])
    mapping = NeighborMapping(n_neighbors=2).fit(X, Y)
    # 0.25 is 0.25 from row 0 and 0.75 from row 1: weights 4 and 4/3 -> 3/4 and 1/4.
    np.testing.assert_allclose(mapping.transform([[0.25]]), [[0.25, 12.5]], rtol=1e-6)
    # A sample row maps onto its own targets exactly (distance 0 takes all the weight).
    np.testing.assert_array_equal(mapping.transform(X), Y.astype(np.float32))
    assert mapping.transform([[0.25]]).dtype == np.float32


def test_exact_search_is_scikit_learns_distance_weighted_regression():
    rng = np.random.default_rng(1)
    X, Y = rng.normal(size=(400, 5)), rng.normal(size=(400, 3))
    Q = np.vstack([rng.normal(size=(200, 5)), X[:50]])  # new rows and sample rows (distance 0)
    ours = NeighborMapping(n_neighbors=8).fit(X, Y).transform(Q)
    reference = KNeighborsRegressor(n_neighbors=8, weights="distance").fit(X.astype(np.float32), Y)
    np.testing.assert_allclose(ours, reference.predict(Q.astype(np.float32)), rtol=1e-5, atol=1e-6)


def test_neighbor_mapping_batches_do_not_change_results():
    rng = np.random.default_rng(0)
    X, Y, Q = rng.normal(size=(300, 4)), rng.normal(size=(300, 3)), rng.normal(size=(101, 4))
    whole = NeighborMapping(n_neighbors=7).fit(X, Y).transform(Q)
    batched = NeighborMapping(n_neighbors=7, batch_size=10).fit(X, Y).transform(Q)
    np.testing.assert_array_equal(whole, batched)
    assert whole.shape == (101, 3)


def test_neighbor_mapping_checks_its_input():
    with pytest.raises(NotFittedError):
        NeighborMapping().transform(np.zeros((2, 2)))
    with pytest.raises(ValueError, match="3 rows but the targets have 2"):
        NeighborMapping().fit(np.zeros((3, 2)), np.zeros((2, 1)))
    with pytest.raises(ValueError, match="n_neighbors must be at least 1"):
        NeighborMapping(n_neighbors=0).fit(np.zeros((3, 2)), np.zeros(3))
    mapping = NeighborMapping(n_neighbors=50).fit(np.eye(3), np.arange(3.0))  # k capped at the sample size
    assert mapping.n_neighbors_ == 3 and mapping.algorithm_ == "kd_tree"
    with pytest.raises(ValueError, match="unknown algorithm 'annoy'"):
        NeighborMapping(algorithm="annoy").fit(np.eye(3), np.arange(3.0))
    with pytest.raises(ValueError, match="expected rows x 3 inputs"):
        mapping.transform(np.zeros((2, 4)))


@pytest.fixture(scope="module")
def blobs():
    """3,000 rows of 4 separated blobs; the first 1,000 are the 'fit sample'."""
    X, y = make_blobs(n_samples=3000, n_features=6, centers=4, cluster_std=1.0, random_state=3)
    return X.astype(np.float32), y


def _sample_mapping(X, y, **kw):
    sample = slice(0, 1000)
    space = X[sample, :3] * 2.0  # stand-in "cluster space": any function of the rows
    xy = X[sample, :2] - 1.0
    labels = y[sample].copy()
    labels[:20] = -1  # some noise
    probabilities = np.where(labels >= 0, 0.5 + 0.5 * (np.arange(1000) % 2), 0.0)
    return SampleMapping(**kw).fit(X[sample], space, xy, labels, probabilities), space, xy, labels, probabilities


def test_sample_rows_get_their_fitted_results_exactly(blobs):
    X, y = blobs
    mapping, space, xy, labels, probabilities = _sample_mapping(X, y)
    rows = mapping.predict(X[:1000])
    np.testing.assert_array_equal(rows.labels, labels)
    np.testing.assert_allclose(rows.probabilities, probabilities, atol=1e-6)
    np.testing.assert_allclose(rows.cluster_space, space, atol=1e-5)
    np.testing.assert_allclose(rows.map_embedding, xy, atol=1e-5)
    assert rows.labels.dtype == np.int64 and rows.probabilities.dtype == np.float32


def test_new_rows_get_their_neighbours_segment_and_place(blobs):
    X, y = blobs
    mapping, space, *_ = _sample_mapping(X, y)
    rows = mapping.predict(X[1000:])
    assert adjusted_rand(y[1000:], rows.labels) >= 0.99
    assert np.mean(rows.labels == -1) < 0.01  # 20 noise rows in a sample of 1,000 rarely win a vote
    # Coordinates are weighted means of nearby sample rows: far closer to the row's own
    # image (2 x its first three features) than the centre of its blob is (1.1 vs 3.1 measured).
    truth = X[1000:, :3] * 2.0
    centres = np.array([space[y[:1000] == c].mean(axis=0) for c in range(4)])
    error = np.median(np.linalg.norm(rows.cluster_space - truth, axis=1))
    assert error < 0.5 * np.median(np.linalg.norm(centres[y[1000:]] - truth, axis=1))
    assert ((rows.probabilities >= 0.5) & (rows.probabilities <= 1.0))[rows.labels >= 0].all()
    assert (rows.probabilities[rows.labels == -1] == 0).all()
    np.testing.assert_array_equal(mapping.transform(X[1000:1010]), rows.cluster_space[:10])


def test_approximate_search_for_large_samples(blobs):
    """NNDescent (used from 20,000 sample rows on; forced here on 1,000): true neighbours, the same
    segments as the exact search, reproducible with its seed. Compiling pynndescent takes ~30 s."""
    X, y = blobs
    mapping, space, xy, labels, probabilities = _sample_mapping(X, y, algorithm="nndescent")
    exact, *_ = _sample_mapping(X, y, algorithm="kd_tree")
    assert mapping.neighbors_.algorithm_ == "nndescent"
    distances, indices = mapping.neighbors_.kneighbors(X[1000:])
    np.testing.assert_allclose(distances, np.linalg.norm(X[1000:, None, :] - X[:1000][indices], axis=2),
                               rtol=1e-4, atol=1e-4)  # each distance belongs to its index
    assert (np.diff(distances, axis=1) >= 0).all()
    exact_distances, exact_indices = exact.neighbors_.kneighbors(X[1000:])
    recall = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(indices, exact_indices)])
    assert recall >= 0.95
    rows, exact_rows = mapping.predict(X[1000:]), exact.predict(X[1000:])
    assert np.mean(rows.labels == exact_rows.labels) >= 0.995
    assert np.mean(mapping.predict(X[:1000]).labels == labels) >= 0.995  # sample rows find themselves
    again, *_ = _sample_mapping(X, y, algorithm="nndescent")
    np.testing.assert_array_equal(again.predict(X[1000:]).cluster_space, rows.cluster_space)


def test_vote_and_probability_numbers():
    X = np.array([[0.0], [1.0], [2.0], [10.0]])
    labels = np.array([0, 0, 1, -1])
    probabilities = np.array([0.2, 0.8, 1.0, 0.0])
    mapping = SampleMapping(n_neighbors=3, vote_neighbors=3).fit(X, X * 2, None, labels, probabilities)
    rows = mapping.predict(np.array([[0.5], [1.8], [9.0], [2.0]]))
    # The segment is the plain majority of the 3 nearest, however near each one is:
    # 0.5: rows 0, 1, 2 → 0, 0, 1: segment 0, the mean probability of its voters (0.2 + 0.8) / 2.
    # 1.8: rows 2 (at 0.2), 1, 0 → 1, 0, 0: segment 0 (1/distance gave row 2's segment 1), prob 0.5.
    # 9.0: rows 3, 2, 1 → noise, 1, 0: a tie goes to the lowest id, noise, probability 0.
    # 2.0: row 2 at distance 0 → its segment 1 and probability 1.0 (a sample row scored again).
    assert rows.labels.tolist() == [0, 0, -1, 1]
    np.testing.assert_allclose(rows.probabilities, [0.5, 0.5, 0.0, 1.0], rtol=1e-6)
    # The place is still the 1/distance mean of the n_neighbors nearest.
    weights = [np.array([2, 2, 2 / 3]), np.array([1 / 1.8, 1.25, 5]), np.array([1 / 8, 1 / 7, 1])]
    targets = [np.array([0, 2, 4]), np.array([0, 2, 4]), np.array([2, 4, 20])]
    expected = [float(w @ t / w.sum()) for w, t in zip(weights, targets)] + [4.0]
    np.testing.assert_allclose(rows.cluster_space[:, 0], expected, rtol=1e-6)
    assert np.isnan(rows.map_embedding).all()  # no map was given


def test_the_place_and_the_vote_have_their_own_neighbours():
    X = np.array([[0.0], [1.0], [2.0], [3.0]])
    mapping = SampleMapping(n_neighbors=1, vote_neighbors=3).fit(X, X, None, np.array([0, 1, 1, 0]), np.ones(4))
    rows = mapping.predict(np.array([[0.1]]))
    assert rows.labels.tolist() == [1]  # rows 0, 1, 2 vote: 1 wins two to one
    np.testing.assert_allclose(rows.cluster_space[:, 0], [0.0])  # row 0 alone places it
    with pytest.raises(ValueError, match="vote_neighbors"):
        SampleMapping(vote_neighbors=0).fit(X, X, None, np.zeros(4), np.ones(4))


def test_a_mapping_saved_before_the_majority_vote_still_votes_by_distance():
    X = np.array([[0.0], [1.0], [2.0], [10.0]])
    mapping = SampleMapping(n_neighbors=3).fit(X, X * 2, None, np.array([0, 0, 1, -1]), np.array([0.2, 0.8, 1.0, 0.0]))
    # The v28 layout: one-hot segments and probability-weighted one-hots among the neighbour targets.
    one_hot = (np.array([0, 0, 1, -1])[:, None] == mapping.classes_[None, :]).astype(np.float32)
    targets = np.hstack([mapping.neighbors_.targets_, one_hot, one_hot * np.array([[0.2], [0.8], [1.0], [0.0]])])
    state = {key: value for key, value in mapping.__dict__.items()
             if key not in ("sample_classes_", "sample_probabilities_", "vote_neighbors")}
    state["neighbors_"] = NeighborMapping(n_neighbors=3).fit(X, targets)
    old = SampleMapping.__new__(SampleMapping)
    old.__setstate__(state)
    assert old.vote_neighbors is None
    assert old.predict(np.array([[0.5], [1.8], [9.0]])).labels.tolist() == [0, 1, -1]  # 1/distance: row 2 decides 1.8


def test_noise_vote_gives_zero_probability():
    X = np.array([[0.0], [0.1], [5.0]])
    mapping = SampleMapping(n_neighbors=3).fit(X, X, None, np.array([-1, -1, 2]), np.array([0.0, 0.0, 0.9]))
    rows = mapping.predict(np.array([[0.05]]))
    assert rows.labels.tolist() == [-1] and rows.probabilities.tolist() == [0.0]


# ---------------------------------------------------------------- the pipeline's scoring path
PARAMS = dict(encoder="passthrough", cluster_dims=4, min_cluster_size=0.05, fit_sample_size=600, random_state=5)


@pytest.fixture(scope="module")
def planted():
    X, y = make_blobs(n_samples=1500, n_features=6, centers=5, cluster_std=1.3, random_state=8)
    return pd.DataFrame(X, columns=[f"f{i}" for i in range(6)]), y


@pytest.fixture(scope="module")
def by_neighbours(planted):
    X, _ = planted
    return SegmentationPipeline(**PARAMS).fit(X)


@pytest.fixture(scope="module")
def by_transform(planted):
    X, _ = planted
    return SegmentationPipeline(**PARAMS, mapping="transform").fit(X)


def test_default_scoring_uses_the_sample_mapping(planted, by_neighbours, by_transform):
    X, y = planted
    assert isinstance(by_neighbours.mapping_, SampleMapping)
    out = np.setdiff1d(np.arange(len(X)), by_neighbours.fit_sample_index_)
    assert adjusted_rand(y[out], by_neighbours.labels_[out]) >= 0.95  # rows UMAP/HDBSCAN never saw
    scored = by_neighbours.assign(X)
    # Fit-sample rows get exactly their fitted segment, place and probability back.
    sample = by_neighbours.fit_sample_index_
    np.testing.assert_array_equal(scored["segment_id"].to_numpy()[sample], by_neighbours.labels_[sample])
    np.testing.assert_allclose(scored[["x", "y"]].to_numpy()[sample], by_neighbours.map_embedding_[sample],
                               atol=1e-4)
    np.testing.assert_allclose(by_neighbours.transform(X.iloc[sample]), by_neighbours.reducer_.embedding_,
                               atol=1e-4)
    assert np.mean(scored["segment_id"].to_numpy() == by_neighbours.labels_) >= 0.99
    # the fit keeps its rows' cluster space: what transform gives them, without scoring them again
    np.testing.assert_allclose(by_neighbours.cluster_space_, by_neighbours.transform(X), atol=1e-4)
    # (with UMAP's own transform: the sample keeps its fitted embedding, the rest are transformed)
    rest = np.setdiff1d(np.arange(len(X)), by_transform.fit_sample_index_)
    np.testing.assert_allclose(by_transform.cluster_space_[by_transform.fit_sample_index_],
                               by_transform.reducer_.embedding_, atol=1e-4)
    np.testing.assert_allclose(by_transform.cluster_space_[rest], by_transform.transform(X.iloc[rest]), atol=1e-4)


def test_transform_option_keeps_umap_and_approximate_predict(planted, by_transform, by_neighbours):
    X, y = planted
    assert by_transform.mapping_ is None
    out = np.setdiff1d(np.arange(len(X)), by_transform.fit_sample_index_)
    assert adjusted_rand(y[out], by_transform.labels_[out]) >= 0.95
    # Same seed, same sample, same UMAP/HDBSCAN: the two scoring paths agree on the unseen rows.
    np.testing.assert_array_equal(by_transform.fit_sample_index_, by_neighbours.fit_sample_index_)
    assert adjusted_rand(by_transform.labels_[out], by_neighbours.labels_[out]) >= 0.98


def test_mapping_survives_save_and_load(tmp_path, planted, by_neighbours):
    X, _ = planted
    loaded = SegmentationPipeline.load(by_neighbours.save(tmp_path / "model"))
    assert isinstance(loaded.mapping_, SampleMapping)
    pd.testing.assert_frame_equal(loaded.assign(X.iloc[:300]), by_neighbours.assign(X.iloc[:300]))


def test_custom_mapping_is_cloned_not_shared(planted):
    X, _ = planted
    custom = SampleMapping(n_neighbors=3)
    model = SegmentationPipeline(**{**PARAMS, "reducer": "passthrough", "map_reducer": "passthrough"},
                                 mapping=custom).fit(X)
    assert model.mapping_ is not custom and model.mapping_.n_neighbors == 3
    assert not hasattr(custom, "neighbors_")
    assert clone(model).get_params()["mapping"].n_neighbors == 3


# ---------------------------------------------------------------- the neighbour vote
def test_neighbour_vote_numbers():
    # Two groups on a line; row 2 was put in segment 1 although its neighbours are segment 0.
    X = np.array([[0.0], [0.1], [0.2], [0.3], [5.0], [5.1], [5.2], [5.3], [9.0]])
    labels = np.array([0, 0, 1, 0, 1, 1, 1, 1, -1])
    refined, share = neighbour_vote(X, labels, n_neighbors=3)
    # Row 2 votes over itself and rows 1, 3, 0: segment 0 has 3 of 4 votes. Row 8 (noise) stays noise
    # and its neighbours' votes for segment 1 don't move it; everyone else keeps a majority.
    assert refined.tolist() == [0, 0, 0, 0, 1, 1, 1, 1, -1]
    np.testing.assert_allclose(share, [0.75, 0.75, 0.75, 0.75, 1, 1, 1, 1, 0])
    assert labels.tolist() == [0, 0, 1, 0, 1, 1, 1, 1, -1]  # the input is not modified


def test_neighbour_vote_tie_keeps_own_segment_and_noise_abstains():
    X = np.array([[0.0], [1.0], [2.0], [3.0]])
    # Each row votes over itself and its 2 nearest rows; the noise row abstains, so rows 0, 1 and 3
    # each see one vote for their own segment and one for another: ties, and each keeps its own.
    refined, _ = neighbour_vote(X, np.array([0, 1, -1, 2]), n_neighbors=2)
    assert refined.tolist() == [0, 1, -1, 2]
    # Nothing to vote on: all noise.
    refined, share = neighbour_vote(X, np.array([-1, -1, -1, -1]), n_neighbors=2)
    assert refined.tolist() == [-1] * 4 and share.tolist() == [0.0] * 4


def test_noise_joins_only_a_clear_majority_within_the_crowd():
    """Noise inside one segment's crowd joins it; noise where two segments meet, or far from both, stays."""
    rng = np.random.default_rng(0)
    a, b = rng.normal(0, 1, (300, 2)), rng.normal((3, 0), 1, (300, 2))
    inside = rng.normal(0, 0.3, (10, 2)) + (-1.5, 0)  # deep in a's crowd, away from b
    between = np.array([[1.5, 0.0], [1.5, 0.3]])  # where the two crowds meet: about half the votes each
    far = np.array([[40.0, 40.0], [-30.0, 5.0]])  # every vote a's or b's, but out of their reach
    X = np.vstack([a, b, inside, between, far])
    labels = np.r_[np.zeros(300, int), np.ones(300, int), -np.ones(14, int)]
    joined, share = join_noise(X, labels, majority=0.8, n_neighbors=30)
    assert joined[600:610].tolist() == [0] * 10 and (share[600:610] > 0.8).all()
    assert joined[610:].tolist() == [-1] * 4 and share[610:].tolist() == [0.0] * 4
    assert np.array_equal(joined[:600], labels[:600]) and (share[:600] == 0).all()  # segmented rows unchanged
    assert (labels[600:] == -1).all()  # the input is not modified
    # Without the reach, the far rows would join (all their votes are one segment's); without the
    # majority, the rows between would.
    loose, _ = join_noise(X, labels, majority=0.8, n_neighbors=30, reach=None)
    assert loose[612:].tolist() == [1, 0]  # the segment nearer each
    anywhere, _ = join_noise(X, labels, majority=0.0, n_neighbors=30)
    assert (anywhere[610:612] >= 0).all()
    # Nothing to do: no noise, or fewer segmented rows than voters.
    assert np.array_equal(join_noise(X[:600], labels[:600], 0.8)[0], labels[:600])
    few = np.r_[np.zeros(5, int), -np.ones(609, int)]
    assert (join_noise(X, few, 0.8, n_neighbors=30)[0] == few).all()


def test_the_noise_join_puts_back_the_thin_edges_of_density_clusters():
    """HDBSCAN with a high min_samples leaves out the border of touching blobs (14 % of their rows); the
    join puts it back in its blob and leaves the scattered outliers out."""
    centers = [(0, 0, 0), (6, 0, 0), (0, 6, 0), (0, 0, 6)]
    X, y = make_blobs(n_samples=2000, centers=centers, cluster_std=1.0, random_state=1)
    outliers = np.random.default_rng(1).uniform(-25, 25, (40, 3))
    outliers = outliers[np.linalg.norm(outliers, axis=1) > 15]  # far from every blob
    X, y = np.vstack([X, outliers]), np.r_[y, -np.ones(len(outliers), int)]
    steps = dict(encoder="passthrough", reducer="passthrough", map_reducer="passthrough", refine_neighbors=None,
                 outlier_floor=None, twin_distance=None, split_distance=None, min_cluster_size=100, min_samples=50,
                 random_state=0)
    off = SegmentationPipeline(join_noise=None, **steps).fit(X)
    on = SegmentationPipeline(join_noise=0.8, **steps).fit(X)
    blob = y >= 0
    assert off.n_segments_ == on.n_segments_ == 4
    assert (off.labels_[blob] < 0).mean() > 0.10  # the border left out
    assert (on.labels_[blob] < 0).mean() < 0.03 and on.joined_share_ > 0.10
    assert adjusted_rand(y[blob], off.labels_[blob]) < 0.85 and adjusted_rand(y[blob], on.labels_[blob]) > 0.95
    assert (on.labels_[~blob] < 0).all()  # the outliers stay noise
    moved = (off.labels_ < 0) & (on.labels_ >= 0)
    assert (on.probabilities_[moved] > 0.8).all()  # a joined row's probability is its vote share


def test_the_neighbour_vote_does_not_dissolve_a_small_segment():
    """60 customers of a young segment sit inside a large one in the feature space: most of their
    nearest neighbours belong to the large segment, so the vote alone would take them all."""
    from segmentation.engine.clustering import keep_segments_whole
    from segmentation.engine.mapping import neighbour_vote

    rng = np.random.default_rng(0)
    Z = np.vstack([rng.normal(0, 1, (1000, 4)), rng.normal(0, 1, (60, 4))])
    labels = np.r_[np.zeros(1000, int), np.ones(60, int)]  # the clusterer told them apart elsewhere
    voted, _ = neighbour_vote(Z, labels, 15, 0)
    assert np.count_nonzero(voted == 1) < 50  # the vote shrinks segment 1 below the floor
    kept = keep_segments_whole(labels, voted, min_size=50)
    assert np.array_equal(kept[1000:], labels[1000:]) and np.array_equal(kept[:1000], voted[:1000])
    # a segment the vote leaves at or above the floor keeps the vote's labels
    before, after = np.array([0, 0, 0, 1, 1, 1, -1]), np.array([0, 0, 0, 0, 1, 1, -1])
    assert np.array_equal(keep_segments_whole(before, after, min_size=2), after)
    assert np.array_equal(keep_segments_whole(before, after, min_size=3), np.array([0, 0, 0, 1, 1, 1, -1]))

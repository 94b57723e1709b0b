"""Out-of-sample mapping: carry what the fit sample knows to new customers through their neighbours.

The pipeline fits UMAP and HDBSCAN on a sample; every other customer (and every
customer ``assign`` scores later) needs a place in the cluster space, a place on
the 2-D map, a segment and a membership probability. UMAP's own ``transform``
runs a small optimisation per batch and HDBSCAN's ``approximate_predict``
queries ``2 × min_samples`` neighbours per row (1,000 for a 50,000-customer
sample with the default 1 % segment floor): together under 2,000 customers a
second on two cores.

:class:`SampleMapping` instead finds each new customer's ``n_neighbors``
nearest fit-sample customers in the encoder's latent space and takes the
inverse-distance-weighted mean of their cluster-space and map coordinates
(scikit-learn's ``weights="distance"`` rule) and the plain majority of their
``vote_neighbors`` nearest rows' segments (one neighbour query gives all of
it). A customer who *is* in the sample (distance 0) gets its fitted
coordinates, segment and probability. This is
UMAP's own starting point for ``transform`` (a weighted mean of the
neighbours' embeddings) without the optimisation epochs, and for segments a
k-NN vote in place of HDBSCAN's nearest mutual-reachability neighbour.

The neighbour search is exact (a scikit-learn k-d tree) for samples under
20,000 rows and approximate from there on (pynndescent's ``NNDescent``, the
index umap-learn uses for its own neighbours): on a 50,000-row sample of 8-d
latent vectors a k-d tree answers ~12,000 queries per CPU-second, NNDescent
~130,000, finding 99 % of the exact neighbours. Building the index costs
~1 s for 50,000 rows once numba has compiled pynndescent in the process (the
pipeline's UMAP does that first) and ~30–50 s of compiling otherwise.

:class:`NeighborMapping` is the general piece: a transformer that learns
``X → Y`` for any targets known on the sample.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.neighbors import NearestNeighbors
from sklearn.utils.validation import check_is_fitted

from segmentation.constants import NOISE as _NOISE

__all__ = ["NeighborMapping", "SampleMapping", "MappedRows", "approximate_predict_in_chunks",
           "inverse_distance_mean", "neighbour_vote", "join_noise", "JOIN_NEIGHBOURS", "JOIN_REACH",
           "VOTE_NEIGHBOURS", "VOTE_EPSILON"]

APPROXIMATE_FROM = 20_000  # sample rows: below, the exact k-d tree is fast enough (and needs no compiling)
#: :func:`join_noise`: a noise row's nearest segmented rows that vote, and the quantile of the segmented
#: rows' own distance to their farthest such neighbour: a noise row farther than it from every
#: segmented row stays noise.
JOIN_NEIGHBOURS = 30
JOIN_REACH = 0.99
#: :class:`SampleMapping`: the nearest fit-sample customers whose segments vote for a new customer's
#: (chosen on the 1M demo's tuning data seeds 0 and 1: benchmarks/results/mapping_vote_tuning.md).
VOTE_NEIGHBOURS = 30
#: and NNDescent's search width for them (0.2 elsewhere): 30 neighbours at 0.2 scored ~22,000 customers/s
#: on two cores, too near the 20,000 the product promises for ``assign``; at 0.1 ~29,000.
VOTE_EPSILON = 0.1


def inverse_distance_mean(distances: np.ndarray, indices: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """Mean of ``targets[indices]`` per row weighted by 1 / distance (scikit-learn's ``weights="distance"``).

    A row with a neighbour at distance 0 takes the plain mean of its zero-distance
    neighbours' targets. ``distances``/``indices``: rows x k; ``targets``: sample rows x t.
    """
    with np.errstate(divide="ignore"):
        weights = 1.0 / np.asarray(distances, dtype=np.float64)
    exact = np.isinf(weights)
    rows = exact.any(axis=1)
    weights[rows] = exact[rows]
    weights /= weights.sum(axis=1, keepdims=True)
    return np.einsum("nk,nkt->nt", weights, targets[indices], dtype=np.float64)


class _NeighborParams(BaseEstimator):
    """The neighbour-search parameters shared by :class:`NeighborMapping` and :class:`SampleMapping`."""

    def __init__(self, n_neighbors: int = 10, algorithm: str = "auto", epsilon: float = 0.2,
                 batch_size: int = 20_000, n_jobs: int | None = -1, random_state: int | None = 0):
        self.n_neighbors = n_neighbors
        self.algorithm = algorithm
        self.epsilon = epsilon
        self.batch_size = batch_size
        self.n_jobs = n_jobs
        self.random_state = random_state


class NeighborMapping(TransformerMixin, _NeighborParams):
    """Distance-weighted k-nearest-neighbour regression from an input space onto known targets.

    ``fit(X, Y)``: ``X`` the fit sample's inputs (rows x dims), ``Y`` what is
    known about those rows (rows x targets, e.g. their UMAP embedding).
    ``transform(X_new)``: for each row, the mean of the ``Y`` of its
    ``n_neighbors`` nearest sample rows weighted by inverse distance (a row
    at distance 0 from sample rows gets their ``Y``).

    ``algorithm``: ``"auto"`` (exact below :data:`APPROXIMATE_FROM` sample
    rows, NNDescent from there on), ``"nndescent"`` (approximate; ``epsilon``
    widens its search: more exact neighbours, slower) or a scikit-learn
    ``NearestNeighbors`` algorithm (``"kd_tree"``, ``"ball_tree"``, ``"brute"``;
    exact). ``random_state`` seeds NNDescent's index (built single-threaded, so
    the same sample gives the same neighbours); ``n_jobs`` threads share exact
    queries. ``batch_size`` bounds the memory of one query (rows x
    n_neighbors x targets). Output is float32.
    """

    def fit(self, X, y) -> "NeighborMapping":
        """Index the sample inputs ``X`` (rows x dims) with their targets ``y`` (rows x targets)."""
        X = np.ascontiguousarray(X, dtype=np.float32)
        Y = np.asarray(y, dtype=np.float32)
        if Y.ndim == 1:
            Y = Y[:, None]
        if len(X) != len(Y):
            raise ValueError(f"X has {len(X)} rows but the targets have {len(Y)}")
        if len(X) == 0:
            raise ValueError("cannot fit a neighbour mapping on an empty sample")
        if int(self.n_neighbors) < 1:
            raise ValueError(f"n_neighbors must be at least 1, got {self.n_neighbors}")
        self.n_neighbors_ = min(int(self.n_neighbors), len(X))
        algorithm = self.algorithm
        if algorithm == "auto":
            algorithm = "nndescent" if len(X) >= APPROXIMATE_FROM else "kd_tree"
        if algorithm == "nndescent":
            from pynndescent import NNDescent

            seeded = self.random_state is not None
            self.index_ = NNDescent(X, n_neighbors=max(15, self.n_neighbors_), random_state=self.random_state,
                                    n_jobs=1 if seeded else self.n_jobs, compressed=True)
            self.index_.prepare()  # the search graph: built once here, not at the first query
        elif algorithm in ("kd_tree", "ball_tree", "brute"):
            self.index_ = NearestNeighbors(n_neighbors=self.n_neighbors_, algorithm=algorithm,
                                           n_jobs=self.n_jobs).fit(X)
        else:
            raise ValueError(f"unknown algorithm {algorithm!r}: use auto, nndescent, kd_tree, ball_tree or brute")
        self.algorithm_ = algorithm
        self.targets_ = Y
        self.n_features_in_ = X.shape[1]
        self.n_outputs_ = Y.shape[1]
        return self

    def kneighbors(self, X, n_neighbors: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Distances and sample-row indices of the ``n_neighbors`` (default: the fitted number) nearest
        sample rows (rows x k each, nearest first; k at most the sample's rows)."""
        check_is_fitted(self, "index_")
        X = np.ascontiguousarray(X, dtype=np.float32)
        if X.ndim != 2 or X.shape[1] != self.n_features_in_:
            raise ValueError(f"expected rows x {self.n_features_in_} inputs, got shape {X.shape}")
        k = self.n_neighbors_ if n_neighbors is None else min(int(n_neighbors), len(self.targets_))
        if self.algorithm_ == "nndescent":
            indices, distances = self.index_.query(X, k=k, epsilon=self.epsilon)
            return distances, indices
        return self.index_.kneighbors(X, n_neighbors=k)

    def transform(self, X) -> np.ndarray:
        """Mapped targets of ``X`` (rows x targets, float32), ``batch_size`` rows per query."""
        check_is_fitted(self, "index_")
        X = np.ascontiguousarray(X, dtype=np.float32)
        out = np.empty((len(X), self.n_outputs_), dtype=np.float32)
        step = max(1, int(self.batch_size))
        for start in range(0, len(X), step):
            distances, indices = self.kneighbors(X[start:start + step])
            out[start:start + step] = inverse_distance_mean(distances, indices, self.targets_)
        return out


class MappedRows(NamedTuple):
    """What :meth:`SampleMapping.predict` gives for each row."""

    cluster_space: np.ndarray  # rows x cluster dims, float32
    map_embedding: np.ndarray  # rows x 2, float32 (NaN when the sample had no map)
    labels: np.ndarray  # int64, −1 = noise
    probabilities: np.ndarray  # float32, 0–1


class SampleMapping(_NeighborParams):
    """The fit sample's cluster-space coordinates, map, segments and probabilities, mapped to new rows.

    One neighbour index (:class:`NeighborMapping`) of the sample's latent vectors answers one query
    per new row for its ``max(n_neighbors, vote_neighbors)`` nearest sample rows:

    * its cluster-space and map coordinates are the inverse-distance-weighted mean of its
      ``n_neighbors`` nearest rows' (UMAP's own starting point for ``transform``);
    * its segment is the plain majority of its ``vote_neighbors`` nearest rows' segments (noise
      included; ties go to the lowest id, as in ``KNeighborsClassifier``), and its probability the
      mean probability of the voters in that segment (0 for noise). Ten voters (v28) drew the
      edges between segments with more chance than thirty: on the 1M demo's tuning seeds thirty
      raised the ARI of everyone by 0.002–0.003; weighting them by 1/distance changed it by less
      than 0.0005 (benchmarks/results/mapping_vote_tuning.md).

    A row at distance 0 from sample rows (a sample customer scored again, or its exact twin) takes
    their coordinates, segment and probability. ``algorithm``, ``epsilon``, ``batch_size``,
    ``n_jobs`` and ``random_state`` go to :class:`NeighborMapping`.
    """

    def __init__(self, n_neighbors: int = 10, vote_neighbors: int = VOTE_NEIGHBOURS, algorithm: str = "auto",
                 epsilon: float = VOTE_EPSILON, batch_size: int = 20_000, n_jobs: int | None = -1,
                 random_state: int | None = 0):
        super().__init__(n_neighbors=n_neighbors, algorithm=algorithm, epsilon=epsilon, batch_size=batch_size,
                         n_jobs=n_jobs, random_state=random_state)
        self.vote_neighbors = vote_neighbors

    def fit(self, X, cluster_space, map_embedding, labels, probabilities) -> "SampleMapping":
        """Learn the mapping from the sample's latent vectors ``X`` to what the fitted models gave them.

        ``cluster_space`` (rows x dims), ``map_embedding`` (rows x 2, or None /
        all-NaN when there is no map), ``labels`` (−1 = noise) and
        ``probabilities`` (0–1) are the sample's fitted results.
        """
        X = np.asarray(X, dtype=np.float32)
        space = np.asarray(cluster_space, dtype=np.float64)
        labels = np.asarray(labels, dtype=np.int64)
        probabilities = np.asarray(probabilities, dtype=np.float64)
        n = len(X)
        if not (len(space) == len(labels) == len(probabilities) == n):
            raise ValueError("X, cluster_space, labels and probabilities must have one row per sample row")
        if int(self.vote_neighbors) < 1:
            raise ValueError(f"vote_neighbors must be at least 1, got {self.vote_neighbors}")
        has_map = map_embedding is not None and not np.isnan(np.asarray(map_embedding, dtype=np.float64)).all()
        parts = [space]
        if has_map:
            parts.append(np.asarray(map_embedding, dtype=np.float64).reshape(n, 2))
        self.classes_, self.sample_classes_ = np.unique(labels, return_inverse=True)
        self.sample_probabilities_ = probabilities.astype(np.float32)
        self.n_space_dims_ = space.shape[1]
        self.has_map_ = bool(has_map)
        search = {name: value for name, value in self.get_params().items() if name != "vote_neighbors"}
        self.neighbors_ = NeighborMapping(**search).fit(X, np.hstack(parts))
        return self

    def __setstate__(self, state: dict) -> None:
        if "neighbors_" in state and "sample_classes_" not in state:  # saved before v29: no majority vote
            state.setdefault("vote_neighbors", None)
        super().__setstate__(state)

    def predict(self, X) -> MappedRows:
        """Cluster space, map, segment and membership probability of each row of latent vectors ``X``."""
        check_is_fitted(self, "neighbors_")
        if not hasattr(self, "sample_classes_"):  # fitted before the majority vote (v28 and earlier)
            return self._predict_weighted(X)
        X = np.ascontiguousarray(X, dtype=np.float32)
        n, d = len(X), self.n_space_dims_
        coordinates = np.empty((n, self.neighbors_.n_outputs_), dtype=np.float32)
        labels, probabilities = np.empty(n, dtype=np.int64), np.empty(n, dtype=np.float32)
        near = self.neighbors_.n_neighbors_
        voters = min(int(self.vote_neighbors), len(self.sample_classes_))
        step = max(1, int(self.batch_size))
        for start in range(0, n, step):
            part = slice(start, start + step)
            distances, indices = self.neighbors_.kneighbors(X[part], max(near, voters))
            coordinates[part] = inverse_distance_mean(distances[:, :near], indices[:, :near], self.neighbors_.targets_)
            labels[part], probabilities[part] = self._vote(distances[:, :voters], indices[:, :voters])
        xy = coordinates[:, d:d + 2] if self.has_map_ else np.full((n, 2), np.nan, dtype=np.float32)
        return MappedRows(np.ascontiguousarray(coordinates[:, :d]), np.ascontiguousarray(xy), labels, probabilities)

    def _vote(self, distances: np.ndarray, indices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Segments and probabilities of rows from their voters (rows x k): the majority, or the rows at distance 0."""
        weights = (distances <= 0).astype(np.float64)
        weights[~weights.any(axis=1)] = 1.0
        n, k = len(indices), len(self.classes_)
        cells = (np.arange(n)[:, None] * k + self.sample_classes_[indices]).ravel()  # (row, segment) per voter
        votes = np.bincount(cells, weights.ravel(), minlength=n * k).reshape(n, k)
        held = np.bincount(cells, (weights * self.sample_probabilities_[indices]).ravel(), minlength=n * k).reshape(n, k)
        best = votes.argmax(axis=1)
        rows = np.arange(n)
        labels = self.classes_[best].astype(np.int64)
        probabilities = np.clip(held[rows, best] / votes[rows, best], 0.0, 1.0).astype(np.float32)
        probabilities[labels == _NOISE] = 0.0
        return labels, probabilities

    def _predict_weighted(self, X) -> MappedRows:
        """A mapping fitted before v29: one-hot segments among its targets, the vote weighted by 1/distance."""
        mapped = self.neighbors_.transform(X)
        d, k = self.n_space_dims_, len(self.classes_)
        space = mapped[:, :d]
        if self.has_map_:
            xy, d = mapped[:, d:d + 2], d + 2
        else:
            xy = np.full((len(mapped), 2), np.nan, dtype=np.float32)
        votes, weighted_probability = mapped[:, d:d + k], mapped[:, d + k:d + 2 * k]
        best = votes.argmax(axis=1)
        rows = np.arange(len(mapped))
        labels = self.classes_[best].astype(np.int64)
        share = votes[rows, best]
        probabilities = np.divide(weighted_probability[rows, best], share,
                                  out=np.zeros(len(mapped), dtype=np.float32), where=share > 0)
        probabilities = np.clip(probabilities, 0.0, 1.0).astype(np.float32)
        probabilities[labels == _NOISE] = 0.0
        return MappedRows(np.ascontiguousarray(space), np.ascontiguousarray(xy), labels, probabilities)

    def transform(self, X) -> np.ndarray:
        """Cluster-space coordinates only (rows x cluster dims, float32)."""
        return self.predict(X).cluster_space


def _segment_votes(votes: np.ndarray, n_segments: int) -> np.ndarray:
    """Rows x segments: how many of each row's neighbours' labels (``votes``, −1 abstains) are each segment."""
    return np.stack([(votes == segment).sum(axis=1) for segment in range(n_segments)], axis=1)


def neighbour_vote(X, labels, n_neighbors: int = 15, random_state: int | None = 0) -> tuple[np.ndarray, np.ndarray]:
    """Each segmented row moved to the segment most of its nearest rows hold: labels and vote shares.

    ``X``: rows x dims (the space whose neighbours count); ``labels``: one per
    row, −1 = noise. A row's vote is over itself and its ``n_neighbors``
    nearest other rows, counting only segmented ones (noise neighbours abstain);
    a tie keeps the row's own segment, and noise rows stay noise. The share is
    the fraction of the ``n_neighbors + 1`` votes its (new) segment got (0 for
    noise). The neighbour search is :class:`NeighborMapping`'s (exact below
    :data:`APPROXIMATE_FROM` rows, NNDescent from there on).
    """
    labels = np.asarray(labels, dtype=np.int64)
    share = np.zeros(len(labels), dtype=np.float32)
    segmented = labels >= 0
    if not segmented.any() or n_neighbors < 1:
        share[segmented] = 1.0
        return labels.copy(), share
    k = min(int(n_neighbors) + 1, len(labels))
    index = NeighborMapping(n_neighbors=k, random_state=random_state).fit(X, labels)
    _, neighbours = index.kneighbors(X)
    counts = _segment_votes(labels[neighbours], labels.max() + 1)
    rows = np.arange(len(labels))
    own = np.where(segmented, counts[rows, np.maximum(labels, 0)], -1)
    winner = counts.argmax(axis=1)
    refined = np.where(segmented & (counts[rows, winner] > own), winner, labels)
    share[segmented] = counts[rows, refined][segmented] / k
    return refined, share


def join_noise(X, labels, majority: float, n_neighbors: int = JOIN_NEIGHBOURS, reach: float | None = JOIN_REACH,
               random_state: int | None = 0, probe_rows: int = 5_000) -> tuple[np.ndarray, np.ndarray]:
    """Noise rows on the border of one segment's crowd join it: labels and vote shares.

    ``X``: rows x dims (the space whose neighbours count: the preprocessed features); ``labels``:
    one per row, −1 = noise. A density clusterer (HDBSCAN) leaves out the border of its clusters,
    the rows that are not dense themselves; DBSCAN would have kept a border row within reach of
    a cluster's rows. Here a noise row's ``n_neighbors`` nearest *segmented* rows vote (other noise
    abstains), and the row joins the segment holding more than ``majority`` of the votes when it
    is within reach of the crowd: its nearest segmented row no farther than the ``reach`` quantile
    of the segmented rows' own distance to their ``n_neighbors``-th segmented neighbour (measured
    on at most ``probe_rows`` of them, seeded; None: no such bound). A row between two segments
    (no clear majority) or away from every crowd stays noise. The share is the winning segment's
    fraction of the votes (0 for a row left noise); segmented rows are unchanged (share 0). The
    search is :class:`NeighborMapping`'s.
    """
    labels = np.asarray(labels, dtype=np.int64)
    out, share = labels.copy(), np.zeros(len(labels), dtype=np.float32)
    segmented, noise = np.flatnonzero(labels >= 0), np.flatnonzero(labels < 0)
    k = int(n_neighbors)
    if len(noise) == 0 or len(segmented) <= k:
        return out, share
    X = np.ascontiguousarray(X, dtype=np.float32)
    index = NeighborMapping(n_neighbors=k + 1, random_state=random_state).fit(X[segmented], labels[segmented])
    limit = np.inf
    if reach is not None:
        rng = np.random.default_rng(random_state)
        probe = segmented if len(segmented) <= probe_rows else rng.choice(segmented, probe_rows, replace=False)
        own, _ = index.kneighbors(X[probe])  # the row itself first, at distance 0
        limit = float(np.quantile(own[:, k], reach))
    distances, neighbours = index.kneighbors(X[noise])
    counts = _segment_votes(labels[segmented][neighbours[:, :k]], labels.max() + 1)
    winner = counts.argmax(axis=1)
    won = counts[np.arange(len(noise)), winner] / k
    move = (won > majority) & (distances[:, 0] <= limit)
    out[noise[move]], share[noise[move]] = winner[move], won[move]
    return out, share


def approximate_predict_in_chunks(clusterer, points, chunk_rows: int = 10_000) -> tuple[np.ndarray, np.ndarray]:
    """``hdbscan.approximate_predict`` over ``chunk_rows`` rows at a time: labels (int64) and probabilities (float32).

    Each call holds rows x ``2 × min_samples`` neighbour distances and indices
    (1,000 per row for a 50,000-row sample with a 1 % segment floor), so
    chunks bound the memory; the results are the same as one call.
    """
    import hdbscan

    points = np.asarray(points)
    labels = np.empty(len(points), dtype=np.int64)
    probabilities = np.empty(len(points), dtype=np.float32)
    for start in range(0, len(points), chunk_rows):
        chunk_labels, chunk_probabilities = hdbscan.approximate_predict(clusterer, points[start:start + chunk_rows])
        labels[start:start + chunk_rows] = chunk_labels
        probabilities[start:start + chunk_rows] = chunk_probabilities
    return labels, probabilities

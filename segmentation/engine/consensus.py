"""Segments that do not depend on the seed: the consensus of several fits of the same customers.

On sparse or overlapping data one fit's segments follow its random draws (the autoencoder's
initial weights, UMAP's negative sampling): two pipeline seeds can cut the same customers
differently (benchmarks/results/seed_sources_tuning.md). Fitting ``R`` times with different seeds
and keeping what the fits agree on averages those draws out, as evidence accumulation does
(Fred & Jain, "Combining multiple clusterings using evidence accumulation", TPAMI 2005):

1. two customers' *co-association* is the share of the fits that put them in the same segment
   (noise joins nobody);
2. on a random subset of at most :data:`MAX_ROWS` customers, average-linkage clustering of
   ``1 − co-association`` cut at 0.5 gives the groups: customers together in most fits;
3. every customer joins the group it co-associates with most (its mean co-association with the
   group's members, computed per fit from label counts, so memory stays linear in the customers);
   that mean is its probability;
4. a group below the floor (``min_size`` customers) joins, customer by customer, the group they
   co-associate with most next; a customer who is noise in more than half the fits stays noise.

Pure numpy/scikit-learn on label vectors.
"""

from __future__ import annotations

import numpy as np

from segmentation.constants import NOISE as _NOISE

__all__ = ["MAX_ROWS", "co_association_groups", "consensus_labels"]

#: Customers the groups are drawn on (a dense co-association matrix of this many rows: ~36 MB).
MAX_ROWS = 3000
#: Average linkage is cut here: customers together in more than half of the fits.
CUT = 0.5


def _one_hot(labels: np.ndarray) -> np.ndarray:
    """Rows × segments membership (noise: a row of zeros)."""
    ids = np.unique(labels[labels != _NOISE])
    return (labels[:, None] == ids[None, :]).astype(np.float32)


def co_association_groups(runs: list[np.ndarray]) -> np.ndarray:
    """Average-linkage groups (0..k-1) of the rows of ``runs`` (one label vector per fit), cut at :data:`CUT`."""
    from sklearn.cluster import AgglomerativeClustering

    co = np.zeros((len(runs[0]), len(runs[0])), dtype=np.float32)
    for labels in runs:
        member = _one_hot(labels)
        co += member @ member.T
    co /= len(runs)
    if len(co) < 2:
        return np.zeros(len(co), dtype=np.int64)
    return AgglomerativeClustering(n_clusters=None, metric="precomputed", linkage="average",
                                   distance_threshold=CUT).fit_predict(1.0 - co).astype(np.int64)


def _scores(runs: list[np.ndarray], anchor: np.ndarray, groups: np.ndarray, n_groups: int) -> np.ndarray:
    """Rows × groups: each row's mean co-association with the ``anchor`` rows of each group."""
    sizes = np.bincount(groups, minlength=n_groups).astype(np.float64)
    total = np.zeros((len(runs[0]), n_groups))
    for labels in runs:
        ids, inverse = np.unique(labels, return_inverse=True)
        counts = np.zeros((len(ids), n_groups))
        np.add.at(counts, (inverse[anchor], groups), 1.0)
        counts[ids == _NOISE] = 0.0  # noise co-associates with nobody
        total += counts[inverse] / np.maximum(sizes, 1.0)
    return total / len(runs)


def consensus_labels(runs: list[np.ndarray], min_size: int, random_state: int = 0,
                     max_rows: int = MAX_ROWS) -> tuple[np.ndarray, np.ndarray]:
    """The consensus segments of ``runs`` (label vectors of the same rows, −1 noise) and each row's
    probability (its mean co-association with its segment). Segments are numbered by size, largest 0."""
    runs = [np.asarray(labels, dtype=np.int64) for labels in runs]
    n = len(runs[0])
    if any(len(labels) != n for labels in runs):
        raise ValueError("every fit must label the same rows")
    noise = np.mean([labels == _NOISE for labels in runs], axis=0) > 0.5
    candidates = np.flatnonzero(~noise)
    labels = np.full(n, _NOISE, dtype=np.int64)
    probabilities = np.zeros(n, dtype=np.float32)
    if len(candidates) == 0:
        return labels, probabilities
    rng = np.random.default_rng(random_state)
    anchor = (candidates if len(candidates) <= max_rows
              else np.sort(rng.choice(candidates, size=max_rows, replace=False)))
    groups = co_association_groups([r[anchor] for r in runs])
    n_groups = int(groups.max()) + 1
    scores = _scores(runs, anchor, groups, n_groups)[candidates]
    alive = np.ones(n_groups, dtype=bool)
    while True:
        chosen = np.where(alive, scores, -np.inf).argmax(axis=1)
        sizes = np.bincount(chosen, minlength=n_groups)
        small = np.flatnonzero(alive & (sizes < min_size))
        if len(small) == 0 or alive.sum() <= 1:
            break
        alive[small[np.argmin(sizes[small])]] = False  # the smallest first: its rows may save another
    order = np.argsort(-sizes, kind="stable")
    rank = np.empty(n_groups, dtype=np.int64)
    rank[order] = np.arange(n_groups)
    labels[candidates] = rank[chosen]
    probabilities[candidates] = scores[np.arange(len(candidates)), chosen]
    return labels, probabilities

"""Small segments must be found again: the segment floor chosen by the data, not by a fixed share.

HDBSCAN with a low floor (``min_cluster_size``) finds small personas that a higher floor hides, but it
also draws *pockets* at that floor. Both look like segments in one fit. What tells them apart is
whether the clusterer finds them again: refitted on resamples of the same cluster space, a small
persona mostly comes back nearly whole (tuning seeds 0–2 of ``benchmarks/scenarios.py`` with a 1 %
floor: 14 of 16 at Jaccard 0.74–1.0; ``benchmarks/results/reproducible_tuning.md``). Only a segment
that is one of the clusterer's clusters as found can be asked (:func:`whole_clusters`): a refit never
returns a part the split by mix cut out of a cluster, nor twins merged from two, real or not.

So a segment under ``below`` rows of the fit sample is kept only when its bootstrap Jaccard
(:func:`segmentation.engine.metrics.cluster_stability`, HDBSCAN refitted with its floor scaled to the
resample) is at least :data:`segmentation.engine.metrics.UNTRUSTED`, the Segment page's "not to be
trusted". The rows of the other small segments (:func:`unreproducible_small`) join the segment most of
their nearest rows outside them hold (:func:`dissolve`): a pocket is part of the behaviour around it.
Segments at or above ``below`` rows are never asked: there the floor is the clusterer's.

Pure numpy/scikit-learn on the fit sample's arrays.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from segmentation.constants import NOISE as _NOISE

__all__ = ["whole_clusters", "unreproducible_small", "dissolve", "dissolve_sentence"]

#: Resamples drawn to measure a small segment's stability, each this share of the rows.
N_BOOT, FRACTION = 5, 0.8
#: Rows of the cluster space the resamples are drawn from (a random subset beyond it).
MAX_ROWS = 10_000


def whole_clusters(labels: np.ndarray, clustered: np.ndarray) -> list[int]:
    """The segments of ``labels`` that are exactly one cluster of ``clustered`` (the clusterer's labels
    before any split or merge): every row of the segment in that cluster and every row of the cluster
    in the segment. A split part or merged twins are not: resampling the clusterer cannot find them."""
    labels, clustered = np.asarray(labels), np.asarray(clustered)
    out = []
    for s in np.unique(labels[labels >= 0]):
        mine = labels == s
        clusters = np.unique(clustered[mine])
        if len(clusters) == 1 and clusters[0] >= 0 and np.array_equal(clustered == clusters[0], mine):
            out.append(int(s))
    return out


def unreproducible_small(space: np.ndarray, labels: np.ndarray, make_clusterer: Callable[[int], object],
                         below: int, *, min_jaccard: float | None = None, random_state=0,
                         candidates=None) -> dict[int, float]:
    """The segments of fewer than ``below`` rows that resamples do not find again: ``{segment: Jaccard}``.

    ``space``: the cluster-space rows the clusterer was fitted on; ``labels``: their segments (after
    any post-processing; noise −1); ``make_clusterer(n_rows)``: a fresh clusterer for a resample (see
    :func:`segmentation.engine.metrics.resample_clusterer`). A small segment is unreproducible when its mean best-match Jaccard over
    :data:`N_BOOT` resamples of :data:`FRACTION` of the rows is below ``min_jaccard`` (default
    :data:`~segmentation.engine.metrics.UNTRUSTED`). ``candidates`` (None: every segment): the only
    segments that may be found unreproducible (:func:`whole_clusters`). A segment with no row among the
    rows drawn (beyond :data:`MAX_ROWS`) is not judged. Nothing is refitted when no candidate is small.
    """
    from segmentation.engine.metrics import UNTRUSTED, cluster_stability

    min_jaccard = UNTRUSTED if min_jaccard is None else min_jaccard
    labels = np.asarray(labels)
    ids, sizes = np.unique(labels[labels >= 0], return_counts=True)
    small = ids[sizes < below]
    if candidates is not None:
        small = small[np.isin(small, list(candidates))]
    if not len(small):
        return {}
    rng = np.random.default_rng(random_state)
    rows = (np.arange(len(labels)) if len(labels) <= MAX_ROWS
            else np.sort(rng.choice(len(labels), size=MAX_ROWS, replace=False)))
    jaccard = cluster_stability(np.asarray(space)[rows], labels[rows], make_clusterer, N_BOOT, FRACTION,
                                random_state)
    return {int(s): round(float(jaccard[int(s)]), 3) for s in small
            if int(s) in jaccard and jaccard[int(s)] < min_jaccard}


def dissolve(Z: np.ndarray, labels: np.ndarray, segments, n_neighbors: int = 15, random_state: int | None = 0
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``labels`` with the rows of ``segments`` moved to the segment most of their ``n_neighbors``
    nearest rows (in ``Z``) outside those segments hold, the segments left renumbered ``0..k-1`` in their order.

    Returns ``(labels, id_map, share)``: ``id_map[old]`` is each old id's new id (a dissolved segment's:
    the segment most of its rows joined; −1 for an id with no rows); ``share`` is, for each moved row,
    the share of its neighbours in the segment it joined (NaN for the other rows). With no segment left
    to join, the rows become noise. The neighbour search is the neighbour vote's
    (:class:`~segmentation.engine.mapping.NeighborMapping`: exact on small samples, NNDescent on large).
    """
    from segmentation.engine.mapping import NeighborMapping

    labels = np.asarray(labels).copy()
    segments = {int(s) for s in segments}
    gone = np.isin(labels, list(segments))
    keep = (labels >= 0) & ~gone
    n_old = int(labels.max(initial=-1)) + 1
    share = np.full(len(labels), np.nan)
    joined = {}
    if gone.any() and keep.any():
        index = NeighborMapping(n_neighbors=n_neighbors, random_state=random_state).fit(Z[keep], labels[keep])
        _, idx = index.kneighbors(Z[gone])
        votes = labels[keep][idx]
        winners = np.array([np.bincount(v).argmax() for v in votes])
        share[gone] = (votes == winners[:, None]).mean(axis=1)
        for s in segments:  # where most of a dissolved segment's rows went (its id under the models)
            mine = labels[gone] == s
            if mine.any():
                joined[s] = int(np.bincount(winners[mine]).argmax())
        labels[gone] = winners
    elif gone.any():
        labels[gone] = _NOISE
    present = set(np.unique(labels[labels >= 0]).tolist())
    new_id = {s: i for i, s in enumerate(sorted(present))}
    id_map = np.array([new_id.get(joined.get(s, s), _NOISE) for s in range(n_old)], dtype=np.int64)
    out = np.where(labels >= 0, id_map[np.maximum(labels, 0)], _NOISE)
    return out, id_map, share


def dissolve_sentence(dissolved: dict[int, float], below_share: float, n_left: int) -> str:
    """Why the run has fewer segments than the clusterer drew, in plain words ("" when none)."""
    if not dissolved:
        return ""
    n = len(dissolved)
    return (f"{n} segment{'s' if n > 1 else ''} under {below_share:.0%} of customers that HDBSCAN did not find "
            f"again on resamples (stability {max(dissolved.values()):.2f} or less, under 0.6) joined the "
            f"segments around {'them' if n > 1 else 'it'}, leaving {n_left} segments")

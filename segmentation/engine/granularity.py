"""Segment granularity chosen by the data: twins (indistinguishable profiles) become one segment.

A density clusterer run at a fine level (HDBSCAN's leaf clusters) finds every dense
pocket, including pockets that are halves of one behaviour: twins. :func:`merge_twins`
asks, for neighbouring segments, whether their customers form one behaviour or two:
it projects the pair onto the direction that separates them best (linear discriminant
analysis with Ledoit–Wolf shrinkage, scikit-learn) and tests whether the projection is
unimodal with Hartigan's dip test (the ``diptest`` package). One mode: one behaviour,
cut in two by the clusterer — the pair is merged. Two modes: two behaviours — kept.
The most clearly unimodal pair is merged first, and the test is repeated until every
neighbouring pair is bimodal. This is the "merge segments whose profiles are
statistically indistinguishable" of the dip-means family of methods (Kalogeratos &
Likas 2012), applied to the pairs a density clusterer proposes.

Pure numpy/scikit-learn: no database, no UI.
"""

from __future__ import annotations

import numpy as np

__all__ = ["merge_twins", "choose_granularity", "NEIGHBOURS", "MAX_ROWS_PER_SEGMENT"]

#: Each segment is tested against this many nearest segments (by profile centroid).
NEIGHBOURS = 3
#: Rows per segment used for one test (a seeded subsample beyond it).
MAX_ROWS_PER_SEGMENT = 3000


def _projection(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Both groups projected onto their shrunk linear discriminant (1-D)."""
    from sklearn.discriminant_analysis import LinearDiscriminantAnalysis

    X = np.vstack([a, b])
    y = np.r_[np.zeros(len(a)), np.ones(len(b))]
    keep = np.ptp(X, axis=0) > 0
    if not keep.any():
        return np.zeros(len(X))
    lda = LinearDiscriminantAnalysis(solver="lsqr", shrinkage="auto").fit(X[:, keep], y)
    return X[:, keep] @ lda.coef_.ravel()


def _unimodal_p(a: np.ndarray, b: np.ndarray) -> float:
    """p-value of Hartigan's dip test on the pair's discriminant projection (high = one mode)."""
    import diptest

    x = _projection(a, b)
    if np.ptp(x) == 0:
        return 1.0
    _, p = diptest.diptest(x.astype(np.float64))
    return float(p)


def merge_twins(Z: np.ndarray, labels: np.ndarray, alpha: float = 0.05, *, random_state: int | None = 0,
                neighbours: int = NEIGHBOURS, max_rows: int = MAX_ROWS_PER_SEGMENT) -> tuple[np.ndarray, list[dict]]:
    """Merge neighbouring segments whose union is one mode; returns (labels 0..k-1 or −1, merges).

    ``Z``: rows x features (the space whose profiles are compared); ``labels``: −1 =
    noise. A pair is merged when the dip test's p-value is above ``alpha`` (no evidence
    of two modes). ``merges``: one dict per merge, in order: ``kept``, ``merged`` (the
    segment ids as given), ``p_value``, and the sizes. The result is renumbered by size
    (largest first); noise stays −1.
    """
    labels = np.asarray(labels, dtype=np.int64).copy()
    rng = np.random.default_rng(random_state)
    rows = {int(s): np.flatnonzero(labels == s) for s in np.unique(labels[labels >= 0])}
    sampled = {s: (r if len(r) <= max_rows else np.sort(rng.choice(r, size=max_rows, replace=False)))
               for s, r in rows.items()}
    cache: dict[tuple[int, int], float] = {}
    merges: list[dict] = []
    while len(rows) > 1:
        ids = sorted(rows)
        centroids = np.stack([Z[sampled[s]].mean(axis=0) for s in ids])
        distance = np.linalg.norm(centroids[:, None, :] - centroids[None, :, :], axis=2)
        np.fill_diagonal(distance, np.inf)
        pairs = set()
        for i, s in enumerate(ids):
            for j in np.argsort(distance[i])[:min(neighbours, len(ids) - 1)]:
                pairs.add((min(s, ids[j]), max(s, ids[j])))
        best, best_p = None, alpha
        for pair in sorted(pairs):
            if pair not in cache:
                cache[pair] = _unimodal_p(Z[sampled[pair[0]]], Z[sampled[pair[1]]])
            if cache[pair] > best_p:
                best, best_p = pair, cache[pair]
        if best is None:
            break
        keep, gone = (best if len(rows[best[0]]) >= len(rows[best[1]]) else best[::-1])
        merges.append({"kept": keep, "merged": gone, "p_value": round(best_p, 4),
                       "sizes": [int(len(rows[keep])), int(len(rows[gone]))]})
        labels[rows[gone]] = keep
        rows[keep] = np.sort(np.r_[rows[keep], rows.pop(gone)])
        sampled[keep] = (rows[keep] if len(rows[keep]) <= max_rows
                         else np.sort(rng.choice(rows[keep], size=max_rows, replace=False)))
        sampled.pop(gone)
        cache = {p: v for p, v in cache.items() if keep not in p and gone not in p}
    order = sorted(rows, key=lambda s: (-len(rows[s]), s))
    renumber = np.full(int(labels.max(initial=-1)) + 2, -1, dtype=np.int64)
    for new, old in enumerate(order):
        renumber[old] = new
    out = np.where(labels >= 0, renumber[np.maximum(labels, 0)], -1)
    return out, merges


def choose_granularity(Z: np.ndarray, labels: np.ndarray, alpha: float | None, n_clusters: int,
                       random_state: int | None = 0, twin_distance: float | None = None, repeated=None
                       ) -> tuple[np.ndarray, np.ndarray, dict]:
    """The fitted segments, with twins merged when ``alpha`` is set (None: kept as found).

    ``twin_distance`` (None: off): afterwards, segments whose lift profiles are within it
    (:func:`segmentation.engine.resemblance.merge_profile_twins`) become one; with ``repeated``
    (``(mix column positions, their SplitHalves)``; None: off) so do segments whose mix difference
    their customers do not repeat on both halves of their events beyond it.

    Returns ``(labels, label_map, why)``: ``label_map[c]`` is the segment the clusterer's
    cluster ``c`` became (−1: none), so scoring with the clusterer itself gives the same
    segments; ``why`` (stored with the run): clusters found, segments kept, the merges and
    a sentence.
    """
    labels = np.asarray(labels, dtype=np.int64)
    n_found = int(len(np.unique(labels[labels >= 0])))
    label_map = np.arange(max(int(labels.max(initial=-1)) + 1, n_clusters), dtype=np.int64)
    merges: list[dict] = []
    if alpha is not None and n_found > 1:
        merged, merges = merge_twins(Z, labels, alpha, random_state=random_state)
        for old in range(len(label_map)):
            rows = labels == old
            label_map[old] = merged[rows][0] if rows.any() else -1
        labels = merged
    profile_merges: list[dict] = []
    if twin_distance is not None and n_found > 1:
        from segmentation.engine.resemblance import merge_profile_twins

        merged, profile_merges = merge_profile_twins(Z, labels, twin_distance, repeated)
        kept = np.unique(merged[merged >= 0])  # renumber 0..k-1, as the clusterer's labels are
        merged = np.where(merged >= 0, np.searchsorted(kept, np.maximum(merged, 0)), -1)
        label_map = np.where(label_map >= 0, merged_map(labels, merged)[np.maximum(label_map, 0)], -1)
        labels = merged
    n_final = int(len(np.unique(labels[labels >= 0])))
    why = (f"{n_found} dense groups found; {len(merges)} pairs of them were one behaviour (their profiles "
           f"form a single mode, dip test p > {alpha}) and were merged, leaving {n_final} segments"
           if alpha is not None else
           f"{n_found} dense groups of at least the segment floor found by HDBSCAN"
           + ("; twins not merged" if twin_distance is None else ""))
    if twin_distance is not None:
        mix = (", or the same behaviour mix in what their customers repeat on both halves of their events"
               + (" and alike in everything else" if repeated is not None and len(repeated) > 2 else "")
               if repeated is not None else "")
        why += (f"; {len(profile_merges)} pairs had the same profile{mix} (lift distance ≤ {twin_distance}) "
                f"and were merged into one segment" if profile_merges else
                f"; no two had the same profile{mix} (lift distance ≤ {twin_distance})")
    return labels, label_map, {"clusters_found": n_found, "segments": n_final, "merges": merges,
                               "profile_twins": profile_merges, "why": why}


def merged_map(before: np.ndarray, after: np.ndarray) -> np.ndarray:
    """``map[c]``: the label rows labelled ``c`` in ``before`` carry in ``after`` (−1 where none)."""
    out = np.full(int(before.max(initial=-1)) + 1, -1, dtype=np.int64)
    seen = before >= 0
    out[before[seen]] = after[seen]
    return out

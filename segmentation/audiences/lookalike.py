"""Lookalikes: the customers outside a segment who most resemble its members, with a measured recall.

Customers are compared in the space the engine clusters in (the fitted models' cluster space),
where the segment is a dense region. A candidate's similarity to a seed set is
``1 / (1 + d / scale)``, with ``d`` the mean distance to its :data:`K` nearest seed members
(scikit-learn's exact neighbour search) and ``scale`` the same mean distance among the seed members
themselves (the segment's own spread): 0.5 means "as close to the segment as its members are to each
other", 1 is "on top of it".

The quality is measured on the spot, as AWS Clean Rooms ML reports it: 20 % of the members are
held out, the other 80 % are the seed, every customer who is not in the seed is ranked, and the
**recall at 20 %** is the share of held-out members among the top 20 % of that ranking (0.20 is a
random ranking). The baseline ranks by the distance to the seed's mean in standardised features.

Pure arrays in, arrays and dictionaries out: no database.
"""

from __future__ import annotations

import numpy as np
from sklearn.neighbors import NearestNeighbors
from sklearn.preprocessing import StandardScaler

__all__ = ["similarity_to", "evaluate", "rank_lookalikes", "mean_distance_scores", "K", "HOLDOUT",
           "CURVE_SHARES"]

K = 10             # seed neighbours a candidate's distance is averaged over
HOLDOUT = 0.2      # share of members held out to measure the recall
TOP = 0.2          # recall at the top 20 % (AWS's measure; random = 0.20)
CURVE_SHARES = (0.01, 0.05, 0.1, 0.2, 0.5)  # audience sizes of the curve, as shares of the candidates
MAX_CANDIDATES = 20_000  # the evaluation ranks the held-out members among at most this many others
MIN_MEMBERS = 10         # smaller segments get no measured recall
SCALE_ROWS = 5_000       # seed members the seed's own spread is estimated on (a mean; a sample suffices)


def similarity_to(seed: np.ndarray, candidates: np.ndarray, k: int = K) -> np.ndarray:
    """Similarity (0–1] of each candidate row to the ``seed`` rows (see the module docstring)."""
    seed = np.asarray(seed, dtype=np.float64)
    k = max(1, min(k, len(seed) - 1))
    index = NearestNeighbors(n_neighbors=k + 1).fit(seed)
    spread = seed
    if len(seed) > SCALE_ROWS:  # the spread of a large seed from a fixed sample of its rows
        spread = seed[np.random.default_rng(0).choice(len(seed), SCALE_ROWS, replace=False)]
    own, _ = index.kneighbors(spread)  # first neighbour of a seed row is itself
    scale = float(np.mean(own[:, 1:])) or 1.0
    distances, _ = index.kneighbors(np.asarray(candidates, dtype=np.float64), n_neighbors=k)
    return 1.0 / (1.0 + distances.mean(axis=1) / scale)


def mean_distance_scores(seed_features: np.ndarray, candidate_features: np.ndarray,
                         scaler_rows: np.ndarray) -> np.ndarray:
    """Baseline: minus the distance to the seed's mean in features standardised on ``scaler_rows``."""
    scaler = StandardScaler().fit(scaler_rows)
    centre = scaler.transform(seed_features).mean(axis=0)
    return -np.linalg.norm(scaler.transform(candidate_features) - centre, axis=1)


def _recall_at(scores: np.ndarray, held_out: np.ndarray, size: int) -> float:
    top = np.argsort(-scores, kind="stable")[:size]
    return float(held_out[top].sum() / max(1, held_out.sum()))


def evaluate(space: np.ndarray, member: np.ndarray, features: np.ndarray | None = None,
             random_state: int = 0, max_candidates: int = MAX_CANDIDATES) -> dict:
    """Hold out 20 % of the members, rank everyone else who is not in the seed, measure.

    Beyond ``max_candidates`` candidates (non-members and held-out members) the same random share
    of both is ranked (an unbiased estimate of the same recall, in bounded time on large runs);
    sizes in the ``curve`` are then scaled back to the whole candidate pool.

    Returns ``recall_at_20`` and a ``curve`` of ``{share, size, mean_similarity, recall}`` at
    :data:`CURVE_SHARES` of the candidates; with ``features`` (the raw feature rows) also
    ``baseline_recall_at_20``, the mean-distance baseline on the same split.
    """
    member = np.asarray(member, dtype=bool)
    rng = np.random.default_rng(random_state)
    members = np.flatnonzero(member)
    held = rng.choice(members, size=max(1, int(round(HOLDOUT * len(members)))), replace=False)
    seed_mask = member.copy()
    seed_mask[held] = False
    others = np.flatnonzero(~member)
    pool, n_held = len(others) + len(held), len(held)
    if pool > max_candidates:  # the same share of the non-members and of the held-out members
        rate = max_candidates / pool
        others = np.sort(rng.choice(others, size=int(round(rate * len(others))), replace=False))
        held = rng.choice(held, size=max(1, int(round(rate * len(held)))), replace=False)
    candidates = np.concatenate([others, np.sort(held)])
    held_out = np.isin(candidates, held)
    scale = pool / len(candidates)
    scores = similarity_to(space[seed_mask], space[candidates])
    order = np.argsort(-scores, kind="stable")
    curve = []
    for share in CURVE_SHARES:
        size = max(1, int(round(share * len(candidates))))
        curve.append({"share": share, "size": int(round(size * scale)),
                      "mean_similarity": float(scores[order[:size]].mean()),
                      "recall": float(held_out[order[:size]].sum() / len(held))})
    top = max(1, int(round(TOP * len(candidates))))
    out = {"recall_at_20": _recall_at(scores, held_out, top), "held_out": int(n_held),
           "candidates": int(pool), "ranked": int(len(candidates)), "curve": curve}
    if features is not None:
        baseline = mean_distance_scores(features[seed_mask], features[candidates], features)
        out["baseline_recall_at_20"] = _recall_at(baseline, held_out, top)
    return out


def rank_lookalikes(space: np.ndarray, member: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Positions (rows of ``space``) of the ``size`` non-members most similar to all members, best
    first, and their similarities."""
    member = np.asarray(member, dtype=bool)
    outside = np.flatnonzero(~member)
    scores = similarity_to(space[member], space[outside])
    order = np.argsort(-scores, kind="stable")[:max(0, int(size))]
    return outside[order], scores[order]

"""Drift check: customers who joined a segment since its models were fitted, and do something else.

A blend of known behaviours (one persona's channels with another's categories) is reconstructed
well by the autoencoder, so novelty misses it, and under reused models its customers, sign-ups and
converts, are sent to the segment they most resemble. There they move the segment's profile only
as fast as they become a share of it (:func:`segmentation.dynamics.drift.profile_shift`): a month
at 3 % of the customers and 10 % of the segment moves it by a tenth of the distance between the two
behaviours, under the threshold. Asked directly, the same customers stand out: the segment's
*newcomers* (in it now, not in it at the fit) mix their events unlike its *stayers* (in it at both).

Both groups are taken in this snapshot's window, so a season that moves everybody moves both. A
group's mix is its pooled share of each event type, channel, category, time of day and weekend
(each customer's shares weighted by their events): smoothed shares would pull customers with few
events toward the population, and a segment's sign-ups would differ from its regulars by that
alone; ``trend`` (:data:`segmentation.workflows.snapshot.NOT_MIX`) is 1 for anyone who signed up in
the window. Distances are mean of the :data:`~segmentation.engine.resemblance.TOP` largest
differences in population standard deviations (:func:`~segmentation.engine.resemblance.profile_distance`),
against :data:`~segmentation.engine.resemblance.UNLIKE`, the distance at which the dynamics call
a segment new behaviour, or sampling (:data:`~segmentation.dynamics.drift.SAMPLING_Z` standard
errors of the difference of two means) where that is larger. Only groups as large as the run's
floor count: a segment could form from them.

Pure pandas/numpy: no database, no models.
"""

from __future__ import annotations

from typing import Optional, Sequence

import numpy as np
import pandas as pd

__all__ = ["newcomers_unlike", "newcomers_threshold"]


def newcomers_threshold(newcomers: int, stayers: int) -> float:
    """The mix distance at which ``newcomers`` customers behave unlike ``stayers`` of their segment."""
    from segmentation.dynamics.drift import SAMPLING_Z
    from segmentation.engine.resemblance import UNLIKE

    return max(UNLIKE, SAMPLING_Z * float(np.sqrt(1.0 / max(newcomers, 1) + 1.0 / max(stayers, 1))))


def _pooled(mix: np.ndarray, weights: np.ndarray, rows: np.ndarray) -> np.ndarray:
    w = weights[rows]
    return (mix[rows] * w[:, None]).sum(axis=0) / max(float(w.sum()), 1e-12)


def newcomers_unlike(features: pd.DataFrame, labels: np.ndarray, fitted: np.ndarray, mix_columns: Sequence[str],
                     floor: int, weight_column: Optional[str] = "frequency") -> tuple[float, Optional[int], int, float]:
    """The segment whose newcomers mix most unlike its stayers, for their sizes.

    ``features``: this snapshot's features (one row per customer); ``labels``: the reused models'
    segments; ``fitted``: the same customers' segments in the run that fitted the models (−1: noise
    there, or not a customer then); ``mix_columns``: the share columns of the mix; ``floor``: the
    run's smallest segment, in customers; ``weight_column``: each customer's events (absent: 1 each).
    Returns ``(distance, segment, newcomers, threshold)`` of the segment furthest beyond (or nearest
    to) its threshold; ``(0.0, None, 0, UNLIKE)`` when no segment has ``floor`` newcomers and stayers.
    """
    from segmentation.engine.resemblance import UNLIKE, profile_distance

    columns = [c for c in mix_columns if c in features.columns]
    worst: tuple[float, Optional[int], int, float] = (0.0, None, 0, UNLIKE)
    if not columns or len(features) == 0:
        return worst
    raw = features[columns].to_numpy(dtype=np.float64)
    std = raw.std(axis=0)
    keep = std > 1e-12
    mix = raw[:, keep] / std[keep]
    weights = (features[weight_column].clip(lower=0).to_numpy(dtype=np.float64)
               if weight_column and weight_column in features.columns else np.ones(len(features)))
    labels, fitted = np.asarray(labels), np.asarray(fitted)
    names = np.asarray(columns)[keep]
    for segment in np.unique(labels[labels >= 0]):
        inside = labels == segment
        new, stay = np.flatnonzero(inside & (fitted != segment)), np.flatnonzero(inside & (fitted == segment))
        if len(new) < floor or len(stay) < floor:
            continue
        a = pd.DataFrame([_pooled(mix, weights, new)], columns=names)
        b = pd.DataFrame([_pooled(mix, weights, stay)], columns=names)
        distance = float(profile_distance(a, b).iloc[0, 0])
        threshold = newcomers_threshold(len(new), len(stay))
        if distance / threshold > worst[0] / worst[3]:
            worst = (distance, int(segment), int(len(new)), threshold)
    return worst

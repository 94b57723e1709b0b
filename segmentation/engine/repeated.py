"""Is the difference between two groups of customers a trait they repeat, or noise the clusterer chose?

A density clusterer groups customers by their features, and a customer's shares of a few events
are mostly sampling noise. Among the customers of one behaviour, those whose few events happened
to lean the same way form a pocket, and the pocket's profile differs from the rest on exactly the
features that grouped it: a difference of 1–2 standard deviations that nobody has. Measured again
on the same events, the difference is as large (it was selected on them); measured on a random half
of the events it is as large too (the half shares the selected noise).

What separates a trait from selected noise is whether *each customer* repeats it. The window's
events are split into two pseudo-random halves (:func:`segmentation.features.signal.split_half_tables`),
and every customer of the two groups is projected, in each half, onto the direction that separates
the groups. Where the groups differ in behaviour, a customer's two projections agree (their
covariance over the customers is the between-group variance, ``p(1 − p)·d²`` for a difference
``d`` and a share ``p`` in the smaller group); where the difference is noise the clusterer picked,
the halves' noise is independent and the covariance is 0. :func:`repeated_share` is the part of the
groups' difference that their customers repeat, ``sqrt(cov / (p(1 − p))) / d``, both measured on the
halves, so that the halves' own scale (fewer events, more smoothing) cancels: about 1 for two
behaviours, about 0 for a pocket of noise.

Measured on the change suite's tuning seed 2 (``benchmarks/results/repeated_tuning.md``): a pocket of
61 customers HDBSCAN cut out of one planted persona differed by 1.3–1.5 sd on each half, but its
customers' halves were uncorrelated (r = −0.07); two planted personas, and a blend with its persona,
had r = 0.33–0.91.

Pure numpy: no database, no UI.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

__all__ = ["SplitHalves", "repeated_share", "MIN_REPEAT_ROWS"]

#: Fewer customers than this in the two groups together: nothing is measured and the difference
#: counts as repeated (the segments stay as found). Groups that have that many customers but fewer
#: of them with events in both halves (or fewer than 3 in a group) rest their difference on customers
#: who cannot repeat it, and none of it counts (see :func:`repeated_share`).
MIN_REPEAT_ROWS = 30


class SplitHalves(NamedTuple):
    """Each row's features on the two halves of its events, in the space the groups are compared in.

    ``first``/``second``: rows × columns; ``present``: rows with events in both halves.
    """

    first: np.ndarray
    second: np.ndarray
    present: np.ndarray

    def columns(self, which) -> "SplitHalves":
        """The same halves, only ``which`` columns (positions)."""
        return SplitHalves(self.first[:, which], self.second[:, which], self.present)


def repeated_share(Z: np.ndarray, halves: SplitHalves, a: np.ndarray, b: np.ndarray) -> float:
    """The part (0–1) of the difference between groups ``a`` and ``b`` that their customers repeat.

    ``Z``: rows × columns (the space the groups were found in), ``a``/``b``: boolean row masks,
    ``halves``: the same rows and columns on each half of the events. The direction is the
    groups' difference in ``Z``; see the module docstring for the measure. 1.0 when it cannot be
    measured on too few customers (fewer than :data:`MIN_REPEAT_ROWS` in the groups) or there is no
    difference; 0.0 when the groups are that large but their difference rests on customers without
    events in both halves (fewer than :data:`MIN_REPEAT_ROWS` of them, or fewer than 3 in a group).
    A customer with one event in the window sits on a corner of the share simplex (100 % of one
    category, one channel, one time of day), and a density clusterer finds a group at each corner:
    on a purchase log the one-time buyers of one persona came out as a segment per category they
    happened to buy (tuning seed 1, ``purchases_noisy_5``: 10 segments of one persona). One event
    cannot show that its customer repeats it, so such a difference is not counted.
    """
    a, b = np.asarray(a, dtype=bool), np.asarray(b, dtype=bool)
    direction = Z[b].mean(axis=0) - Z[a].mean(axis=0)
    norm = float(np.linalg.norm(direction))
    in_a, in_b = a & halves.present, b & halves.present
    if norm == 0 or a.sum() + b.sum() < MIN_REPEAT_ROWS:
        return 1.0
    if in_a.sum() < 3 or in_b.sum() < 3 or in_a.sum() + in_b.sum() < MIN_REPEAT_ROWS:
        return 0.0
    w = direction / norm
    rows = in_a | in_b
    first, second = halves.first[rows] @ w, halves.second[rows] @ w
    p = float(in_b[rows].mean())
    cov = float(np.cov(first, second)[0, 1])
    gap_first = first[in_b[rows]].mean() - first[in_a[rows]].mean()
    gap_second = second[in_b[rows]].mean() - second[in_a[rows]].mean()
    gap = (gap_first + gap_second) / 2
    if gap <= 0:  # the halves do not even show the groups' difference
        return 0.0
    return float(min(1.0, np.sqrt(max(cov, 0.0) / (p * (1 - p))) / gap))

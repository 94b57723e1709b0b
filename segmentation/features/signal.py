"""How much of each feature is signal, and which features the segments are found on, per data set.

Two decisions a snapshot makes from the data it holds, not from a list tuned to one data set:

* :func:`feature_reliability`: split-half reliability of every feature. The window's
  events are split into two pseudo-random halves (a hash of each event), the feature
  table is built on each half, and each feature's rank correlation across customers
  between the halves, from its lower 95 % confidence bound up (what chance agreement alone
  would give is not signal), is stepped up to the whole window with the Spearman–Brown formula
  (``2r / (1 + r)``). A feature whose halves agree is behaviour a customer repeats; one
  whose halves disagree is sampling noise (a share of 3 events, a conversion rate of 2
  views). :func:`reliability_weights`: a feature that is at least half signal counts
  fully; below that its weight falls as ``sqrt(reliability / 0.5)``.
* :func:`choose_clustered`: spend, purchase count and purchase interval are clustered
  only when most of the window's events are purchases (a purchase log): where customers
  mostly browse, read and visit, "bought inside the window or not" moves all three at
  once and splits every behaviour in two, so they stay profile-only. A column that
  ranks customers exactly like an earlier one (on a purchase log the event count
  and the purchase count are one measure) is left out, so one measure is not counted twice.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

__all__ = ["feature_reliability", "split_half_tables", "reliability_weights", "choose_clustered", "RELIABILITY_FULL_WEIGHT",
           "VALUE_FEATURES", "RELIABILITY_Z", "PURCHASE_SHARE_TO_CLUSTER_VALUE", "DUPLICATE_RANK_CORRELATION", "MIN_RELIABILITY_ROWS"]

#: Features of what customers spend and how often they buy.
VALUE_FEATURES = ("monetary", "n_purchases", "purchase_interval_days")
#: Value features are clustered when at least this share of the window's events are purchases.
PURCHASE_SHARE_TO_CLUSTER_VALUE = 0.5
#: A feature at least this reliable counts fully; below, its weight is sqrt(reliability / this).
RELIABILITY_FULL_WEIGHT = 0.5
#: A column whose rank correlation with an earlier one reaches this is a duplicate of it.
DUPLICATE_RANK_CORRELATION = 0.995
#: A split-half correlation counts from its lower 95 % confidence bound (two-sided z) up: chance agreement is not signal.
RELIABILITY_Z = 1.96
#: Fewer customers active in both halves than this: every feature keeps weight 1.
MIN_RELIABILITY_ROWS = 50


def split_half_tables(con, as_of: date, window_days: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The feature table built on each of two pseudo-random halves of the window's events (a hash
    of each event): a customer is in a half's table when they have events in it."""
    from segmentation.features.table import build_features

    first, second = (build_features(con, as_of, window_days, half=h).frame for h in (0, 1))
    return first, second


def feature_reliability(con, as_of: date, window_days: int, columns, *, sample: int = 50_000,
                        seed: int = 0, halves: tuple[pd.DataFrame, pd.DataFrame] | None = None) -> dict[str, float]:
    """Split-half (Spearman–Brown) reliability of each of ``columns``, 0–1 (see the module docstring).

    Computed over the customers active in both halves (at most ``sample`` of them); a
    column missing from a half, or constant in it, has reliability 0. ``halves``: the tables of
    :func:`split_half_tables`, when already built.
    """
    halves = halves if halves is not None else split_half_tables(con, as_of, window_days)
    both = halves[0].index.intersection(halves[1].index)
    if len(both) < MIN_RELIABILITY_ROWS:
        return {str(c): 1.0 for c in columns}
    if len(both) > sample:
        both = pd.Index(np.random.default_rng(seed).choice(np.asarray(both), size=sample, replace=False))
    result = {}
    for column in map(str, columns):
        if column not in halves[0].columns or column not in halves[1].columns:
            result[column] = 0.0
            continue
        a = halves[0].loc[both, column].rank().to_numpy()
        b = halves[1].loc[both, column].rank().to_numpy()
        if a.std() == 0 or b.std() == 0:
            result[column] = 0.0
            continue
        r = _lower_bound(float(np.corrcoef(a, b)[0, 1]), len(both))
        result[column] = round(2 * r / (1 + r), 4)
    return result


def _lower_bound(r: float, n: int) -> float:
    """The split-half correlation's lower confidence bound (Fisher's z, :data:`RELIABILITY_Z`), at least 0.

    A feature of pure noise still correlates a little between halves by chance (about
    ``1/sqrt(n)``): that part is not behaviour a customer repeats, and with a few thousand
    customers it would give a dozen noise columns a third of a real feature's weight each.
    """
    if not r > 0 or n <= 3:
        return 0.0
    return max(0.0, float(np.tanh(np.arctanh(min(r, 1 - 1e-12)) - RELIABILITY_Z / np.sqrt(n - 3))))


def reliability_weights(reliability: dict, columns) -> dict[str, float]:
    """Weight per column from its reliability: 1 from :data:`RELIABILITY_FULL_WEIGHT` up, less below."""
    return {str(c): round(float(min(1.0, np.sqrt(max(reliability.get(str(c), 1.0), 0.0) / RELIABILITY_FULL_WEIGHT))), 4)
            for c in columns}


def choose_clustered(frame: pd.DataFrame, profile_only) -> tuple[list[str], list[str], str]:
    """(clustered columns, profile-only columns, why) for this feature table.

    ``profile_only``: the features the caller keeps out of the clustering in any case;
    ``"auto"`` means: the value features unless at least half the events are purchases, and
    no column that ranks customers like an earlier one.
    """
    if profile_only != "auto":
        out = set(profile_only)
        return ([c for c in frame.columns if c not in out], [c for c in frame.columns if c in out],
                "profile-only features as configured")
    purchases = float(frame["n_purchases"].sum()) if "n_purchases" in frame.columns else 0.0
    events = float(frame["frequency"].sum()) if "frequency" in frame.columns else 0.0
    share = purchases / events if events else 0.0
    if share >= PURCHASE_SHARE_TO_CLUSTER_VALUE:
        why = (f"{share:.0%} of the events are purchases (a purchase log): spend, purchase count "
               "and purchase interval are clustered")
        candidates = list(frame.columns)
    else:
        why = (f"{share:.0%} of the events are purchases: spend, purchase count and purchase "
               "interval are profile-only (whether a customer happened to buy would split every behaviour)")
        candidates = [c for c in frame.columns if c not in VALUE_FEATURES]
    duplicates = _duplicates(frame[candidates])
    if duplicates:
        why += ("; " + ", ".join(f"{c} (the same ranking as {d})" for c, d in duplicates.items())
                + " left out: a second copy of one measure would count it twice")
    clustered = [c for c in candidates if c not in duplicates]
    return clustered, [c for c in frame.columns if c not in set(clustered)], why


def _duplicates(frame: pd.DataFrame, *, sample: int = 20_000) -> dict[str, str]:
    """Columns that rank customers (almost) exactly like an earlier column: column → that column."""
    if frame.shape[1] < 2:
        return {}
    rows = frame if len(frame) <= sample else frame.sample(sample, random_state=0)
    ranks = rows.rank().to_numpy()
    ranks = ranks - ranks.mean(axis=0)
    norms = np.linalg.norm(ranks, axis=0)
    found: dict[str, str] = {}
    for j in range(1, ranks.shape[1]):
        if norms[j] == 0:
            continue
        for i in range(j):
            if frame.columns[i] in found or norms[i] == 0:
                continue
            if abs(float(ranks[:, i] @ ranks[:, j]) / (norms[i] * norms[j])) >= DUPLICATE_RANK_CORRELATION:
                found[frame.columns[j]] = frame.columns[i]
                break
    return found

"""How alike two segments behave, in a space that is comparable across snapshots.

A segment's *lift profile* is, for every feature, how far its mean lies from the mean
of all customers of its snapshot, in that snapshot's standard deviations (the
``std_diff`` each stored profile already carries). Lifts are relative to their own
snapshot, so a change that moves everybody (a seasonal surge) moves no segment, and
segments of snapshots fitted with different models can still be compared.

The distance between two profiles is the mean of the :data:`TOP` largest absolute lift
differences: two segments are as different as the few features that set them apart,
however many features the data has. Measured on the scenario suite's tuning seeds
(``benchmarks/results/tracking_calibration.md``): two random halves of one planted
persona are at most ~0.55 apart, two different personas at least ~0.9.

* :data:`TWIN` — at or below it, two segments of one snapshot behave the same: twins,
  one segment.
* :data:`UNLIKE` — above it from every earlier segment, a segment is new behaviour.
* :data:`SHIFTED` — a surviving segment whose profile moved at least this far has
  *shifted* behaviour (reported beside its transition).

Pure numpy/pandas (and scikit-learn's ridge regression for :func:`expected_before`): no database, no UI.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from segmentation.constants import NOISE

__all__ = ["TOP", "TWIN", "UNLIKE", "SHIFTED", "lift_vectors", "lifts_of_labels", "profile_distance",
           "largest_changes", "merge_profile_twins", "repeated_distances", "mean_vectors", "means_of_labels", "segment_shift",
           "group_shift", "expected_before"]

TOP = 5
TWIN = 0.6
UNLIKE = 0.85
SHIFTED = 0.4


def lift_vectors(segments: pd.DataFrame) -> pd.DataFrame:
    """Segment × feature lifts from stored segment rows (``segment_id``, ``profile`` with ``traits``).

    Noise and rows without traits are left out; a feature a profile lacks is 0 (no lift).
    """
    rows: dict[int, dict[str, float]] = {}
    for row in segments.itertuples(index=False):
        profile = row.profile if isinstance(row.profile, dict) else {}
        traits = profile.get("traits") or []
        if int(row.segment_id) == NOISE or not traits:
            continue
        rows[int(row.segment_id)] = {t["feature"]: float(t.get("std_diff") or 0.0) for t in traits}
    return pd.DataFrame.from_dict(rows, orient="index").fillna(0.0).sort_index()


def mean_vectors(segments: pd.DataFrame) -> tuple[pd.DataFrame, pd.Series]:
    """Segment × feature means and the population's standard deviation per feature, from stored profiles.

    Profiles stored before ``population_std`` was recorded give an empty frame (no reference).
    """
    means: dict[int, dict[str, float]] = {}
    std: dict[str, float] = {}
    for row in segments.itertuples(index=False):
        profile = row.profile if isinstance(row.profile, dict) else {}
        traits = [t for t in profile.get("traits") or [] if "population_std" in t]
        if int(row.segment_id) == NOISE or not traits:
            continue
        means[int(row.segment_id)] = {t["feature"]: float(t["segment_mean"]) for t in traits}
        std.update({t["feature"]: float(t["population_std"]) for t in traits})
    return pd.DataFrame.from_dict(means, orient="index").sort_index(), pd.Series(std, dtype=float)


def means_of_labels(Z: pd.DataFrame, labels: np.ndarray) -> tuple[pd.DataFrame, pd.Series]:
    """Segment × feature means of ``Z`` (noise left out) and the population's standard deviation."""
    means = Z.groupby(np.asarray(labels)).mean()
    return means[means.index != NOISE], Z.std(ddof=0)


def segment_shift(now: pd.DataFrame, before: pd.DataFrame, std: pd.Series, top: int = TOP) -> pd.Series:
    """How far each segment's behaviour moved, in the reference's standard deviations.

    Feature means are compared as they are (not relative to the population, so a persona
    that grows does not move the others), after removing the shift every segment shares
    (the median across segments: a season that moves everybody moves no segment). The
    distance is the mean of the ``top`` largest absolute moves, per segment.
    """
    columns = [c for c in now.columns if c in before.columns and std.get(c, 0) > 0]
    common = [s for s in now.index if s in before.index]
    if not columns or not common:
        return pd.Series(dtype=float)
    moved = (now.loc[common, columns] - before.loc[common, columns]) / std[columns]
    moved = (moved - moved.median(axis=0)).abs().to_numpy()
    k = min(top, moved.shape[1])
    return pd.Series(-np.sort(-moved, axis=1)[:, :k].mean(axis=1), index=common)


def lifts_of_labels(Z: np.ndarray | pd.DataFrame, labels: np.ndarray) -> pd.DataFrame:
    """Lift profile of every labelled group of rows of ``Z`` (noise left out)."""
    frame = pd.DataFrame(np.asarray(Z, dtype=np.float64))
    if isinstance(Z, pd.DataFrame):
        frame.columns = Z.columns
    std = frame.std(ddof=0).replace(0, np.nan)
    means = frame.groupby(np.asarray(labels)).mean()
    means = means[means.index != NOISE]
    return ((means - frame.mean()) / std).fillna(0.0)


def group_shift(before: pd.DataFrame, now: pd.DataFrame, customers, top: int = TOP) -> float:
    """How far one group of customers' own behaviour moved between two snapshots.

    ``before``/``now``: feature tables (customer × feature) of the two snapshots, everybody in
    each; ``customers``: the group (ids present in both are used), chosen by how they behave
    *now* (a segment of this snapshot). The group's lift is taken in each snapshot against that
    snapshot's population, on the features both tables have: a season that moves everybody does
    not move the group; customers who took up new behaviour do.

    A group chosen for how it behaves in one window looks less extreme in any other, without
    anybody changing (regression to the mean): the part of a segment that bought in this window
    looked like the rest of the segment the window before. So the group's lift before is compared
    both with its lift now and with what the population's own window-to-window regression
    (:func:`expected_before`) predicts for it from its behaviour now; the shift is the smaller
    of the two distances (:func:`profile_distance`). Where the windows hardly predict each other,
    a group that stands out now and was average before is what selection alone produces: no
    evidence of new behaviour. NaN when fewer than half of the group (of those in ``now``) is in
    both tables: most of it has no earlier behaviour, so nothing shows that the behaviour was there
    before (a forming segment's sign-ups; its converts alone came from everywhere and look average
    then, which is also what selection predicts).

    Only the group's rows and the regression's sample are standardised (the windows' means and
    deviations come from the whole tables), so a call costs little at a million customers.
    """
    columns = before.columns.intersection(now.columns)
    present_now = pd.Index(customers).intersection(now.index)
    ids = present_now.intersection(before.index)
    if len(ids) == 0 or len(columns) == 0 or 2 * len(ids) < len(present_now):
        return float("nan")
    then, current = _Window.of(before, columns), _Window.of(now, columns)
    lift_then = pd.DataFrame([then.rows(ids).mean(axis=0)], columns=columns)
    lift_now = pd.DataFrame([current.rows(ids).mean(axis=0)], columns=columns)
    shift = float(profile_distance(lift_then, lift_now, top).iloc[0, 0])
    expected = _expected(then, current, ids)
    if expected is not None:
        shift = min(shift, float(profile_distance(lift_then, expected.to_frame().T, top).iloc[0, 0]))
    return shift


#: Customers (a seeded sample of those in both windows) the window-to-window regression is fitted on.
REGRESSION_ROWS = 20_000


@dataclass(frozen=True)
class _Window:
    """A feature table with its columns' means and standard deviations, standardised on demand."""

    frame: pd.DataFrame
    columns: pd.Index
    mean: np.ndarray
    std: np.ndarray

    @classmethod
    def of(cls, frame: pd.DataFrame, columns: pd.Index) -> "_Window":
        std = frame.std(ddof=0, numeric_only=True).reindex(columns).to_numpy(np.float64)
        return cls(frame, columns, frame.mean(numeric_only=True).reindex(columns).to_numpy(np.float64),
                   np.where(std > 0, std, np.nan))

    def rows(self, ids: pd.Index) -> np.ndarray:
        """Standardised values of those customers (a constant column, or a missing value, is 0)."""
        values = self.frame.loc[ids, self.columns].to_numpy(np.float64)
        return np.nan_to_num((values - self.mean) / self.std)


def expected_before(before: pd.DataFrame, now: pd.DataFrame, ids: pd.Index) -> pd.Series | None:
    """The mean standardised behaviour ``ids`` would have had in the earlier window had nobody changed.

    ``before``/``now``: feature tables of the two windows (their common columns are used). A ridge
    regression of every customer's standardised features then on their features now, fitted on the
    other customers in both windows (at most :data:`REGRESSION_ROWS` of them; the group is left
    out so that a change of its own is not learnt as the norm), is how much of a customer's
    behaviour now the window before already showed, for this population and these windows; its
    mean prediction for ``ids`` is what selection alone leaves of their lift. None when too few
    customers are there to fit it (fewer than five per feature).
    """
    columns = before.columns.intersection(now.columns)
    return _expected(_Window.of(before, columns), _Window.of(now, columns), pd.Index(ids))


def _expected(then: _Window, now: _Window, ids: pd.Index) -> pd.Series | None:
    from sklearn.linear_model import Ridge  # imported here: the command line starts without scikit-learn

    both = then.frame.index.intersection(now.frame.index).difference(ids)
    if len(both) < 5 * len(then.columns):
        return None
    if len(both) > REGRESSION_ROWS:
        both = both[np.sort(np.random.default_rng(0).choice(len(both), REGRESSION_ROWS, replace=False))]
    model = Ridge(alpha=1.0).fit(now.rows(both), then.rows(both))
    return pd.Series(model.predict(now.rows(ids)).mean(axis=0), index=then.columns)


def profile_distance(a: pd.DataFrame, b: pd.DataFrame, top: int = TOP) -> pd.DataFrame:
    """``a.index`` × ``b.index`` distances: the mean of the ``top`` largest absolute lift differences.

    Features present on one side only count as 0 lift on the other (nobody there had it).
    """
    columns = a.columns.union(b.columns)
    A = a.reindex(columns=columns, fill_value=0.0).to_numpy(dtype=np.float64)
    B = b.reindex(columns=columns, fill_value=0.0).to_numpy(dtype=np.float64)
    if A.size == 0 or B.size == 0:
        return pd.DataFrame(np.zeros((len(a), len(b))), index=a.index, columns=b.index)
    diff = np.abs(A[:, None, :] - B[None, :, :])
    k = min(top, diff.shape[2])
    largest = -np.sort(-diff, axis=2)[:, :, :k]
    return pd.DataFrame(largest.mean(axis=2), index=a.index, columns=b.index)


def largest_changes(before: pd.Series, after: pd.Series, k: int = 3) -> list[dict[str, Any]]:
    """The ``k`` features whose lift moved most from ``before`` to ``after`` (both lift vectors)."""
    columns = before.index.union(after.index)
    b = before.reindex(columns, fill_value=0.0)
    a = after.reindex(columns, fill_value=0.0)
    order = (a - b).abs().sort_values(ascending=False).index[:k]
    return [{"feature": str(f), "lift_before": round(float(b[f]), 2), "lift_after": round(float(a[f]), 2)}
            for f in order if abs(a[f] - b[f]) > 0]


def repeated_distances(Z: np.ndarray, labels: np.ndarray, ids, distance: np.ndarray, halves,
                       shares: dict | None = None) -> np.ndarray:
    """``distance`` (groups ``ids`` × ``ids``) times the part of each pair's difference that the
    customers repeat (:func:`segmentation.engine.repeated.repeated_share`; ``halves`` None: as is).

    ``shares``: the pairs' shares by ``(id, id)``, read and filled (a caller that changes only some
    groups between calls drops their pairs and keeps the rest).
    """
    out = np.array(distance, dtype=np.float64)  # a writable copy
    if halves is None:
        return out
    from segmentation.engine.repeated import repeated_share

    shares = {} if shares is None else shares
    for i in range(len(ids)):
        for j in range(i + 1, len(ids)):
            pair = (int(ids[i]), int(ids[j]))
            if pair not in shares:
                shares[pair] = repeated_share(Z, halves, labels == ids[i], labels == ids[j])
            out[i, j] = out[j, i] = distance[i, j] * shares[pair]
    return out


def merge_profile_twins(Z: np.ndarray, labels: np.ndarray, threshold: float = TWIN, repeated=None
                        ) -> tuple[np.ndarray, list[dict]]:
    """Merge groups whose lift profiles are within ``threshold``; closest pair first, repeated.

    ``repeated`` (``(mix, halves)``: positions of ``Z``'s mix columns and a
    :class:`~segmentation.engine.repeated.SplitHalves` of those columns; None: off): a pair is also
    within ``threshold`` when its *mix* distance, times the part of it that its customers repeat on
    the two halves of their events, is. A pocket the clusterer drew from one behaviour's sampling
    noise is then merged back however far its profile lies: its counts and rates differ as the
    events that chose it do, its mix in nothing the customers repeat (the mix difference that
    remains is ``repeated``, beside ``distance``, in its merge). With a third item, ``rest`` (positions
    of the columns that must also be alike), that holds only when the pair's lift distance over
    those columns is within ``threshold`` too: on a purchase log, where value and rhythm are the
    behaviour, two segments that differ in spend are not twins whatever their mix.
    Returns ``(labels, merges)``: labels with each merged group folded into the larger one
    (ids are not renumbered; noise stays −1), and one dict per merge (``kept``,
    ``merged``, ``distance``, ``sizes``).
    """
    labels = np.asarray(labels, dtype=np.int64).copy()
    merges: list[dict] = []
    shares: dict = {}  # repeated shares of the pairs no merge has changed yet
    while True:
        ids = np.unique(labels[labels >= 0])
        if len(ids) < 2:
            break
        lifts = lifts_of_labels(Z, labels)
        raw = profile_distance(lifts, lifts).to_numpy()
        distance = raw.copy()
        if repeated is not None:
            mix, halves, *rest = repeated
            of_mix = repeated_distances(Z[:, mix], labels, lifts.index.to_numpy(),
                                        profile_distance(lifts.iloc[:, mix], lifts.iloc[:, mix]).to_numpy(), halves,
                                        shares)
            if rest and len(rest[0]):
                alike = lifts.iloc[:, list(rest[0])]
                of_mix = np.maximum(of_mix, profile_distance(alike, alike).to_numpy())
            distance = np.minimum(raw, of_mix)
        np.fill_diagonal(distance, np.inf)
        i, j = np.unravel_index(np.argmin(distance), distance.shape)
        if distance[i, j] > threshold:
            break
        a, b = int(lifts.index[i]), int(lifts.index[j])
        sizes = {s: int((labels == s).sum()) for s in (a, b)}
        keep, gone = (a, b) if sizes[a] >= sizes[b] else (b, a)
        merges.append({"kept": keep, "merged": gone, "distance": round(float(raw[i, j]), 3),
                       **({"repeated": round(float(distance[i, j]), 3)} if repeated is not None else {}),
                       "sizes": [sizes[keep], sizes[gone]]})
        labels = np.where(labels == gone, keep, labels)
        shares = {pair: s for pair, s in shares.items() if keep not in pair and gone not in pair}
    return labels, merges


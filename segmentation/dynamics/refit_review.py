"""What a refit did to the reused models' segments, and whether to keep it.

A refit does not always see more than the models it replaces: fitted again on the same
behaviour, HDBSCAN may put two segments together that the reused models still tell apart
and whose customers still behave differently (a small segment near a large one, say), or
cut out of a segment a part whose customers behave as they did (buyers and browsers of one
persona). Lineages would then merge and split again from one refit to the next. So a refit is
*set aside* — the reused models are kept and the run says why — when every change it makes
re-draws behaviour the reused models already describe (:func:`set_aside`). Behaviour that
really merges (two segments converging), a part whose customers took up new behaviour, and a
segment found among the reused models' noise keep the refit. A refit that is kept (or forced, the
features having changed) folds back a part it cut out of an earlier segment when its own resampling
cannot reproduce it and its customers behave as they did (:func:`unreproducible_cuts`): a pocket
drawn at the floor, which under the reused models would cross it back and forth.

Pure numpy/pandas on the two labelings of the same customers; the decision is
:class:`segmentation.dynamics.drift.ModelDecision`.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Callable

import numpy as np
import pandas as pd

from segmentation.dynamics.drift import SAMPLING_Z, ModelDecision

__all__ = ["lost_resolution", "converging", "cut_parts", "found_in_noise", "set_aside", "unreproducible_cuts",
           "continuations", "fold_sentence"]


def lost_resolution(features: pd.DataFrame, before: np.ndarray, after: np.ndarray, tau: float = 0.5
                    ) -> tuple[list[dict], list[int]]:
    """What a refit loses and gains against the reused models, on the same customers.

    ``before``: segments of the reused models, ``after``: of the refit (per row of ``features``).
    Returns ``(lost, gained)``: pairs of reused segments that each send at least ``tau`` of their
    customers into one refit segment although those customers (now, on ``features``) are further
    apart than :data:`~segmentation.engine.resemblance.TWIN`; and refit segments unlike every
    reused segment (beyond :data:`~segmentation.engine.resemblance.UNLIKE`). A pair is judged on the
    customers the refit puts together, not on the whole reused segments: a reused segment that lumped
    two behaviours, one of which now joins another segment, still differs from it as a whole.
    """
    from segmentation.engine.resemblance import TWIN, UNLIKE, lifts_of_labels, profile_distance

    before, after = np.asarray(before), np.asarray(after)
    old, new = lifts_of_labels(features, before), lifts_of_labels(features, after)
    if old.empty or new.empty:
        return [], []
    gained = [int(n) for n, d in profile_distance(new, old).min(axis=1).items() if d > UNLIKE]
    lost = []
    for n, a, b in _put_together(before, after, tau):
        distance = _pair_distance(features, (before == a) & (after == n), (before == b) & (after == n))
        if distance > TWIN:
            lost.append({"segments": [a, b], "into": n, "distance": round(distance, 3)})
    return lost, gained


def converging(features: pd.DataFrame, then: pd.DataFrame, origin: np.ndarray, after: np.ndarray,
               moved=None, tau: float = 0.5) -> list[dict]:
    """Pairs of earlier segments whose customers a refit puts together, distinct then and alike now.

    ``then``: the same customers' features in an earlier window, row for row with ``features``
    (NaN rows: not there then; a side with fewer than half of its customers there then is not
    judged); ``origin``: each row's segment when the reused models were fitted
    (−1: noise or not there), ``after``: the refit's. A pair of earlier segments that each send at
    least ``tau`` of their customers into one refit segment converged when those customers are within
    :data:`~segmentation.engine.resemblance.TWIN` of each other now and were further apart than it
    then: a merge, which the refit sees and the reused models cannot. The pair is taken from where the
    customers came from, not from the reused models' segments now: those share out merged behaviour
    between the segments it lies between, whatever each customer's origin.

    ``moved(rows)`` (optional, as in :func:`set_aside`): then both groups' customers must have moved
    beyond ``SHIFTED`` (NaN counts as moved). Two behaviours that meet on a mixture both move; when
    only one side moved, its customers took up the other's behaviour, which the reused models
    already express by assigning them to it (and a group the earlier fit drew apart on what was
    chance in its window looks alike later without anybody having moved).
    """
    from segmentation.engine.resemblance import SHIFTED, TWIN

    origin, after = np.asarray(origin), np.asarray(after)
    present = then.notna().any(axis=1).to_numpy()
    out = []
    for n, a, b in _put_together(origin, after, tau):
        joined_a, joined_b = (origin == a) & (after == n), (origin == b) & (after == n)
        rows_a, rows_b = joined_a & present, joined_b & present
        # each side (never empty: it sent tau of a segment here) is judged on its customers who were
        # there then, when they are at least half of it
        if 2 * rows_a.sum() < joined_a.sum() or 2 * rows_b.sum() < joined_b.sum():
            continue
        now = _pair_distance(features, rows_a, rows_b)
        earlier = _pair_distance(then[present], rows_a[present], rows_b[present])
        if now <= TWIN < earlier and (moved is None or not any(
                moved(np.flatnonzero(rows)) <= SHIFTED for rows in (rows_a, rows_b))):
            out.append({"segments": [a, b], "into": n, "distance_then": round(earlier, 3), "distance_now": round(now, 3)})
    return out


def _put_together(before: np.ndarray, after: np.ndarray, tau: float) -> list[tuple[int, int, int]]:
    """``(refit segment, reused a, reused b)`` for reused segments that each send at least ``tau`` of their customers into it."""
    real = before >= 0
    shares = pd.crosstab(before[real], after[real], normalize="index")
    into: dict[int, list[int]] = {}
    for o, row in shares.iterrows():
        n = row.idxmax()
        if n >= 0 and row[n] >= tau:
            into.setdefault(int(n), []).append(int(o))
    return [(n, a, b) for n, olds in into.items() for i, a in enumerate(olds) for b in olds[i + 1:]]


def _pair_distance(frame: pd.DataFrame, rows_a: np.ndarray, rows_b: np.ndarray) -> float:
    """Lift-profile distance between two groups of rows of ``frame`` (lifts against all its rows)."""
    from segmentation.engine.resemblance import lifts_of_labels, profile_distance

    labels = np.where(rows_a, 0, np.where(rows_b, 1, -1))
    lifts = lifts_of_labels(frame, labels)
    return float(profile_distance(lifts.loc[[0]], lifts.loc[[1]]).iat[0, 0])


def continuations(before: np.ndarray, after: np.ndarray) -> dict[int, int]:
    """``{reused segment: the refit segment holding most of its customers}`` (noise on either side left out)."""
    return _continuations(_shared(before, after))


def _shared(before: np.ndarray, after: np.ndarray) -> pd.DataFrame:
    """Customers per (reused segment, refit segment), noise on either side left out."""
    before, after = np.asarray(before), np.asarray(after)
    real = (before >= 0) & (after >= 0)
    return pd.crosstab(before[real], after[real])


def _continuations(shares: pd.DataFrame) -> dict[int, int]:
    return {int(o): int(shares.loc[o].idxmax()) for o in shares.index}


def cut_parts(before: np.ndarray, after: np.ndarray, tau: float = 0.5) -> dict[int, int]:
    """Refit segments that are a part cut from one reused segment: ``{refit segment: reused segment}``.

    A refit segment is such a part when more than ``tau`` of its customers come from one reused
    segment whose largest share of customers went to another refit segment (that one continues it).
    Parts made mostly of the reused models' noise are not cuts: those customers had no segment.
    """
    after = np.asarray(after)
    shares = _shared(before, after)
    continues = set(_continuations(shares).values())
    parts = {}
    for n in shares.columns:
        n = int(n)
        if n in continues:
            continue
        o = int(shares[n].idxmax())
        if shares.at[o, n] > tau * int(np.sum(after == n)):
            parts[n] = o
    return parts


def unreproducible_cuts(before: np.ndarray, after: np.ndarray, stability: Callable[[], dict[int, float]], moved,
                        min_jaccard: float | None = None) -> list[dict]:
    """Parts a refit cut out of a segment that are neither reproducible nor new behaviour: to fold back.

    ``before``: each row's segment in the previous snapshot (−1: noise or not there), ``after``: the
    refit's; ``stability()``: the refit's bootstrap Jaccard per segment
    (:func:`segmentation.engine.metrics.bootstrap_stability`; asked for only when there is a cut
    part); ``moved(rows)``: how far those rows'
    customers' behaviour moved since the previous snapshot's models were fitted (as in :func:`set_aside`).

    A refit cut part (:func:`cut_parts`) is folded back into the refit segment that continues its old
    one when the refit's own resampling does not find it again (Jaccard below ``min_jaccard``; default
    :data:`segmentation.engine.metrics.UNTRUSTED`, the "not to be trusted" of the Segment page) *and* its customers from the old segment behave as they did
    (their shift within ``SHIFTED`` or within sampling for their number,
    :data:`SAMPLING_Z` · sqrt(2 / n), whichever is larger; NaN, nobody to compare, counts as moved).
    Such a part is a pocket the clusterer drew at the floor, not a behaviour: reported, it appears as a
    new segment, and under the reused models it crosses the floor back and forth (merged, emerged,
    merged). A part that is reproducible, or whose customers changed, stays (a real split, or behaviour
    the old models had lumped together). Returns one dict per fold: ``segment``, ``into`` (refit ids),
    ``from_segment``, ``customers`` (the part's), ``from_it`` (of them, the old segment's),
    ``stability``, ``behaviour_shift``.
    """
    from segmentation.engine.metrics import UNTRUSTED
    from segmentation.engine.resemblance import SHIFTED

    min_jaccard = UNTRUSTED if min_jaccard is None else min_jaccard
    before, after = np.asarray(before), np.asarray(after)
    parts = cut_parts(before, after)
    if not parts:
        return []
    heirs = continuations(before, after)  # never a part itself (cut_parts), so folds form no cycle
    jaccards = stability()
    folds = []
    for n, o in parts.items():
        jaccard = float(jaccards.get(n, 1.0))
        if jaccard >= min_jaccard:
            continue
        rows = np.flatnonzero((before == o) & (after == n))
        shift = float(moved(rows))
        if not shift <= max(SHIFTED, SAMPLING_Z * float(np.sqrt(2.0 / max(len(rows), 1)))):
            continue
        folds.append({"segment": int(n), "into": heirs[o], "from_segment": int(o), "customers": int(np.sum(after == n)),
                      "from_it": int(len(rows)), "stability": round(jaccard, 3), "behaviour_shift": round(shift, 3)})
    return folds


def fold_sentence(fold: dict) -> str:
    """What a fold of :func:`unreproducible_cuts` did, in plain words (``from_run`` added by the caller)."""
    return (f"A part of {fold['customers']:,} customers the new models cut out of segment {fold['from_segment']} "
            f"of run {fold['from_run']} ({fold['from_it']:,} of them from it) stays with its successor: the cut "
            f"was not reproducible (stability {fold['stability']:.2f}) and their behaviour had not changed "
            f"(shift {fold['behaviour_shift']:.2f}).")


def found_in_noise(before: np.ndarray, after: np.ndarray, tau: float = 0.5) -> list[int]:
    """Refit segments more than ``tau`` of whose customers the reused models left in the noise."""
    before, after = np.asarray(before), np.asarray(after)
    return [int(n) for n in np.unique(after[after >= 0]) if np.mean(before[after == n] < 0) > tau]


def set_aside(decision: ModelDecision, features: pd.DataFrame, before: np.ndarray, after: np.ndarray,
              moved=None, then: Callable[[], tuple[pd.DataFrame, np.ndarray]] | None = None,
              unexplained: np.ndarray | None = None) -> ModelDecision | None:
    """The reuse decision that replaces a refit which only re-draws unchanged behaviour (else None).

    ``decision``: the drift check's (refit) decision for the reused models; ``before``/``after``: the
    reused models' and the refit's segments per row of ``features``. A refit is set aside when every
    change it makes re-draws behaviour the reused models already describe: two reused segments it
    puts together that still differ (:func:`lost_resolution`) or, given ``moved``, parts it cuts out
    of a reused segment (:func:`cut_parts`). It is kept when it finds a segment in the reused models'
    noise (:func:`found_in_noise`), or one unlike every reused segment that is no such part.

    ``moved(rows)`` (optional): how far those rows' customers' own behaviour moved since an earlier
    window (:func:`segmentation.engine.resemblance.group_shift`; NaN, nobody to compare, counts as
    moved). Two merged segments whose customers took up new behaviour (beyond ``SHIFTED``) are
    converging, and a part whose customers from its reused segment did are a real split or a new
    segment: either keeps the refit. Without ``moved`` only lost distinctions are judged.

    ``then()`` (optional, asked for only when the refit would otherwise be set aside): the customers'
    features in that earlier window and their segments when the reused models were fitted, both row
    for row with ``features``. Two earlier segments whose customers the refit puts together, distinct
    then and alike now, have converged (:func:`converging`): the refit is kept, whatever else it
    re-draws (the part a merge leaves behind of a segment that lumped it with one of the two).

    ``unexplained`` (optional, per row): customers the reused models do not explain (reconstruction
    error above their novelty threshold). A part cut out of a reused segment that is unlike every
    reused segment and made mostly of such customers is what those models miss, however little its
    customers moved against an earlier window (a behaviour the earlier window already held in part,
    which the old fit lumped): the refit is kept.
    """
    from segmentation.engine.resemblance import SHIFTED

    lost, gained = lost_resolution(features, before, after)
    before, after = np.asarray(before), np.asarray(after)
    parts = cut_parts(before, after) if moved is not None else {}
    if found_in_noise(before, after) or any(n not in parts for n in gained) or not (lost or parts):
        return None
    if unexplained is not None and any(np.mean(np.asarray(unexplained)[after == n]) > 0.5 for n in gained):
        return None  # the refit gathers what the reused models do not explain into a behaviour of its own
    if moved is not None:
        shift: dict[tuple[int, int], bool] = {}

        def changed(n: int, o: int) -> bool:  # customers of reused segment o in refit segment n
            if (n, o) not in shift:
                rows = np.flatnonzero((before == o) & (after == n))
                shift[(n, o)] = not moved(rows) <= SHIFTED
            return shift[(n, o)]

        if any(changed(pair["into"], s) for pair in lost for s in pair["segments"]) or any(
                changed(n, o) for n, o in parts.items()):
            return None  # converging segments or a real split: the refit sees what the reused models miss
    if then is not None and converging(features, *then(), after, moved=moved):
        return None
    if lost:
        first = lost[0]
        a, b = first["segments"]
        change = (f"the new models put segments {a} and {b} together, which still behave "
                  f"differently (profile distance {first['distance']:.2f})")
    else:
        n, o = next(iter(parts.items()))
        change = (f"the new models cut {int(np.sum((after == n) & (before == o))):,} customers out of segment "
                  f"{o} into a segment of their own, though their behaviour has not changed")
    why = (f"refit set aside: {change}, and found nothing the models of run {decision.from_run} miss; "
           f"those models are kept (drift: {'; '.join(decision.reasons)})")
    return ModelDecision(**{**asdict(decision), "refit": False, "reasons": [why]})

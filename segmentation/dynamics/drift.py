"""Keeping consecutive snapshots comparable: reuse the previous models unless the data drifted.

Refitting the whole pipeline at every snapshot re-draws the segment borders
each time (a new autoencoder, a new UMAP layout, a new HDBSCAN tree), so an
unchanged population can appear to split or merge. A snapshot therefore first
scores its customers with the models of the previous snapshot and keeps them
when they still explain the data; it refits only when drift calls for it:

* **novelty** — the share of customers whose reconstruction error is above the
  99th percentile seen when the models were fitted. The autoencoder learned the
  behaviour that existed then; customers it can no longer reconstruct behave in
  a new way. By construction about 1 % are above it without drift, so the
  *excess* over that is what is new.
* **noise** — the share of customers HDBSCAN cannot place, against the noise
  share when the models were fitted: grown by as many customers as the smallest
  segment, or grown past that size from below it by more than sampling (:data:`SAMPLING_Z`
  standard errors of a share at the floor). A behaviour already present but
  too small to be a segment at the fit sits in the noise; once the noise is as large
  as a segment, a refit can find it there (on the demo's weekly cadence the noise
  at the fit, 1.3 %, is mostly the emerging persona, then 1.5 % of customers; a week
  later the noise is 2.1 %, past the 2 % floor after growing by 0.8 points, and a
  model fitted then finds the persona as a segment);
* **newcomers unlike their segment** — as many customers as the smallest segment joined a
  segment since the fit and mix their events unlike the segment's other customers
  (:mod:`segmentation.dynamics.newcomers`): a blend of known behaviours forming inside it.
* **shifted behaviour** — a segment whose feature means (scored with the reused models)
  moved :data:`PROFILE_SHIFT` or more, in standard deviations and beyond the move all
  segments share, from the fitting run's, or from its lineage's first profile in the
  last six runs (:func:`segmentation.engine.resemblance.segment_shift`; calibrated on the change
  suite's tuning seed, ``benchmarks/results/tracking_calibration.md``). The autoencoder reconstructs a split or a blend of
  known behaviours well, so novelty misses them; the segment they hide in changes its
  profile instead. Lifts are relative to the snapshot, so a change that moves everybody
  (a season) does not count.

When either excess reaches ``min_cluster_share`` — as many customers as the
smallest segment the run may find — or the noise grows past it from below, a new
segment could be forming, and the models are refitted. Changed features or parameters always refit; so does the
user (``run --refit``) or an age limit (``refit_every`` snapshots).

While the models are reused, customers they clearly cannot explain —
reconstruction error above the fit's 99.9th percentile — are reported as noise
(``-1``) instead of being pushed into the nearest segment. A forming segment
then does not hide inside an old one; when it grows large enough for a refit,
its members come from noise and from customers new to the data, so tracking
records it as *emerged* rather than as a split of the segment that had absorbed
it. (Measured on the demo: 79 % of the emerging persona and 0.2 % of everyone
else are above that quantile a month after the fit.)

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

The baselines (error thresholds, noise share) are those of the run that *fitted*
the models and are carried along while they are reused, so slow drift adds up
instead of being compared with itself.

Models whose encoder cannot reconstruct its input (``encoder="passthrough"``, or a
transformer without ``reconstruction_error``/``inverse_transform``) give every customer
a reconstruction error of 0, so novelty would never trigger and nobody would be
unexplained. The decision then says so in a note (:data:`NO_RECONSTRUCTION`) stored
with the run, and rests on the evidence that remains: noise growth and shifted
segment profiles. Refitting at every snapshot instead would re-draw the segment
borders each time — the very instability reuse exists to prevent — while those two
checks still catch a forming segment once it is far from every segment (noise) or
moves the segment it hides in (profile shift); what they miss, a small new behaviour
that moves no profile, is what the note warns of. (``refit_every`` bounds the age.)
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Optional

import numpy as np
import pandas as pd

__all__ = ["NOVELTY_QUANTILE", "UNEXPLAINED_QUANTILE", "ModelDecision", "baseline_of", "assess",
           "mark_unexplained", "drop_small_segments", "profile_shift", "PROFILE_SHIFT", "comparable_params",
           "NO_RECONSTRUCTION", "has_reconstruction", "fitted_decision", "shift_threshold", "SAMPLING_Z", "lost_resolution", "converging", "cut_parts", "found_in_noise", "set_aside",
           "unreproducible_cuts", "continuations", "fold_sentence"]

_EPS = 1e-9  # shares are ratios of counts: compare without floating-point misses at the boundary
NOVELTY_QUANTILE = 0.99  # reconstruction-error quantile that marks "not explained" at fit time
UNEXPLAINED_QUANTILE = 0.999  # above it, a reused model reports the customer as noise
PROFILE_SHIFT = 0.25  # lift-profile distance at which a segment's behaviour has moved (tuning seeds)
# A small segment's means wobble by sampling alone: with n customers each feature's mean moves by
# about sqrt(2 / n) standard deviations between two snapshots, and the mean of the 5 largest of ~40
# such moves is about 1.9 times that (its 99th percentile 2.5 times; simulated). A segment has
# moved only beyond SAMPLING_Z times it, so 100 customers need 0.42, 1,000 keep PROFILE_SHIFT.
SAMPLING_Z = 3.0

# The note of models without reconstruction error (see the module docstring).
NO_RECONSTRUCTION = ("the models have no reconstruction error to check drift with (their encoder does not "
                     "reconstruct its input); drift is judged on noise and segment profiles only, so a small "
                     "new behaviour that moves no segment's profile goes unnoticed until the models are refitted")

# Parameters that do not change the models (a reused model stays valid when only these differ).
_NOT_MODEL_PARAMS = ("refit", "refit_every")


@dataclass
class ModelDecision:
    """Why a snapshot refitted its models or reused the previous ones (stored in run metrics)."""

    refit: bool
    reasons: list[str] = field(default_factory=list)
    from_run: Optional[int] = None  # the run whose models were fitted (itself when refit)
    age: int = 0  # snapshots since the models were fitted
    novelty_threshold: Optional[float] = None
    unexplained_threshold: Optional[float] = None
    baseline_noise_share: Optional[float] = None
    novelty_share: Optional[float] = None
    noise_share: Optional[float] = None  # HDBSCAN's noise, before unexplained customers are added
    profile_shift: Optional[float] = None  # largest lift-profile distance of a segment from the fit
    unexplained_as_noise: int = 0  # customers reported as noise because the models cannot explain them
    below_floor_as_noise: int = 0  # customers of segments smaller than the run's floor, reported as noise
    reconstruction: bool = True  # do the models measure reconstruction error (else novelty is not checked)
    notes: list[str] = field(default_factory=list)  # what the decision could not check, in plain words

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def comparable_params(params: dict) -> dict:
    """The snapshot parameters that define the models (a reused model must match them)."""
    return {k: v for k, v in params.items() if k not in _NOT_MODEL_PARAMS}


def has_reconstruction(pipeline) -> bool:
    """Does the fitted ``pipeline``'s encoder measure how well it reproduces a customer?"""
    from segmentation.engine.scoring import reconstructs

    return reconstructs(getattr(pipeline, "encoder_", None))


def fitted_decision(pipeline, reason: str) -> ModelDecision:
    """The decision of a snapshot that fitted ``pipeline``: its baselines for later reuse."""
    reconstruction = has_reconstruction(pipeline)
    threshold, unexplained, noise = baseline_of(pipeline.labels_, pipeline.reconstruction_error_)
    return ModelDecision(refit=True, reasons=[reason], from_run=None, age=0, novelty_threshold=threshold,
                         unexplained_threshold=unexplained if reconstruction else None,
                         baseline_noise_share=noise,
                         novelty_share=1.0 - NOVELTY_QUANTILE if reconstruction else 0.0, noise_share=noise,
                         reconstruction=reconstruction, notes=[] if reconstruction else [NO_RECONSTRUCTION])


def baseline_of(labels: np.ndarray, errors: np.ndarray) -> tuple[float, float, float]:
    """``(novelty_threshold, unexplained_threshold, noise_share)`` of a freshly fitted snapshot."""
    errors = np.asarray(errors, dtype=np.float64)
    if len(errors):
        novelty, unexplained = (float(q) for q in np.quantile(errors, [NOVELTY_QUANTILE, UNEXPLAINED_QUANTILE]))
    else:
        novelty = unexplained = float("inf")
    return novelty, unexplained, float(np.mean(np.asarray(labels) == -1)) if len(labels) else 0.0


def mark_unexplained(scores: pd.DataFrame, decision: ModelDecision) -> pd.DataFrame:
    """Under reused models: customers above the unexplained threshold become noise (``-1``, probability 0).

    Returns a new frame and records their count in ``decision.unexplained_as_noise``. Runs
    stored before the threshold existed have none, and keep their labels.
    """
    if decision.unexplained_threshold is None:
        return scores
    out = scores.copy()
    unexplained = (out["reconstruction_error"].to_numpy() > decision.unexplained_threshold) & (
        out["segment_id"].to_numpy() >= 0)
    out.loc[unexplained, "segment_id"] = -1
    out.loc[unexplained, "probability"] = 0.0
    decision.unexplained_as_noise = int(unexplained.sum())
    return out


def drop_small_segments(scores: pd.DataFrame, floor: int, decision: ModelDecision) -> pd.DataFrame:
    """Under reused models: segments with fewer than ``floor`` customers become noise.

    A fitted segment can shrink below the size the run may report (its customers moved
    or left); it is then not a segment of this snapshot. Records the count in
    ``decision.below_floor_as_noise``.
    """
    labels = scores["segment_id"].to_numpy()
    ids, sizes = np.unique(labels[labels >= 0], return_counts=True)
    small = ids[sizes < floor]
    if not len(small):
        return scores
    out = scores.copy()
    gone = np.isin(labels, small)
    out.loc[gone, "segment_id"] = -1
    out.loc[gone, "probability"] = 0.0
    decision.below_floor_as_noise = int(gone.sum())
    return out


def _sampling_margin(share: float, n_customers: int) -> float:
    """:data:`SAMPLING_Z` standard errors of the difference between two shares near ``share`` of
    ``n_customers`` each: noise that crosses the floor by less is sampling."""
    return SAMPLING_Z * float(np.sqrt(2.0 * share * (1.0 - share) / max(int(n_customers), 1)))


def shift_threshold(n_customers: int) -> float:
    """The profile distance at which a segment of ``n_customers`` has moved: :data:`PROFILE_SHIFT`, or
    :data:`SAMPLING_Z` standard errors of its means' sampling wobble when that is larger."""
    return max(PROFILE_SHIFT, SAMPLING_Z * float(np.sqrt(2.0 / max(int(n_customers), 1))))


def profile_shift(features: pd.DataFrame, labels: np.ndarray,
                  references: list[tuple[pd.DataFrame, pd.Series]]) -> tuple[float, int | None, float]:
    """The segment whose behaviour moved most from its reference(s), for its size: ``(distance, segment id, threshold)``.

    ``features``: the clustering features of this snapshot; ``labels``: the reused models'
    segments; ``references``: ``(segment means, population std)`` pairs, e.g. as the
    fitting run stored them (:func:`segmentation.engine.resemblance.segment_shift`). Each
    segment's distance is weighed against its own :func:`shift_threshold` (small segments
    wobble more); the one furthest beyond (or nearest to) its threshold is returned.
    """
    from segmentation.engine.resemblance import means_of_labels, segment_shift

    now, _ = means_of_labels(features, labels)
    ids, counts = np.unique(np.asarray(labels)[np.asarray(labels) >= 0], return_counts=True)
    sizes = dict(zip(ids.tolist(), counts.tolist()))
    worst: tuple[float, int | None, float] = (0.0, None, PROFILE_SHIFT)
    for means, std in references:
        moved = segment_shift(now, means, std)
        for segment, distance in moved.items():
            threshold = shift_threshold(sizes.get(int(segment), 0))
            if distance / threshold > worst[0] / worst[2]:
                worst = (float(distance), int(segment), threshold)
    return worst


def assess(scores: pd.DataFrame, previous: dict, min_cluster_share: float,
           shift: tuple[float, int | None, float] = (0.0, None, PROFILE_SHIFT),
           reconstruction: bool | None = None,
           newcomers: tuple[float, int | None, int, float] | None = None) -> ModelDecision:
    """Decide whether the previous snapshot's models still explain ``scores``.

    ``scores``: the current customers scored with the previous models (columns
    ``segment_id`` and ``reconstruction_error``). ``previous``: the previous
    run's stored ``metrics["model"]`` (see :class:`ModelDecision`). ``reconstruction``:
    whether the models measure reconstruction error (:func:`has_reconstruction`; None:
    as ``previous`` recorded, else yes). Without it novelty is not checked and the
    decision carries :data:`NO_RECONSTRUCTION` as a note (see the module docstring).
    ``newcomers``: :func:`segmentation.dynamics.newcomers.newcomers_unlike` (None: not checked).
    """
    if reconstruction is None:
        reconstruction = bool(previous.get("reconstruction", True))
    threshold = float(previous["novelty_threshold"])
    unexplained = previous.get("unexplained_threshold") if reconstruction else None
    base_noise = float(previous["baseline_noise_share"])
    novelty = (float(np.mean(scores["reconstruction_error"].to_numpy() > threshold))
               if len(scores) and reconstruction else 0.0)
    noise = float(np.mean(scores["segment_id"].to_numpy() == -1)) if len(scores) else 0.0
    novelty_excess = novelty - (1.0 - NOVELTY_QUANTILE)
    reasons = []
    if reconstruction and novelty_excess + _EPS >= min_cluster_share:
        reasons.append(f"{novelty:.1%} of customers are not explained by the models "
                       f"(reconstruction error above the fit's {NOVELTY_QUANTILE:.0%} quantile; "
                       f"{1 - NOVELTY_QUANTILE:.0%} expected)")
    if noise - base_noise + _EPS >= min_cluster_share:
        reasons.append(f"noise grew from {base_noise:.1%} to {noise:.1%}")
    elif base_noise + _EPS < min_cluster_share <= noise + _EPS and noise - base_noise >= _sampling_margin(
            min_cluster_share, len(scores)):
        reasons.append(f"the customers no segment takes are now as many as the smallest segment the run may find "
                       f"(noise {noise:.1%}, {base_noise:.1%} at the fit; floor {min_cluster_share:.0%})")
    distance, segment, limit = shift  # as profile_shift gives it
    if distance >= limit:
        reasons.append(f"segment {segment} behaves differently from when the models were fitted "
                       f"(profile distance {distance:.2f} ≥ {limit:.2f})")
    if newcomers is not None and newcomers[1] is not None and newcomers[0] >= newcomers[3]:
        reasons.append(f"{newcomers[2]} customers joined segment {newcomers[1]} since the models were fitted "
                       f"and do something else (their behaviour mix is {newcomers[0]:.2f} from its other "
                       f"customers' ≥ {newcomers[3]:.2f})")
    unexplained_words = f"{novelty:.1%} unexplained, " if reconstruction else "unexplained not measured, "
    return ModelDecision(
        refit=bool(reasons),
        reasons=reasons or [f"no drift: {unexplained_words}noise {noise:.1%} "
                            f"(fit: {base_noise:.1%}); models of run {previous['from_run']} reused"],
        from_run=int(previous["from_run"]),
        age=int(previous.get("age", 0)) + 1,
        novelty_threshold=threshold,
        unexplained_threshold=None if unexplained is None else float(unexplained),
        baseline_noise_share=base_noise,
        novelty_share=novelty,
        noise_share=noise,
        profile_shift=round(float(distance), 4),
        reconstruction=reconstruction,
        notes=[] if reconstruction else [NO_RECONSTRUCTION],
    )


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
              moved=None, then: Callable[[], tuple[pd.DataFrame, np.ndarray]] | None = None) -> ModelDecision | None:
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
    """
    from segmentation.engine.resemblance import SHIFTED

    lost, gained = lost_resolution(features, before, after)
    before, after = np.asarray(before), np.asarray(after)
    parts = cut_parts(before, after) if moved is not None else {}
    if found_in_noise(before, after) or any(n not in parts for n in gained) or not (lost or parts):
        return None
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

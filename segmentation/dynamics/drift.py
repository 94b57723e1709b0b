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

A refit that would only re-draw what the reused models already describe is set aside, and
a part a kept refit cuts out that its own resampling cannot reproduce is folded back:
:mod:`segmentation.dynamics.refit_review`.

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
from typing import Any, Optional

import numpy as np
import pandas as pd

__all__ = ["NOVELTY_QUANTILE", "UNEXPLAINED_QUANTILE", "ModelDecision", "baseline_of", "assess",
           "mark_unexplained", "drop_small_segments", "profile_shift", "PROFILE_SHIFT", "comparable_params",
           "NO_RECONSTRUCTION", "has_reconstruction", "fitted_decision", "shift_threshold",
           "SAMPLING_Z"]

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

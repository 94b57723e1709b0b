"""The model-reuse policy of a snapshot: score with the previous snapshot's models, or fit new ones.
:func:`fit_or_reuse` reuses the models of the previous run with the same window when its parameters
and clustered features are the same, its model files are there and they are not too old
(``refit_every``), and the drift check on the new data (:mod:`segmentation.dynamics.drift`, against
the segments as the fitting run saw them and as their lineages were first seen) finds no reason to
refit; otherwise it fits the snapshot's new pipeline."""

from __future__ import annotations

import itertools
import json
from dataclasses import asdict
from datetime import date, timedelta
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Sequence

import numpy as np
import pandas as pd

from segmentation.data import results, store
from segmentation.data.queries import load_query
from segmentation.workflows.assign import load_run_models
from segmentation.workflows.progress import Progress, Stage, epoch_callback, say, say_note

if TYPE_CHECKING:
    from segmentation.workflows.snapshot import SnapshotParams

__all__ = ["fit_or_reuse", "behaviour_before", "reference_window", "models_fitted_at", "lineage_members_at_start"]


def _previous_models(db: Any, as_of: date, params: SnapshotParams, features: pd.DataFrame):
    """The previous snapshot's model state when it may be reused, else ``(None, reason)``."""
    from segmentation.dynamics import drift

    if params.refit:
        return None, "refit requested"
    with store.connect(db, read_only=True) as con:
        previous = results.previous_run(con, as_of, params.window_days)
        run = results.get_run(con, previous["run_id"]) if previous else None
    if run is None:
        return None, "first snapshot"
    # Compared as stored (JSON), so tuples and lists compare equal; window_days is one of them.
    wanted = drift.comparable_params(json.loads(json.dumps(asdict(params), default=str)))
    stored = drift.comparable_params({k: run["params"].get(k) for k in asdict(params)})
    # ``params`` holds the floor this snapshot uses; a run whose floor the data chose stored it beside.
    chosen = (run["params"].get("segment_floor") or {}).get("share")
    if "min_cluster_share" in stored and chosen is not None:
        stored["min_cluster_share"] = chosen
    differ = {k for k in wanted.keys() | stored.keys() if wanted.get(k) != stored.get(k)}
    if differ == {"min_cluster_share"} and chosen is not None:
        return None, (f"the smallest segment changed from {chosen:.1%} of the customers (run {run['run_id']}) "
                      f"to {float(wanted['min_cluster_share']):.1%}")
    if differ:
        return None, f"parameters differ from run {run['run_id']}"
    state = run["metrics"].get("model")
    if list(run["params"].get("clustering_features", [])) != list(map(str, features.columns)):
        return None, f"the features differ from run {run['run_id']}'s"
    if not state or not run["model_path"] or not Path(run["model_path"]).is_dir():
        return None, f"run {run['run_id']} has no reusable models"
    if params.refit_every is not None and int(state.get("age", 0)) + 1 >= params.refit_every:
        return None, f"models are {int(state.get('age', 0)) + 1} snapshots old (refit_every={params.refit_every})"
    if state.get("from_run") is None:  # fitted by that run itself
        state = {**state, "from_run": int(run["run_id"])}
    return (run, state), None


def behaviour_before(db: Any, end: date, window_days: int) -> pd.DataFrame:
    """The customers' feature table (customer × feature) of the window ending on ``end``: how they
    behaved before this snapshot's window (``end`` from :func:`reference_window`), whatever the
    cadence (weekly snapshots overlap by most of their window, so the previous snapshot would hide a change)."""
    from segmentation.errors import InputError
    from segmentation.features.table import build_features

    with store.connect(db, read_only=True) as con:
        try:
            return build_features(con, end, window_days).frame
        except InputError:  # no events in that window (it ends before the data begins): nobody to compare
            return pd.DataFrame()


def reference_window(as_of: date, window_days: int, fitted_at: date | None = None) -> date:
    """Where the window ends that a new segment's customers are compared with (is their behaviour new?).

    The window just before this snapshot's, unless the previous run reused models fitted earlier
    than that (``fitted_at``: :func:`models_fitted_at`): then the window of the snapshot that fitted
    them. The question is whether those models could have seen the behaviour: customers who behaved
    this way when they were fitted were lumped with others by them (a part of an old segment), while
    customers who took the behaviour up since are new behaviour, however long they have sat in an
    old segment under reuse.
    """
    end = pd.Timestamp(as_of).date() - timedelta(days=window_days)
    return end if fitted_at is None else min(end, fitted_at)


def lineage_members_at_start(db: Any, previous: dict[str, Any]) -> Callable[[int], pd.Index | None] | None:
    """For tracking (:func:`~segmentation.dynamics.tracking.track_snapshot`'s ``started_with``): a function
    giving, for a segment of the previous run, the customers of its lineage where it began
    (``previous["lineage_starts"]``, :func:`segmentation.data.results.lineage_starts`; read once each, only
    when asked). None without a previous run."""
    starts = previous.get("lineage_starts")
    if previous.get("run") is None or starts is None:
        return None
    where = {int(s): (int(r), int(g)) for s, r, g in
             zip(starts["segment_id"], starts["since_run"], starts["since_segment"])}

    @lru_cache(maxsize=None)
    def started_with(segment_id: int) -> pd.Index | None:
        if int(segment_id) not in where:
            return None
        with store.connect(db, read_only=True) as con:
            return results.members_of(con, *where[int(segment_id)])
    return started_with


def models_fitted_at(db: Any, previous: dict[str, Any] | None) -> date | None:
    """The date of the snapshot that fitted the models the ``previous`` run used (None: it fitted its own,
    or there is no previous run)."""
    if previous is None:
        return None
    with store.connect(db, read_only=True) as con:
        fitted_by = results.get_run(con, int(previous["run_id"]))["metrics"].get("model", {}).get("from_run")
        if fitted_by is None or int(fitted_by) == int(previous["run_id"]):
            return None
        return pd.Timestamp(results.get_run(con, int(fitted_by))["as_of"]).date()


def _drift_references(db: Any, run_id: int, lookback: int = 6) -> list[tuple[pd.DataFrame, pd.Series]]:
    """Reference profiles for the drift check, indexed by the fitting run's segment ids.

    Two references: the segments as the fitting run saw them, and each segment's lineage
    as first seen in the ``lookback`` runs up to it. A segment that absorbed a forming
    behaviour *at* the refit looks unchanged against the first, but not the second.
    """
    from segmentation.engine.resemblance import mean_vectors

    with store.connect(db, read_only=True) as con:
        frame = results.parse_profiles(con.execute(load_query("segments_select_drift_references"),
                                                   {"run_id": run_id, "lookback": lookback}).df())
    earliest = frame.sort_values("as_of").drop_duplicates("segment_id")
    return [mean_vectors(frame[frame["fitted"]]), mean_vectors(earliest)]


def _step_lines(pipeline) -> Callable[[str], str]:
    """The line a pipeline's stage prints as it starts; the consensus option's fits are counted."""
    fits = itertools.count(2)

    def line(name: str) -> str:
        if name == Stage.CONSENSUS.value:
            return f"  consensus: fit {next(fits)} of {pipeline.consensus}, with its own seed …"
        return f"  {name} …"

    return line


def fit_or_reuse(db: Any, as_of: date, features: pd.DataFrame, pipeline, params: SnapshotParams,
                 progress: Progress = None, callbacks: Sequence = (), progress_bar: bool = False, *,
                 before: Callable[[date], pd.DataFrame], halves=None):
    """Score with the previous snapshot's models when no drift calls for a refit, else fit ``pipeline``.

    Returns ``(pipeline, scores, decision)``: ``scores`` has segment_id, probability,
    x, y, reconstruction_error per row of ``features``; ``decision`` a
    :class:`segmentation.dynamics.drift.ModelDecision` (see that module for the rules).
    ``progress`` also hears of each training epoch of a fit. ``before(end)`` gives the feature table of
    the window ending on ``end`` (:func:`behaviour_before`, cached by the caller and shared with
    tracking); it is read only when a refit may be set aside, for the window tracking compares with
    (:func:`reference_window`: the one before this snapshot's, or the reused models' fit if earlier).
    ``halves``: the features on two halves of the window's events, for a fit
    (:meth:`~segmentation.engine.pipeline.SegmentationPipeline.fit`).
    """
    from segmentation.dynamics import drift, refit_review
    from segmentation.dynamics.newcomers import newcomers_unlike
    from segmentation.engine.inputs import resolve_min_cluster_size
    from segmentation.engine.resemblance import group_shift

    found, reason = _previous_models(db, as_of, params, features)
    if found is not None:
        run, state = found
        say(progress, Stage.DRIFT_CHECK,
            f"drift check: scoring {len(features):,} customers with the models of run {run['run_id']} …")
        previous = load_run_models(run)
        scores = previous.assign(features)
        shift = drift.profile_shift(features.reset_index(drop=True), scores["segment_id"].to_numpy(),
                                    _drift_references(db, int(state["from_run"])))
        fitted_labels = labels_of_run(db, int(state["from_run"]), features.index)  # the models' fitting run
        newcomers = newcomers_unlike(
            features.reset_index(drop=True), scores["segment_id"].to_numpy(), fitted_labels,
            getattr(pipeline, "mix_columns", None) or [],
            resolve_min_cluster_size(params.min_cluster_share, len(features)))
        decision = drift.assess(scores, state, params.min_cluster_share, shift, drift.has_reconstruction(previous),
                                newcomers)
        say(progress, Stage.DRIFT_CHECK, f"  {'refit: ' if decision.refit else ''}{'; '.join(decision.reasons)}")
        if not decision.refit:
            return previous, _reused_scores(scores, decision, params, len(features), progress), decision
        reason = "; ".join(decision.reasons)
        reused = (previous, scores, decision, fitted_labels)
    else:
        reused = None
        say(progress, Stage.FITTING, f"fitting new models ({reason})")
    say(progress, Stage.FITTING,
        f"training: autoencoder on {len(features):,} customers × {features.shape[1]} features …")
    step_line = _step_lines(pipeline)
    if progress is not None:
        callbacks = [*callbacks, epoch_callback(progress)]
    pipeline.fit(features, callbacks=callbacks, progress_bar=progress_bar,
                 on_step=lambda name: say(progress, Stage(name), step_line(name)), halves=halves)
    if pipeline.refined_share_:
        say(progress, Stage.ASSIGNING, f"  neighbour vote: {pipeline.refined_share_:.1%} of the fitted customers "
                                       "moved to the segment of the customers they most resemble")
    if pipeline.joined_share_:
        say(progress, Stage.ASSIGNING, f"  noise join: {pipeline.joined_share_:.1%} of the fitted customers, left out by "
                                       "the clusterer, joined the segment most of their nearest customers are in")
    moved = pipeline.polish_.moved_share_ if pipeline.polish_ is not None else 0.0
    if moved:
        from segmentation.engine.scoring import polish_space  # here: the engine loads hdbscan

        why = ("" if pipeline.polish is not None or pipeline.polish_from is None else
               f" (on for a fit of {pipeline.polish_from:,} customers or more)")
        rows = "code and features" if polish_space(pipeline) == "latent" else "features"
        say(progress, Stage.ASSIGNING, f"  discriminant polish{why}: {moved:.1%} of the fitted customers moved to the "
                                       f"segment a linear discriminant of their {rows} draws them in")
    if reused is not None:
        previous, scores, decision, fitted_labels = reused
        end = reference_window(as_of, params.window_days, models_fitted_at(db, run))
        kept = refit_review.set_aside(decision, features.reset_index(drop=True), scores["segment_id"].to_numpy(),
                               pipeline.labels_, moved=lambda rows: group_shift(
                                   before(end), features, features.index[rows]),
                               then=lambda: (before(end).reindex(features.index).reset_index(drop=True),
                                             fitted_labels),
                               unexplained=(scores["reconstruction_error"].to_numpy() > decision.novelty_threshold
                                            if decision.reconstruction else None))
        if kept is not None:
            say(progress, Stage.DRIFT_CHECK, f"  {kept.reasons[0]}")
            return previous, _reused_scores(scores, kept, params, len(features), progress), kept
    # a refit that is kept (or forced) folds back the pockets it drew at the floor
    folds = fold_unreproducible_parts(db, as_of, features, pipeline, params, before)
    for f in folds:
        say_note(progress, Stage.SEGMENTS, refit_review.fold_sentence(f))
    scores = pd.DataFrame({"segment_id": pipeline.labels_, "probability": pipeline.probabilities_,
                           "x": pipeline.map_embedding_[:, 0], "y": pipeline.map_embedding_[:, 1],
                           "reconstruction_error": pipeline.reconstruction_error_})
    return pipeline, scores, drift.fitted_decision(pipeline, reason)


def fold_unreproducible_parts(db: Any, as_of: date, features: pd.DataFrame, pipeline, params: SnapshotParams,
                              before: Callable[[date], pd.DataFrame]) -> list[dict]:
    """After a refit with a snapshot before it: fold back the parts it cut out of an earlier segment
    that its own resampling cannot reproduce and whose customers behave as they did
    (:func:`segmentation.dynamics.refit_review.unreproducible_cuts`). Changes ``pipeline`` in place (its
    labels and the models' output, :meth:`~segmentation.engine.pipeline.SegmentationPipeline.fold_segments`);
    returns the folds (``from_run`` added; recorded in ``pipeline.granularity_["folded"]``)."""
    from segmentation.dynamics import refit_review
    from segmentation.engine.metrics import bootstrap_stability
    from segmentation.engine.resemblance import group_shift

    with store.connect(db, read_only=True) as con:
        run = results.previous_run(con, as_of, params.window_days)
    if run is None:
        return []
    before_labels = labels_of_run(db, int(run["run_id"]), features.index)
    end = reference_window(as_of, params.window_days, models_fitted_at(db, run))
    folds = refit_review.unreproducible_cuts(
        before_labels, pipeline.labels_,
        # the same resampling as the run's stability report (quality_report), so the two agree
        stability=lambda: bootstrap_stability(pipeline, features, pipeline.labels_, n_boot=3, random_state=0,
                                              max_rows=2000),
        moved=lambda rows: group_shift(before(end), features, features.index[rows]))
    folds = [{**f, "from_run": int(run["run_id"])} for f in folds]
    if folds:
        pipeline.fold_segments({f["segment"]: f["into"] for f in folds}, why=folds)
    return folds


def labels_of_run(db: Any, run_id: int, customers: pd.Index) -> np.ndarray:
    """Each of ``customers``' segment in run ``run_id`` (−1: noise there, or not in that run)."""
    with store.connect(db, read_only=True) as con:
        stored = con.execute(load_query("assignments_select_of_run"), {"run_id": run_id}).df()
    stored = stored.set_index(stored["customer_id"].astype(str))["segment_id"]
    return stored.reindex(customers.astype(str)).fillna(-1).to_numpy(dtype=np.int64)


def _reused_scores(scores: pd.DataFrame, decision, params: SnapshotParams, n_rows: int,
                   progress: Progress) -> pd.DataFrame:
    """The reused models' scores as a snapshot reports them: unexplained customers and segments
    below the floor become noise (recorded in ``decision``)."""
    from segmentation.dynamics import drift
    from segmentation.engine.inputs import resolve_min_cluster_size

    scores = drift.mark_unexplained(scores.reset_index(drop=True), decision)
    if decision.unexplained_as_noise:
        say(progress, Stage.DRIFT_CHECK, f"  {decision.unexplained_as_noise:,} customers the models "
                                         "cannot explain are reported as noise")
    floor = resolve_min_cluster_size(params.min_cluster_share, n_rows)
    scores = drift.drop_small_segments(scores, floor, decision)
    if decision.below_floor_as_noise:
        say(progress, Stage.DRIFT_CHECK, f"  {decision.below_floor_as_noise:,} customers of segments "
                                         f"now below the floor of {floor:,} customers are reported as noise")
    return scores

"""One snapshot end to end: features → pipeline → profiles → tracking → store.

Connections are short-lived: the features are read with a read-only
connection that is closed before the (long) fit, and the results are written
in one transaction at the end, so the app and other commands can use the
database while a snapshot is being computed.
"""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

import numpy as np
import pandas as pd

from segmentation.data import results, store
from segmentation.errors import InputError, WorkbenchError
from segmentation.data.queries import load_query

__all__ = ["SnapshotParams", "run_snapshot", "run_timeline", "timeline_dates", "assign_customers",
           "snapshot_inputs", "clustering_frame", "make_pipeline", "fit_or_reuse", "existing_run",
           "load_run_models", "agreement_with_run"]

Progress = Optional[Callable[[str], None]]
MONEY_AND_COUNT_KINDS = ("count", "money", "days")


@dataclass
class SnapshotParams:
    """Parameters of a snapshot (stored with the run in ``runs.params``)."""

    window_days: int = 90
    seed: int = 0
    fit_sample_size: int = 50_000
    # Smallest segment, as a share of the fitted sample: 2 % of customers is also the size at
    # which a new segment counts as emerging (smaller groups are reported as unexplained).
    min_cluster_share: float = 0.02
    latent_dim: int = 16
    max_epochs: int = 40
    outlier_floor: Optional[float] = None
    # Profile-only features: kept for KPIs and trait lifts, left out of the clustering. "auto":
    # spend, purchase count and purchase interval are clustered only on a purchase log (at least
    # half the events are purchases); where customers mostly browse, whether a customer happened to buy
    # inside the window would split every behaviour (segmentation.features.signal.choose_clustered).
    # A tuple names the profile-only features instead.
    profile_only_features: Any = "auto"
    # Shrink each share toward the population by an empirical-Bayes prior (FeaturePreprocessor).
    # Off: one prior for all customers shrinks the sparse ones together, so activity becomes a
    # segment of its own (tuning: benchmarks/results/tuning.md).
    smooth_shares: bool = False
    # Weight each clustered feature by its split-half reliability (feature_signal.reliability_weights):
    # a feature that is mostly sampling noise weighs little.
    weight_by_reliability: bool = True
    extra: dict = field(default_factory=dict)
    # Model reuse (see segmentation/dynamics/drift.py): refit=True always fits new models; refit_every=N
    # refits once the models are N snapshots old even without drift (None: only on drift).
    refit: bool = False
    refit_every: Optional[int] = None


def _say(progress: Progress, message: str) -> None:
    if progress is not None:
        progress(message)


def snapshot_inputs(db: Any, as_of: date, window_days: int):
    """Feature table and (for demo data) the ground truth of the snapshot month."""
    from segmentation.features.signal import feature_reliability
    from segmentation.features.table import build_features

    with store.connect(db, read_only=True) as con:
        table = build_features(con, as_of, window_days)
        table.reliability = feature_reliability(con, as_of, window_days, table.frame.columns)
        truth = con.execute(load_query("demo_truth_at"), {"as_of": as_of}).df()
    truth = truth.set_index("customer_id")["persona"] if not truth.empty else None
    return table, truth


def _choice(table, params: SnapshotParams) -> tuple[list[str], list[str], str]:
    """:func:`segmentation.features.signal.choose_clustered` for this table, once per setting."""
    from segmentation.features.signal import choose_clustered

    key = repr(params.profile_only_features)
    if key not in table.choices:
        table.choices[key] = choose_clustered(table.frame, params.profile_only_features)
    return table.choices[key]


def clustering_frame(table, params: SnapshotParams) -> pd.DataFrame:
    """The feature columns the segments are found on (all but the profile-only ones)."""
    return table.frame[_choice(table, params)[0]]


def feature_choice(table, params: SnapshotParams) -> str:
    """Why these features are clustered and those are profile-only (stored with the run)."""
    return _choice(table, params)[2]


def share_counts(table, clustered) -> dict[str, str]:
    """Each clustered share → the count it is a share of (the customer's events; for category
    shares, whose true base is the category-tagged events, the events are the nearest count kept)."""
    if "frequency" not in clustered:
        return {}
    return {f.name: "frequency" for f in table.catalog if f.kind == "share" and f.name in clustered}


def make_pipeline(table, params: SnapshotParams):
    """The snapshot's pipeline; counts, money and days of the clustering features get log1p."""
    from segmentation.features.signal import reliability_weights
    from segmentation.engine.pipeline import SegmentationPipeline

    clustered = set(clustering_frame(table, params).columns)
    log_columns = [f.name for f in table.catalog if f.kind in MONEY_AND_COUNT_KINDS and f.name in clustered]
    return SegmentationPipeline(
        latent_dim=params.latent_dim,
        max_epochs=params.max_epochs,
        log_columns=log_columns,
        share_counts=share_counts(table, clustered) if params.smooth_shares else None,
        feature_weights=(reliability_weights(table.reliability, [c for c in table.reliability if c in clustered])
                         if params.weight_by_reliability and table.reliability else None),
        fit_sample_size=params.fit_sample_size,
        min_cluster_size=params.min_cluster_share,
        outlier_floor=params.outlier_floor,
        random_state=params.seed,
        **params.extra,
    )


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
    state = run["metrics"].get("model")
    if stored != wanted:
        return None, f"parameters differ from run {run['run_id']}"
    if list(run["params"].get("clustering_features", [])) != list(map(str, features.columns)):
        return None, f"the features differ from run {run['run_id']}'s"
    if not state or not run["model_path"] or not Path(run["model_path"]).is_dir():
        return None, f"run {run['run_id']} has no reusable models"
    if params.refit_every is not None and int(state.get("age", 0)) + 1 >= params.refit_every:
        return None, f"models are {int(state.get('age', 0)) + 1} snapshots old (refit_every={params.refit_every})"
    if state.get("from_run") is None:  # fitted by that run itself
        state = {**state, "from_run": int(run["run_id"])}
    return (run, state), None


def _drift_references(db: Any, run_id: int, lookback: int = 6) -> list[tuple[pd.DataFrame, pd.Series]]:
    """Reference profiles for the drift check, indexed by the fitting run's segment ids.

    Two references: the segments as the fitting run saw them, and each segment's lineage
    as first seen in the ``lookback`` runs up to it. A segment that absorbed a forming
    behaviour *at* the refit looks unchanged against the first, but not the second.
    """
    from segmentation.engine.resemblance import mean_vectors

    with store.connect(db, read_only=True) as con:
        frame = results.parse_profiles(con.execute(load_query("drift_references"),
                                                   {"run_id": run_id, "lookback": lookback}).df())
    earliest = frame.sort_values("as_of").drop_duplicates("segment_id")
    return [mean_vectors(frame[frame["fitted"]]), mean_vectors(earliest)]


def fit_or_reuse(db: Any, as_of: date, features: pd.DataFrame, pipeline, params: SnapshotParams,
                 progress: Progress = None, callbacks: Sequence = (), progress_bar: bool = False):
    """Score with the previous snapshot's models when no drift calls for a refit, else fit ``pipeline``.

    Returns ``(pipeline, scores, decision)``: ``scores`` has segment_id, probability,
    x, y, reconstruction_error per row of ``features``; ``decision`` a
    :class:`segmentation.dynamics.drift.ModelDecision` (see that module for the rules).
    """
    from segmentation.dynamics import drift

    found, reason = _previous_models(db, as_of, params, features)
    if found is not None:
        run, state = found
        _say(progress, f"drift check: scoring {len(features):,} customers with the models of run {run['run_id']} …")
        previous = load_run_models(run)
        scores = previous.assign(features)
        shift = drift.profile_shift(features.reset_index(drop=True), scores["segment_id"].to_numpy(),
                                    _drift_references(db, int(state["from_run"])))
        decision = drift.assess(scores, state, params.min_cluster_share, shift, drift.has_reconstruction(previous))
        _say(progress, f"  {'refit: ' if decision.refit else ''}{'; '.join(decision.reasons)}")
        if not decision.refit:
            scores = drift.mark_unexplained(scores.reset_index(drop=True), decision)
            if decision.unexplained_as_noise:
                _say(progress, f"  {decision.unexplained_as_noise:,} customers the models cannot explain "
                               "are reported as noise")
            from segmentation.engine.pipeline import resolve_min_cluster_size

            floor = resolve_min_cluster_size(params.min_cluster_share, len(features))
            scores = drift.drop_small_segments(scores, floor, decision)
            if decision.below_floor_as_noise:
                _say(progress, f"  {decision.below_floor_as_noise:,} customers of segments now below the "
                               f"floor of {floor:,} customers are reported as noise")
            return previous, scores, decision
        reason = "; ".join(decision.reasons)
    else:
        _say(progress, f"fitting new models ({reason})")
    _say(progress, f"training: autoencoder on {len(features):,} customers × {features.shape[1]} features …")
    pipeline.fit(features, callbacks=callbacks, progress_bar=progress_bar,
                 on_step=lambda name: _say(progress, f"  {name} …"))
    if pipeline.refined_share_:
        _say(progress, f"  neighbour vote: {pipeline.refined_share_:.1%} of the fitted customers moved to "
                       "the segment of the customers they most resemble")
    scores = pd.DataFrame({"segment_id": pipeline.labels_, "probability": pipeline.probabilities_,
                           "x": pipeline.map_embedding_[:, 0], "y": pipeline.map_embedding_[:, 1],
                           "reconstruction_error": pipeline.reconstruction_error_})
    return pipeline, scores, drift.fitted_decision(pipeline, reason)


def run_snapshot(
    db: Any,
    as_of: date,
    params: SnapshotParams | None = None,
    progress: Progress = None,
    callbacks: Sequence = (),
    progress_bar: bool = False,
) -> dict[str, Any]:
    """Compute and store one snapshot; return its summary (JSON-friendly).

    ``progress`` receives step messages; ``callbacks`` (Lightning callbacks) and
    ``progress_bar`` (Lightning's bar, for a terminal) go to the autoencoder's training.
    Every ``note:`` line given to ``progress`` is also kept in ``metrics["notes"]`` (stored
    with the run) and ``notes`` (the returned document): plain sentences, no customer data.
    """
    from segmentation.engine.metrics import quality_report
    from segmentation.dynamics.profiles import profile_segments
    from segmentation.workflows.segment_actions import with_lookalike_quality, with_rules
    from segmentation.dynamics.tracking import movement, track_snapshot

    params = params or SnapshotParams()
    started = time.perf_counter()
    timings: dict[str, float] = {}

    def lap(stage: str, t0: float) -> float:
        timings[stage] = round(time.perf_counter() - t0, 3)
        return time.perf_counter()

    t = time.perf_counter()
    _say(progress, f"features: customers active in the {params.window_days} days up to {as_of} …")
    table, truth = snapshot_inputs(db, as_of, params.window_days)
    for note in table.notes:
        _say(progress, f"  note: {note}")
    t = lap("features", t)
    features = clustering_frame(table, params)
    pipeline, scores, decision = fit_or_reuse(db, as_of, features, make_pipeline(table, params), params,
                                              progress, callbacks, progress_bar)
    for note in decision.notes:
        _say(progress, f"  note: {note}")
    t = lap("fit", t)

    assignments = pd.DataFrame({"customer_id": table.frame.index.astype(str), **{
        column: scores[column].to_numpy(dtype=int if column == "segment_id" else float)
        for column in ("segment_id", "probability", "x", "y", "reconstruction_error")}})
    labels = assignments["segment_id"].to_numpy()
    n_segments, noise_share = int(len(np.unique(labels[labels >= 0]))), float(np.mean(labels == -1))
    _say(progress, f"clustering: {n_segments} segments, noise {noise_share:.1%}")

    _say(progress, "profiles: traits, KPIs and suggested names …")
    segments = profile_segments(table, assignments)
    t = lap("profiles", t)
    _say(progress, "rules: a few readable conditions per segment …")
    segments["profile"] = with_rules(segments, table, assignments)
    t = lap("rules", t)
    _say(progress, "lookalikes: each segment's recall on held-out members …")
    space = pipeline.transform(features.reindex(columns=list(pipeline.feature_names_in_), fill_value=0.0))
    segments["profile"] = with_lookalike_quality(segments, space, table.frame, labels)
    t = lap("lookalikes", t)

    truth_aligned = truth.reindex(table.frame.index).fillna("(unknown)") if truth is not None else None
    metrics = quality_report(pipeline, features, truth=truth_aligned, labels=labels)
    metrics["model"] = decision.to_dict()
    granularity = getattr(pipeline, "granularity_", None)  # models fitted before it was recorded have none
    if granularity is not None:
        metrics["granularity"] = granularity
    t = lap("metrics", t)

    _say(progress, "tracking: comparing with the previous snapshot …")
    with store.connect(db, read_only=True) as con:
        previous = results.tracking_inputs(con, as_of, params.window_days)
    segments, transitions, tracking_summary = track_snapshot(previous, segments, assignments,
                                                             window_days=params.window_days)
    if tracking_summary.get("note"):
        _say(progress, f"  note: {tracking_summary['note']}")
    metrics["tracking"] = tracking_summary
    metrics["notes"] = [*table.notes, *decision.notes, *filter(None, [tracking_summary.get("note")])]
    t = lap("tracking", t)

    models_root = store.models_dir(db)
    models_root.mkdir(parents=True, exist_ok=True)
    tmp_models = results.model_staging_dir(models_root)
    try:
        pipeline.save(tmp_models)
        run_row = {
            "as_of": as_of,
            "window_days": params.window_days,
            "n_customers": len(assignments),
            "n_segments": n_segments,
            "noise_share": noise_share,
            "params": {**asdict(params), "feature_names": list(table.frame.columns),
                       "clustering_features": list(pipeline.feature_names_in_),
                       "feature_choice": feature_choice(table, params),
                       "feature_weights": getattr(pipeline, "feature_weights", None),
                       "feature_notes": table.notes},
            "metrics": {**metrics, "timings": timings},
            "created_at": datetime.now(),
        }
        _say(progress, "store: writing the run …")
        with store.connect(db) as con:
            run_id = results.save_run(
                con, run_row, segments, assignments, transitions,
                model_tmp_dir=tmp_models, model_dir=models_root,
            )
    finally:
        if tmp_models.exists():
            shutil.rmtree(tmp_models, ignore_errors=True)
    timings["store"] = round(time.perf_counter() - t, 3)
    seconds = time.perf_counter() - started
    _say(progress, f"stored: run {run_id} ({seconds:.0f} s)")
    return {
        "run_id": run_id,
        "as_of": as_of.isoformat(),
        "window_days": params.window_days,
        "n_customers": len(assignments),
        "n_segments": n_segments,
        "noise_share": noise_share,
        "metrics": metrics,
        "notes": metrics["notes"],
        "timings": timings,
        "seconds": round(seconds, 2),
        "segments": [{**record, **movement(profile)} for record, profile in zip(
            results.records(segments.drop(columns=["profile"], errors="ignore")), segments["profile"])],
    }


def assign_customers(
    db: Any,
    run_id: int,
    as_of: date | None = None,
    out: Path | None = None,
    progress: Progress = None,
) -> dict[str, Any]:
    """Score every customer active in the run's window (or up to ``as_of``) with the run's models.

    The document's ``notes`` say which values were filled in (features the data lack, undefined values).
    """
    from segmentation.features.table import build_features, fill_missing_features

    with store.connect(db, read_only=True) as con:
        run = results.get_run(con, run_id)
        when = as_of or run["as_of"]
        table = build_features(con, when, int(run["window_days"]))
        stored = con.execute(load_query("assignments_of_run"), {"run_id": int(run_id)}).df()
    pipeline = load_run_models(run)
    # Features the run saw that these data lack (a channel nobody used, say): filled with the value
    # for no such activity of their kind, or the one value everybody has (features.fill_missing_features).
    frame, missing_note = fill_missing_features(table, list(pipeline.feature_names_in_))
    notes = [*table.fill_notes, *filter(None, [missing_note])]
    for note in notes:
        _say(progress, f"note: {note}")
    _say(progress, f"scoring {len(frame):,} customers with run {run_id} …")
    started = time.perf_counter()
    scores = pipeline.assign(frame)
    seconds = time.perf_counter() - started
    scores = scores.reset_index(names="customer_id")
    scores["customer_id"] = scores["customer_id"].astype(str)
    agreement, n_new = agreement_with_run(scores, stored)
    if out is not None:
        _write_scores(db, run_id, scores, Path(out))
    counts = scores["segment_id"].value_counts().sort_index()
    return {
        "run_id": int(run_id),
        "as_of": str(when),
        "n_scored": int(len(scores)),
        "n_new_customers": n_new,
        "agreement_with_run": agreement,
        "seconds": round(seconds, 3),
        "customers_per_second": float(len(scores) / seconds) if seconds > 0 else float("inf"),
        "segment_counts": {int(k): int(v) for k, v in counts.items()},
        "out": str(out) if out else None,
        "notes": notes,
    }


def _write_scores(db: Any, run_id: int, scores: pd.DataFrame, out: Path) -> None:
    """Write ``scores`` to ``out`` (.csv or .parquet) whole or not at all.

    The file is written next to ``out`` under a temporary name and renamed into place; a
    journal intent names the temporary file, so one left by a killed process is removed
    by the next command (see :mod:`segmentation.data.journal`).
    """
    from segmentation.data import journal

    if out.suffix.lower() not in (".parquet", ".csv", ""):
        raise InputError(f"--out {out}: use a .csv or .parquet file name")
    out.parent.mkdir(parents=True, exist_ok=True)
    columns = ["customer_id", "segment_id", "probability", "x", "y", "reconstruction_error"]
    with journal.temporary_output(store.db_path(db), out, "assign", run=int(run_id)) as tmp:
        if out.suffix.lower() == ".parquet":
            scores[columns].to_parquet(tmp, index=False)
        else:
            scores[columns].to_csv(tmp, index=False)
        journal.crash_point("assign:before-replace")
        tmp.replace(out)


def load_run_models(run: dict):
    """The fitted pipeline of a stored run (``results.get_run`` row); a clear error when its files are gone."""
    from segmentation.engine.pipeline import SegmentationPipeline

    model_path = Path(run["model_path"] or "")
    if not run["model_path"] or not model_path.is_dir():
        raise WorkbenchError(f"the models of run {run['run_id']} are missing (expected {model_path})")
    return SegmentationPipeline.load(model_path)


def agreement_with_run(scores: pd.DataFrame, stored: pd.DataFrame) -> tuple[float | None, int]:
    """(share of the run's customers given their stored segment again, customers not in the run)."""
    merged = scores[["customer_id", "segment_id"]].merge(
        stored[["customer_id", "segment_id"]], on="customer_id", how="left", suffixes=("", "_stored"))
    both = merged["segment_id_stored"].notna()
    agreement = (float((merged.loc[both, "segment_id"] == merged.loc[both, "segment_id_stored"]).mean())
                 if both.any() else None)
    return agreement, int((~both).sum())


def existing_run(db: Any, as_of: date, window_days: int) -> int | None:
    """The complete run for ``as_of`` with this window, if there is one."""
    with store.connect(db, read_only=True) as con:
        row = store.fetch_row(con, "run_at_date", {"as_of": as_of, "window_days": window_days})
    return int(row[0]) if row else None


def timeline_dates(start: date, end: date, every_days: int) -> list[date]:
    """Snapshot dates from ``start`` to ``end`` (inclusive) every ``every_days`` days."""
    from datetime import timedelta

    if every_days < 1:
        raise InputError(f"--every must be at least 1 day (got {every_days})")
    if end < start:
        raise InputError(f"--end {end} is before --start {start}")
    dates, current = [], start
    while current <= end:
        dates.append(current)
        current += timedelta(days=every_days)
    return dates


def run_timeline(
    db: Any,
    start: date,
    end: date,
    every_days: int,
    params: SnapshotParams | None = None,
    progress: Progress = None,
    progress_bar: bool = False,
) -> dict[str, Any]:
    """One snapshot per date, each tracked against the one before.

    Dates that already have a complete run with the same window are skipped
    (re-running a timeline does not duplicate runs).
    """
    params = params or SnapshotParams()
    dates = timeline_dates(start, end, every_days)
    snapshots = []
    for index, when in enumerate(dates, start=1):
        existing = existing_run(db, when, params.window_days)
        if existing is not None:
            _say(progress, f"[{index}/{len(dates)}] {when}: run {existing} exists, skipped")
            snapshots.append({"as_of": when.isoformat(), "run_id": existing, "skipped": True})
            continue
        _say(progress, f"[{index}/{len(dates)}] snapshot {when}")
        document = run_snapshot(db, when, params, progress=progress, progress_bar=progress_bar)
        snapshots.append({**document, "skipped": False})
    return {"start": start.isoformat(), "end": end.isoformat(), "every_days": every_days,
            "window_days": params.window_days, "snapshots": snapshots}

"""One snapshot end to end: features → pipeline → profiles → tracking → store.

Here: the snapshot's parameters (:class:`SnapshotParams`), its inputs (the feature table,
the clustered features, the pipeline) and :func:`run_snapshot`. Whether the previous models
are reused is :mod:`segmentation.workflows.reuse`; a timeline of snapshots is
:mod:`segmentation.workflows.timeline`; scoring with a stored run is
:mod:`segmentation.workflows.assign`. Connections are short-lived: the features are read
with a read-only connection that is closed before the (long) fit, and the results are
written in one transaction at the end, so the app and other commands can use the
database while a snapshot is being computed.
"""

from __future__ import annotations

import shutil
import time
from functools import lru_cache
from dataclasses import asdict, dataclass, field, replace
from datetime import date, datetime
from typing import Any, Optional, Sequence

import numpy as np
import pandas as pd

from segmentation.data import journal, recovery, results, store
from segmentation.engine.defaults import DEFAULTS, SKIP
from segmentation.data.queries import load_query
from segmentation.workflows.progress import Progress, Stage, keeping_notes, say, say_note
from segmentation.workflows.engine_options import check_engine_options
from segmentation.workflows.reuse import (behaviour_before, fit_or_reuse, lineage_members_at_start, models_fitted_at,
                                         reference_window)

__all__ = ["SnapshotParams", "run_snapshot", "existing_run", "snapshot_inputs", "clustering_frame",
           "feature_choice", "share_counts", "count_loss", "segment_floor", "FLOOR_RULE", "make_pipeline", "RUN"]

MONEY_AND_COUNT_KINDS = ("count", "money", "days")
#: Shares that are not part of a customer's behaviour mix (what they do, where and when): ``trend``,
#: the share of events in the window's recent half, is 1 for anyone who signed up during it, so
#: a growing segment's sign-ups differ from its older customers by it without behaving otherwise.
NOT_MIX = ("trend",)


@dataclass
class SnapshotParams:
    """Parameters of a snapshot (stored with the run in ``runs.params``).

    Where a field is also an engine parameter its default is the engine's
    (:data:`segmentation.engine.defaults.DEFAULTS`), except the two the snapshot chooses itself
    (``min_cluster_share`` and ``max_epochs``, with their reasons below). ``extra`` goes to
    :class:`~segmentation.engine.pipeline.SegmentationPipeline` as given.
    """

    window_days: int = 90
    seed: int = DEFAULTS.random_state
    fit_sample_size: int = DEFAULTS.fit_sample_size
    # Smallest segment, as a share of the fitted sample. None: chosen by the data (segment_floor:
    # 1 % where the median customer has more than 10 events in the window, else 2 %). A new
    # lineage is announced as emerged only once it holds 2 % (tracking.hold_back), whatever the floor.
    min_cluster_share: Optional[float] = None
    latent_dim: int = DEFAULTS.latent_dim
    # The snapshot's training budget, below the engine's 100 epochs (early stopping may end sooner).
    max_epochs: int = 40
    outlier_floor: Optional[float] = DEFAULTS.outlier_floor
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


def snapshot_inputs(db: Any, as_of: date, window_days: int):
    """Feature table and (for demo data) the ground truth of the snapshot month."""
    from segmentation.features.signal import feature_reliability, split_half_tables
    from segmentation.features.table import build_features

    with store.connect(db, read_only=True) as con:
        table = build_features(con, as_of, window_days)
        table.halves = split_half_tables(con, as_of, window_days)
        table.reliability = feature_reliability(con, as_of, window_days, table.frame.columns, halves=table.halves)
        truth = con.execute(load_query("demo_truth_select_at"), {"as_of": as_of}).df()
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


def feature_choice(table, params: SnapshotParams, pipeline=None) -> str:
    """Why these features are clustered and those are profile-only, and what of them the segments
    are found on (stored with the run, shown on the Run page). ``pipeline``: the one the run used
    (reused models say how they were fitted, which may be an earlier version's way); by default the
    one :func:`make_pipeline` builds for these parameters."""
    _, _, why = _choice(table, params)
    return why + "; " + found_on(make_pipeline(table, params) if pipeline is None else pipeline, params.extra)


def found_on(pipeline, extra: dict) -> str:
    """What a (fitted or configured) pipeline finds the segments on, in words."""
    if pipeline.encoder == SKIP:
        return "the segments are found on these features alone (no autoencoder, as configured)"
    text = ("the segments are found on these features beside the autoencoder's code" if pipeline.input_weight
            else "the segments are found on the autoencoder's code alone")
    if "input_weight" in extra:
        text += f" (input_weight {extra['input_weight']!r} as configured)"
    if pipeline.count_loss and pipeline.count_columns:
        text += ", the autoencoder trained on the event counts behind the shares"
    return text


def share_counts(table, clustered) -> dict[str, str]:
    """Each clustered share → the count it is a share of (the customer's events; for category
    shares, whose true base is the category-tagged events, the events are the nearest count kept)."""
    if "frequency" not in clustered:
        return {}
    return {f.name: "frequency" for f in table.catalog if f.kind == "share" and f.name in clustered}


#: The weight of the count-aware loss (``count_loss``) wherever the snapshot knows each share's count.
#: Chosen in v25 on tuning seeds (benchmarks/results/count_features_tuning.md): on the sparse
#: scenarios 0.716 -> 0.749 mean ARI, 0.022 above the features alone, with the features beside the
#: code on purchase logs too.
COUNT_LOSS = 10.0


def count_loss(counts: dict, extra: dict) -> float:
    """The count-aware loss's weight given each clustered share's count (``counts``, from
    :func:`share_counts`; 0: plain MSE).

    :data:`COUNT_LOSS` where some share's count is known, else 0; ``extra`` decides where it sets
    ``count_loss``, and an ``extra`` with ``cross_halves`` (which sets the loss on the mix itself)
    turns it off.

    Until v25 the loss was an option and a purchase log was clustered on the autoencoder's code
    alone. Together, the loss and the features beside the code on every kind of data raised the
    sparse scenarios' mean ARI on the tuning seeds from 0.716 to 0.749 (the loss alone 0.730, the
    features beside the code without it 0.729), and the code earns its place over the features
    alone, without an autoencoder (0.727; +0.022).
    """
    if "count_loss" in extra:
        return float(extra["count_loss"])
    if extra.get("cross_halves"):
        return 0.0
    return COUNT_LOSS if counts else 0.0


#: Above this median of events per customer in the window, the floor is 1 % (issue 14's line between
#: sparse and rich data; on the tuning data every line from 8 to 14 picks the same floors).
RICH_EVENTS = 10
RICH_FLOOR, SPARSE_FLOOR = 0.01, 0.02
#: ... and every line from 8 to 14 picks the same floors there: while the median stays in this band a
#: timeline keeps the floor its previous snapshot chose, so a median near 10 does not flip it (and
#: refit the models) from one snapshot to the next.
EITHER_FLOOR_EVENTS = (8, 14)
#: The rule in words (the command line's and the Run page's help).
FLOOR_RULE = (f"{RICH_FLOOR:.0%} of the fitted customers where the median customer has more than {RICH_EVENTS} "
              f"events in the window, else {SPARSE_FLOOR:.0%}")


def segment_floor(table, params: SnapshotParams, previous: dict | None = None) -> tuple[float, str]:
    """The smallest segment (a share of the fitted customers) and why, as stored with the run.

    ``params.min_cluster_share`` when it is set. Otherwise the data choose: 1 % where the median
    customer has more than :data:`RICH_EVENTS` events in the window, else 2 %; ``previous`` (the
    ``segment_floor`` the previous snapshot's data chose) is kept while the median is within
    :data:`EITHER_FLOOR_EVENTS`. With few events a
    customer's shares are mostly chance, and chance forms pockets as large as a 1 % persona; with
    many, a persona of 1 % is as clear as a large one (``benchmarks/results/granularity_floor_v18.md``:
    chosen on the tuning seeds, the rule puts the segment count within ±1 of the personas on 89 % of
    tuning runs, against 68 % at 2 % everywhere and 78 % at 1 %).
    """
    if params.min_cluster_share is not None:
        share = float(params.min_cluster_share)
        return share, f"a segment must hold at least {share:.1%} of the fitted customers, as configured"
    frame = table.frame
    events = float(frame["frequency"].median()) if "frequency" in frame.columns and len(frame) else 0.0
    kept = (previous or {}).get("share")
    low, high = EITHER_FLOOR_EVENTS
    if kept in (RICH_FLOOR, SPARSE_FLOOR) and low <= events <= high:
        return kept, (f"a segment must hold at least {kept:.0%} of the fitted customers, as the data chose at the "
                      f"previous snapshot: the median customer has {events:g} events in the window, between "
                      f"{low} and {high}, where either floor fits")
    if events > RICH_EVENTS:
        return RICH_FLOOR, (f"a segment must hold at least {RICH_FLOOR:.0%} of the fitted customers: the median "
                            f"customer has {events:g} events in the window (more than {RICH_EVENTS}), enough "
                            "for a group that small to be a habit rather than chance")
    return SPARSE_FLOOR, (f"a segment must hold at least {SPARSE_FLOOR:.0%} of the fitted customers: the median "
                          f"customer has {events:g} events in the window ({RICH_EVENTS} or fewer), and with so "
                          "few events chance alone forms groups of 1 %")


def make_pipeline(table, params: SnapshotParams):
    """The snapshot's pipeline; counts, money and days of the clustering features get log1p."""
    from segmentation.features.signal import VALUE_FEATURES, reliability_weights
    from segmentation.engine.defaults import REST_ALIKE
    from segmentation.engine.pipeline import SegmentationPipeline

    check_engine_options(params.extra)
    clustered = set(clustering_frame(table, params).columns)
    counts = share_counts(table, clustered)
    loss = count_loss(counts, params.extra)
    log_columns = [f.name for f in table.catalog if f.kind in MONEY_AND_COUNT_KINDS and f.name in clustered]
    return SegmentationPipeline(
        latent_dim=params.latent_dim,
        max_epochs=params.max_epochs,
        log_columns=log_columns,
        share_counts=counts if params.smooth_shares else None,
        count_columns=counts if loss else None,
        feature_weights=(reliability_weights(table.reliability, [c for c in table.reliability if c in clustered])
                         if params.weight_by_reliability and table.reliability else None),
        fit_sample_size=params.fit_sample_size,
        min_cluster_size=segment_floor(table, params)[0],
        outlier_floor=params.outlier_floor,
        mix_columns=[f.name for f in table.catalog
                     if f.kind == "share" and f.name in clustered and f.name not in NOT_MIX],
        # On a purchase log value and rhythm are the behaviour: twins by mix only where those are alike too.
        mix_twins=REST_ALIKE if set(VALUE_FEATURES) & clustered else True,
        random_state=params.seed,
        **{**params.extra, "count_loss": loss},
    )


def _previous_floor(db: Any, as_of: date, params: SnapshotParams) -> dict | None:
    """The floor the data chose at the previous snapshot of this window (None: none, or set by hand)."""
    if params.min_cluster_share is not None:
        return None
    with store.connect(db, read_only=True) as con:
        previous = results.previous_run(con, as_of, params.window_days)
        stored = (results.get_run(con, previous["run_id"])["params"] or {}) if previous else {}
    return stored.get("segment_floor") if stored.get("min_cluster_share") is None else None


def run_snapshot(
    db: Any,
    as_of: date,
    params: SnapshotParams | None = None,
    progress: Progress = None,
    callbacks: Sequence = (),
    progress_bar: bool = False,
) -> dict[str, Any]:
    """Compute and store one snapshot; return its summary (JSON-friendly).

    ``progress`` receives the snapshot's :class:`~segmentation.workflows.progress.ProgressEvent`
    (the training's epochs too); ``callbacks`` (Lightning callbacks) and ``progress_bar``
    (Lightning's bar, for a terminal) go to the autoencoder's training. Every note among the
    events is also kept in ``metrics["notes"]`` (stored with the run) and ``notes`` (the returned
    document): plain sentences, no customer data.
    """
    from segmentation.engine.metrics import quality_report
    from segmentation.dynamics.profiles import profile_segments
    from segmentation.workflows.segment_actions import with_lookalike_quality, with_rules
    from segmentation.dynamics.tracking import movement, track_snapshot

    params = params or SnapshotParams()
    check_engine_options(params.extra)  # before any work: a typo fails at once
    started = time.perf_counter()
    notes: list[str] = []
    progress = keeping_notes(progress, notes)
    timings: dict[str, float] = {}

    def lap(stage: str, t0: float) -> float:
        timings[stage] = round(time.perf_counter() - t0, 3)
        return time.perf_counter()

    t = time.perf_counter()
    say(progress, Stage.FEATURES, f"features: customers active in the {params.window_days} days up to {as_of} …")
    table, truth = snapshot_inputs(db, as_of, params.window_days)
    for note in table.notes:
        say_note(progress, Stage.FEATURES, note)
    given = params  # stored as given: a floor chosen by the data is chosen again at the next snapshot
    floor, floor_why = segment_floor(table, params, _previous_floor(db, as_of, params))
    params = replace(params, min_cluster_share=floor)
    t = lap("features", t)
    features = clustering_frame(table, params)
    # The customers' behaviour in an earlier window (ending on a date): each read once, only if a check
    # needs it; the refit's set-aside and tracking compare with the same window.
    window_ending = lru_cache(maxsize=2)(lambda end: behaviour_before(db, end, params.window_days))
    pipeline, scores, decision = fit_or_reuse(db, as_of, features, make_pipeline(table, params), params,
                                              progress, callbacks, progress_bar, before=window_ending,
                                              halves=table.halves)
    table.halves = None  # only a fit reads them: two more feature tables, not kept through the snapshot
    for note in decision.notes:
        say_note(progress, Stage.SEGMENTS, note)
    t = lap("fit", t)

    assignments = pd.DataFrame({"customer_id": table.frame.index.astype(str), **{
        column: scores[column].to_numpy(dtype=int if column == "segment_id" else float)
        for column in ("segment_id", "probability", "x", "y", "reconstruction_error")}})
    labels = assignments["segment_id"].to_numpy()
    n_segments, noise_share = int(len(np.unique(labels[labels >= 0]))), float(np.mean(labels == -1))
    say(progress, Stage.SEGMENTS, f"clustering: {n_segments} segments, noise {noise_share:.1%}")

    say(progress, Stage.PROFILES, "profiles: traits, KPIs and suggested names …")
    segments = profile_segments(table, assignments)
    t = lap("profiles", t)
    say(progress, Stage.RULES, "rules: a few readable conditions per segment …")
    segments["profile"] = with_rules(segments, table, assignments)
    t = lap("rules", t)
    say(progress, Stage.LOOKALIKES, "lookalikes: each segment's recall on held-out members …")
    space = getattr(pipeline, "cluster_space_", None)  # models fitted by this snapshot: the fit's rows
    if space is None or len(space) != len(features):
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

    say(progress, Stage.TRACKING, "tracking: comparing with the previous snapshot …")
    with store.connect(db, read_only=True) as con:
        previous = results.tracking_inputs(con, as_of, params.window_days)
    # A new segment's customers are compared with how they behaved when the old models were fitted.
    end = reference_window(as_of, params.window_days, models_fitted_at(db, previous["run"]))
    behaviour = None if previous["run"] is None else (lambda: window_ending(end), table.frame)
    segments, transitions, tracking_summary = track_snapshot(previous, segments, assignments,
                                                             window_days=params.window_days, behaviour=behaviour,
                                                             started_with=lineage_members_at_start(db, previous))
    if tracking_summary.get("note"):
        say_note(progress, Stage.TRACKING, tracking_summary["note"])
    metrics["tracking"] = tracking_summary
    metrics["notes"] = list(notes)
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
            "params": {**asdict(given), "segment_floor": {"share": floor, "why": floor_why},
                       "feature_names": list(table.frame.columns),
                       "clustering_features": list(pipeline.feature_names_in_),
                       "feature_choice": feature_choice(table, params, pipeline),
                       "feature_weights": getattr(pipeline, "feature_weights", None),
                       "feature_notes": table.notes},
            "metrics": {**metrics, "timings": timings},
            "created_at": datetime.now(),
        }
        say(progress, Stage.STORE, "store: writing the run …")
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
    say(progress, Stage.STORED, f"stored: run {run_id} ({seconds:.0f} s)")
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


def _run_outcome(con, marker: dict) -> str:
    """What a killed snapshot had stored: its run, when it had committed (a run of its date since it began)."""
    as_of = str((marker.get("detail") or {}).get("as_of"))
    done = [run_id for run_id, when in recovery.runs_since(con, marker) if str(when) == as_of]
    return f"it had finished (run {done[0]})" if done else "nothing of it was stored"


# One snapshot (the `run` command, the app's snapshot job) is marked in the crash journal while it works.
RUN = journal.declare("run", marked=("as_of", "window_days"), outcome=_run_outcome, stores_models=True)


def existing_run(db: Any, as_of: date, window_days: int) -> int | None:
    """The complete run for ``as_of`` with this window, if there is one."""
    with store.connect(db, read_only=True) as con:
        row = store.fetch_row(con, "runs_select_at_date", {"as_of": as_of, "window_days": window_days})
    return int(row[0]) if row else None



"""Scoring customers with a stored run's models (the ``assign`` command, local engine):
:func:`load_run_models` loads a run's fitted pipeline, :func:`assign_customers` scores everyone
active in the run's window (or up to another date) and writes the scores to a file whole or not at
all, and :func:`agreement_with_run` compares the scores with the segments the run stored (the Dask
engine in :mod:`segmentation.workflows.distributed` uses the same two)."""

from __future__ import annotations

import time
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd

from segmentation.data import journal, recovery, results, store
from segmentation.data.queries import load_query
from segmentation.errors import InputError, WorkbenchError
from segmentation.workflows.progress import Progress, Stage, say, say_note

__all__ = ["ASSIGN", "assign_customers", "load_run_models", "agreement_with_run"]


def _undo_scores(con, intent: dict) -> str:
    """A killed assign's score file (or Dask work folder) under its temporary name goes; one renamed
    into place is whole."""
    removed = recovery.remove_temporary_files(intent)
    return f"no score file of it was written (removed {recovery.count(removed, 'unfinished file')})"


# `assign --out` leaves no marker: its file is written under a temporary name its intent records.
ASSIGN = journal.declare("assign", marked=None, undo=_undo_scores)


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
        stored = con.execute(load_query("assignments_select_of_run"), {"run_id": int(run_id)}).df()
    pipeline = load_run_models(run)
    # Features the run saw that these data lack (a channel nobody used, say): filled with the value
    # for no such activity of their kind, or the one value everybody has (features.fill_missing_features).
    frame, missing_note = fill_missing_features(table, list(pipeline.feature_names_in_))
    notes = [*table.fill_notes, *filter(None, [missing_note])]
    for note in notes:
        say_note(progress, Stage.FEATURES, note, indent="")
    say(progress, Stage.ASSIGNING, f"scoring {len(frame):,} customers with run {run_id} …")
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
    if out.suffix.lower() not in (".parquet", ".csv", ""):
        raise InputError(f"--out {out}: use a .csv or .parquet file name")
    out.parent.mkdir(parents=True, exist_ok=True)
    columns = ["customer_id", "segment_id", "probability", "x", "y", "reconstruction_error"]
    with journal.temporary_output(store.db_path(db), out, ASSIGN.kind, run=int(run_id)) as tmp:
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

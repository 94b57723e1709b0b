"""Score customers with Dask distributed, partition by partition over Parquet (``assign --engine dask``).

The flow:

1. **Features over Parquet.** By default the run's feature SQL runs in DuckDB
   on the database (:func:`~segmentation.features.table.build_features`, as the local
   ``assign`` does) and the table is written as Parquet partitions of
   ``rows_per_partition`` customers. With ``features=`` the feature table is
   read from Parquet files computed elsewhere, typically by DuckDB next to the
   events themselves (:func:`features_over_parquet` runs the same SQL over
   ``read_parquet`` of events files, so only one row per customer travels).
   Feature SQL runs over the whole window at once (some neutral fills are
   population statistics); scoring is per customer and runs per partition.
2. **Models to the workers.** The run's models are loaded once by the client
   and *scattered* to every worker (``broadcast=True``): each worker
   deserialises one copy and keeps it in memory for all the partitions it
   scores. Nothing needs a shared file system for the models (loading
   ``model_path`` on each worker would), and code is not involved
   (``Client.upload_file`` ships modules, not fitted models).
3. **Scoring.** One task per partition reads its Parquet file on the worker,
   scores it with :meth:`SegmentationPipeline.assign` and writes one output
   part; only small summaries come back to the client.
4. **Output.** Parts are written into a temporary directory that becomes
   ``out`` (a Parquet dataset directory, ``part-00000.parquet`` …) once every
   partition is done, so a failed run leaves nothing half-written.
"""

from __future__ import annotations

import copy
import glob
import shutil
import time
import uuid
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any, Iterator, Sequence

import pandas as pd

from segmentation.data import journal, results, store
from segmentation.errors import InputError, WorkbenchError
from segmentation.data.queries import load_query
from segmentation.workflows.progress import Progress, Stage, say, say_note

__all__ = [
    "feature_files", "write_feature_partitions", "features_over_parquet", "score_partition",
    "scoring_copy", "score_parquet", "dask_client", "assign_with_dask",
]

SCORE_COLUMNS = ["customer_id", "segment_id", "probability", "x", "y", "reconstruction_error"]


def feature_files(path: str | Path) -> list[str]:
    """The Parquet files of a feature table: one file, a directory of ``*.parquet`` files, or a glob."""
    text = str(path)
    if any(ch in text for ch in "*?["):
        files = sorted(glob.glob(text))
    elif Path(text).is_dir():
        files = sorted(str(p) for p in Path(text).glob("*.parquet"))
    elif Path(text).is_file():
        files = [text]
    else:
        raise InputError(f"--features {text}: no such file or directory")
    if not files:
        raise InputError(f"--features {text}: no Parquet files found")
    return files


def write_feature_partitions(frame: pd.DataFrame, directory: str | Path,
                             rows_per_partition: int = 100_000) -> list[str]:
    """Write a feature table (index = customer ids) as ``part-00000.parquet`` … of at most
    ``rows_per_partition`` rows, with the ids in a ``customer_id`` column; returns the file paths."""
    if rows_per_partition < 1:
        raise InputError(f"rows per partition must be at least 1 (got {rows_per_partition})")
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    table = frame.rename_axis("customer_id").reset_index()
    table["customer_id"] = table["customer_id"].astype(str)
    paths = []
    for number, start in enumerate(range(0, len(table), rows_per_partition)):
        path = directory / f"part-{number:05d}.parquet"
        table.iloc[start:start + rows_per_partition].to_parquet(path, index=False)
        paths.append(str(path))
    return paths


def features_over_parquet(events: str | Sequence[str], as_of: date, window_days: int = 90):
    """Feature table of the customers in events Parquet file(s), computed by DuckDB where they lie.

    ``events``: a path, glob or list of Parquet files with the canonical events
    columns (DESIGN §3), local or on any file system DuckDB reads (``s3://``
    with its httpfs extension). The same ``queries/features/*.sql`` run in an
    in-memory DuckDB over a view on ``read_parquet`` of the files: DuckDB reads
    only the columns the queries use and skips row groups outside the window,
    and only one row per customer leaves. Run it over *all* the files of a
    window at once: some neutral fills are population statistics (the window's
    median basket for customers without purchases), so features computed per
    file would differ. Scoring, not feature SQL, is what runs per partition.
    """
    import duckdb

    from segmentation.features.table import build_features

    con = duckdb.connect()
    try:
        con.execute("SET enable_progress_bar = false")
        files = [events] if isinstance(events, (str, Path)) else list(events)
        con.read_parquet([str(f) for f in files]).create_view("events")
        return build_features(con, as_of, window_days)
    finally:
        con.close()


def _import_modules(names: Sequence[str]) -> None:
    """Worker warm-up: import what unpickling and scoring need (torch, Lightning, ... ~10 s)."""
    import importlib

    for name in names:
        importlib.import_module(name)


def _scoring_modules(pipeline) -> list[str]:
    neighbors = getattr(getattr(pipeline, "mapping_", None), "neighbors_", None)
    approximate = getattr(neighbors, "algorithm_", None) == "nndescent"
    return ["segmentation.engine.pipeline"] + (["pynndescent"] if approximate else [])


def score_partition(pipeline, features_file: str, out_file: str) -> dict[str, Any]:
    """Worker task: score one Parquet partition of features and write its scores.

    The partition needs a ``customer_id`` column and the pipeline's feature
    columns; features it lacks (e.g. a category absent from this data) are 0,
    as in the local ``assign``. Returns rows, missing features and segment counts.
    """
    frame = pd.read_parquet(features_file)
    if "customer_id" not in frame.columns:
        raise InputError(f"{features_file}: no customer_id column")
    frame = frame.set_index(frame["customer_id"].astype(str)).drop(columns="customer_id")
    expected = [str(name) for name in pipeline.feature_names_in_]
    missing = [name for name in expected if name not in frame.columns]
    scores = pipeline.assign(frame.reindex(columns=expected, fill_value=0.0))
    scores = scores.rename_axis("customer_id").reset_index()
    Path(out_file).parent.mkdir(parents=True, exist_ok=True)
    scores[SCORE_COLUMNS].to_parquet(out_file, index=False)
    counts = scores["segment_id"].value_counts()
    return {"file": features_file, "rows": int(len(scores)), "missing_features": missing,
            "segment_counts": {int(k): int(v) for k, v in counts.items()}}


def scoring_copy(pipeline):
    """What the workers need of a fitted pipeline: with the out-of-sample mapping (the default),
    a shallow copy without the UMAP and HDBSCAN models, which scoring does not use.

    A fifth of the bytes to ship for a small run, and workers never import
    umap/numba (seconds per worker process); ``mapping="transform"`` models are shipped whole.
    """
    if getattr(pipeline, "mapping_", None) is None:
        return pipeline
    slim = copy.copy(pipeline)
    slim.reducer_ = slim.map_reducer_ = slim.clusterer_ = None
    return slim


def score_parquet(client, pipeline, files: Sequence[str], out_dir: str | Path) -> list[dict[str, Any]]:
    """Score every Parquet partition in ``files`` on the Dask cluster of ``client``.

    The fitted ``pipeline`` (its :func:`scoring_copy`) is scattered once to
    every worker; partition ``i`` is written to ``out_dir/part-{i:05d}.parquet``.
    Returns the per-partition summaries of :func:`score_partition`, in the order of ``files``.
    """
    out_dir = Path(out_dir)
    shipped = client.scatter(scoring_copy(pipeline), broadcast=True)
    futures = [client.submit(score_partition, shipped, str(path), str(out_dir / f"part-{i:05d}.parquet"),
                             key=f"score-partition-{uuid.uuid4().hex}", pure=False)
               for i, path in enumerate(files)]
    return client.gather(futures)


@contextmanager
def dask_client(scheduler: str | None = None, n_workers: int = 2, threads_per_worker: int = 1,
                processes: bool = True) -> Iterator[Any]:
    """A Dask client: on the cluster whose scheduler is at ``scheduler`` (e.g. ``tcp://host:8786``),
    else on a :class:`~distributed.LocalCluster` of ``n_workers`` processes started (and closed) here."""
    from distributed import Client, LocalCluster

    if scheduler:
        try:
            client = Client(scheduler, timeout="30s")
        except OSError as exc:
            raise WorkbenchError(f"cannot reach the Dask scheduler at {scheduler}: {exc}") from None
        try:
            yield client
        finally:
            client.close()
        return
    with LocalCluster(n_workers=n_workers, threads_per_worker=threads_per_worker, processes=processes,
                      dashboard_address=None) as cluster, Client(cluster) as client:
        yield client


def _output_dir(out: Path | None) -> Path:
    if out is None:
        raise InputError("--engine dask writes its scores as Parquet: give --out, e.g. --out scores.parquet")
    out = Path(out)
    if out.suffix.lower() != ".parquet":
        raise InputError(f"--out {out}: --engine dask writes a Parquet dataset; use a name ending in .parquet")
    if out.exists() and not out.is_dir():
        raise InputError(f"--out {out} is a file; --engine dask writes a directory of Parquet parts")
    return out


def assign_with_dask(
    db: Any,
    run_id: int,
    as_of: date | None = None,
    out: Path | None = None,
    scheduler: str | None = None,
    features: str | Path | None = None,
    rows_per_partition: int = 100_000,
    n_workers: int = 2,
    processes: bool = True,
    progress: Progress = None,
) -> dict[str, Any]:
    """``assign --engine dask``: score customers with run ``run_id``'s models on a Dask cluster.

    Features come from the database (DuckDB, the run's window ending on
    ``as_of``) or from the Parquet files at ``features``; the scores go to the
    Parquet dataset directory ``out``. Returns the local ``assign`` document
    (``n_scored``, ``n_new_customers``, ``agreement_with_run``, ``seconds``,
    ``customers_per_second``, ``segment_counts``, ``out``) plus ``engine``,
    ``n_partitions``, ``n_workers``, ``cluster_seconds`` (starting or reaching
    the cluster) and ``warmup_seconds`` (the workers' one-off imports).
    ``seconds`` covers shipping the models, scoring and writing the parts.
    """
    from segmentation.features.table import build_features
    from segmentation.workflows.assign import ASSIGN, agreement_with_run, load_run_models

    out = _output_dir(out)
    with store.connect(db, read_only=True) as con:
        run = results.get_run(con, run_id)
        when = None if features is not None else (as_of or run["as_of"])  # given features: their own date
        table = None if when is None else build_features(con, when, int(run["window_days"]))
        stored = con.execute(load_query("assignments_select_of_run"), {"run_id": int(run_id)}).df()
    pipeline = load_run_models(run)

    # The work folder (feature partitions, then scores) is journalled: one left by a killed
    # process is removed by the next command.
    with journal.temporary_output(store.db_path(db), out, ASSIGN.kind, run=int(run_id)) as work:
        if table is not None:
            files = write_feature_partitions(table.frame, work / "features", rows_per_partition)
        else:
            files = feature_files(features)
        journal.crash_point("assign:dask-partitions-written")
        say(progress, Stage.ASSIGNING, f"scoring {len(files)} Parquet partition(s) with run {run_id} on Dask …")
        started = time.perf_counter()
        with dask_client(scheduler, n_workers=n_workers, processes=processes) as client:
            ready = time.perf_counter()
            workers = len(client.scheduler_info()["workers"])
            client.run(_import_modules, _scoring_modules(pipeline))  # once per worker process
            warm = time.perf_counter()
            summaries = score_parquet(client, pipeline, files, work / "scores")
            seconds = time.perf_counter() - warm
        missing = sorted({name for s in summaries for name in s["missing_features"]})
        if missing:
            say_note(progress, Stage.ASSIGNING, f"{len(missing)} features absent from the data are set to 0: "
                                                f"{', '.join(missing[:5])}", indent="")
        if out.exists():
            shutil.rmtree(out)
        (work / "scores").rename(out)

    agreement, n_new = agreement_with_run(pd.read_parquet(out, columns=["customer_id", "segment_id"]), stored)
    counts: dict[int, int] = {}
    for summary in summaries:
        for segment, n in summary["segment_counts"].items():
            counts[segment] = counts.get(segment, 0) + n
    n_scored = sum(s["rows"] for s in summaries)
    return {
        "run_id": int(run_id),
        "as_of": str(when) if when is not None else None,
        "engine": "dask",
        "n_scored": int(n_scored),
        "n_new_customers": n_new,
        "agreement_with_run": agreement,
        "seconds": round(seconds, 3),
        "cluster_seconds": round(ready - started, 3),
        "warmup_seconds": round(warm - ready, 3),
        "customers_per_second": float(n_scored / seconds) if seconds > 0 else float("inf"),
        "segment_counts": dict(sorted(counts.items())),
        "n_partitions": len(files),
        "n_workers": workers,
        "out": str(out),
    }

"""Run commands: ``run``, ``runs``, ``segments``, ``name``, ``assign``."""

from __future__ import annotations

import getpass
import sys
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Optional

import typer

from segmentation.data import read, results, store
from segmentation.cli.main import command, db, emit, step
from segmentation.errors import InputError
from segmentation.present.digest import display_name
from segmentation.workflows.assign import ASSIGN
from segmentation.workflows.engine_options import parse_engine_options
from segmentation.workflows.progress import as_lines
from segmentation.workflows.snapshot import FLOOR_RULE, RUN, SnapshotParams
from segmentation.workflows.timeline import TIMELINE

# The defaults of run and timeline are the snapshot's own (the app's Run form shows the same).
DEFAULTS = SnapshotParams()


def parse_date(value: str, option: str) -> date:
    try:
        return datetime.strptime(value.strip(), "%Y-%m-%d").date()
    except ValueError:
        raise InputError(f"{option} {value!r} is not a date; use YYYY-MM-DD (e.g. 2025-12-31)") from None


REFIT_HELP = ("Fit new models even when the previous snapshot's models still explain the data "
              "(by default they are reused unless drift is detected; see docs/dynamics.md).")
REFIT_EVERY_HELP = "Refit once the models are this many snapshots old, drift or not (default: only on drift)."

# The snapshot options `run` and `timeline` share (their defaults are the snapshot's own).
WindowDays = Annotated[int, typer.Option(min=1, max=3650, help="Look-back window in days.")]
Seed = Annotated[int, typer.Option(help="Random seed (same data + seed, same segments).")]
FitSample = Annotated[int, typer.Option(min=100, help="Customers used to fit UMAP/HDBSCAN.")]
MinClusterShare = Annotated[Optional[float], typer.Option(
    min=0.0001, max=0.5, show_default=False,
    help=f"Smallest segment as a share of the fitted sample (default: chosen by the data, {FLOOR_RULE}).")]
Refit = Annotated[bool, typer.Option("--refit", help=REFIT_HELP)]
RefitEvery = Annotated[Optional[int], typer.Option("--refit-every", min=1, help=REFIT_EVERY_HELP)]
EngineOptions = Annotated[Optional[list[str]], typer.Option(
    "--engine-option", metavar="NAME=VALUE", show_default=False,
    help="An engine parameter the snapshot does not set itself, e.g. consensus=5, ensemble_size=3 or count_loss=0 "
         "(repeat for more; 'off' turns a switch off; docs/engine.md lists them). Stored with the run; "
         "a change refits the models.")]


def _segment_table(frame) -> None:
    if frame.empty:
        typer.echo("no segments")
        return
    for row in frame.itertuples(index=False):
        label = display_name(row.name, row.suggested_name)  # NaN (pandas' missing) is no name
        transition = row.transition if isinstance(row.transition, str) else ""
        typer.echo(
            f"run {row.run_id:>3}  segment {row.segment_id:>3}  {row.size:>8,}  "
            f"{transition:<9} {label}"
        )


@command(operation=RUN)
def run(
    as_of: str = typer.Option(..., "--as-of", help="Snapshot date (YYYY-MM-DD), inclusive."),
    window_days: WindowDays = DEFAULTS.window_days,
    seed: Seed = DEFAULTS.seed,
    fit_sample: FitSample = DEFAULTS.fit_sample_size,
    min_cluster_share: MinClusterShare = DEFAULTS.min_cluster_share,
    refit: Refit = False,
    refit_every: RefitEvery = None,
    engine_option: EngineOptions = None,
    again: bool = typer.Option(False, "--again", help="Compute another snapshot even if the date has one."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON document."),
) -> None:
    """One snapshot: features, fit (or reuse the last models), assign, profile, track, store."""
    from segmentation.workflows.snapshot import existing_run, run_snapshot

    params = SnapshotParams(
        window_days=window_days, seed=seed, fit_sample_size=fit_sample,
        min_cluster_share=min_cluster_share, refit=refit, refit_every=refit_every,
        extra=parse_engine_options(engine_option),
    )
    when = parse_date(as_of, "--as-of")
    previous = existing_run(db(), when, window_days)
    if previous is not None and not again:
        raise InputError(f"run {previous} already covers {when} with a {window_days}-day window "
                         f"(see `segments --run {previous}`); add --again to compute another one")
    document = run_snapshot(db(), when, params, progress=as_lines(step), progress_bar=sys.stderr.isatty())

    def human() -> None:
        typer.echo(
            f"run {document['run_id']} as of {document['as_of']}: {document['n_segments']} segments, "
            f"{document['n_customers']:,} customers, noise {document['noise_share']:.1%} "
            f"({document['seconds']:.0f} s)"
        )
        for segment in document["segments"]:
            typer.echo(f"  {segment['segment_id']:>3}  {segment['size']:>8,}  {segment['suggested_name']}")

    emit(document, as_json, human)


@command
def runs(as_json: bool = typer.Option(False, "--json", help="Print one JSON document.")) -> None:
    """List the stored (complete) snapshots."""
    with store.connect(db(), read_only=True) as con:
        frame = read.runs(con)
    records = frame.to_dict(orient="records")

    def human() -> None:
        if frame.empty:
            typer.echo("no runs yet: try `python -m segmentation run --as-of YYYY-MM-DD`")
        for row in records:
            typer.echo(
                f"run {row['run_id']:>3}  as of {row['as_of']}  window {row['window_days']} d  "
                f"{row['n_customers']:>9,} customers  {row['n_segments']:>3} segments  "
                f"noise {row['noise_share']:.1%}"
            )

    emit(records, as_json, human)


@command
def segments(
    run_id: Optional[int] = typer.Option(None, "--run", help="Run id (default: the latest run)."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON document."),
) -> None:
    """List the segments of a run (emerged ones with their sources and growth since)."""
    from segmentation.workflows.reports import segment_records

    with store.connect(db(), read_only=True) as con:
        frame = read.segments(con, run_id)
        documents = segment_records(con, frame)
    emit(documents, as_json, lambda: _segment_table(frame))


@command
def name(
    run_id: int = typer.Option(..., "--run", help="Run id."),
    segment_id: int = typer.Option(..., "--segment", help="Segment id."),
    text: Optional[str] = typer.Option(None, "--name", help="The name (optional with --description)."),
    description: Optional[str] = typer.Option(None, help="A description for marketers."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON document."),
) -> None:
    """Name or describe a segment (its lineage keeps both in later snapshots)."""
    if text is None and description is None:
        raise InputError("give --name, --description or both")
    with store.connect(db()) as con:
        document = results.name_segment(
            con, run_id, segment_id, text, description, who=f"cli:{getpass.getuser()}"
        )
    emit(document, as_json, lambda: typer.echo(
        f"run {run_id} segment {segment_id} is now named {document['name']!r}"
        + (" (description updated)" if description is not None else "")
    ))


@command(operation=ASSIGN)
def assign(
    run_id: int = typer.Option(..., "--run", help="Run id whose models score the customers."),
    out: Optional[Path] = typer.Option(None, help="Write the scores to this CSV or Parquet file "
                                       "(--engine dask: a Parquet dataset directory)."),
    as_of: Optional[str] = typer.Option(None, "--as-of", help="Score behaviour up to this date (default: the run's)."),
    engine: str = typer.Option("local", "--engine", help="local (this process) or dask (Dask distributed, "
                               "partition by partition over Parquet)."),
    scheduler: Optional[str] = typer.Option(None, "--scheduler", help="--engine dask: scheduler address, "
                                            "e.g. tcp://host:8786 (default: a local cluster of 2 workers)."),
    features: Optional[str] = typer.Option(None, "--features", help="--engine dask: score this Parquet "
                                           "feature table (file, directory or glob) instead of the database."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON document."),
) -> None:
    """Score customers (also ones not in the run) with a stored run's models."""
    from segmentation.workflows.assign import assign_customers

    when = parse_date(as_of, "--as-of") if as_of else None
    if engine == "dask":
        from segmentation.workflows.distributed import assign_with_dask

        document = assign_with_dask(db(), run_id, as_of=when, out=out, scheduler=scheduler, features=features,
                                    progress=as_lines(step))
    elif engine != "local":
        raise InputError(f"--engine {engine!r}: use local or dask")
    elif scheduler or features:
        raise InputError("--scheduler and --features go with --engine dask")
    else:
        document = assign_customers(db(), run_id, as_of=when, out=out, progress=as_lines(step))
    emit(document, as_json, lambda: typer.echo(
        f"scored {document['n_scored']:,} customers with run {run_id} "
        f"({document['customers_per_second']:,.0f} per second); "
        f"{document['n_new_customers']:,} were not in the run"
        + (f"; written to {out}" if out else "")
    ))


@command(operation=TIMELINE)
def timeline(
    start: str = typer.Option(..., "--start", help="First snapshot date (YYYY-MM-DD)."),
    end: str = typer.Option(..., "--end", help="Last possible snapshot date (YYYY-MM-DD)."),
    every: int = typer.Option(30, "--every", help="Days between snapshots."),
    window_days: WindowDays = DEFAULTS.window_days,
    seed: Seed = DEFAULTS.seed,
    fit_sample: FitSample = DEFAULTS.fit_sample_size,
    min_cluster_share: MinClusterShare = DEFAULTS.min_cluster_share,
    refit: Refit = False,
    refit_every: RefitEvery = None,
    engine_option: EngineOptions = None,
    as_json: bool = typer.Option(False, "--json", help="Print one JSON document."),
) -> None:
    """A series of snapshots, each tracked against the previous one (existing dates are skipped)."""
    from segmentation.workflows.reports import timeline_value
    from segmentation.workflows.timeline import run_timeline

    params = SnapshotParams(window_days=window_days, seed=seed, fit_sample_size=fit_sample,
                            min_cluster_share=min_cluster_share, refit=refit, refit_every=refit_every,
                            extra=parse_engine_options(engine_option))
    document = run_timeline(
        db(), parse_date(start, "--start"), parse_date(end, "--end"), every, params, progress=as_lines(step),
        progress_bar=sys.stderr.isatty(),
    )
    with store.connect(db(), read_only=True) as con:
        extra = timeline_value(con, [s["run_id"] for s in document["snapshots"]])
    document["emerging_alerts"] = extra["emerging_alerts"]
    for snap in document["snapshots"]:
        for segment in snap.get("segments", []):
            segment["value"] = extra["value"].get((snap["run_id"], segment["segment_id"]))
    document["lineage_value"] = extra["lineage_value"]

    def human() -> None:
        for snap in document["snapshots"]:
            if snap["skipped"]:
                typer.echo(f"{snap['as_of']}: run {snap['run_id']} (already there)")
                continue
            counts = snap["metrics"].get("tracking", {}).get("counts", {})
            changes = ", ".join(f"{v} {k}" for k, v in sorted(counts.items()))
            typer.echo(f"{snap['as_of']}: run {snap['run_id']}, {snap['n_segments']} segments ({changes})")
        for alert in document["emerging_alerts"]:
            path = " → ".join(f"{g['share']:.1%}" for g in alert["growth"])
            sources = ", ".join(f"{s['source']} {s['share']:.0%}" for s in alert["sources"][:3])
            typer.echo(f"emerged {alert['as_of']}: {alert['name'] or alert['suggested_name']} "
                       f"({alert['size']:,}, {alert['share']:.1%}{' → ' + path if path else ''}; "
                       f"from {sources or 'unknown'}); {', '.join(alert['top_traits'][:3])}")

    emit(document, as_json, human)

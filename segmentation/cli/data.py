"""Data commands: ``demo``, ``first-run``, ``ingest``, ``status``."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from segmentation.data import journal, recovery, store
from segmentation.cli.main import command, db, emit, recovered, step
from segmentation.workflows.firstrun import DEMO_CUSTOMERS, FIRST_RUN

# The demo data is written in one transaction: after a kill it is there whole or not at all.
DEMO = journal.declare("demo", marked=("customers", "months"), outcome=lambda con, marker: (
    "the demo data is complete or absent (it is written in one transaction)"))


def _ingest_outcome(con, marker: dict) -> str:
    """A killed import committed all of the file (it has an import row since it began) or nothing."""
    done = recovery.imports_since(con, marker)
    return (f"it had finished (import #{done[0][0]})" if done
            else "nothing of it was imported; import the file again")


INGEST = journal.declare("ingest", marked=("file", "kind"), arguments=("file",), outcome=_ingest_outcome)


@command(operation=DEMO)
def demo(
    customers: int = typer.Option(20_000, min=1, help="Number of customers to generate."),
    months: int = typer.Option(12, min=1, max=120, help="Months of history."),
    seed: int = typer.Option(7, help="Random seed (same seed, same data)."),
    replace: bool = typer.Option(False, help="Replace existing events, customers and demo truth."),
    stationary: bool = typer.Option(False, help="No emergence, fading, migration or churn."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON document."),
) -> None:
    """Write generated events, customers and ground truth (planted, evolving personas)."""
    from segmentation.demo.generate import create_demo

    with store.connect(db()) as con:
        summary = create_demo(
            con, customers=customers, months=months, seed=seed,
            replace=replace, stationary=stationary, progress=step,
        )
    emit(summary, as_json, lambda: typer.echo(
        f"demo data: {summary['customers']:,} customers, {summary['events']:,} events "
        f"over {summary['months']} months ({summary['seconds']:.1f} s) in {store.db_path(db())}"
    ))


@command(operation=INGEST)
def ingest(
    file: Path = typer.Argument(..., help="CSV (optionally .gz) or Parquet file."),
    kind: str = typer.Option("events", help="What the file holds: events or customers."),
    map_: List[str] = typer.Option([], "--map", help="canonical=source column, repeatable."),
    set_: List[str] = typer.Option([], "--set", help="canonical=value constant, repeatable."),
    ts_format: Optional[str] = typer.Option(None, help="strptime format of timestamps, e.g. %Y%m%d."),
    quarantine: bool = typer.Option(False, help="Import good rows; keep bad rows in the rejects table."),
    replace: bool = typer.Option(False, help="Re-import a file imported before (replaces its rows)."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON document."),
) -> None:
    """Validated, all-or-nothing import of events or customers."""
    from segmentation.ingest.columns import parse_assignments
    from segmentation.ingest.files import ingest_file

    mapping = parse_assignments(map_, "--map")
    constants = parse_assignments(set_, "--set")
    with store.connect(db()) as con:
        result = ingest_file(
            con, file, kind=kind, mapping=mapping, constants=constants,
            ts_format=ts_format, quarantine=quarantine, replace=replace,
        )
    document = result.to_dict()

    def human() -> None:
        typer.echo(
            f"imported {document['n_rows']:,} {kind} rows from {file} "
            f"(import #{document['ingest_id']}, {document['seconds']:.1f} s)"
        )
        if document.get("n_rejected"):
            typer.echo(f"{document['n_rejected']:,} bad rows kept in the rejects table")
        for warning in document.get("warnings", []):
            typer.echo(f"warning: {warning}", err=True)

    emit(document, as_json, human)


@command(check_models=True)  # also finds model folders of runs that were never stored
def status(as_json: bool = typer.Option(False, "--json", help="Print one JSON document.")) -> None:
    """What the database holds: customers, events, date range, imports, runs."""
    with store.connect(db(), read_only=True) as con:
        document = store.summary(con)
    document["db"] = str(store.db_path(db()))
    document["interrupted"] = recovered()  # what was cleaned up after killed commands just now
    emit(document, as_json, lambda: typer.echo(
        "\n".join(f"{key}: {value}" for key, value in document.items() if key != "interrupted")
    ))


@command(operation=FIRST_RUN)
def first_run(
    customers: int = typer.Option(DEMO_CUSTOMERS, min=100, help="Demo customers to generate when the database is empty."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON document."),
) -> None:
    """What `make run` does first: demo data and a short demo timeline when there is no snapshot yet."""
    from segmentation.workflows.firstrun import prepare

    summary = prepare(db(), progress=step, customers=customers)
    emit(summary, as_json, lambda: typer.echo(f"{summary['message']} ({summary['seconds']:.0f} s)"))

"""Commands that act on a segment: ``explain`` (rules a CDP can rebuild) and ``lookalike``."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from segmentation.cli.main import command, db, emit, step


@command
def explain(
    run_id: int = typer.Option(..., "--run", help="Run id."),
    segment_id: int = typer.Option(..., "--segment", help="Segment id."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON document."),
) -> None:
    """Rules for a segment (≤ 3 rules of ≤ 3 conditions), as text and as a SQL WHERE clause, with
    their precision and recall against the segment's actual members."""
    from segmentation.workflows.segment_actions import explain_segment

    step(f"rules for segment {segment_id} of run {run_id} …")
    document = explain_segment(db(), run_id, segment_id)

    def human() -> None:
        f = document["fidelity"]
        typer.echo(f"{document['name']} ({document['size']:,} customers): precision {f['precision']:.0%}, "
                   f"recall {f['recall']:.0%}, F1 {f['f1']:.2f}")
        for rule in document["rules"]:
            typer.echo(f"  - {rule['text']}  (precision {rule['precision']:.0%}, recall {rule['recall']:.0%})")
        typer.echo(f"SQL: WHERE {document['sql']}")

    emit(document, as_json, human)


@command
def lookalike(
    run_id: int = typer.Option(..., "--run", help="Run id."),
    segment_id: int = typer.Option(..., "--segment", help="Segment id."),
    size: Optional[int] = typer.Option(None, "--size", min=0, help="How many lookalikes (default: as many as "
                                       "the segment has members)."),
    share: Optional[float] = typer.Option(None, "--share", help="Or: this share of the customers outside the "
                                          "segment, e.g. 0.05."),
    out: Optional[Path] = typer.Option(None, "--out", help="Write customer_id, rank, similarity to this CSV."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON document."),
) -> None:
    """The customers outside a segment who most resemble it, and the measured recall at the top 20 %
    (held-out members; random = 0.20)."""
    from segmentation.workflows.segment_actions import lookalike_segment

    step(f"lookalikes of segment {segment_id} of run {run_id} …")
    document = lookalike_segment(db(), run_id, segment_id, size=size, share=share, out=out)

    def human() -> None:
        typer.echo(f"{document['customers']:,} lookalikes of {document['name']} ({document['members']:,} members)"
                   + (f", written to {document['out']}" if document["out"] else ""))
        typer.echo(f"recall at the top 20 %: {document['recall_at_20']:.2f} (random 0.20; distance to the "
                   f"segment's mean: {document['baseline_recall_at_20']:.2f})")
        for point in document["curve"]:
            typer.echo(f"  top {point['share']:>4.0%} ({point['size']:,}): recall {point['recall']:.2f}, "
                       f"mean similarity {point['mean_similarity']:.2f}")

    emit(document, as_json, human)

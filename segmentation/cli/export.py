"""Export commands: ``export`` (audience file + audit row + deltas) and ``exports`` (history)."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from segmentation.data import journal, recovery, results
from segmentation.cli.main import command, db, emit, step

# An export records the files it will write before it touches any (audiences/write.py): after a kill
# that intent is undone, or only its leftovers go when its audit row was committed.
EXPORT = journal.declare("export", marked=("run_id", "segment", "platform", "out"),
                         outcome=lambda con, marker: "nothing of it was written", undo=recovery.undo_export)


@command(operation=EXPORT)
def export(
    run_id: int = typer.Option(..., "--run", help="Run id."),
    segment: List[int] = typer.Option(..., "--segment", help="Segment id; repeat for one file of several segments."),
    platform: str = typer.Option(..., "--platform", help="google, meta, tiktok, linkedin or crm."),
    out: Path = typer.Option(..., "--out", help="File to write (CSV); deltas go next to it."),
    min_probability: float = typer.Option(0.0, "--min-probability", help="Leave out members below this membership probability."),
    allow_unknown_consent: bool = typer.Option(False, "--allow-unknown-consent", help="Include customers whose ad consent is unknown."),
    include_pii: bool = typer.Option(False, "--include-pii", help="crm: contact columns in plain text; linkedin: plain names."),
    min_size: Optional[int] = typer.Option(None, "--min-size", help="Override the platform's minimum audience size."),
    lookalike: int = typer.Option(0, "--lookalike", min=0, help="Add the segment's N closest lookalikes "
                                  "(one segment; every guard applies to them too)."),
    force: bool = typer.Option(False, "--force", help="Replace existing files."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON document."),
) -> None:
    """Audience file for an ad platform or a CRM, with an audit row (and adds/removes deltas).

    Deltas are written when the same segment lineage was exported to the platform before.
    """
    from segmentation.audiences.export import EXCLUSION_WORDS, plan_export, write_export
    from segmentation.workflows.segment_actions import ranked_lookalikes

    plan = plan_export(
        db(), run_id, segment, platform.strip().lower(), min_probability=min_probability,
        allow_unknown_consent=allow_unknown_consent, include_pii=include_pii, min_size=min_size,
        lookalike=lookalike, lookalikes=ranked_lookalikes(db(), run_id, segment, lookalike),
    )
    for warning in plan.warnings:
        step(f"warning: {warning}")
    result = write_export(db(), plan, out, overwrite=force)
    document = {**result.to_dict(), "n_candidates": plan.n_candidates, "run_id": run_id,
                "segment_ids": plan.segment_ids, "lineage_key": plan.lineage_key}

    def human() -> None:
        excluded = ", ".join(f"{EXCLUSION_WORDS.get(k, k.replace('_', ' '))} {v:,}"  # as the refusals say them
                             for k, v in result.excluded.items() if v) or "none"
        typer.echo(f"export {result.export_id}: {result.n_rows:,} rows for {plan.spec.label} in {result.path}")
        typer.echo(f"  excluded: {excluded}")
        if "lookalike" in plan.options:
            typer.echo(f"  lookalikes in the file: {plan.options['lookalike']['in_file']:,} of "
                       f"{plan.options['lookalike']['requested']:,} asked for")
        typer.echo(f"  sha256 {result.sha256}")
        if result.previous_export_id is not None and result.adds_path is None:
            typer.echo(f"  the same customers as export {result.previous_export_id}: nothing to add or remove "
                       "(no adds/removes files written)")
        elif result.previous_export_id is not None:
            typer.echo(f"  delta vs export {result.previous_export_id}: {result.n_adds:,} adds in {result.adds_path}, "
                       f"{result.n_removes:,} removes in {result.removes_path}")

    emit(document, as_json, human)


@command
def exports(as_json: bool = typer.Option(False, "--json", help="Print one JSON document.")) -> None:
    """List the audit history of exports (one row per written or downloaded file)."""
    from segmentation.audiences.export import list_exports

    frame = list_exports(db())

    def human() -> None:
        if frame.empty:
            typer.echo("no exports yet")
        for row in frame.itertuples(index=False):
            typer.echo(f"export {row.export_id:>4}  {row.created_at:%Y-%m-%d %H:%M}  run {row.run_id:>3}  "
                       f"segments {row.segment_ids}  {row.platform:<8} {row.kind:<7} {row.n_rows:>9,} rows  {row.path}")

    emit(results.records(frame), as_json, human)

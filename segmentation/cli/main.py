"""Command line (DESIGN.md §4): ``python -m segmentation [--db PATH] COMMAND …``.

Every reporting command takes ``--json`` and then prints exactly one JSON
document on stdout. Failures exit non-zero with a one-line message on stderr;
``--debug`` shows the traceback.
"""

from __future__ import annotations

import functools
import json
import logging
import sys
import traceback
from datetime import date, datetime
from pathlib import Path
from typing import Any, Callable, Optional

import typer

from segmentation.errors import WorkbenchError, redact

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="Segment Workbench: find, track, name and export customer segments.",
)

_state: dict[str, Any] = {"db": None, "debug": False, "recovered": []}
log = logging.getLogger("segmentation")


@app.callback()
def _global(
    db: Optional[Path] = typer.Option(
        None, "--db", help="Database file (default: $SEGMENTATION_DB or data/workbench.duckdb)."
    ),
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks on errors."),
) -> None:
    _state["db"] = db
    _state["debug"] = debug
    logging.basicConfig(
        level=logging.DEBUG if debug else logging.INFO,
        format="%(message)s",
        stream=sys.stderr,
    )


def _json_default(value: Any) -> Any:
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    if isinstance(value, Path):
        return str(value)
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def emit(document: Any, as_json: bool, human: Callable[[], None]) -> None:
    """Print ``document`` as one JSON document, or call ``human`` to print a readable report."""
    if as_json:
        sys.stdout.write(json.dumps(document, default=_json_default, ensure_ascii=False) + "\n")
    else:
        human()


def step(message: str) -> None:
    """Progress for long work goes to stderr so ``--json`` output stays clean."""
    typer.echo(message, err=True)


# Long writing commands leave a marker while they run (segmentation/data/journal.py), with the
# options that tell the next command what was interrupted.
_MARKED: dict[str, tuple[str, ...]] = {
    "run": ("as_of", "window_days"),
    "timeline": ("start", "end", "every", "window_days"),
    "ingest": ("file", "kind"),
    "export": ("run_id", "segment", "platform", "out"),
    "demo": ("customers", "months"),
    "first_run": (),
}


def _marker_detail(name: str, kwargs: dict[str, Any]) -> dict[str, Any]:
    detail: dict[str, Any] = {}
    for key in _MARKED[name]:
        value = kwargs.get(key)
        if isinstance(value, Path):
            value = str(value.expanduser().resolve())
        elif isinstance(value, (list, tuple)):
            value = ",".join(str(v) for v in value)
        if value is not None:
            detail[key.removesuffix("_id")] = value  # run_id is shown as --run, like the option
    return detail


def _recover(name: str) -> None:
    """Clean up after commands that were killed, and say so (stderr; never fails the command)."""
    from segmentation.data import recovery, store

    try:
        notes = recovery.recover(store.db_path(db()), check_models=name == "status")
    except Exception as exc:  # noqa: BLE001 - recovery must never stop the command itself
        log.debug("recovery failed", exc_info=True)
        typer.echo(f"note: {_recovery_failed(name, exc)}", err=True)
        notes = []
    _state["recovered"] = notes
    for note in notes:
        typer.echo(f"note: {note}", err=True)


def _recovery_failed(name: str, exc: BaseException) -> str:
    """One sentence: what start-up could not clean up, why, and that ``name`` goes on anyway."""
    from segmentation.data import journal, store

    try:
        where = (f" (markers and temporary files in {journal.journal_dir(db())}, unfinished model "
                 f"folders in {store.models_dir(db())})")
    except Exception:  # noqa: BLE001 - the sentence must not fail either
        where = ""
    why = redact(str(exc).splitlines()[0]) if str(exc) else "no message"
    return (f"could not check for or clean up what interrupted commands left behind{where}: "
            f"{type(exc).__name__}: {why}; `{name.replace('_', '-')}` goes on, the next command tries again")


def recovered() -> list[str]:
    """What this command's start-up cleaned up after interrupted commands (one sentence each)."""
    return list(_state.get("recovered") or [])


def command(func: Callable) -> Callable:
    """Register a command whose user-facing errors become a one-line message and exit code.

    Before the command runs, leftovers of killed commands are cleaned up and reported
    (:func:`segmentation.data.recovery.recover`); long writing commands are marked while they run.
    """

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from segmentation.data import journal, store

        try:
            _recover(func.__name__)
            if func.__name__ not in _MARKED:
                return func(*args, **kwargs)
            with journal.operation(store.db_path(db()), func.__name__.replace("_", "-"),
                                   **_marker_detail(func.__name__, kwargs)):
                return func(*args, **kwargs)
        except WorkbenchError as exc:
            if _state["debug"]:
                traceback.print_exc()
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(exc.exit_code)
        except KeyboardInterrupt:
            typer.echo("interrupted: nothing was half-written", err=True)
            raise typer.Exit(130)
        except typer.Exit:
            raise
        except Exception as exc:  # noqa: BLE001 - last line of defence for a clean CLI
            if _state["debug"]:
                traceback.print_exc()
            # Library messages may quote the offending value (a customer's e-mail, say): redacted.
            first_line = redact(str(exc).splitlines()[0]) if str(exc) else ""
            typer.echo(
                f"error: unexpected {type(exc).__name__}: {first_line} (run with --debug for details)",
                err=True,
            )
            raise typer.Exit(1)

    return app.command()(wrapper)


def db() -> Optional[Path]:
    return _state["db"]


def main() -> None:
    app()


# Command modules register themselves on ``app`` with @command.
from segmentation.cli import act as cli_act, data as cli_data, export as cli_export, runs as cli_runs  # noqa: E402,F401

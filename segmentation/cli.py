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

from .errors import WorkbenchError

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="Segment Workbench: find, track, name and export customer segments.",
)

_state: dict[str, Any] = {"db": None, "debug": False}
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


def command(func: Callable) -> Callable:
    """Register a command whose user-facing errors become a one-line message and exit code."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
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
            first_line = str(exc).splitlines()[0] if str(exc) else ""
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
from . import cli_data, cli_export, cli_runs  # noqa: E402,F401

"""Command line (DESIGN.md §4): ``python -m segmentation [--db PATH] COMMAND …``.

Every reporting command takes ``--json`` and then prints exactly one JSON
document on stdout. Failures exit non-zero with a one-line message on stderr;
``--debug`` shows the traceback.
"""

from __future__ import annotations

import functools
import inspect
import json
import logging
import sys
import traceback
from datetime import date, datetime
from pathlib import Path
from typing import Any, Callable, Optional

import typer

from segmentation.data.journal import Operation
from segmentation.errors import NotFoundError, WorkbenchError, redact

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
    console = logging.StreamHandler(sys.stderr)
    if not debug:  # what a `note:` line already told is not printed twice (--debug: with its traceback)
        console.addFilter(lambda record: not getattr(record, "noted", False))
    logging.basicConfig(
        level=logging.DEBUG if debug else logging.INFO,
        format="%(message)s",
        handlers=[console],
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


def _recover(name: str, check_models: bool) -> None:
    """Clean up after commands that were killed, and say so (stderr; never fails the command)."""
    from segmentation.data import recovery, store

    try:
        notes = recovery.recover(store.db_path(db()), check_models=check_models)
    except Exception as exc:  # noqa: BLE001 - recovery must never stop the command itself
        # A warning for whoever reads the logs (the traceback only with --debug); the note is for the user.
        log.warning("crash recovery failed before `%s`: %s: %s", name.replace("_", "-"), type(exc).__name__,
                    _reason(exc), exc_info=log.isEnabledFor(logging.DEBUG), extra={"noted": True})
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
    return (f"could not check for or clean up what interrupted commands left behind{where}: "
            f"{type(exc).__name__}: {_reason(exc)}; `{name.replace('_', '-')}` goes on, the next command tries again")


def _reason(exc: BaseException) -> str:
    """The first line of ``exc``'s message without personal data or quoted paths (:func:`redact`)."""
    return redact(str(exc).splitlines()[0]) if str(exc) else "no message"


def recovered() -> list[str]:
    """What this command's start-up cleaned up after interrupted commands (one sentence each)."""
    return list(_state.get("recovered") or [])


def command(func: Callable | None = None, /, *, operation: Operation | None = None,
            check_models: bool = False) -> Callable:
    """Register a command whose user-facing errors become a one-line message and exit code.

    Before the command runs, leftovers of killed commands are cleaned up and reported
    (:func:`segmentation.data.recovery.recover`; ``check_models`` also looks for model folders
    without a run). A command that does a long write names its ``operation`` (declared with
    :func:`segmentation.data.journal.declare` beside the code that does it): the command is then
    marked in the journal while it runs, with the values of the options the operation marks,
    e.g. ``@command(operation=RUN)``. Use it bare (``@command``) or with these keywords.
    """
    if func is None:
        return functools.partial(command, operation=operation, check_models=check_models)
    name = func.__name__.replace("_", "-")
    if operation is not None:
        _check_operation(func, name, operation)

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from segmentation.data import store

        try:
            path = store.db_path(db())
            if name not in CREATE_DATABASE and not path.exists():
                raise NotFoundError(missing_database(path))
            _recover(func.__name__, check_models)
            if operation is None:
                return func(*args, **kwargs)
            with operation.mark(path, **kwargs):
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


#: The commands that may start a database where there is none; any other refuses a missing file (a mistyped
#: --db read as an empty workbench, and left an empty database and its folders behind).
CREATE_DATABASE = frozenset({"demo", "ingest", "first-run"})


def missing_database(path: Path) -> str:
    """The message of a command asked to work on a database file that does not exist."""
    *others, last = (f"`{c}`" for c in sorted(CREATE_DATABASE))
    return f"no database at {path}: check --db (or $SEGMENTATION_DB); {', '.join(others)} or {last} start one"


def _check_operation(func: Callable, name: str, operation: Operation) -> None:
    """A command runs the operation of its own name and marks only options it has (at import, not at a crash)."""
    if operation.kind != name:
        raise TypeError(f"command {name!r} is declared with the operation {operation.kind!r}")
    unknown = sorted(set(operation.marked or ()) - set(inspect.signature(func).parameters))
    if unknown:
        raise TypeError(f"command {name!r} has no option {', '.join(unknown)} to mark")


def db() -> Optional[Path]:
    return _state["db"]


def main() -> None:
    app()


# Command modules register themselves on ``app`` with @command, and import the operations they run:
# all declared before any command recovers after killed ones (segmentation/data/journal.py).
from segmentation.cli import act as cli_act, data as cli_data, export as cli_export, runs as cli_runs  # noqa: E402,F401

"""Helpers shared by test files in several folders (import them from here, never from a test module)."""

from __future__ import annotations

import contextlib
import logging
import os
import subprocess
import sys
import traceback
from pathlib import Path
from typing import Iterator, Mapping, Optional

import duckdb

from segmentation.data.queries import load_query
from segmentation.demo.personas import EMERGING

ROOT = Path(__file__).resolve().parent.parent  # the repository
CRASH_ENV = "SEGMENTATION_CRASH_AT"  # segmentation.data.journal.CRASH_ENV: SIGKILLs the process that reads it


def cli(db: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    """``python -m segmentation --db DB ARGS`` run in this process (:func:`run_cli`), from the
    repository, with no inherited database. :func:`cli_process` runs it in a new process."""
    return run_cli(db, args, {"SEGMENTATION_DB": None}, check=check)


def cli_process(db: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    """``python -m segmentation --db DB ARGS`` in a new process, from the repository, with no inherited database."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("SEGMENTATION_DB", None)
    return run_cli_process(db, args, env, check=check)


def run_cli_process(db: Path, args: tuple[str, ...], env: Mapping[str, str], check: bool = True,
                    timeout: float = 600) -> subprocess.CompletedProcess:
    """The command line in a new process with exactly ``env``, working directory the repository."""
    result = subprocess.run(
        [sys.executable, "-m", "segmentation", "--db", str(db), *args],
        capture_output=True, text=True, cwd=ROOT, env=dict(env), timeout=timeout,
    )
    if check and result.returncode != 0:
        raise AssertionError(f"{args} failed ({result.returncode}): {result.stderr}")
    return result


def run_cli(db: Path, args: tuple[str, ...], env: Mapping[str, Optional[str]],
            check: bool = True) -> subprocess.CompletedProcess:
    """The command line run in this process as ``python -m segmentation --db DB ARGS`` would run it.

    A new process re-imports torch, Lightning, UMAP and HDBSCAN and reloads numba's caches (5-8 s a
    command); here the Typer app runs in the test process instead. Like the process: ``env`` changes
    ``os.environ`` (a value None removes the variable), the working directory is the repository,
    ``sys.argv`` is the command's, stdout and stderr are captured apart, the CLI's logging goes to the
    captured stderr, and an exception that escapes gives exit code 1 with its traceback on stderr.
    All of it is put back afterwards (environment, working directory, argv, logging handlers and levels).
    Commands that must be killed or killed themselves (``$SEGMENTATION_CRASH_AT``) need
    :func:`run_cli_process`: here they would kill the test process.
    """
    if (env[CRASH_ENV] if CRASH_ENV in env else os.environ.get(CRASH_ENV)):
        raise ValueError(f"${CRASH_ENV} kills the process that runs the command: use a *_process helper")
    from typer.main import get_command
    from typer.testing import CliRunner

    from segmentation.cli.main import app

    argv = ["--db", str(db), *args]
    command = get_command(app)
    returncode = 0
    with _process_state(argv, env):
        # Click's own isolation: sys.stdin (empty), sys.stdout and sys.stderr (separate), no colours.
        with CliRunner().isolation() as (out, err, _), _cli_logging((sys.stdout, sys.stderr)):
            try:
                command.main(args=argv, prog_name="python -m segmentation")
            except SystemExit as exc:  # standalone mode always ends with one (0 included)
                returncode = _exit_code(exc)
            except Exception:  # noqa: BLE001 - what escapes a process: its traceback on stderr, exit 1
                traceback.print_exc(file=sys.stderr)
                returncode = 1
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
            stdout, stderr = out.getvalue(), err.getvalue()
    result = subprocess.CompletedProcess([sys.executable, "-m", "segmentation", *argv], returncode,
                                         stdout.decode("utf-8", errors="replace"),
                                         stderr.decode("utf-8", errors="replace"))
    if check and result.returncode != 0:
        raise AssertionError(f"{args} failed ({result.returncode}): {result.stderr}")
    return result


def _exit_code(exc: SystemExit) -> int:
    """The exit status a process would have after ``exc`` (a non-integer code is printed, status 1)."""
    if exc.code is None:
        return 0
    if isinstance(exc.code, int):
        return exc.code
    print(exc.code, file=sys.stderr)
    return 1


@contextlib.contextmanager
def _process_state(argv: list[str], env: Mapping[str, Optional[str]]) -> Iterator[None]:
    """``os.environ`` changed by ``env`` (with the repository on PYTHONPATH, as for a new process), the
    repository as working directory and the command's ``sys.argv``; all put back on exit."""
    saved_env, saved_cwd, saved_argv = dict(os.environ), os.getcwd(), sys.argv
    try:
        os.environ["PYTHONPATH"] = str(ROOT)  # for any process the command starts
        for name, value in env.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        os.chdir(ROOT)
        sys.argv = [str(ROOT / "segmentation" / "__main__.py"), *argv]
        yield
    finally:
        sys.argv = saved_argv
        os.chdir(saved_cwd)
        if dict(os.environ) != saved_env:
            os.environ.clear()
            os.environ.update(saved_env)


@contextlib.contextmanager
def _cli_logging(streams: tuple) -> Iterator[None]:
    """Logging as a new process has it: the root logger without handlers, so the CLI's
    ``logging.basicConfig`` installs its console handler (on the captured stderr). On exit every
    logger gets back its handlers, level and flags; handlers added meanwhile are closed, and
    handlers that loggers created meanwhile hold on the captured streams are dropped."""
    manager = logging.Logger.manager
    loggers = [logging.getLogger()] + [lg for lg in list(manager.loggerDict.values()) if isinstance(lg, logging.Logger)]
    saved = {id(lg): (lg, list(lg.handlers), lg.level, lg.propagate, lg.disabled) for lg in loggers}
    saved_disable = manager.disable
    root = logging.getLogger()
    for handler in list(root.handlers):  # pytest's capture handlers come back afterwards
        root.removeHandler(handler)
    try:
        yield
    finally:
        logging.disable(saved_disable)
        added = []
        for lg in [logging.getLogger()] + [lg for lg in list(manager.loggerDict.values())
                                           if isinstance(lg, logging.Logger)]:
            if id(lg) in saved:
                _, handlers, level, propagate, disabled = saved[id(lg)]
                added += [h for h in lg.handlers if h not in handlers]
                lg.handlers[:] = handlers
                lg.setLevel(level)
                lg.propagate, lg.disabled = propagate, disabled
            else:
                stale = [h for h in lg.handlers if getattr(h, "stream", None) in streams]
                for handler in stale:
                    lg.removeHandler(handler)
                added += stale
        for handler in added:
            handler.close()


def planted_counts(db, run_id: int, as_of: str) -> dict[int, tuple[int, int]]:
    """Segment → (customers, of whom the demo's ground truth at ``as_of`` has the emerging persona)."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        truth = con.execute(load_query("demo_truth_select_at"), {"as_of": as_of[:10]}).df()
        members = con.execute("SELECT customer_id, segment_id FROM assignments WHERE run_id = ?", [run_id]).df()
    finally:
        con.close()
    joined = members.merge(truth, on="customer_id", how="left")
    joined["planted"] = joined["persona"] == EMERGING
    return {int(k): (len(g), int(g["planted"].sum())) for k, g in joined.groupby("segment_id")}

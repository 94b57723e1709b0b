"""Helpers for the tests/guarantees/test_guarantee_*.py files: the command line (in this process or in
a new one), a small stored run built once per session, and the invariants a database must keep after any crash."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from segmentation.audiences.write import DOWNLOADED_AS
from tests.helpers import ROOT, run_cli, run_cli_process

PYTHON = sys.executable
SMALL_AS_OF = "2025-02-14"  # first stored run of the small database
NEXT_AS_OF = "2025-02-28"  # a later snapshot that reuses its models (fast)
RUN_OPTIONS = ("--window-days", "30", "--min-cluster-share", "0.05")
_NOT_INHERITED = ("SEGMENTATION_DB", "SEGMENTATION_CRASH_AT", "SEGMENTATION_BUSY_WAIT")  # by a command


def env(**extra: str) -> dict[str, str]:
    """The environment of a child process: the repo on the path, no inherited database or crash point."""
    out = {**os.environ, "PYTHONPATH": str(ROOT)}
    for name in _NOT_INHERITED:
        out.pop(name, None)
    out.update(extra)
    return out


def cli(db: Path, *args: str, check: bool = True, **extra_env: str) -> subprocess.CompletedProcess:
    """``python -m segmentation --db DB ARGS`` run in this process (tests.helpers.run_cli), with
    :func:`env`'s changes to the environment; a crash point needs :func:`cli_process`."""
    changes: dict[str, str | None] = {name: None for name in _NOT_INHERITED}
    changes.update(extra_env)
    return run_cli(db, args, changes, check=check)


def cli_process(db: Path, *args: str, check: bool = True, timeout: float = 600, **extra_env: str
                ) -> subprocess.CompletedProcess:
    """``python -m segmentation --db DB ARGS`` in a new process (one that may be killed)."""
    return run_cli_process(db, args, env(**extra_env), check=check, timeout=timeout)


def python(code: str, *args: str, check: bool = True, **extra_env: str) -> subprocess.CompletedProcess:
    """Run a Python snippet in a new process (``sys.argv[1:]`` = ``args``)."""
    result = subprocess.run([PYTHON, "-c", code, *args], capture_output=True, text=True, cwd=ROOT,
                            env=env(**extra_env), timeout=600)
    if check and result.returncode != 0:
        raise AssertionError(f"snippet failed ({result.returncode}): {result.stderr}")
    return result


def one_line_error(result: subprocess.CompletedProcess) -> str:
    """The failure message of a command, checked to be one ``error:`` line and no traceback."""
    assert "Traceback" not in result.stderr and "Traceback" not in result.stdout, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, result.stderr
    return errors[0]


@dataclass
class SmallRun:
    """A demo database (400 customers, 2 months) with one stored run, and everything its
    commands printed (for the privacy scan)."""

    db: Path
    outputs: list[str] = field(default_factory=list)

    def copy_to(self, folder: Path) -> Path:
        """A private copy (database and models) in ``folder``; returns the new database path."""
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / self.db.name
        shutil.copyfile(self.db, target)
        models = self.db.with_name(self.db.stem + ".models")
        if models.exists():
            shutil.copytree(models, folder / models.name)
        return target


_small_run: SmallRun | None = None
_small_run_lock = threading.Lock()


def small_run(tmp_path_factory) -> SmallRun:
    """Build :class:`SmallRun` once per test process (through the command line)."""
    global _small_run
    with _small_run_lock:
        if _small_run is None:
            db = tmp_path_factory.mktemp("guarantee_small") / "small.duckdb"
            made = SmallRun(db)
            for args in (("demo", "--customers", "400", "--months", "2", "--json"),
                         ("run", "--as-of", SMALL_AS_OF, *RUN_OPTIONS, "--json")):
                result = cli(db, *args)
                made.outputs += [result.stdout, result.stderr]
            _small_run = made
    return _small_run


# ----------------------------------------------------------------------------- invariants
def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def assert_consistent(db: Path, export_folders: tuple[Path, ...] = ()) -> dict:
    """The guarantees after any crash (and the next command's clean-up), checked from the outside.

    * the database opens;
    * every run is complete, with its segments, one assignment per customer and its model folder;
    * no model folder without a run, no unfinished staging folder, no journal marker left;
    * every import's row count matches the events it brought;
    * every export file named in the audit exists with the audited SHA-256, and the export
      folders hold no file without an audit row and no temporary or backup file.

    Returns counts (runs, ingests, exports) for further assertions.
    """
    models = db.with_name(db.stem + ".models")
    journal = db.with_name(db.stem + ".journal")
    con = duckdb.connect(str(db), read_only=True)
    try:
        runs = con.execute("SELECT run_id, status, n_customers, model_path FROM runs ORDER BY run_id").fetchall()
        for run_id, status, n_customers, model_path in runs:
            assert status == "complete", (run_id, status)
            n_assigned = con.execute("SELECT count(*) FROM assignments WHERE run_id = ?", [run_id]).fetchall()[0][0]
            n_segments = con.execute("SELECT count(*) FROM segments WHERE run_id = ?", [run_id]).fetchall()[0][0]
            assert n_assigned == n_customers and n_segments >= 1, (run_id, n_assigned, n_customers)
            assert model_path and Path(model_path).is_dir(), (run_id, model_path)
        run_dirs = sorted(p.name for p in models.iterdir()) if models.exists() else []
        assert run_dirs == [f"run_{r[0]}" for r in runs], run_dirs
        ingests = con.execute(
            "SELECT i.ingest_id, i.n_rows, (SELECT count(*) FROM events e WHERE e.ingest_id = i.ingest_id) "
            "FROM ingests i WHERE i.kind = 'events' AND i.options->>'replaced_by' IS NULL").fetchall()
        for ingest_id, n_rows, n_events in ingests:
            assert n_rows == n_events, (ingest_id, n_rows, n_events)
        exports = con.execute("SELECT export_id, path, sha256 FROM exports ORDER BY export_id").fetchall()
    finally:
        con.close()
    latest: dict[str, str] = {}
    for _, path, digest in exports:
        if not path.startswith(DOWNLOADED_AS):  # a download keeps no file on the server to check
            latest[path] = digest  # a file replaced with --force keeps its latest audited content
    for path, digest in latest.items():
        assert Path(path).is_file() and sha256_of(Path(path)) == digest, path
    for folder in export_folders:
        for entry in folder.iterdir():
            assert not entry.name.startswith("."), f"leftover temporary/backup file {entry.name}"
            assert str(entry) in latest, f"{entry.name} has no audit row"
    leftovers = sorted(p.name for p in journal.iterdir()) if journal.exists() else []
    assert leftovers == [], leftovers
    return {"runs": [r[0] for r in runs], "ingests": [i[0] for i in ingests], "exports": [e[0] for e in exports]}


def status(db: Path) -> tuple[dict, str]:
    """``status --json`` (the next command after a crash): its document and its stderr notes."""
    result = cli(db, "status", "--json")
    return json.loads(result.stdout), result.stderr

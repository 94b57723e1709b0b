"""The crash journal, reading side: cleaning up after commands whose process was killed.

:func:`recover` (called by every command line command before it starts) reads the
markers and intents :mod:`segmentation.data.journal` wrote, finds those whose process
is gone, staging folders of dead processes and ``run_<id>`` folders without a ``runs``
row, and cleans them up: temporary files removed, an uncommitted export's replaced
files put back, what the database committed kept. What to say about, and how to undo, each
operation is its :class:`~segmentation.data.journal.Operation`'s declaration (the helpers
below, :func:`runs_since`, :func:`snapshots_kept`, :func:`undo_export`…, are what those
declarations use). It returns one plain sentence per interrupted operation, e.g. ``an interrupted `run --as-of 2025-02-28` (process 4242,
started 12:31:05) was cleaned up: nothing of it was stored; removed 1 unfinished model
folder``. It never touches the work of a live process.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import re
import shutil
from collections import defaultdict
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
import psutil

from segmentation.data import store
from segmentation.data.journal import declared, journal_dir, remove_path
from segmentation.data.queries import load_query
from segmentation.errors import StoreBusyError, WorkbenchError, redact

__all__ = ["recover", "runs_since", "imports_since", "snapshots_kept", "undo_export", "remove_temporary_files",
           "count"]

log = logging.getLogger(__name__)

# The names journal.staging_dir gives (``.tmp-<pid>-<hex>``; old ones lack the pid) and run folders.
_STAGING = re.compile(r"^\.tmp-(?:(\d+)-)?[0-9a-f]+$")
_RUN_DIR = re.compile(r"^run_(\d+)$")


def _alive(pid: int, create_time: float | None = None) -> bool:
    """Is process ``pid`` (started at ``create_time``, when known) still running?"""
    try:
        process = psutil.Process(pid)
        if process.status() == psutil.STATUS_ZOMBIE:
            return False
        return create_time is None or abs(process.create_time() - float(create_time)) < 1.0
    except psutil.NoSuchProcess:
        return False
    except psutil.AccessDenied:  # someone else's process: assume it is the owner
        return True


def _read_json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _sha256(path: Path) -> str | None:
    try:
        digest = hashlib.sha256()
        with open(path, "rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
        return digest.hexdigest()
    except OSError:
        return None


def count(n: int, noun: str) -> str:
    """``1 unfinished file``, ``2 unfinished files``."""
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _started(document: dict) -> datetime:
    return datetime.fromisoformat(str(document["started_at"]))


def _rows(con, query: str, **params: Any) -> list[tuple]:
    return con.execute(load_query(query), params).fetchall()


def _describe(document: dict) -> str:
    """``run --as-of 2025-02-28`` (process 4242, started 2025-03-01 12:31:05)."""
    detail = document.get("detail") or {}
    arguments = declared(document.get("kind")).arguments
    args = " ".join(str(v) if k in arguments else f"--{k.replace('_', '-')} {v}" for k, v in detail.items())
    started = str(document.get("started_at", ""))[:19].replace("T", " ")
    what = f"{document.get('kind', '?')}{' ' + args if args else ''}"
    return f"`{what}` (process {document.get('pid')}, started {started})"


# ----------------------------------------------------------------------------- for the declarations
def runs_since(con, marker: dict) -> list[tuple]:
    """(run_id, as_of) of the complete runs stored since ``marker``'s process began."""
    return _rows(con, "runs_select_since", created_at=_started(marker))


def imports_since(con, marker: dict) -> list[tuple]:
    """(ingest_id,) of the imports of the marker's ``file`` recorded since its process began."""
    file = str((marker.get("detail") or {}).get("file", ""))
    return _rows(con, "ingests_select_since", created_at=_started(marker), file=file)


def snapshots_kept(con, marker: dict, again: str) -> str:
    """What an interrupted series of snapshots left: the complete ones are kept, ``again`` does the rest."""
    done = runs_since(con, marker)
    if not done:
        return f"no snapshot of it was stored; {again}"
    ids = ", ".join(str(r[0]) for r in done)
    return (f"the {count(len(done), 'snapshot')} it completed (run {ids}) "
            f"{'is' if len(done) == 1 else 'are'} kept; {again} for the rest")


def remove_temporary_files(intent: dict) -> int:
    """Remove the temporary files an intent names (those still there); how many were removed."""
    return sum(remove_path(Path(entry["temp"])) for entry in intent.get("files") or [] if entry.get("temp"))


def undo_export(con, intent: dict) -> str | None:
    """Undo (or finish cleaning up after) an export's intent; what was done, as a clause.

    Its files are undone (temporary ones removed, replaced ones put back) unless its audit row was
    committed, in which case only the leftovers go. None when the database cannot tell whether it
    was committed (left for later).
    """
    outcome = _undo_files(con, intent)
    if outcome is None:
        return None
    committed, removed, restored = outcome
    if committed:
        return "its export had been committed (file and audit row kept); removed what was left over"
    put_back = f", put back {count(restored, 'replaced file')}" if restored else ""
    return f"no file or audit row of it was kept (removed {count(removed, 'unfinished file')}{put_back})"


def _undo_files(con, intent: dict) -> tuple[bool, int, int] | None:
    """Undo (or finish cleaning up) one export intent: (committed, files removed, files restored).

    None when the database cannot tell whether it was committed (left for later).
    """
    files = intent.get("files") or []
    full = next((f for f in files if f.get("role") == "full"), files[0] if files else None)
    committed = False
    if full is not None and con is not None:
        try:
            committed = bool(_rows(con, "exports_count_committed", path=full["final"],
                                   sha256=full["sha256"], created_at=_started(intent))[0][0])
        except duckdb.Error:
            return None
    removed, restored = remove_temporary_files(intent), 0
    for entry in files:
        final = Path(entry["final"])
        backup = Path(entry["backup"]) if entry.get("backup") else None
        if committed:
            if backup is not None:
                backup.unlink(missing_ok=True)  # the replaced file; the new one is in place
            continue
        if final.exists() and _sha256(final) == entry.get("sha256"):
            final.unlink(missing_ok=True)  # moved into place, but its audit row never committed
            removed += 1
        if backup is not None and backup.exists() and not final.exists():
            os.replace(backup, final)  # the file it replaced goes back
            restored += 1
    return committed, removed, restored


def _what_was_stored(con, marker: dict) -> str:
    """What an interrupted operation had committed before it died (a clause), as its declaration says."""
    if con is None:
        return "nothing of it was stored"
    outcome = declared(marker.get("kind")).outcome
    return outcome(con, marker) if outcome is not None else "the database keeps only what it had committed"


def _stale_staging(models: Path) -> dict[int | None, list[Path]]:
    """Staging folders of dead processes, by process id (None: an old-style name, a day old)."""
    found: dict[int | None, list[Path]] = defaultdict(list)
    if not models.is_dir():
        return found
    for entry in models.iterdir():
        match = _STAGING.match(entry.name)
        if not match or not entry.is_dir():
            continue
        pid = int(match.group(1)) if match.group(1) else None
        if pid is None:
            if datetime.now().timestamp() - entry.stat().st_mtime > 86_400:
                found[None].append(entry)
        elif not _alive(pid):
            found[pid].append(entry)
    return found


def _orphan_run_dirs(con, models: Path) -> list[Path]:
    """``run_<id>`` folders without a ``runs`` row: renamed into place by a run killed before its commit.

    Safe only while ``con`` (read-only) is open: no process can then be between
    that rename and its commit, because such a process holds the write lock.
    """
    if con is None or not models.is_dir():
        return []
    dirs = {int(m.group(1)): p for p in models.iterdir() if (m := _RUN_DIR.match(p.name)) and p.is_dir()}
    if not dirs:
        return []
    known = {int(r[0]) for r in _rows(con, "runs_select_ids")}
    return [path for run_id, path in sorted(dirs.items()) if run_id not in known]


def _dead_documents(journal: Path) -> tuple[dict[Path, dict], dict[Path, dict]]:
    """Markers and intents whose process is gone; half-written ones of dead processes are removed."""
    markers: dict[Path, dict] = {}
    intents: dict[Path, dict] = {}
    if not journal.is_dir():
        return markers, intents
    for path in journal.iterdir():
        if path.name.endswith(".part"):
            owner = path.name.rsplit(".", 2)[-2]
            if not owner.isdigit() or not _alive(int(owner)):
                path.unlink(missing_ok=True)
            continue
        if path.suffix != ".json":
            continue
        document = _read_json(path)
        if document is None or "pid" not in document or "started_at" not in document:
            continue
        if _alive(int(document["pid"]), document.get("create_time")):
            continue
        (intents if path.name.startswith("intent-") else markers)[path] = document
    return markers, intents


@contextlib.contextmanager
def _read_connection(db: Path):
    if not db.exists():
        yield None
        return
    with store.connect(db, read_only=True, wait_seconds=0) as con:
        yield con


def recover(db: Any = None, *, check_models: bool = False) -> list[str]:
    """Clean up after operations on ``db`` whose process was killed; one sentence per operation.

    Only leftovers of dead processes are touched. When another process holds the
    database for writing, the work is left for a later call and nothing is reported.
    ``check_models`` also looks for ``run_<id>`` folders without a run (done anyway
    when something else was found).
    """
    db = store.db_path(db)
    models = store.models_dir(db)
    markers, intents = _dead_documents(journal_dir(db))
    staging = _stale_staging(models)
    if not (markers or intents or staging or check_models):
        return []
    try:
        with _read_connection(db) as con:
            return _clean(con, models, markers, intents, staging)
    except StoreBusyError:
        return []  # someone is writing: the next command tries again
    except (WorkbenchError, duckdb.Error) as exc:  # the command reports what is wrong with the database
        reason = redact(str(exc).splitlines()[0]) if str(exc) else "no message"
        log.warning("crash recovery skipped: %s: %s; the next command tries again", type(exc).__name__, reason)
        return []


def _clean(con, models: Path, markers: dict[Path, dict], intents: dict[Path, dict],
           staging: dict[int | None, list[Path]]) -> list[str]:
    found: dict[int | None, dict[str, Any]] = defaultdict(lambda: {"marker": None, "intent": None,
                                                                     "clauses": []})
    for marker in markers.values():
        found[int(marker["pid"])]["marker"] = marker
    for path, intent in intents.items():
        undo = declared(intent.get("kind")).undo
        if undo is None:  # an intent of an operation this process does not know: left for one that does
            continue
        clause = undo(con, intent)
        if clause is None:
            continue
        entry = found[int(intent["pid"])]
        entry["intent"] = intent
        entry["clauses"].append(clause)
        path.unlink(missing_ok=True)
    for pid, folders in staging.items():
        for folder in folders:
            shutil.rmtree(folder, ignore_errors=True)
        found[pid]["clauses"].append(f"removed {count(len(folders), 'unfinished model folder')}")
    orphans = _orphan_run_dirs(con, models)
    for folder in orphans:
        shutil.rmtree(folder, ignore_errors=True)

    runs = [entry for entry in found.values()
            if entry["marker"] is not None and declared(entry["marker"].get("kind")).stores_models]
    if orphans and runs:  # the dead run had moved its models into place but not committed
        names = ", ".join(p.name for p in orphans)
        runs[0]["clauses"].append(f"removed the model folder it had moved into place ({names})")
        orphans = []
    notes = []
    for pid, entry in found.items():
        marker, intent, clauses = entry["marker"], entry["intent"], entry["clauses"]
        if marker is not None:
            what = _describe(marker)
            if intent is None or intent.get("kind") != marker.get("kind"):  # else its intent tells it all
                clauses = [_what_was_stored(con, marker)] + clauses
        elif intent is not None:
            what = _describe(intent)
        else:
            what = f"snapshot (process {pid})" if pid is not None else "snapshot"
        notes.append(f"an interrupted {what} was cleaned up: {'; '.join(clauses)}")
    if orphans:
        names = ", ".join(p.name for p in orphans)
        notes.append(f"removed {count(len(orphans), 'model folder')} of runs that were never stored ({names})")
    for path in markers:
        path.unlink(missing_ok=True)
    return notes

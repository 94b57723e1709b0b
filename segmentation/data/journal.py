"""The crash journal, writing side: markers, staging names, intents and crash points.

The database itself needs no help: DuckDB commits a transaction completely or
not at all, also when the process is killed (SIGKILL, power loss). What lies
*outside* the database does: model folders of a run, audience files of an
export. This module holds what a working process writes so that the next one
can keep those consistent with the database (the reading and cleaning up is
:mod:`segmentation.data.recovery`):

* **Operations.** Each long writing operation (``run``, ``timeline``, ``ingest``, ``export``,
  ``demo``, ``first-run``, ``assign``) is an :class:`Operation` declared with :func:`declare`
  beside the code that does it (its workflow or its command): which values its marker keeps, what
  the database kept of it after a kill, how to undo its intents. This module and
  :mod:`segmentation.data.recovery` know no operation by name; they ask the declaration.
* **Markers.** A marked operation drops a small JSON file in ``<db>.journal/`` while it works
  (:meth:`Operation.mark`) and removes it when it ends, normally or by an error.
  A marker whose process is gone means that process was killed.
* **Staging folders.** A run writes its models to ``<db>.models/.tmp-<pid>-<hex>``
  (:func:`staging_dir`) and renames the folder to ``run_<id>`` inside the
  transaction that stores the run. A staging folder of a dead process, or a
  ``run_<id>`` folder without a ``runs`` row, is a leftover.
* **Score files.** ``assign --out`` writes its file under a temporary name
  (:func:`temporary_output`), records it in an intent of kind ``assign`` and renames
  it into place; a temporary file of a dead process is removed.
* **Export intents.** Before an export touches the file system it writes the
  list of files it will create, replace and back up (:func:`write_intent`);
  after its commit it removes the list. An intent of a dead process is undone
  (temporary files removed, replaced files put back) unless its audit row was
  committed, in which case only the leftovers go.

:func:`crash_point` lets tests kill a process at a named moment
(``SEGMENTATION_CRASH_AT=save_run:before-commit`` or ``…#2`` for the second time).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import signal
import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, Optional

import psutil

from segmentation.data import store

__all__ = [
    "CRASH_ENV",
    "journal_dir",
    "Operation",
    "declare",
    "declared",
    "staging_dir",
    "write_intent",
    "remove_intent",
    "temporary_output",
    "remove_path",
    "crash_point",
]

CRASH_ENV = "SEGMENTATION_CRASH_AT"
log = logging.getLogger(__name__)

_crash_hits: dict[str, int] = defaultdict(int)


# ----------------------------------------------------------------------------- places
def journal_dir(db: Any = None) -> Path:
    """Folder of the markers and intents of ``db`` (next to the database file)."""
    path = store.db_path(db)
    return path.parent / f"{path.stem}.journal"


def _identity() -> dict[str, Any]:
    return {"pid": os.getpid(), "create_time": psutil.Process().create_time()}


def _write_json(path: Path, document: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.part")
    tmp.write_text(json.dumps(document, default=str), encoding="utf-8")
    os.replace(tmp, path)


# ----------------------------------------------------------------------------- operations
# (read-only connection, or None when there is no database yet; the dead process's marker) → a clause
# saying what the database kept of it, e.g. "it had finished (run 3)".
Outcome = Callable[[Any, dict], str]
# (read-only connection or None; the dead process's intent) → a clause saying what was cleaned up,
# e.g. "no file or audit row of it was kept (removed 2 unfinished files)"; None: the database cannot
# tell yet, the intent is left for a later command.
Undo = Callable[[Any, dict], Optional[str]]


@dataclass(frozen=True)
class Operation:
    """A long writing operation as the crash journal knows it; declare it with :func:`declare`.

    ``kind`` names its markers and intents (``<kind>-<pid>-<hex>.json``) and is the name of the
    command that runs it. ``marked``: the values (a command's option names) its marker keeps to say
    what was interrupted, e.g. ``("as_of", "window_days")``; None: it leaves no marker, only intents.
    ``arguments``: those of them that are command-line arguments (shown bare, not as ``--option``).
    After a kill, ``outcome`` says what the database kept of it (None: only what it had committed)
    and ``undo`` cleans up after one of its intents; ``stores_models``: it moves model folders into
    place, so a ``run_<id>`` folder without a run is its leftover.
    """

    kind: str
    marked: Optional[tuple[str, ...]] = ()
    arguments: tuple[str, ...] = ()
    outcome: Optional[Outcome] = None
    undo: Optional[Undo] = None
    stores_models: bool = False

    def detail(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """The marked ones of ``values`` as plain JSON values (a path resolved, a list joined by commas,
        a date as text, None left out); ``run_id`` is kept as ``run``, the option's name on the command line."""
        detail: dict[str, Any] = {}
        for key in self.marked or ():
            value = values.get(key)
            if isinstance(value, Path):
                value = str(value.expanduser().resolve())
            elif isinstance(value, (list, tuple)):
                value = ",".join(str(v) for v in value)
            elif isinstance(value, date):  # a date (or datetime) as str() writes it: 2025-02-28
                value = str(value)
            if value is not None:
                detail[key.removesuffix("_id")] = value
        return detail

    @contextlib.contextmanager
    def mark(self, db: Any, /, **values: Any) -> Iterator[Path | None]:
        """Keep a marker of this operation in ``db``'s journal while the block runs.

        ``values`` (a command's options, say) may hold more than :attr:`marked`: only the marked
        ones are written (plain values, never PII). When the journal folder cannot be written the
        work goes on without a marker (it is only needed to *report* an interruption); an
        operation that is not marked gets none.
        """
        if self.marked is None:
            yield None
            return
        path = journal_dir(db) / f"{self.kind}-{os.getpid()}-{uuid.uuid4().hex[:12]}.json"
        document = {"kind": self.kind, **_identity(), "started_at": datetime.now().isoformat(),
                    "detail": self.detail(values)}
        try:
            _write_json(path, document)
        except OSError as exc:
            log.debug("no journal marker for %s: %s", self.kind, exc)
            path = None
        try:
            yield path
        finally:
            if path is not None:
                path.unlink(missing_ok=True)


_declared: dict[str, Operation] = {}


def declare(kind: str, /, **declaration: Any) -> Operation:
    """Declare the operation ``kind`` (fields of :class:`Operation`) so that the recovery of its
    markers and intents asks it; returns the :class:`Operation`.

    Declarations live beside the code that does the operation, in any layer above this one; the
    command line imports all of them before it recovers (a marker of an undeclared kind is still
    cleaned up, with a plain sentence).
    """
    operation = Operation(kind, **declaration)
    _declared[kind] = operation
    return operation


def declared(kind: str | None) -> Operation:
    """The declared operation ``kind``; an undeclared (or unknown) kind gets a plain one."""
    return _declared.get(str(kind)) or Operation(str(kind))


def staging_dir(parent: Path) -> Path:
    """A fresh name for a folder being prepared in ``parent`` (``.tmp-<pid>-<hex>``).

    The process id in the name lets :func:`~segmentation.data.recovery.recover` tell
    leftovers of killed processes from folders another process is still writing.
    """
    return Path(parent) / f".tmp-{os.getpid()}-{uuid.uuid4().hex}"


# ----------------------------------------------------------------------------- intents
def write_intent(db: Any, kind: str, files: list[dict[str, Any]], /, **detail: Any) -> Path | None:
    """Record the files an operation is about to create (before it touches any).

    ``files``: dicts with ``final`` (where the file goes), ``temp`` (where it is
    written first), ``backup`` (where a replaced file is kept until the commit) and
    ``sha256`` (of the new content). ``db`` None means an in-memory database: no journal.
    Returns the intent's path (None when there is no journal or it cannot be written).
    """
    if db is None:
        return None
    path = journal_dir(db) / f"intent-{kind}-{os.getpid()}-{uuid.uuid4().hex[:12]}.json"
    document = {"kind": kind, **_identity(), "started_at": datetime.now().isoformat(),
                "files": [{k: (str(v) if v is not None else None) for k, v in f.items()} for f in files],
                "detail": detail}
    try:
        _write_json(path, document)
    except OSError as exc:
        log.debug("no journal intent for %s: %s", kind, exc)
        return None
    return path


def remove_intent(path: Path | None) -> None:
    """The operation is over (committed or undone): forget its intent."""
    if path is not None:
        path.unlink(missing_ok=True)


@contextlib.contextmanager
def temporary_output(db: Any, final: Path, kind: str, /, **detail: Any) -> Iterator[Path]:
    """A temporary name next to ``final`` (``.<name>.tmp-<pid>-<hex>``), recorded in an intent of ``kind``.

    The caller writes a file or a folder there and renames it to ``final``; whatever is still
    at the temporary name on exit is removed, and so is the intent. If the process is killed
    in between, the next command removes it (:func:`~segmentation.data.recovery.recover`).
    """
    temp = final.with_name(f".{final.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:12]}")
    intent = write_intent(db, kind, [{"final": final, "temp": temp}], **detail)
    try:
        yield temp
    finally:
        remove_path(temp)
        remove_intent(intent)


def remove_path(path: Path) -> bool:
    """Remove a file or a folder (a Dask assign's work folder, a score file); was there one?

    Used on exit of :func:`temporary_output` and by :mod:`segmentation.data.recovery` for the
    temporary files a dead process's intent names.
    """
    if path.is_dir():
        shutil.rmtree(path, ignore_errors=True)
        return True
    if path.exists():
        path.unlink(missing_ok=True)
        return True
    return False


# ----------------------------------------------------------------------------- crash points
def crash_point(name: str) -> None:
    """Kill this process with SIGKILL here when ``$SEGMENTATION_CRASH_AT`` names this point.

    ``name#k`` kills at the k-th time the point is reached. For crash-safety tests only;
    without the variable this does nothing.
    """
    wanted = os.environ.get(CRASH_ENV)
    if not wanted or not wanted.startswith(name):
        return
    point, _, count = wanted.partition("#")
    if point != name:
        return
    _crash_hits[name] += 1
    if _crash_hits[name] >= int(count or 1):
        os.kill(os.getpid(), getattr(signal, "SIGKILL", signal.SIGTERM))

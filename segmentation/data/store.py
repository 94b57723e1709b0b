"""DuckDB connection rules and schema migration.

Rules (DESIGN.md §2, STYLE.md "DuckDB and SQL"):

* Every caller owns a *short-lived* connection (``with connect() as con:``),
  so the app and the command line can take turns on one database file.
* DuckDB lets one process write a file at a time. When another process holds
  the lock we retry for ``wait_seconds`` (``$SEGMENTATION_BUSY_WAIT``, default 10)
  and then raise :class:`StoreBusyError` with a message that names the file and,
  when it can be told, the process.
* Our processes also hold a lock of their own on ``.<db name>.lock`` beside the file
  (``flock``: shared for readers, exclusive for a writer) from before DuckDB opens the
  file until after it has closed it. DuckDB 2.0.1 reads the file's headers *before* it
  takes its own lock, so without this a process that opens the file while another
  one commits starts from the headers before that commit, and its own checkpoint
  then drops the other's write (an edit lost, or "Could not read enough bytes").
* A writer that finds the file locked (either lock) leaves a *writer-waiting* marker
  next to it (``.<db name>.writer-waiting-<pid>-<thread>``, holding the time it gives up);
  readers of other processes hold back while one is there, so back-to-back reads (the
  app) cannot keep a command-line writer out.
  Inside one process (the app's sessions) DuckDB refuses a read-write connection
  while a read-only one is open and vice versa: that is waited for the same way.
* The schema is created and migrated idempotently; ``schema_version`` records
  which migrations ran.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import threading
import time
from pathlib import Path
from typing import Any, Iterator

import duckdb
import psutil

if sys.platform != "win32":
    import fcntl
else:  # pragma: no cover - Windows has no flock; DuckDB's own lock is all there is
    fcntl = None

from segmentation.errors import StoreBusyError, WorkbenchError
from segmentation.data.queries import load_query

__all__ = [
    "DEFAULT_DB",
    "SCHEMA_VERSION",
    "db_path",
    "connect",
    "ensure_schema",
    "models_dir",
    "table_count",
    "summary",
    "fetch_row",
    "busy_wait_seconds",
]

DEFAULT_DB = Path("data") / "workbench.duckdb"
DB_ENV = "SEGMENTATION_DB"

# (version, script in queries/) in the order they must run.
MIGRATIONS: list[tuple[int, str]] = [(1, "schema_migrate_v1"), (2, "schema_migrate_v2_exports")]
SCHEMA_VERSION = MIGRATIONS[-1][0]

_LOCK_PATTERN = re.compile(r"lock", re.IGNORECASE)
_SAME_PROCESS_PATTERN = re.compile(r"different configuration", re.IGNORECASE)
BUSY_WAIT_ENV = "SEGMENTATION_BUSY_WAIT"
DEFAULT_BUSY_WAIT = 10.0
_PID_PATTERN = re.compile(r"PID (\d+)")


def db_path(path: str | os.PathLike | None = None) -> Path:
    """The database file to use: ``path``, else ``$SEGMENTATION_DB``, else the default."""
    if path:
        return Path(path)
    env = os.environ.get(DB_ENV)
    return Path(env) if env else DEFAULT_DB


def models_dir(path: str | os.PathLike | None = None) -> Path:
    """Folder holding the fitted models of each run, next to the database file."""
    db = db_path(path)
    return db.parent / f"{db.stem}.models"


def busy_wait_seconds() -> float:
    """How long to wait for another writer: ``$SEGMENTATION_BUSY_WAIT`` seconds, else 10."""
    try:
        return max(0.0, float(os.environ.get(BUSY_WAIT_ENV, DEFAULT_BUSY_WAIT)))
    except ValueError:
        return DEFAULT_BUSY_WAIT


def _open(path: Path, read_only: bool, wait_seconds: float, deadline: float | None = None
          ) -> duckdb.DuckDBPyConnection:
    """Connect, retrying while the file is locked until ``deadline`` (default: ``wait_seconds`` from now)."""
    deadline = time.monotonic() + wait_seconds if deadline is None else deadline
    delay = 0.05
    marker, announced = None, False
    try:
        while True:
            try:
                return duckdb.connect(str(path), read_only=read_only)
            except (duckdb.IOException, duckdb.ConnectionException) as exc:
                # Another process holds the file lock (IOException), or this process has the file
                # open with the other read_only setting (ConnectionException: another app session).
                in_process = _SAME_PROCESS_PATTERN.search(str(exc)) is not None
                _busy_or_retry(exc, path, read_only, in_process, wait_seconds, deadline)
                if not (in_process or read_only or announced):  # kept out by another process
                    marker, announced = _announce_writer(path, deadline), True
                time.sleep(delay)
                delay = min(delay * 2, 0.5)
            except duckdb.Error as exc:
                raise WorkbenchError(f"Cannot open database {path}: {str(exc).splitlines()[0]}") from exc
    finally:
        if marker is not None:
            marker.unlink(missing_ok=True)


def _busy_or_retry(exc: duckdb.Error, path: Path, read_only: bool, in_process: bool,
                   wait_seconds: float, deadline: float) -> None:
    """Raise the error to show for a failed open, or return when it is worth trying again."""
    message = str(exc)
    if not in_process and not _LOCK_PATTERN.search(message):
        raise WorkbenchError(f"Cannot open database {path}: {message.splitlines()[0]}") from exc
    if time.monotonic() < deadline:
        return
    pid = _PID_PATTERN.search(message)
    if in_process:
        holder = " another session of this program has it open " + ("for writing" if read_only else "for reading")
        raise StoreBusyError(f"Database {path} is busy:{holder}. Waited {wait_seconds:g} s; "
                             "try again when it has finished.") from exc
    raise _busy(path, int(pid.group(1)) if pid else None, wait_seconds) from exc


def _busy(path: Path, pid: int | None, wait_seconds: float) -> StoreBusyError:
    holder = f"another process{f' (process {pid})' if pid else ''} is using it"
    return StoreBusyError(f"Database {path} is busy: {holder}. Waited {wait_seconds:g} s; "
                          "try again when it has finished.")


def _lock_file(path: Path) -> Path:
    path = path.resolve()  # one lock file however the database is named (a symlink, a relative path)
    return path.with_name(f".{path.name}.lock")


def _lock_across_processes(path: Path, read_only: bool, wait_seconds: float, deadline: float) -> int | None:
    """Take this process's ``flock`` on the database's lock file and return its descriptor
    (closing it lets go): shared for a reader, exclusive for a writer, waited for until
    ``deadline``. None where there is no ``flock`` or the lock file cannot be opened (a
    read-only folder): DuckDB's own lock is then all there is.

    A lock file, not the database file: a POSIX lock on the database file itself (DuckDB's)
    is dropped whenever the process closes *any* descriptor of that file.
    """
    if fcntl is None:
        return None
    try:
        fd = os.open(_lock_file(path), os.O_RDWR | os.O_CREAT, 0o666)
    except OSError:
        try:
            fd = os.open(_lock_file(path), os.O_RDONLY)
        except OSError:
            return None
    delay, marker, announced = 0.005, None, False
    try:
        while True:
            try:
                fcntl.flock(fd, (fcntl.LOCK_SH if read_only else fcntl.LOCK_EX) | fcntl.LOCK_NB)
                return fd
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise _busy(path, _flock_holder(fd), wait_seconds) from None
                if not (read_only or announced):
                    marker, announced = _announce_writer(path, deadline), True
                time.sleep(delay)
                delay = min(delay * 2, 0.1)
            except OSError:  # no locks here (ENOLCK, an NFS mount): DuckDB's own lock is all there is
                os.close(fd)
                return None
    except BaseException:
        os.close(fd)
        raise
    finally:
        if marker is not None:
            marker.unlink(missing_ok=True)


def _flock_holder(fd: int) -> int | None:
    """A process of another pid that holds a ``flock`` on ``fd``'s file, from ``/proc/locks`` (Linux).

    Matched by inode alone: on btrfs ``st_dev`` is the subvolume's number, not the one listed. Only
    the busy message uses it, so a rare match of another device's file costs nothing but a wrong pid.
    """
    inode = f":{os.fstat(fd).st_ino}"
    try:
        lines = Path("/proc/locks").read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        fields = line.split()  # "1: FLOCK  ADVISORY  WRITE 8662 fe:00:2146888 0 EOF"; waiters have "->"
        if len(fields) >= 6 and fields[1] == "FLOCK" and fields[5].endswith(inode) and fields[4].isdigit():
            if int(fields[4]) not in (0, os.getpid()):  # 0: a process of another pid namespace
                return int(fields[4])
    return None


_MARKER_INFIX = ".writer-waiting-"


def _announce_writer(path: Path, deadline: float) -> Path | None:
    """Leave the marker that makes other processes' readers hold back; None when it cannot be written."""
    path = path.resolve()  # the same marker however the database is named
    marker = path.with_name(f".{path.name}{_MARKER_INFIX}{os.getpid()}-{threading.get_ident()}")
    try:
        marker.write_text(f"{time.time() + max(0.0, deadline - time.monotonic()):.3f}\n")
    except OSError:
        return None  # a read-only folder: the writer just takes its chances
    return marker


def _writer_waiting_elsewhere(path: Path) -> bool:
    """Does a writer of another process wait for this file (a marker whose give-up time is ahead)?

    Markers left behind (their writer crashed, or gave up without cleaning) are removed.
    """
    path = path.resolve()
    prefix = f".{path.name}{_MARKER_INFIX}"
    try:
        entries = [e for e in os.scandir(path.parent) if e.name.startswith(prefix)]
    except OSError:
        return False
    for entry in entries:
        pid = entry.name[len(prefix):].split("-")[0]
        if not pid.isdigit() or int(pid) == os.getpid():
            continue  # this process's own writers wait in its turns instead
        try:
            gives_up = float(Path(entry.path).read_text())
        except (OSError, ValueError):
            continue  # being written or removed just now
        if gives_up > time.time() and psutil.pid_exists(int(pid)):
            return True
        with contextlib.suppress(OSError):
            os.unlink(entry.path)
    return False


def _let_writers_in(path: Path, deadline: float) -> None:
    """Before a read-only open: wait (until ``deadline`` at most) while another process's writer waits."""
    while time.monotonic() < deadline and _writer_waiting_elsewhere(path):
        time.sleep(0.02)


@contextlib.contextmanager
def connect(
    path: str | os.PathLike | None = None,
    *,
    read_only: bool = False,
    wait_seconds: float | None = None,
) -> Iterator[duckdb.DuckDBPyConnection]:
    """Open the database for the duration of a ``with`` block.

    When another process writes the file (or, in this process, another session has
    it open with the other ``read_only`` setting) the open is retried for
    ``wait_seconds`` (default :func:`busy_wait_seconds`), then :class:`StoreBusyError`.
    A missing file is created with the current schema (even when ``read_only``
    is asked, so a fresh checkout can be browsed). Writers get the schema
    migrated on open.
    """
    path = db_path(path)
    if wait_seconds is None:
        wait_seconds = busy_wait_seconds()
    if read_only and not path.exists():
        with connect(path, wait_seconds=wait_seconds):
            pass
    if not read_only:
        path.parent.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + wait_seconds
    turns = _turns(path)
    if read_only and not turns.held_here():
        _let_writers_in(path, deadline)
    with turns.take(read_only, wait_seconds, path):
        con = _open(path, read_only, wait_seconds, deadline)
        try:
            # DuckDB draws a progress bar on stdout for long queries; it would break --json output.
            con.execute("SET enable_progress_bar = false")
            if not read_only:
                ensure_schema(con)
            yield con
        finally:
            con.close()


class _Turns:
    """Whose turn it is to open one database file inside this process.

    DuckDB refuses a read-only and a read-write connection to the same file in one
    process at the same time. Without turns, a writer (one app session renaming a
    segment) could wait in vain behind back-to-back readers (the other sessions).
    Here readers share a turn, writers share a turn, and a waiting writer goes before
    readers that arrive after it. A thread that already holds a turn on the file gets
    in at once (nested connections). Across processes, the lock file decides (shared by the
    readers of a process, exclusive for its writers), then DuckDB's own lock.
    """

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._mode: bool | None = None  # read_only of the holders, None when free
        self._holders = 0
        self._writers_waiting = 0
        self._mine = threading.local()
        # The lock across processes (_lock_across_processes), held while any turn here is held.
        self._across = threading.Lock()
        self._across_fd: int | None = None
        self._across_users = 0

    def _may_enter(self, read_only: bool) -> bool:
        if self._holders == 0:
            return True
        return self._mode == read_only and (not read_only or self._writers_waiting == 0)

    def held_here(self) -> bool:
        """Does the calling thread already hold a turn (a nested connection)?"""
        return bool(getattr(self._mine, "held", 0))

    @contextlib.contextmanager
    def take(self, read_only: bool, wait_seconds: float, path: Path) -> Iterator[None]:
        if self.held_here():
            self._mine.held += 1
            try:
                yield
            finally:
                self._mine.held -= 1
            return
        deadline = time.monotonic() + wait_seconds
        with self._changed:
            self._writers_waiting += not read_only
            try:
                while not self._may_enter(read_only):
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        raise StoreBusyError(
                            f"Database {path} is busy: another session of this program is "
                            f"{'writing to' if read_only else 'using'} it. Waited {wait_seconds:g} s; "
                            "try again when it has finished.")
                    self._changed.wait(remaining)
            finally:
                self._writers_waiting -= not read_only
            self._mode, self._holders = read_only, self._holders + 1
        self._mine.held = 1
        try:
            self._enter_across(path, read_only, wait_seconds, deadline)
            try:
                yield
            finally:
                self._leave_across()
        finally:
            self._mine.held = 0
            with self._changed:
                self._holders -= 1
                if self._holders == 0:
                    self._mode = None
                self._changed.notify_all()

    def _enter_across(self, path: Path, read_only: bool, wait_seconds: float, deadline: float) -> None:
        # Holders of a turn share one mode, so the first takes the lock in that mode for all of them;
        # the others wait for it no longer than their own wait.
        if not self._across.acquire(timeout=max(0.0, deadline - time.monotonic())):
            raise _busy(path, None, wait_seconds)
        try:
            if self._across_users == 0:
                self._across_fd = _lock_across_processes(path, read_only, wait_seconds, deadline)
            self._across_users += 1
        finally:
            self._across.release()

    def _leave_across(self) -> None:
        with self._across:
            if self._across_users == 1 and self._across_fd is not None:
                fd, self._across_fd = self._across_fd, None
                os.close(fd)  # lets the lock go
            self._across_users -= 1

    def close_in_child(self) -> None:
        """After a fork: close the child's copy of the lock's descriptor (it would hold the lock on)."""
        fd, self._across_fd = self._across_fd, None
        if fd is not None:
            with contextlib.suppress(OSError):
                os.close(fd)


_TURNS: dict[str, _Turns] = {}
_TURNS_LOCK = threading.Lock()


def _forget_turns_in_child() -> None:
    # A forked child would otherwise keep this process's lock held through its copy of the descriptor,
    # and count turns of threads it does not have: its connections start afresh.
    global _TURNS_LOCK
    _TURNS_LOCK = threading.Lock()
    for turns in _TURNS.values():
        turns.close_in_child()
    _TURNS.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_turns_in_child)


def _turns(path: Path) -> _Turns:
    key = str(path.resolve())
    with _TURNS_LOCK:
        return _TURNS.setdefault(key, _Turns())


@contextlib.contextmanager
def using(db: Any, *, read_only: bool) -> Iterator[duckdb.DuckDBPyConnection]:
    """``db`` itself when it is a DuckDB connection, else a short-lived :func:`connect` on that path."""
    if isinstance(db, duckdb.DuckDBPyConnection):
        yield db
    else:
        with connect(db, read_only=read_only) as con:
            yield con


@contextlib.contextmanager
def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    """``BEGIN`` … ``COMMIT``; on any exception (``KeyboardInterrupt`` too, and a failed ``COMMIT``)
    ``ROLLBACK`` and re-raise. A ``ROLLBACK`` that fails because the failure already ended the
    transaction does not hide the original error. The one way every write in the package is made
    all-or-nothing."""
    con.execute("BEGIN TRANSACTION")
    try:
        yield con
        con.execute("COMMIT")
    except BaseException:
        with contextlib.suppress(duckdb.Error):
            con.execute("ROLLBACK")
        raise


def ensure_schema(con: duckdb.DuckDBPyConnection) -> int:
    """Run every migration not yet applied; return the schema version. Idempotent."""
    con.execute(
        "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, applied_at TIMESTAMP)"
    )
    applied = {row[0] for row in con.execute("SELECT version FROM schema_version").fetchall()}
    for version, script in MIGRATIONS:
        if version in applied:
            continue
        with transaction(con):
            con.execute(load_query(script))
            con.execute(
                "INSERT INTO schema_version VALUES ($version, current_timestamp)",
                {"version": version},
            )
    return SCHEMA_VERSION


_TABLE_NAME = re.compile(r"^[a-z_]+$")


def table_count(con: duckdb.DuckDBPyConnection, table: str) -> int:
    """Row count of one of our own tables (``table`` is checked, never user text)."""
    if not _TABLE_NAME.match(table):
        raise ValueError(f"not a table name: {table!r}")
    # query_table takes the name as a bound value: no SQL is made from it
    return con.execute("SELECT count(*) FROM query_table($table)", {"table": table}).fetchall()[0][0]


def fetch_row(con: duckdb.DuckDBPyConnection, query: str, params: dict | None = None) -> tuple | None:
    """First row of ``queries/QUERY.sql`` (or None), reading the result to its end.

    DuckDB 2 refuses further work on a connection (``con.register`` among it)
    while a result is only partly fetched, so single-row reads go through here
    instead of ``fetchone()``.
    """
    rows = con.execute(load_query(query), params or {}).fetchall()
    return rows[0] if rows else None


def summary(con: duckdb.DuckDBPyConnection) -> dict:
    """Counts and date range of the stored data (queries/ui/database_select_summary.sql and events_count_customers.sql)."""
    cursor = con.execute(load_query("database_select_summary"))
    names = [d[0] for d in cursor.description]
    document = dict(zip(names, cursor.fetchall()[0]))
    document["n_customers_with_events"] = fetch_row(con, "events_count_customers")[0]
    return document

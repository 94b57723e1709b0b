"""DuckDB connection rules and schema migration.

Rules (DESIGN.md §2, STYLE.md "DuckDB and SQL"):

* Every caller owns a *short-lived* connection (``with connect() as con:``),
  so the app and the command line can take turns on one database file.
* DuckDB lets one process write a file at a time. When another process holds
  the lock we retry for ``wait_seconds`` and then raise :class:`StoreBusyError`
  with a message that names the file and, when DuckDB tells, the process.
* The schema is created and migrated idempotently; ``schema_version`` records
  which migrations ran.
"""

from __future__ import annotations

import contextlib
import os
import re
import time
from pathlib import Path
from typing import Iterator

import duckdb

from .errors import StoreBusyError, WorkbenchError
from .queries import load_query

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
]

DEFAULT_DB = Path("data") / "workbench.duckdb"
DB_ENV = "SEGMENTATION_DB"

# (version, script in queries/) in the order they must run.
MIGRATIONS: list[tuple[int, str]] = [(1, "schema"), (2, "schema_v2_exports")]
SCHEMA_VERSION = MIGRATIONS[-1][0]

_LOCK_PATTERN = re.compile(r"lock", re.IGNORECASE)
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


def _open(path: Path, read_only: bool, wait_seconds: float) -> duckdb.DuckDBPyConnection:
    deadline = time.monotonic() + wait_seconds
    delay = 0.05
    while True:
        try:
            return duckdb.connect(str(path), read_only=read_only)
        except duckdb.IOException as exc:  # lock held by another process
            message = str(exc)
            if not _LOCK_PATTERN.search(message):
                raise WorkbenchError(f"Cannot open database {path}: {message.splitlines()[0]}") from exc
            if time.monotonic() >= deadline:
                pid = _PID_PATTERN.search(message)
                holder = f" (process {pid.group(1)})" if pid else ""
                raise StoreBusyError(
                    f"Database {path} is busy: another process{holder} is writing to it. "
                    f"Waited {wait_seconds:.0f} s; try again when it has finished."
                ) from exc
            time.sleep(delay)
            delay = min(delay * 2, 0.5)
        except duckdb.Error as exc:
            raise WorkbenchError(f"Cannot open database {path}: {str(exc).splitlines()[0]}") from exc


@contextlib.contextmanager
def connect(
    path: str | os.PathLike | None = None,
    *,
    read_only: bool = False,
    wait_seconds: float = 10.0,
) -> Iterator[duckdb.DuckDBPyConnection]:
    """Open the database for the duration of a ``with`` block.

    A missing file is created with the current schema (even when ``read_only``
    is asked, so a fresh checkout can be browsed). Writers get the schema
    migrated on open.
    """
    path = db_path(path)
    if read_only and not path.exists():
        with connect(path, wait_seconds=wait_seconds):
            pass
    if not read_only:
        path.parent.mkdir(parents=True, exist_ok=True)
    con = _open(path, read_only, wait_seconds)
    try:
        # DuckDB draws a progress bar on stdout for long queries; it would break --json output.
        con.execute("SET enable_progress_bar = false")
        if not read_only:
            ensure_schema(con)
        yield con
    finally:
        con.close()


def ensure_schema(con: duckdb.DuckDBPyConnection) -> int:
    """Run every migration not yet applied; return the schema version. Idempotent."""
    con.execute(
        "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, applied_at TIMESTAMP)"
    )
    applied = {row[0] for row in con.execute("SELECT version FROM schema_version").fetchall()}
    for version, script in MIGRATIONS:
        if version in applied:
            continue
        con.execute("BEGIN TRANSACTION")
        try:
            con.execute(load_query(script))
            con.execute(
                "INSERT INTO schema_version VALUES ($version, current_timestamp)",
                {"version": version},
            )
            con.execute("COMMIT")
        except Exception:
            con.execute("ROLLBACK")
            raise
    return SCHEMA_VERSION


_TABLE_NAME = re.compile(r"^[a-z_]+$")


def table_count(con: duckdb.DuckDBPyConnection, table: str) -> int:
    """Row count of one of our own tables (``table`` is checked, never user text)."""
    if not _TABLE_NAME.match(table):
        raise ValueError(f"not a table name: {table!r}")
    return con.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0]


def fetch_row(con: duckdb.DuckDBPyConnection, query: str, params: dict | None = None) -> tuple | None:
    """First row of ``queries/QUERY.sql`` (or None), reading the result to its end.

    DuckDB 2 refuses further work on a connection (``con.register`` among it)
    while a result is only partly fetched, so single-row reads go through here
    instead of ``fetchone()``.
    """
    rows = con.execute(load_query(query), params or {}).fetchall()
    return rows[0] if rows else None


def summary(con: duckdb.DuckDBPyConnection) -> dict:
    """Counts and date range of the stored data (see queries/data_summary.sql)."""
    cursor = con.execute(load_query("data_summary"))
    names = [d[0] for d in cursor.description]
    return dict(zip(names, cursor.fetchall()[0]))

"""Reading a file into the scratch tables of one import (the "read" step of an import).

This module holds what happens before any row is judged: :func:`inspect_file` fingerprints
the bytes and tells CSV (text, maybe gzip) from Parquet, refusing what is neither;
:func:`read_raw` has DuckDB read the file as text into ``ingest_raw`` (CSV: every cell as
text, so ids keep their leading zeros; Parquet: cells cast to text); :func:`stage_input`
lines the file's columns up with the canonical ones and parses them into ``ingest_staged``.
It also holds the SQL plumbing every step shares: :data:`STEPS`, the import's queries
(``queries/ingest/ingest_NN_*.sql``) in the order they run, :func:`run_query` (one step with
``$named`` parameters) and the connection-local scratch tables and views that link the steps
and that :func:`drop_scratch` removes before and after each import.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import zlib
from dataclasses import dataclass
from pathlib import Path

import duckdb

from segmentation.data.queries import execute_named, load_query
from segmentation.errors import InputError
from segmentation.ingest.columns import CHANNELS, COLUMNS, EVENT_TYPES

__all__ = ["SCRATCH_TABLES", "SCRATCH_VIEWS", "STEPS", "FileInfo", "inspect_file", "read_raw", "stage_input",
           "run_query", "first_line", "drop_scratch"]

_HEAD_BYTES = 64 * 1024
_DELIMITERS = (",", ";", "\t", "|")
# Scratch objects of one import (connection-local temp tables and views).
SCRATCH_TABLES = ("ingest_raw", "ingest_skipped", "ingest_staged", "ingest_problems", "ingest_bad",
                   "ingest_csv_errors", "ingest_csv_scans")
SCRATCH_VIEWS = ("ingest_input", "ingest_raw_json", "ingest_parquet_source")

# The import's queries (queries/ingest/ingest_NN_*.sql) in the order an import runs them, linked by
# the scratch tables above; each file's header says which it reads and which it creates. Files that
# share a number are alternatives (CSV or Parquet file; events or customers).
STEPS: tuple[tuple[str, ...], ...] = (
    # validate.check_options, only with --ts-format
    ("ingest_01_options_check_ts_format",),
    # files.ingest_file: the same content imported before?
    ("ingest_02_ingests_select_previous",),
    # read_raw: the file → ingest_raw, ingest_skipped
    ("ingest_03_csv_describe", "ingest_03_parquet_select"),
    ("ingest_04_raw_create_csv", "ingest_04_raw_create_parquet"),
    ("ingest_05_skipped_create_csv", "ingest_05_skipped_create_parquet"),
    # files._import: rows read
    ("ingest_06_raw_count",),
    # stage_input: ingest_input → ingest_staged
    ("ingest_07_staged_create_events", "ingest_07_staged_create_customers"),
    # validate.find_problems: ingest_staged → ingest_problems → ingest_bad
    ("ingest_08_problems_create_events", "ingest_08_problems_create_customers"),
    ("ingest_09_bad_create",),
    ("ingest_10_bad_select_summary",),
    ("ingest_11_bad_count",),
    # files._import: the commit (13-15 only with --replace, 16 in validate.import_warnings,
    # 18 only for bad rows kept with --quarantine)
    ("ingest_12_ingests_next_id",),
    ("ingest_13_events_delete_of_ingest", "ingest_13_customers_delete_of_ingest"),
    ("ingest_14_rejects_delete_of_ingest",),
    ("ingest_15_ingests_update_replaced",),
    ("ingest_16_staged_select_warnings_events",),
    ("ingest_17_events_insert", "ingest_17_customers_upsert"),
    ("ingest_18_rejects_insert",),
    ("ingest_19_ingests_insert",),
)
_STEP_NAMES = frozenset(name for step in STEPS for name in step)


@dataclass(frozen=True)
class FileInfo:
    """What :func:`inspect_file` learnt from a file's bytes before DuckDB reads it.

    ``fingerprint``: SHA-256 of the bytes; ``fmt``: csv or parquet; ``compression``:
    gzip or none; ``delimiter``: the CSV field separator found in the header line.
    """

    fingerprint: str
    fmt: str  # csv | parquet
    compression: str  # gzip | none
    delimiter: str


def inspect_file(path: Path, name: str) -> FileInfo:
    """Fingerprint the bytes and tell CSV (text, maybe gzip) from Parquet before DuckDB reads.

    Raises :class:`InputError` (naming the file as ``name``) for what is neither: an empty
    file, ZIP/Excel, UTF-16, binary content or text that is not UTF-8.
    """
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as fh:
            head = fh.read(_HEAD_BYTES)
            digest.update(head)
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                digest.update(chunk)
    except OSError as exc:
        raise InputError(f"{name}: cannot read the file ({exc.strerror or exc})") from exc
    if not head:
        raise InputError(f"{name}: the file is empty (0 bytes); expected a header row and data rows")
    fingerprint = digest.hexdigest()
    if head.startswith(b"PAR1"):
        return FileInfo(fingerprint, "parquet", "none", ",")
    if head.startswith(b"PK\x03\x04"):
        raise InputError(f"{name}: this is a ZIP archive or an Excel workbook, not CSV; "
                         "save it as CSV (UTF-8) or Parquet")
    compression, text = "none", head
    if head.startswith(b"\x1f\x8b"):
        compression = "gzip"
        try:
            with gzip.open(path) as fh:
                text = fh.read(_HEAD_BYTES)
        except (OSError, EOFError, zlib.error) as exc:
            raise InputError(f"{name}: not a readable gzip file ({exc})") from exc
    if text.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise InputError(f"{name}: the file is UTF-16 text; save it as UTF-8 CSV")
    if b"\x00" in text:
        raise InputError(f"{name}: binary content (NUL bytes), not a CSV text file; "
                         "expected CSV (optionally .gz) or Parquet")
    try:
        decoded = text.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(text) - 4:  # not just a character cut at the end of the sample
            raise InputError(f"{name}: not UTF-8 text (invalid byte at offset {exc.start}); "
                             "save it as UTF-8 CSV or Parquet") from exc
        decoded = text[:exc.start].decode("utf-8")
    if not decoded.strip():
        raise InputError(f"{name}: the file is empty (only blank lines); expected a header row "
                         "and data rows")
    header = decoded.lstrip("\ufeff").lstrip("\r\n").splitlines()[0]
    delimiter = max(_DELIMITERS, key=header.count) if any(d in header for d in _DELIMITERS) else ","
    return FileInfo(fingerprint, "csv", compression, delimiter)


def read_raw(con, path: Path, name: str, info: FileInfo) -> list[str]:
    """Stage the file as text in ``ingest_raw`` (raw_index, c0..cN); return the file's column names."""
    try:
        if info.fmt == "parquet":
            source = con.sql(load_query("ingest_03_parquet_select"), params={"path": str(path)})
            header = [column for column in source.columns if column != "ordinality"]
            exprs = [duckdb.ColumnExpression("ordinality").alias("raw_index")]
            exprs += [duckdb.ColumnExpression(column).cast(duckdb.sqltype("VARCHAR")).alias(f"c{i}")
                      for i, column in enumerate(header)]
            source.project(*exprs).create_view("ingest_parquet_source", replace=True)
            run_query(con, "ingest_04_raw_create_parquet")
            run_query(con, "ingest_05_skipped_create_parquet")
            return header
        params = {"path": str(path), "delim": info.delimiter, "compression": info.compression}
        header = [row[0] for row in run_query(con, "ingest_03_csv_describe", **params)]
        run_query(con, "ingest_04_raw_create_csv", **params, names=[f"c{i}" for i in range(len(header))])
        run_query(con, "ingest_05_skipped_create_csv", n_columns=len(header))
        return header
    except duckdb.Error as exc:
        where = _csv_problem(path, info) if info.fmt == "csv" else None
        raise InputError(f"{name}: cannot read the file as {info.fmt.upper()}: "
                         + (where or first_line(exc))) from exc  # DuckDB's own words only when Python's found nothing


#: Text a failed CSV read is searched for the row that broke it (the whole file when smaller).
_PROBLEM_SCAN_BYTES = 64 * 1024 * 1024


def _csv_problem(path: Path, info: FileInfo) -> str | None:
    """Where a CSV file DuckDB could not read goes wrong, in words, as Python's strict CSV reader finds
    it (a quote never closed, a stray quote inside a value); None when it finds nothing in the first
    :data:`_PROBLEM_SCAN_BYTES`."""
    import csv

    opener = gzip.open if info.compression == "gzip" else open
    try:
        with opener(path, "rt", encoding="utf-8-sig", errors="replace", newline="") as fh:
            text = fh.read(_PROBLEM_SCAN_BYTES)
    except (OSError, EOFError, zlib.error):
        return None
    reader = csv.reader(io.StringIO(text), delimiter=info.delimiter, strict=True)
    started = 1
    try:
        for _ in reader:
            started = reader.line_num + 1
    except csv.Error as exc:
        if "unexpected end of data" in str(exc):  # the file ended inside a quoted value
            return (f"line {started} opens a quote (\") that is never closed, so the rest of the file reads "
                    "as one value; close the quote or remove it")
        return f"line {reader.line_num}: {exc}"
    return None


def stage_input(con, kind: str, sources: dict[str, int], constants: dict[str, str],
                ts_format: str | None) -> None:
    """Line ``ingest_raw`` up with the canonical columns of ``kind`` and parse it into ``ingest_staged``.

    ``sources``: canonical column → position in the file; ``constants``: canonical
    column → value for every row; a column that is neither is NULL. The view
    ``ingest_input`` holds the text, ``ingest_staged`` the parsed values (unknown
    event types and channels become ``'other'``).
    """
    exprs = [duckdb.ColumnExpression("raw_index")]
    for canon in COLUMNS[kind]:
        if canon in constants:
            expr = duckdb.ConstantExpression(constants[canon]).cast(duckdb.sqltype("VARCHAR"))
        elif canon in sources:
            expr = duckdb.ColumnExpression(f"c{sources[canon]}")
        else:
            expr = duckdb.ConstantExpression(None).cast(duckdb.sqltype("VARCHAR"))
        exprs.append(expr.alias(canon))
    con.table("ingest_raw").project(*exprs).create_view("ingest_input", replace=True)
    if kind == "events":
        run_query(con, "ingest_07_staged_create_events", ts_format=ts_format, event_types=list(EVENT_TYPES),
                  channels=list(CHANNELS))
    else:
        run_query(con, "ingest_07_staged_create_customers")


def run_query(con, query: str, **params) -> list[tuple]:
    """Run step ``queries/ingest/QUERY.sql`` (one of :data:`STEPS`) with ``$named`` parameters;
    all result rows (closes the result)."""
    if query not in _STEP_NAMES:
        raise ValueError(f"{query} is not an import step (segmentation.ingest.read.STEPS)")
    return con.execute(load_query(query), params).fetchall()


def first_line(exc: Exception) -> str:
    """The first line of an exception's message (DuckDB's go on for lines), else its type's name."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def drop_scratch(con) -> None:
    """Drop the scratch views and tables of an import on ``con`` (those that exist)."""
    # Names come from the constant tuples above, never from user input.
    for view in SCRATCH_VIEWS:
        execute_named(con, "drop_view", view)
    for table in SCRATCH_TABLES:
        execute_named(con, "drop_temp_table", table)

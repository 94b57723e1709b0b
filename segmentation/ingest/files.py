"""Files → ``events`` / ``customers``: validated, all-or-nothing import of CSV and Parquet.

How an import runs (DESIGN.md §3, §5):

* The file is identified by the SHA-256 of its bytes. The same content imported
  before as the same kind is refused, naming the earlier import; ``replace=True``
  deletes that import's rows (by ``ingest_id``) and imports the file again.
* DuckDB reads the file into a temporary text table (CSV, also gzip: every cell as
  text, so ids keep their leading zeros; Parquet: cells cast to text). Columns are
  matched to the canonical names case-insensitively, after ``mapping``
  (canonical → file column) and ``constants`` (canonical → value for every row).
* Parsing and validation are set-based SQL (``queries/ingest_*.sql``). Each problem
  names the file, the column, the 1-based data row (header excluded) and the value.
* Everything happens in one transaction: any problem raises :class:`InputError`
  and nothing changes, unless ``quarantine=True`` — then the good rows are imported
  and *every* bad row is kept in ``rejects`` with its reasons and its raw values.
* Events are appended: identical rows inside a file are real repeats and are kept.
  Unknown event types / channels become ``'other'`` with a warning that counts them.
* Customers are upserted by ``customer_id``: a later file updates the values it
  holds; a blank cell or a missing column never erases a stored value. A
  customer id repeated inside one file is an error (which row is right is
  ambiguous); with quarantine the first row is kept and the repeats are rejected.
* Every import is recorded in ``ingests`` (options JSON: mapping, constants,
  warnings, ``replaced_by`` once replaced).
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import re
import time
import zlib
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import duckdb

from segmentation.errors import InputError, NotFoundError
from segmentation.data.journal import crash_point
from segmentation.data.queries import load_query
from segmentation.data.store import transaction

__all__ = [
    "EVENT_TYPES",
    "CHANNELS",
    "COLUMNS",
    "REQUIRED",
    "fold_column",
    "IngestResult",
    "ingest_file",
    "parse_assignments",
    "MAX_UPLOAD_BYTES",
    "check_upload_size",
]

EVENT_TYPES = ("view", "search", "cart", "purchase", "refund", "email_open", "email_click",
               "app_open", "store_visit", "other")
CHANNELS = ("web", "app", "email", "store", "social", "ads", "other")
COLUMNS: dict[str, tuple[str, ...]] = {
    "events": ("customer_id", "ts", "event_type", "channel", "category", "amount", "quantity"),
    "customers": ("customer_id", "email", "phone", "first_name", "last_name", "country", "zip",
                  "city", "state", "consent_ads"),
}
REQUIRED: dict[str, tuple[str, ...]] = {
    "events": ("customer_id", "ts", "event_type"),
    "customers": ("customer_id",),
}

# Events dated up to this long after "now" are accepted: source clocks and time zones differ.
FUTURE_SLACK = timedelta(days=1)
_HEAD_BYTES = 64 * 1024
_DELIMITERS = (",", ";", "\t", "|")
_MAX_PROBLEMS_SHOWN = 6
_MAX_VALUE_CHARS = 40
# Scratch objects of one import (connection-local temp tables and views).
SCRATCH_TABLES = ("ingest_raw", "ingest_skipped", "ingest_staged", "ingest_problems", "ingest_bad",
                   "ingest_csv_errors", "ingest_csv_scans")
SCRATCH_VIEWS = ("ingest_input", "ingest_raw_json", "ingest_parquet_source")


# What the app accepts as an upload (Streamlit's own default limit is 200 MB); the command
# line reads files of any size from disk.
MAX_UPLOAD_BYTES = 200 * 1024 * 1024


def check_upload_size(n_bytes: int, limit_bytes: int = MAX_UPLOAD_BYTES, name: str = "the file") -> None:
    """InputError when an uploaded file of ``n_bytes`` is empty or larger than ``limit_bytes``.

    The message names the file, both sizes in MB and the way to import larger files.
    """
    if n_bytes < 0 or limit_bytes <= 0:
        raise ValueError(f"sizes must be positive (got {n_bytes} and {limit_bytes})")
    if n_bytes == 0:
        raise InputError(f"{name}: the file is empty (0 bytes); expected a header row and data rows")
    if n_bytes > limit_bytes:
        raise InputError(
            f"{name}: the file is {n_bytes / 1_048_576:,.1f} MB, more than the {limit_bytes / 1_048_576:,.0f} MB "
            "an upload may have; import it from the command line instead "
            "(python -m segmentation ingest FILE), which reads files of any size")


@dataclass
class IngestResult:
    """Outcome of one import.

    ``n_rows``: rows imported (customers: inserted or updated); ``n_rejected``: bad rows
    kept in ``rejects`` (quarantine); ``warnings``: one line each, no PII; ``seconds``:
    wall time; ``replaced_ingest_id``: the earlier import this one replaced.
    """

    ingest_id: int
    file: str
    kind: str
    n_rows: int
    n_rejected: int = 0
    warnings: list[str] = field(default_factory=list)
    seconds: float = 0.0
    replaced_ingest_id: int | None = None

    def to_dict(self) -> dict:
        """Plain dict for ``--json``."""
        return asdict(self)


@dataclass(frozen=True)
class _FileInfo:
    fingerprint: str
    fmt: str  # csv | parquet
    compression: str  # gzip | none
    delimiter: str


def parse_assignments(items: list[str] | None, option: str) -> dict[str, str]:
    """``["canonical=value", ...]`` from ``--map`` / ``--set`` → dict; InputError when malformed."""
    result: dict[str, str] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        key, value = key.strip(), value.strip()
        if not sep or not key or not value:
            raise InputError(f"{option} {item!r}: expected CANONICAL=VALUE, e.g. "
                             f"{option} {'customer_id=Kundennummer' if option == '--map' else 'event_type=purchase'}")
        if key in result and result[key] != value:
            raise InputError(f"{option} {key} is given twice ({result[key]!r} and {value!r})")
        result[key] = value
    return result


def ingest_file(con: duckdb.DuckDBPyConnection, path: str | os.PathLike, kind: str = "events",
                mapping: dict[str, str] | None = None, constants: dict[str, str] | None = None,
                ts_format: str | None = None, quarantine: bool = False, replace: bool = False,
                now: datetime | None = None) -> IngestResult:
    """Import one CSV (optionally gzip) or Parquet file into ``events`` or ``customers``.

    ``mapping``: canonical column → column name in the file; ``constants``: canonical
    column → value for every row (e.g. ``{"event_type": "purchase"}``); ``ts_format``:
    strptime format of text timestamps (ISO 8601 dates/timestamps are always accepted;
    explicit UTC offsets are converted to UTC, others are stored as written);
    ``quarantine``: import the good rows and keep the bad ones in ``rejects``;
    ``replace``: re-import a file whose content was imported before, in place of that
    import; ``now``: naive reference time for "timestamp in the future" (default: this
    computer's clock; one day of slack for time zones), also stored as the import time.

    Runs in one transaction on ``con`` (which must not be inside one). Raises
    :class:`InputError` naming file, column, rows and values — then nothing changed —
    or :class:`NotFoundError` when the file does not exist.
    """
    started = time.perf_counter()
    name = str(path)
    path = Path(path)
    now = now or datetime.now()
    mapping, constants = dict(mapping or {}), dict(constants or {})
    _check_options(con, kind, mapping, constants, ts_format)
    if not path.exists():
        raise NotFoundError(f"{name}: no such file")
    if not path.is_file():
        raise InputError(f"{name}: not a file")
    info = _inspect(path, name)
    # DuckDB's progress bar would print into the caller's stdout (and break --json output).
    con.execute("SET enable_progress_bar = false")
    _drop_scratch(con)
    try:
        with transaction(con):
            previous = next(iter(_run(con, "ingest_previous", fingerprint=info.fingerprint,
                                      kind=kind)), None)
            if previous and not replace:
                raise InputError(
                    f"{name}: the same file content was already imported as {kind} "
                    f"(import #{previous[0]} on {previous[1]:%Y-%m-%d %H:%M} from {previous[2]}); "
                    "use --replace to import it again in place of that import")
            result = _import(con, path, name, kind, info, mapping, constants, ts_format, quarantine,
                             now, previous[0] if previous else None)
            crash_point("ingest:before-commit")
        crash_point("ingest:after-commit")
    finally:
        _drop_scratch(con)
    result.seconds = round(time.perf_counter() - started, 3)
    return result


def _check_options(con, kind: str, mapping: dict, constants: dict, ts_format: str | None) -> None:
    if kind not in COLUMNS:
        raise InputError(f"unknown kind {kind!r}: use events or customers")
    canonical = COLUMNS[kind]
    for option, items in (("--map", mapping), ("--set", constants)):
        for key, value in items.items():
            if key not in canonical:
                raise InputError(f"{option} {key}={value}: {key!r} is not one of the {kind} "
                                 f"columns ({', '.join(canonical)})")
    for key in sorted(set(mapping) & set(constants)):
        raise InputError(f"{key} is given both by --map and by --set; use one of them")
    if "customer_id" in constants:
        raise InputError("--set customer_id: a customer id cannot be a constant; map it with --map")
    if ts_format is not None:
        try:
            _run(con, "ingest_check_ts_format", ts_format=ts_format)
        except duckdb.Error as exc:
            raise InputError(f"--ts-format {ts_format!r} is not a valid strptime format "
                             f"(e.g. %Y%m%d or '%d.%m.%Y %H:%M'): {_first_line(exc)}") from exc


def _inspect(path: Path, name: str) -> _FileInfo:
    """Fingerprint the bytes and tell CSV (text, maybe gzip) from Parquet before DuckDB reads."""
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
        return _FileInfo(fingerprint, "parquet", "none", ",")
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
    return _FileInfo(fingerprint, "csv", compression, delimiter)


def _import(con, path: Path, name: str, kind: str, info: _FileInfo, mapping: dict, constants: dict,
            ts_format: str | None, quarantine: bool, now: datetime,
            previous_id: int | None) -> IngestResult:
    header = _read_raw(con, path, name, info)
    sources = _resolve_columns(name, kind, header, mapping, constants)
    [(n_read, n_skipped)] = _run(con, "ingest_count_staged")
    if n_read + n_skipped == 0:
        raise InputError(f"{name}: the file has a header but no data rows")

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
        _run(con, "ingest_stage_events", ts_format=ts_format, event_types=list(EVENT_TYPES),
             channels=list(CHANNELS))
        _run(con, "ingest_problems_events", latest=now + FUTURE_SLACK)
    else:
        _run(con, "ingest_stage_customers")
        _run(con, "ingest_problems_customers")
    _run(con, "ingest_bad")
    problems = _run(con, "ingest_problem_summary")
    [(n_bad,)] = _run(con, "ingest_count_bad_rows")
    if problems and not quarantine:
        raise InputError(_problems_message(name, n_bad, problems, header, sources, constants,
                                           ts_format))

    [(ingest_id,)] = _run(con, "ingest_next_id")
    if previous_id is not None:
        _run(con, f"ingest_delete_{kind}", ingest_id=previous_id)
        _run(con, "ingest_delete_rejects", ingest_id=previous_id)
        _run(con, "ingest_mark_replaced", ingest_id=previous_id, replaced_by=ingest_id)
    warnings = _warnings(con, name, kind, sources, constants)
    insert = "ingest_insert_events" if kind == "events" else "ingest_upsert_customers"
    [(n_rows,)] = _run(con, insert, ingest_id=ingest_id)
    stored_file = str(path.resolve())
    if n_bad:
        args = []
        for index, column in enumerate(header):
            args += [duckdb.ConstantExpression(column), duckdb.ColumnExpression(f"c{index}")]
        raw = duckdb.FunctionExpression("json_object", *args).alias("raw")
        con.table("ingest_raw").project(duckdb.ColumnExpression("raw_index"), raw) \
            .create_view("ingest_raw_json", replace=True)
        _run(con, "ingest_insert_rejects", ingest_id=ingest_id, file=stored_file)

    options = {
        "format": info.fmt, "compression": info.compression,
        "delimiter": info.delimiter if info.fmt == "csv" else None,
        "columns": header, "mapping": mapping, "constants": constants, "ts_format": ts_format,
        "quarantine": quarantine, "replaces": previous_id, "warnings": warnings,
    }
    _run(con, "ingest_record", ingest_id=ingest_id, created_at=now, kind=kind, file=stored_file,
         fingerprint=info.fingerprint, n_rows=n_rows, n_rejected=n_bad,
         n_warnings=len(warnings), options=json.dumps(options))
    return IngestResult(ingest_id=ingest_id, file=name, kind=kind, n_rows=n_rows, n_rejected=n_bad,
                        warnings=warnings, replaced_ingest_id=previous_id)


def _read_raw(con, path: Path, name: str, info: _FileInfo) -> list[str]:
    """Stage the file as text in ``ingest_raw`` (raw_index, c0..cN); return the file's column names."""
    try:
        if info.fmt == "parquet":
            source = con.sql(load_query("ingest_read_parquet"), params={"path": str(path)})
            header = [column for column in source.columns if column != "ordinality"]
            exprs = [duckdb.ColumnExpression("ordinality").alias("raw_index")]
            exprs += [duckdb.ColumnExpression(column).cast(duckdb.sqltype("VARCHAR")).alias(f"c{i}")
                      for i, column in enumerate(header)]
            source.project(*exprs).create_view("ingest_parquet_source", replace=True)
            _run(con, "ingest_raw_from_view")
            _run(con, "ingest_skipped_none")
            return header
        params = {"path": str(path), "delim": info.delimiter, "compression": info.compression}
        header = [row[0] for row in _run(con, "ingest_csv_columns", **params)]
        _run(con, "ingest_read_csv", **params, names=[f"c{i}" for i in range(len(header))])
        _run(con, "ingest_skipped_csv", n_columns=len(header))
        return header
    except duckdb.Error as exc:
        raise InputError(f"{name}: cannot read the file as {info.fmt.upper()}: {_first_line(exc)}") from exc


def _resolve_columns(name: str, kind: str, header: list[str], mapping: dict,
                     constants: dict) -> dict[str, int]:
    """Canonical column → position in the file: mapped first, else the same name ignoring case,
    spaces and hyphens ('Customer ID' is customer_id)."""
    by_folded: dict[str, int] = {}
    for index, column in enumerate(header):
        by_folded.setdefault(fold_column(column), index)
    found = _quoted_list(header)
    sources: dict[str, int] = {}
    for canon, source in mapping.items():
        index = header.index(source) if source in header else by_folded.get(fold_column(source))
        if index is None:
            raise InputError(f"{name}: --map {canon}={source}: the file has no column {source!r} "
                             f"(columns found: {found})")
        sources[canon] = index
    for canon in COLUMNS[kind]:
        if canon not in sources and canon not in constants and canon in by_folded:
            sources[canon] = by_folded[canon]
    missing = [c for c in REQUIRED[kind] if c not in sources and c not in constants]
    if missing:
        settable = [c for c in missing if c != "customer_id"]
        constant_hint = f", or give a constant with --set {settable[-1]}=VALUE" if settable else ""
        raise InputError(
            f"{name}: missing required {kind} column{'s' if len(missing) > 1 else ''} "
            f"{', '.join(missing)} (columns found: {found}); rename them in the file or map them "
            f"with --map {missing[0]}=YOUR_COLUMN{constant_hint}")
    return sources


def _warnings(con, name: str, kind: str, sources: dict, constants: dict) -> list[str]:
    warnings: list[str] = []
    if kind == "events":
        known = {"event_type": EVENT_TYPES, "channel": CHANNELS}
        for column, n_rows, n_distinct, sample in _run(con, "ingest_warnings_events"):
            if n_rows:
                more = ", …" if n_distinct > len(sample) else ""
                warnings.append(
                    f"{name}: column {column!r}: {_count(n_rows, 'row')} with {n_distinct} unknown "
                    f"value{'s' if n_distinct > 1 else ''} ({_quoted_list(sample)}{more}) stored as "
                    f"'other'; known values are {', '.join(known[column])}")
        if "amount" not in sources and "amount" not in constants:
            warnings.append(f"{name}: no amount column; amounts are stored as 0")
    elif "consent_ads" not in sources and "consent_ads" not in constants:
        warnings.append(f"{name}: no consent_ads column; consent is unknown for these customers "
                        "(exports leave them out unless asked)")
    return warnings


def _problems_message(name: str, n_bad: int, problems: list[tuple], header: list[str],
                      sources: dict, constants: dict, ts_format: str | None) -> str:
    parts = []
    for column, problem, n_rows, first_rows, sample in problems[:_MAX_PROBLEMS_SHOWN]:
        if problem == "unparseable timestamp":
            problem += (f" (expected {ts_format!r} or ISO 8601)" if ts_format else
                        " (expected ISO 8601 such as 2024-01-31 or 2024-01-31 13:45:00; "
                        "give other formats with --ts-format)")
        if column is None:
            where = "row"
        elif column in constants:
            where = f"column {column!r} (--set {column}={constants[column]})"
        elif header[sources[column]] != column:
            where = f"column {column!r} (file column {header[sources[column]]!r})"
        else:
            where = f"column {column!r}"
        rows = ", ".join(str(r) for r in first_rows) + (", …" if n_rows > len(first_rows) else "")
        values = [v for v in sample if v]
        shown = f": {_quoted_list(values)}" if values else ""
        parts.append(f"{where}: {problem} in {_count(n_rows, 'row')} "
                     f"(row{'s' if n_rows > 1 else ''} {rows}){shown}")
    if len(problems) > _MAX_PROBLEMS_SHOWN:
        parts.append(f"and {len(problems) - _MAX_PROBLEMS_SHOWN} more kinds of problem")
    return (f"{name}: {_count(n_bad, 'bad row')}, nothing was imported — "
            + "; ".join(parts)
            + ". Fix the file, or use --quarantine to import the good rows and keep the bad ones "
              "in the rejects table.")


def fold_column(column: str) -> str:
    """How a file's column name is matched to ours: case, spaces and dashes folded ('Customer ID' → customer_id)."""
    return re.sub(r"[\s\-]+", "_", column.strip().casefold())


def _count(n: int, noun: str) -> str:
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


def _quoted_list(values, limit: int = 20) -> str:
    shown = [repr(v if len(v) <= _MAX_VALUE_CHARS else v[:_MAX_VALUE_CHARS] + "…")
             for v in list(values)[:limit]]
    return ", ".join(shown) + (f" and {len(values) - limit} more" if len(values) > limit else "")


def _run(con, query: str, **params) -> list[tuple]:
    """Run ``queries/QUERY.sql`` with ``$named`` parameters; all result rows (closes the result)."""
    return con.execute(load_query(query), params).fetchall()


def _first_line(exc: Exception) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _drop_scratch(con) -> None:
    # Names come from the constant tuples above, never from user input.
    for view in SCRATCH_VIEWS:
        con.execute(f"DROP VIEW IF EXISTS {view}")
    for table in SCRATCH_TABLES:
        con.execute(f"DROP TABLE IF EXISTS temp.{table}")

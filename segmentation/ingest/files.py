"""Files → ``events`` / ``customers``: validated, all-or-nothing import of CSV and Parquet.

This module holds the import itself (:func:`ingest_file`): one transaction that reads the
file (:mod:`segmentation.ingest.read`), validates it (:mod:`segmentation.ingest.validate`)
against the column contract (:mod:`segmentation.ingest.columns`) and then commits it —
replacing an earlier import of the same content, inserting or upserting the rows, keeping
bad rows in ``rejects`` and recording the import in ``ingests``.

How an import runs (DESIGN.md §3, §5):

* The file is identified by the SHA-256 of its bytes. The same content imported
  before as the same kind is refused, naming the earlier import; ``replace=True``
  deletes that import's rows (by ``ingest_id``) and imports the file again.
* DuckDB reads the file into a temporary text table (CSV, also gzip: every cell as
  text, so ids keep their leading zeros; Parquet: cells cast to text). Columns are
  matched to the canonical names case-insensitively, after ``mapping``
  (canonical → file column) and ``constants`` (canonical → value for every row).
* Parsing and validation are set-based SQL (``queries/ingest/ingest_NN_*.sql``, run in the
  order of :data:`segmentation.ingest.read.STEPS`). Each problem names the file, the
  column, the 1-based data row (header excluded) and the value.
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

import json
import os
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path

import duckdb

from segmentation.data.journal import crash_point
from segmentation.data.store import transaction
from segmentation.errors import InputError, NotFoundError
from segmentation.ingest.read import FileInfo, drop_scratch, inspect_file, read_raw, run_query, stage_input
from segmentation.ingest.validate import (check_options, find_problems, import_warnings,
                                          problems_message, resolve_columns)

__all__ = ["IngestResult", "ingest_file"]


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
    check_options(con, kind, mapping, constants, ts_format)
    if not path.exists():
        raise NotFoundError(f"{name}: no such file")
    if not path.is_file():
        raise InputError(f"{name}: not a file")
    info = inspect_file(path, name)
    # DuckDB's progress bar would print into the caller's stdout (and break --json output).
    con.execute("SET enable_progress_bar = false")
    drop_scratch(con)
    try:
        with transaction(con):
            previous = next(iter(run_query(con, "ingest_02_ingests_select_previous", fingerprint=info.fingerprint,
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
        drop_scratch(con)
    result.seconds = round(time.perf_counter() - started, 3)
    return result


def _import(con, path: Path, name: str, kind: str, info: FileInfo, mapping: dict, constants: dict,
            ts_format: str | None, quarantine: bool, now: datetime,
            previous_id: int | None) -> IngestResult:
    """Read and validate the file, then commit it (inside the caller's transaction)."""
    header = read_raw(con, path, name, info)
    sources = resolve_columns(name, kind, header, mapping, constants)
    [(n_read, n_skipped)] = run_query(con, "ingest_06_raw_count")
    if n_read + n_skipped == 0:
        raise InputError(f"{name}: the file has a header but no data rows")

    stage_input(con, kind, sources, constants, ts_format)
    problems, n_bad = find_problems(con, kind, now)
    if problems and not quarantine:
        raise InputError(problems_message(name, n_bad, problems, header, sources, constants, ts_format))

    [(ingest_id,)] = run_query(con, "ingest_12_ingests_next_id")
    if previous_id is not None:
        delete = "ingest_13_events_delete_of_ingest" if kind == "events" else "ingest_13_customers_delete_of_ingest"
        run_query(con, delete, ingest_id=previous_id)
        run_query(con, "ingest_14_rejects_delete_of_ingest", ingest_id=previous_id)
        run_query(con, "ingest_15_ingests_update_replaced", ingest_id=previous_id, replaced_by=ingest_id)
    warnings = import_warnings(con, name, kind, sources, constants, header)
    insert = "ingest_17_events_insert" if kind == "events" else "ingest_17_customers_upsert"
    [(n_rows,)] = run_query(con, insert, ingest_id=ingest_id)
    stored_file = str(path.resolve())
    if n_bad:
        args = []
        for index, column in enumerate(header):
            args += [duckdb.ConstantExpression(column), duckdb.ColumnExpression(f"c{index}")]
        raw = duckdb.FunctionExpression("json_object", *args).alias("raw")
        con.table("ingest_raw").project(duckdb.ColumnExpression("raw_index"), raw) \
            .create_view("ingest_raw_json", replace=True)
        run_query(con, "ingest_18_rejects_insert", ingest_id=ingest_id, file=stored_file)

    options = {
        "format": info.fmt, "compression": info.compression,
        "delimiter": info.delimiter if info.fmt == "csv" else None,
        "columns": header, "mapping": mapping, "constants": constants, "ts_format": ts_format,
        "quarantine": quarantine, "replaces": previous_id, "warnings": warnings,
    }
    run_query(con, "ingest_19_ingests_insert", ingest_id=ingest_id, created_at=now, kind=kind, file=stored_file,
              fingerprint=info.fingerprint, n_rows=n_rows, n_rejected=n_bad,
              n_warnings=len(warnings), options=json.dumps(options))
    return IngestResult(ingest_id=ingest_id, file=name, kind=kind, n_rows=n_rows, n_rejected=n_bad,
                        warnings=warnings, replaced_ingest_id=previous_id)

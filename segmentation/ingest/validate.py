"""Checking an import and saying what is wrong with it (the "validate" step of an import).

This module holds every judgement an import makes and the words it uses for them: the
size of an upload (:func:`check_upload_size`), the options (:func:`check_options`), the
file's columns against the contract (:func:`resolve_columns`), the set-based validation
of the staged rows (:func:`find_problems`, ``queries/ingest/ingest_08_problems_create_*.sql``), the
message of a refused file naming file, column, 1-based data rows and values
(:func:`problems_message`), and the warnings of an accepted one (:func:`import_warnings`).
Messages never hold more than a short sample of values.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import duckdb

from segmentation.errors import InputError, masked_value
from segmentation.ingest.columns import CHANNELS, COLUMNS, EVENT_TYPES, REQUIRED, fold_column, match_columns
from segmentation.ingest.read import first_line, run_query

__all__ = ["MAX_UPLOAD_BYTES", "FUTURE_SLACK", "check_upload_size", "check_options", "resolve_columns",
           "find_problems", "problems_message", "import_warnings"]

# What the app accepts as an upload (Streamlit's own default limit is 200 MB); the command
# line reads files of any size from disk.
MAX_UPLOAD_BYTES = 200 * 1024 * 1024
# Events dated up to this long after "now" are accepted: source clocks and time zones differ.
FUTURE_SLACK = timedelta(days=1)
_MAX_PROBLEMS_SHOWN = 6
_MAX_VALUE_CHARS = 40


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


def check_options(con, kind: str, mapping: dict, constants: dict, ts_format: str | None) -> None:
    """InputError for an unknown ``kind``, ``--map`` / ``--set`` naming no column of it or
    the same one, a constant customer id or a ``--ts-format`` DuckDB's strptime refuses."""
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
            run_query(con, "ingest_01_options_check_ts_format", ts_format=ts_format)
        except duckdb.Error as exc:
            raise InputError(f"--ts-format {ts_format!r} is not a valid strptime format "
                             f"(e.g. %Y%m%d or '%d.%m.%Y %H:%M'): {first_line(exc)}") from exc


#: The columns whose values a message masks (:func:`~segmentation.errors.masked_value`).
_MASKED_COLUMNS = frozenset({"customer_id", "email", "phone", "first_name", "last_name", "zip", "city", "state"})


def resolve_columns(name: str, kind: str, header: list[str], mapping: dict,
                    constants: dict) -> dict[str, int]:
    """Canonical column → position in the file: mapped first, else named by the file itself
    (:func:`~segmentation.ingest.columns.match_columns`: 'Customer ID', 'E-Mail', 'FirstName')."""
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
    sources.update(match_columns(kind, header, sources, constants))
    missing = [c for c in REQUIRED[kind] if c not in sources and c not in constants]
    if missing:
        settable = [c for c in missing if c != "customer_id"]
        constant_hint = f", or give a constant with --set {settable[-1]}=VALUE" if settable else ""
        raise InputError(
            f"{name}: missing required {kind} column{'s' if len(missing) > 1 else ''} "
            f"{', '.join(missing)} (columns found: {found}); rename them in the file or map them "
            f"with --map {missing[0]}=YOUR_COLUMN{constant_hint}")
    return sources


def find_problems(con, kind: str, now: datetime) -> tuple[list[tuple], int]:
    """Validate the staged rows: (problems, number of bad rows).

    ``problems``: one (column, problem, n_rows, first rows, sample values) per kind of
    problem, from ``ingest_problem_summary``; the bad rows are kept in ``ingest_bad``.
    Events dated after ``now`` plus :data:`FUTURE_SLACK` are a problem.
    """
    if kind == "events":
        run_query(con, "ingest_08_problems_create_events", latest=now + FUTURE_SLACK)
    else:
        run_query(con, "ingest_08_problems_create_customers")
    run_query(con, "ingest_09_bad_create")
    problems = run_query(con, "ingest_10_bad_select_summary")
    [(n_bad,)] = run_query(con, "ingest_11_bad_count")
    return problems, n_bad


def import_warnings(con, name: str, kind: str, sources: dict, constants: dict, header: list[str]) -> list[str]:
    """Warnings of an accepted import, one line each (no PII): the file's columns not imported, unknown event
    types and channels stored as 'other', no amount column, no consent column."""
    warnings: list[str] = []
    left = [column for index, column in enumerate(header) if index not in sources.values()]
    if left:
        warnings.append(f"{name}: {_count(len(left), 'column')} of the file not imported ({_quoted_list(left)}): "
                        f"{'its name is' if len(left) == 1 else 'their names are'} not one of the {kind} columns; "
                        "--map imports a column under one of them")
    if kind == "events":
        known = {"event_type": EVENT_TYPES, "channel": CHANNELS}
        for column, n_rows, n_distinct, sample in run_query(con, "ingest_16_staged_select_warnings_events"):
            if n_rows:
                more = ", …" if n_distinct > len(sample) else ""
                warnings.append(
                    f"{name}: column {column!r}: {_count(n_rows, 'row')} with {n_distinct} unknown "
                    f"value{'s' if n_distinct > 1 else ''} ({_quoted_list(sample)}{more}) stored as "
                    f"'other'; known values are {', '.join(known[column])}")
        if "amount" not in sources and "amount" not in constants:
            warnings.append(f"{name}: no amount column; amounts are stored as 0")
    elif "consent_ads" not in sources and "consent_ads" not in constants:
        warnings.append(f"{name}: no consent_ads column; consent is unknown for the customers new in this file "
                        "(exports leave them out unless asked), and those already stored keep theirs")
    return warnings


def problems_message(name: str, n_bad: int, problems: list[tuple], header: list[str],
                     sources: dict, constants: dict, ts_format: str | None) -> str:
    """The message of a refused file: each kind of problem with its column, rows and values."""
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
        # no contact data in a message: an id or contact column's values masked where they hold it (a shop keyed
        # on e-mail addresses); dates, amounts and types are shown, they are what to fix
        values = [masked_value(v) if column in _MASKED_COLUMNS else v for v in sample if v]
        shown = f": {_quoted_list(values)}" if values else ""
        parts.append(f"{where}: {problem} in {_count(n_rows, 'row')} "
                     f"(row{'s' if n_rows > 1 else ''} {rows}){shown}")
    if len(problems) > _MAX_PROBLEMS_SHOWN:
        parts.append(f"and {len(problems) - _MAX_PROBLEMS_SHOWN} more kinds of problem")
    return (f"{name}: {_count(n_bad, 'bad row')}, nothing was imported — "
            + "; ".join(parts)
            + ". Fix the file, or use --quarantine to import the good rows and keep the bad ones "
              "in the rejects table.")


def _count(n: int, noun: str) -> str:
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


def _quoted_list(values, limit: int = 20) -> str:
    shown = [repr(v if len(v) <= _MAX_VALUE_CHARS else v[:_MAX_VALUE_CHARS] + "…")
             for v in list(values)[:limit]]
    return ", ".join(shown) + (f" and {len(values) - limit} more" if len(values) > limit else "")

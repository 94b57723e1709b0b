"""The read model: every fact the command line and the app read from the store, one plain function each.

Each function is ``f(con, ...) -> DataFrame | dict | int`` on an open DuckDB connection and runs one
query file (or the stored-run reads of :mod:`segmentation.data.results`, which it names). The command
line calls them on the connection it opens; the app calls the same functions through one cached
wrapper (``segmentation/ui/common.py``: ``cached``), so both read each fact the same way and the app
adds only caching. Reads that combine these with a pure computation (value over time, emerging alerts,
customer flows) are one layer up, in :mod:`segmentation.workflows.reports`.

Contact data never leaves the database through here except masked (:func:`members_sample`).
"""

from __future__ import annotations

from typing import Any, Iterable, Sequence

import duckdb
import pandas as pd

from segmentation.data import results
from segmentation.data.queries import load_query
from segmentation.data.store import fetch_row

__all__ = [
    "runs", "run", "segments", "segment_history", "segments_timeline", "lineage_history", "transitions",
    "name_history", "assignments", "value_rows", "map_points", "members_sample", "probability_histogram",
    "selection_behaviour", "data_summary", "customers_with_events", "event_customers", "event_mix", "imports", "rejects",
]


def _frame(con: duckdb.DuckDBPyConnection, query: str, **params: Any) -> pd.DataFrame:
    return con.execute(load_query(query), params).df()


# ------------------------------------------------------------------ runs and segments
def runs(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Complete runs, newest first (``params`` and ``metrics`` as stored JSON text)."""
    return results.list_runs(con)


def run(con: duckdb.DuckDBPyConnection, run_id: int) -> dict[str, Any]:
    """One complete run with ``params`` and ``metrics`` parsed; NotFoundError names the known ids."""
    return results.get_run(con, run_id)


def segments(con: duckdb.DuckDBPyConnection, run_id: int | None = None) -> pd.DataFrame:
    """Segments of ``run_id`` (default: the latest run), largest first, noise last, ``profile`` parsed
    (None where none is stored); NotFoundError for an unknown run."""
    return results.list_segments(con, run_id)


def segment_history(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Every segment of every complete run, oldest snapshot first, with the run's customer count and
    ``profile`` parsed (emerging alerts and their growth)."""
    return results.segment_history(con)


def segments_timeline(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Every segment of every complete run without profiles (cheap at any number of runs):
    ``as_of, run_id, segment_id, lineage_id, size, name, suggested_name, transition``, oldest first."""
    return _frame(con, "segments_select_timeline")


def lineage_history(con: duckdb.DuckDBPyConnection, lineage_id: int) -> pd.DataFrame:
    """Every snapshot of one lineage, oldest first, with its ``share`` of the run's customers."""
    return _frame(con, "segments_select_lineage_history", lineage_id=int(lineage_id))


def transitions(con: duckdb.DuckDBPyConnection, run_id: int) -> pd.DataFrame:
    """Transitions into ``run_id`` from the run it was tracked against, with both sides' labels and sizes
    (emerged first, then split, merged, disappeared, survived); empty for a first snapshot."""
    return _frame(con, "transitions_select_of_run", run_id=int(run_id))


def name_history(con: duckdb.DuckDBPyConnection, lineage_id: int) -> pd.DataFrame:
    """Name and description changes of one lineage (who and when), newest first."""
    return _frame(con, "name_history_select_of_lineage", lineage_id=int(lineage_id))


def assignments(con: duckdb.DuckDBPyConnection, run_id: int) -> pd.DataFrame:
    """``customer_id, segment_id, probability`` of every customer of a run."""
    return _frame(con, "assignments_select_of_run", run_id=int(run_id))


def value_rows(con: duckdb.DuckDBPyConnection, run_ids: Iterable[int] | None = None) -> pd.DataFrame:
    """Customers, purchases, revenue and quiet customers per (run, segment) of ``run_ids`` (all for None)
    and the runs just before them (:func:`segmentation.data.results.value_rows`)."""
    return results.value_rows(con, run_ids)


# ------------------------------------------------------------------ customers of a run
def map_points(con: duckdb.DuckDBPyConnection, run_id: int, limit: int) -> pd.DataFrame:
    """About ``limit`` map points of a run, each segment keeping its share (at least 200, or all it has),
    the same customers on every call; ``segment_size`` and ``total`` scale counts back up."""
    return _frame(con, "assignments_select_map_points", run_id=int(run_id), limit=int(limit))


def members_sample(con: duckdb.DuckDBPyConnection, run_id: int, segment_id: int, limit: int) -> pd.DataFrame:
    """Up to ``limit`` members of a segment with their contact data masked in the database."""
    return _frame(con, "assignments_select_members_sample", run_id=int(run_id), segment_id=int(segment_id), limit=int(limit))


def probability_histogram(con: duckdb.DuckDBPyConnection, run_id: int, segment_id: int) -> pd.DataFrame:
    """Membership probability of a segment's customers in 20 bins of 0.05 (``bin_start, customers``)."""
    return _frame(con, "assignments_count_by_probability", run_id=int(run_id), segment_id=int(segment_id))


def selection_behaviour(con: duckdb.DuckDBPyConnection, customer_ids: Sequence[str], as_of,
                        window_days: int) -> dict[str, Any]:
    """Aggregate behaviour of a set of customers in the window ``[as_of - window_days, as_of]``:
    ``active_customers, events, purchases, spend, top_channel, top_category`` (never a row per customer)."""
    frame = _frame(con, "events_select_selection_behaviour", customer_ids=customer_ids, as_of=as_of,
                   window_days=int(window_days))
    return frame.iloc[0].to_dict()


# ------------------------------------------------------------------ the data
def data_summary(con: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    """Counts and date range of the stored data, cheap at any size: ``n_events, max_ingest_id,
    n_customers, first_event, last_event, n_imports, n_runs, n_demo_truth_rows``."""
    return _frame(con, "database_select_summary").iloc[0].to_dict()


def customers_with_events(con: duckdb.DuckDBPyConnection) -> int:
    """Distinct customers with at least one event (a scan of the events: seconds on ~100 M of them)."""
    return int(fetch_row(con, "events_count_customers")[0])


def event_customers(con: duckdb.DuckDBPyConnection) -> tuple[int, int]:
    """Distinct customers with at least one event, and how many of them have no customer record (no contact
    data: an export cannot reach them); a scan of the events."""
    with_events, without_record = fetch_row(con, "events_count_customers_unrecorded")
    return int(with_events), int(without_record)


def event_mix(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Events per week by event type and channel (``week, event_type, channel, events``): a scan of the events."""
    return _frame(con, "events_count_by_week")


def imports(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Imports, newest first (``ingest_id, created_at, kind, file, n_rows, n_rejected, n_warnings``)."""
    return _frame(con, "ingests_list")


def rejects(con: duckdb.DuckDBPyConnection, ingest_id: int) -> pd.DataFrame:
    """The rows one import kept aside (``row_number, reason, raw``), in file order."""
    return _frame(con, "rejects_select_of_ingest", ingest_id=int(ingest_id))

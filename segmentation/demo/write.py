"""Storing demo data: the demo tables and the ground truth, in one transaction.

This module holds :func:`write_demo`, which puts generated events, customers and the
persona truth (``demo_truth``) into the database and records the import in ``ingests``
(kind ``demo``), refusing to overwrite data unless asked to replace it; the checks it
and :func:`~segmentation.demo.generate.create_demo` share (:func:`existing_rows`,
:func:`refuse_if_filled`); and :func:`persona_counts`, the per-persona summary of the truth.
"""

from __future__ import annotations

import hashlib
import json
import time
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from segmentation.data.queries import execute_named
from segmentation.data.store import transaction
from segmentation.demo.personas import PERSONAS
from segmentation.errors import WorkbenchError

if TYPE_CHECKING:
    from segmentation.demo.generate import DemoData

__all__ = ["DEMO_TABLES", "existing_rows", "refuse_if_filled", "persona_counts", "write_demo"]

_INSERT_EVENTS = """
INSERT INTO events (customer_id, ts, event_type, channel, category, amount, quantity, ingest_id)
SELECT CAST(customer_id AS VARCHAR), ts, CAST(event_type AS VARCHAR), CAST(channel AS VARCHAR),
       CAST(category AS VARCHAR), amount, quantity, NULL
FROM demo_events_frame
"""
_INSERT_CUSTOMERS = """
INSERT INTO customers (customer_id, email, phone, first_name, last_name, country, zip, city,
                       state, consent_ads, ingest_id)
SELECT customer_id, email, phone, first_name, last_name, country, zip, city, state, consent_ads,
       NULL
FROM demo_customers_frame
"""
_INSERT_TRUTH = """
INSERT INTO demo_truth (customer_id, month, persona)
SELECT CAST(customer_id AS VARCHAR), CAST(month AS DATE), CAST(persona AS VARCHAR)
FROM demo_truth_frame
"""
_INSERT_INGEST = """
INSERT INTO ingests (ingest_id, created_at, kind, file, fingerprint, n_rows, options)
SELECT coalesce(max(ingest_id), 0) + 1, current_timestamp, 'demo', $file, $fingerprint, $n_rows,
       CAST($options AS JSON)
FROM ingests
"""
DEMO_TABLES = ("events", "customers", "demo_truth")


def existing_rows(con) -> dict[str, int]:
    """Rows in each of :data:`DEMO_TABLES` now (table → count)."""
    # fetchall() (not fetchone) so no unfinished result blocks con.register() in DuckDB 2.
    counts = con.execute(
        "SELECT (SELECT count(*) FROM events), (SELECT count(*) FROM customers), "
        "(SELECT count(*) FROM demo_truth)").fetchall()[0]
    return dict(zip(DEMO_TABLES, (int(c) for c in counts)))


def refuse_if_filled(existing: dict[str, int]) -> None:
    """WorkbenchError when the demo tables hold rows (``existing`` from :func:`existing_rows`)."""
    if any(existing.values()):
        raise WorkbenchError(
            f"The database already holds {existing['events']:,} events and "
            f"{existing['customers']:,} customers; run demo with --replace to delete them "
            "and write new demo data.")


def persona_counts(truth: pd.DataFrame, month_index: int = -1) -> dict[str, int]:
    """Customers per persona in one month of ``truth`` (default: the last month)."""
    months = np.sort(truth["month"].unique())
    at = truth[truth["month"] == months[month_index]]
    counts = at["persona"].astype(str).value_counts()
    return {key: int(counts.get(key, 0)) for key in PERSONAS}


def write_demo(con, data: DemoData, replace: bool = False) -> dict:
    """Store ``data`` in events, customers and demo_truth in one transaction.

    Refuses (``WorkbenchError``) when those tables already hold rows, unless
    ``replace``, which first deletes every row of the three tables. Records an
    ``ingests`` row (kind 'demo'). Returns a summary; ``seconds`` is wall time.
    """
    t0 = time.perf_counter()
    params = data.params
    label = (f"demo:seed={params['seed']},customers={params['customers']},"
             f"months={params['months']}" + (",stationary" if params.get("stationary") else ""))
    fingerprint = hashlib.sha256(json.dumps(params, sort_keys=True).encode()).hexdigest()
    frames = {"demo_events_frame": data.events, "demo_customers_frame": data.customers,
              "demo_truth_frame": data.truth}
    try:
        with transaction(con):
            existing = existing_rows(con)
            if not replace:
                refuse_if_filled(existing)
            else:
                for table in DEMO_TABLES:  # fixed names, never user text
                    execute_named(con, "delete_all_rows", table)
            for name, frame in frames.items():
                con.register(name, frame)
            con.execute(_INSERT_EVENTS)
            con.execute(_INSERT_CUSTOMERS)
            con.execute(_INSERT_TRUTH)
            con.execute(_INSERT_INGEST, {"file": label, "fingerprint": fingerprint,
                                         "n_rows": len(data.events), "options": json.dumps(params)})
    finally:
        for name in frames:
            try:
                con.unregister(name)
            except Exception:  # not registered because we failed before
                pass
    return {
        "customers": len(data.customers), "events": len(data.events),
        "truth_rows": len(data.truth), "months": params["months"], "seed": params["seed"],
        "start": params["start"], "end": params["end"], "stationary": params["stationary"],
        "replaced": {t: n for t, n in existing.items() if n} if replace else {},
        "persona_counts_last_month": persona_counts(data.truth),
        "seconds": round(time.perf_counter() - t0, 3),
    }

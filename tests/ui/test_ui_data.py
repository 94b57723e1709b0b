"""AppTest: the Data page, empty and with data."""

from __future__ import annotations

from datetime import datetime

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from segmentation.data import store
from tests.helpers import ROOT

APP = str(ROOT / "app.py")


def _app(db_file, monkeypatch) -> AppTest:
    monkeypatch.setenv("SEGMENTATION_DB", str(db_file))
    at = AppTest.from_file(APP, default_timeout=60).run()  # opens on the Overview
    return at.switch_page("segmentation/ui/data.py")


def test_data_page_empty_offers_demo(db_file, monkeypatch):
    at = _app(db_file, monkeypatch).run()
    assert not at.exception
    assert at.title[0].value == "Data"
    assert any("no events yet" in info.value for info in at.info)
    assert [b.label for b in at.button] == ["Create demo data"]


def test_data_page_with_events(db_file, monkeypatch):
    events = pd.DataFrame({
        "customer_id": ["C1", "C1", "C2", "C3"],
        "ts": [datetime(2025, 3, 1, 10), datetime(2025, 3, 9, 22), datetime(2025, 3, 2, 8),
               datetime(2025, 4, 1, 12)],
        "event_type": ["view", "purchase", "email_open", "purchase"],
        "channel": ["web", "web", "email", "app"],
        "category": ["books", "books", None, "gaming"],
        "amount": [0.0, 25.0, 0.0, 60.0],
        "quantity": [None, 1.0, None, 2.0],
    })
    with store.connect(db_file) as con:
        con.register("new_events", events)
        con.execute("INSERT INTO events (customer_id, ts, event_type, channel, category, amount, quantity) "
                    "SELECT * FROM new_events")
    at = _app(db_file, monkeypatch).run()
    assert not at.exception
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Customers with events"] == "3"
    assert metrics["Events"] == "4"
    assert metrics["First event"] == "2025-03-01"
    assert metrics["Last event"] == "2025-04-01"
    charts = at.get("plotly_chart")
    assert len(charts) == 2
    # The chart carries aggregates only: no customer ids.
    assert all("C1" not in chart.proto.spec for chart in charts)
    assert not [c.value for c in at.caption if "customer records" in c.value]  # no customer records: nothing to say
    # two of the three have a customer record: the page says the third cannot be reached by an export
    with store.connect(db_file) as con:
        con.execute("INSERT INTO customers (customer_id, email) VALUES ('C1', 'a@example.com'), ('C2', NULL)")
    at = _app(db_file, monkeypatch).run()
    assert [c.value for c in at.caption if "customer records" in c.value] == [
        "2 customer records (contact data stays out of every chart); 1 customer with events has none: in the "
        "segments, but no audience export can reach that customer (no contact data)."]

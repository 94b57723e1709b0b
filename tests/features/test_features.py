"""Feature SQL + pivot: hand-computed numbers on a tiny dataset, window edges, partial data."""

from __future__ import annotations

from datetime import date, datetime

import numpy as np
import pandas as pd
import pytest

from segmentation.data import store
from segmentation.errors import InputError
from segmentation.features.catalog import KINDS, feature_catalog, slugify
from segmentation.features.table import FeatureTable, build_features, fill_missing_features, no_activity_value

AS_OF = date(2024, 3, 31)  # a Sunday
WINDOW = 30  # window: [2024-03-01 00:00, 2024-04-01 00:00); recent half from 2024-03-16 12:00

# customer_id, ts, event_type, channel, category, amount
EVENTS = [
    # "001": 6 events in the window (leading zero must survive)
    ("001", "2024-02-29 23:59:59", "view", "web", "gaming", 0),        # 1 s before the window
    ("001", "2024-03-02 08:00:00", "view", "web", "gaming", 0),        # Saturday morning
    ("001", "2024-03-02 08:05:00", "cart", "web", "gaming", 0),
    ("001", "2024-03-02 08:10:00", "purchase", "web", "gaming", 100),
    ("001", "2024-03-10 14:00:00", "view", "web", "gaming", 0),        # Sunday afternoon
    ("001", "2024-03-20 22:00:00", "view", "app", "books", 0),         # Wednesday evening
    ("001", "2024-03-31 23:59:59", "purchase", "app", "books", 50),    # as-of day, last second
    ("001", "2024-04-01 00:00:00", "view", "web", "gaming", 0),        # after the window
    # "B2": a night owl with email, abandoned cart and a refund (9 events)
    ("B2", "2024-03-05 02:00:00", "email_open", "email", None, 0),
    ("B2", "2024-03-05 02:01:00", "email_click", "email", None, 0),
    ("B2", "2024-03-06 03:00:00", "view", "web", "books", 0),
    ("B2", "2024-03-06 03:02:00", "view", "web", "books", 0),
    ("B2", "2024-03-06 03:05:00", "cart", "web", "books", 0),
    ("B2", "2024-03-06 03:06:00", "cart", "web", "books", 0),
    ("B2", "2024-03-25 19:00:00", "purchase", "store", "books", 30),
    ("B2", "2024-03-26 19:00:00", "refund", "store", "books", 30),
    ("B2", "2024-03-27 12:00:00", "email_open", "email", None, 0),
    # "c-3": one app session on a Friday evening in the window
    ("c-3", "2024-01-10 10:00:00", "view", "web", "gaming", 0),
    ("c-3", "2024-03-15 18:00:00", "app_open", "app", None, None),
    # "e5": bought in a store without any view (conversion 1, not 0)
    ("e5", "2024-03-30 10:00:00", "purchase", "store", None, 40),
    # "d4": active only before the window
    ("d4", "2024-02-01 12:00:00", "purchase", "web", "gaming", 20),
]


def _insert(con, rows) -> None:
    frame = pd.DataFrame(rows, columns=["customer_id", "ts", "event_type", "channel", "category", "amount"])
    frame["ts"] = pd.to_datetime(frame["ts"])
    frame["amount"] = frame["amount"].astype(float)
    con.register("new_events", frame)
    con.execute(
        "INSERT INTO events (customer_id, ts, event_type, channel, category, amount) "
        "SELECT customer_id, ts, event_type, channel, category, amount FROM new_events"
    )
    con.unregister("new_events")


@pytest.fixture(scope="module")
def tiny_db(tmp_path_factory):
    path = tmp_path_factory.mktemp("features") / "tiny.duckdb"
    with store.connect(path) as con:
        _insert(con, EVENTS)
    return path


@pytest.fixture(scope="module")
def table(tiny_db) -> FeatureTable:
    with store.connect(tiny_db, read_only=True) as con:
        return build_features(con, AS_OF, WINDOW)


def test_customers_in_window_only(table):
    assert list(table.frame.index) == ["001", "B2", "c-3", "e5"]
    assert table.frame.index.name == "customer_id"
    assert table.as_of == AS_OF and table.window_days == WINDOW


def test_hand_computed_customer_001(table):
    row = table.frame.loc["001"]
    expected = {
        "recency_days": 0,            # active on the as-of day (23:59:59 included)
        "frequency": 6,               # the events 1 s before and at 00:00 after are excluded
        "active_days": 4,             # 03-02, 03-10, 03-20, 03-31
        "n_purchases": 2,
        "monetary": 150,
        "avg_basket": 75,
        "purchase_interval_days": 29,  # 03-02 -> 03-31
        # rates shrunk toward all customers' rate with two pseudo-events (all customers in the
        # window: 4 purchases / 5 views, 1 abandoned / 3 carts, 1 refund / 4 purchases, 1 click / 2 opens)
        "conversion": (2 + 2 * 0.8) / (3 + 2),
        "cart_abandonment": (0 + 2 / 3) / (1 + 2),   # 1 cart, 2 purchases
        "refund_rate": (0 + 2 * 0.25) / (2 + 2),
        "email_open_rate": 0,
        "event_view": 3 / 6,
        "event_cart": 1 / 6,
        "event_purchase": 2 / 6,
        "time_night": 0,
        "time_morning": 3 / 6,
        "time_afternoon": 1 / 6,
        "time_evening": 2 / 6,
        "weekend": 5 / 6,             # Sat x3, Sun 03-10, Sun 03-31
        "trend": 2 / 6,               # 03-20 and 03-31 are in the recent half
        "channel_web": 4 / 6,
        "channel_app": 2 / 6,
        "channel_email": 0,
        "channel_store": 0,
        "category_gaming": 4 / 6,
        "category_books": 2 / 6,
    }
    for name, value in expected.items():
        assert row[name] == pytest.approx(value), name


def test_hand_computed_customer_b2(table):
    row = table.frame.loc["B2"]
    expected = {
        "recency_days": 4,            # last event 03-27
        "frequency": 9,
        "active_days": 5,
        "n_purchases": 1,
        "monetary": 30,
        "avg_basket": 30,
        "purchase_interval_days": WINDOW,  # one purchase day -> window length
        "conversion": (1 + 2 * 0.8) / (2 + 2),
        "cart_abandonment": (1 + 2 / 3) / (2 + 2),   # 2 carts, 1 purchase
        "refund_rate": (1 + 2 * 0.25) / (1 + 2),
        "email_open_rate": 2 * 30 / 31,  # per 30 days of a 31-day window
        # email_click_rate is 0.5 for everyone here (shrunk), a constant: left out of the table
        "event_email_open": 2 / 9,
        "event_refund": 1 / 9,
        "time_night": 6 / 9,
        "time_morning": 0,
        "time_afternoon": 1 / 9,
        "time_evening": 2 / 9,
        "weekend": 0,
        "trend": 3 / 9,
        "channel_email": 3 / 9,
        "channel_web": 4 / 9,
        "channel_store": 2 / 9,
        "category_books": 1,          # shares of category-tagged events only
        "category_gaming": 0,
    }
    for name, value in expected.items():
        assert row[name] == pytest.approx(value), name


def test_neutral_fills_for_inactive_parts(table):
    row = table.frame.loc["c-3"]
    assert row["recency_days"] == 16
    assert row["frequency"] == 1
    assert row["avg_basket"] == 40  # no purchase: the median basket of the buyers (75, 30, 40)
    assert row["monetary"] == 0
    assert row["purchase_interval_days"] == WINDOW
    assert row["conversion"] == pytest.approx(0.8)  # no view, no purchase: all customers' rate
    assert row["time_evening"] == 1
    assert row["trend"] == 0  # 03-15 18:00 is before the middle of the window
    assert row["channel_app"] == 1
    assert row[[c for c in table.frame.columns if c.startswith("category_")]].sum() == 0


def test_buying_without_viewing_converts(table):
    row = table.frame.loc["e5"]
    assert (row["conversion"], row["avg_basket"], row["recency_days"], row["channel_store"]) == (1, 40, 1, 1)


def test_found_channels_categories_and_left_out_types(table):
    columns = list(table.frame.columns)
    assert [c for c in columns if c.startswith("channel_")] == [
        "channel_app", "channel_email", "channel_store", "channel_web"]
    assert [c for c in columns if c.startswith("category_")] == ["category_books", "category_gaming"]
    for absent in ("event_search", "event_store_visit", "event_other"):
        assert absent not in columns
        assert any(note.startswith(f"{absent} left out") for note in table.notes)
    shares = table.frame[[c for c in columns if c.startswith("channel_")]].sum(axis=1)
    np.testing.assert_allclose(shares, 1.0)
    times = table.frame[["time_night", "time_morning", "time_afternoon", "time_evening"]].sum(axis=1)
    np.testing.assert_allclose(times, 1.0)


def test_frame_hygiene_and_catalog_match(table):
    frame = table.frame
    assert all(dtype == np.float64 for dtype in frame.dtypes)
    assert np.isfinite(frame.to_numpy()).all()
    assert [f.name for f in table.catalog] == list(frame.columns)
    assert {f.kind for f in table.catalog} <= set(KINDS)


def test_window_boundaries(tiny_db):
    with store.connect(tiny_db, read_only=True) as con:
        # as of 03-30 the last-second purchase of 03-31 is in the future
        earlier = build_features(con, date(2024, 3, 30), WINDOW).frame
        # a window starting on 02-29 includes the event at 23:59:59 that day and d4 is still out
        wider = build_features(con, AS_OF, 31).frame
    assert earlier.loc["001", "frequency"] == 6  # 02-29 23:59:59 now in, 03-31 out
    assert earlier.loc["001", "n_purchases"] == 1
    assert wider.loc["001", "frequency"] == 7
    assert "d4" not in wider.index


def test_catalog_static_and_dynamic(tiny_db):
    static = feature_catalog()
    names = [f.name for f in static]
    assert len(names) == len(set(names))
    for feature in static:
        assert feature.kind in KINDS
        assert feature.name == slugify(feature.name)
        assert feature.label and feature.description and feature.label != feature.name
    for expected in ("recency_days", "frequency", "monetary", "avg_basket", "conversion",
                     "cart_abandonment", "refund_rate", "email_open_rate", "email_click_rate",
                     "purchase_interval_days", "trend", "weekend", "time_night"):
        assert expected in names
    assert next(f for f in static if f.name == "time_night").label == "night-time activity"
    with store.connect(tiny_db, read_only=True) as con:
        dynamic = feature_catalog(con)
    dynamic_names = [f.name for f in dynamic]
    assert dynamic_names[: len(names)] == names
    assert {"channel_app", "channel_web", "category_books", "category_gaming"} <= set(dynamic_names)
    app = next(f for f in dynamic if f.name == "channel_app")
    assert app.label == "app use" and app.description == "share of the customer's events on the mobile app"


def test_purchases_only_data(db_file):
    rows = [
        (f"p{i}", f"2024-03-{day:02d} {hour:02d}:00:00", "purchase", channel, None, amount)
        for i, (day, hour, channel, amount) in enumerate(
            [(3, 9, "web", 10.0), (9, 21, "store", 80.0), (20, 13, None, 25.5), (30, 2, "web", 5.0)]
        )
    ] + [("p0", "2024-03-25 10:00:00", "purchase", "web", None, 30.0)]
    with store.connect(db_file) as con:
        _insert(con, rows)
        table = build_features(con, AS_OF, WINDOW)
    frame = table.frame
    assert np.isfinite(frame.to_numpy()).all()
    assert frame.loc["p0", "monetary"] == 40 and frame.loc["p0", "avg_basket"] == 20
    assert frame.loc["p0", "purchase_interval_days"] == 22
    assert frame.loc["p2", "channel_unknown"] == 1
    for left_out in ("conversion", "cart_abandonment", "refund_rate", "email_open_rate",
                     "email_click_rate", "event_view"):
        assert left_out not in frame.columns
        assert any(note.startswith(f"{left_out} left out: no '") for note in table.notes), left_out
    # every event is a purchase: the share is the same for everyone and says nothing
    assert "event_purchase" not in frame.columns
    assert any(note.startswith("event_purchase left out: the same value (1)") for note in table.notes)
    assert any("no event in the window carries a category" in note for note in table.notes)


def test_empty_window_names_dates_and_range(tiny_db, db_file):
    with store.connect(tiny_db, read_only=True) as con:
        with pytest.raises(InputError) as caught:
            build_features(con, date(2025, 6, 30), 30)
    message = str(caught.value)
    assert "2025-05-31 .. 2025-06-30" in message and "30 days back from the as-of date 2025-06-30" in message
    assert "2024-01-10 .. 2024-04-01" in message
    with store.connect(db_file) as con:
        with pytest.raises(InputError, match="holds no events"):
            build_features(con, AS_OF, WINDOW)


def test_bad_arguments(tiny_db):
    with store.connect(tiny_db, read_only=True) as con:
        with pytest.raises(InputError, match="at least 1 day"):
            build_features(con, AS_OF, 0)
        with pytest.raises(InputError, match="not a date"):
            build_features(con, "31/03/2024", WINDOW)
        as_text = build_features(con, "2024-03-31", WINDOW).frame
        as_datetime = build_features(con, datetime(2024, 3, 31, 15, 0), WINDOW).frame
    pd.testing.assert_frame_equal(as_text, as_datetime)


def test_rare_categories_folded_and_slugs_merged(db_file):
    rows = [
        ("x", "2024-03-10 10:00:00", "view", "web", "Home & Garden", 0),
        ("x", "2024-03-10 10:01:00", "view", "web", "home  garden ", 0),
        ("x", "2024-03-10 10:02:00", "view", "web", "Toys", 0),
        ("y", "2024-03-11 10:00:00", "view", "app", "Toys", 0),
        ("y", "2024-03-11 10:00:00", "view", "app", "Books", 0),
        ("z", "2024-03-12 10:00:00", "view", "app", "Books", 0),
        ("z", "2024-03-12 10:05:00", "view", "app", "books", 0),
    ]
    with store.connect(db_file) as con:
        _insert(con, rows)
        merged = build_features(con, AS_OF, WINDOW)
        folded = build_features(con, AS_OF, WINDOW, max_categories=1)
    assert merged.frame.loc["x", "category_home_garden"] == pytest.approx(2 / 3)
    assert [c for c in merged.frame.columns if c.startswith("category_")] == [
        "category_books", "category_home_garden", "category_toys"]
    # books has the most events (3): kept; the others fold into one column
    assert [c for c in folded.frame.columns if c.startswith("category_")] == [
        "category_books", "category_other"]
    assert folded.frame.loc["x", "category_other"] == pytest.approx(1.0)
    assert folded.frame.loc["y", "category_other"] == pytest.approx(0.5)
    assert any("folded into category_other" in note for note in folded.notes)


def test_slugify():
    assert slugify("Home & Garden") == "home_garden"
    assert slugify("  Video-Games ") == "video_games"
    assert slugify("!!!") == "unnamed"


def test_undefined_values_are_filled_and_counted_in_a_note(db_file):
    """NaN/inf (never from the SQL itself, but a NaN or infinite amount gets through) are
    replaced, and a note says how many customers and which features (issue 17)."""
    with store.connect(db_file) as con:
        _insert(con, EVENTS)
        con.execute("UPDATE events SET amount = 'nan'::DOUBLE WHERE customer_id = '001' AND amount = 100")
        con.execute("UPDATE events SET amount = 'inf'::DOUBLE WHERE customer_id = 'e5'")
        table = build_features(con, AS_OF, WINDOW)
    assert np.isfinite(table.frame.to_numpy()).all()
    assert table.frame.loc["001", "monetary"] == 0 and table.frame.loc["e5", "monetary"] == 0
    assert table.frame.loc["B2", "monetary"] == 30  # untouched
    [note] = table.fill_notes
    assert note in table.notes
    assert note.startswith("3 customers had undefined values (NaN or infinity) in 2 features")
    assert "monetary (2 customers)" in note and "avg_basket (3 customers)" in note
    assert not any(customer in note for customer in ("001", "B2", "c-3", "e5"))  # counts, never who


def test_clean_data_has_no_fill_note(table):
    assert table.fill_notes == [] and not any("undefined" in note for note in table.notes)


def test_features_the_data_lack_get_the_value_for_no_such_activity(table):
    """A run's feature missing from new data: 0 for counts and shares, the window length for
    days (0 days since the last activity would mean "active today"), the shared value for one
    left out as the same for everyone (here email_click_rate, 0.5)."""
    assert table.constants == {"email_click_rate": 0.5}
    lacking = FeatureTable(frame=table.frame.drop(columns=["recency_days", "purchase_interval_days"]),
                           catalog=table.catalog, window_days=WINDOW, constants=table.constants)
    expected = ["recency_days", "frequency", "purchase_interval_days", "channel_social", "event_search",
                "email_click_rate", "cart_abandonment"]
    frame, note = fill_missing_features(lacking, expected)
    assert list(frame.columns) == expected and list(frame.index) == list(table.frame.index)
    assert (frame["recency_days"] == WINDOW).all() and (frame["purchase_interval_days"] == WINDOW).all()
    assert (frame["channel_social"] == 0).all() and (frame["event_search"] == 0).all()
    assert (frame["email_click_rate"] == 0.5).all()
    assert frame["frequency"].equals(table.frame["frequency"])
    assert note.startswith("5 features the models use are absent from the data and were filled in: ")
    assert f"recency_days = {WINDOW} (no such activity)" in note
    assert "email_click_rate = 0.5 (the same for every customer)" in note
    same, none = fill_missing_features(table, list(table.frame.columns))
    assert none is None and same.equals(table.frame)
    assert no_activity_value("cart_abandonment", WINDOW) == 0.5  # the SQL's prior without any cart


def test_the_same_events_give_bit_identical_features_whatever_order_the_threads_add_them_in(tmp_path):
    """Money is summed exactly: a DOUBLE sum over 300,000 events on four threads came out differently from
    run to run (4 distinct results in 10), and every fit starts from these values."""
    from segmentation.demo.generate import create_demo

    path = tmp_path / "threads.duckdb"
    with store.connect(path) as con:
        create_demo(con, customers=30_000, months=1, seed=3, stationary=True)
    with store.connect(path, read_only=True) as con:
        con.execute("SET threads = 4")
        tables = [build_features(con, date(2025, 1, 31), 30) for _ in range(6)]
    first = tables[0].frame
    assert len(first) == 30_000 and first["monetary"].gt(0).sum() > 10_000
    for table in tables[1:]:
        assert np.array_equal(table.frame.to_numpy(), first.to_numpy()), "the features changed between two runs"

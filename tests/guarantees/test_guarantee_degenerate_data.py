"""Degenerate data through the command line: a single customer, all customers identical, one event
type only, one day of data, a window with no activity and 100 % noise each give either a clear
one-line message (exit 1-4, no traceback, nothing stored) or a sensible stored result."""

from __future__ import annotations

import csv
import json
import random
from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from tests.guarantees.guarantee_tools import cli, one_line_error

START = datetime(2025, 1, 1)
TYPES = ["view", "search", "cart", "purchase", "email_open", "app_open"]
CHANNELS = ["web", "app", "email", "store"]


def _write(path: Path, rows: list[tuple]) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["customer_id", "ts", "event_type", "channel", "category", "amount"])
        writer.writerows(rows)
    return path


def _single_customer() -> list[tuple]:
    return [("c1", START + timedelta(days=d, hours=3), TYPES[d % 6], CHANNELS[d % 4], "books", 5 if d % 6 == 3 else 0)
            for d in range(40)]


def _identical_customers() -> list[tuple]:
    return [(f"c{c}", START + timedelta(days=d, hours=10), TYPES[d % 6], CHANNELS[d % 4], "home",
             9.5 if d % 6 == 3 else 0) for c in range(60) for d in range(20)]


def _one_event_type(rng: random.Random) -> list[tuple]:
    return [(f"c{c}", START + timedelta(days=rng.randint(0, 58), hours=rng.randint(0, 23)), "view",
             rng.choice(CHANNELS[:2]) if c % 2 else "email", rng.choice("ab") if c % 3 else "c", 0)
            for c in range(150) for _ in range(rng.randint(2, 12))]


def _one_day(rng: random.Random) -> list[tuple]:
    rows = []
    for c in range(150):
        night = c % 2 == 0  # two behaviours on the same day: night-time app buyers, daytime web browsers
        for _ in range(rng.randint(2, 10)):
            rows.append((f"c{c}", START + timedelta(hours=rng.choice([0, 1, 2, 23]) if night else rng.randint(9, 17),
                                                    minutes=rng.randint(0, 59)),
                         rng.choice(["purchase", "app_open"] if night else ["view", "search", "cart"]),
                         "app" if night else "web", "games" if night else "home",
                         round(rng.uniform(5, 20), 2) if night else 0))
    return rows


def _three_equal_groups(rng: random.Random) -> list[tuple]:
    rows = []
    for c in range(150):
        group = c % 3  # no group reaches half of the customers: with --min-cluster-share 0.5 all is noise
        for _ in range(10):
            rows.append((f"c{c}", START + timedelta(days=rng.randint(0, 58), hours=[2, 11, 19][group]),
                         ["view", "purchase", "email_open"][group], ["web", "store", "email"][group], "abc"[group],
                         [0, 30, 0][group]))
    return rows


def _database(tmp_path: Path, rows: list[tuple]) -> Path:
    db = tmp_path / "degenerate.duckdb"
    cli(db, "ingest", str(_write(tmp_path / "events.csv", rows)))
    return db


def _n_runs(db: Path) -> int:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute("SELECT count(*) FROM runs").fetchall()[0][0]
    finally:
        con.close()


RUN = ("run", "--as-of", "2025-02-28", "--window-days", "60")


@pytest.mark.parametrize("rows, options, code, message", [
    (_single_customer, ("--min-cluster-share", "0.05"), 2,
     "error: 1 customer is too few to segment: need at least 20 (the fewest the workbench segments)"),
    (_identical_customers, ("--min-cluster-share", "0.05"), 2,
     "error: no features left: all 0 feature columns are constant in the data"),
    (_three_equal_groups, ("--min-cluster-share", "0.5"), 2,
     "error: no segments found as of 2025-02-28: all 150 customers are noise, no group of at least 50% of the "
     "fitted customers (--min-cluster-share) stands out; nothing was stored. Try a smaller --min-cluster-share "
     "or a longer --window-days"),
], ids=["a single customer", "all customers identical", "100 % noise"])
def test_data_that_cannot_be_segmented_gets_one_clear_line_and_stores_nothing(tmp_path, rows, options, code, message):
    source = rows(random.Random(5)) if rows is _three_equal_groups else rows()
    db = _database(tmp_path, source)
    result = cli(db, *RUN, *options, check=False)
    assert result.returncode == code, result.stderr
    assert one_line_error(result) == message
    assert result.stdout == "" and _n_runs(db) == 0
    models = db.with_name("degenerate.models")
    assert not models.exists() or list(models.iterdir()) == []  # no model folder, not even a staging one


def test_a_window_with_no_activity_names_the_window_and_the_data_range(tmp_path):
    db = _database(tmp_path, _single_customer())
    result = cli(db, "run", "--as-of", "2024-06-30", "--window-days", "30", check=False)
    assert result.returncode == 2
    assert one_line_error(result) == (
        "error: No activity in the look-back window 2024-05-31 .. 2024-06-30 (30 days back from the as-of date "
        "2024-06-30): the events span 2025-01-01 .. 2025-02-09; choose an as-of date inside that range or a "
        "longer window")


@pytest.mark.parametrize("rows", [_one_event_type, _one_day], ids=["one event type only", "one day of data"])
def test_narrow_but_valid_data_gives_a_stored_run_with_segments(tmp_path, rows):
    db = _database(tmp_path, rows(random.Random(5)))
    result = cli(db, *RUN, "--min-cluster-share", "0.1", "--json", check=False)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    document = json.loads(result.stdout)
    assert document["n_customers"] == 150 and 1 <= document["n_segments"] <= 8
    assert document["noise_share"] < 0.5
    sizes = {s["segment_id"]: s["size"] for s in document["segments"]}
    assert sum(sizes.values()) == 150 and _n_runs(db) == 1

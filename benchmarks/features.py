"""Feature SQL (DuckDB) vs the same features in pandas, on synthetic events.

    .venv/bin/python benchmarks/features.py                 # 10,000,000 events, ~1M customers
    .venv/bin/python benchmarks/features.py --events 1000000

Generates events with numpy (vectorised), writes them to a DuckDB file in a
temporary folder, then times, each in a fresh child process (so peak memory is
measured per variant):

* ``build_features`` (queries/features/*.sql + the numpy pivot);
* the same features with pandas ``groupby`` on the events loaded into a
  DataFrame (compute time, and load + compute).

It checks that both give the same values (max absolute difference per
feature) and writes benchmarks/results/features.csv and .md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from datetime import date, datetime
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from segmentation.data import store  # noqa: E402
from segmentation.features.catalog import slugify  # noqa: E402
from segmentation.features.table import build_features  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
AS_OF = date(2024, 6, 30)
WINDOW_DAYS = 90
HISTORY_DAYS = 120  # events span 120 days, so a quarter of them fall before the window

EVENT_TYPES = ["view", "search", "cart", "purchase", "refund", "email_open", "email_click",
               "app_open", "store_visit", "other"]
CHANNELS = ["web", "app", "email", "store", "social", "ads", "other"]
CATEGORIES = ["electronics", "home", "grocery", "fashion", "gaming", "books", "sports", "beauty"]

# Six behaviour types so the data is not uniform noise: event-type mix, channel mix,
# category mix, peak hour, log-mean basket.
PERSONAS = [
    ([40, 20, 15, 5, 1, 5, 2, 5, 1, 6], [70, 5, 5, 2, 5, 10, 3], [4, 3, 1, 1, 1, 1, 1, 1], 13, 3.5),
    ([25, 5, 10, 15, 1, 5, 2, 30, 1, 6], [10, 75, 5, 2, 3, 3, 2], [1, 3, 5, 1, 1, 1, 1, 1], 20, 4.0),
    ([10, 2, 5, 20, 2, 2, 1, 2, 50, 6], [10, 5, 5, 75, 1, 2, 2], [2, 1, 1, 5, 1, 1, 1, 1], 15, 5.5),
    ([15, 5, 5, 10, 1, 35, 20, 2, 1, 6], [35, 5, 50, 2, 3, 3, 2], [1, 4, 1, 1, 1, 1, 4, 1], 8, 3.8),
    ([20, 5, 10, 25, 1, 2, 1, 30, 0, 6], [5, 85, 2, 1, 4, 1, 2], [1, 1, 1, 1, 8, 1, 1, 1], 0, 2.5),
    ([20, 5, 10, 25, 15, 5, 2, 10, 2, 6], [45, 40, 5, 5, 2, 1, 2], [1, 1, 1, 8, 1, 1, 1, 2], 22, 4.2),
]


def generate(n_events: int, n_customers: int, seed: int = 0) -> pd.DataFrame:
    """Synthetic events as integer codes (customer, type, channel, category) + ts + amount."""
    rng = np.random.default_rng(seed)
    persona_of = rng.integers(0, len(PERSONAS), n_customers)
    activity = rng.gamma(0.8, 1.0, n_customers)  # over-dispersed: many light, a few heavy users
    customer = rng.choice(n_customers, size=n_events, p=activity / activity.sum()).astype(np.int32)
    persona = persona_of[customer]
    event_type = np.empty(n_events, np.int8)
    channel = np.empty(n_events, np.int8)
    category = np.empty(n_events, np.int8)
    hour = np.empty(n_events, np.int64)
    amount = np.zeros(n_events)
    for p, (types, channels, categories, peak_hour, log_basket) in enumerate(PERSONAS):
        mask = persona == p
        k = int(mask.sum())
        event_type[mask] = rng.choice(len(types), k, p=np.array(types) / sum(types))
        channel[mask] = rng.choice(len(channels), k, p=np.array(channels) / sum(channels))
        category[mask] = rng.choice(len(categories), k, p=np.array(categories) / sum(categories))
        hour[mask] = np.round(rng.normal(peak_hour, 3.0, k)).astype(np.int64) % 24
        money = np.isin(event_type[mask], [3, 4])
        amount_p = np.zeros(k)
        amount_p[money] = np.round(rng.lognormal(log_basket, 0.6, int(money.sum())), 2)
        amount[mask] = amount_p
    channel[rng.random(n_events) < 0.02] = -1  # some events without a channel
    category[rng.random(n_events) < 0.25] = -1  # and many without a category
    start = np.datetime64(AS_OF) - np.timedelta64(HISTORY_DAYS - 1, "D")
    day = rng.integers(0, HISTORY_DAYS, n_events)
    seconds = day * 86_400 + hour * 3_600 + rng.integers(0, 3_600, n_events)
    ts = start.astype("datetime64[s]") + seconds.astype("timedelta64[s]")
    return pd.DataFrame({"customer": customer, "ts": ts, "event_type": event_type,
                         "channel": channel, "category": category, "amount": amount})


def write_events(path: Path, raw: pd.DataFrame) -> None:
    """Store the coded events as canonical `events` rows (the text is made by DuckDB, not Python)."""
    with store.connect(path) as con:
        con.register("raw_events", raw)
        con.execute(
            "INSERT INTO events (customer_id, ts, event_type, channel, category, amount, quantity) "
            "SELECT printf('C%07d', customer), ts, "
            "list_extract($types, event_type + 1), list_extract($channels, channel + 1), "
            "list_extract($categories, category + 1), amount, NULL FROM raw_events",
            {"types": EVENT_TYPES, "channels": CHANNELS, "categories": CATEGORIES},
        )
        con.unregister("raw_events")
        con.execute("CHECKPOINT")


def pandas_features(events: pd.DataFrame, as_of: date, window_days: int) -> pd.DataFrame:
    """The features of ``build_features`` computed with pandas groupby (same definitions)."""
    end = pd.Timestamp(as_of) + pd.Timedelta(days=1)
    start = pd.Timestamp(as_of) - pd.Timedelta(days=window_days)
    mid = end - pd.Timedelta(hours=12 * (window_days + 1))
    w = events[(events["ts"] >= start) & (events["ts"] < end)]
    ts = w["ts"]
    event_type = w["event_type"]
    hour = ts.dt.hour
    day = ts.dt.normalize()
    is_purchase = event_type.eq("purchase")
    parts = {"customer_id": w["customer_id"], "day": day, "n": np.ones(len(w))}
    for etype in EVENT_TYPES:
        parts[f"n_{etype}"] = (is_purchase if etype == "purchase" else event_type.eq(etype)).astype(float)
    parts.update({
        "purchase_amount": w["amount"].fillna(0).where(is_purchase, 0.0),
        "time_night": (hour < 6).astype(float),
        "time_morning": ((hour >= 6) & (hour < 12)).astype(float),
        "time_afternoon": ((hour >= 12) & (hour < 18)).astype(float),
        "time_evening": (hour >= 18).astype(float),
        "weekend": (ts.dt.dayofweek >= 5).astype(float),
        "trend": (ts >= mid).astype(float),
    })
    frame = pd.DataFrame(parts)
    sums = frame.drop(columns="day").groupby("customer_id", sort=True).sum()
    last_day = frame.groupby("customer_id", sort=True)["day"].max()
    active_days = frame[["customer_id", "day"]].drop_duplicates().groupby("customer_id").size()
    purchase_days = frame.loc[is_purchase.to_numpy(), ["customer_id", "day"]].drop_duplicates()
    span = purchase_days.groupby("customer_id")["day"].agg(["min", "max", "size"])

    n = sums["n"]
    out = pd.DataFrame(index=sums.index)
    out["recency_days"] = (pd.Timestamp(as_of) - last_day).dt.days.astype(float)
    out["frequency"] = n
    out["active_days"] = active_days.reindex(out.index).astype(float)
    out["n_purchases"] = sums["n_purchase"]
    out["monetary"] = sums["purchase_amount"]
    basket = (sums["purchase_amount"] / sums["n_purchase"]).where(sums["n_purchase"] > 0)
    out["avg_basket"] = basket.fillna(basket.median())
    interval = ((span["max"] - span["min"]).dt.days / (span["size"] - 1)).where(span["size"] >= 2)
    out["purchase_interval_days"] = interval.reindex(out.index).fillna(float(window_days))
    bought = (sums["n_purchase"] > 0).astype(float)
    out["conversion"] = (sums["n_purchase"] / sums["n_view"]).clip(upper=1).where(sums["n_view"] > 0, bought)
    carts = sums["n_cart"]
    out["cart_abandonment"] = ((carts - sums["n_purchase"]).clip(lower=0) / carts).where(carts > 0, 0.0)
    out["refund_rate"] = (sums["n_refund"] / sums["n_purchase"]).clip(upper=1).where(sums["n_purchase"] > 0, 0.0)
    out["email_open_rate"] = sums["n_email_open"] * 30.0 / (window_days + 1)
    opens = sums["n_email_open"]
    out["email_click_rate"] = (sums["n_email_click"] / opens).clip(upper=1).where(opens > 0, 0.0)
    for etype in EVENT_TYPES:
        out[f"event_{etype}"] = sums[f"n_{etype}"] / n
    for column in ("time_night", "time_morning", "time_afternoon", "time_evening", "weekend", "trend"):
        out[column] = sums[column] / n

    channel = w["channel"].str.strip().replace("", None).fillna("unknown")
    channel_counts = w.groupby([w["customer_id"], channel]).size().unstack(fill_value=0)
    channel_share = channel_counts.div(channel_counts.sum(axis=1), axis=0)
    channel_share.columns = [f"channel_{slugify(c)}" for c in channel_share.columns]
    tagged = w[w["category"].notna()]
    category_counts = tagged.groupby(["customer_id", "category"]).size().unstack(fill_value=0)
    category_share = category_counts.div(category_counts.sum(axis=1), axis=0)
    category_share.columns = [f"category_{slugify(c)}" for c in category_share.columns]
    out = out.join(channel_share).join(category_share)
    return out.fillna(0.0)


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def worker(variant: str, db: Path, out: Path) -> dict:
    """Run one variant in this (fresh) process; save its frame to ``out``; return timings."""
    if variant == "duckdb":
        with store.connect(db, read_only=True) as con:
            n_events = con.execute("SELECT count(*) FROM events").fetchone()[0]
            started = time.perf_counter()
            table = build_features(con, AS_OF, WINDOW_DAYS)
            seconds = time.perf_counter() - started
        frame = table.frame
        result = {"seconds": seconds, "n_events": n_events, "notes": table.notes,
                  "n_window_events": int(frame["frequency"].sum())}
    else:
        started = time.perf_counter()
        with store.connect(db, read_only=True) as con:
            events = con.execute(
                "SELECT customer_id, ts, event_type, channel, category, amount FROM events").df()
        loaded = time.perf_counter()
        frame = pandas_features(events, AS_OF, WINDOW_DAYS)
        done = time.perf_counter()
        result = {"seconds": done - loaded, "load_seconds": loaded - started, "n_events": len(events)}
    frame.to_parquet(out)
    result.update({"n_customers": len(frame), "n_features": frame.shape[1], "peak_rss_mb": _peak_rss_mb()})
    return result


def _run_worker(variant: str, db: Path, out: Path) -> dict:
    completed = subprocess.run(
        [sys.executable, __file__, "--worker", variant, "--db", str(db), "--out", str(out)],
        check=True, capture_output=True, text=True,
    )
    return json.loads(completed.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=10_000_000, help="number of events (default 10M)")
    parser.add_argument("--customers", type=int, default=None, help="number of customers (default events/10)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--worker", choices=["duckdb", "pandas"], help=argparse.SUPPRESS)
    parser.add_argument("--db", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker, args.db, args.out)))
        return

    n_customers = args.customers or max(args.events // 10, 1)
    with tempfile.TemporaryDirectory(prefix="features-bench-") as tmp:
        tmp_path = Path(tmp)
        db = tmp_path / "events.duckdb"
        started = time.perf_counter()
        raw = generate(args.events, n_customers, args.seed)
        write_events(db, raw)
        del raw
        print(f"generated and stored {args.events:,} events for up to {n_customers:,} customers "
              f"in {time.perf_counter() - started:.1f} s", flush=True)

        sql = _run_worker("duckdb", db, tmp_path / "duckdb.parquet")
        print(f"DuckDB SQL: {sql['seconds']:.2f} s", flush=True)
        pandas = _run_worker("pandas", db, tmp_path / "pandas.parquet")
        print(f"pandas: {pandas['seconds']:.2f} s (+ {pandas['load_seconds']:.2f} s loading)", flush=True)

        a = pd.read_parquet(tmp_path / "duckdb.parquet")
        b = pd.read_parquet(tmp_path / "pandas.parquet")
        common = [c for c in a.columns if c in b.columns]
        b = b.reindex(index=a.index, columns=common)
        diff = (a[common] - b).abs().max()
        same_customers = a.index.equals(pd.read_parquet(tmp_path / "pandas.parquet").index.sort_values())
        only_sql = [c for c in a.columns if c not in b.columns]

    n = sql["n_events"]
    rows = [
        {"variant": "DuckDB SQL (build_features)", "seconds": sql["seconds"],
         "events_per_second": n / sql["seconds"], "peak_rss_mb": sql["peak_rss_mb"], "ratio_vs_sql": 1.0},
        {"variant": "pandas groupby (events already in memory)", "seconds": pandas["seconds"],
         "events_per_second": n / pandas["seconds"], "peak_rss_mb": pandas["peak_rss_mb"],
         "ratio_vs_sql": pandas["seconds"] / sql["seconds"]},
        {"variant": "pandas incl. loading the events", "seconds": pandas["seconds"] + pandas["load_seconds"],
         "events_per_second": n / (pandas["seconds"] + pandas["load_seconds"]),
         "peak_rss_mb": pandas["peak_rss_mb"],
         "ratio_vs_sql": (pandas["seconds"] + pandas["load_seconds"]) / sql["seconds"]},
    ]
    table = pd.DataFrame(rows)
    RESULTS.mkdir(parents=True, exist_ok=True)
    table.round(3).to_csv(RESULTS / "features.csv", index=False)

    shown = table.copy()
    shown["seconds"] = shown["seconds"].map("{:.2f}".format)
    shown["events_per_second"] = shown["events_per_second"].map("{:,.0f}".format)
    shown["peak_rss_mb"] = shown["peak_rss_mb"].map("{:,.0f}".format)
    shown["ratio_vs_sql"] = shown["ratio_vs_sql"].map("{:.1f}x".format)
    header = "| " + " | ".join(shown.columns) + " |"
    lines = [header, "|" + "---|" * len(shown.columns)]
    lines += ["| " + " | ".join(str(v) for v in row) + " |" for row in shown.itertuples(index=False)]
    worst = diff.sort_values(ascending=False)
    check = (f"same customers: {same_customers}; {len(common)} features compared, max abs diff "
             f"{worst.iloc[0]:.2e} ({worst.index[0]})" + (f"; SQL-only columns: {only_sql}" if only_sql else ""))
    context = (f"{n:,} events ({sql['n_window_events']:,} in the window), "
               f"{sql['n_customers']:,} customers active in the "
               f"{WINDOW_DAYS}-day window as of {AS_OF}, {sql['n_features']} features; "
               f"{os.cpu_count()} CPU cores, Python {platform.python_version()}, "
               f"run {datetime.now().strftime('%Y-%m-%d %H:%M')}")
    markdown = "\n".join(["# Feature SQL vs pandas", "", context, "", *lines, "", check, ""])
    (RESULTS / "features.md").write_text(markdown, encoding="utf-8")
    print()
    print(markdown)
    if worst.iloc[0] > 1e-6 or not same_customers:
        sys.exit(f"DuckDB and pandas features differ: {worst.head().to_dict()}")


if __name__ == "__main__":
    main()

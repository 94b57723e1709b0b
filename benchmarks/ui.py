"""UI benchmark: how long each page of the app takes to render on a stored 100,000-customer run.

    .venv/bin/python -m benchmarks.ui [--customers 100000] [--repeat 3]

The database (demo data + two month-end snapshots) is built once and kept under
benchmarks/.data/ (gitignored); later calls reuse it. Each page is rendered with
Streamlit's AppTest (a full script run of app.py on that page, as a browser
session would trigger), after one run of every page so that module imports (once
per server process) are not counted. "First view" starts from empty caches (as
after a new snapshot or import); "repeat view" is the median of the next renders,
what a user sees when moving between pages. Target: ≤ 1.5 s per page.
Results: printed and saved to benchmarks/results/ui.csv and ui.md (ui_<N>.* for other sizes).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / ".data"
RESULTS = Path(__file__).resolve().parent / "results"
SNAPSHOTS = (date(2025, 11, 30), date(2025, 12, 31))
TARGET_SECONDS = 1.5


def build_database(customers: int) -> Path:
    """The benchmark database (built once): demo data and two month-end snapshots."""
    from segmentation.data import store
    from segmentation.demo.generate import create_demo
    from segmentation.workflows.progress import as_lines
    from segmentation.workflows.snapshot import SnapshotParams, existing_run, run_snapshot

    db = DATA / f"ui_{customers}.duckdb"
    DATA.mkdir(parents=True, exist_ok=True)
    with store.connect(db) as con:
        empty = store.table_count(con, "events") == 0
    if empty:
        with store.connect(db) as con:
            create_demo(con, customers=customers, months=12, seed=7, progress=print)
    params = SnapshotParams()
    for when in SNAPSHOTS:
        if existing_run(db, when, params.window_days) is None:
            started = time.perf_counter()
            run_snapshot(db, when, params, progress=as_lines(lambda line: print(f"  {line}", flush=True)))
            print(f"snapshot {when}: {time.perf_counter() - started:.0f} s", flush=True)
    return db


PAGES = ("overview", "map", "segment", "evolution", "run", "export", "data")


def _time_run(at) -> float:
    started = time.perf_counter()
    at.run()
    seconds = time.perf_counter() - started
    if at.exception:
        raise RuntimeError(f"the page raised: {at.exception[0].value}")
    return seconds


def time_pages(db: Path, repeat: int) -> list[dict]:
    """Render every page: first view (caches cleared; modules already imported) and repeat views."""
    os.environ["SEGMENTATION_DB"] = str(db)
    from streamlit.testing.v1 import AppTest

    import streamlit as st

    from segmentation.ui import common

    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=300)
    at.run()  # imports (streamlit, plotly, pandas, duckdb): once per server process, not per page
    for page in PAGES:  # and each page module's imports
        at.switch_page(f"segmentation/ui/{page}.py").run()
    rows = []
    variants = [(page, page, None) for page in PAGES]
    # Not a page view but an action: checking an audience hashes every row (phone numbers
    # through phonenumbers dominate); reported beside the pages, not held to their target.
    variants.append(("action: check the largest segment for Google", "export", "largest"))
    for label, page, option in variants:
        common.after_write()  # cold caches, as on the first view after a new snapshot …
        st.cache_resource.clear()  # … or an import (the events-only reads are recounted then)
        at.switch_page(f"segmentation/ui/{page}.py")
        if option == "largest":
            run_id, segment_id = _largest_segment()
            at.session_state[f"export_segments_{run_id}"] = [segment_id]
        first_view = _time_run(at)
        repeats = [_time_run(at) for _ in range(repeat)]
        rows.append({"page": label, "first_view_s": round(first_view, 3),
                     "repeat_view_s": round(statistics.median(repeats), 3)})
        print(f"{label:<45} first view {first_view:6.2f} s   repeat {statistics.median(repeats):6.2f} s", flush=True)
    return rows


def _largest_segment() -> tuple[int, int]:
    """Run id and segment id of the largest segment of the latest run."""
    import duckdb

    con = duckdb.connect(os.environ["SEGMENTATION_DB"], read_only=True)
    try:
        run_id, segment_id = con.execute(
            "SELECT run_id, segment_id FROM segments WHERE segment_id <> -1 AND run_id = "
            "(SELECT run_id FROM runs ORDER BY as_of DESC, run_id DESC LIMIT 1) ORDER BY size DESC LIMIT 1"
        ).fetchall()[0]
        return int(run_id), int(segment_id)
    finally:
        con.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--build-only", action="store_true")
    args = parser.parse_args(argv)
    db = build_database(args.customers)
    if args.build_only:
        return
    import duckdb
    import pandas as pd

    con = duckdb.connect(str(db), read_only=True)
    n_customers, n_segments = con.execute(
        "SELECT n_customers, n_segments FROM runs ORDER BY as_of DESC, run_id DESC LIMIT 1").fetchall()[0]
    con.close()
    rows = time_pages(db, args.repeat)
    frame = pd.DataFrame(rows)
    frame["target_s"] = TARGET_SECONDS
    frame["within_target"] = (frame[["first_view_s", "repeat_view_s"]].max(axis=1) <= TARGET_SECONDS) \
        | frame["page"].str.startswith("action:")
    RESULTS.mkdir(exist_ok=True)
    name = "ui" if args.customers == 100_000 else f"ui_{args.customers}"  # ui.md: the default size
    frame.to_csv(RESULTS / f"{name}.csv", index=False)
    lines = [f"UI render times on a stored run of {n_customers:,} customers ({n_segments} segments), "
             f"{os.cpu_count()} cores; AppTest script runs, median of {args.repeat} repeats.", "",
             "| page | first view (s) | repeat view (s) |", "|---|---|---|"]
    lines += [f"| {r.page} | {r.first_view_s:.2f} | {r.repeat_view_s:.2f} |" for r in frame.itertuples()]
    (RESULTS / f"{name}.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))
    if not frame["within_target"].all():
        sys.exit(f"pages over {TARGET_SECONDS} s: {', '.join(frame.loc[~frame['within_target'], 'page'])}")


if __name__ == "__main__":
    main()

"""Shared choices and cached reads for the pages.

The app never keeps the database open: each read opens a short-lived,
read-only connection, and results are cached with ``st.cache_data`` keyed by
the file's modification time, so a write by the command line (or another
session) shows up on the next rerun; this session's own writes clear the cache
at once (:func:`after_write`).

Session state keys (explicit, shared by all pages): ``db_path`` (the database),
``run_id`` (the chosen snapshot; latest when unset), ``segment_id`` (the segment
opened on the Segment page), ``user_name`` (who is recorded for name changes).
"""

from __future__ import annotations

import getpass
import json
import os
from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st

from segmentation.data import store
from segmentation.present.digest import display_name, escape_markdown
from segmentation.errors import WorkbenchError
from segmentation.data.queries import load_query

DB_KEY = "db_path"
RUN_KEY = "run_id"
SEGMENT_KEY = "segment_id"
USER_KEY = "user_name"
FLASH_KEY = "_flash"
CURRENCY_KEY = "currency"
CURRENCY_ENV = "SEGMENTATION_CURRENCY"
# Currencies offered in the sidebar; "" shows amounts without a symbol (the data's own currency).
CURRENCIES = ("", "€", "$", "£", "¥", "CHF ", "kr ", "zł ", "R$ ", "₹")

PAGES = {
    "overview": "segmentation/ui/overview.py",
    "run": "segmentation/ui/run.py",
    "map": "segmentation/ui/map.py",
    "segment": "segmentation/ui/segment.py",
    "evolution": "segmentation/ui/evolution.py",
    "export": "segmentation/ui/export.py",
    "data": "segmentation/ui/data.py",
}


def current_db() -> Path:
    """The database chosen for this session (``$SEGMENTATION_DB`` or the default)."""
    if DB_KEY not in st.session_state:
        st.session_state[DB_KEY] = str(store.db_path())
    return Path(st.session_state[DB_KEY])


def db_version(path: Path) -> float:
    """Changes whenever the file (or its write-ahead log) changes: the cache key for reads."""
    stamps = [p.stat().st_mtime_ns for p in (path, Path(f"{path}.wal")) if p.exists()]
    return float(sum(stamps))


@st.cache_data(show_spinner=False, max_entries=256)
def read_query(path: str, version: float, query: str, params: tuple = ()) -> pd.DataFrame:
    """A query result as a DataFrame (never a DuckDB relation), cached per database version."""
    with store.connect(path, read_only=True) as con:
        return con.execute(load_query(query), dict(params)).df()


def _freeze(value: Any) -> Any:
    """Lists become tuples so parameters can be part of a cache key."""
    return tuple(value) if isinstance(value, list) else value


def query(name: str, **params) -> pd.DataFrame:
    """Result of ``queries/NAME.sql`` with ``$params`` bound, from the cache when the file is unchanged."""
    path = current_db()
    frozen = tuple(sorted((k, _freeze(v)) for k, v in params.items()))
    return read_query(str(path), db_version(path), name, frozen)


def data_summary() -> dict:
    """Counts and date range of the stored data (queries/ui/database_select_summary.sql: cheap at any size)."""
    frame = query("database_select_summary")
    return frame.iloc[0].to_dict()


def events_query(name: str, summary: dict) -> pd.DataFrame:
    """Result of ``queries/NAME.sql`` when it reads only the events (seconds on ~100 M of them).

    Cached per events fingerprint (counts and date range from :func:`data_summary`), which
    snapshots and exports leave unchanged: only an import or new demo data reads them again,
    not every write (:func:`after_write` clears only the per-version cache).
    """
    fingerprint = tuple(str(summary[k]) for k in ("n_events", "max_ingest_id", "first_event", "last_event",
                                                 "n_imports"))
    return _events_read(str(current_db()), fingerprint, name).copy()


@st.cache_resource(show_spinner=False, max_entries=16)
def _events_read(path: str, fingerprint: tuple, query: str) -> pd.DataFrame:
    with store.connect(path, read_only=True) as con:
        return con.execute(load_query(query)).df()


def after_write() -> None:
    """Drop every cached read (queries, segments, flows, export plans) after this session wrote.

    Reads are also keyed by the file's modification time; clearing at once covers a write
    that lands within the file system's timestamp resolution.
    """
    st.cache_data.clear()


def show_error(exc: WorkbenchError) -> None:
    """A one-line error, shown literally (messages quote file names and values)."""
    st.error(escape_markdown(str(exc)), icon=":material/error:")


def environment_db_note() -> str:
    return "from $SEGMENTATION_DB" if os.environ.get(store.DB_ENV) else "default location"


def as_dict(value: Any) -> dict:
    """A JSON column (text or already parsed) as a dict; {} for anything else."""
    if isinstance(value, str):
        return json.loads(value)
    return value if isinstance(value, dict) else {}


# ------------------------------------------------------------------ runs and segments
def runs() -> pd.DataFrame:
    """Complete runs, newest first (queries/runs/runs_list.sql)."""
    return query("runs_list")


def selected_run() -> dict | None:
    """The run chosen in this session (``run_id``), else the latest; None when there is none.

    The returned dict holds the ``runs`` columns with ``params`` and ``metrics`` parsed.
    """
    frame = runs()
    if frame.empty:
        return None
    chosen = st.session_state.get(RUN_KEY)
    rows = frame[frame["run_id"] == chosen] if chosen is not None else frame.iloc[:0]
    row = (rows if not rows.empty else frame).iloc[0].to_dict()
    row["params"], row["metrics"] = as_dict(row["params"]), as_dict(row["metrics"])
    return row


def run_label(row: Any) -> str:
    """``run 3 · 2025-06-30 · 90-day window``."""
    as_of = pd.Timestamp(row["as_of"]).date()
    return f"run {int(row['run_id'])} · {as_of} · {int(row['window_days'])}-day window"


def sticky_selectbox(container: Any, label: str, options: list, current: Any, state_key: str, widget_key: str,
                     **kwargs) -> None:
    """A selectbox showing ``current`` whose choice is kept in ``st.session_state[state_key]``.

    Streamlit drops a widget's own key (``widget_key``) when the page changes; the choice
    lives on under ``state_key`` for every page.
    """
    st.session_state[widget_key] = current

    def keep() -> None:
        st.session_state[state_key] = st.session_state[widget_key]

    container.selectbox(label, options, key=widget_key, on_change=keep, **kwargs)


def run_picker() -> dict | None:
    """Sidebar choice of the snapshot the pages show (kept across pages); returns it."""
    run = selected_run()
    if run is None:
        return None
    frame = runs()
    labels = {int(r["run_id"]): run_label(r) for r in frame.to_dict(orient="records")}
    sticky_selectbox(st.sidebar, "Snapshot", list(labels), int(run["run_id"]), RUN_KEY, "_run_picker",
                     format_func=labels.get,
                     help="The snapshot the Overview, Map, Segment and Export pages show (latest first).")
    return run


def currency() -> str:
    """The currency symbol money is shown with: the sidebar's choice, else ``$SEGMENTATION_CURRENCY``, else none."""
    if CURRENCY_KEY not in st.session_state:
        st.session_state[CURRENCY_KEY] = os.environ.get(CURRENCY_ENV, "")
    return st.session_state[CURRENCY_KEY]


def money(amount: float, decimals: int = 0) -> str:
    """An amount of money in the chosen currency: ``€1,234`` (``1,234`` when none is chosen)."""
    return f"{currency()}{amount:,.{decimals}f}"


def currency_setting() -> None:
    """The sidebar's currency choice (kept across pages); every amount of money uses it."""
    current = currency()
    options = list(CURRENCIES) if current in CURRENCIES else [current, *CURRENCIES]
    sticky_selectbox(st.sidebar, "Currency", options, current, CURRENCY_KEY, "_currency_picker",
                     format_func=lambda c: c.strip() or "none (amounts as in the data)",
                     help="The currency of the amounts in your data; only how money is shown changes.")


def page_summary(title: str, caption: str, watch_jobs: bool = True) -> dict | None:
    """Title and caption of a page about the data: :func:`data_summary`, or None after showing the error.

    ``watch_jobs``: background snapshots' progress in the sidebar (not on the Run page, which shows it).
    """
    from segmentation.ui import background  # it builds on this module

    st.title(title)
    if watch_jobs:
        background.job_sidebar()
    st.caption(caption)
    try:
        return data_summary()
    except WorkbenchError as exc:
        show_error(exc)
        return None


def page_run(title: str) -> dict | None:
    """Title, snapshot picker and empty state of a page that shows a snapshot: the run, or None to stop.

    Snapshots that landed since the last page (computed in the background) are announced here.
    """
    from segmentation.ui import background  # it builds on this module

    st.title(title)
    background.job_sidebar()
    background.landed_notice()
    try:
        run = run_picker()
        currency_setting()
    except WorkbenchError as exc:
        show_error(exc)
        return None
    if run is None:
        no_runs_state()
    return run


@st.cache_data(show_spinner=False, max_entries=64)
def read_segments(path: str, version: float, run_id: int) -> pd.DataFrame:
    """Segments of a run with their profile parsed (dict), largest first, noise last."""
    with store.connect(path, read_only=True) as con:
        frame = con.execute(load_query("segments_list"), {"run_id": int(run_id)}).df()
    frame["profile"] = frame["profile"].map(as_dict)
    return frame


@st.cache_data(show_spinner=False, max_entries=32)
def read_value(path: str, version: float, run_ids: tuple | None) -> pd.DataFrame:
    """:func:`segmentation.dynamics.value.segment_value` of the runs (all runs for None)."""
    from segmentation.data.results import value_rows
    from segmentation.dynamics.value import segment_value

    ids = None if run_ids is None else list(run_ids)
    with store.connect(path, read_only=True) as con:
        rows = value_rows(con, ids)
    return segment_value(rows, ids)


def segment_value(run_ids: list[int] | None = None) -> pd.DataFrame:
    """Value per (run, segment): customers, revenue, revenue per customer, purchases, quiet share."""
    path = current_db()
    return read_value(str(path), db_version(path), None if run_ids is None else tuple(int(r) for r in run_ids))


def segments(run_id: int) -> pd.DataFrame:
    """Cached :func:`read_segments` for this session's database."""
    path = current_db()
    return read_segments(str(path), db_version(path), int(run_id))


def segment_labels(frame: pd.DataFrame) -> dict[int, str]:
    """segment id → given name, else suggested name."""
    return {int(r.segment_id): display_name(r.name, r.suggested_name) for r in frame.itertuples(index=False)}


def flow_labels(run_id: int) -> dict[str, str]:
    """``segment N`` (as tracking names flows and sources) → that segment's name in run ``run_id``."""
    return {f"segment {k}": v for k, v in segment_labels(segments(run_id)).items() if k != -1}


def changes_in_words(profile: dict) -> str:
    """The three features that moved most for a segment's customers, in words ("more social (lift 0.2 → 1.9)")."""
    labels = {t["feature"]: t.get("label", t["feature"]) for t in profile.get("traits") or []}
    words = []
    for change in profile.get("changes") or []:
        before, after = float(change["lift_before"]), float(change["lift_after"])
        label = labels.get(change["feature"], change["feature"]).replace("_", " ")
        words.append(f"{'more' if after > before else 'less'} {label}")
    return ", ".join(words)


def sources_table(profile: dict, previous_names: dict[str, str]) -> pd.DataFrame:
    """Where a segment's customers were in the previous snapshot, with that snapshot's segment names."""
    sources = pd.DataFrame(profile.get("sources") or [], columns=["source", "customers", "share"])
    sources["source"] = sources["source"].map(lambda s: previous_names.get(s, s))
    return sources


def flash(ok: bool, text: str) -> None:
    """Keep a message from a widget callback for :func:`show_flash` on the rerun that follows."""
    st.session_state[FLASH_KEY] = (ok, text)


def show_flash() -> None:
    """Show (once) the message a callback kept with :func:`flash`."""
    kept = st.session_state.pop(FLASH_KEY, None)
    if kept:
        (st.success if kept[0] else st.error)(kept[1])


def who() -> str:
    """Who a change is recorded under: the name given in the sidebar, else the account running the app."""
    given = (st.session_state.get(USER_KEY) or "").strip()
    return f"app:{given or getpass.getuser()}"


def person(recorded: str) -> str:
    """``app:maria`` → ``maria (in the app)``; ``cli:tom`` → ``tom (command line)``: who, in words."""
    where, _, name = str(recorded).partition(":")
    places = {"app": "in the app", "cli": "command line"}
    return f"{name} ({places[where]})" if name and where in places else str(recorded)


def open_segment(run_id: int, segment_id: int) -> None:
    """Go to the Segment page showing one segment (a button's on_click or a direct call)."""
    st.session_state[RUN_KEY] = int(run_id)
    st.session_state[SEGMENT_KEY] = int(segment_id)
    st.switch_page(PAGES["segment"])


def no_runs_state() -> None:
    """Friendly empty state for pages that need a snapshot."""
    summary = data_summary()
    if not summary["n_events"]:
        st.info("The database holds no events yet. Create the demo data or import your own events "
                "on the Data page, then compute a snapshot.", icon=":material/inbox:")
        st.page_link(PAGES["data"], label="Go to Data", icon=":material/database:")
    else:
        st.info(f"{summary['n_events']:,} events are loaded but no snapshot has been computed yet. "
                "Run one to find the segments.", icon=":material/play_circle:")
        st.page_link(PAGES["run"], label="Run a snapshot", icon=":material/play_arrow:")

"""Shared choices and cached reads for the pages.

Pages read through :func:`cached` only: it calls a function of the read model
(:mod:`segmentation.data.read`, :mod:`segmentation.workflows.reports`), the same
the command line calls, so the app adds caching and nothing else. The app never
keeps the database open: each read opens a short-lived, read-only connection,
and results are cached with ``st.cache_data`` keyed by the file's modification
time, so a write by the command line (or another session) shows up on the next
rerun; this session's own writes clear the cache at once (:func:`after_write`).

Session state keys (explicit, shared by all pages): ``db_path`` (the database),
``run_id`` (the chosen snapshot; latest when unset), ``segment_id`` (the segment
opened on the Segment page), ``user_name`` (who is recorded for name changes).
"""

from __future__ import annotations

import copy
import getpass
import json
import os
from pathlib import Path
from typing import Any, Callable, TypeVar

import numpy as np
import pandas as pd
import streamlit as st

from segmentation.data import read, store
from segmentation.present.digest import display_name, escape_markdown
from segmentation.errors import WorkbenchError

T = TypeVar("T")

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


def _frozen(value: Any) -> Any:
    """A parameter as part of a cache key: lists and tuples become tuples, numpy numbers plain numbers."""
    if isinstance(value, (list, tuple)):
        return tuple(_frozen(v) for v in value)
    return value.item() if isinstance(value, np.generic) else value


def _read_name(reader: Callable) -> str:
    return f"{reader.__module__}.{reader.__qualname__}"


@st.cache_data(show_spinner=False, max_entries=256)
def _cached_read(path: str, version: float, name: str, params: tuple, _read: Callable) -> Any:
    """``_read(con, **params)`` (the function ``name``; not hashed itself) on a short-lived read-only connection."""
    with store.connect(path, read_only=True) as con:
        return _read(con, **dict(params))


def read_at(path: str, version: float, reader: Callable[..., T], **params) -> T:
    """``reader(con, **params)`` on the database ``path``, cached per ``version`` of the file, ``reader``
    (by its qualified name) and ``params``. A frame comes back as a copy the caller may change."""
    frozen = tuple(sorted((k, _frozen(v)) for k, v in params.items()))
    return _cached_read(path, version, _read_name(reader), frozen, reader)


def cached(reader: Callable[..., T], **params) -> T:
    """``reader(con, **params)`` on this session's database, from the cache while the file is unchanged.

    ``reader`` is a function of the read model (:mod:`segmentation.data.read`) or of
    :mod:`segmentation.workflows.reports`, the same the command line calls: the app adds only caching.
    """
    path = current_db()
    return read_at(str(path), db_version(path), reader, **params)


def data_summary() -> dict:
    """Counts and date range of the stored data (:func:`segmentation.data.read.data_summary`: cheap at any size)."""
    return cached(read.data_summary)


def events_cached(reader: Callable[..., T], summary: dict) -> T:
    """``reader(con)`` for a read of the events only (seconds on ~100 M of them), e.g.
    :func:`segmentation.data.read.event_mix`.

    Cached per events fingerprint (counts and date range from :func:`data_summary`), which
    snapshots and exports leave unchanged: only an import or new demo data reads them again,
    not every write (:func:`after_write` clears only the per-version cache).
    """
    fingerprint = tuple(str(summary.get(k)) for k in ("n_events", "max_ingest_id", "first_event", "last_event",
                                                 "n_imports", "n_customers"))
    return copy.copy(_events_read(str(current_db()), fingerprint, _read_name(reader), reader))


@st.cache_resource(show_spinner=False, max_entries=16)
def _events_read(path: str, fingerprint: tuple, name: str, _read: Callable) -> Any:
    with store.connect(path, read_only=True) as con:
        return _read(con)


def after_write() -> None:
    """Drop every cached read (queries, segments, flows, export plans) after this session wrote.

    Reads are also keyed by the file's modification time; clearing at once covers a write
    that lands within the file system's timestamp resolution.
    """
    st.cache_data.clear()


def sentence(text: str) -> str:
    """A message as a sentence on the page: its first letter upper-case ("segment 7 of this snapshot …" comes
    from the command line's messages, which continue "error: …"). A first word that is not a plain
    lower-case word (a file name such as ``a.csv``, a path, a name) is left as it is."""
    first = text.split(" ", 1)[0]
    return text[:1].upper() + text[1:] if first.isalpha() and first.islower() else text


def show_error(exc: WorkbenchError) -> None:
    """A one-line error, shown literally (messages quote file names and values)."""
    st.error(escape_markdown(sentence(str(exc))), icon=":material/error:")


def environment_db_note() -> str:
    return "from $SEGMENTATION_DB" if os.environ.get(store.DB_ENV) else "default location"


def as_dict(value: Any) -> dict:
    """A JSON column (text or already parsed) as a dict; {} for anything else."""
    if isinstance(value, str):
        return json.loads(value)
    return value if isinstance(value, dict) else {}


# ------------------------------------------------------------------ runs and segments
def selected_run() -> dict | None:
    """The run chosen in this session (``run_id``), else the latest; None when there is none.

    The returned dict holds the ``runs`` columns with ``params`` and ``metrics`` parsed.
    """
    frame = cached(read.runs)
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
    frame = cached(read.runs)
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


def percent_column(label: str | None = None, help: str | None = None) -> Any:
    """A table column of shares (0-1) shown as percentages with one decimal: ``5.0%``, ``12.3%``.

    Streamlit's plain ``"percent"`` format trims decimals row by row (``5%`` above ``12.35%``); the
    step fixes them (its precision minus the two digits the percentage takes).
    """
    return st.column_config.NumberColumn(label, format="percent", step=0.001, help=help)


def table(frame: pd.DataFrame, column_config: dict, **kwargs: Any) -> None:
    """``st.dataframe`` of ``frame`` without its index, the page's width, its shares as the headlines show them
    (:func:`shares_rounded`): the tables of the pages that show shares."""
    st.dataframe(shares_rounded(frame, column_config), hide_index=True, width="stretch", column_config=column_config,
                 **kwargs)


def shares_rounded(frame: pd.DataFrame, column_config: dict) -> pd.DataFrame:
    """``frame`` with its :func:`percent_column` columns rounded to the shown tenth of a per cent.

    Streamlit cuts a number down to its column's step instead of rounding it (0.2779 reads 27.7%
    where the page's headline says 27.8%): the table gets the rounded share.
    """
    shares = [name for name, config in column_config.items() if name in frame.columns and isinstance(config, dict)
              and (config.get("type_config") or {}).get("format") == "percent"]
    # As ``f"{share:.1%}"`` rounds (the headlines): the per cent rounded, not the share (1/80: 1.2 %, not 1.3 %)
    return frame.assign(**{name: pd.to_numeric(frame[name], errors="coerce").map(
        lambda share: round(share * 100, 1) / 100 if pd.notna(share) else share) for name in shares})


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


def segment_labels(frame: pd.DataFrame) -> dict[int, str]:
    """segment id → given name, else suggested name."""
    return {int(r.segment_id): display_name(r.name, r.suggested_name) for r in frame.itertuples(index=False)}


def earlier_labels(previous: pd.DataFrame, current: pd.DataFrame) -> dict[int, str]:
    """An earlier snapshot's segment id → its name there, with ``(now …)`` where its lineage goes on in
    ``current`` under another name: a renamed segment's customers read "from Night owls (now Late gamers)"."""
    now = {int(r.lineage_id): display_name(r.name, r.suggested_name) for r in current.itertuples(index=False)
           if r.segment_id != -1 and pd.notna(r.lineage_id)}
    labels = segment_labels(previous)
    for r in previous.itertuples(index=False):
        later = now.get(int(r.lineage_id)) if pd.notna(r.lineage_id) else None
        if later and later != labels[int(r.segment_id)]:
            labels[int(r.segment_id)] = f"{labels[int(r.segment_id)]} (now {later})"
    return labels


def flow_labels(run_id: int) -> dict[str, str]:
    """``segment N`` (as tracking names flows and sources) → that segment's name in run ``run_id``, and
    ``noise`` → "Unassigned" (the glossary's word for it)."""
    labels = segment_labels(cached(read.segments, run_id=int(run_id)))
    return {**{f"segment {k}": v for k, v in labels.items() if k != -1}, "noise": "Unassigned"}


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
    st.session_state[FLASH_KEY] = (ok, sentence(text))


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

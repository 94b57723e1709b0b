"""Shared choices and cached reads for the pages.

The app never keeps the database open: each read opens a short-lived,
read-only connection, and results are cached with ``st.cache_data`` keyed by
the file's modification time, so a write by the command line (or another
session) shows up on the next rerun.
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import streamlit as st

from segmentation import store
from segmentation.errors import WorkbenchError
from segmentation.queries import load_query

DB_KEY = "db_path"


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


def query(name: str, **params) -> pd.DataFrame:
    path = current_db()
    return read_query(str(path), db_version(path), name, tuple(sorted(params.items())))


def data_summary() -> dict:
    frame = query("data_summary")
    return frame.iloc[0].to_dict()


def after_write() -> None:
    """Drop cached reads after this session wrote to the database."""
    read_query.clear()


def show_error(exc: WorkbenchError) -> None:
    st.error(str(exc), icon=":material/error:")


def environment_db_note() -> str:
    return "from $SEGMENTATION_DB" if os.environ.get(store.DB_ENV) else "default location"

"""Shared fixtures. Heavy models are fitted once per session on small data."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("NUMBA_CACHE_DIR", str(ROOT / ".cache" / "numba"))


@pytest.fixture
def db_file(tmp_path: Path) -> Path:
    """Path of a fresh (not yet created) database file for one test."""
    return tmp_path / "test.duckdb"


@pytest.fixture(scope="session")
def demo_runs_template(tmp_path_factory) -> Path:
    """A demo database (3,000 customers, 6 months) with a two-snapshot timeline.

    Built once per session; tests that write must use :func:`demo_runs_db` (a copy).
    """
    from datetime import date

    from segmentation import demo, snapshot, store

    db = tmp_path_factory.mktemp("demo_runs") / "demo_runs.duckdb"
    with store.connect(db) as con:
        demo.create_demo(con, customers=3000, months=6, seed=7)
    params = snapshot.SnapshotParams(window_days=60, min_cluster_share=0.02)
    snapshot.run_timeline(db, date(2025, 4, 30), date(2025, 6, 30), 61, params)
    return db


@pytest.fixture
def demo_runs_db(demo_runs_template: Path, tmp_path: Path) -> Path:
    """A private copy of :func:`demo_runs_template` that a test may change."""
    import shutil

    copy = tmp_path / "demo_runs.duckdb"
    shutil.copyfile(demo_runs_template, copy)
    models = demo_runs_template.with_name(demo_runs_template.stem + ".models")
    if models.exists():
        shutil.copytree(models, tmp_path / models.name)
    return copy

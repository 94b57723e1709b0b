"""Shared fixtures. Heavy models are fitted once per session on small data.

The tests of ``segmentation/<package>`` are in ``tests/<package>/``, the cross-cutting guarantees in
``tests/guarantees/``; helpers used by several folders are in ``tests/helpers.py``. The folders have no
``__init__.py``: pytest imports each test file by its base name, so no two test files share one.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the repository: `segmentation`, `tests.helpers`

from tests.helpers import ROOT  # noqa: E402

os.environ.setdefault("NUMBA_CACHE_DIR", str(ROOT / ".cache" / "numba"))


# The slowest test files (whole timelines, killed processes, a real browser) are collected first, so
# that `make test` (pytest-xdist, one file per worker at a time) does not end waiting on one of them.
# (test_mapping.py compiles pynndescent: ~2 minutes on a cold numba cache, as in CI.)
SLOW_FIRST = ("test_mapping.py", "test_timeline_emergence.py", "test_timeline.py", "test_guarantee_crash_safety.py",
              "test_browser.py", "test_export.py", "test_cli.py", "test_guarantee_privacy.py",
              "test_ui_first_run.py", "test_ui_pages.py", "test_guarantee_degenerate_data.py")


def pytest_collection_modifyitems(session, config, items):
    rank = {name: i for i, name in enumerate(SLOW_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(SLOW_FIRST)))  # stable: file order kept otherwise


@pytest.fixture
def db_file(tmp_path: Path) -> Path:
    """Path of a fresh (not yet created) database file for one test."""
    return tmp_path / "test.duckdb"


def shared_folder(tmp_path_factory, name: str, build) -> Path:
    """A folder built once per test session, even when pytest-xdist runs several workers.

    The first worker to arrive calls ``build(folder)`` under a file lock; the others wait for it
    and reuse the result (the pattern the pytest-xdist docs give for session fixtures).
    """
    from filelock import FileLock

    worker = os.environ.get("PYTEST_XDIST_WORKER")
    root = tmp_path_factory.getbasetemp() if worker is None else tmp_path_factory.getbasetemp().parent
    folder, done = root / f"shared-{name}", root / f"shared-{name}.done"
    with FileLock(str(root / f"shared-{name}.lock")):
        if not done.exists():
            folder.mkdir(exist_ok=True)
            build(folder)
            done.touch()
    return folder


def _build_demo_runs(folder: Path) -> None:
    from datetime import date

    from segmentation.demo import generate as demo
    from segmentation.workflows import snapshot, timeline
    from segmentation.data import store

    db = folder / "demo_runs.duckdb"
    with store.connect(db) as con:
        demo.create_demo(con, customers=3000, months=6, seed=7)
    params = snapshot.SnapshotParams(window_days=60, min_cluster_share=0.02)
    timeline.run_timeline(db, date(2025, 4, 30), date(2025, 6, 30), 61, params)


@pytest.fixture(scope="session")
def demo_runs_template(tmp_path_factory) -> Path:
    """A demo database (3,000 customers, 6 months) with a two-snapshot timeline.

    Built once per session; tests that write must use :func:`demo_runs_db` (a copy).
    """
    return shared_folder(tmp_path_factory, "demo_runs", _build_demo_runs) / "demo_runs.duckdb"


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

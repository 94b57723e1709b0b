"""Access to the SQL files in ``queries/`` (one statement per file, ``$named`` parameters).

The files live in one folder per area (``store/``, ``ingest/``, ``features/``, ``runs/``,
``exports/``, ``ui/``, ``demo/``); a query is named by its file name alone, which is unique
across the folders (:func:`query_names` checks it), and names follow
``[ingest_NN_]<table>_<verb>[_<qualifier>]`` (``queries/README.md``; ``tests/test_query_names.py``
checks every file and every name the code uses).
"""

from __future__ import annotations

import functools
from pathlib import Path

__all__ = ["QUERIES_DIR", "load_query", "query_names", "query_path"]

QUERIES_DIR = Path(__file__).resolve().parents[2] / "queries"  # segmentation/data/queries.py → the repo


@functools.lru_cache(maxsize=1)
def _paths() -> dict[str, Path]:
    paths: dict[str, Path] = {}
    for path in sorted(QUERIES_DIR.rglob("*.sql")):
        if path.stem in paths:
            raise RuntimeError(f"two query files are called {path.stem}: {paths[path.stem]} and {path}")
        paths[path.stem] = path
    return paths


def query_path(name: str) -> Path:
    """The file of query ``name`` (``queries/<area>/NAME.sql``)."""
    path = _paths().get(name)
    if path is None:
        raise FileNotFoundError(f"no query file {name}.sql under {QUERIES_DIR}")
    return path


@functools.lru_cache(maxsize=None)
def load_query(name: str) -> str:
    """Text of ``queries/<area>/NAME.sql``."""
    return query_path(name).read_text(encoding="utf-8")


def query_names() -> list[str]:
    """Names of every query file, sorted."""
    return sorted(_paths())

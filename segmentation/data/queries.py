"""Access to the SQL files in ``queries/`` (one statement per file, ``$named`` parameters)."""

from __future__ import annotations

import functools
from pathlib import Path

__all__ = ["QUERIES_DIR", "load_query", "query_names"]

QUERIES_DIR = Path(__file__).resolve().parents[2] / "queries"  # segmentation/data/queries.py → the repo


@functools.lru_cache(maxsize=None)
def load_query(name: str) -> str:
    """Text of ``queries/NAME.sql``."""
    path = QUERIES_DIR / f"{name}.sql"
    if not path.is_file():
        raise FileNotFoundError(f"no query file {path}")
    return path.read_text(encoding="utf-8")


def query_names() -> list[str]:
    """Names of every query file, sorted."""
    return sorted(p.stem for p in QUERIES_DIR.glob("*.sql"))

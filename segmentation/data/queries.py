"""Access to the SQL files in ``queries/`` (one statement per file, ``$named`` parameters).

The files live in one folder per area (``store/``, ``ingest/``, ``features/``, ``runs/``,
``exports/``, ``ui/``, ``demo/``); a query is named by its file name alone, which is unique
across the folders (:func:`query_names` checks it), and names follow
``[ingest_NN_]<table>_<verb>[_<qualifier>]`` (``queries/README.md``; ``tests/data/test_query_names.py``
checks every file and every name the code uses).

SQL is never built by formatting values into text: values are bound (``$name``). The one
exception is a table or view name in a statement that has no form taking it as a value
(:func:`execute_named`, the only place such text is made).
"""

from __future__ import annotations

import functools
from pathlib import Path

__all__ = ["QUERIES_DIR", "load_query", "query_names", "query_path", "quote_identifier", "execute_named"]

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


# DuckDB binds values ($name, ?) but never identifiers, and DROP and DELETE FROM have no form that
# takes a table's name as a value (a count can: ``FROM query_table($table)``). So the few statements
# that name a table or view chosen at run time are made here and nowhere else: from these fixed texts,
# with the name quoted the way DuckDB quotes identifiers, so no name can end the identifier and add SQL.
# Callers pass the names of our own tables and scratch objects, never user text.
_NAMED_STATEMENTS = {
    "drop_view": "DROP VIEW IF EXISTS {name}",
    "drop_temp_table": "DROP TABLE IF EXISTS temp.{name}",
    "delete_all_rows": "DELETE FROM {name}",
}


def quote_identifier(name: str) -> str:
    """``name`` as a DuckDB identifier: in double quotes, each double quote inside doubled."""
    return '"' + name.replace('"', '""') + '"'


def execute_named(con, statement: str, name: str) -> None:
    """Run one of the fixed statements (``drop_view``, ``drop_temp_table``, ``delete_all_rows``)
    on the table or view ``name`` (quoted by :func:`quote_identifier`)."""
    con.execute(_NAMED_STATEMENTS[statement].format(name=quote_identifier(name)))

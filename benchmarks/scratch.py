"""Scratch folders for the databases and models a benchmark case builds, removed after the case.

A suite runs hundreds of cases, each with a DuckDB file and its saved models (150–500 MB); left in
the system's temporary folder they filled a 250 GB disk over a few days of benchmark runs.
"""

from __future__ import annotations

import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

__all__ = ["scratch"]


@contextmanager
def scratch(prefix: str, given: Path | None = None) -> Iterator[Path]:
    """``given`` as it is (the caller keeps it), else a new temporary folder removed on leaving."""
    if given is not None:
        yield Path(given)
        return
    with tempfile.TemporaryDirectory(prefix=prefix, ignore_cleanup_errors=True) as folder:
        yield Path(folder)

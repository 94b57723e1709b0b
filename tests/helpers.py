"""Helpers shared by test files in several folders (import them from here, never from a test module)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import duckdb

from segmentation.data.queries import load_query
from segmentation.demo.personas import EMERGING

ROOT = Path(__file__).resolve().parent.parent  # the repository


def cli(db: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    """``python -m segmentation --db DB ARGS`` in a new process, from the repository, with no inherited database."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("SEGMENTATION_DB", None)
    result = subprocess.run(
        [sys.executable, "-m", "segmentation", "--db", str(db), *args],
        capture_output=True, text=True, cwd=ROOT, env=env, timeout=600,
    )
    if check and result.returncode != 0:
        raise AssertionError(f"{args} failed ({result.returncode}): {result.stderr}")
    return result


def planted_counts(db, run_id: int, as_of: str) -> dict[int, tuple[int, int]]:
    """Segment → (customers, of whom the demo's ground truth at ``as_of`` has the emerging persona)."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        truth = con.execute(load_query("demo_truth_select_at"), {"as_of": as_of[:10]}).df()
        members = con.execute("SELECT customer_id, segment_id FROM assignments WHERE run_id = ?", [run_id]).df()
    finally:
        con.close()
    joined = members.merge(truth, on="customer_id", how="left")
    joined["planted"] = joined["persona"] == EMERGING
    return {int(k): (len(g), int(g["planted"].sum())) for k, g in joined.groupby("segment_id")}

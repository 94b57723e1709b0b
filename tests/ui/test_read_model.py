"""One read model for the command line and the app (segmentation/data/read.py, workflows/reports.py).

The app reads every fact through ``ui.common.cached`` / ``read_at``, which call the very function the
command line calls and add only caching: the cached result is exactly the function's result, a changed
file is read again, and the pages hold no SQL of their own.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from streamlit import logger as streamlit_logger

from segmentation.data import read, store
from segmentation.ui import common
from segmentation.workflows import reports
from tests.helpers import ROOT

streamlit_logger.set_log_level("error")  # outside a Streamlit server every cached call warns


def _same(cached, direct) -> None:
    """Equal, sums of money to the last bits aside: DuckDB adds doubles in parallel, so two reads of the
    same sum may differ in the 16th digit (value_of_segments.sql gives 6427.87 or 6427.870000000001)."""
    if isinstance(direct, pd.DataFrame):
        pd.testing.assert_frame_equal(cached, direct, check_exact=False, rtol=1e-12)
    elif isinstance(direct, dict):
        assert cached.keys() == direct.keys()
        for key, value in direct.items():
            assert cached[key] == (pytest.approx(value, rel=1e-12) if isinstance(value, float) else value), key
    else:
        assert cached == direct


def _cases(con) -> list[tuple]:
    """(reader, params) for every fact a page reads, with ids from the stored timeline."""
    runs = read.runs(con)
    latest, first = int(runs["run_id"].iloc[0]), int(runs["run_id"].iloc[-1])
    segment = read.segments(con, latest)
    real = segment[segment["segment_id"] != -1].iloc[0]
    lineage, segment_id = int(real["lineage_id"]), int(real["segment_id"])
    run = runs.iloc[0]
    customers = read.assignments(con, latest)["customer_id"].head(50).astype(str).tolist()
    return [
        (read.runs, {}), (read.segments, {"run_id": latest}), (read.segments, {"run_id": first}),
        (read.segments_timeline, {}), (read.transitions, {"run_id": latest}),
        (read.lineage_history, {"lineage_id": lineage}), (read.name_history, {"lineage_id": lineage}),
        (read.map_points, {"run_id": latest, "limit": 500}),
        (read.members_sample, {"run_id": latest, "segment_id": segment_id, "limit": 20}),
        (read.probability_histogram, {"run_id": latest, "segment_id": segment_id}),
        (read.selection_behaviour, {"customer_ids": customers, "as_of": pd.Timestamp(run["as_of"]).date(),
                                    "window_days": int(run["window_days"])}),
        (read.data_summary, {}), (read.imports, {}), (read.customers_with_events, {}), (read.event_mix, {}),
        (reports.segment_value, {"run_ids": [latest]}), (reports.customer_flows, {"before": first, "after": latest}),
    ]


def test_the_app_gets_exactly_what_each_read_function_returns(demo_runs_template):
    db = str(demo_runs_template)
    with store.connect(db, read_only=True) as con:
        cases = _cases(con)
        direct = [reader(con, **params) for reader, params in cases]
    version = common.db_version(Path(db)) + 0.5  # a key no other test used
    for (reader, params), expected in zip(cases, direct):
        _same(common.read_at(db, version, reader, **params), expected)
        _same(common.read_at(db, version, reader, **params), expected)  # from the cache: still equal


def test_the_command_line_and_the_app_list_the_same_segments(demo_runs_template):
    """``segments --json`` (its own process) and the app's cached reads show the same segments and values."""
    db = str(demo_runs_template)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("SEGMENTATION_DB", None)
    result = subprocess.run([sys.executable, "-m", "segmentation", "--db", db, "segments", "--json"],
                            capture_output=True, text=True, cwd=ROOT, env=env, timeout=300)
    assert result.returncode == 0, result.stderr
    listed = json.loads(result.stdout)
    run_id = listed[0]["run_id"]
    version = common.db_version(Path(db)) + 0.25
    frame = common.read_at(db, version, read.segments, run_id=run_id)
    columns = ["segment_id", "lineage_id", "size", "suggested_name", "transition"]
    shown = frame[columns].astype(object).where(frame[columns].notna(), None).to_dict(orient="records")
    assert [{k: d[k] for k in columns} for d in listed] == shown
    assert [d["profile"] for d in listed] == frame["profile"].tolist()
    value = common.read_at(db, version, reports.segment_value, run_ids=[run_id]).set_index("segment_id")
    for document in listed:
        assert document["value"]["revenue"] == pytest.approx(value.at[document["segment_id"], "revenue"], abs=1e-3)
        assert document["value"]["customers"] == value.at[document["segment_id"], "customers"]


def test_the_wrapper_adds_only_caching(db_file):
    """The reader is called with the connection and the parameters, once per file version and parameters."""
    with store.connect(db_file):
        pass
    calls = []

    def spy(con, run_id, ids=()):
        calls.append((run_id, ids))
        return pd.DataFrame({"run_id": [run_id], "n": [len(ids)], "tables": [len(con.execute("SHOW TABLES").df())]})

    def other(con, run_id, ids=()):
        return "another reader"

    db = str(db_file)
    first = common.read_at(db, 1.0, spy, run_id=3, ids=[1, 2])
    assert first.to_dict(orient="records")[0]["run_id"] == 3 and first["tables"].iloc[0] > 0
    first.loc[0, "run_id"] = 99  # the caller's copy: the cache keeps its own
    again = common.read_at(db, 1.0, spy, ids=(1, 2), run_id=3)  # lists and tuples are one key
    assert calls == [(3, (1, 2))] and again["run_id"].iloc[0] == 3
    common.read_at(db, 2.0, spy, run_id=3, ids=[1, 2])  # the file changed: read again
    common.read_at(db, 2.0, spy, run_id=4, ids=[1, 2])
    assert calls == [(3, (1, 2)), (3, (1, 2)), (4, (1, 2))]
    assert common.read_at(db, 2.0, other, run_id=3, ids=[1, 2]) == "another reader"  # keyed by the reader too


def test_reads_of_the_events_are_cached_per_events_fingerprint_not_per_write(db_file, monkeypatch):
    with store.connect(db_file):
        pass
    monkeypatch.setattr(common, "current_db", lambda: Path(db_file))
    calls = []

    def events_spy(con):
        calls.append(1)
        return pd.DataFrame({"events": [len(calls)]})

    summary = {"n_events": 10, "max_ingest_id": 1, "first_event": "a", "last_event": "b", "n_imports": 1}
    assert common.events_cached(events_spy, summary)["events"].iloc[0] == 1
    common.after_write()  # a snapshot or an export: the events did not change
    assert common.events_cached(events_spy, summary)["events"].iloc[0] == 1
    assert common.events_cached(events_spy, {**summary, "n_events": 11})["events"].iloc[0] == 2
    assert len(calls) == 2


def test_pages_hold_no_sql_of_their_own():
    """segmentation/ui reads only through the read model: no query files, no DuckDB calls."""
    found = []
    for path in sorted((ROOT / "segmentation" / "ui").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module == "segmentation.data.queries":
                found.append(f"{path.name}:{node.lineno} imports the query files")
            if isinstance(node, ast.Attribute) and node.attr in ("execute", "sql", "query_df"):
                found.append(f"{path.name}:{node.lineno} runs SQL ({node.attr})")
    assert found == []

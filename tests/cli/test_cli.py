"""Command line contract (DESIGN.md §4): JSON on stdout, one-line errors, exit codes,
and a stored run that can be listed, named and re-scored in a new process.

The commands run in the test process (tests.helpers.cli) except the re-scoring (cli_process): a
new process has nothing in memory from the run it scores."""

from __future__ import annotations

import json
import logging

import pytest

from tests.helpers import cli, cli_process


@pytest.fixture(scope="session")
def stored_run(tmp_path_factory):
    """A small demo database with one stored snapshot (fitted once per session)."""
    db = tmp_path_factory.mktemp("cli") / "cli.duckdb"
    demo = json.loads(cli(db, "demo", "--customers", "2500", "--months", "4", "--json").stdout)
    run = json.loads(cli(db, "run", "--as-of", "2025-04-30", "--window-days", "60",
                         "--min-cluster-share", "0.02", "--json").stdout)
    return db, demo, run


def test_demo_json_document(stored_run):
    _, demo, _ = stored_run
    assert demo["customers"] == 2500 and demo["months"] == 4 and demo["events"] > 50_000


def test_status_reports_counts(stored_run):
    db, demo, _ = stored_run
    status = json.loads(cli(db, "status", "--json").stdout)
    assert status["n_events"] == demo["events"]
    assert status["n_runs"] == 1


def test_run_document_and_listing(stored_run):
    db, _, run = stored_run
    assert run["run_id"] == 1 and run["n_segments"] >= 5
    assert run["metrics"]["ari"] >= 0.8  # small data, few months: a sanity floor, the benchmark holds the bar
    runs = json.loads(cli(db, "runs", "--json").stdout)
    assert [r["run_id"] for r in runs] == [1]
    assert runs[0]["n_customers"] == run["n_customers"]
    params = runs[0]["params"]
    feature_names = (json.loads(params) if isinstance(params, str) else params)["feature_names"]
    segments = json.loads(cli(db, "segments", "--run", "1", "--json").stdout)
    real = [s for s in segments if s["segment_id"] != -1]
    assert len(real) == run["n_segments"]
    assert all(s["transition"] == "new" and s["lineage_id"] for s in real)
    names = [s["suggested_name"] for s in real]
    assert len(set(names)) == len(names)
    for segment in real:
        profile = segment["profile"]
        assert profile["kpis"]["avg_monetary"] >= 0 and profile["top_traits"]
        assert len(profile["traits"]) == len(feature_names)


def test_name_persists(stored_run):
    db, _, _ = stored_run
    named = json.loads(cli(db, "name", "--run", "1", "--segment", "0", "--name", "Night owls",
                           "--description", "Late buyers", "--json").stdout)
    assert named["name"] == "Night owls" and named["named_by"].startswith("cli:")
    segments = json.loads(cli(db, "segments", "--json").stdout)
    first = next(s for s in segments if s["segment_id"] == 0)
    assert (first["name"], first["description"]) == ("Night owls", "Late buyers")
    # the plain listing shows the given name, every other segment's suggested name, no "nan"
    lines = cli(db, "segments").stdout.splitlines()
    assert len(lines) == len(segments) and "nan" not in " ".join(lines).split()
    shown = {int(line.split()[3]): line.split(None, 6)[-1] for line in lines if "survived" in line or "new" in line}
    assert shown[0] == "Night owls" and all(shown[s["segment_id"]] == s["suggested_name"]
                                            for s in segments if s["segment_id"] not in (0, -1))


def test_assign_in_new_process_agrees(stored_run, tmp_path):
    db, _, run = stored_run
    out = tmp_path / "scores.csv"
    document = json.loads(cli_process(db, "assign", "--run", "1", "--out", str(out), "--json").stdout)
    assert document["n_scored"] == run["n_customers"]
    assert document["agreement_with_run"] >= 0.95
    assert out.read_text().splitlines()[0] == "customer_id,segment_id,probability,x,y,reconstruction_error"
    assert len(out.read_text().splitlines()) == run["n_customers"] + 1


@pytest.mark.parametrize("args, code, fragment", [
    (["segments", "--run", "99"], 4, "no run 99"),
    (["name", "--run", "1", "--segment", "77", "--name", "x"], 4, "no segment 77"),
    (["name", "--run", "1", "--segment", "0", "--name", "  "], 2, "cannot be empty"),
    (["run", "--as-of", "2031-02-30"], 2, "is not a date"),
    (["run", "--as-of", "2030-01-01"], 2, "2030-01-01"),
    (["assign", "--run", "42"], 4, "no run 42"),
    (["run", "--as-of", "2025-04-30", "--window-days", "60"], 2, "run 1 already covers 2025-04-30"),
    (["ingest", "missing-file.csv"], 4, "missing-file.csv"),
    (["run", "--as-of", "2025-04-30", "--again", "--engine-option", "ensemble_size=2.5"], 2, "not a whole number"),
    (["run", "--as-of", "2025-04-30", "--again", "--engine-option", "random_state=3"], 2, "--seed"),
    (["timeline", "--start", "2025-03-31", "--end", "2025-04-30", "--engine-option", "count_los=10"], 2,
     "unknown engine option 'count_los'"),
])
def test_errors_are_one_line_without_traceback(stored_run, args, code, fragment):
    db, _, _ = stored_run
    result = cli(db, *args, check=False)
    assert result.returncode == code, result.stderr
    lines = result.stderr.strip().splitlines()  # progress lines may come first
    errors = [line for line in lines if line.startswith("error: ")]
    assert len(errors) == 1 and errors[0] == lines[-1] and fragment in errors[0]
    assert "Traceback" not in result.stderr and result.stdout == ""


@pytest.mark.parametrize("args, fragment", [
    (["--as-of", "2025-04-30", "--window-days", "60"], "--again"),  # a covered date
    (["--as-of", "2025-03-31", "--engine-option", "count_loss=ten"], "count_loss: 'ten' is not a number"),
])
def test_a_refused_run_adds_no_run(stored_run, args, fragment):
    db, _, _ = stored_run
    before = json.loads(cli(db, "runs", "--json").stdout)
    result = cli(db, "run", *args, check=False)
    assert result.returncode == 2 and fragment in result.stderr
    assert json.loads(cli(db, "runs", "--json").stdout) == before


def test_engine_options_reach_the_engine_and_are_stored_with_the_run(tmp_path):
    db = tmp_path / "options.duckdb"
    cli(db, "demo", "--customers", "600", "--months", "1")
    cli(db, "run", "--as-of", "2025-01-31", "--window-days", "30", "--min-cluster-share", "0.05",
        "--engine-option", "encoder=passthrough", "--engine-option", "twin_distance=off",
        "--engine-option", "refine_neighbors=7")
    from segmentation.data import results, store
    from segmentation.engine.pipeline import SegmentationPipeline

    with store.connect(db, read_only=True) as con:
        run = results.get_run(con, 1)
    assert run["params"]["extra"] == {"encoder": "passthrough", "twin_distance": None, "refine_neighbors": 7}
    pipeline = SegmentationPipeline.load(run["model_path"])  # the stored models were fitted with them
    assert (pipeline.encoder, pipeline.twin_distance, pipeline.refine_neighbors) == ("passthrough", None, 7)


def test_too_few_customers_is_a_clear_error(tmp_path):
    db = tmp_path / "tiny.duckdb"
    cli(db, "demo", "--customers", "12", "--months", "1")
    result = cli(db, "run", "--as-of", "2025-01-31", check=False)
    assert result.returncode == 2, result.stderr
    assert "customers" in result.stderr and "Traceback" not in result.stderr


def test_a_failed_recovery_is_a_visible_note_and_the_command_goes_on(tmp_path, monkeypatch, caplog):
    """Cleaning up after killed commands may fail (a folder without permission, say): one
    `note:` line on stderr says what could not be cleaned up, and the command itself succeeds.
    The log gets a warning with the redacted reason (no path beyond what the note names)."""
    from typer.testing import CliRunner

    from segmentation.data import recovery, store
    from segmentation.cli.main import app

    db = tmp_path / "recover.duckdb"
    with store.connect(db):
        pass

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied", str(tmp_path / "recover.journal"))

    monkeypatch.setattr(recovery, "recover", refuse)
    with caplog.at_level(logging.WARNING, logger="segmentation"):
        result = CliRunner().invoke(app, ["--db", str(db), "runs", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == []
    notes = [line for line in result.stderr.splitlines() if line.startswith("note: ")]
    assert len(notes) == 1, result.stderr
    assert notes[0].startswith("note: could not check for or clean up what interrupted commands left behind")
    assert "recover.journal" in notes[0] and "PermissionError" in notes[0] and "`runs` goes on" in notes[0]
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings == ["crash recovery failed before `runs`: PermissionError: [Errno 13] Permission denied: '…'"]


def test_the_command_line_starts_without_the_heavy_libraries():
    """Every command starts a process: `status` or `segments` must not wait for scikit-learn, torch,
    UMAP, HDBSCAN or streamlit to import (they cost 1-2 s per start; the commands that fit or
    score import them when they need them)."""
    import subprocess
    import sys

    from tests.helpers import ROOT

    heavy = ("sklearn", "torch", "umap", "hdbscan", "streamlit", "lightning", "pytorch_lightning")
    code = f"import sys, segmentation.cli.main; print([m for m in {heavy!r} if m in sys.modules])"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert result.stdout.strip() == "[]", result.stdout


@pytest.mark.parametrize("args", [("status",), ("runs",), ("exports", "--json"), ("segments", "--run", "1")])
def test_a_mistyped_database_path_is_refused_and_nothing_is_created(tmp_path, args):
    """An analyst's walk: `--db` with a typo read as an empty workbench (exit 0) and left an empty database and
    its folders behind."""
    db = tmp_path / "no such folder" / "sub" / "w.duckdb"
    result = cli(db, *args, check=False)
    assert result.returncode == 4
    assert result.stderr.strip() == (f"error: no database at {db}: check --db (or $SEGMENTATION_DB); `demo`, "
                                     "`first-run` or `ingest` start one")
    assert not (tmp_path / "no such folder").exists()


def test_an_exports_summary_names_its_exclusions_as_its_refusals_do(stored_run, tmp_path):
    """An analyst's walk read "consent false 60" in the summary and "no ad consent 6" in a refusal."""
    db, _, run = stored_run
    result = cli(db, "export", "--run", str(run["run_id"]), "--segment", "0", "--platform", "google",
                 "--min-size", "1", "--out", str(tmp_path / "g.csv"))
    excluded = next(line for line in result.stdout.splitlines() if line.startswith("  excluded: "))
    assert "no ad consent " in excluded and "consent false" not in excluded, excluded

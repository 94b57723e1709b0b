"""The crash journal's operations (segmentation/data/journal.py, recovery.py): each command declares
what its marker keeps and how its interruption is described, where the command or its workflow is
defined; the journal and the recovery ask that declaration and know no command by name."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from segmentation.cli import main as cli
from segmentation.data import journal, recovery, store
from segmentation.errors import WorkbenchError

STARTED = "2025-01-01T12:00:00"


def _dead_marker(db: Path, kind: str, detail: dict) -> Path:
    """A marker as a killed process left it: this pid with another start time is a process that is gone."""
    folder = journal.journal_dir(db)
    folder.mkdir(exist_ok=True)
    path = folder / f"{kind}-{os.getpid()}-0123456789ab.json"
    path.write_text(json.dumps({"kind": kind, "pid": os.getpid(), "create_time": 0.0,
                                "started_at": STARTED, "detail": detail}))
    return path


def _note(what: str, clause: str) -> str:
    return f"an interrupted `{what}` (process {os.getpid()}, started 2025-01-01 12:00:00) was cleaned up: {clause}"


@pytest.fixture
def probe_command(monkeypatch):
    """A new command ``probe`` on the CLI's app (taken off again after the test)."""
    monkeypatch.setattr(cli.app, "registered_commands", list(cli.app.registered_commands))

    def register(operation: journal.Operation, body=None):
        def probe(
            as_of: str = typer.Option(..., "--as-of"),
            out: Path = typer.Option(..., "--out"),
            seed: int = typer.Option(0, "--seed"),
        ) -> None:
            if body is not None:
                body()

        return cli.command(operation=operation)(probe)

    return register


def test_a_new_command_marks_the_options_its_own_declaration_names_and_no_other(db_file, probe_command,
                                                                                tmp_path):
    with store.connect(db_file):
        pass
    seen: list[dict] = []

    def body():  # while the command runs: its marker, and a copy as if the process were killed now
        [marker] = journal.journal_dir(db_file).glob("probe-*.json")
        document = json.loads(marker.read_text())
        seen.append(document)
        (marker.parent / f"probe-{os.getpid()}-killed.json").write_text(
            json.dumps({**document, "create_time": 0.0, "started_at": STARTED}))

    probe = journal.declare("probe", marked=("as_of", "out"),
                            outcome=lambda con, marker: f"probe's own words ({len(marker['detail'])} values)")
    probe_command(probe, body)
    result = CliRunner().invoke(cli.app, ["--db", str(db_file), "probe", "--as-of", "2025-02-28",
                                          "--out", str(tmp_path / "x.csv"), "--seed", "3"])
    assert result.exit_code == 0, result.output
    assert seen[0]["kind"] == "probe" and seen[0]["pid"] == os.getpid()
    # The declared options, a path resolved; --seed is not declared: not in the marker.
    assert seen[0]["detail"] == {"as_of": "2025-02-28", "out": str((tmp_path / "x.csv").resolve())}
    assert [p.name for p in journal.journal_dir(db_file).iterdir()] == [f"probe-{os.getpid()}-killed.json"]

    assert recovery.recover(db_file) == [_note(f"probe --as-of 2025-02-28 --out {(tmp_path / 'x.csv').resolve()}",
                                               "probe's own words (2 values)")]
    assert list(journal.journal_dir(db_file).iterdir()) == []


def test_a_command_cannot_mark_an_option_it_does_not_have_or_run_another_command_s_operation(probe_command):
    with pytest.raises(TypeError, match="no option window_days"):
        probe_command(journal.Operation("probe", marked=("as_of", "window_days")))
    with pytest.raises(TypeError, match="operation 'run'"):
        probe_command(journal.Operation("run", marked=("as_of",)))


def test_the_commands_mark_what_they_marked_before_the_declarations_moved():
    """The marker files keep their contents: the options each command's declaration names."""
    marked = {kind: journal.declared(kind).marked
              for kind in ("run", "timeline", "ingest", "export", "demo", "first-run", "assign")}
    assert marked == {"run": ("as_of", "window_days"), "timeline": ("start", "end", "every", "window_days"),
                      "ingest": ("file", "kind"), "export": ("run_id", "segment", "platform", "out"),
                      "demo": ("customers", "months"), "first-run": (), "assign": None}
    export = journal.declared("export").detail({"run_id": 1, "segment": [0, 2], "platform": "crm",
                                                "out": Path("/tmp/owls.csv"), "force": True, "min_size": None})
    assert export == {"run": 1, "segment": "0,2", "platform": "crm", "out": str(Path("/tmp/owls.csv").resolve())}


@pytest.mark.parametrize("kind, detail, what, clause", [
    ("run", {"as_of": "2025-03-01", "window_days": 30}, "run --as-of 2025-03-01 --window-days 30",
     "nothing of it was stored"),
    ("timeline", {"start": "2025-01-31", "end": "2025-03-31", "every": 30, "window_days": 60},
     "timeline --start 2025-01-31 --end 2025-03-31 --every 30 --window-days 60",
     "no snapshot of it was stored; run the same timeline again"),
    ("ingest", {"file": "/data/events.csv", "kind": "events"}, "ingest /data/events.csv --kind events",
     "nothing of it was imported; import the file again"),
    ("export", {"run": 1, "segment": "0,2", "platform": "crm", "out": "/data/owls.csv"},
     "export --run 1 --segment 0,2 --platform crm --out /data/owls.csv", "nothing of it was written"),
    ("demo", {"customers": 500, "months": 3}, "demo --customers 500 --months 3",
     "the demo data is complete or absent (it is written in one transaction)"),
    ("first-run", {}, "first-run", "the demo data is complete or absent (one transaction); "
     "no snapshot of it was stored; run `first-run` again"),
    ("reindex", {"table": "events"}, "reindex --table events", "the database keeps only what it had committed"),
], ids=["run", "timeline", "ingest", "export", "demo", "first-run", "undeclared"])
def test_markers_written_before_the_change_are_recovered_with_the_same_sentence(db_file, kind, detail, what,
                                                                                clause):
    with store.connect(db_file):
        pass
    marker = _dead_marker(db_file, kind, detail)
    assert recovery.recover(db_file) == [_note(what, clause)]
    assert not marker.exists()


def test_a_run_marker_with_models_moved_into_place_is_told_they_were_removed(db_file):
    """Only an operation declared to store models takes the blame for a model folder without a run."""
    with store.connect(db_file):
        pass
    orphan = store.models_dir(db_file) / "run_4"
    orphan.mkdir(parents=True)
    _dead_marker(db_file, "run", {"as_of": "2025-03-01", "window_days": 30})
    assert recovery.recover(db_file) == [_note(
        "run --as-of 2025-03-01 --window-days 30",
        "nothing of it was stored; removed the model folder it had moved into place (run_4)")]
    assert not orphan.exists()


def test_a_recovery_that_cannot_read_the_database_is_a_warning(db_file, monkeypatch, caplog):
    with store.connect(db_file):
        pass
    _dead_marker(db_file, "run", {"as_of": "2025-03-01", "window_days": 30})

    def unreadable(*args, **kwargs):
        raise WorkbenchError("Cannot open database: IO Error: 'ann@example.com' is not a database")

    monkeypatch.setattr(store, "connect", unreadable)
    with caplog.at_level(logging.WARNING, logger="segmentation"):
        assert recovery.recover(db_file) == []
    [record] = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert record.getMessage() == ("crash recovery skipped: WorkbenchError: Cannot open database: IO Error: '…' "
                                   "is not a database; the next command tries again")

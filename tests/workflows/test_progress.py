"""Progress events of the workflows (segmentation/workflows/progress.py): the stages in the order they
run, a fraction that only moves forward to 1, a timeline's place and the training's epochs and notes
as fields, and the lines the command line prints."""

from __future__ import annotations

from datetime import date
from types import SimpleNamespace

import pytest

from segmentation.workflows.progress import (ProgressEvent, Stage, as_lines, epoch_callback, in_timeline,
                                             keeping_notes, say, say_note)

# The parameters of the snapshots in tests/conftest.py's demo_runs (so the snapshot may reuse their models).
DEMO_RUNS_PARAMS = {"window_days": 60, "min_cluster_share": 0.02}


def test_the_stages_start_in_the_order_they_run():
    starts = [stage.start for stage in Stage]
    assert starts == sorted(starts) and (starts[0], starts[-1]) == (0.0, 1.0)
    assert (Stage.TRAINING.start, Stage.TRAINING.end) == (0.10, Stage.EMBEDDING.start)
    assert Stage("embedding") is Stage.EMBEDDING  # the pipeline's names for its stages


def test_events_say_where_they_are_in_a_timeline_and_in_the_training():
    events: list[ProgressEvent] = []
    first, second = in_timeline(events.append, 1, 2), in_timeline(events.append, 2, 2)
    say(first, Stage.SNAPSHOT, "[1/2] snapshot 2025-03-31")
    say(first, Stage.FEATURES, "features: customers active …")
    say(first, Stage.TRAINING, epoch=10, epochs=20)
    say(first, Stage.EMBEDDING, "  embedding …")
    say(first, Stage.SEGMENTS, "clustering: 6 segments, noise 0.0%")
    say(first, Stage.STORED, "stored: run 1 (12 s)")
    say(second, Stage.SNAPSHOT, "[2/2] snapshot 2025-05-31")
    say(second, Stage.FITTING, "training: autoencoder …")
    say(second, Stage.STORED, "stored: run 2 (9 s)")
    assert [e.fraction for e in events] == pytest.approx([0.0, 0.01, (0.10 + 0.20) / 2, 0.25, 0.36, 0.5,
                                                          0.5, 0.53, 1.0])
    assert [(e.snapshot, e.snapshots) for e in events] == [(1, 2)] * 6 + [(2, 2)] * 3


def test_training_epochs_come_through_the_same_channel_without_a_line():
    events: list[ProgressEvent] = []
    callback = epoch_callback(events.append)
    callback.on_train_epoch_end(SimpleNamespace(current_epoch=4, max_epochs=40), None)
    [event] = events
    assert (event.stage, event.epoch, event.epochs, event.message) == (Stage.TRAINING, 5, 40, "")
    assert event.fraction == pytest.approx(0.10 + 0.40 * 5 / 40)


def test_notes_are_fields_and_the_command_line_prints_the_lines_only():
    lines, notes = [], []
    progress = keeping_notes(as_lines(lines.append), notes)
    say(progress, Stage.FEATURES, "features: customers active …")
    say_note(progress, Stage.FEATURES, "1 customer had undefined values")
    say(progress, Stage.TRAINING, epoch=1, epochs=40)
    say_note(progress, Stage.ASSIGNING, "2 features absent from the data are set to 0", indent="")
    assert lines == ["features: customers active …", "  note: 1 customer had undefined values",
                     "note: 2 features absent from the data are set to 0"]
    assert notes == ["1 customer had undefined values", "2 features absent from the data are set to 0"]
    assert as_lines(None) is None and in_timeline(None, 1, 2) is None


def test_the_events_of_a_snapshot_come_in_stage_order_and_end_at_one(demo_runs_db):
    from segmentation.workflows.snapshot import SnapshotParams, run_snapshot

    events: list[ProgressEvent] = []
    document = run_snapshot(demo_runs_db, date(2025, 6, 30), SnapshotParams(**DEMO_RUNS_PARAMS),
                            progress=events.append)
    order = list(Stage)
    stages = [order.index(event.stage) for event in events]
    fractions = [event.fraction for event in events]
    assert stages == sorted(stages) and fractions == sorted(fractions)
    assert fractions[0] == Stage.FEATURES.start and fractions[-1] == 1.0
    assert events[-1].stage is Stage.STORED and events[-1].message.startswith(f"stored: run {document['run_id']} (")
    assert {Stage.FEATURES, Stage.SEGMENTS, Stage.PROFILES, Stage.TRACKING, Stage.STORE} <= {e.stage for e in events}
    assert [e.note for e in events if e.note is not None] == document["notes"]
    assert all(e.message == f"  note: {e.note}" for e in events if e.note is not None)


def test_a_timeline_of_stored_dates_reports_each_one_skipped(demo_runs_db):
    from segmentation.workflows.snapshot import SnapshotParams
    from segmentation.workflows.timeline import run_timeline

    events: list[ProgressEvent] = []
    run_timeline(demo_runs_db, date(2025, 4, 30), date(2025, 6, 30), 61, SnapshotParams(**DEMO_RUNS_PARAMS),
                 progress=events.append)
    assert [(e.stage, e.snapshot, e.snapshots, e.fraction) for e in events] == [
        (Stage.SKIPPED, 1, 2, 0.5), (Stage.SKIPPED, 2, 2, 1.0)]
    assert events[0].message.startswith("[1/2] 2025-04-30: run ") and events[0].message.endswith(" exists, skipped")


def test_a_fit_the_size_polishes_says_so_and_names_the_rows_it_was_drawn_in(demo_runs_db):
    """The polish turned on by the fit sample's size (``polish_from``) is drawn in the code beside the features,
    and the progress line says both, with the share of fitted customers it moved."""
    from segmentation.workflows.snapshot import SnapshotParams, run_snapshot

    lines: list[str] = []
    run_snapshot(demo_runs_db, date(2025, 6, 30),
                 SnapshotParams(**DEMO_RUNS_PARAMS, refit=True, extra={"polish_from": 100}),
                 progress=as_lines(lines.append))
    [line] = [line for line in lines if "discriminant polish" in line]
    assert line.startswith("  discriminant polish (on for a fit of 100 customers or more): ")
    assert line.endswith("of the fitted customers moved to the segment a linear discriminant of their code and "
                         "features draws them in")

"""No silent fallbacks (issue 17): what a snapshot or an assignment filled in or could not
check is a note stored with the run (``runs.metrics["notes"]``), in the JSON document
(``notes``) and on the progress lines (``note: …``)."""

from __future__ import annotations

from datetime import date

import pytest

from segmentation.dynamics import drift
from segmentation.features import table as features
from segmentation.data import results, store
from segmentation.workflows import snapshot
from segmentation.workflows.assign import assign_customers
from segmentation.workflows.progress import as_lines
from segmentation.demo import generate as demo_data
from segmentation.engine.pipeline import SegmentationPipeline

WINDOW = 45
FIRST, SECOND = date(2025, 2, 28), date(2025, 3, 31)
# No reconstruction ("passthrough" encoder): also the fastest models to fit.
PARAMS = snapshot.SnapshotParams(window_days=WINDOW, min_cluster_share=0.03, fit_sample_size=2000,
                                 extra={"encoder": "passthrough"})


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    """Two snapshots of a small stationary demo with one customer whose spend is NaN."""
    db = tmp_path_factory.mktemp("notes") / "notes.duckdb"
    with store.connect(db) as con:
        demo_data.create_demo(con, customers=1200, months=3, seed=3, stationary=True)
        customer = con.execute("SELECT min(customer_id) FROM events WHERE event_type = 'purchase' "
                               "AND ts >= TIMESTAMP '2025-01-20' AND ts < TIMESTAMP '2025-03-01'").fetchone()[0]
        con.execute("UPDATE events SET amount = 'nan'::DOUBLE WHERE customer_id = ? AND event_type = 'purchase'",
                    [customer])
    lines: list[str] = []
    first = snapshot.run_snapshot(db, FIRST, PARAMS, progress=as_lines(lines.append))
    second = snapshot.run_snapshot(db, SECOND, PARAMS, progress=as_lines(lines.append))
    return db, customer, first, second, lines


def _stored_metrics(db, run_id: int) -> dict:
    with store.connect(db, read_only=True) as con:
        return results.get_run(con, run_id)["metrics"]


def test_undefined_feature_values_are_a_note_of_the_run(two_runs):
    db, customer, first, _, lines = two_runs
    [note] = [n for n in first["notes"] if "undefined values (NaN or infinity)" in n]
    assert note.startswith("1 customer had undefined values") and "monetary (1 customer)" in note
    assert customer not in note  # counts only, never who
    assert first["metrics"]["notes"] == first["notes"]
    assert note in _stored_metrics(db, first["run_id"])["notes"]
    assert f"  note: {note}" in lines


def test_models_without_reconstruction_note_it_at_the_fit_and_at_every_reuse(two_runs):
    db, _, first, second, lines = two_runs
    for document in (first, second):
        model = document["metrics"]["model"]
        assert model["reconstruction"] is False and model["notes"] == [drift.NO_RECONSTRUCTION]
        assert drift.NO_RECONSTRUCTION in document["notes"]
        assert drift.NO_RECONSTRUCTION in _stored_metrics(db, document["run_id"])["notes"]
    assert first["metrics"]["model"]["refit"] is True
    # the second snapshot's decision rested on noise and profiles (reused, or refitted on them)
    second_model = second["metrics"]["model"]
    assert second_model["refit"] is True or "unexplained not measured" in second_model["reasons"][0]
    assert second_model["unexplained_as_noise"] == 0
    assert lines.count(f"  note: {drift.NO_RECONSTRUCTION}") == 2


def test_features_missing_at_assign_get_the_value_for_no_such_activity(two_runs, monkeypatch):
    """recency_days missing at assign: the window length (nobody active), not 0 ("active today")."""
    db, _, _, second, _ = two_runs
    real_build, seen = features.build_features, {}

    def lacking(con, as_of, window_days, **kwargs):
        table = real_build(con, as_of, window_days, **kwargs)
        table.frame = table.frame.drop(columns=["recency_days", "channel_web"])
        return table

    def spy(self, X, *args, **kwargs):
        seen["frame"] = X.copy()
        return real_assign(self, X, *args, **kwargs)

    real_assign = SegmentationPipeline.assign
    monkeypatch.setattr(features, "build_features", lacking)
    monkeypatch.setattr(SegmentationPipeline, "assign", spy)
    lines: list[str] = []
    document = assign_customers(db, second["run_id"], progress=as_lines(lines.append))
    frame = seen["frame"]
    assert {"recency_days", "channel_web"} <= set(frame.columns)
    assert (frame["recency_days"] == WINDOW).all() and (frame["channel_web"] == 0).all()
    [missing] = [n for n in document["notes"] if "absent from the data" in n]
    assert f"recency_days = {WINDOW} (no such activity)" in missing and "channel_web = 0" in missing
    assert f"note: {missing}" in lines
    assert any("undefined values" in n for n in document["notes"])  # the NaN spend of the data, again

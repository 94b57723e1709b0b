"""The change suite's scoring of a fade (benchmarks/dynamics_changes.py): it is planted on a cadence
only where it completes, and its delay counts from the snapshot where the persona holds < 2 %."""

from __future__ import annotations

import pandas as pd
import pytest

from benchmarks import changes as ch
from benchmarks import dynamics_changes as dc


@pytest.fixture(scope="module")
def fade_truth():
    _, truth = ch.generate(ch.CHANGES["fade"], 0)  # a tuning seed
    return truth


def test_a_fade_that_does_not_complete_by_the_last_snapshot_is_not_planted(fade_truth):
    weekly = dc.CADENCES["weekly"]
    shares = dc.truth_shares(fade_truth, weekly)
    assert shares[-1]["persona 1"] > 0.05  # the 90-day window still holds the faded customers' events
    assert dc._reference(ch.CHANGES["fade"], shares, weekly) is None


def test_a_fade_is_referenced_where_the_persona_falls_below_two_percent(fade_truth):
    month_ends = dc.CADENCES["month ends"]
    shares = dc.truth_shares(fade_truth, month_ends)
    i = dc._reference(ch.CHANGES["fade"], shares, month_ends)
    assert i is not None and shares[i].get("persona 1", 0) < 0.02 <= shares[i - 1].get("persona 1", 0)


def test_rescoring_moves_only_a_fade_reference():
    month_ends = dc.CADENCES["month ends"]
    _, truth = ch.generate(ch.named("fade"), 0)
    new = dc._reference(ch.CHANGES["fade"], dc.truth_shares(truth, month_ends), month_ends)
    onset = pd.Timestamp(ch._month_start(ch.CHANGES["fade"].onset))
    old = next(i for i, d in enumerate(month_ends) if i > 0 and pd.Timestamp(d) >= onset)
    rows = pd.DataFrame([
        {"change": "fade", "seed": 0, "cadence": "month ends", "expected": "disappeared", "planted": 1,
         "detected": 1, "delay": new - old, "false_events": 0},  # found where the persona fell below 2 %
        {"change": "fade", "seed": 0, "cadence": "weekly", "expected": "disappeared", "planted": 1,
         "detected": 0, "delay": None, "false_events": 0},
        {"change": "split", "seed": 0, "cadence": "month ends", "expected": "split", "planted": 1,
         "detected": 1, "delay": 2, "false_events": 1}])
    out = dc.rescore_fades(rows)
    assert out.loc[0, ["planted", "detected", "delay"]].tolist() == [1, 1, 0]
    assert out.loc[1, ["planted", "detected"]].tolist() == [0, 0] and pd.isna(out.loc[1, "delay"])
    assert out.loc[2].equals(rows.loc[2])

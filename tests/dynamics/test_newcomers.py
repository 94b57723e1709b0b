"""The drift check on a segment's newcomers: a blend forming inside a segment refits; sign-ups of the
segment's own behaviour, with few events each, do not."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from segmentation.dynamics import drift
from segmentation.dynamics.newcomers import newcomers_unlike
from segmentation.engine.resemblance import UNLIKE

CATEGORIES = ["category_garden", "category_toys", "category_music", "category_pets", "category_books", "category_games"]
CHANNELS = ["channel_web", "channel_app"]
MIX = CATEGORIES + CHANNELS
PERSONA_A = ([0.45, 0.35, 0.05, 0.05, 0.05, 0.05], [0.8, 0.2])
PERSONA_B = ([0.05, 0.05, 0.05, 0.05, 0.35, 0.45], [0.2, 0.8])
BLEND = PERSONA_B[0], PERSONA_A[1]  # B's categories through A's channels


def _customers(rng, n: int, persona, events: int) -> pd.DataFrame:
    categories, channels = persona
    rows = np.c_[rng.multinomial(events, categories, size=n), rng.multinomial(events, channels, size=n)]
    shares = rows / events
    frame = pd.DataFrame(shares, columns=MIX)
    frame["frequency"] = float(events)
    frame["trend"] = 0.5
    return frame


def _snapshot(newcomers, newcomer_events: int, n_new: int, seed: int = 0):
    """Segment 0 (persona A: 600 stayers, 30 events each, and ``n_new`` newcomers), segment 1 (persona B)."""
    rng = np.random.default_rng(seed)
    stay = _customers(rng, 600, PERSONA_A, 30)
    new = _customers(rng, n_new, newcomers, newcomer_events).assign(trend=1.0)  # signed up in the window
    other = _customers(rng, 600, PERSONA_B, 30)
    features = pd.concat([stay, new, other], ignore_index=True)
    labels = np.r_[np.zeros(600 + n_new, int), np.ones(600, int)]
    fitted = np.r_[np.zeros(600, int), np.full(n_new, -1), np.ones(600, int)]  # newcomers: not customers then
    return features, labels, fitted


def test_a_blend_of_two_segments_joining_one_of_them_is_found():
    features, labels, fitted = _snapshot(BLEND, 8, n_new=60)
    distance, segment, count, threshold = newcomers_unlike(features, labels, fitted, MIX, floor=50)
    assert (segment, count) == (0, 60)
    assert threshold == pytest.approx(UNLIKE) and distance > 1.5 * threshold
    decision = drift.assess(pd.DataFrame({"segment_id": labels, "reconstruction_error": 0.0}),
                            {"from_run": 3, "age": 0, "novelty_threshold": 1.0, "baseline_noise_share": 0.0},
                            min_cluster_share=0.04, newcomers=(distance, segment, count, threshold))
    assert decision.refit and "60 customers joined segment 0" in decision.reasons[0]


def test_sign_ups_of_the_segments_own_behaviour_with_few_events_are_not_new_behaviour():
    # Three events each: their own shares are 0 or a third, their pooled mix is the segment's.
    features, labels, fitted = _snapshot(PERSONA_A, 3, n_new=120)
    distance, segment, count, threshold = newcomers_unlike(features, labels, fitted, MIX, floor=50)
    assert segment == 0 and count == 120
    assert distance < 0.5 * threshold
    # trend, 1 for every sign-up, would call them new: it is not part of the mix
    with_trend, *_ = newcomers_unlike(features, labels, fitted, MIX + ["trend"], floor=50)
    assert with_trend > UNLIKE


def test_newcomers_fewer_than_the_floor_are_not_a_segment_forming():
    features, labels, fitted = _snapshot(BLEND, 8, n_new=40)
    assert newcomers_unlike(features, labels, fitted, MIX, floor=50)[1] is None


def test_a_small_group_needs_more_than_sampling_to_differ():
    from segmentation.dynamics.newcomers import newcomers_threshold

    assert newcomers_threshold(60, 600) == pytest.approx(UNLIKE)
    assert newcomers_threshold(6, 600) == pytest.approx(drift.SAMPLING_Z * np.sqrt(1 / 6 + 1 / 600))

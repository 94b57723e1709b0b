"""Sparse-aware inputs: share smoothing, split-half reliability, and the per-data-set choice of
clustered features (issue 9). Small hand-built cases; each test fails when its mechanism goes."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from segmentation.data import store
from segmentation.features.signal import VALUE_FEATURES, choose_clustered, feature_reliability, reliability_weights
from segmentation.engine.steps import FeaturePreprocessor, share_prior


def _binomial_shares(p_true: np.ndarray, n: np.ndarray, rng) -> np.ndarray:
    return rng.binomial(n, p_true) / n


def test_a_share_that_is_sampling_noise_only_gets_no_weight_and_a_real_one_keeps_it():
    rng = np.random.default_rng(0)
    n = rng.integers(2, 8, size=4000)
    noise = _binomial_shares(np.full(4000, 0.3), n, rng)           # everybody the same: noise only
    groups = rng.random(4000) < 0.5
    signal = _binomial_shares(np.where(groups, 0.1, 0.7), n, rng)  # two behaviours
    mean, strength, share_of_signal = share_prior(noise, n.astype(float))
    assert share_of_signal < 0.05 and mean == pytest.approx(0.3, abs=0.02)
    _, strength_signal, share_of_signal = share_prior(signal, n.astype(float))
    assert share_of_signal > 0.5 and np.isfinite(strength_signal)

    X = np.column_stack([noise, signal, n]).astype(float)
    pre = FeaturePreprocessor(share_counts={0: 2, 1: 2}, share_weight_power=0.5).fit(X)
    kept = dict(zip(pre.keep_.tolist(), pre.weights_.tolist()))
    assert 0 not in kept or kept[0] < 0.25      # the noise share is dropped or nearly weightless
    assert kept[1] > 0.7


def test_smoothing_pulls_a_sparse_customer_further_toward_the_population_than_a_busy_one():
    rng = np.random.default_rng(1)
    n = rng.integers(2, 50, size=3000).astype(float)
    share = _binomial_shares(np.where(rng.random(3000) < 0.5, 0.2, 0.6), n.astype(int), rng)
    pre = FeaturePreprocessor(share_counts={0: 1}, share_weight_power=0.0, scaler="global")
    pre.fit(np.column_stack([share, n]))
    mean = pre.shares_[0][1]
    sparse, busy = np.array([[1.0, 2.0]]), np.array([[1.0, 100.0]])
    smoothed_sparse = pre._smoothed(sparse.copy())[0, 0]
    smoothed_busy = pre._smoothed(busy.copy())[0, 0]
    assert mean < smoothed_sparse < smoothed_busy < 1.0
    assert smoothed_busy > 0.9 and smoothed_sparse < 0.8


def test_value_features_are_clustered_on_a_purchase_log_and_profile_only_where_most_browse():
    rng = np.random.default_rng(2)
    n = rng.integers(1, 9, 500)
    frame = pd.DataFrame({"frequency": n, "monetary": rng.gamma(2, 30, 500),
                          "n_purchases": n, "purchase_interval_days": rng.gamma(2, 9, 500),
                          "channel_web": rng.random(500)})
    clustered, profile_only, why = choose_clustered(frame, "auto")
    # the purchase count ranks customers exactly like the event count: one measure, counted once
    assert profile_only == ["n_purchases"] and "same ranking as frequency" in why
    assert {"monetary", "purchase_interval_days"} <= set(clustered) and "purchase log" in why
    browsing = frame.assign(frequency=frame["frequency"] * 10)  # 1 event in 10 is a purchase
    clustered, profile_only, why = choose_clustered(browsing, "auto")
    assert set(profile_only) == set(VALUE_FEATURES) and "10% of the events" in why
    clustered, profile_only, _ = choose_clustered(frame, ("channel_web",))
    assert profile_only == ["channel_web"]


def test_split_half_reliability_is_high_for_a_habit_and_low_for_a_coin_toss(db_file):
    rng = np.random.default_rng(3)
    as_of = date(2024, 3, 31)
    rows = []
    for c in range(300):
        app_lover = c % 2 == 0
        for e in range(30):
            ts = datetime(2024, 3, 1) + timedelta(hours=int(rng.integers(0, 24 * 30)), seconds=e)
            channel = "app" if rng.random() < (0.8 if app_lover else 0.2) else "web"
            category = "books" if rng.random() < 0.5 else "games"  # nobody has a preference
            rows.append((f"c{c:03d}", ts, "view", channel, category, 0.0, 1.0))
    with store.connect(db_file) as con:
        con.executemany("INSERT INTO events (customer_id, ts, event_type, channel, category, amount, quantity) "
                        "VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
        reliability = feature_reliability(con, as_of, 30, ["channel_app", "category_books"])
    # the habit counts fully; the coin toss's chance agreement between halves is no signal at all
    assert reliability["channel_app"] > 0.75
    assert reliability_weights(reliability, ["channel_app", "category_books"]) == {"channel_app": 1.0,
                                                                                   "category_books": 0.0}


def test_chance_agreement_between_halves_is_not_signal():
    """Spearman–Brown on the lower confidence bound: a correlation that n customers give by chance counts 0."""
    from segmentation.features.signal import _lower_bound

    rng = np.random.default_rng(0)
    noise = [np.corrcoef(rng.random(1500), rng.random(1500))[0, 1] for _ in range(200)]
    # taken at face value, half the noise columns would count, some with a third of a real feature's weight
    assert sum(r > 0 for r in noise) > 80 and max(noise) > 0.05
    assert sum(_lower_bound(r, 1500) > 0 for r in noise) <= 10  # from the bound up: 1 in 40 by chance
    assert 0.55 < _lower_bound(0.6, 1500) < 0.6  # a real habit loses only its sampling error

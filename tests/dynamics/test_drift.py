"""Model reuse between snapshots: the drift rules and emerging-segment alerts."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from segmentation.dynamics import drift, refit_review
from segmentation.dynamics.tracking import emerging_alerts
from segmentation.engine.resemblance import TWIN

FITTED = {"from_run": 3, "age": 0, "novelty_threshold": 1.0, "baseline_noise_share": 0.02}


def _scores(n: int, unexplained: int, noise: int) -> pd.DataFrame:
    errors = np.full(n, 0.5)
    errors[:unexplained] = 2.0
    segments = np.zeros(n, dtype=int)
    segments[n - noise:] = -1
    return pd.DataFrame({"segment_id": segments, "reconstruction_error": errors})


def test_baseline_is_the_fit_quantile_and_noise_share():
    errors = np.arange(1, 1001, dtype=float)
    labels = np.r_[np.full(950, 0), np.full(50, -1)]
    threshold, unexplained, noise = drift.baseline_of(labels, errors)
    assert threshold == pytest.approx(np.quantile(errors, 0.99))
    assert unexplained == pytest.approx(np.quantile(errors, 0.999))
    assert noise == pytest.approx(0.05)


def test_reused_models_report_customers_they_cannot_explain_as_noise():
    scores = _scores(1_000, unexplained=30, noise=10).assign(probability=0.9)
    scores.loc[:4, "reconstruction_error"] = 5.0  # far beyond what the fit saw
    decision = drift.assess(scores, {**FITTED, "unexplained_threshold": 3.0}, min_cluster_share=0.05)
    assert not decision.refit and decision.noise_share == pytest.approx(0.01)  # HDBSCAN's own noise
    marked = drift.mark_unexplained(scores, decision)
    assert decision.unexplained_as_noise == 5
    assert (marked.loc[:4, "segment_id"] == -1).all() and (marked.loc[:4, "probability"] == 0).all()
    assert (marked.loc[5:, "segment_id"] == scores.loc[5:, "segment_id"]).all()
    assert (scores.loc[:4, "segment_id"] == 0).all()  # the input is left as it was


def test_runs_stored_without_the_unexplained_threshold_keep_their_labels():
    scores = _scores(100, unexplained=50, noise=0).assign(probability=0.9)
    decision = drift.assess(scores, FITTED, min_cluster_share=0.9)
    assert drift.mark_unexplained(scores, decision) is scores and decision.unexplained_as_noise == 0


def test_no_drift_reuses_the_models_and_ages_them():
    decision = drift.assess(_scores(10_000, unexplained=150, noise=250), FITTED, min_cluster_share=0.01)
    assert not decision.refit
    assert decision.from_run == 3 and decision.age == 1
    assert decision.novelty_share == pytest.approx(0.015) and decision.noise_share == pytest.approx(0.025)
    assert "reused" in decision.reasons[0]


def test_unexplained_customers_as_many_as_a_segment_refit():
    # 1 % above the 99th percentile is expected; 1 % more is a possible new segment.
    decision = drift.assess(_scores(10_000, unexplained=200, noise=0), FITTED, min_cluster_share=0.01)
    assert decision.refit and "not explained" in decision.reasons[0]
    assert not drift.assess(_scores(10_000, unexplained=199, noise=0), FITTED, min_cluster_share=0.01).refit


def test_noise_growth_of_a_segment_refits():
    decision = drift.assess(_scores(10_000, unexplained=0, noise=400), FITTED, min_cluster_share=0.02)
    assert decision.refit and decision.reasons == ["noise grew from 2.0% to 4.0%"]
    assert not drift.assess(_scores(10_000, unexplained=0, noise=399), FITTED, min_cluster_share=0.02).refit


def test_noise_that_grows_to_the_size_of_a_segment_refits():
    # A behaviour too small to be a segment at the fit sits in the noise; once the noise is as
    # large as the smallest segment the run may find, a refit can find it.
    fitted = {**FITTED, "baseline_noise_share": 0.013}
    decision = drift.assess(_scores(10_000, unexplained=0, noise=200), fitted, min_cluster_share=0.02)
    assert decision.refit and "as many as the smallest segment" in decision.reasons[0]
    assert not drift.assess(_scores(10_000, unexplained=0, noise=199), fitted, min_cluster_share=0.02).refit
    # crossing the floor by less than sampling moves a share (3 standard errors, 0.59 points here) is no signal
    assert not drift.assess(_scores(10_000, unexplained=0, noise=205), {**FITTED, "baseline_noise_share": 0.0195},
                            min_cluster_share=0.02).refit
    # noise already that large at the fit: only growth by a segment's size counts
    assert not drift.assess(_scores(10_000, unexplained=0, noise=350), {**FITTED, "baseline_noise_share": 0.021},
                            min_cluster_share=0.02).refit


def test_comparable_params_ignore_the_refit_policy_only():
    a = {"window_days": 90, "seed": 0, "refit": True, "refit_every": 3}
    assert drift.comparable_params(a) == {"window_days": 90, "seed": 0}


def _history() -> pd.DataFrame:
    rows = [
        # run, as_of, n, segment, lineage, size, transition, profile
        (1, date(2025, 3, 31), 1000, 0, 1, 600, "new", {}),
        (1, date(2025, 3, 31), 1000, 1, 2, 400, "new", {}),
        (2, date(2025, 4, 30), 1000, 0, 1, 560, "survived", {}),
        (2, date(2025, 4, 30), 1000, 1, 2, 390, "survived", {}),
        (2, date(2025, 4, 30), 1000, 2, 3, 50, "emerged",
         {"sources": [{"source": "new customers", "customers": 30, "share": 0.6},
                      {"source": "segment 0", "customers": 20, "share": 0.4}],
          "top_traits": ["4.0× more social", "buys mostly at night"]}),
        (3, date(2025, 5, 31), 1100, 0, 1, 560, "survived", {}),
        (3, date(2025, 5, 31), 1100, 1, 2, 430, "survived", {}),
        (3, date(2025, 5, 31), 1100, 2, 3, 110, "survived", {}),
    ]
    frame = pd.DataFrame(rows, columns=["run_id", "as_of", "n_customers", "segment_id", "lineage_id", "size",
                                        "transition", "profile"])
    frame["name"] = None
    frame["suggested_name"] = "Social night owls"
    return frame


def test_emerging_alert_has_size_growth_sources_and_traits():
    alerts = emerging_alerts(_history())
    assert len(alerts) == 1
    alert = alerts[0]
    assert (alert["run_id"], alert["segment_id"], alert["lineage_id"]) == (2, 2, 3)
    assert alert["size"] == 50 and alert["share"] == pytest.approx(0.05)
    assert alert["growth"] == [{"as_of": "2025-05-31", "run_id": 3, "size": 110, "share": pytest.approx(0.1),
                                "transition": "survived"}]
    assert alert["latest_share"] == pytest.approx(0.1)
    assert [s["source"] for s in alert["sources"]] == ["new customers", "segment 0"]
    assert alert["top_traits"][0] == "4.0× more social"
    assert emerging_alerts(_history(), run_ids=[3]) == []


def test_segments_below_the_floor_become_noise_under_reused_models():
    scores = pd.DataFrame({"segment_id": [0] * 50 + [1] * 12 + [2] * 30 + [-1] * 8,
                           "probability": 0.9, "reconstruction_error": 0.1})
    decision = drift.ModelDecision(refit=False)
    out = drift.drop_small_segments(scores, floor=20, decision=decision)
    assert sorted(set(out["segment_id"])) == [-1, 0, 2]
    assert decision.below_floor_as_noise == 12 and (out["segment_id"] == -1).sum() == 20
    assert len(out) == len(scores) and (out.loc[50:61, "probability"] == 0.0).all()


def test_a_segment_whose_behaviour_moved_calls_for_a_refit():
    """Half of segment 0 took up new behaviour (a split hiding under reused models): its means moved."""
    from segmentation.engine.resemblance import means_of_labels

    rng = np.random.default_rng(0)
    columns = list("abcdefghij")
    features = pd.DataFrame(rng.normal(0, 1, (900, 10)), columns=columns)
    features.loc[:299, "a"] += 3   # segment 0
    features.loc[300:599, "b"] += 3  # segment 1; segment 2 is the rest
    labels = np.repeat([0, 1, 2], 300)
    fitted = means_of_labels(features, labels)
    assert drift.profile_shift(features, labels, [fitted])[0] < 0.1
    moved = features.copy()
    moved.loc[:149, list("cdefg")] += 2  # half of segment 0 took up five new behaviours
    distance, segment, threshold = drift.profile_shift(moved, labels, [fitted])
    assert segment == 0 and distance >= threshold == drift.PROFILE_SHIFT
    # a season that moves everybody the same way moves no segment
    season = features + 1.5
    assert drift.profile_shift(season, labels, [fitted])[0] < 0.1
    # a persona that grows does not move the others: the means are not relative to everyone
    grown = pd.concat([features, features.loc[:299]], ignore_index=True)
    assert drift.profile_shift(grown, np.r_[labels, np.zeros(300, dtype=int)], [fitted])[0] < 0.1
    decision = drift.assess(_scores(600, 0, 0), FITTED, 0.02, (distance, segment, threshold))
    assert decision.refit and "segment 0 behaves differently" in decision.reasons[0]
    assert not drift.assess(_scores(600, 0, 0), FITTED, 0.02, (0.1, 0, drift.PROFILE_SHIFT)).refit


def test_models_without_reconstruction_say_so_and_decide_on_the_rest():
    """An encoder without reconstruction (e.g. "passthrough") gives every customer an error of 0:
    novelty cannot be measured. The decision says so in a note and rests on noise and profiles."""
    flat = _scores(10_000, unexplained=0, noise=250).assign(reconstruction_error=0.0, probability=0.9)
    stored = {**FITTED, "novelty_threshold": 0.0, "unexplained_threshold": None, "reconstruction": False}
    for decision in (drift.assess(flat, stored, min_cluster_share=0.01),
                     drift.assess(flat, FITTED, min_cluster_share=0.01, reconstruction=False)):
        assert not decision.refit and decision.reconstruction is False
        assert decision.notes == [drift.NO_RECONSTRUCTION]
        assert decision.notes[0].startswith("the models have no reconstruction error to check drift with")
        assert "unexplained not measured" in decision.reasons[0] and decision.novelty_share == 0.0
        assert drift.mark_unexplained(flat, decision) is flat  # nobody is "unexplained" by an error of 0
    # the evidence that remains still refits: noise growth, a moved profile
    grown = _scores(10_000, unexplained=0, noise=400).assign(reconstruction_error=0.0)
    decision = drift.assess(grown, stored, min_cluster_share=0.02)
    assert decision.refit and decision.reasons == ["noise grew from 2.0% to 4.0%"]
    assert decision.notes == [drift.NO_RECONSTRUCTION]
    assert drift.assess(flat, stored, 0.01, shift=(0.5, 1, drift.PROFILE_SHIFT)).refit
    # models with reconstruction carry no such note
    assert drift.assess(_scores(10_000, unexplained=150, noise=250), FITTED, min_cluster_share=0.01).notes == []


def test_a_fit_without_reconstruction_notes_it_for_the_run():
    from types import SimpleNamespace

    from sklearn.decomposition import PCA

    from segmentation.engine.steps import AutoEncoderTransformer, Identity

    labels = np.r_[np.zeros(90, dtype=int), -np.ones(10, dtype=int)]
    flat = SimpleNamespace(encoder_=Identity(), labels_=labels, reconstruction_error_=np.zeros(100))
    decision = drift.fitted_decision(flat, "first snapshot")
    assert decision.refit and decision.reasons == ["first snapshot"] and decision.reconstruction is False
    assert decision.notes == [drift.NO_RECONSTRUCTION] and decision.unexplained_threshold is None
    assert decision.to_dict()["notes"] == [drift.NO_RECONSTRUCTION]
    learned = SimpleNamespace(encoder_=AutoEncoderTransformer(), labels_=labels,
                              reconstruction_error_=np.linspace(0, 1, 100))
    decision = drift.fitted_decision(learned, "first snapshot")
    assert decision.reconstruction is True and decision.notes == []
    assert decision.unexplained_threshold == pytest.approx(np.quantile(np.linspace(0, 1, 100), 0.999))
    assert drift.has_reconstruction(SimpleNamespace(encoder_=PCA()))  # its inverse_transform reconstructs


def test_a_small_segment_needs_a_move_beyond_its_sampling_wobble():
    """60 customers drawn again from the same behaviour move their means by chance; that is no drift."""
    from segmentation.engine.resemblance import means_of_labels

    rng = np.random.default_rng(1)
    columns = [f"f{i}" for i in range(40)]

    def draw(n_small: int, change: float = 0.0) -> tuple[pd.DataFrame, np.ndarray]:
        big = rng.normal(0, 1, (3000, 40))
        big[1500:, 30:33] += 2.5  # two large segments beside it (0 and 2)
        small = rng.normal(0, 1, (n_small, 40))
        small[:, :3] += 2.5  # its own behaviour
        small[:, 3:8] += change
        labels = np.r_[np.zeros(1500, int), np.full(1500, 2), np.ones(n_small, int)]
        return pd.DataFrame(np.vstack([big, small]), columns=columns), labels

    features, labels = draw(60)
    fitted = means_of_labels(features, labels)
    again, again_labels = draw(60)
    distance, segment, threshold = drift.profile_shift(again, again_labels, [fitted])
    assert segment == 1 and drift.PROFILE_SHIFT <= distance < threshold  # the size-blind rule would refit
    assert threshold == drift.shift_threshold(60) > 0.5
    assert not drift.assess(_scores(3060, unexplained=0, noise=0), FITTED, 0.05, (distance, segment, threshold)).refit
    moved, moved_labels = draw(60, change=1.0)
    distance, segment, threshold = drift.profile_shift(moved, moved_labels, [fitted])
    assert segment == 1 and distance >= threshold
    assert drift.assess(_scores(3060, unexplained=0, noise=0), FITTED, 0.05, (distance, segment, threshold)).refit


def _grouper(seed: int):
    """``group(n, lifted)``: n customers × 12 features, standard normal but ``by`` higher on ``lifted``."""
    rng = np.random.default_rng(seed)
    columns = [f"f{i}" for i in range(12)]

    def group(n: int, lifted: list[int], by: float = 2.5) -> np.ndarray:
        values = rng.normal(0, 1, (n, len(columns)))
        values[:, lifted] += by
        return values

    return group, columns


def test_a_refit_that_merges_what_still_differs_and_finds_nothing_new_is_set_aside():
    """The reused models tell a small segment (1) from a large one (0); a refit puts them together."""
    group, columns = _grouper(2)

    features = pd.DataFrame(np.vstack([group(1000, [0, 1]), group(120, [0, 1, 2, 3]), group(900, [6, 7])]),
                            columns=columns)
    before = np.r_[np.zeros(1000, int), np.ones(120, int), np.full(900, 2)]
    merged = np.r_[np.zeros(1120, int), np.ones(900, int)]
    reuse = drift.assess(_scores(2020, unexplained=0, noise=0), FITTED, 0.05, (0.5, 1, 0.4))
    assert reuse.refit
    lost, gained = refit_review.lost_resolution(features, before, merged)
    assert [pair["segments"] for pair in lost] == [[0, 1]] and gained == []
    kept = refit_review.set_aside(reuse, features, before, merged)
    assert kept is not None and not kept.refit and kept.from_run == FITTED["from_run"]
    assert kept.reasons[0].startswith("refit set aside: the new models put segments 0 and 1 together")
    # the same refit that also finds behaviour the reused models miss is kept
    with_new = pd.concat([features, pd.DataFrame(group(150, [9, 10, 11]), columns=columns)], ignore_index=True)
    before_new = np.r_[before, np.full(150, 2)]  # the reused models put the newcomers in segment 2
    assert refit_review.set_aside(reuse, with_new, before_new, np.r_[merged, np.full(150, 5)]) is None
    # two segments whose customers took up new behaviour are converging: that merge is real
    assert refit_review.set_aside(reuse, features, before, merged, moved=lambda rows: 0.1) is not None
    assert refit_review.set_aside(reuse, features, before, merged,
                           moved=lambda rows: 0.9 if set(rows) <= set(range(1000, 1120)) else 0.1) is None
    # two segments that now behave alike (twins: converged) may merge
    twin = features.copy()
    twin.iloc[1000:1120] = group(120, [0, 1])
    assert refit_review.set_aside(reuse, twin, before, merged) is None


def test_a_refit_that_only_cuts_unchanged_customers_out_of_a_segment_is_set_aside():
    """A refit cuts 300 of segment 0's customers (a sub-behaviour they always had) into a segment of their own."""
    group, columns = _grouper(3)

    features = pd.DataFrame(np.vstack([group(700, [0, 1]), group(300, [0, 1, 4, 5]), group(900, [6, 7])]),
                            columns=columns)
    before = np.r_[np.zeros(1000, int), np.ones(900, int)]
    recut = np.r_[np.zeros(700, int), np.full(300, 2), np.ones(900, int)]
    reuse = drift.assess(_scores(1900, unexplained=0, noise=0), FITTED, 0.05, (0.5, 0, 0.4))
    assert refit_review.cut_parts(before, recut) == {2: 0}
    part = set(range(700, 1000))
    kept = refit_review.set_aside(reuse, features, before, recut, moved=lambda rows: 0.1)
    assert kept is not None and not kept.refit and kept.from_run == FITTED["from_run"]
    assert "cut 300 customers out of segment 0 into a segment of their own" in kept.reasons[0]
    # the part's customers took up new behaviour: a real split (or a new segment), the refit is kept
    assert refit_review.set_aside(reuse, features, before, recut, moved=lambda rows: 0.9 if set(rows) <= part else 0.1) is None
    # a re-cut beside a real split (a second part whose customers changed) does not hide the split: kept
    other = set(range(1700, 1900))
    two_cuts = np.r_[np.zeros(700, int), np.full(300, 2), np.ones(700, int), np.full(200, 3)]
    assert refit_review.cut_parts(before, two_cuts) == {2: 0, 3: 1}
    assert refit_review.set_aside(reuse, features, before, two_cuts, moved=lambda rows: 0.1) is not None
    assert refit_review.set_aside(reuse, features, before, two_cuts,
                           moved=lambda rows: 0.9 if set(rows) <= other else 0.1) is None
    # a part unlike every reused segment, made mostly of customers the reused models do not explain: kept
    # (a behaviour that grew inside segment 0 whose customers, picked now, moved little against then)
    unlike = features.copy()
    unlike.iloc[700:1000] = group(300, [4, 5, 8, 9, 10], by=3.0)
    assert refit_review.lost_resolution(unlike, before, recut)[1] == [2]
    assert refit_review.set_aside(reuse, unlike, before, recut, moved=lambda rows: 0.1) is not None
    most, few = (np.isin(np.arange(1900), list(range(700, 700 + k))) for k in (200, 100))
    assert refit_review.set_aside(reuse, unlike, before, recut, moved=lambda rows: 0.1, unexplained=most) is None
    assert refit_review.set_aside(reuse, unlike, before, recut, moved=lambda rows: 0.1, unexplained=few) is not None
    # without the customers' earlier behaviour nothing tells a re-cut from a split: kept
    assert refit_review.set_aside(reuse, features, before, recut) is None
    # a segment of customers the reused models left in the noise is no cut: kept
    from_noise = np.r_[np.zeros(700, int), np.full(300, -1), np.ones(900, int)]
    assert refit_review.cut_parts(from_noise, recut) == {}
    assert refit_review.set_aside(reuse, features, from_noise, recut, moved=lambda rows: 0.1) is None
    # ... and beside a re-cut it still keeps the refit (the persona the noise rule refitted for)
    noise_and_cut = np.r_[np.zeros(1000, int), np.ones(800, int), np.full(100, -1)]
    found = np.r_[np.zeros(700, int), np.full(300, 2), np.ones(800, int), np.full(100, 3)]
    assert refit_review.found_in_noise(noise_and_cut, found) == [3] and refit_review.cut_parts(noise_and_cut, found) == {2: 0}
    assert refit_review.set_aside(reuse, features, noise_and_cut, found, moved=lambda rows: 0.1) is None
    # nobody to compare with (NaN) counts as moved: kept
    assert refit_review.set_aside(reuse, features, before, recut, moved=lambda rows: float("nan")) is None


def test_a_real_split_beside_a_lost_distinction_keeps_the_refit():
    """Reused segments 0 and 1 (still different) are put together; segment 2's customers split off a part."""
    group, columns = _grouper(4)

    features = pd.DataFrame(np.vstack([group(1000, [0, 1]), group(120, [0, 1, 2, 3]), group(600, [6, 7]),
                                       group(300, [6, 7, 9])]), columns=columns)
    before = np.r_[np.zeros(1000, int), np.ones(120, int), np.full(900, 2)]
    after = np.r_[np.zeros(1120, int), np.ones(600, int), np.full(300, 2)]
    reuse = drift.assess(_scores(2020, unexplained=0, noise=0), FITTED, 0.05, (0.5, 1, 0.4))
    assert [p["segments"] for p in refit_review.lost_resolution(features, before, after)[0]] == [[0, 1]]
    assert refit_review.cut_parts(before, after) == {2: 2}
    split_off = set(range(1720, 2020))
    assert refit_review.set_aside(reuse, features, before, after, moved=lambda rows: 0.1) is not None
    assert refit_review.set_aside(reuse, features, before, after,
                           moved=lambda rows: 0.9 if set(rows) <= split_off else 0.1) is None


def test_a_refit_that_joins_converged_customers_is_kept_though_it_also_recuts_a_lumped_segment():
    """The first fit lumped B and C into segment 1; A (segment 0) and B converged on a mixture of both.
    The refit puts A and B together and gives C a segment of its own, C's customers unchanged."""
    group, columns = _grouper(5)

    a, b, c, d = 600, 400, 300, 700
    mix = [0, 1, 3, 4]
    now = pd.DataFrame(np.vstack([group(a, mix, 1.25), group(b, mix, 1.25), group(c, [6, 7, 8]), group(d, [9, 10])]),
                       columns=columns)
    then = pd.DataFrame(np.vstack([group(a, [0, 1]), group(b, [3, 4]), group(c, [6, 7, 8]), group(d, [9, 10])]),
                        columns=columns)
    origin = np.r_[np.zeros(a, int), np.ones(b + c, int), np.full(d, 2)]  # the fit's segments
    after = np.r_[np.zeros(a + b, int), np.ones(c, int), np.full(d, 2)]
    reuse = drift.assess(_scores(len(now), unexplained=0, noise=0), FITTED, 0.05, (0.5, 0, 0.4))
    joined = set(range(a + b))

    def moved(rows) -> float:  # A's and B's customers moved to the mixture, C's and D's did not
        return 0.9 if set(rows) <= joined else 0.1

    before = origin  # the reused models still assign as they were fitted
    assert refit_review.cut_parts(before, after) == {1: 1}
    # judged on the customers the refit puts together (A and B), nothing is lost: segment 1 as a whole
    # still differs from segment 0 only because it holds C
    assert refit_review.lost_resolution(now, before, after)[0] == []
    # on its own the re-cut of unchanged C would set the refit aside ...
    assert refit_review.set_aside(reuse, now, before, after, moved=moved) is not None
    # ... but A and B were distinct then and are alike now, and both moved: they converged, the refit is kept
    (pair,) = refit_review.converging(now, then, origin, after, moved=moved)
    assert pair["segments"] == [0, 1] and pair["into"] == 0
    assert pair["distance_then"] > 1.0 > TWIN >= 0.2 > pair["distance_now"]
    assert refit_review.set_aside(reuse, now, before, after, moved=moved, then=lambda: (then, origin)) is None
    # the reused models share the merged customers out between segments 0 and 1 whatever their origin:
    # the pair is still found from where they came from
    shared_out = before.copy()
    shared_out[: a + b] = np.random.default_rng(0).integers(0, 2, a + b)
    assert refit_review.set_aside(reuse, now, shared_out, after, moved=moved) is not None  # the re-cut alone
    assert refit_review.set_aside(reuse, now, shared_out, after, moved=moved, then=lambda: (then, origin)) is None
    # only one side moved (B took up A's behaviour, or the earlier fit drew on chance): no convergence
    only_b = lambda rows: 0.9 if set(rows) <= set(range(a, a + b)) else 0.1  # noqa: E731
    assert refit_review.converging(now, then, origin, after, moved=only_b) == []
    assert refit_review.set_aside(reuse, now, before, after, moved=only_b, then=lambda: (then, origin)) is not None
    # A and B alike then too (the first fit had drawn twins apart): nothing converged
    always = then.copy()
    always.iloc[a:a + b] = group(b, [0, 1])
    assert refit_review.converging(now, always, origin, after, moved=moved) == []
    assert refit_review.set_aside(reuse, now, before, after, moved=moved, then=lambda: (always, origin)) is not None
    # customers absent then (NaN rows) are left out of the earlier profile
    gone = then.copy()
    gone.iloc[:100] = np.nan
    assert [p["segments"] for p in refit_review.converging(now, gone, origin, after, moved=moved)] == [[0, 1]]
    # ... but a side most of whose customers were not there then is not judged
    gone.iloc[a:a + 201] = np.nan
    assert refit_review.converging(now, gone, origin, after, moved=moved) == []


def test_a_refit_part_that_resampling_cannot_reproduce_and_whose_customers_did_not_change_is_folded_back():
    """A refit cuts 50 of segment 0's 1,000 customers into segment 2; segment 1 is untouched."""
    before = np.r_[np.zeros(1000, int), np.ones(900, int), np.full(30, -1)]
    after = np.r_[np.zeros(950, int), np.full(50, 2), np.ones(900, int), np.full(30, 1)]
    unstable = {0: 0.99, 1: 0.98, 2: 0.37}
    folds = refit_review.unreproducible_cuts(before, after, lambda: unstable, moved=lambda rows: 0.45)
    # 50 customers wobble by 3 * sqrt(2 / 50) = 0.6 by sampling alone: a shift of 0.45 is no change
    assert folds == [{"segment": 2, "into": 0, "from_segment": 0, "customers": 50, "from_it": 50,
                      "stability": 0.37, "behaviour_shift": 0.45}]
    # reproducible (a sub-behaviour the refit tells apart), or customers who changed: kept
    assert refit_review.unreproducible_cuts(before, after, lambda: {**unstable, 2: 0.8}, moved=lambda rows: 0.45) == []
    assert refit_review.unreproducible_cuts(before, after, lambda: unstable, moved=lambda rows: 0.7) == []
    assert refit_review.unreproducible_cuts(before, after, lambda: unstable, moved=lambda rows: float("nan")) == []
    # a large part needs only SHIFTED (0.4) to count as changed: 500 customers wobble by 0.19
    big = np.r_[np.zeros(500, int), np.full(500, 2), np.ones(900, int), np.full(30, 1)]
    assert refit_review.unreproducible_cuts(before, big, lambda: unstable, moved=lambda rows: 0.45) == []
    # customers the earlier snapshot had in the noise are no cut: kept
    from_noise = np.r_[np.zeros(950, int), np.full(50, -1), np.ones(900, int), np.full(30, -1)]
    assert refit_review.unreproducible_cuts(from_noise, after, lambda: unstable, moved=lambda rows: 0.0) == []
    # without a cut part the (costly) resampling is not asked for
    assert refit_review.unreproducible_cuts(before, before, lambda: 1 / 0, moved=lambda rows: 0.0) == []
    # a segment cut three equal ways: the continuation is the one cut_parts chose, never a part itself
    three = np.r_[np.full(10, 1), np.full(10, 2), np.full(10, 3)]
    folds = refit_review.unreproducible_cuts(np.zeros(30, int), three, lambda: {1: 0.3, 2: 0.3, 3: 0.3}, moved=lambda rows: 0.0)
    assert {f["into"] for f in folds} == {1} and {f["segment"] for f in folds} == {2, 3}

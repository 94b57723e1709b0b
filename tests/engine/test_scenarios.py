"""Small instances of the planted scenario suite (benchmarks/scenarios.py), through ingest like a
user's file: the engine must keep finding what is planted. The full suite is a benchmark
(``python -m benchmarks.quality --suite scenarios``); these pin the figures of small cases (tuning
data seeds, pipeline seed 0) with a margin, so a regression of the engine fails here."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from benchmarks import scenario_quality as q
from benchmarks import scenarios as sc
from segmentation.engine.metrics import adjusted_rand
from segmentation.engine.pipeline import SegmentationPipeline
from segmentation.workflows.snapshot import (COUNT_LOSS, SnapshotParams, count_loss, feature_choice, make_pipeline,
                                          share_counts)

SEED = 3  # a tuning seed: the held-out seeds are for the benchmark's report only
# Measured with v25's defaults (1,500 customers, pipeline seed 0): rich_7 0.992 (8 segments for 7
# personas; KMeans with k by silhouette 0.931). Before v25 (code alone on purchase logs, no count-aware
# loss) 0.993. Without the reliability weights it falls to 0.941.
BEHAVIOUR_ARI = 0.95
# A purchase log is judged over four small logs (tuning data seeds 0-3), as the benchmark judges a
# scenario by its mean: on one log of 1,500 customers a float rounding can tip a few dozen one-time
# buyers into the premium occasional shoppers' segment. Seed 3 alone gave spend η² 0.58 on an Intel
# CPU and 0.27 on an AMD one with the same code and ARI 0.90 on both; that pin measured the CPU, not
# the engine. With v26's defaults on the AMD CPU, seeds 0-3: ARI 0.863 / 0.780 / 0.764 / 0.897 (mean
# 0.826; RFM quintiles 0.132 / 0.128 / 0.261 / 0.225), η² of log spend 0.726 / 0.764 / 0.774 / 0.275
# (mean 0.635), of log purchases 0.771 / 0.816 / 0.850 / 0.795 (mean 0.808). Without the reliability
# weights the mean ARI falls to 0.574.
PURCHASE_SEEDS = (0, 1, 2, 3)
PURCHASE_ARI = 0.70


def _fit(name: str, customers: int, folder: Path, seed: int = SEED):
    scenario = sc.small(name, customers)
    table, truth, share, rfm = q.prepare(scenario, seed, folder)
    params = SnapshotParams(window_days=scenario.window_days)
    pipeline = q._ours(table, params)
    known = (truth != sc.RANDOM).to_numpy()
    return {"table": table, "truth": truth.to_numpy()[known], "known": known, "share": share, "rfm": rfm,
            "labels": pipeline.labels_, "pipeline": pipeline, "params": params}


@pytest.fixture(scope="module")
def behaviour(tmp_path_factory):
    return _fit("rich_7", 1500, tmp_path_factory.mktemp("rich"))


@pytest.fixture(scope="module")
def purchase_logs(tmp_path_factory):
    return [_fit("purchases_6", 1500, tmp_path_factory.mktemp(f"purchases{seed}"), seed) for seed in PURCHASE_SEEDS]


@pytest.fixture(scope="module")
def purchases(purchase_logs):
    return purchase_logs[PURCHASE_SEEDS.index(SEED)]


def test_overlapping_personas_from_a_foreign_file_are_found_without_being_told_k(behaviour):
    ari = adjusted_rand(behaviour["truth"], behaviour["labels"][behaviour["known"]])
    assert ari >= BEHAVIOUR_ARI
    n_segments = behaviour["pipeline"].n_segments_
    assert abs(n_segments - len(np.unique(behaviour["truth"]))) <= 1
    # an analyst's KMeans that picks k by silhouette on the share table does worse
    from sklearn.preprocessing import StandardScaler

    X = StandardScaler().fit_transform(behaviour["share"].to_numpy())
    silhouette = adjusted_rand(behaviour["truth"], q._by_silhouette(X, 0)[behaviour["known"]])
    assert ari > silhouette


def test_a_purchase_log_is_segmented_by_value_and_rhythm(purchase_logs):
    aris, rfms, spends, counts = [], [], [], []
    for case in purchase_logs:
        table, labels, truth, known = case["table"], case["labels"], case["truth"], case["known"]
        assert "purchase log" in feature_choice(table, case["params"])
        assert {"monetary", "purchase_interval_days"} <= set(case["pipeline"].feature_names_in_)
        aris.append(adjusted_rand(truth, labels[known]))
        rfms.append(adjusted_rand(truth, q.rfm_segments(case["rfm"])[known]))
        spends.append(q._eta2(np.log1p(case["rfm"]["m"].to_numpy()), labels))
        counts.append(q._eta2(np.log1p(case["rfm"]["f"].to_numpy()), labels))
    ari, rfm, spend, count = (float(np.mean(v)) for v in (aris, rfms, spends, counts))
    assert ari >= PURCHASE_ARI and min(aris) >= PURCHASE_ARI - 0.1, aris
    assert ari > rfm + 0.2, (aris, rfms)
    assert spend >= 0.5 and count >= 0.5, (spends, counts)


def test_segments_are_found_on_the_features_beside_a_code_trained_on_the_event_counts(behaviour, purchases):
    """Since v25 the features go on to UMAP beside the autoencoder's code on every kind of data, purchase
    logs included, and the autoencoder learns the shares from the event counts behind them
    (benchmarks/results/count_features_tuning.md); the run says which, and a setting says why."""
    for case in (behaviour, purchases):
        pipeline = case["pipeline"]
        assert pipeline.input_weight == 1.0 and pipeline.count_loss == COUNT_LOSS
        shares = [f.name for f in case["table"].catalog if f.kind == "share" and f.name in pipeline.feature_names_in_]
        assert pipeline.count_columns == {name: "frequency" for name in shares}
        width = len(pipeline.preprocessor_.keep_)
        assert pipeline.encoder_.transform(np.zeros((2, width), dtype=np.float32)).shape[1] == width + 16
        assert feature_choice(case["table"], case["params"]).endswith(
            "beside the autoencoder's code, the autoencoder trained on the event counts behind the shares")
    configured = replace(behaviour["params"], extra={"input_weight": 0.0, "count_loss": 0.0})  # settings say why
    assert feature_choice(behaviour["table"], configured).endswith(
        "; the segments are found on the autoencoder's code alone (input_weight 0.0 as configured)")
    off = make_pipeline(behaviour["table"], configured)
    assert (off.count_loss, off.count_columns, off.input_weight) == (0.0, None, 0.0)


def test_the_run_says_how_the_models_it_used_were_fitted(behaviour):
    """A snapshot that reuses models of an earlier version describes those models, not today's defaults."""
    table, params = behaviour["table"], behaviour["params"]
    earlier = SegmentationPipeline(input_weight=0.0)  # v24 on a purchase log: the code alone, plain MSE
    assert feature_choice(table, params, earlier).endswith("; the segments are found on the autoencoder's code alone")
    ablation = SegmentationPipeline(encoder="passthrough", count_loss=10.0, count_columns={"a": "frequency"})
    assert feature_choice(table, params, ablation).endswith("on these features alone (no autoencoder, as configured)")


def test_the_snapshot_trains_on_the_counts_where_it_knows_them_unless_told_otherwise(behaviour):
    table = behaviour["table"]
    shares = {f.name for f in table.catalog if f.kind == "share"}
    counts = share_counts(table, {"frequency", *shares})
    assert counts and count_loss(counts, {}) == COUNT_LOSS
    no_events = share_counts(table, {"recency_days", *shares})  # no event count: no count of each share
    assert no_events == {} and count_loss(no_events, {}) == 0.0
    assert count_loss(counts, {"count_loss": 3.0}) == 3.0
    assert count_loss(counts, {"count_loss": 0.0}) == 0.0  # --engine-option count_loss=0
    assert count_loss(counts, {"cross_halves": 1.0}) == 0.0  # that sets the loss on the mix itself


def test_a_benchmark_case_leaves_no_scratch_folder_behind(tmp_path):
    """Each case's database and models live in a scratch folder removed after it (a suite's hundreds
    of 150-500 MB folders once filled the disk); a folder the caller gives is the caller's to keep."""
    from benchmarks.scratch import scratch

    with scratch("case-") as folder:
        (folder / "x.duckdb").write_bytes(b"0" * 1024)
        made = folder
    assert made.parent != tmp_path and not made.exists()
    with pytest.raises(RuntimeError):
        with scratch("case-") as folder:
            failed = folder
            raise RuntimeError("a case that fails")
    assert not failed.exists()
    with scratch("case-", tmp_path) as folder:
        (folder / "x.duckdb").write_bytes(b"0")
    assert (tmp_path / "x.duckdb").exists()


def test_engine_options_for_the_scenario_suite_are_read_as_the_command_line_reads_them():
    from benchmarks.quality import _extra

    assert _extra(["count_loss=10", "input_weight=0.5", "twin_distance=off"]) == {
        "count_loss": 10.0, "input_weight": 0.5, "twin_distance": None}
    with pytest.raises(SystemExit, match="expected NAME=VALUE"):
        _extra(["count_loss"])
    with pytest.raises(SystemExit, match="the snapshot sets it"):
        _extra(["mix_twins=rest alike"])


def test_the_scenario_suite_gives_its_engine_options_to_every_fit_of_ours(monkeypatch, tmp_path):
    """``--extra`` reaches the suite's snapshots (this path once raised a NameError before any fit)."""
    from benchmarks import quality

    seen = {}

    class Stop(Exception):
        pass

    def run_suite(names, seeds, *, params_for, **kwargs):
        seen.update(names=names, seeds=seeds, params=params_for(sc.SCENARIOS["sparse_overlap_7"]))
        raise Stop

    monkeypatch.setattr(q, "run_suite", run_suite)
    monkeypatch.setattr(quality, "RESULTS", tmp_path)
    with pytest.raises(Stop):
        quality.main(["--suite", "scenarios", "--data-seeds", "100,101", "--scenarios", "sparse_overlap_7",
                      "--extra", "consensus=3", "cross_halves=0"])
    assert seen["names"] == ["sparse_overlap_7"] and tuple(seen["seeds"]) == (100, 101)
    assert seen["params"].extra == {"consensus": 3, "cross_halves": 0.0}
    assert seen["params"].window_days == sc.SCENARIOS["sparse_overlap_7"].window_days


def test_combining_runs_writes_where_out_says_and_reads_the_seeds_from_the_runs(monkeypatch, tmp_path):
    """``--combine`` once ignored ``--out`` (overwriting the tracked default report) and titled the report
    with the command line's seeds, not those of the runs it combined."""
    from benchmarks import quality

    results = tmp_path / "results"
    monkeypatch.setattr(quality, "RESULTS", results)
    rows = [dict(scenario="rich_7", data_seed=seed, method=method, pipeline_seed=p, ari=0.9, nmi=0.9,
                 noise_share=0.0, n_segments=7, true_k=7, sparse=False, purchase_only=False, planted_random=0.0,
                 seconds=1.0, spend_eta2=0.3, purchases_eta2=0.3, granularity="", seed_agreement=1.0, floor=None,
                 events_median=20)
            for seed in (100, 101) for method, seeds in ((q.OURS, (0, 1, 2)), (q.RAW, (0, 1, 2)), (q.KMEANS_K, (0,))) for p in seeds]
    first, second = tmp_path / "a.csv", tmp_path / "b.csv"
    pd.DataFrame(rows[:7]).to_csv(first, index=False)
    pd.DataFrame(rows[7:]).to_csv(second, index=False)
    quality.main(["--suite", "scenarios", "--data-seeds", "100,101", "--scenarios", "rich_7", "--scale", "0.5",
                  "--combine", str(first), str(second), "--out", str(tmp_path / "mine.csv")])
    assert not results.exists()
    assert len(pd.read_csv(tmp_path / "mine.csv")) == len(rows)
    title = (tmp_path / "mine.md").read_text().splitlines()[0]
    assert "pipeline seeds 0, 1, 2 (ablation and baselines: 0), customers × 0.5" in title


def test_the_baselines_get_none_of_our_post_processing_at_any_size():
    # v34 found the KMeans baseline at 1M polished: the size polish (polish_from) was not switched off for it.
    from benchmarks.quality import ABLATION, methods

    fitted = methods(4, **{"polish_from": 25_000, "fit_sample_size": None})
    for name in ("kmeans", "umap+hdbscan", "ae+kmeans"):
        params = fitted[name].get_params()
        assert (params["polish"], params["polish_from"], params["refine_neighbors"], params["join_noise"]) == (
            None, None, None, None), name
    assert fitted["ours"].get_params()["polish_from"] == 25_000
    assert fitted[ABLATION].get_params()["polish_from"] == 25_000

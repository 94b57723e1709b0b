"""How the engine's defaults were chosen: candidate settings on the scenario suite's TUNING seeds only.

    .venv/bin/python -m benchmarks.tuning [--data-seeds 0 1 2] [--scale 0.5] [--pipeline-seeds 0 1 2]

Every candidate is the snapshot's pipeline with some parameters overridden (``SnapshotParams.extra``
or a snapshot parameter), fitted with pipeline seed 0 (or each of ``--pipeline-seeds``, which adds how
well the seeds' segments agree) on the same customers; KMeans told the true k
on the analyst's share table is printed beside as a reference. The table is written to
``benchmarks/results/tuning.md`` (and ``tuning.csv``). The held-out seeds (100–104) are never used here.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.cluster import KMeans
from sklearn.preprocessing import StandardScaler

from segmentation.engine.metrics import adjusted_rand
from segmentation.workflows.snapshot import SnapshotParams

from . import scenario_quality as q
from . import scenarios as sc
from .scratch import scratch

RESULTS = Path(__file__).resolve().parent / "results"

#: name → (snapshot parameter overrides, pipeline parameter overrides), relative to today's defaults: since
#: v25 "chosen defaults" already trains with the count-aware loss and puts the features beside the code on
#: purchase logs, so the candidates that add those are the defaults now (v24's: count_loss 0, and
#: input_weight 0 on purchase logs only; count_features_tuning.md was run on v24).
CANDIDATES: dict[str, tuple[dict, dict]] = {
    "chosen defaults": ({}, {}),
    "weights sqrt(reliability), no full-weight floor": ({}, {"feature_weights": "sqrt"}),
    "no reliability weights": ({"weight_by_reliability": False}, {}),
    "HDBSCAN min_samples 5": ({}, {"min_samples": 5}),
    "fixed profile-only value features (before)": (
        {"profile_only_features": ("monetary", "n_purchases", "purchase_interval_days")}, {}),
    "three autoencoders (ensemble_size 3)": ({}, {"ensemble_size": 3}),
    "outlier floor 0.1": ({"outlier_floor": 0.1}, {}),
    "no outlier floor": ({"outlier_floor": None}, {}),
    # Round 4: what goes on to UMAP (input_weight: the features beside the autoencoder's code).
    "round 3 defaults (code alone, no outlier floor)": ({"outlier_floor": None}, {"input_weight": 0.0}),
    "code alone everywhere": ({}, {"input_weight": 0.0}),
    "features beside the code everywhere (input_weight 1)": ({}, {"input_weight": 1.0}),
    "input_weight 0.5": ({}, {"input_weight": 0.5}),
    "input_weight 0.7": ({}, {"input_weight": 0.7}),
    "input_weight 1.5": ({}, {"input_weight": 1.5}),
    **{f"input_weight {w:g}": ({}, {"input_weight": float(w)}) for w in (2, 3, 5)},
    "no autoencoder (features alone)": ({}, {"encoder": "passthrough"}),
    "share smoothing": ({"smooth_shares": True}, {}),
    # v13: the snapshot's segment floor at the engine's 1 % (results/granularity_floor_tuning.md).
    "segment floor 1 %": ({"min_cluster_share": 0.01}, {}),
    # The 1 % floor with HDBSCAN's density estimate kept at the 2 % floor's (min_samples a share).
    "segment floor 1 %, min_samples 2 %": ({"min_cluster_share": 0.01}, {"min_samples": 0.02}),
    # v14: what the customers repeat on two halves of their events (segmentation/engine/repeated.py).
    "v13: no split halves": ({}, {"halves": False}),
    "halves for the split by mix only (no mix twins)": ({}, {"mix_twins": False}),
    # v22: the autoencoder trained on the event counts behind the shares (multinomial loss of this
    # weight; segmentation/engine/autoencoder.py), an option (results/count_loss_tuning.md).
    **{f"count-aware loss {w:g}": ({"extra": {"count_loss": float(w)}}, {}) for w in (0.3, 1, 3, 10, 30)},
    # v23: the segments most of R fits with their own seeds agree on (segmentation/engine/consensus.py),
    # an option (results/consensus_tuning.md).
    **{f"consensus of {r} fits": ({"extra": {"consensus": r}}, {}) for r in (3, 5, 10)},
    # v24: the autoencoder rebuilds one half of each customer's events from the other on the behaviour
    # mix (segmentation/engine/autoencoder.py), an option (results/cross_halves_tuning.md).
    **{f"cross-half targets {w:g}": ({"extra": {"cross_halves": float(w)}}, {}) for w in (0.5, 1)},
    # v25: the two options that each helped one kind of sparse data, together: the count-aware loss
    # (web mixes) and the features beside the code on purchase logs too (results/count_features_tuning.md).
    "count-aware loss 10, features beside the code everywhere": (
        {"extra": {"count_loss": 10.0}}, {"input_weight": 1.0}),
    # v26: the segments' edges redrawn by a linear discriminant in the features, an option
    # (segmentation/engine/polish.py; its variants: python -m benchmarks.polish_tuning).
    "discriminant polish 0.99": ({"extra": {"polish": 0.99}}, {}),
}
# Round 1 (results/tuning_round1*.csv) chose between share smoothing, min_samples 5 / 10 / None and the
# dip-test merge; tried earlier on tuning seed 0 and dropped: HDBSCAN leaf clusters (rich_7: 0.245 against 0.84–0.96 for
# the others; noise 23–36 %), shares also weighted by their empirical-Bayes signal (power 0.5).


def main(argv: list[str] | None = None) -> pd.DataFrame:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--scale", type=float, default=0.5)
    parser.add_argument("--candidates", nargs="+", default=list(CANDIDATES))
    parser.add_argument("--scenarios", nargs="+", default=list(sc.SCENARIOS))
    parser.add_argument("--pipeline-seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--out", type=Path, default=RESULTS / "tuning.md")
    args = parser.parse_args(argv)
    if set(args.data_seeds) & set(sc.HELDOUT_SEEDS):
        parser.error("tuning uses tuning seeds only (0-9)")
    rows = []
    for seed in args.data_seeds:
        for name in args.scenarios:
            scenario = replace(sc.SCENARIOS[name], customers=int(round(sc.SCENARIOS[name].customers * args.scale)))
            with scratch("tuning-") as folder:
                table, truth, share, rfm = q.prepare(scenario, seed, folder)
            spend, purchases = (np.log1p(rfm[c].to_numpy()) for c in ("m", "f"))
            known = (truth != sc.RANDOM).to_numpy()
            y = truth.to_numpy()[known]
            X = StandardScaler().fit_transform(share.to_numpy())
            kmeans = KMeans(n_clusters=len(np.unique(y)), n_init=10, random_state=0).fit_predict(X)
            rows.append({"scenario": name, "data_seed": seed, "candidate": "reference: kmeans (true k)",
                         "ari": adjusted_rand(y, kmeans[known]), "n_segments": len(np.unique(y)),
                         "true_k": len(np.unique(y)), "noise": 0.0})
            for candidate in args.candidates:
                snapshot_overrides, pipeline_overrides = CANDIDATES[candidate]
                labelings = []
                for pipeline_seed in args.pipeline_seeds:
                    params = SnapshotParams(**{"window_days": scenario.window_days, "seed": pipeline_seed,
                                               **snapshot_overrides})
                    started = time.perf_counter()
                    pipeline = q._ours(table, params, **pipeline_overrides)
                    labelings.append(pipeline.labels_)
                    rows.append({"scenario": name, "data_seed": seed, "candidate": candidate,
                                 "pipeline_seed": pipeline_seed, "ari": adjusted_rand(y, pipeline.labels_[known]),
                                 "n_segments": pipeline.n_segments_, "true_k": len(np.unique(y)),
                                 "noise": pipeline.noise_share_, "seconds": time.perf_counter() - started,
                                 "spend_eta2": q._eta2(spend, pipeline.labels_),
                                 "purchases_eta2": q._eta2(purchases, pipeline.labels_)})
                if len(labelings) > 1:  # the least agreeing pair of pipeline seeds, on every customer
                    agreement = min(adjusted_rand(a, b) for i, a in enumerate(labelings) for b in labelings[i + 1:])
                    for row in rows[-len(labelings):]:
                        row["seed_agreement"] = agreement
            print(f"{name} seed {seed}: " + ", ".join(f"{r['candidate']} {r['ari']:.3f}" for r in rows
                                                      if r["scenario"] == name and r["data_seed"] == seed), flush=True)
            pd.DataFrame(rows).to_csv(args.out.with_suffix(".csv"), index=False)
    runs = pd.DataFrame(rows)
    text = summarise(runs)
    args.out.write_text(document(text, args.data_seeds, args.scale, args.pipeline_seeds))
    print(text)
    return runs


def summarise(runs: pd.DataFrame) -> str:
    """Candidates × scenarios: mean ARI over the data seeds (and pipeline seeds), the suite and sparse
    means, how often the segment count is within ±1 of the truth, the largest noise share and, with
    several pipeline seeds, how well their segments agree (per data set the least agreeing pair)."""
    wide = runs.groupby(["candidate", "scenario"])["ari"].mean().unstack()
    scenarios = [n for n in wide.columns if n in sc.SCENARIOS]
    wide["mean"] = wide[scenarios].mean(axis=1)
    wide["sparse mean"] = wide[[n for n in scenarios if sc.SCENARIOS[n].sparse]].mean(axis=1)
    within = runs.assign(ok=(runs["n_segments"] - runs["true_k"]).abs() <= 1).groupby("candidate")["ok"].mean()
    wide["segments ±1"] = within
    wide["largest noise"] = runs.groupby("candidate")["noise"].max()
    purchase_logs = runs[runs["scenario"].map(lambda n: n in sc.SCENARIOS and sc.SCENARIOS[n].purchase_only)]
    for column, label in (("spend_eta2", "purchase logs: η² of log spend"),
                          ("purchases_eta2", "purchase logs: η² of log purchases")):
        if column in purchase_logs and purchase_logs[column].notna().any():
            wide[label] = purchase_logs.groupby("candidate")[column].mean()
    if "seed_agreement" in runs and runs["seed_agreement"].notna().any():
        per_data = runs.groupby(["candidate", "scenario", "data_seed"])["seed_agreement"].first()
        wide["seed agreement, mean"] = per_data.groupby("candidate").mean()
        wide["seed agreement ≥ 0.95"] = (per_data >= 0.95).groupby("candidate").mean()
    with pd.option_context("display.float_format", "{:.3f}".format, "display.width", 250):
        return wide.sort_values("mean", ascending=False).T.to_string()


def document(text: str, seeds, scale: float, pipeline_seeds=(0,)) -> str:
    return ("# Tuning (tuning seeds " + ", ".join(map(str, seeds)) + f", customers × {scale:g}, "
            "pipeline seeds " + ", ".join(map(str, pipeline_seeds)) + ")\n\nMean ARI per scenario; columns "
            "are the candidates. Written by `python -m benchmarks.tuning`.\n\n```\n" + text + "\n```\n")

if __name__ == "__main__":
    main()

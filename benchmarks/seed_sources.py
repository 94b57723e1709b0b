"""Where pipeline seeds disagree: the autoencoder's seed (with everything else the engine draws)
against UMAP's, on the scenario suite's tuning seeds. A diagnosis for issue 14; nothing is chosen.

    .venv/bin/python -m benchmarks.seed_sources            # -> results/seed_sources_tuning.csv/.md

For each data set (half size, as the suite is reported), five fits: (pipeline seed, UMAP seed)
(0, 0), (1, 0), (2, 0), (0, 1), (0, 2). The first three differ only in what the pipeline's own
seed draws (the autoencoder's weights and batches, the neighbour vote's ties); the last three only
in UMAP's. The least agreeing pair (ARI between labelings) of each trio is what issue 14 asks to be
at least 0.95.
"""

from __future__ import annotations

import argparse
import itertools
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd

from segmentation.engine.metrics import adjusted_rand
from segmentation.engine.step_factory import make_umap
from segmentation.workflows.snapshot import SnapshotParams, clustering_frame, make_pipeline

from . import scenarios as sc
from .scenario_quality import _ours, prepare
from .scratch import scratch

RESULTS = Path(__file__).resolve().parent / "results"
FITS = ((0, 0), (1, 0), (2, 0), (0, 1), (0, 2))  # (pipeline seed, UMAP seed)
SCENARIOS = ("sparse_overlap_7", "heavy_overlap_8", "sparse_noisy_6", "purchases_6", "purchases_noisy_5")


def fit_labels(table, window_days: int, pipeline_seed: int, umap_seed: int) -> np.ndarray:
    """Ours on ``table`` with the pipeline's seed and UMAP's set apart."""
    params = SnapshotParams(window_days=window_days, seed=pipeline_seed)
    pipeline = make_pipeline(table, params)
    rows = len(clustering_frame(table, params))
    umap = make_umap(SimpleNamespace(n_neighbors=pipeline.n_neighbors, random_state=umap_seed),
                     pipeline.cluster_dims, 0.0, rows)
    return _ours(table, params, reducer=umap).labels_


def diagnose(name: str, seed: int, scale: float = 0.5) -> dict:
    """One data set's five fits: the least agreeing and mean pair of each trio, and the ARI to the truth."""
    scenario = replace(sc.SCENARIOS[name], customers=int(round(sc.SCENARIOS[name].customers * scale)))
    with scratch("seeds-") as folder:
        table, truth, _, _ = prepare(scenario, seed, folder)
    known = (truth != sc.RANDOM).to_numpy()
    labels = {fit: fit_labels(table, scenario.window_days, *fit) for fit in FITS}

    def pairs(fits):
        return [adjusted_rand(labels[a], labels[b]) for a, b in itertools.combinations(fits, 2)]

    by_pipeline, by_umap = pairs(FITS[:3]), pairs([FITS[0], *FITS[3:]])
    return {"scenario": name, "data_seed": seed,
            "segments": "/".join(str(len(np.unique(l[l >= 0]))) for l in labels.values()),
            "ari_truth_mean": float(np.mean([adjusted_rand(truth.to_numpy()[known], l[known])
                                             for l in labels.values()])),
            "pipeline_seeds_min": min(by_pipeline), "pipeline_seeds_mean": float(np.mean(by_pipeline)),
            "umap_seeds_min": min(by_umap), "umap_seeds_mean": float(np.mean(by_umap))}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenarios", default=",".join(SCENARIOS))
    parser.add_argument("--data-seeds", default="0,1,2,3,4", help="tuning seeds only")
    parser.add_argument("--scale", type=float, default=0.5)
    args = parser.parse_args(argv)
    rows = []
    for name in args.scenarios.split(","):
        for seed in (int(s) for s in args.data_seeds.split(",")):
            rows.append(diagnose(name, seed, args.scale))
            print(rows[-1], flush=True)
    frame = pd.DataFrame(rows)
    frame.to_csv(RESULTS / "seed_sources_tuning.csv", index=False)
    (RESULTS / "seed_sources_tuning.md").write_text(report(frame))
    print(report(frame))


def report(frame: pd.DataFrame) -> str:
    below = lambda column: int((frame[column] < 0.95).sum())  # noqa: E731
    lines = ["# Where pipeline seeds disagree (tuning seeds)", "",
             "Produced by `python -m benchmarks.seed_sources` (see its docstring).", "",
             f"- least agreeing pair, averaged: pipeline seeds (UMAP fixed) {frame['pipeline_seeds_min'].mean():.3f}, "
             f"UMAP seeds (pipeline fixed) {frame['umap_seeds_min'].mean():.3f}",
             f"- below 0.95: {below('pipeline_seeds_min')} of {len(frame)} data sets with UMAP fixed, "
             f"{below('umap_seeds_min')} with the pipeline's seed fixed",
             f"- the pipeline's seed disagrees more than UMAP's on "
             f"{int((frame['pipeline_seeds_min'] < frame['umap_seeds_min']).sum())} of {len(frame)}", "",
             "```", frame.round(3).to_string(index=False), "```", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    main()

"""Can a post-processing step make one fit's segments agree across pipeline seeds? Measured on the
scenario suite's TUNING seeds only.

    .venv/bin/python -m benchmarks.seed_agreement_probe [--data-seeds 0 1 2] [--cache DIR]
        # -> results/seed_agreement_probe.csv/.md

For each of the five sparse or overlapping scenarios (customers × 0.5) and data seed, the snapshot's
pipeline is fitted with pipeline seeds 0, 1 and 2 (the fits are cached in ``--cache`` as .npz:
labels, preprocessed features, latent vectors, truth). Each candidate then redraws every fit's
segments from its own labels, with no seed of its own, and the three results are compared pairwise
(ARI, noise a label of its own, every customer) and with the personas (ARI on the customers with one):

* ``neighbour vote to a fixed point``: the pipeline's neighbour vote (15 or 30 nearest in the
  preprocessed features) repeated until nobody moves (at most 30 rounds);
* ``discriminant``: :class:`~segmentation.engine.polish.DiscriminantPolish` (a shrunk LDA in the
  preprocessed features) with 1 or 3 rounds, or to a fixed point (50);
* ``LDA in the latent space``: one LDA of the segments on the pipeline's latent vectors (the code
  beside the features), every segmented customer taking its prediction.

Issue 14 asks for 0.95 between every pair of seeds on every data set.
"""

from __future__ import annotations

import argparse
import tempfile
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

from segmentation.engine.metrics import adjusted_rand

RESULTS = Path(__file__).resolve().parent / "results"
SCENARIOS = ("heavy_overlap_8", "sparse_noisy_6", "sparse_overlap_7", "purchases_6", "purchases_noisy_5")
PIPELINE_SEEDS = (0, 1, 2)


def fit(name: str, data_seed: int, cache: Path, scale: float = 0.5) -> dict:
    """The three pipeline seeds' fits of one data set (cached)."""
    path = cache / f"{name}_{data_seed}.npz"
    if not path.exists():
        from benchmarks import scenario_quality as q
        from benchmarks import scenarios as sc
        from segmentation.engine import scoring
        from segmentation.workflows.snapshot import SnapshotParams, clustering_frame

        scenario = sc.SCENARIOS[name]
        scenario = replace(scenario, customers=int(round(scenario.customers * scale)))
        found: dict = {}
        with tempfile.TemporaryDirectory(prefix="agreement-") as folder:
            table, truth, _, _ = q.prepare(scenario, data_seed, Path(folder))
            for seed in PIPELINE_SEEDS:
                params = SnapshotParams(window_days=scenario.window_days, seed=seed)
                pipeline = q._ours(table, params)
                Z = pipeline.preprocessor_.transform(clustering_frame(table, params).to_numpy(dtype=float))
                found[f"labels{seed}"], found[f"latent{seed}"] = pipeline.labels_, scoring.latent(pipeline, Z)
                found["Z"], found["floor"] = Z, pipeline.min_cluster_size_
        found["truth"] = truth.to_numpy().astype(str)
        np.savez_compressed(path, **found)
    return dict(np.load(path))


def _vote_to_fixed_point(Z, labels, k: int, floor: int, rounds: int = 30) -> np.ndarray:
    from segmentation.engine.clustering import keep_segments_whole
    from segmentation.engine.mapping import neighbour_vote

    for _ in range(rounds):
        moved = keep_segments_whole(labels, neighbour_vote(Z, labels, k, 0)[0], floor)
        if np.array_equal(moved, labels):
            break
        labels = moved
    return labels


def _discriminant(Z, labels, rounds: int) -> np.ndarray:
    from segmentation.engine.polish import DiscriminantPolish

    polish = DiscriminantPolish(0.99, max_rounds=rounds).fit(Z, labels)
    return polish.apply(Z, labels, np.ones(len(labels)))[0]


def _lda_latent(latent, labels) -> np.ndarray:
    from sklearn.discriminant_analysis import LinearDiscriminantAnalysis

    segmented = labels >= 0
    if len(np.unique(labels[segmented])) < 2:
        return labels
    lda = LinearDiscriminantAnalysis(solver="lsqr", shrinkage="auto").fit(latent[segmented], labels[segmented])
    return np.where(segmented, lda.predict(latent), labels)


CANDIDATES = {
    "one fit (the pipeline's segments)": lambda fits, s: fits[f"labels{s}"],
    "neighbour vote (15) to a fixed point": lambda fits, s: _vote_to_fixed_point(
        fits["Z"], fits[f"labels{s}"], 15, int(fits["floor"])),
    "neighbour vote (30) to a fixed point": lambda fits, s: _vote_to_fixed_point(
        fits["Z"], fits[f"labels{s}"], 30, int(fits["floor"])),
    "discriminant, 1 round (the polish option)": lambda fits, s: _discriminant(fits["Z"], fits[f"labels{s}"], 1),
    "discriminant, 3 rounds": lambda fits, s: _discriminant(fits["Z"], fits[f"labels{s}"], 3),
    "discriminant to a fixed point": lambda fits, s: _discriminant(fits["Z"], fits[f"labels{s}"], 50),
    "LDA in the latent space": lambda fits, s: _lda_latent(fits[f"latent{s}"], fits[f"labels{s}"]),
}


def score(data_seeds, cache: Path) -> pd.DataFrame:
    rows = []
    for name in SCENARIOS:
        for data_seed in data_seeds:
            fits = fit(name, data_seed, cache)
            truth = fits["truth"]
            known = truth != "(random)"
            for candidate, make in CANDIDATES.items():
                labels = [np.asarray(make(fits, s), dtype=np.int64) for s in PIPELINE_SEEDS]
                rows.append({"scenario": name, "data_seed": data_seed, "candidate": candidate,
                             **agreement(labels, truth, known)})
            print(name, data_seed, flush=True)
    return pd.DataFrame(rows)


def agreement(labels: list[np.ndarray], truth: np.ndarray, known: np.ndarray) -> dict:
    """One data set's row: the least agreeing pair of the pipeline seeds' ``labels`` (ARI, noise a label of
    its own, every customer), their mean ARI with the personas (customers with one) and segment counts."""
    pairs = [adjusted_rand(a, b) for i, a in enumerate(labels) for b in labels[i + 1:]]
    return {"least_agreeing_pair": min(pairs),
            "ari": float(np.mean([adjusted_rand(truth[known], x[known]) for x in labels])),
            "segments": "/".join(str(len(np.unique(x[x >= 0]))) for x in labels)}


def agreement_table(frame: pd.DataFrame) -> pd.DataFrame:
    """Per candidate: mean ARI, the least agreeing pair's mean and min, and how many data sets reach 0.95."""
    g = frame.groupby("candidate", sort=False)
    return pd.DataFrame({"mean ARI": g["ari"].mean(), "least agreeing pair: mean": g["least_agreeing_pair"].mean(),
                         "min": g["least_agreeing_pair"].min(),
                         "data sets ≥ 0.95": g["least_agreeing_pair"].apply(
                             lambda pairs: f"{(pairs >= 0.95).sum()} of {len(pairs)}")})


def report(frame: pd.DataFrame, data_seeds) -> str:
    table = agreement_table(frame)
    return "\n".join([
        "# Post-processing one fit for seed agreement (tuning data seeds "
        + ", ".join(map(str, data_seeds)) + "; customers × 0.5)", "",
        "Written by `python -m benchmarks.seed_agreement_probe` (see its docstring). Five sparse or overlapping "
        "scenarios; pipeline seeds 0, 1, 2 fitted once each, every candidate redrawing the same fits.", "",
        "```", table.round(3).to_string(), "```", ""])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "seed-agreement-fits")
    parser.add_argument("--out", type=Path, default=RESULTS / "seed_agreement_probe.csv")
    args = tuning_args(parser, argv)
    frame = score(args.data_seeds, args.cache)
    save(frame, args.out, report(frame, args.data_seeds))


def tuning_args(parser: argparse.ArgumentParser, argv: list[str] | None) -> argparse.Namespace:
    """A probe's parsed options: refused on held-out data seeds, its ``--cache`` folder made."""
    args = parser.parse_args(argv)
    if any(seed >= 100 for seed in args.data_seeds):
        parser.error("data seeds 100-104 are held out: probe on tuning seeds (0-9)")
    args.cache.mkdir(parents=True, exist_ok=True)
    return args


def save(frame: pd.DataFrame, out: Path, text: str) -> None:
    """A probe's rows to ``out`` (CSV), its report beside them (.md) and on the screen."""
    frame.to_csv(out, index=False)
    out.with_suffix(".md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()

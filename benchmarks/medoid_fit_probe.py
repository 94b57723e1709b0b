"""Does choosing one of several fits make pipeline seeds agree? Measured on the scenario suite's TUNING seeds only.

    .venv/bin/python -m benchmarks.medoid_fit_probe [--data-seeds 0 1 2] [--scenarios ...] [--fits 15]
        [--members 5] [--cache DIR] [--out results/medoid_fit_probe.csv]

Issue 14 asks that pipeline seeds 0, 1 and 2 give segments that agree at ARI ≥ 0.95 on every data set.
Averaging fits (consensus of 5 or 10, ensembles of autoencoders or UMAPs) did not get there: where the
personas overlap, re-clustering the averaged co-association makes borderline decisions of its own
(results/consensus_tuning.md, ensemble_agreement_probe.md). Here each pipeline seed stands for
``--members`` whole fits of the snapshot's pipeline (their own seeds), and one of them is *chosen*, as
KMeans keeps the best of its starts:

* ``medoid``: the fit that agrees most with the others (highest mean ARI to them, every customer, noise
  a label of its own), the most typical of the draws;
* ``silhouette``, ``Calinski-Harabasz``: the fit scoring best on the preprocessed features, which no seed
  touches (segmented customers only);
* ``medoid …, merged above τ``: the most typical fit, its segments merged pair by pair while the other fits
  put the two segments' customers together more often than τ (coarser segments where the fits disagree).

Every data set is fitted ``--fits`` times (pipeline seeds 0 … fits-1, cached as .npz); pipeline seed s
chooses among fits s·members … s·members + members − 1, so the three pipeline seeds draw disjoint fits
as three seeds of the engine would. Compared as the other probes compare (least agreeing pair of the
three, mean ARI with the personas).
"""

from __future__ import annotations

import argparse
import tempfile
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

from benchmarks.seed_agreement_probe import (PIPELINE_SEEDS, SCENARIOS, agreement, agreement_table, save,
                                             tuning_args)
from segmentation.engine.metrics import adjusted_rand

RESULTS = Path(__file__).resolve().parent / "results"


def fit_many(name: str, data_seed: int, fits: int, cache: Path, scale: float = 0.5) -> dict:
    """``fits`` fits of one data set, pipeline seeds 0 … fits-1 (cached; extended when more are asked)."""
    path = cache / f"{name}_{data_seed}.npz"
    found = dict(np.load(path)) if path.exists() else {}
    missing = [seed for seed in range(fits) if f"labels{seed}" not in found]
    if missing:
        from benchmarks import scenario_quality as q
        from benchmarks import scenarios as sc
        from segmentation.workflows.snapshot import SnapshotParams, clustering_frame

        scenario = sc.SCENARIOS[name]
        scenario = replace(scenario, customers=int(round(scenario.customers * scale)))
        with tempfile.TemporaryDirectory(prefix="medoid-") as folder:
            table, truth, _, _ = q.prepare(scenario, data_seed, Path(folder))
            for seed in missing:
                params = SnapshotParams(window_days=scenario.window_days, seed=seed)
                pipeline = q._ours(table, params)
                found[f"labels{seed}"] = pipeline.labels_
                if "Z" not in found:
                    found["Z"] = pipeline.preprocessor_.transform(
                        clustering_frame(table, params).to_numpy(dtype=float))
                print(f"  {name} {data_seed} fit {seed}", flush=True)
        found["truth"] = truth.to_numpy().astype(str)
        np.savez_compressed(path, **found)
    return found


def medoid(labelings: list[np.ndarray], Z: np.ndarray) -> int:
    """The labeling with the highest mean ARI to the others."""
    n = len(labelings)
    scores = np.zeros((n, n))
    for i in range(n):
        for j in range(i + 1, n):
            scores[i, j] = scores[j, i] = adjusted_rand(labelings[i], labelings[j])
    return int(np.argmax(scores.sum(axis=1)))


def _best_by(metric):
    def choose(labelings: list[np.ndarray], Z: np.ndarray) -> int:
        values = []
        for labels in labelings:
            segmented = labels >= 0
            if len(np.unique(labels[segmented])) < 2:
                values.append(-np.inf)
                continue
            values.append(metric(Z[segmented], labels[segmented]))
        return int(np.argmax(values))
    return choose


def _silhouette(Z, labels):
    from sklearn.metrics import silhouette_score

    return silhouette_score(Z, labels)


def _calinski(Z, labels):
    from sklearn.metrics import calinski_harabasz_score

    return calinski_harabasz_score(Z, labels)


CHOOSERS = {"medoid": medoid, "silhouette": _best_by(_silhouette), "Calinski-Harabasz": _best_by(_calinski)}
#: The most typical fit with its segments merged, pair by pair, while the other fits put two of its segments'
#: customers together more often than this (the mean, over the other fits, of the share of cross pairs they join).
MERGE_ABOVE = (0.2, 0.4)


def merged_where_others_join(chosen: np.ndarray, others: list[np.ndarray], above: float) -> np.ndarray:
    """``chosen``'s segments merged, the most joined pair first, while the ``others`` join a pair's customers
    more often than ``above`` (noise stays noise)."""
    labels = chosen.copy()
    while True:
        segments = [s for s in np.unique(labels) if s >= 0]
        counts = {s: [np.bincount(other[labels == s] + 1, minlength=other.max() + 2)[1:] for other in others]
                  for s in segments}
        sizes = {s: int((labels == s).sum()) for s in segments}
        joined = {(a, b): np.mean([(ca * cb).sum() / (sizes[a] * sizes[b]) for ca, cb in zip(counts[a], counts[b])])
                  for i, a in enumerate(segments) for b in segments[i + 1:]}
        if not joined or max(joined.values()) <= above:
            return labels
        a, b = max(joined, key=joined.get)
        labels = np.where(labels == b, a, labels)


def score(scenarios, data_seeds, fits: int, members: int, cache: Path) -> pd.DataFrame:
    if fits < members * len(PIPELINE_SEEDS):
        raise SystemExit(f"--fits must be at least {members * len(PIPELINE_SEEDS)} for {members} members")
    rows = []
    for name in scenarios:
        for data_seed in data_seeds:
            found = fit_many(name, data_seed, fits, cache)
            truth, Z = found["truth"], found["Z"]
            known = truth != "(random)"
            labelings = [np.asarray(found[f"labels{seed}"], dtype=np.int64) for seed in range(fits)]
            groups = [labelings[s * members:(s + 1) * members] for s in PIPELINE_SEEDS]  # each seed's own fits
            chosen = {"one fit": [labelings[s] for s in PIPELINE_SEEDS]}
            picked = {label: [choose(group, Z) for group in groups] for label, choose in CHOOSERS.items()}
            for label, picks in picked.items():
                chosen[f"{label} of {members} fits"] = [group[i] for group, i in zip(groups, picks)]
            for above in MERGE_ABOVE:
                chosen[f"medoid of {members} fits, merged above {above}"] = [
                    merged_where_others_join(group[i], group[:i] + group[i + 1:], above)
                    for group, i in zip(groups, picked["medoid"])]
            for candidate, labels in chosen.items():
                rows.append({"scenario": name, "data_seed": data_seed, "candidate": candidate,
                             **agreement(labels, truth, known)})
            print(name, data_seed, {c: round(r["least_agreeing_pair"], 3) for c, r in
                                    zip(chosen, rows[-len(chosen):])}, flush=True)
    return pd.DataFrame(rows)


def report(frame: pd.DataFrame, data_seeds, members: int) -> str:
    table = agreement_table(frame)
    least = frame.pivot_table(index=["scenario", "data_seed"], columns="candidate", values="least_agreeing_pair",
                              sort=False)
    return "\n".join([
        "# Choosing one of several fits for seed agreement (tuning data seeds "
        + ", ".join(map(str, data_seeds)) + f"; customers × 0.5; {members} fits per pipeline seed)", "",
        "Written by `python -m benchmarks.medoid_fit_probe` (see its docstring).", "",
        "```", table.round(3).to_string(), "```", "", "Least agreeing pair per data set:", "",
        "```", least.round(3).to_string(), "```", ""])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--scenarios", nargs="+", default=list(SCENARIOS))
    parser.add_argument("--fits", type=int, default=15)
    parser.add_argument("--members", type=int, default=5)
    parser.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "medoid-fits")
    parser.add_argument("--out", type=Path, default=RESULTS / "medoid_fit_probe.csv")
    args = tuning_args(parser, argv)
    frame = score(args.scenarios, args.data_seeds, args.fits, args.members, args.cache)
    save(frame, args.out, report(frame, args.data_seeds, args.members))


if __name__ == "__main__":
    main()

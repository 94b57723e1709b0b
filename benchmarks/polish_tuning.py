"""How the discriminant polish's defaults were chosen (segmentation/engine/polish.py): tuning seeds only.

    .venv/bin/python -m benchmarks.polish_tuning --data-seeds 0 1 2 3      # about 25 CPU-minutes

Every scenario of the suite (customers × 0.5) and data seed is fitted with the snapshot's pipeline
and the polish off, pipeline seeds 0, 1 and 2. Each variant of the polish is then fitted on those
segments and applied to them (all of these customers are the fit sample, so this is what the
pipeline does with the polish on). Reported per variant: ARI to the planted personas (mean over
pipeline seeds; sparse scenarios apart), the least agreeing pair of pipeline seeds, how many data
sets reach 0.95, the noise share and how much of the planted random behaviour stays noise.
``--cache DIR`` keeps each data set's fits (a pickle) and reuses them.

Writes ``benchmarks/results/polish_tuning.{md,csv}`` (``--out``: elsewhere). v31 added the variants in
the latent space (``polish_space="latent"``: the discriminant drawn in the rows UMAP sees, the
autoencoder's code beside the features); ``--variants`` picks some, ``--combine`` reports runs together.
"""

from __future__ import annotations

import argparse
import pickle
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

from segmentation.engine import scoring
from segmentation.engine.metrics import adjusted_rand
from segmentation.engine.polish import DiscriminantPolish
from segmentation.workflows.snapshot import SnapshotParams, clustering_frame

from . import scenarios as sc
from .scenario_quality import _ours, prepare
from .scratch import scratch

RESULTS = Path(__file__).resolve().parent / "results"
#: name → (max_rounds, spread[, space: "Z" the preprocessed features, "latent" the rows UMAP sees]); None:
#: the segments as the clusterer and its post-processing left them.
VARIANTS = {"off": None, "one round, noise within 0.99 (the option's setting)": (1, 0.99),
            "one round, noise stays noise": (1, None), "one round, noise within 0.9": (1, 0.9),
            "to a fixed point (≤ 10 rounds), noise within 0.99": (10, 0.99),
            "latent space: one round, noise within 0.99": (1, 0.99, "latent"),
            "latent space: one round, noise stays noise": (1, None, "latent")}


def fits(name: str, seed: int, cache: Path | None) -> dict:
    """Truth, and per pipeline seed the labels, probabilities and preprocessed rows, polish off."""
    path = None if cache is None else cache / f"{name}_{seed}.pkl"
    if path is not None and path.exists():
        return pickle.loads(path.read_bytes())
    scenario = sc.SCENARIOS[name]
    scenario = replace(scenario, customers=int(round(scenario.customers * 0.5)))
    with scratch("polish-", None) as folder:
        table, truth, _, _ = prepare(scenario, seed, Path(folder))
        params = SnapshotParams(window_days=scenario.window_days, extra={"polish": None})
        frame = clustering_frame(table, params)
        out = {"truth": truth.to_numpy(), "fits": []}
        for pipeline_seed in (0, 1, 2):
            pipeline = _ours(table, replace(params, seed=pipeline_seed))
            Z = pipeline.preprocessor_.transform(frame.to_numpy()).astype(np.float32)
            out["fits"].append({"labels": pipeline.labels_, "probs": pipeline.probabilities_, "Z": Z,
                                "latent": scoring.latent(pipeline, Z)})
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(pickle.dumps(out))
    return out


def polished(fit: dict, variant) -> np.ndarray:
    if variant is None:
        return fit["labels"]
    rounds, spread, *space = variant
    rows = fit[space[0] if space else "Z"]
    polish = DiscriminantPolish(spread, max_rounds=rounds).fit(rows, fit["labels"])
    return polish.apply(rows, fit["labels"], fit["probs"])[0]


def score(name: str, seed: int, data: dict, variants=tuple(VARIANTS)) -> list[dict]:
    truth = data["truth"]
    known = truth != sc.RANDOM
    rows = []
    for variant in variants:
        setting = VARIANTS[variant]
        labels = [polished(fit, setting) for fit in data["fits"]]
        pairs = [adjusted_rand(a, b) for i, a in enumerate(labels) for b in labels[i + 1:]]
        rows.append({"scenario": name, "data_seed": seed, "variant": variant, "sparse": sc.SCENARIOS[name].sparse,
                     "ari": float(np.mean([adjusted_rand(truth[known], lab[known]) for lab in labels])),
                     "seed_agreement": min(pairs), "noise": float(np.mean([np.mean(lab == -1) for lab in labels])),
                     "random_kept_as_noise": (float(np.mean([np.mean(lab[~known] == -1) for lab in labels]))
                                              if (~known).any() else np.nan)})
    return rows


def report(runs: pd.DataFrame, seeds) -> str:
    by = runs.groupby("variant", sort=False)
    table = pd.DataFrame({
        "ARI": by["ari"].mean(), "ARI sparse": runs[runs["sparse"]].groupby("variant", sort=False)["ari"].mean(),
        "ARI rest": runs[~runs["sparse"]].groupby("variant", sort=False)["ari"].mean(),
        "seeds agree, min": by["seed_agreement"].min(), "seeds agree, mean": by["seed_agreement"].mean(),
        "data sets ≥ 0.95": by["seed_agreement"].apply(lambda s: int((s >= 0.95).sum())),
        "noise": by["noise"].mean(), "planted random kept as noise": by["random_kept_as_noise"].mean()}).round(3)
    return (f"# The discriminant polish, tuning data seeds {', '.join(map(str, seeds))}\n\n"
            f"Every scenario × 0.5, pipeline seeds 0–2, {runs.groupby(['scenario', 'data_seed']).ngroups} data sets "
            "(`python -m benchmarks.polish_tuning`). ARI: mean over data sets of the mean over pipeline seeds; "
            "seeds agree: the least agreeing pair of pipeline seeds per data set.\n\n"
            + "```\n" + table.to_string() + "\n```\n")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-seeds", type=int, nargs="+", default=[0, 1, 2, 3])
    parser.add_argument("--scenarios", nargs="+", default=list(sc.SCENARIOS))
    parser.add_argument("--cache", type=Path, default=None)
    parser.add_argument("--variants", nargs="+", choices=list(VARIANTS), default=list(VARIANTS))
    parser.add_argument("--combine", type=Path, nargs="+", help="report these runs' CSVs together instead of fitting")
    parser.add_argument("--out", type=Path, default=RESULTS / "polish_tuning.csv")
    args = parser.parse_args(argv)
    if set(args.data_seeds) & set(sc.HELDOUT_SEEDS):
        parser.error("the polish is tuned on tuning seeds only (0-9)")
    if args.combine:
        runs = pd.concat([pd.read_csv(path) for path in args.combine], ignore_index=True)
    else:
        rows = []
        for name in args.scenarios:
            for seed in args.data_seeds:
                rows += score(name, seed, fits(name, seed, args.cache), args.variants)
                print(f"{name} seed {seed} done", flush=True)
        runs = pd.DataFrame(rows)
    runs.to_csv(args.out, index=False)
    text = report(runs, sorted(runs["data_seed"].unique()))
    args.out.with_suffix(".md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()

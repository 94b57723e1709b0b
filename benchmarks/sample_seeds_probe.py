"""The 1M snapshot's clustering regime, with every pipeline seed, on the demo's TUNING data seeds.

    .venv/bin/python -m benchmarks.sample_seeds_probe --data-seed 0 [--customers 50000] [--seeds 0 1 2]
        [--candidates defaults "min_samples 100"]   # -> results/sample_seeds_probe_<data seed>.csv/.md

At 1,000,000 customers the snapshot fits a 50,000-customer sample and every other customer takes the
segment its nearest fitted customers hold (``segmentation.engine.mapping``), so the segments and their
ARI are the sample's (README v25: the fit sample and the rest agree with the personas alike). This
fits the pipeline the snapshot makes (``make_pipeline``, the one-month window of ``benchmarks.scale``)
on a demo month of ``--customers`` customers, all of them in the fit, once per pipeline seed and
candidate, beside ``benchmarks.scale``'s KMeans told k on the same features: ARI with the personas
(every customer, noise a label of its own), noise share and segment count. The reported 1M data seed
is 7 (``benchmarks.scale``); choose with seeds 0-6 here.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

from benchmarks.scratch import scratch

RESULTS = Path(__file__).resolve().parent / "results"
CANDIDATES = {"defaults": {}, "min_samples 100": {"min_samples": 100},
              # v34's default polishes from 25,000 fitted rows: the defaults before it
              "no polish (v33)": {"polish_from": None},
              # the cluster space's UMAP with 30 neighbours at 50,000 rows (15 under 25,000): README v30
              "UMAP 30 neighbours": {"neighbors_share": 0.0006},
              # the discriminant polish (an option since v26) in the features, or in the latent space (v31)
              "polish features": {"polish": 0.99},
              "polish latent": {"polish": 0.99, "polish_space": "latent"}}
REPORTED_DATA_SEED = 7


def score(customers: int, data_seed: int, seeds: list[int], candidates: list[str]) -> pd.DataFrame:
    from benchmarks.scale import AS_OF, WINDOW_DAYS, demo_month
    from benchmarks.scale_seeds import kmeans
    from segmentation.engine.metrics import adjusted_rand
    from segmentation.workflows.snapshot import SnapshotParams, clustering_frame, make_pipeline, snapshot_inputs

    rows = []
    with scratch("sample-seeds-") as folder:
        db = folder / "month.duckdb"
        demo_month(db, customers, data_seed)
        table, truth = snapshot_inputs(db, AS_OF, WINDOW_DAYS)
        for seed in seeds:
            params = SnapshotParams(window_days=WINDOW_DAYS, seed=seed)
            X = clustering_frame(table, params)
            y = truth.reindex(X.index).fillna("(unknown)").to_numpy()
            for candidate in candidates:
                started = time.perf_counter()
                # as the snapshot fits it (workflows.reuse.fit_or_reuse): with the two halves of each
                # customer's events, which the split by mix and the twins read
                pipeline = make_pipeline(table, params).set_params(**CANDIDATES[candidate]).fit(X, halves=table.halves)
                labels = pipeline.labels_
                rows.append({"data_seed": data_seed, "candidate": candidate, "seed": seed,
                             "ari": adjusted_rand(y, labels), "noise_share": float(np.mean(labels < 0)),
                             "segments": int(pipeline.n_segments_), "seconds": time.perf_counter() - started})
                print(json.dumps(rows[-1]), flush=True)
        # KMeans told k exactly as benchmarks.scale fits it (its random_state 0)
        reference, = kmeans(db, [0])
    rows.append({"data_seed": data_seed, "candidate": "reference: kmeans (true k)", "seed": reference["seed"],
                 "ari": reference["ari"], "noise_share": reference["noise_share"],
                 "segments": int(reference["n_segments"]), "seconds": np.nan})
    return pd.DataFrame(rows)


def seed_tables(frame: pd.DataFrame, **more) -> str:
    """ARI by data seed, candidate and pipeline seed, and each candidate's summary (``more``: further
    named aggregations), as one fenced block."""
    by_seed = frame.pivot_table(index=["data_seed", "candidate"], columns="seed", values="ari", sort=False)
    summary = frame.groupby("candidate", sort=False).agg(mean_ari=("ari", "mean"), min_ari=("ari", "min"),
                                                          noise=("noise_share", "mean"), **more,
                                                          segments=("segments", lambda s: "/".join(map(str, s))))
    return "\n".join(["```", by_seed.round(4).to_string(), "", summary.round(4).to_string(), "```"])


def report(frame: pd.DataFrame, customers: int) -> str:
    seeds = ", ".join(str(s) for s in sorted(frame["data_seed"].unique()))
    return "\n".join([
        f"# The 1M snapshot's clustering regime with every pipeline seed (demo data seed(s) {seeds}, "
        f"{customers:,} customers, all fitted)", "",
        "Written by `python -m benchmarks.sample_seeds_probe` (see its docstring). ARI of every customer "
        "with the personas; columns of the first table are pipeline seeds, the second is over every data "
        "seed and pipeline seed.", "", seed_tables(frame), ""])


def probe_parser(description: str) -> argparse.ArgumentParser:
    """The arguments every probe of the 1M regime takes (``--data-seed``, ``--customers``, ``--seeds``,
    ``--combine``, ``--out``)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--data-seed", type=int, default=0)
    parser.add_argument("--customers", type=int, default=50_000)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--combine", type=Path, nargs="+", help="report these runs' CSVs together instead of fitting")
    parser.add_argument("--out", type=Path)
    return parser


def run_probe(parser: argparse.ArgumentParser, args, stem: str, score: Callable[[], pd.DataFrame],
              report: Callable[[pd.DataFrame, int], str]) -> None:
    """Refuse the reported data seed, then ``score()`` (or read ``--combine``'s CSVs), write the CSV and
    ``report``'s markdown (``--out`` or results/<stem>_<data seed>.csv) and print the report."""
    if args.data_seed == REPORTED_DATA_SEED and not args.combine:
        parser.error(f"data seed {REPORTED_DATA_SEED} is the one benchmarks.scale reports: probe on others")
    out = args.out or RESULTS / f"{stem}_{args.data_seed}.csv"
    if args.combine:
        frame = pd.concat([pd.read_csv(path) for path in args.combine], ignore_index=True)
    else:
        frame = score()
    frame.to_csv(out, index=False)
    text = report(frame, args.customers)
    out.with_suffix(".md").write_text(text)
    print(text)


def main(argv: list[str] | None = None) -> None:
    parser = probe_parser(__doc__.splitlines()[0])
    parser.add_argument("--candidates", nargs="+", default=list(CANDIDATES), choices=list(CANDIDATES))
    args = parser.parse_args(argv)
    run_probe(parser, args, "sample_seeds_probe",
              lambda: score(args.customers, args.data_seed, args.seeds, args.candidates), report)

if __name__ == "__main__":
    main()

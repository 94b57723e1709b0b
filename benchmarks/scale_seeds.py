"""How far the seeds move the 1M comparison: ours with pipeline seeds 0, 1, 2 beside KMeans told k with seeds 0–4.

    .venv/bin/python -m benchmarks.scale_seeds [--customers 1000000] [--seed 7] [--pipeline-seeds 0 1 2]
        [--kmeans-seeds 0 1 2 3 4] [--extra NAME=VALUE ...] [--tag _NAME]   # -> results/scale_seeds_<N><tag>.md / .csv

Issue 14 asks, at 1M customers, for ours ≥ KMeans told the true k; ``benchmarks.scale`` compares one fit of
each (pipeline seed 0; KMeans ``random_state=0``, best of ten starts). This benchmark builds the same
demo (data seed 7, the reported one: nothing is chosen here) and measures what the seeds alone do to both
sides: ours is the snapshot (``run_snapshot``, the fit sample and the neighbour vote) with each pipeline
seed, each on its own copy of the database; KMeans is ``benchmarks.scale``'s baseline with each
``random_state``. Ours' seeds are also compared pairwise (ARI of every customer's segment, noise a label
of its own), issue 14's seed item at this scale. ``--extra`` runs ours with engine options (read as ``run
--engine-option`` reads them); ``--tag`` keeps such a run's results apart.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from benchmarks.scale import AS_OF, RESULTS, WINDOW_DAYS, baseline_inputs, demo_month


def ours(db: Path, seed: int, extra: dict | None = None) -> tuple[dict, pd.Series]:
    """One snapshot with pipeline seed ``seed``: its ARI and every customer's segment."""
    from segmentation.data import store
    from segmentation.workflows.snapshot import SnapshotParams, run_snapshot

    started = time.perf_counter()
    document = run_snapshot(db, AS_OF, SnapshotParams(window_days=WINDOW_DAYS, seed=seed, extra=dict(extra or {})))
    seconds = time.perf_counter() - started
    with store.connect(db, read_only=True) as con:
        labels = con.execute("SELECT customer_id, segment_id FROM assignments WHERE run_id = $r",
                             {"r": document["run_id"]}).df().set_index("customer_id")["segment_id"]
    row = {"method": "ours", "seed": seed, "ari": document["metrics"].get("ari"),
           "n_segments": document["n_segments"], "noise_share": document["noise_share"], "seconds": round(seconds, 1)}
    return row, labels


def kmeans(db: Path, seeds) -> list[dict]:
    """``benchmarks.scale``'s KMeans baseline (told k, all customers, best of ten starts) with each seed."""
    from benchmarks.quality import methods
    from segmentation.engine.metrics import adjusted_rand

    X, y, settings = baseline_inputs(db)
    rows = []
    for seed in seeds:
        pipeline = methods(len(np.unique(y)), **{**settings, "random_state": seed})["kmeans"]
        started = time.perf_counter()
        pipeline.fit(X)
        rows.append({"method": "kmeans (true k)", "seed": seed, "ari": adjusted_rand(y, pipeline.labels_),
                     "n_segments": pipeline.n_segments_, "noise_share": pipeline.noise_share_,
                     "seconds": round(time.perf_counter() - started, 1)})
        print(rows[-1], flush=True)
    return rows


def report(frame: pd.DataFrame, agreement: list[float], n: int, seed: int, extra: dict | None = None) -> str:
    summary = frame.groupby("method", sort=False)["ari"].agg(["mean", "min", "max", "count"]).round(4)
    return "\n".join([
        f"# The seeds at {n:,} customers (demo data seed {seed})"
        + (f"; ours with {', '.join(f'{k}={v!r}' for k, v in extra.items())}" if extra else ""), "",
        "Written by `python -m benchmarks.scale_seeds` (see its docstring). ARI of every customer against the "
        "demo's personas; ours is the snapshot with each pipeline seed, KMeans told k is `benchmarks.scale`'s "
        "baseline with each `random_state`.", "",
        "```", frame.round(4).to_string(index=False), "```", "",
        "```", summary.to_string(), "```", "",
        "Ours, pipeline seeds compared pairwise (every customer): "
        + ", ".join(f"{a:.4f}" for a in agreement) + (f"; least {min(agreement):.4f}" if agreement else ""), ""])


def main(argv: list[str] | None = None) -> None:
    from segmentation.engine.metrics import adjusted_rand

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--pipeline-seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--kmeans-seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--extra", nargs="*", default=[], metavar="NAME=VALUE", help="engine options for ours")
    parser.add_argument("--tag", default="", help="appended to the results' file name")
    parser.add_argument("--out-dir", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    from segmentation.workflows.engine_options import parse_engine_options

    extra = parse_engine_options(args.extra)
    rows, labelings = [], []
    with tempfile.TemporaryDirectory(prefix="scale-seeds-") as tmp:
        work = Path(tmp)
        demo = work / "demo.duckdb"
        print(f"demo data: {args.customers:,} customers, one month …", flush=True)
        demo_month(demo, args.customers, args.seed)
        rows += kmeans(demo, args.kmeans_seeds)
        for seed in args.pipeline_seeds:
            db = work / f"seed{seed}.duckdb"
            shutil.copyfile(demo, db)
            row, labels = ours(db, seed, extra)
            rows.append(row)
            labelings.append(labels)
            print(row, flush=True)
            db.unlink()
            shutil.rmtree(db.with_name(db.stem + ".models"), ignore_errors=True)
    index = labelings[0].index
    agreement = [adjusted_rand(a.reindex(index).to_numpy(), b.reindex(index).to_numpy())
                 for i, a in enumerate(labelings) for b in labelings[i + 1:]]
    frame = pd.DataFrame(rows)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    out = args.out_dir / f"scale_seeds_{args.customers}{args.tag}.csv"
    frame.to_csv(out, index=False)
    text = report(frame, agreement, args.customers, args.seed, extra)
    out.with_suffix(".md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()

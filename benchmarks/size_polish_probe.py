"""The size polish redrawn on the same fits, other ways, on TUNING data.

    .venv/bin/python -m benchmarks.size_polish_probe --data-seed 0 [--customers 50000] [--seeds 0 1 2]
        # -> results/size_polish_probe_<data seed>.csv/.md; --combine A.csv B.csv reports runs together

At 1,000,000 customers the snapshot fits a 50,000-customer sample and polishes its segments in the
latent space with one round of a linear discriminant (``segmentation.engine.polish``, README v34). The
fits of one sample land between 0.876 and 0.896 ARI with the pipeline seed (``scale_seeds``), around
KMeans told k. This probe fits the snapshot's pipeline once per pipeline seed on a demo month (all
customers fitted, as ``sample_seeds_probe`` does), keeps the segments the polish started from, and
draws the polish again on the same rows, so that every candidate sees the same fits:

* ``one round (the default)``: the fit's own segments;
* ``3 rounds``: ``DiscriminantPolish(max_rounds=3)``;
* ``quadratic discriminant``: one round of scikit-learn's ``QuadraticDiscriminantAnalysis`` (a
  covariance per segment, ``reg_param`` 0.01) over the segmented rows; noise joins as the default's;
* ``code and features``: the default's discriminant drawn in the latent code beside the
  preprocessed features.

ARI with the personas (every customer, noise a label of its own) beside KMeans told k. The reported 1M
data seed is 7 (``benchmarks.scale``); this refuses it.
"""

from __future__ import annotations

import json
import time

import numpy as np
import pandas as pd

from benchmarks.scratch import scratch
from segmentation.constants import NOISE


def _quadratic(rows: np.ndarray, before: np.ndarray, polished: np.ndarray) -> np.ndarray:
    """One round of a quadratic discriminant fitted on the segments ``before``; noise as ``polished`` has it."""
    from sklearn.discriminant_analysis import QuadraticDiscriminantAnalysis

    segmented = before != NOISE
    qda = QuadraticDiscriminantAnalysis(reg_param=0.01).fit(rows[segmented], before[segmented])
    found = polished.copy()
    placed = polished != NOISE
    found[placed] = qda.predict(rows[placed])
    return found


def variants(rows: np.ndarray, features: np.ndarray, before: np.ndarray, probabilities: np.ndarray,
             polished: np.ndarray) -> dict[str, np.ndarray]:
    """Each candidate's segments of the fitted ``rows`` (latent), from the segments before the polish."""
    from segmentation.engine.polish import SPREAD, DiscriminantPolish

    both = np.hstack([rows, features])
    return {"one round (the default)": polished,
            "3 rounds": DiscriminantPolish(SPREAD, max_rounds=3).fit(rows, before).apply(rows, before, probabilities)[0],
            "quadratic discriminant": _quadratic(rows, before, polished),
            "code and features": DiscriminantPolish(SPREAD).fit(both, before).apply(both, before, probabilities)[0]}


def score(customers: int, data_seed: int, seeds: list[int]) -> pd.DataFrame:
    from benchmarks.scale import AS_OF, WINDOW_DAYS, demo_month
    from benchmarks.scale_seeds import kmeans
    from segmentation.engine import pipeline as pipeline_module
    from segmentation.engine.metrics import adjusted_rand
    from segmentation.engine.polish import DiscriminantPolish
    from segmentation.workflows.snapshot import SnapshotParams, clustering_frame, make_pipeline, snapshot_inputs

    seen: dict = {}

    class Recording(DiscriminantPolish):  # keeps the rows and segments the fit's polish starts from
        def fit(self, Z, labels):
            seen["rows"], seen["labels"] = np.asarray(Z, dtype=np.float64), np.asarray(labels).copy()
            return super().fit(Z, labels)

    rows = []
    with scratch("size-polish-") as folder:
        db = folder / "month.duckdb"
        demo_month(db, customers, data_seed)
        table, truth = snapshot_inputs(db, AS_OF, WINDOW_DAYS)
        original, pipeline_module.DiscriminantPolish = pipeline_module.DiscriminantPolish, Recording
        try:
            for seed in seeds:
                params = SnapshotParams(window_days=WINDOW_DAYS, seed=seed)
                X = clustering_frame(table, params)
                y = truth.reindex(X.index).fillna("(unknown)").to_numpy()
                started = time.perf_counter()
                pipeline = make_pipeline(table, params).fit(X, halves=table.halves)  # as the snapshot fits it
                seconds = time.perf_counter() - started
                if pipeline.polish_ is None or len(pipeline.fit_sample_index_) != len(X):
                    raise SystemExit("the fit was not polished on every customer: use --customers 25000 or more")
                features = pipeline.preprocessor_.transform(X.to_numpy())
                found = variants(seen["rows"], features, seen["labels"], pipeline.probabilities_, pipeline.labels_)
                for candidate, labels in found.items():
                    rows.append({"data_seed": data_seed, "candidate": candidate, "seed": seed,
                                 "ari": adjusted_rand(y, labels), "noise_share": float(np.mean(labels == NOISE)),
                                 "segments": int(len(np.unique(labels[labels != NOISE]))),
                                 "moved": float(np.mean(labels != pipeline.labels_)), "fit_seconds": seconds})
                    print(json.dumps(rows[-1]), flush=True)
                print(pd.crosstab(y, pipeline.labels_).to_string(), flush=True)
        finally:
            pipeline_module.DiscriminantPolish = original
        reference, = kmeans(db, [0])  # KMeans told k exactly as benchmarks.scale fits it
    rows.append({"data_seed": data_seed, "candidate": "reference: kmeans (true k)", "seed": reference["seed"],
                 "ari": reference["ari"], "noise_share": reference["noise_share"],
                 "segments": int(reference["n_segments"]), "moved": np.nan, "fit_seconds": np.nan})
    return pd.DataFrame(rows)


def report(frame: pd.DataFrame, customers: int) -> str:
    from benchmarks.sample_seeds_probe import seed_tables

    seeds = ", ".join(str(s) for s in sorted(frame["data_seed"].unique()))
    return "\n".join([
        f"# The size polish redrawn on the same fits (demo data seed(s) {seeds}, {customers:,} customers, all fitted)",
        "", "Written by `python -m benchmarks.size_polish_probe` (see its docstring). ARI of every customer with the "
        "personas; columns of the first table are pipeline seeds; `moved` is the share of customers in another "
        "segment than the default's.", "", seed_tables(frame, moved=("moved", "mean")), ""])


def main(argv: list[str] | None = None) -> None:
    from benchmarks.sample_seeds_probe import probe_parser, run_probe

    parser = probe_parser(__doc__.splitlines()[0])
    args = parser.parse_args(argv)
    run_probe(parser, args, "size_polish_probe", lambda: score(args.customers, args.data_seed, args.seeds), report)

if __name__ == "__main__":
    main()

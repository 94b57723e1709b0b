"""How many fit-sample neighbours vote for a new customer's segment, and how: chosen on the 1M demo's
TUNING data seeds (0 and 1; ``benchmarks/scale.py`` reports data seed 7).

    .venv/bin/python -m benchmarks.mapping_vote_tuning --seeds 0 1     # -> results/mapping_vote_tuning.csv/.md

For each data seed: one month of 1,000,000 demo customers (as ``benchmarks/scale.py``), the
snapshot's pipeline fitted once (pipeline seed 0, 50,000-customer fit sample); then the customers
outside the fit sample are scored again by :class:`~segmentation.engine.mapping.SampleMapping`
fitted on the sample's latent vectors and results with each candidate vote: the ``k`` nearest by
1/distance (v28: k = 10) or by plain majority. The sample's own segments are the same for every
candidate, so the differences are the mapping's alone. KMeans told the true k on the same
preprocessed features (all customers) is the reference the issue compares with.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from segmentation.engine import scoring
from segmentation.engine.mapping import SampleMapping
from segmentation.engine.metrics import adjusted_rand

RESULTS = Path(__file__).resolve().parent / "results"
AS_OF, WINDOW_DAYS = date(2025, 1, 31), 30
#: name → SampleMapping parameters; the weighted candidates are the v28 rule (k voters by 1/distance).
#: ε is NNDescent's search width (wider: nearer to the exact neighbours, slower).
CANDIDATES = {
    "1/distance, k=10, ε 0.2 (v28)": {"n_neighbors": 10, "epsilon": 0.2, "weighted": True},
    "1/distance, k=30, ε 0.2": {"n_neighbors": 30, "epsilon": 0.2, "weighted": True},
    **{f"majority, k={k}, ε {e:g}": {"vote_neighbors": k, "epsilon": e}
       for k, e in ((10, 0.2), (20, 0.1), (30, 0.1), (30, 0.2), (50, 0.2))},
    # v30 candidates: a linear discriminant of the sample's segments in the latent space, for everyone
    # outside the sample or only where the majority of 30 is weak.
    "LDA (latent), everyone": {"discriminant": None},
    **{f"majority of 30, LDA where it holds < {b:.0%}": {"discriminant": b} for b in (0.6, 0.8)},
}


def fitted(seed: int, customers: int, folder: Path, keep: bool = False):
    """The demo month's pipeline fitted as a snapshot fits it, its latent rows, the truth and KMeans told
    k's ARI; with ``keep`` also ``{"Z": preprocessed rows, "halves": the fit sample's two halves}``."""
    from sklearn.cluster import KMeans

    from benchmarks.scale import demo_month
    from segmentation.workflows.snapshot import SnapshotParams, clustering_frame, make_pipeline, snapshot_inputs

    db = folder / f"demo_{seed}.duckdb"
    demo_month(db, customers, seed)
    table, truth = snapshot_inputs(db, AS_OF, WINDOW_DAYS)
    params = SnapshotParams(window_days=WINDOW_DAYS, fit_sample_size=50_000, seed=0)
    pipeline = make_pipeline(table, params)
    frame = clustering_frame(table, params)
    y = truth.reindex(frame.index).fillna("(unknown)").to_numpy()
    pipeline.fit(frame, halves=table.halves)
    Z = pipeline.preprocessor_.transform(frame.to_numpy(dtype=float))
    kmeans = KMeans(len(np.unique(y)), n_init=10, random_state=0).fit(Z)
    found = pipeline, scoring.latent(pipeline, Z), y, adjusted_rand(y, kmeans.labels_)
    if not keep:
        return found
    halves = pipeline._sample_halves(table.halves, frame.index, pipeline.fit_sample_index_)
    return (*found, {"Z": Z, "halves": halves})


def _discriminant_row(seed, name, below, pipeline, latent, y, sample, rest) -> dict:
    """Customers outside the sample by a shrunk LDA of the sample's segments (``below`` None: everyone;
    else only those whose majority vote holds less than ``below`` of the voters)."""
    from sklearn.discriminant_analysis import LinearDiscriminantAnalysis

    labels_sample = pipeline.labels_[sample]
    segmented = labels_sample >= 0
    started = time.perf_counter()
    lda = LinearDiscriminantAnalysis(solver="lsqr", shrinkage="auto").fit(latent[sample][segmented],
                                                                        labels_sample[segmented])
    predicted = lda.predict(latent[rest])
    if below is not None:  # the vote, where it is clear (its index built only here)
        mapping = SampleMapping(random_state=0).fit(latent[sample], pipeline.cluster_space_[sample], None,
                                                    labels_sample, pipeline.probabilities_[sample])
        distances, indices = mapping.neighbors_.kneighbors(latent[rest], mapping.vote_neighbors)
        voted, _ = mapping._vote(distances, indices)
        votes = mapping.classes_[mapping.sample_classes_[indices]]
        share = (votes == voted[:, None]).mean(axis=1)
        predicted = np.where(share < below, predicted, voted)
    seconds = time.perf_counter() - started
    labels = pipeline.labels_.copy()
    labels[rest] = predicted
    return {"data_seed": seed, "candidate": name, "ari": adjusted_rand(y, labels),
            "ari_outside_sample": adjusted_rand(y[rest], predicted), "noise_share": float(np.mean(labels == -1)),
            "customers_per_second": round(len(rest) / seconds)}


def score(seed: int, customers: int, candidates: dict | None = None) -> list[dict]:
    candidates = CANDIDATES if candidates is None else candidates
    with tempfile.TemporaryDirectory(prefix="vote-") as folder:
        pipeline, latent, y, kmeans_ari = fitted(seed, customers, Path(folder))
    sample = pipeline.fit_sample_index_
    rest = np.setdiff1d(np.arange(len(y)), sample)
    sample_labels, sample_probs = pipeline.labels_[sample], pipeline.probabilities_[sample]
    rows = [{"data_seed": seed, "candidate": "reference: kmeans (true k)", "ari": kmeans_ari}]
    for name, settings in candidates.items():
        settings = dict(settings)
        if "discriminant" in settings:  # a linear discriminant of the sample's segments in the latent space
            rows.append(_discriminant_row(seed, name, settings["discriminant"], pipeline, latent, y, sample, rest))
            print(rows[-1], flush=True)
            continue
        weighted = settings.pop("weighted", False)
        mapping = SampleMapping(random_state=0, **settings).fit(latent[sample], pipeline.cluster_space_[sample], None,
                                                                sample_labels, sample_probs)
        if weighted:  # the v28 rule: every voter weighs 1/distance
            del mapping.sample_classes_  # predict takes the v28 path
            mapping = _weighted(mapping, latent[sample], pipeline.cluster_space_[sample], sample_labels, sample_probs)
        started = time.perf_counter()
        mapped = mapping.predict(latent[rest])
        seconds = time.perf_counter() - started
        labels = pipeline.labels_.copy()
        labels[rest] = mapped.labels
        rows.append({"data_seed": seed, "candidate": name, "ari": adjusted_rand(y, labels),
                     "ari_outside_sample": adjusted_rand(y[rest], mapped.labels),
                     "noise_share": float(np.mean(labels == -1)),
                     "customers_per_second": round(len(rest) / seconds)})
        print(rows[-1], flush=True)
    return rows


def _weighted(mapping: SampleMapping, X, space, labels, probabilities) -> SampleMapping:
    """``mapping`` refitted in the v28 layout (segments among the 1/distance-weighted targets)."""
    from segmentation.engine.mapping import NeighborMapping

    one_hot = (labels[:, None] == mapping.classes_[None, :]).astype(np.float64)
    targets = np.hstack([np.asarray(space, dtype=np.float64), one_hot, one_hot * probabilities[:, None]])
    mapping.neighbors_ = NeighborMapping(n_neighbors=mapping.n_neighbors, epsilon=mapping.epsilon,
                                         random_state=0).fit(X, targets)
    return mapping


def report(frame: pd.DataFrame) -> str:
    table = frame.pivot_table(index="candidate", columns="data_seed", values="ari", sort=False)
    speed = frame.groupby("candidate", sort=False)["customers_per_second"].mean()
    table["mean"] = table.mean(axis=1)
    table["customers/s (mapping alone)"] = speed
    return "\n".join(["# The out-of-sample vote, on the 1M demo's tuning data seeds",
                      "", "Written by `python -m benchmarks.mapping_vote_tuning` (see its docstring). ARI of all the "
                      "customers (the fit sample's 50,000 are the same in every row).", "",
                      "```", table.round(4).to_string(), "```", ""])


def run_tuning(argv: list[str] | None, doc: str, candidates: dict, score, report, out: Path) -> None:
    """The command line of a 1M tuning benchmark: ``score(seed, customers, candidates)`` rows for each
    tuning data seed, written to ``--out`` (CSV) and its .md (``report(frame)``)."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1], help="demo data seeds (tuning: not 7)")
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--candidates", nargs="+", default=list(candidates), choices=list(candidates))
    parser.add_argument("--out", type=Path, default=out)
    args = parser.parse_args(argv)
    if 7 in args.seeds:
        parser.error("data seed 7 is the one benchmarks/scale.py reports: choose on other seeds")
    chosen = {name: candidates[name] for name in args.candidates}
    frame = pd.DataFrame([row for seed in args.seeds for row in score(seed, args.customers, chosen)])
    frame.to_csv(args.out, index=False)
    text = report(frame)
    args.out.with_suffix(".md").write_text(text)
    print(text)


def main(argv: list[str] | None = None) -> None:
    run_tuning(argv, __doc__, CANDIDATES, score, report, RESULTS / "mapping_vote_tuning.csv")


if __name__ == "__main__":
    main()

"""UMAP's neighbours and HDBSCAN's ``min_samples`` on a large fit sample: chosen on the 1M demo's TUNING
data seeds (0 and 1; ``benchmarks/scale.py`` reports data seed 7).

    .venv/bin/python -m benchmarks.umap_neighbours_tuning --seeds 0 1   # -> results/umap_neighbours_tuning.csv/.md

Two causes were asked why a 50,000-row fit sample's segments blur two touching personas (v29: a
sixth of one persona left as noise on data seed 0 and a tenth of it in its neighbour's segment).

``min_samples``: HDBSCAN's own rule makes ``min_samples`` equal to ``min_cluster_size``, and the segment floor is a
share of the fit sample, so at 50,000 rows each core distance is measured to the 500th or 1,000th
neighbour: the density estimate is smoothed over a region as large as the smallest segment, and
two touching segments blur into each other. A density estimate needs a fixed number of
neighbours, not a share of the sample; a cap on ``min_samples`` leaves every sample whose floor is
under it as it is. Measured: every cap lowered the ARI (the blur is not in the density estimate).

UMAP's ``n_neighbors``: a fixed 15 makes each row's neighbourhood a smaller and smaller share of a
growing sample, so the graph UMAP lays out grows ever more local; at 50,000 rows two personas that
touch are no longer pulled apart. ``neighbors_share`` (v30) makes the cluster space's neighbours at
least a share of the fit sample.

For each data seed: one month of 1,000,000 demo customers (as ``benchmarks/scale.py``), the
snapshot's pipeline fitted once (pipeline seed 0, 50,000-customer fit sample). For each candidate
the cluster space is laid out again from the same latent vectors with the candidate's neighbours
(the autoencoder is shared; the pipeline's own space is the default's), the clusterer fitted on it, the
fit sample's segments are post-processed as the pipeline does (:func:`segment_fit_sample` with the
pipeline's settings), and the customers outside the sample are scored by the pipeline's mapping
(:class:`SampleMapping`, its defaults). KMeans told the true k on the same preprocessed features
(all customers) is the reference the issue compares with.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from benchmarks.mapping_vote_tuning import fitted, run_tuning
from segmentation.engine.mapping import SampleMapping
from segmentation.engine.metrics import adjusted_rand

RESULTS = Path(__file__).resolve().parent / "results"
#: name → (UMAP n_neighbors for the cluster space, None: the pipeline's own space; HDBSCAN min_samples
#: in rows, None: the default rule, min_cluster_size[; UMAP's seed for the layout, default the pipeline's])
CANDIDATES = {"defaults (15 neighbours, min_samples = the floor)": (None, None),
              **{f"min_samples {m}": (None, m) for m in (50, 100, 200, 400)},
              **{f"UMAP {k} neighbours": (k, None) for k in (30, 50)},
              # how far the layout's own seed moves the same sample (the autoencoder is the same fit)
              **{f"UMAP 15 neighbours, UMAP seed {s}": (15, None, s) for s in (1, 2, 3)}}


def score(seed: int, customers: int, candidates: dict) -> list[dict]:
    import hdbscan
    from sklearn.base import clone

    from segmentation.engine.clustering import segment_fit_sample
    from segmentation.engine.step_factory import make_reducer
    from segmentation.engine.steps import fit_transform_umap

    with tempfile.TemporaryDirectory(prefix="neighbours-") as folder:
        pipeline, latent, y, kmeans_ari, extra = fitted(seed, customers, Path(folder), keep=True)
    sample = pipeline.fit_sample_index_
    rest = np.setdiff1d(np.arange(len(y)), sample)
    Z_sample, halves = extra["Z"][sample], extra["halves"]
    rows = [{"data_seed": seed, "candidate": "reference: kmeans (true k)", "ari": kmeans_ari}]
    floor = int(pipeline.min_cluster_size_)
    spaces: dict = {None: (pipeline.cluster_space_[sample], 0.0)}
    for name, (neighbours, min_samples, *umap_seed) in candidates.items():
        key = (neighbours, *umap_seed) if neighbours is not None else None
        if key not in spaces:  # the cluster space again, from the same latent vectors
            started = time.perf_counter()
            again = clone(pipeline).set_params(n_neighbors=neighbours, neighbors_share=None,
                                               random_state=umap_seed[0] if umap_seed else pipeline.random_state)
            spaces[key] = (fit_transform_umap(make_reducer(again, len(sample)), latent[sample],
                                              pipeline.mapping), time.perf_counter() - started)
        space, embedding_seconds = spaces[key]
        started = time.perf_counter()
        clusterer = hdbscan.HDBSCAN(min_cluster_size=floor, min_samples=min_samples,
                                    cluster_selection_method=pipeline.cluster_selection_method,
                                    prediction_data=True, core_dist_n_jobs=1).fit(space)
        segments = segment_fit_sample(
            clusterer, Z_sample, outlier_floor=pipeline.outlier_floor, merge_alpha=pipeline.merge_alpha,
            twin_distance=pipeline.twin_distance, refine_neighbors=pipeline.refine_neighbors,
            random_state=pipeline.random_state, min_size=floor, split_distance=pipeline.split_distance,
            mix_columns=pipeline._mix_positions(), halves=halves, mix_twins=pipeline.mix_twins, space=space,
            reproducible_below=None, min_samples=min_samples, join_noise=pipeline.join_noise)
        seconds = time.perf_counter() - started + embedding_seconds
        mapping = SampleMapping(random_state=0).fit(latent[sample], space, None, segments.labels,
                                                    segments.probabilities)
        mapped = mapping.predict(latent[rest])
        labels = np.empty(len(y), dtype=np.int64)
        labels[sample], labels[rest] = segments.labels, mapped.labels
        rows.append({"data_seed": seed, "candidate": name, "ari": adjusted_rand(y, labels),
                     "ari_sample": adjusted_rand(y[sample], segments.labels),
                     "noise_share": float(np.mean(labels == -1)),
                     "segments": int(len(np.unique(labels[labels >= 0]))), "true_k": int(len(np.unique(y))),
                     "floor": floor, "seconds": round(seconds, 1)})
        print(rows[-1], flush=True)
    return rows


def report(frame: pd.DataFrame) -> str:
    table = frame.pivot_table(index="candidate", columns="data_seed", values="ari", sort=False)
    table["mean"] = table.mean(axis=1)
    for column, label in (("segments", "segments"), ("noise_share", "noise"),
                          ("seconds", "seconds (embedding + clustering)")):
        table[label] = frame.groupby("candidate", sort=False)[column].mean()
    return "\n".join(["# UMAP's neighbours and HDBSCAN's min_samples on the 1M demo's tuning data seeds", "",
                      "Written by `python -m benchmarks.umap_neighbours_tuning` (see its docstring). ARI of all the "
                      "customers; segments, noise share and seconds (the cluster space's UMAP when laid out "
                      "again, HDBSCAN and its post-processing) are means over the seeds.", "",
                      "```", table.round(4).to_string(), "```", ""])


def main(argv: list[str] | None = None) -> None:
    run_tuning(argv, __doc__, CANDIDATES, score, report, RESULTS / "umap_neighbours_tuning.csv")

if __name__ == "__main__":
    main()

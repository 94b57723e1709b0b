"""Quality benchmark: our pipeline side by side with baselines, on data with ground truth.

    .venv/bin/python -m benchmarks.quality            # digits table -> benchmarks/results/quality_digits.csv

Each method is a :class:`~segmentation.pipeline.SegmentationPipeline`
configuration, so every method gets the same preprocessing and the same
scoring (ARI/NMI with noise −1 counted as a label of its own):

* ``ours``: autoencoder → UMAP → HDBSCAN (the settings passed in)
* ``kmeans``: KMeans (k = true number of classes) on standardised features
* ``umap+hdbscan``: the same UMAP and HDBSCAN on the preprocessed features, no
  autoencoder (with ``scaler="global"`` that is the raw features: one common
  scale factor leaves UMAP's neighbourhoods unchanged)
* ``ae+kmeans``: the same autoencoder, KMeans on its latent space

:func:`compare` is the reusable part (the demo dataset adds a call to it).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.cluster import KMeans

from segmentation.metrics import adjusted_rand, nmi
from segmentation.pipeline import SegmentationPipeline

__all__ = ["methods", "compare", "digits_frame", "DIGITS_SETTINGS", "main"]

RESULTS = Path(__file__).resolve().parent / "results"

# Documented settings for a feature table whose columns share one unit (pixel ink 0–16):
# per-column standardising would blow up nearly-blank border pixels, so columns are
# centred and divided by one common scale ("global").
DIGITS_SETTINGS = dict(scaler="global", latent_dim=32, hidden_dims=(256, 128), dropout=0.0, max_epochs=300,
                       min_cluster_size=0.01)


def methods(n_classes: int, **settings) -> dict[str, SegmentationPipeline]:
    """Our pipeline and the three baselines, sharing ``settings`` (pipeline parameters)."""
    kmeans = KMeans(n_clusters=n_classes, n_init=10, random_state=settings.get("random_state", 0))
    return {
        "ours": SegmentationPipeline(**settings),
        "kmeans": SegmentationPipeline(encoder="passthrough", reducer="passthrough", clusterer=kmeans,
                                       map_reducer="drop", **{**settings, "scaler": "standard"}),
        "umap+hdbscan": SegmentationPipeline(encoder="passthrough", map_reducer="drop", **settings),
        "ae+kmeans": SegmentationPipeline(reducer="passthrough", clusterer=kmeans, map_reducer="drop", **settings),
    }


def compare(dataset: str, X, truth, **settings) -> pd.DataFrame:
    """Fit every method on ``X`` and score it against ``truth``; one row per method.

    Columns: dataset, method, ari, nmi, noise_share, n_segments, seconds.
    """
    truth = np.asarray(truth)
    rows = []
    for name, pipeline in methods(len(np.unique(truth)), **settings).items():
        start = time.perf_counter()
        pipeline.fit(X)
        seconds = time.perf_counter() - start
        rows.append({"dataset": dataset, "method": name, "ari": adjusted_rand(truth, pipeline.labels_),
                     "nmi": nmi(truth, pipeline.labels_), "noise_share": pipeline.noise_share_,
                     "n_segments": pipeline.n_segments_, "seconds": seconds})
    return pd.DataFrame(rows)


def digits_frame() -> tuple[pd.DataFrame, np.ndarray]:
    """scikit-learn's digits (1,797 rows) as a plain 64-column feature table, and the true digit."""
    from sklearn.datasets import load_digits

    digits = load_digits(as_frame=True)
    return digits.data, digits.target.to_numpy()


def demo_frame(customers: int = 20_000, months: int = 12, seed: int = 7, window_days: int = 90):
    """Demo data (a temporary database) as the feature table of its last day, the true
    persona of each customer, and the pipeline settings a snapshot uses for it."""
    import tempfile
    from datetime import timedelta

    from segmentation import store
    from segmentation.demo import create_demo
    from segmentation.snapshot import SnapshotParams, clustering_frame, make_pipeline, snapshot_inputs

    db = Path(tempfile.mkdtemp()) / "quality.duckdb"
    with store.connect(db) as con:
        summary = create_demo(con, customers=customers, months=months, seed=seed)
    as_of = summary["end"] if not isinstance(summary["end"], str) else pd.Timestamp(summary["end"]).date()
    table, truth = snapshot_inputs(db, as_of, window_days)
    params = SnapshotParams(window_days=window_days)
    settings = make_pipeline(table, params).get_params()
    for step in ("encoder", "reducer", "clusterer", "map_reducer", "random_state"):
        settings.pop(step, None)
    frame = clustering_frame(table, params)
    return frame, truth.reindex(frame.index).fillna("(unknown)").to_numpy(), settings


def main(argv: list[str] | None = None) -> pd.DataFrame:
    """Print the digits and demo tables and save them as CSV; returns them."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=RESULTS / "quality.csv")
    parser.add_argument("--skip-digits", action="store_true")
    parser.add_argument("--skip-demo", action="store_true")
    args = parser.parse_args(argv)
    tables = []
    if not args.skip_demo:
        X, truth, settings = demo_frame()
        tables.append(compare("demo (20k, seed 7, last day)", X, truth, random_state=args.seed, **settings))
    if not args.skip_digits:
        X, truth = digits_frame()
        tables.append(compare("digits", X, truth, random_state=args.seed, **DIGITS_SETTINGS))
    table = pd.concat(tables, ignore_index=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(args.out, index=False)
    with pd.option_context("display.float_format", "{:.3f}".format, "display.width", 120):
        print(table.to_string(index=False))
    return table


if __name__ == "__main__":
    main()

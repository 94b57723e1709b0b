"""The engine's defaults (issue 17): one source, the product's configuration pinned, one spelling
for "skip this step".

``test_the_snapshot_fits_the_configuration_it_always_did`` pins what a default snapshot actually
fits: the values were recorded from the code before the defaults were gathered in
:mod:`segmentation.engine.defaults`, and must not move without a measurement behind the change.
"""

from __future__ import annotations

import inspect

import numpy as np
import pandas as pd
import pytest

from segmentation.engine import autoencoder as ae
from segmentation.engine import pipeline as pipeline_module
from segmentation.engine import step_factory
from segmentation.features.catalog import Feature
from segmentation.features.table import FeatureTable
from segmentation.workflows.snapshot import SnapshotParams, make_pipeline

KINDS = {"frequency": "count", "n_purchases": "count", "monetary": "money", "recency_days": "days",
         "share_app": "share", "night_share": "share"}
RELIABILITY = {"frequency": 0.9, "n_purchases": 0.8, "monetary": 0.7, "recency_days": 0.6, "share_app": 0.32,
               "night_share": 0.05}


def small_table(n: int = 40) -> FeatureTable:
    """A browsing-shop feature table (few purchases: spend and purchases are profile-only)."""
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({
        "frequency": rng.integers(1, 30, n).astype(float),
        "n_purchases": rng.integers(0, 3, n).astype(float),
        "monetary": rng.gamma(2.0, 20.0, n),
        "recency_days": rng.integers(0, 90, n).astype(float),
        "share_app": rng.uniform(0, 1, n),
        "night_share": rng.uniform(0, 1, n),
    }, index=[f"c{i}" for i in range(n)])
    return FeatureTable(frame=frame, catalog=[Feature(c, c, c, k) for c, k in KINDS.items()],
                        reliability=dict(RELIABILITY))


class _StopBeforeTraining(Exception):
    pass


def fitted_configuration(pipeline, X: pd.DataFrame, monkeypatch) -> dict:
    """Every step's parameters as ``pipeline.fit(X)`` builds them, down to the autoencoder's training
    arguments (defaults included); nothing is trained: the fit stops where training would start."""
    seen = {}

    def spy(*args, **kwargs):
        bound = inspect.signature(real).bind(*args, **kwargs)
        bound.apply_defaults()
        seen.update({k: v for k, v in bound.arguments.items() if k not in ("X", "callbacks")})
        raise _StopBeforeTraining

    real = ae.fit_autoencoder
    monkeypatch.setattr(ae, "fit_autoencoder", spy)
    with pytest.raises(_StopBeforeTraining):
        pipeline.fit(X)
    n_rows = len(pipeline.fit_sample_index_)
    umap_keys = ("n_components", "n_neighbors", "min_dist", "random_state", "n_jobs", "n_epochs", "metric")
    hdbscan_keys = ("min_cluster_size", "min_samples", "cluster_selection_epsilon", "cluster_selection_method",
                    "prediction_data", "core_dist_n_jobs", "metric", "alpha", "allow_single_cluster")
    reducer = step_factory.make_reducer(pipeline, n_rows).get_params()
    map_reducer = step_factory.make_map_reducer(pipeline, n_rows).get_params()
    clusterer = step_factory.make_clusterer(pipeline, n_rows).get_params()
    return {
        "pipeline": pipeline.get_params(),
        "preprocessor": pipeline.preprocessor_.get_params(),
        "encoder": pipeline.encoder_.get_params(),
        "training": seen,
        "reducer": {k: reducer[k] for k in umap_keys},
        "map_reducer": {k: map_reducer[k] for k in umap_keys},
        "clusterer": {k: clusterer[k] for k in hdbscan_keys},
    }


# Recorded from the code before issue 17 (commit ffc6327) with small_table() and SnapshotParams().
SNAPSHOT_CONFIGURATION = {
    "pipeline": {
        "cluster_dims": 8, "cluster_selection_epsilon": 0.0, "cluster_selection_method": "eom", "clusterer": None,
        "dropout": 0.0, "encoder": "autoencoder",
        "feature_weights": {"frequency": 1.0, "night_share": 0.3162, "recency_days": 1.0, "share_app": 0.8},
        "fit_sample_size": 50000, "hidden_dims": (128, 64), "input_dropout": 0.3, "latent_dim": 16,
        "log_columns": ["frequency", "recency_days"], "map_reducer": None, "mapping": None, "max_epochs": 40,
        "merge_alpha": None, "min_cluster_size": 0.02, "min_samples": None, "n_neighbors": 15, "noise_std": 0.2,
        "outlier_floor": None, "random_state": 0, "reducer": None, "refine_neighbors": 15, "scaler": "standard",
        "share_counts": None, "share_weight_power": 0.0, "twin_distance": 0.6,
    },
    "preprocessor": {"column_weights": {0: 1.0, 1: 1.0, 2: 0.8, 3: 0.3162}, "log_columns": [0, 1],
                     "random_state": 0, "scaler": "standard", "share_counts": None, "share_weight_power": 0.0},
    "encoder": {"batch_size": 256, "dropout": 0.0, "hidden_dims": (128, 64), "input_dropout": 0.3, "latent_dim": 16,
                "max_epochs": 40, "noise_std": 0.2, "patience": 8, "random_state": 0},
    "training": {"latent_dim": 16, "hidden_dims": (128, 64), "dropout": 0.0, "max_epochs": 40, "batch_size": 256,
                 "val_fraction": 0.1, "patience": 8, "random_state": 0, "progress_bar": False,
                 "max_train_rows": 200000, "input_dropout": 0.3, "noise_std": 0.2, "lr": 0.001,
                 "weight_decay": 1e-05},
    "reducer": {"n_components": 8, "n_neighbors": 15, "min_dist": 0.0, "random_state": 0, "n_jobs": 1,
                "n_epochs": 200, "metric": "euclidean"},
    "map_reducer": {"n_components": 2, "n_neighbors": 15, "min_dist": 0.1, "random_state": 0, "n_jobs": 1,
                    "n_epochs": 200, "metric": "euclidean"},
    "clusterer": {"min_cluster_size": 5, "min_samples": None, "cluster_selection_epsilon": 0.0,
                  "cluster_selection_method": "eom", "prediction_data": True, "core_dist_n_jobs": 1,
                  "metric": "euclidean", "alpha": 1.0, "allow_single_cluster": False},
}


def test_the_snapshot_fits_the_configuration_it_always_did(monkeypatch):
    from segmentation.workflows.snapshot import clustering_frame

    table, params = small_table(), SnapshotParams()
    found = fitted_configuration(make_pipeline(table, params), clustering_frame(table, params), monkeypatch)
    assert found == SNAPSHOT_CONFIGURATION


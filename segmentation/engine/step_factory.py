"""The segmentation pipeline's steps, made from its parameters before each fit. Each function takes
the :class:`~segmentation.engine.pipeline.SegmentationPipeline` whose parameters say which step to
build and returns an unfitted step: the default (the denoising autoencoder, UMAP for the cluster
space and for the 2-D map, HDBSCAN with prediction data), the do-nothing step for ``"passthrough"``,
``None`` for a dropped map, or a fresh ``clone`` of an object the caller passed in. Nothing is
fitted here."""

from __future__ import annotations

import hdbscan
from sklearn.base import clone

from segmentation.engine.steps import UMAP_EPOCHS, AutoEncoderTransformer, Identity, is_skip

__all__ = ["make_encoder", "make_umap", "make_reducer", "make_clusterer", "make_map_reducer"]


def make_encoder(pipeline):
    """The encoder: the autoencoder (``"autoencoder"``), :class:`Identity` (skip) or a clone of the given one."""
    if is_skip(pipeline.encoder):
        return Identity()
    if isinstance(pipeline.encoder, str):
        if pipeline.encoder != "autoencoder":
            raise ValueError(f"unknown encoder {pipeline.encoder!r}: use 'autoencoder', 'passthrough' or an object")
        return AutoEncoderTransformer(pipeline.latent_dim, pipeline.hidden_dims, pipeline.dropout,
                                      pipeline.max_epochs, random_state=pipeline.random_state,
                                      input_dropout=pipeline.input_dropout, noise_std=pipeline.noise_std)
    return clone(pipeline.encoder)


def make_umap(pipeline, n_components: int, min_dist: float, n_rows: int):
    """A UMAP of ``n_components`` with the pipeline's neighbours (fewer than ``n_rows``) and seed."""
    import umap  # heavy import (numba); only when the default is used

    from segmentation.engine.numba_cache import cache_umap_kernels
    cache_umap_kernels()  # compiled once per machine, not once per process

    # With a random_state UMAP runs single-threaded anyway; saying so avoids its warning.
    n_jobs = 1 if pipeline.random_state is not None else -1
    return umap.UMAP(n_components=n_components, n_neighbors=min(pipeline.n_neighbors, n_rows - 1),
                     min_dist=min_dist, random_state=pipeline.random_state, n_jobs=n_jobs, n_epochs=UMAP_EPOCHS)


def make_reducer(pipeline, n_rows: int):
    """The cluster-space reducer: UMAP to ``cluster_dims`` (None), :class:`Identity` or a clone."""
    if pipeline.reducer is None:
        return make_umap(pipeline, pipeline.cluster_dims, 0.0, n_rows)
    if isinstance(pipeline.reducer, str) and pipeline.reducer == "passthrough":
        return Identity()
    return clone(pipeline.reducer)


def make_clusterer(pipeline, n_rows: int):
    """The clusterer: HDBSCAN with the fitted ``min_cluster_size_`` (None) or a clone of the given one."""
    if pipeline.clusterer is None:
        return hdbscan.HDBSCAN(min_cluster_size=pipeline.min_cluster_size_, min_samples=pipeline.min_samples,
                               cluster_selection_epsilon=float(pipeline.cluster_selection_epsilon),
                               cluster_selection_method=pipeline.cluster_selection_method,
                               prediction_data=True, core_dist_n_jobs=1)
    return clone(pipeline.clusterer)


def make_map_reducer(pipeline, n_rows: int):
    """The 2-D map: None for ``"drop"``, UMAP on the cluster space (None) or a clone of the given one."""
    if isinstance(pipeline.map_reducer, str) and pipeline.map_reducer == "drop":
        return None
    if pipeline.map_reducer is None:
        return make_umap(pipeline, 2, 0.1, n_rows)
    return clone(pipeline.map_reducer)

"""The segmentation pipeline's steps, made from its parameters before each fit. Each function takes
the :class:`~segmentation.engine.pipeline.SegmentationPipeline` whose parameters say which step to
build and returns an unfitted step: the default for ``None`` (the denoising autoencoder, UMAP for the
cluster space and for the 2-D map, HDBSCAN with prediction data), the do-nothing step (or, for the
map, ``None``: no map) for ``"passthrough"``, or a fresh ``clone`` of an object the caller passed in.
Any other string is refused with the spellings that are understood. Nothing is fitted here."""

from __future__ import annotations

import hdbscan
import numpy as np
from sklearn.base import clone

from segmentation.engine.defaults import AUTOENCODER_PARAMS, SKIP
from segmentation.engine.inputs import resolve_min_cluster_size
from segmentation.engine.steps import UMAP_EPOCHS, AutoEncoderTransformer, Identity, is_skip

__all__ = ["make_encoder", "make_umap", "make_reducer", "make_clusterer", "make_map_reducer"]


# The spellings every step understands besides an object (the clusterer cannot be left out).
STEP_SPELLINGS = f"None (the default) or {SKIP!r} (leave the step out)"


def _unknown(name: str, value, understood: str = STEP_SPELLINGS) -> ValueError:
    return ValueError(f"unknown {name} {value!r}: use {understood}, or pass an object")


def make_encoder(pipeline):
    """The encoder: the autoencoder (None or ``"autoencoder"``), :class:`Identity` (skip) or a clone."""
    if is_skip(pipeline.encoder):
        return Identity()
    if pipeline.encoder is None or pipeline.encoder == "autoencoder":
        return AutoEncoderTransformer(**{name: getattr(pipeline, name) for name in AUTOENCODER_PARAMS},
                                      random_state=pipeline.random_state)
    if isinstance(pipeline.encoder, str):
        raise _unknown("encoder", pipeline.encoder, f"'autoencoder', {STEP_SPELLINGS}")
    return clone(pipeline.encoder)


def cluster_neighbours(pipeline, n_rows: int) -> int:
    """The cluster space's UMAP neighbours for ``n_rows`` fitted rows: ``n_neighbors``, or the
    ``neighbors_share`` of the rows when that is more (rounded up)."""
    share = getattr(pipeline, "neighbors_share", None)
    wanted = int(pipeline.n_neighbors)
    if share is not None:
        wanted = max(wanted, int(np.ceil(share * n_rows - 1e-9)))
    return wanted


def make_umap(pipeline, n_components: int, min_dist: float, n_rows: int, n_neighbors: int | None = None):
    """A UMAP of ``n_components`` with ``n_neighbors`` (default the pipeline's; fewer than ``n_rows``) and
    the pipeline's seed."""
    import umap  # heavy import (numba); only when the default is used

    from segmentation.engine.numba_cache import cache_umap_kernels
    cache_umap_kernels()  # compiled once per machine, not once per process

    # With a random_state UMAP runs single-threaded anyway; saying so avoids its warning.
    n_jobs = 1 if pipeline.random_state is not None else -1
    return umap.UMAP(n_components=n_components, n_neighbors=min(n_neighbors or pipeline.n_neighbors, n_rows - 1),
                     min_dist=min_dist, random_state=pipeline.random_state, n_jobs=n_jobs, n_epochs=UMAP_EPOCHS)


def make_reducer(pipeline, n_rows: int):
    """The cluster-space reducer: UMAP to ``cluster_dims`` (None), :class:`Identity` (skip) or a clone."""
    if pipeline.reducer is None:
        return make_umap(pipeline, pipeline.cluster_dims, 0.0, n_rows, cluster_neighbours(pipeline, n_rows))
    if is_skip(pipeline.reducer):
        return Identity()
    if isinstance(pipeline.reducer, str):
        raise _unknown("reducer", pipeline.reducer)
    return clone(pipeline.reducer)


def min_samples_rows(min_samples, n_rows: int) -> int | None:
    """HDBSCAN's ``min_samples`` in rows: None (HDBSCAN's own rule: ``min_cluster_size``), a share of
    the ``n_rows`` fitted when below 1, else a count (as ``min_cluster_size``)."""
    if min_samples is None:
        return None
    return resolve_min_cluster_size(min_samples, n_rows)


def make_clusterer(pipeline, n_rows: int):
    """The clusterer: HDBSCAN with the fitted ``min_cluster_size_`` (None) or a clone of the given one.

    The clusterer cannot be left out: the segments are its clusters.
    """
    if pipeline.clusterer is None:
        return hdbscan.HDBSCAN(min_cluster_size=pipeline.min_cluster_size_,
                               min_samples=min_samples_rows(pipeline.min_samples, n_rows),
                               cluster_selection_epsilon=float(pipeline.cluster_selection_epsilon),
                               cluster_selection_method=pipeline.cluster_selection_method,
                               prediction_data=True, core_dist_n_jobs=1)
    if isinstance(pipeline.clusterer, str):
        raise _unknown("clusterer", pipeline.clusterer, "None (HDBSCAN)")
    return clone(pipeline.clusterer)


def make_map_reducer(pipeline, n_rows: int):
    """The 2-D map: UMAP on the cluster space (None), no map (``"passthrough"``: returns None) or a clone."""
    if pipeline.map_reducer is None:
        return make_umap(pipeline, 2, 0.1, n_rows)
    if is_skip(pipeline.map_reducer):
        return None
    if isinstance(pipeline.map_reducer, str):
        if pipeline.map_reducer == "drop":
            raise ValueError(f"map_reducer='drop' is spelled {SKIP!r} now, as for every step that is left out")
        raise _unknown("map_reducer", pipeline.map_reducer)
    return clone(pipeline.map_reducer)

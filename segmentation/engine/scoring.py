"""Scoring rows with a fitted segmentation pipeline: latent vectors, cluster space, segments, map,
error. Every function takes a fitted :class:`~segmentation.engine.pipeline.SegmentationPipeline` and
preprocessed rows (or raw values for :func:`cluster_space`). Rows go through the out-of-sample
``mapping_`` (their nearest fit-sample rows in the latent space) when the pipeline has one, else
through the models' own transforms (:func:`predict_by_models`: HDBSCAN's approximate predict with
the outlier floor and merged twins, or the clusterer's ``predict``, and the map reducer's
``transform``), then through the fitted polish (:mod:`segmentation.engine.polish`) when it has one.
:func:`fit_mapping` fits that mapping on the fit sample. Models saved before the
mapping or the merged twins existed have none and are scored the older way."""

from __future__ import annotations

import hdbscan
import numpy as np
import pandas as pd
from sklearn.base import clone

from segmentation.constants import NOISE as _NOISE
from segmentation.engine.clustering import n_clusters, reduce_outliers, relabel
from segmentation.engine.mapping import SampleMapping, approximate_predict_in_chunks

__all__ = ["latent", "reconstructs", "reconstruction_error", "fit_mapping", "cluster_space", "predict_by_models",
           "polish_space", "polish_rows", "score_rows"]


def latent(pipeline, Z: np.ndarray) -> np.ndarray:
    """The encoder's output for preprocessed rows ``Z`` (float32): the autoencoder's latent vectors,
    beside the rows themselves when its ``input_weight`` is set; what UMAP and the mapping see."""
    return np.asarray(pipeline.encoder_.transform(Z), dtype=np.float32)


def polish_space(pipeline) -> str:
    """Where a fitted pipeline's polish is drawn, ``"features"`` or ``"latent"``: the space its fit chose
    (``polish_space_``: the size may have turned the polish on); older fits, the parameter (models saved
    before the option existed drew it in the features)."""
    return getattr(pipeline, "polish_space_", None) or getattr(pipeline, "polish_space", "features")


def polish_rows(pipeline, Z: np.ndarray, latent_rows: np.ndarray) -> np.ndarray:
    """The rows the polish's discriminant sees: the preprocessed ``Z`` or, drawn in the latent space,
    their ``latent_rows``."""
    return latent_rows if polish_space(pipeline) == "latent" else Z


def reconstructs(encoder) -> bool:
    """Can a fitted ``encoder`` measure how well it reproduces a row (its reconstruction error)?

    Yes with a ``reconstruction_error`` (the autoencoder) or an ``inverse_transform`` (e.g.
    PCA); no for ``Identity`` ("passthrough") and other plain transformers, whose error
    :func:`reconstruction_error` reports as 0 for every row (segmentation.dynamics.drift notes it).
    """
    return hasattr(encoder, "reconstruction_error") or hasattr(encoder, "inverse_transform")


def reconstruction_error(encoder, Z: np.ndarray) -> np.ndarray:
    """Per-row mean squared reconstruction error of ``Z`` by a fitted ``encoder`` (float32).

    The autoencoder's own, PCA-like ``inverse_transform``'s, or zeros for an encoder that
    does not :func:`reconstructs`.
    """
    if not reconstructs(encoder):
        return np.zeros(len(Z), dtype=np.float32)
    if hasattr(encoder, "reconstruction_error"):
        return np.asarray(encoder.reconstruction_error(Z), dtype=np.float32)
    back = encoder.inverse_transform(encoder.transform(Z))  # e.g. PCA
    return np.mean((np.asarray(back) - Z) ** 2, axis=1).astype(np.float32)


def fit_mapping(mapping, random_state, latent_rows, cluster_rows, sample_map, labels, probabilities):
    """The out-of-sample mapping, fitted on the sample's latent vectors and fitted results.

    ``mapping`` is the pipeline's parameter: None (a :class:`SampleMapping`), a
    SampleMapping-like object (cloned) or ``"transform"`` (returns None: the models'
    own transforms are used).
    """
    if isinstance(mapping, str):
        if mapping != "transform":
            raise ValueError(f"unknown mapping {mapping!r}: use None (nearest neighbours), "
                             "'transform' or a SampleMapping-like object")
        return None
    mapping = SampleMapping(random_state=random_state) if mapping is None else clone(mapping)
    return mapping.fit(latent_rows, cluster_rows, sample_map, labels, probabilities)


def cluster_space(pipeline, values: np.ndarray) -> np.ndarray:
    """Cluster-space coordinates of raw (checked) feature ``values``."""
    rows = latent(pipeline, pipeline.preprocessor_.transform(values))
    mapping = getattr(pipeline, "mapping_", None)  # models saved before the mapping existed have none
    if mapping is not None:
        return mapping.transform(rows)
    return np.asarray(pipeline.reducer_.transform(rows), dtype=np.float32)


def predict_by_models(pipeline, space: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Segments, probabilities and map of cluster-space rows with the fitted models themselves."""
    if isinstance(pipeline.clusterer_, hdbscan.HDBSCAN):
        labels, probs = approximate_predict_in_chunks(pipeline.clusterer_, space)
        if pipeline.outlier_floor is not None and (labels == _NOISE).any() and n_clusters(pipeline.clusterer_) > 0:
            noise = labels == _NOISE
            soft = hdbscan.membership_vector(pipeline.clusterer_, space[noise])
            labels[noise], probs[noise] = reduce_outliers(labels[noise], probs[noise], soft, pipeline.outlier_floor)
        label_map = getattr(pipeline, "label_map_", None)  # models saved before twins were merged have none
        if label_map is not None:
            labels = relabel(labels, label_map)
    else:
        labels = np.asarray(pipeline.clusterer_.predict(space), dtype=np.int64)
        probs = np.ones(len(space), dtype=np.float32)
    xy = (np.full((len(space), 2), np.nan, dtype=np.float32) if pipeline.map_reducer_ is None
          else np.asarray(pipeline.map_reducer_.transform(space), dtype=np.float32))
    return labels, probs, xy


def score_rows(pipeline, Z: np.ndarray, with_error: bool = False, spaces: list | None = None) -> pd.DataFrame:
    """Segment, probability, map position (and reconstruction error) of preprocessed rows ``Z``;
    their cluster-space coordinates are appended to ``spaces`` when it is given."""
    rows = latent(pipeline, Z)
    mapping = getattr(pipeline, "mapping_", None)  # models saved before the mapping existed have none
    if mapping is not None:
        scored = mapping.predict(rows)
        space, labels, probs, xy = scored.cluster_space, scored.labels, scored.probabilities, scored.map_embedding
    else:
        space = np.asarray(pipeline.reducer_.transform(rows), dtype=np.float32)
        labels, probs, xy = predict_by_models(pipeline, space)
    if spaces is not None:
        spaces.append(space)
    polish = getattr(pipeline, "polish_", None)  # models saved before the polish existed have none
    if polish is not None:
        labels, probs = polish.apply(polish_rows(pipeline, Z, rows), labels, probs)
    fold_map = getattr(pipeline, "fold_map_", None)  # segments folded into others after the fit
    if fold_map is not None:
        labels = relabel(np.asarray(labels, dtype=np.int64), fold_map)
    frame = pd.DataFrame({"segment_id": labels, "probability": probs, "x": xy[:, 0], "y": xy[:, 1]})
    if with_error:
        frame["reconstruction_error"] = reconstruction_error(pipeline.encoder_, Z)
    return frame

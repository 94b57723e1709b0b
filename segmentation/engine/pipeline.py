"""The segmentation estimator: preprocessing → encoder → reducer → clusterer (+ a 2-D map).

:class:`SegmentationPipeline` follows scikit-learn's estimator contract
(``__init__`` only stores parameters, validation happens in :meth:`~SegmentationPipeline.fit`,
learned state ends in ``_``) and, like BERTopic, is composed of swappable
steps passed in:

* ``encoder``: ``"autoencoder"`` (default, :mod:`segmentation.engine.autoencoder`), any
  transformer with ``fit``/``transform`` (e.g. ``PCA``), or ``"passthrough"``/``None``.
* ``reducer``: the cluster space; default UMAP (``cluster_dims`` components,
  ``min_dist=0``), any transformer, or ``"passthrough"``.
* ``clusterer``: default ``hdbscan.HDBSCAN(prediction_data=True)`` with a
  ``min_cluster_size`` relative to the fit sample; any clusterer with
  ``predict`` (e.g. ``KMeans``) also works.
* ``map_reducer``: the 2-D map; default UMAP on the cluster space, or ``"drop"``.
* ``mapping``: how rows outside the fit sample are placed and assigned; default
  :class:`~segmentation.engine.mapping.SampleMapping` (their nearest fit-sample rows in
  the latent space give the cluster-space and map coordinates and the segment),
  or ``"transform"`` (``reducer.transform``, ``hdbscan.approximate_predict`` /
  ``clusterer.predict`` and ``map_reducer.transform``: exact to the models, but
  UMAP's transform and HDBSCAN's ``2 × min_samples``-neighbour queries score
  under 2,000 customers a second).

Fit on a sample, assign everyone: the steps are fitted on at most ``fit_sample_size``
rows; all other rows (and everyone ``assign`` scores later) go through ``mapping``.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Callable, Iterable

import hdbscan
import joblib
import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, clone
from sklearn.utils.validation import check_is_fitted

from segmentation.constants import NOISE as _NOISE
from segmentation.engine import autoencoder as ae
from segmentation.errors import InputError
from segmentation.engine.granularity import choose_granularity
from segmentation.engine.resemblance import TWIN
from segmentation.engine.mapping import SampleMapping, approximate_predict_in_chunks, neighbour_vote
from segmentation.engine.steps import UMAP_EPOCHS, AutoEncoderTransformer, FeaturePreprocessor, Identity, is_skip, fit_transform_umap

__all__ = [
    "SegmentationPipeline",
    "FeaturePreprocessor",
    "AutoEncoderTransformer",
    "PipelineInputError",
    "resolve_min_cluster_size",
]

_FORMAT_VERSION = 1
# Parameters added after models were first saved, with the value the versions before them used:
# a loaded model that lacks one gets that value (what it was fitted with), not today's default.
_BEFORE_ADDED = {"input_dropout": 0.1, "noise_std": 0.05, "refine_neighbors": None, "share_counts": None,
                 "feature_weights": None, "cluster_selection_method": "eom", "merge_alpha": None,
                 "twin_distance": None}


class PipelineInputError(InputError, ValueError):
    """Input the pipeline cannot segment (too few rows, no usable feature, NaN/inf).

    Both an :class:`~segmentation.errors.InputError` (user-facing one-line
    message) and a ``ValueError`` (scikit-learn's convention for bad input).
    """


def resolve_min_cluster_size(min_cluster_size: float, n_rows: int) -> int:
    """Smallest segment in rows: a fraction of ``n_rows`` when < 1, else a count; at least 5."""
    if min_cluster_size <= 0:
        raise PipelineInputError(f"min_cluster_size must be > 0, got {min_cluster_size}")
    size = math.ceil(min_cluster_size * n_rows) if min_cluster_size < 1 else int(min_cluster_size)
    return max(5, size)


class SegmentationPipeline(BaseEstimator):
    """Preprocess → encode → reduce → cluster customers, plus a 2-D map.

    Parameters (all stored as given; see the module docstring for the steps):
    ``min_cluster_size`` is a fraction of the fit sample when < 1 (``0.01`` =
    1 %) or a row count; ``outlier_floor`` (None = off) moves a noise row into
    the segment of its highest soft membership when that membership is at
    least the floor (like BERTopic's ``reduce_outliers``); ``refine_neighbors``
    (None or 0 = off; applied before the outlier floor) moves each segmented
    customer of the fit sample to the segment most of its ``refine_neighbors``
    nearest customers in the preprocessed feature space hold (itself
    included; a tie keeps its own, noise stays noise): the cluster space
    tears a few border customers away from the customers they resemble, and
    the vote puts them back (its probability is then the vote share); ``scaler`` is passed
    to :class:`FeaturePreprocessor`, with ``share_counts`` (share column → the count
    column it is a share of: empirical-Bayes smoothing), ``share_weight_power`` and
    ``feature_weights`` (column → weight multiplying the scaled column, e.g. from its
    split-half reliability, :func:`segmentation.features.signal.reliability_weights`).
    ``min_samples`` (None = ``min_cluster_size``) and ``cluster_selection_method``
    (``"eom"``) are HDBSCAN's;
    ``merge_alpha`` (None = off) merges neighbouring segments whose union is one mode
    (:mod:`segmentation.engine.granularity`). The autoencoder's training input is corrupted
    (denoising) by zeroing features with probability ``input_dropout`` and adding
    Gaussian noise of standard deviation ``noise_std``; ``dropout`` acts between its layers.

    Learned: ``preprocessor_``, ``encoder_``, ``reducer_``, ``clusterer_``,
    ``map_reducer_``, ``mapping_`` (None with ``mapping="transform"``),
    ``labels_`` (−1 = noise), ``probabilities_`` (membership
    strength of the assigned segment, 0–1), ``map_embedding_`` (n x 2),
    ``reconstruction_error_``, ``n_segments_``, ``noise_share_`` (0–1),
    ``feature_names_in_``, ``n_features_in_``, ``fit_sample_index_`` (row
    positions of the fit sample), ``min_cluster_size_`` (rows),
    ``refined_share_`` (0–1: fit-sample rows the neighbour vote moved), ``raw_labels_``
    (the fit sample's clusters before any post-processing), ``label_map_`` and
    ``granularity_`` (why this many segments: see :func:`~segmentation.engine.granularity.choose_granularity`).
    """

    def __init__(self, encoder="autoencoder", reducer=None, clusterer=None, map_reducer=None, mapping=None, *,
                 latent_dim=16, hidden_dims=(128, 64), dropout=0.0, input_dropout=0.3, noise_std=0.2,
                 max_epochs=100, cluster_dims=8,
                 n_neighbors=15, min_cluster_size=0.01, min_samples=None,
                 cluster_selection_epsilon=0.0, cluster_selection_method="eom", merge_alpha=None,
                 twin_distance=TWIN, scaler="standard",
                 log_columns=None, share_counts=None, share_weight_power=0.0, feature_weights=None,
                 fit_sample_size=50_000, outlier_floor=None, refine_neighbors=15,
                 random_state=0):
        self.encoder = encoder
        self.reducer = reducer
        self.clusterer = clusterer
        self.map_reducer = map_reducer
        self.mapping = mapping
        self.latent_dim = latent_dim
        self.hidden_dims = hidden_dims
        self.dropout = dropout
        self.input_dropout = input_dropout
        self.noise_std = noise_std
        self.max_epochs = max_epochs
        self.cluster_dims = cluster_dims
        self.n_neighbors = n_neighbors
        self.min_cluster_size = min_cluster_size
        self.min_samples = min_samples
        self.cluster_selection_epsilon = cluster_selection_epsilon
        self.cluster_selection_method = cluster_selection_method
        self.merge_alpha = merge_alpha
        self.twin_distance = twin_distance
        self.scaler = scaler
        self.log_columns = log_columns
        self.share_counts = share_counts
        self.share_weight_power = share_weight_power
        self.feature_weights = feature_weights
        self.fit_sample_size = fit_sample_size
        self.outlier_floor = outlier_floor
        self.refine_neighbors = refine_neighbors
        self.random_state = random_state

    # ---------------------------------------------------------------- input
    def check_input(self, X, *, fitting: bool) -> tuple[np.ndarray, pd.Index | None]:
        index = None
        if isinstance(X, pd.DataFrame):
            index = X.index
            if fitting:
                names = [str(c) for c in X.columns]
            else:
                names = list(getattr(self, "feature_names_in_", []))
                missing = [c for c in names if c not in set(map(str, X.columns))]
                if missing:
                    raise PipelineInputError(f"feature column(s) missing for scoring: {', '.join(missing)}")
                X = X.rename(columns=str)[names]
            bad = [c for c in X.columns if not (pd.api.types.is_numeric_dtype(X[c]) or pd.api.types.is_bool_dtype(X[c]))]
            if bad:
                raise PipelineInputError(f"feature column {bad[0]!r} is not numeric (dtype {X[bad[0]].dtype})")
            values = X.to_numpy(dtype=np.float64, na_value=np.nan)
        else:
            values = np.asarray(X, dtype=np.float64)
            names = [f"x{i}" for i in range(values.shape[1])] if values.ndim == 2 else []
        if values.ndim != 2:
            raise PipelineInputError(f"expected a table (rows x features), got an array of shape {values.shape}")
        if fitting:
            self.feature_names_in_ = np.asarray(names, dtype=object)
            self.n_features_in_ = values.shape[1]
        elif values.shape[1] != self.n_features_in_:
            raise PipelineInputError(f"expected {self.n_features_in_} feature columns, got {values.shape[1]}")
        finite = np.isfinite(values)
        if not finite.all():
            row, col = map(int, np.argwhere(~finite)[0])
            label = index[row] if index is not None else row
            raise PipelineInputError(
                f"feature {self.feature_names_in_[col]!r} has a missing or infinite value "
                f"({values[row, col]}) at row {label!r}; fill or drop it before segmenting")
        return values, index

    # ---------------------------------------------------------------- steps
    def _make_encoder(self):
        if is_skip(self.encoder):
            return Identity()
        if isinstance(self.encoder, str):
            if self.encoder != "autoencoder":
                raise ValueError(f"unknown encoder {self.encoder!r}: use 'autoencoder', 'passthrough' or an object")
            return AutoEncoderTransformer(self.latent_dim, self.hidden_dims, self.dropout, self.max_epochs,
                                          random_state=self.random_state, input_dropout=self.input_dropout,
                                          noise_std=self.noise_std)
        return clone(self.encoder)

    def _umap(self, n_components: int, min_dist: float, n_rows: int):
        import umap  # heavy import (numba); only when the default is used

        from segmentation.engine.numba_cache import cache_umap_kernels
        cache_umap_kernels()  # compiled once per machine, not once per process

        # With a random_state UMAP runs single-threaded anyway; saying so avoids its warning.
        n_jobs = 1 if self.random_state is not None else -1
        return umap.UMAP(n_components=n_components, n_neighbors=min(self.n_neighbors, n_rows - 1),
                         min_dist=min_dist, random_state=self.random_state, n_jobs=n_jobs, n_epochs=UMAP_EPOCHS)

    def _make_reducer(self, n_rows: int):
        if self.reducer is None:
            return self._umap(self.cluster_dims, 0.0, n_rows)
        if isinstance(self.reducer, str) and self.reducer == "passthrough":
            return Identity()
        return clone(self.reducer)

    def _make_clusterer(self, n_rows: int):
        if self.clusterer is None:
            return hdbscan.HDBSCAN(min_cluster_size=self.min_cluster_size_, min_samples=self.min_samples,
                                   cluster_selection_epsilon=float(self.cluster_selection_epsilon),
                                   cluster_selection_method=self.cluster_selection_method,
                                   prediction_data=True, core_dist_n_jobs=1)
        return clone(self.clusterer)

    def _make_map_reducer(self, n_rows: int):
        if isinstance(self.map_reducer, str) and self.map_reducer == "drop":
            return None
        if self.map_reducer is None:
            return self._umap(2, 0.1, n_rows)
        return clone(self.map_reducer)

    # ---------------------------------------------------------------- fit
    def fit(self, X, y=None, *, callbacks: Iterable = (), progress_bar: bool = False,
            on_step: Callable[[str], None] | None = None) -> "SegmentationPipeline":
        """Fit every step on (a sample of) ``X`` and assign all rows; returns ``self``.

        ``X``: DataFrame or array, one row per customer, numeric features.
        ``callbacks``/``progress_bar`` go to the autoencoder's Lightning
        Trainer; ``on_step(name)`` is called as each stage starts (training,
        embedding, clustering, mapping, assigning).
        """
        step = on_step or (lambda name: None)
        values, _ = self.check_input(X, fitting=True)
        n_rows = len(values)
        rng = np.random.default_rng(self.random_state)
        if self.fit_sample_size is not None and n_rows > self.fit_sample_size:
            sample = np.sort(rng.choice(n_rows, size=int(self.fit_sample_size), replace=False))
        else:
            sample = np.arange(n_rows)
        self.fit_sample_index_ = sample
        self.min_cluster_size_ = resolve_min_cluster_size(self.min_cluster_size, len(sample))
        needed = max(20, 2 * self.min_cluster_size_)
        if len(sample) < needed:
            raise PipelineInputError(
                f"{n_rows} customers are too few to segment: need at least {needed} "
                f"(two segments of min_cluster_size={self.min_cluster_size_})")

        names = list(self.feature_names_in_)

        def index_of(option: str, columns) -> list[int]:
            unknown = [c for c in columns if str(c) not in names]
            if unknown:
                raise PipelineInputError(f"{option} names unknown feature(s): {', '.join(map(str, unknown))}")
            return [names.index(str(c)) for c in columns]

        log_idx = None if self.log_columns is None else index_of("log_columns", self.log_columns)
        share_idx = None
        if self.share_counts:
            shares, counts = zip(*self.share_counts.items())
            share_idx = dict(zip(index_of("share_counts", shares), index_of("share_counts", counts)))
        weight_idx = ({names.index(str(c)): float(w) for c, w in self.feature_weights.items() if str(c) in names}
                      if self.feature_weights else None)
        self.preprocessor_ = FeaturePreprocessor(log_idx, self.scaler, self.random_state, share_counts=share_idx,
                                                 share_weight_power=self.share_weight_power,
                                                 column_weights=weight_idx).fit(values[sample])
        if len(self.preprocessor_.keep_) == 0:
            raise PipelineInputError(
                f"no features left: all {values.shape[1]} feature columns are constant in the data")
        Z = self.preprocessor_.transform(values)  # every row, once: the rest are scored from it below
        Z_sample = Z[sample]

        step("training")
        self.encoder_ = self._make_encoder()
        if isinstance(self.encoder_, AutoEncoderTransformer):
            self.encoder_.fit(Z_sample, callbacks=callbacks, progress_bar=progress_bar)
        else:
            self.encoder_.fit(Z_sample)
        latent = self._latent(Z_sample)

        step("embedding")
        self.reducer_ = self._make_reducer(len(sample))
        cluster_space = fit_transform_umap(self.reducer_, latent, self.mapping)

        step("clustering")
        self.clusterer_ = self._make_clusterer(len(sample)).fit(cluster_space)
        sample_labels = np.asarray(self.clusterer_.labels_, dtype=np.int64)
        is_hdbscan = isinstance(self.clusterer_, hdbscan.HDBSCAN)
        sample_probs = (np.asarray(self.clusterer_.probabilities_, dtype=np.float32) if is_hdbscan
                        else np.ones(len(sample), dtype=np.float32))
        self.raw_labels_ = sample_labels.copy()
        if is_hdbscan and self.outlier_floor is not None and sample_labels.max() >= 0:
            soft = hdbscan.all_points_membership_vectors(self.clusterer_)
            sample_labels, sample_probs = self._reduce_outliers(sample_labels, sample_probs, soft)
        sample_labels, self.label_map_, self.granularity_ = choose_granularity(
            Z_sample, sample_labels, self.merge_alpha, self.n_clusters_, self.random_state, self.twin_distance)
        self.refined_share_ = 0.0
        if self.refine_neighbors:
            refined, share = neighbour_vote(Z_sample, sample_labels, self.refine_neighbors, self.random_state)
            moved = refined != sample_labels
            sample_labels, sample_probs = refined, np.where(moved, share, sample_probs).astype(np.float32)
            self.refined_share_ = float(moved.mean())

        step("mapping")
        self.map_reducer_ = self._make_map_reducer(len(sample))
        sample_map = (np.full((len(sample), 2), np.nan, dtype=np.float32) if self.map_reducer_ is None
                      else fit_transform_umap(self.map_reducer_, cluster_space, self.mapping))
        self.mapping_ = self._fit_mapping(latent, cluster_space, sample_map, sample_labels, sample_probs)

        step("assigning")
        labels = np.empty(n_rows, dtype=np.int64)
        probs = np.empty(n_rows, dtype=np.float32)
        xy = np.empty((n_rows, 2), dtype=np.float32)
        labels[sample], probs[sample], xy[sample] = sample_labels, sample_probs, sample_map
        rest = np.setdiff1d(np.arange(n_rows), sample, assume_unique=True)
        if len(rest):
            scored = self._score(Z[rest])
            labels[rest], probs[rest], xy[rest] = scored["segment_id"], scored["probability"], scored[["x", "y"]]
        self.labels_, self.probabilities_, self.map_embedding_ = labels, probs, xy
        self.reconstruction_error_ = self._reconstruction_error(Z)
        self.n_segments_ = int(len(np.unique(labels[labels >= 0])))
        self.noise_share_ = float(np.mean(labels == _NOISE))
        return self

    def _reduce_outliers(self, labels, probs, soft):
        soft = np.asarray(soft).reshape(len(labels), -1)
        best = soft.argmax(axis=1)
        best_p = soft[np.arange(len(labels)), best]
        move = (labels == _NOISE) & (best_p >= self.outlier_floor)
        labels, probs = labels.copy(), probs.copy()
        labels[move], probs[move] = best[move], best_p[move]
        return labels, probs

    def _reconstruction_error(self, Z: np.ndarray) -> np.ndarray:
        if hasattr(self.encoder_, "reconstruction_error"):
            return np.asarray(self.encoder_.reconstruction_error(Z), dtype=np.float32)
        if hasattr(self.encoder_, "inverse_transform"):  # e.g. PCA
            back = self.encoder_.inverse_transform(self.encoder_.transform(Z))
            return np.mean((np.asarray(back) - Z) ** 2, axis=1).astype(np.float32)
        return np.zeros(len(Z), dtype=np.float32)  # no reconstruction (pipeline_steps.reconstructs): see drift.py

    # ---------------------------------------------------------------- scoring
    def _fit_mapping(self, latent, cluster_space, sample_map, labels, probabilities):
        """The out-of-sample mapping, fitted on the sample's latent vectors and fitted results
        (None for ``mapping="transform"``: the models' own transforms are used)."""
        if isinstance(self.mapping, str):
            if self.mapping != "transform":
                raise ValueError(f"unknown mapping {self.mapping!r}: use None (nearest neighbours), "
                                 "'transform' or a SampleMapping-like object")
            return None
        mapping = SampleMapping(random_state=self.random_state) if self.mapping is None else clone(self.mapping)
        return mapping.fit(latent, cluster_space, sample_map, labels, probabilities)

    def _latent(self, Z: np.ndarray) -> np.ndarray:
        return np.asarray(self.encoder_.transform(Z), dtype=np.float32)

    def _cluster_space(self, values: np.ndarray) -> np.ndarray:
        latent = self._latent(self.preprocessor_.transform(values))
        mapping = getattr(self, "mapping_", None)  # models saved before the mapping existed have none
        if mapping is not None:
            return mapping.transform(latent)
        return np.asarray(self.reducer_.transform(latent), dtype=np.float32)

    def _predict_by_models(self, space: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Segments, probabilities and map of cluster-space rows with the fitted models themselves."""
        if isinstance(self.clusterer_, hdbscan.HDBSCAN):
            labels, probs = approximate_predict_in_chunks(self.clusterer_, space)
            if self.outlier_floor is not None and (labels == _NOISE).any() and self.n_clusters_ > 0:
                noise = labels == _NOISE
                soft = hdbscan.membership_vector(self.clusterer_, space[noise])
                labels[noise], probs[noise] = self._reduce_outliers(labels[noise], probs[noise], soft)
            label_map = getattr(self, "label_map_", None)  # models saved before twins were merged have none
            if label_map is not None:
                labels = np.where(labels >= 0, label_map[np.maximum(labels, 0)], _NOISE)
        else:
            labels = np.asarray(self.clusterer_.predict(space), dtype=np.int64)
            probs = np.ones(len(space), dtype=np.float32)
        xy = (np.full((len(space), 2), np.nan, dtype=np.float32) if self.map_reducer_ is None
              else np.asarray(self.map_reducer_.transform(space), dtype=np.float32))
        return labels, probs, xy

    def _score(self, Z: np.ndarray, with_error: bool = False) -> pd.DataFrame:
        """Segment, probability, map position (and reconstruction error) of preprocessed rows ``Z``."""
        latent = self._latent(Z)
        mapping = getattr(self, "mapping_", None)  # models saved before the mapping existed have none
        if mapping is not None:
            rows = mapping.predict(latent)
            labels, probs, xy = rows.labels, rows.probabilities, rows.map_embedding
        else:
            space = np.asarray(self.reducer_.transform(latent), dtype=np.float32)
            labels, probs, xy = self._predict_by_models(space)
        frame = pd.DataFrame({"segment_id": labels, "probability": probs, "x": xy[:, 0], "y": xy[:, 1]})
        if with_error:
            frame["reconstruction_error"] = self._reconstruction_error(Z)
        return frame

    @property
    def n_clusters_(self) -> int:
        """Number of clusters the clusterer found on the fit sample."""
        return int(np.max(self.clusterer_.labels_, initial=-1) + 1)

    def assign(self, X, batch_size: int = 50_000) -> pd.DataFrame:
        """Score customers with the fitted models, ``batch_size`` rows at a time.

        Returns columns ``segment_id`` (−1 = noise), ``probability`` (0–1),
        ``x``, ``y`` (map) and ``reconstruction_error``; the index is ``X``'s
        index for a DataFrame, else 0..n-1.
        """
        check_is_fitted(self, "clusterer_")
        values, index = self.check_input(X, fitting=False)
        parts = [self._score(self.preprocessor_.transform(values[s:s + batch_size]), with_error=True)
                 for s in range(0, len(values), batch_size)]
        frame = (pd.concat(parts, ignore_index=True) if parts else
                 pd.DataFrame(columns=["segment_id", "probability", "x", "y", "reconstruction_error"]))
        if index is not None:
            frame.index = index
        return frame

    def predict(self, X) -> np.ndarray:
        """Segment id per row (−1 = noise)."""
        return self.assign(X)["segment_id"].to_numpy()

    def transform(self, X, batch_size: int = 50_000) -> np.ndarray:
        """Cluster-space embedding (rows x cluster dims, float32)."""
        check_is_fitted(self, "clusterer_")
        values, _ = self.check_input(X, fitting=False)
        parts = [self._cluster_space(values[s:s + batch_size]) for s in range(0, len(values), batch_size)]
        return np.concatenate(parts) if parts else np.empty((0, self.cluster_dims), dtype=np.float32)

    # ---------------------------------------------------------------- persistence
    _PER_ROW = ("labels_", "probabilities_", "map_embedding_", "reconstruction_error_", "fit_sample_index_",
                "raw_labels_")

    def save(self, path: str | Path) -> Path:
        """Write the fitted models to directory ``path`` (created) and return it.

        ``pipeline.joblib`` holds the scikit-learn/UMAP/HDBSCAN steps (UMAP
        and HDBSCAN keep the sample embedding they need for ``transform`` /
        ``approximate_predict``) and the out-of-sample ``mapping_`` (the
        sample's latent vectors and fitted results); ``autoencoder.pt`` the
        autoencoder's ``state_dict`` and hyper-parameters; ``manifest.json`` a description.
        Per-row results (``labels_``, ...) are not saved: the run stores them.
        Load only directories you wrote (joblib files are pickles).
        """
        check_is_fitted(self, "clusterer_")
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        state = {k: v for k, v in self.__dict__.items() if k not in self._PER_ROW}
        model = None
        if isinstance(self.encoder_, AutoEncoderTransformer):
            model = self.encoder_.model_
            shell = clone(self.encoder_)
            state["encoder_"] = shell  # the weights go to autoencoder.pt
            ae.save_autoencoder(model, path / "autoencoder.pt")
        joblib.dump(state, path / "pipeline.joblib")
        manifest = {"format_version": _FORMAT_VERSION, "class": type(self).__name__,
                    "feature_names": list(map(str, self.feature_names_in_)), "n_segments": self.n_segments_,
                    "noise_share": self.noise_share_, "autoencoder": model is not None,
                    "params": {k: repr(v) for k, v in self.get_params(deep=False).items()}}
        (path / "manifest.json").write_text(json.dumps(manifest, indent=2))
        return path

    @classmethod
    def load(cls, path: str | Path) -> "SegmentationPipeline":
        """Rebuild a pipeline written by :meth:`save` (ready for ``assign``/``predict``/``transform``)."""
        path = Path(path)
        if not (path / "pipeline.joblib").is_file():
            raise InputError(f"no saved segmentation model in {path}")
        manifest = json.loads((path / "manifest.json").read_text())
        if manifest.get("format_version") != _FORMAT_VERSION:
            raise InputError(f"model in {path} has format {manifest.get('format_version')}, "
                             f"this version reads {_FORMAT_VERSION}")
        state = joblib.load(path / "pipeline.joblib")
        pipeline = cls.__new__(cls)
        pipeline.__dict__.update(state)
        # A parameter added since the model was saved takes the value it was fitted with.
        for step, fresh in ((pipeline, cls()), (pipeline.encoder_, AutoEncoderTransformer())):
            if type(step) is type(fresh):
                for name, default in fresh.get_params(deep=False).items():
                    step.__dict__.setdefault(name, _BEFORE_ADDED.get(name, default))
        if manifest["autoencoder"]:
            pipeline.encoder_.model_ = ae.load_autoencoder(path / "autoencoder.pt")
        return pipeline

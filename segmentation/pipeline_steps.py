"""The pipeline's own steps: feature preprocessing, the autoencoder as a scikit-learn
transformer, and the do-nothing step ("passthrough").

:class:`~segmentation.pipeline.SegmentationPipeline` composes them with the
reducer, clusterer and map; they are importable from :mod:`segmentation.pipeline` too.
"""

from __future__ import annotations

from typing import Iterable, Sequence

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin, clone
from sklearn.preprocessing import QuantileTransformer, StandardScaler
from sklearn.utils.validation import check_is_fitted

from . import autoencoder as ae

__all__ = ["FeaturePreprocessor", "AutoEncoderTransformer"]


def _signed_log1p(values: np.ndarray) -> np.ndarray:
    # Symmetric so refunds (negative money) stay finite and ordered.
    return np.sign(values) * np.log1p(np.abs(values))


class FeaturePreprocessor(TransformerMixin, BaseEstimator):
    """log1p for count/money columns, drop constant columns, then scale.

    ``scaler``: ``"standard"`` (per column), ``"quantile"`` (to a normal
    distribution; robust to heavy tails), ``"global"`` (centre per column, one
    common scale: for tables whose columns share a unit, e.g. pixels), or a
    transformer object. Output is float32.
    """

    def __init__(self, log_columns: Sequence[int] | None = None, scaler="standard", random_state=0):
        self.log_columns = log_columns
        self.scaler = scaler
        self.random_state = random_state

    def _logged(self, X: np.ndarray) -> np.ndarray:
        X = np.array(X, dtype=np.float64, copy=True)
        if self.log_columns:
            cols = list(self.log_columns)
            X[:, cols] = _signed_log1p(X[:, cols])
        return X

    def fit(self, X: np.ndarray, y=None) -> "FeaturePreprocessor":
        """Learn which columns are constant and the scaling, from ``X`` (rows x features)."""
        X = self._logged(X)
        self.keep_ = np.flatnonzero(np.ptp(X, axis=0) > 0)
        X = X[:, self.keep_]
        if self.scaler == "standard":
            scaler = StandardScaler()
        elif self.scaler == "quantile":
            scaler = QuantileTransformer(output_distribution="normal", n_quantiles=min(1000, len(X)),
                                         subsample=100_000, random_state=self.random_state)
        elif self.scaler == "global":
            scaler = StandardScaler(with_std=False)
        else:
            scaler = clone(self.scaler)
        self.scaler_ = scaler.fit(X) if X.shape[1] else None
        self.global_scale_ = 1.0
        if self.scaler == "global" and X.shape[1]:
            self.global_scale_ = float(np.std(self.scaler_.transform(X))) or 1.0
        return self

    def transform(self, X: np.ndarray) -> np.ndarray:
        """Scaled kept columns of ``X`` as float32 (rows x kept features)."""
        check_is_fitted(self, "keep_")
        X = self._logged(X)[:, self.keep_]
        if self.scaler_ is not None:
            X = self.scaler_.transform(X) / self.global_scale_
        return np.asarray(X, dtype=np.float32)


class AutoEncoderTransformer(TransformerMixin, BaseEstimator):
    """scikit-learn wrapper around :func:`segmentation.autoencoder.fit_autoencoder`.

    ``transform`` gives latent vectors; ``reconstruction_error`` per-row MSE.
    ``input_dropout`` and ``noise_std`` set how the training input is corrupted (denoising).
    """

    def __init__(self, latent_dim=16, hidden_dims=(128, 64), dropout=0.0, max_epochs=100, batch_size=256,
                 patience=8, random_state=0, input_dropout=0.3, noise_std=0.2):
        self.latent_dim = latent_dim
        self.hidden_dims = hidden_dims
        self.dropout = dropout
        self.input_dropout = input_dropout
        self.noise_std = noise_std
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.patience = patience
        self.random_state = random_state

    def fit(self, X: np.ndarray, y=None, *, callbacks: Iterable = (), progress_bar: bool = False):
        """Train the autoencoder on preprocessed ``X``."""
        self.model_ = ae.fit_autoencoder(
            X, latent_dim=self.latent_dim, hidden_dims=self.hidden_dims, dropout=self.dropout,
            max_epochs=self.max_epochs, batch_size=self.batch_size, patience=self.patience,
            input_dropout=self.input_dropout, noise_std=self.noise_std,
            random_state=0 if self.random_state is None else self.random_state,
            progress_bar=progress_bar, callbacks=callbacks)
        return self

    def transform(self, X: np.ndarray) -> np.ndarray:
        """Latent vectors (rows x latent_dim, float32)."""
        check_is_fitted(self, "model_")
        return ae.encode(self.model_, X)

    def reconstruction_error(self, X: np.ndarray) -> np.ndarray:
        """Per-row mean squared reconstruction error (scaled-feature units squared)."""
        check_is_fitted(self, "model_")
        return ae.reconstruction_error(self.model_, X)


class _Identity(TransformerMixin, BaseEstimator):
    """Do-nothing step ("passthrough")."""

    def fit(self, X, y=None):  # noqa: D102
        return self

    def transform(self, X):  # noqa: D102
        return np.asarray(X, dtype=np.float32)


def _is_skip(step) -> bool:
    return step is None or (isinstance(step, str) and step == "passthrough")

"""The pipeline's own steps: feature preprocessing, the autoencoder as a scikit-learn
transformer, and the do-nothing step ("passthrough").

:class:`~segmentation.engine.pipeline.SegmentationPipeline` composes them with the
reducer, clusterer and map; they are importable from :mod:`segmentation.engine.pipeline` too.
"""

from __future__ import annotations

import threading
from typing import Iterable, Sequence

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin, clone
from sklearn.preprocessing import QuantileTransformer, StandardScaler
from sklearn.utils.validation import check_is_fitted
from threadpoolctl import OpenBLASController, threadpool_limits

from segmentation.engine import autoencoder as ae
from segmentation.engine.defaults import DEFAULTS, SKIP

__all__ = ["FeaturePreprocessor", "AutoEncoderTransformer"]


def _signed_log1p(values: np.ndarray) -> np.ndarray:
    # Symmetric so refunds (negative money) stay finite and ordered.
    return np.sign(values) * np.log1p(np.abs(values))


def share_prior(p: np.ndarray, n: np.ndarray) -> tuple[float, float, float]:
    """Empirical-Bayes (beta-binomial, method of moments) prior of one share column.

    ``p``: each customer's observed share, ``n``: the number of events it is a share of.
    Returns ``(mean, strength, signal)``: the population share, the prior's weight in
    pseudo-events (inf when the column carries no signal beyond sampling noise) and the
    share of the column's observed variance that is between-customer signal (0–1).
    """
    has = n > 0
    if has.sum() < 2:
        return 0.0, np.inf, 0.0
    p, n = p[has], n[has]
    mean = float(np.sum(p * n) / np.sum(n))
    observed = float(np.var(p))
    sampling = float(np.mean(mean * (1 - mean) / n))
    signal_var = observed - sampling
    if observed <= 0 or signal_var <= 1e-12:
        return mean, np.inf, 0.0
    strength = max(mean * (1 - mean) / signal_var - 1.0, 0.0)
    return mean, strength, float(signal_var / observed)


class FeaturePreprocessor(TransformerMixin, BaseEstimator):
    """Smooth sparse shares, log1p for count/money columns, drop constant columns, then scale.

    ``scaler``: ``"standard"`` (per column), ``"quantile"`` (to a normal
    distribution; robust to heavy tails), ``"global"`` (centre per column, one
    common scale: for tables whose columns share a unit, e.g. pixels), or a
    transformer object. Output is float32.

    ``share_counts`` (column index → index of the count column it is a share of, e.g.
    the share of app events → the number of events): each such share is shrunk toward
    the population share by an empirical-Bayes prior fitted per column
    (``(share·n + a·mean) / (n + a)``: a customer with 3 events keeps little of an
    observed 0 % or 100 %, one with 100 keeps nearly all), and after scaling the
    column is weighted by ``signal ** share_weight_power``, ``signal`` being the share
    of its variance that is real between-customer difference rather than sampling
    noise: with a positive power a share that is noise only gets weight 0; with the default
    power 0 every share keeps weight 1 (``shares_`` keeps the figures either way).
    ``column_weights`` (column index → weight) multiply the scaled columns too.
    Keyword-only parameters; the defaults are the engine's (:mod:`segmentation.engine.defaults`).
    """

    def __init__(self, *, log_columns: Sequence[int] | None = None, scaler=DEFAULTS.scaler,
                 random_state=DEFAULTS.random_state, share_counts: dict | None = None,
                 share_weight_power: float = DEFAULTS.share_weight_power, column_weights: dict | None = None):
        self.log_columns = log_columns
        self.scaler = scaler
        self.random_state = random_state
        self.share_counts = share_counts
        self.share_weight_power = share_weight_power
        self.column_weights = column_weights

    def _smoothed(self, X: np.ndarray) -> np.ndarray:
        for column, (count, mean, strength, _) in getattr(self, "shares_", {}).items():
            n = np.maximum(X[:, count], 0.0)
            if np.isinf(strength):
                X[:, column] = mean
            else:
                X[:, column] = (X[:, column] * n + strength * mean) / np.maximum(n + strength, 1e-12)
        return X

    def _logged(self, X: np.ndarray) -> np.ndarray:
        X = self._smoothed(np.array(X, dtype=np.float64, copy=True))
        if self.log_columns:
            cols = list(self.log_columns)
            X[:, cols] = _signed_log1p(X[:, cols])
        return X

    def fit(self, X: np.ndarray, y=None) -> "FeaturePreprocessor":
        """Learn the share priors, which columns are constant and the scaling, from ``X`` (rows x features)."""
        X = np.asarray(X, dtype=np.float64)
        self.shares_ = {}
        for column, count in (self.share_counts or {}).items():
            mean, strength, signal = share_prior(X[:, int(column)], X[:, int(count)])
            self.shares_[int(column)] = (int(count), mean, strength, signal)
        X = self._logged(X)
        self.keep_ = np.flatnonzero(np.ptp(X, axis=0) > 1e-12)
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
        signal = {column: values[3] for column, values in self.shares_.items()}
        given = {int(c): float(w) for c, w in (self.column_weights or {}).items()}
        self.weights_ = np.array([signal.get(int(c), 1.0) ** self.share_weight_power * given.get(int(c), 1.0)
                                  for c in self.keep_])
        return self

    def transform(self, X: np.ndarray) -> np.ndarray:
        """Scaled kept columns of ``X`` as float32 (rows x kept features)."""
        check_is_fitted(self, "keep_")
        X = self._logged(X)[:, self.keep_]
        if self.scaler_ is not None:
            X = self.scaler_.transform(X) / self.global_scale_
        weights = getattr(self, "weights_", None)  # models saved before shares were weighted have none
        if weights is not None and len(weights) == X.shape[1]:
            X = X * weights
        return np.asarray(X, dtype=np.float32)


class AutoEncoderTransformer(TransformerMixin, BaseEstimator):
    """scikit-learn wrapper around :func:`segmentation.engine.autoencoder.fit_autoencoder`.

    ``transform`` gives latent vectors; ``reconstruction_error`` per-row MSE.
    ``input_dropout`` and ``noise_std`` set how the training input is corrupted (denoising).

    ``ensemble_size`` autoencoders are trained, each with its own seed (drawn from
    ``random_state``) and its own share of at most ``max_train_rows`` rows; the latent vector is
    their latents side by side, each standardised (per dimension, on the rows fitted) and divided
    by √``ensemble_size``, so every member weighs the same and distances keep their scale. One
    network's latent geometry depends on its initial weights, and on sparse data that moved the
    segments from seed to seed; three reduce it a little, they do not remove it (the least agreeing
    pair of pipeline seeds, averaged over the tuning data sets: 0.795 with one, 0.812 with three,
    ``benchmarks/results/tuning_round3.md``), at three times the training time of one below 66,000
    fitted customers, so one is the default. With ``ensemble_size=1`` the latent
    is the one network's, unscaled (as models fitted before the ensemble were).

    ``input_weight`` > 0 puts the (preprocessed) rows themselves beside that code, each block centred
    and divided by the root of its summed variances, the rows' block then multiplied by
    ``input_weight`` (1: the features and the code weigh the same in the distances UMAP sees). The
    features anchor the geometry (without an autoencoder, pipeline seeds agree at 0.97-0.99 on the
    tuning data); the code adds what the network learnt from every customer at once, which matters
    where a customer's own features are noisy (few events). Chosen on tuning seeds 0-3 of the
    scenario suite (``benchmarks/results/tuning.md``, round 4). Models fitted before it existed
    transform with the code alone (``input_weight`` 0).
    ``reconstruction_error`` is the members' mean. ``model_`` is the first member, ``members_`` all.
    Keyword-only parameters; the defaults are the engine's (:mod:`segmentation.engine.defaults`).
    """

    def __init__(self, *, latent_dim=DEFAULTS.latent_dim, hidden_dims=DEFAULTS.hidden_dims, dropout=DEFAULTS.dropout,
                 max_epochs=DEFAULTS.max_epochs, batch_size=DEFAULTS.batch_size, patience=DEFAULTS.patience,
                 random_state=DEFAULTS.random_state, input_dropout=DEFAULTS.input_dropout,
                 noise_std=DEFAULTS.noise_std, ensemble_size=DEFAULTS.ensemble_size,
                 max_train_rows=DEFAULTS.max_train_rows, input_weight=DEFAULTS.input_weight,
                 count_loss=DEFAULTS.count_loss, cross_halves=DEFAULTS.cross_halves):
        self.latent_dim = latent_dim
        self.hidden_dims = hidden_dims
        self.dropout = dropout
        self.input_dropout = input_dropout
        self.noise_std = noise_std
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.patience = patience
        self.random_state = random_state
        self.ensemble_size = ensemble_size
        self.max_train_rows = max_train_rows
        self.input_weight = input_weight
        self.count_loss = count_loss
        self.cross_halves = cross_halves

    def member_seeds(self) -> list[int]:
        """The training seed of each member: ``random_state`` itself for one, else drawn from it."""
        seed = 0 if self.random_state is None else int(self.random_state)
        size = int(self.ensemble_size)
        if size < 1:
            raise ValueError(f"ensemble_size must be at least 1, got {self.ensemble_size!r}")
        if size == 1:
            return [seed]
        return [int(s) for s in np.random.SeedSequence(seed).generate_state(size) % (2**31 - 1)]

    def fit(self, X: np.ndarray, y=None, *, callbacks: Iterable = (), progress_bar: bool = False,
            counts: np.ndarray | None = None, families=None, halves=None, cross_columns=None):
        """Train the autoencoder(s) on preprocessed ``X``; with ``count_loss`` > 0, ``counts`` and
        ``families`` (column groups of ``X``), the count-aware loss of
        :class:`~segmentation.engine.autoencoder.LitAutoEncoder`; with ``cross_halves`` > 0,
        ``halves`` (first, second, present: the rows on two halves of their events) and
        ``cross_columns`` (positions in ``X``), its cross-half targets."""
        weight = float(getattr(self, "count_loss", 0.0) or 0.0)
        seeds = self.member_seeds()
        rows = (None if self.max_train_rows is None
                else max(1, int(self.max_train_rows) // len(seeds)))
        members, centres, scales = [], [], []
        for index, seed in enumerate(seeds):
            model = ae.fit_autoencoder(
                X, latent_dim=self.latent_dim, hidden_dims=self.hidden_dims, dropout=self.dropout,
                max_epochs=self.max_epochs, batch_size=self.batch_size, patience=self.patience,
                input_dropout=self.input_dropout, noise_std=self.noise_std, random_state=seed,
                max_train_rows=rows, member=(index, len(seeds)), progress_bar=progress_bar, callbacks=callbacks,
                counts=counts, families=families, count_weight=weight, halves=halves,
                cross_columns=cross_columns, cross_weight=float(getattr(self, "cross_halves", 0.0) or 0.0))
            members.append(model)
            if len(seeds) > 1:
                latent = ae.encode(model, X)
                centres.append(latent.mean(axis=0))
                scales.append(latent.std(axis=0) + 1e-6)
        self.members_, self.model_ = members, members[0]
        self.latent_centre_ = np.concatenate(centres) if centres else None
        self.latent_scale_ = (np.concatenate(scales) * np.sqrt(len(seeds))) if scales else None
        if self.input_weight:
            code = self._code(X)
            self.input_centre_, self.input_norm_ = X.mean(axis=0), _total_spread(X)
            self.code_centre_, self.code_norm_ = code.mean(axis=0), _total_spread(code)
        return self

    def members(self) -> list:
        """The fitted autoencoders (one for models saved before the ensemble, which have no ``members_``)."""
        return getattr(self, "members_", None) or [self.model_]

    def transform(self, X: np.ndarray) -> np.ndarray:
        """The encoded rows (float32): with an ``input_weight``, the rows themselves beside the code
        (features + latent_dim·ensemble_size columns), else the code alone."""
        check_is_fitted(self, "model_")
        code = self._code(X)
        weight = getattr(self, "input_weight", 0.0)
        if not weight:
            return code
        return np.hstack([(X - self.input_centre_) * (weight / self.input_norm_),
                          (code - self.code_centre_) / self.code_norm_]).astype(np.float32)

    def _code(self, X: np.ndarray) -> np.ndarray:
        """The autoencoders' code: one network's latent, or the ensemble's standardised latents side by side."""
        members = self.members()
        if len(members) == 1:
            return ae.encode(members[0], X)
        latent = np.hstack([ae.encode(model, X) for model in members])
        return ((latent - self.latent_centre_) / self.latent_scale_).astype(np.float32)

    def reconstruction_error(self, X: np.ndarray) -> np.ndarray:
        """Per-row mean squared reconstruction error (scaled-feature units squared), the members' mean."""
        check_is_fitted(self, "model_")
        errors = [ae.reconstruction_error(model, X) for model in self.members()]
        return np.mean(errors, axis=0).astype(np.float32) if len(errors) > 1 else errors[0]


def _total_spread(values: np.ndarray) -> float:
    """The root of the summed column variances: dividing by it gives a block unit total variance."""
    return float(np.sqrt(np.var(values, axis=0, dtype=np.float64).sum())) or 1.0


class Identity(TransformerMixin, BaseEstimator):
    """Do-nothing step ("passthrough")."""

    def fit(self, X, y=None):  # noqa: D102
        return self

    def transform(self, X):  # noqa: D102
        return np.asarray(X, dtype=np.float32)


_Identity = Identity  # the name models stored before the rename were pickled with


def is_skip(step) -> bool:
    """Is a pipeline step left out? Only :data:`~segmentation.engine.defaults.SKIP` ("passthrough",
    as in scikit-learn) says so; None is the default step."""
    return isinstance(step, str) and step == SKIP


# UMAP's optimisation epochs at every size: umap-learn's own choice above 10,000 rows (it uses 500
# below). On tuning seed 0 of four scenarios (4,000-6,000 customers) 200 epochs gave the same
# segments (ARI 0.991/0.523/0.901/0.954 with 500, 0.990/0.514/0.900/0.954 with 200) in 55-60 %
# of the fitting time.
UMAP_EPOCHS = 200

# Below this many rows umap-learn finds neighbours by computing every pairwise distance through
# scikit-learn with its numba metric as a Python callable: ~8 s for 2,600 rows, per UMAP.
UMAP_SMALL_DATA = 4096


def fit_transform_umap(reducer, X: np.ndarray, mapping) -> np.ndarray:
    """``reducer.fit_transform(X)`` on one BLAS thread, with UMAP's exact small-data neighbours
    found by scikit-learn.

    One BLAS thread: above roughly 10,000 rows the layout UMAP starts from (its spectral
    initialisation, ARPACK through BLAS) depends on how many threads BLAS sums with, and the
    layout's last-bit differences grow into other segments. Without the limit, the same data and
    seed gave other segments with one BLAS thread than with two (the 1M benchmark's 50,000-row
    sample: ARI 0.892 and 0.876 with the personas). With it, a machine's core count does not change
    a fit; it costs about half a second of UMAP's 26 s on 50,000 rows.

    For a UMAP on fewer than :data:`UMAP_SMALL_DATA` rows the same exact neighbours (Euclidean,
    each row its own first neighbour) come from a scikit-learn search in well under a second and
    are handed to UMAP as ``precomputed_knn``. UMAP then keeps no search index, so its own
    ``transform`` is unavailable: with ``mapping="transform"`` (scoring by UMAP's own transform)
    UMAP's own path is kept.

    OpenBLAS (numpy and scipy each ship one) built with its own threads keeps one pool per library
    for the whole process, and threadpoolctl lets only one Python thread set those pools: a limit
    asked for in any other live thread is silently not applied. The app fits in its job threads, and
    scikit-learn limits BLAS inside its own calls in whatever thread runs them, so each fit makes its
    thread the controlling one (at once, under threadpoolctl's own lock, so that no other thread's
    call can come in between) and releases that control after. Another thread's limit is then not
    applied during the fit. Fits in two threads of one process (the app's snapshots on two
    databases) take turns: otherwise the first to finish would give the other its threads back in
    the middle of its fit. A limit another thread began before the fit and ends during it cannot give
    its count back (threadpoolctl ignores it), so the process may stay on one BLAS thread: slower BLAS
    work, the same results.
    """
    with _ONE_BLAS_THREAD:
        _control_openblas()
        try:
            with threadpool_limits(limits=1, user_api="blas"):
                return _fit_transform_umap(reducer, X, mapping)
        finally:
            OpenBLASController.clear_controlling_thread()  # only if this thread still holds it


_ONE_BLAS_THREAD = threading.Lock()


def _control_openblas() -> None:
    """Make this thread the one threadpoolctl lets set OpenBLAS's pools, in one step under its lock
    (its ``_SHARED_STATE``, threadpoolctl 3.8; another version: its public forced reset)."""
    shared = getattr(OpenBLASController, "_SHARED_STATE", None)
    if shared is None:
        OpenBLASController.clear_controlling_thread(force=True)
        return
    with shared.lock:
        shared.controlling_thread = threading.current_thread()


def _fit_transform_umap(reducer, X: np.ndarray, mapping) -> np.ndarray:
    import warnings

    from sklearn.neighbors import NearestNeighbors

    is_umap = type(reducer).__name__ == "UMAP" and type(reducer).__module__.startswith("umap")
    small = is_umap and len(X) < UMAP_SMALL_DATA and reducer.metric == "euclidean"
    keep_transform = isinstance(mapping, str) and mapping == "transform"
    if keep_transform or not small or reducer.precomputed_knn[0] is not None:
        return np.asarray(reducer.fit_transform(X), dtype=np.float32)
    distances, indices = NearestNeighbors(n_neighbors=reducer.n_neighbors).fit(X).kneighbors(X)
    reducer.set_params(precomputed_knn=(indices.astype(np.int64), distances.astype(np.float32)))
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"precomputed_knn\[2\]")
        return np.asarray(reducer.fit_transform(X), dtype=np.float32)

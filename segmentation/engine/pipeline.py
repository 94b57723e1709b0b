"""The segmentation estimator: preprocessing → encoder → reducer → clusterer (+ a 2-D map).

:class:`SegmentationPipeline` follows scikit-learn's estimator contract
(``__init__`` only stores parameters, validation happens in :meth:`~SegmentationPipeline.fit`,
learned state ends in ``_``) and, like BERTopic, is composed of swappable
steps passed in:

* ``encoder``: the denoising autoencoder (default: ``"autoencoder"``, or ``None``;
  :mod:`segmentation.engine.autoencoder`), any transformer with ``fit``/``transform``
  (e.g. ``PCA``), or ``"passthrough"``.
* ``reducer``: the cluster space; UMAP (default, ``None``: ``cluster_dims`` components,
  ``min_dist=0``), any transformer, or ``"passthrough"``.
* ``clusterer``: ``hdbscan.HDBSCAN(prediction_data=True)`` (default, ``None``) with a
  ``min_cluster_size`` relative to the fit sample; any clusterer with
  ``predict`` (e.g. ``KMeans``) also works. It cannot be left out.
* ``map_reducer``: the 2-D map; UMAP on the cluster space (default, ``None``), any
  transformer, or ``"passthrough"`` (no map: ``map_embedding_`` is NaN).
* ``mapping``: how rows outside the fit sample are placed and assigned; default (``None``)
  :class:`~segmentation.engine.mapping.SampleMapping` (their nearest fit-sample rows in
  the latent space give the cluster-space and map coordinates and the segment),
  or ``"transform"`` (``reducer.transform``, ``hdbscan.approximate_predict`` /
  ``clusterer.predict`` and ``map_reducer.transform``: exact to the models, but
  UMAP's transform and HDBSCAN's ``2 × min_samples``-neighbour queries score
  under 2,000 customers a second).

Parameters are keyword-only, defaults from :data:`segmentation.engine.defaults.DEFAULTS`.
Fit on a sample, assign everyone: the steps are fitted on at most ``fit_sample_size``
rows; all other rows (and everyone ``assign`` scores later) go through ``mapping`` and the polish.

This module holds the estimator itself (its parameters and the order of the fit); the
work is done by the modules next to it: :mod:`~segmentation.engine.inputs` (input checks),
:mod:`~segmentation.engine.step_factory` (the steps from the parameters),
:mod:`~segmentation.engine.clustering` (clusters → segments), :mod:`~segmentation.engine.scoring`
(rows scored with the fitted models) and :mod:`~segmentation.engine.persistence` (save, load).
Stored models are pickles that name classes by module: :class:`SegmentationPipeline` stays
here, and the steps are importable from here too.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Iterable

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from segmentation.constants import NOISE as _NOISE
from segmentation.engine import scoring
from segmentation.engine.clustering import fold_id_map, n_clusters, relabel, segment_fit_sample
from segmentation.engine.defaults import DEFAULTS, SKIP
from segmentation.engine.inputs import (SWITCHES, PipelineInputError, check_enough_rows, check_features, check_switches,
                                        choose_fit_sample, column_positions, count_targets, cross_targets,
                                        resolve_min_cluster_size, share_positions)
from segmentation.engine.mapping import SampleMapping
from segmentation.engine.persistence import load_pipeline, save_pipeline
from segmentation.engine.polish import DiscriminantPolish, resolve as resolve_polish
from segmentation.engine.step_factory import make_clusterer, make_encoder, make_map_reducer, make_reducer
from segmentation.engine.steps import AutoEncoderTransformer, FeaturePreprocessor, Identity, fit_transform_umap

__all__ = [
    "SegmentationPipeline",
    "FeaturePreprocessor",
    "AutoEncoderTransformer",
    "Identity",
    "SampleMapping",
    "PipelineInputError",
    "resolve_min_cluster_size",
]


def todays_spelling(state: dict) -> dict:
    """The pickled state of a pipeline with its parameters in today's spelling (changed in place).

    Before issue 17 ``encoder=None`` left the encoder out (today ``None`` is the autoencoder, as for
    every step), the map was left out with ``map_reducer="drop"`` and ``refine_neighbors=0`` was
    off. A fitted pipeline says which encoder it fitted: ``encoder=None`` with the do-nothing
    encoder fitted becomes ``"passthrough"``; an unfitted one cannot tell and keeps ``None``.
    """
    if "encoder" in state and state["encoder"] is None and isinstance(state.get("encoder_"), Identity):
        state["encoder"] = SKIP
    if isinstance(state.get("map_reducer"), str) and state["map_reducer"] == "drop":
        state["map_reducer"] = SKIP
    if isinstance(state.get("refine_neighbors"), (int, float)) and state["refine_neighbors"] == 0:
        state["refine_neighbors"] = None
    return state


class SegmentationPipeline(BaseEstimator):
    """Preprocess → encode → reduce → cluster customers, plus a 2-D map.

    Parameters (keyword-only, all stored as given, defaults from
    :data:`segmentation.engine.defaults.DEFAULTS`; see the module docstring for the steps):
    ``min_cluster_size`` is a fraction of the fit sample when < 1 (``0.01`` =
    1 %) or a row count. The post-processing switches are off with ``None`` (and only with
    ``None``): ``outlier_floor`` (default 0.1) moves a noise row into
    the segment of its highest soft membership when that membership is at
    least the floor (like BERTopic's ``reduce_outliers``); ``refine_neighbors``
    (default 15; a positive count; applied after the outlier floor) moves each segmented customer of the
    fit sample to the segment most of its ``refine_neighbors`` nearest customers in the preprocessed feature
    space hold (itself included; a tie keeps its own, noise stays noise): the cluster space tears a few
    border customers away from the customers they resemble, and the vote puts them back (its probability is
    then the vote share); ``scaler`` is passed to :class:`FeaturePreprocessor`, with ``share_counts`` (share
    column → the count column it is a share of: empirical-Bayes smoothing), ``share_weight_power`` and
    ``feature_weights`` (column → weight multiplying the scaled column, e.g. from its split-half reliability,
    :func:`segmentation.features.signal.reliability_weights`). ``min_samples`` (None = ``min_cluster_size``;
    below 1 a share of the fit sample, as ``min_cluster_size``) and ``cluster_selection_method`` (``"eom"``)
    are HDBSCAN's;
    ``merge_alpha`` (default off) merges neighbouring segments whose union is one mode
    (:mod:`segmentation.engine.granularity`); ``twin_distance`` (default
    :data:`~segmentation.engine.resemblance.TWIN`) merges segments whose lift profiles are
    at most that far apart; before that, ``split_distance`` (default
    :data:`~segmentation.engine.resemblance.UNLIKE`; None: off) splits a cluster into its
    children in HDBSCAN's condensed tree when the lift profiles of the ``mix_columns`` (the share
    features, names; None: none, so no split) differ by more than it
    (:mod:`segmentation.engine.descent`). Given the features on two halves of each customer's
    events (``fit(..., halves=)``), the split counts only the part of the children's mix difference
    that their customers repeat, and, with ``mix_twins`` (default True), two segments whose
    mix difference their customers do not repeat beyond ``twin_distance`` are twins too, however
    far apart their counts and rates lie (:mod:`segmentation.engine.repeated`); with ``mix_twins="rest alike"``
    only when the other columns' lift profiles are within ``twin_distance`` too. ``reproducible_below``
    (default off; a share of the fit sample below 1, else rows) keeps a segment smaller than it only
    when HDBSCAN refitted on resamples finds it again, and gives the rows of the others to the
    segments around them (:mod:`segmentation.engine.reproducible`). ``join_noise`` (default 0.8; None: off)
    puts a noise row whose 30 nearest segmented rows in the preprocessed features are more than that share
    one segment's, within reach of them, in that segment (:func:`~segmentation.engine.mapping.join_noise`);
    the rows scored later inherit it through the mapping. ``n_neighbors`` (default 15) are UMAP's
    neighbours, and the cluster space's are at least ``neighbors_share`` (default None: off; an option, e.g.
    0.0006: 15 up to 25,000 rows, 30 at 50,000) of the fit sample (README v30). Last, ``polish`` (default None: off; an
    option, e.g. 0.99) redraws the segments' edges with a linear discriminant in the preprocessed features and lets
    noise within that quantile of a segment's spread join it (:mod:`segmentation.engine.polish`),
    for the fit sample and every row scored later; ``polish_space="latent"`` draws it in the latent rows
    UMAP sees (the code beside the features) instead; when ``polish`` is None, a fit sample of at least
    ``polish_from`` rows (default 25,000; None: never) is polished with spread 0.99 in the latent rows
    (:func:`~segmentation.engine.polish.resolve`, README v34). The autoencoder (``latent_dim``, ``hidden_dims``, ``max_epochs``)
    is the default encoder; its training input is corrupted
    (denoising) by zeroing features with probability ``input_dropout`` and adding
    Gaussian noise of standard deviation ``noise_std``; ``dropout`` acts between its layers;
    ``ensemble_size`` autoencoders with their own seeds are trained and their standardised latents
    put side by side, and ``input_weight`` (0: off) puts the preprocessed features beside that code
    (:class:`AutoEncoderTransformer`). ``count_loss`` (default 0: off; the snapshot sets 10) > 0 trains the
    autoencoder on the event counts behind the ``count_columns`` shares (share column → the count it
    is a share of, as ``share_counts``) with a multinomial loss of that weight
    (:class:`~segmentation.engine.autoencoder.LitAutoEncoder`). ``cross_halves`` (default 0: off; an
    option, 0–1, needs ``halves``) is the weight of a second target on the ``mix_columns``: the
    autoencoder rebuilds one half of a customer's events from the other. ``consensus`` (default 1:
    one fit; an option) > 1 fits the fit sample that many times with seeds drawn from ``random_state`` and keeps
    the segments most fits agree on (:mod:`segmentation.engine.consensus`); the models of the first
    fit map the other customers to them.

    Learned: ``preprocessor_``, ``encoder_``, ``reducer_``, ``clusterer_``,
    ``map_reducer_``, ``mapping_`` (None with ``mapping="transform"``),
    ``labels_`` (−1 = noise), ``probabilities_`` (membership
    strength of the assigned segment, 0–1), ``map_embedding_`` (n x 2), ``cluster_space_``
    (n x cluster dims: the fit sample's embedding, the other rows as :meth:`transform` maps them),
    ``reconstruction_error_``, ``n_segments_``, ``noise_share_`` (0–1), ``feature_names_in_``, ``n_features_in_``,
    ``fit_sample_index_`` (row positions of the fit sample), ``min_cluster_size_`` (rows), ``refined_share_``
    and ``joined_share_`` (0–1: fit-sample rows the neighbour vote moved, noise rows the join put in a segment),
    ``polish_`` (None or the :class:`~segmentation.engine.polish.DiscriminantPolish`), ``polish_space_`` (where
    it was drawn), ``raw_labels_`` (the fit
    sample's clusters before any post-processing), ``label_map_``, ``fold_map_`` (None, or the segments
    :meth:`fold_segments` folded after the fit) and ``granularity_`` (why this many segments: see
    :func:`~segmentation.engine.granularity.choose_granularity`).
    """

    def __init__(self, *, encoder="autoencoder", reducer=None, clusterer=None, map_reducer=None, mapping=None,
                 latent_dim=DEFAULTS.latent_dim, hidden_dims=DEFAULTS.hidden_dims, dropout=DEFAULTS.dropout,
                 input_dropout=DEFAULTS.input_dropout, noise_std=DEFAULTS.noise_std, max_epochs=DEFAULTS.max_epochs,
                 ensemble_size=DEFAULTS.ensemble_size, input_weight=DEFAULTS.input_weight,
                 count_loss=DEFAULTS.count_loss, cross_halves=DEFAULTS.cross_halves, count_columns=None,
                 cluster_dims=DEFAULTS.cluster_dims, n_neighbors=DEFAULTS.n_neighbors,
                 min_cluster_size=DEFAULTS.min_cluster_size, min_samples=DEFAULTS.min_samples,
                 cluster_selection_epsilon=DEFAULTS.cluster_selection_epsilon,
                 cluster_selection_method=DEFAULTS.cluster_selection_method, merge_alpha=DEFAULTS.merge_alpha,
                 twin_distance=DEFAULTS.twin_distance, scaler=DEFAULTS.scaler, log_columns=None, share_counts=None,
                 share_weight_power=DEFAULTS.share_weight_power, feature_weights=None,
                 fit_sample_size=DEFAULTS.fit_sample_size, outlier_floor=DEFAULTS.outlier_floor,
                 refine_neighbors=DEFAULTS.refine_neighbors, split_distance=DEFAULTS.split_distance, mix_columns=None,
                 mix_twins=DEFAULTS.mix_twins, reproducible_below=DEFAULTS.reproducible_below,
                 consensus=DEFAULTS.consensus, polish=DEFAULTS.polish, polish_space=DEFAULTS.polish_space,
                 polish_from=DEFAULTS.polish_from, join_noise=DEFAULTS.join_noise,
                 neighbors_share=DEFAULTS.neighbors_share, random_state=DEFAULTS.random_state):
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
        self.ensemble_size = ensemble_size
        self.input_weight = input_weight
        self.count_loss = count_loss
        self.cross_halves = cross_halves
        self.count_columns = count_columns
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
        self.split_distance = split_distance
        self.consensus = consensus
        self.polish = polish
        self.polish_space = polish_space
        self.polish_from = polish_from
        self.join_noise = join_noise
        self.neighbors_share = neighbors_share
        self.mix_columns = mix_columns
        self.mix_twins = mix_twins
        self.reproducible_below = reproducible_below
        self.random_state = random_state

    def __setstate__(self, state):
        """Unpickle, reading the parameters of pipelines saved before issue 17 in today's spelling
        (:func:`todays_spelling`)."""
        super().__setstate__(todays_spelling(state))

    # ---------------------------------------------------------------- input
    def check_input(self, X, *, fitting: bool) -> tuple[np.ndarray, pd.Index | None]:
        """``X`` as checked float64 values and its index (:func:`~segmentation.engine.inputs.check_features`).

        Fitting records ``feature_names_in_`` and ``n_features_in_``; scoring takes the fitted columns.
        """
        values, index, names = check_features(X, None if fitting else list(self.feature_names_in_))
        if fitting:
            self.feature_names_in_ = np.asarray(names, dtype=object)
            self.n_features_in_ = values.shape[1]
        return values, index

    # ---------------------------------------------------------------- fit
    def fit(self, X, y=None, *, callbacks: Iterable = (), progress_bar: bool = False,
            on_step: Callable[[str], None] | None = None, halves=None) -> "SegmentationPipeline":
        """Fit every step on (a sample of) ``X`` and assign all rows; returns ``self``.

        ``X``: DataFrame or array, one row per customer, numeric features.
        ``halves`` (optional; ``X`` a DataFrame): two DataFrames of the same features measured on two
        halves of each customer's events, indexed like ``X`` (a customer missing from one has no
        events there; :func:`segmentation.features.signal.split_half_tables`). With them, the split
        by mix and the twins count only the differences the customers repeat on both halves
        (:mod:`segmentation.engine.repeated`), and ``cross_halves`` trains the autoencoder on them.
        ``callbacks``/``progress_bar`` go to the autoencoder's Lightning
        Trainer; ``on_step(name)`` is called as each stage starts (training,
        embedding, clustering, consensus once per further fit, mapping, assigning).
        """
        step = on_step or (lambda name: None)
        values, index = self.check_input(X, fitting=True)
        n_rows = len(values)
        rng = np.random.default_rng(self.random_state)
        sample = choose_fit_sample(n_rows, self.fit_sample_size, rng)
        self.fit_sample_index_ = sample
        self.min_cluster_size_ = resolve_min_cluster_size(self.min_cluster_size, len(sample))
        check_enough_rows(n_rows, len(sample), self.min_cluster_size_)
        check_switches(**{name: getattr(self, name) for name in SWITCHES})
        if isinstance(self.mapping, str) and self.mapping == "transform":
            if self.split_distance is not None and self.mix_columns:
                raise ValueError("split_distance needs the default mapping: with mapping='transform' the clusterer "
                                 "scores new customers, and it cannot give the parts a split cluster became")
            if self.consensus > 1:
                raise ValueError("consensus needs the default mapping: with mapping='transform' the first fit's "
                                 "clusterer scores new customers, and it knows only its own segments")

        log_idx, share_idx, weight_idx = column_positions(list(self.feature_names_in_), self.log_columns,
                                                          self.share_counts, self.feature_weights)
        self.preprocessor_ = FeaturePreprocessor(
            log_columns=log_idx, scaler=self.scaler, random_state=self.random_state, share_counts=share_idx,
            share_weight_power=self.share_weight_power, column_weights=weight_idx).fit(values[sample])
        if len(self.preprocessor_.keep_) == 0:
            raise PipelineInputError(
                f"no features left: all {values.shape[1]} feature columns are constant in the data")
        Z = self.preprocessor_.transform(values)  # every row, once: the rest are scored from it below
        Z_sample = Z[sample]
        sample_halves = None if halves is None else self._sample_halves(halves, index, sample)
        mix = self._mix_positions()

        step("training")
        self.encoder_ = make_encoder(self)
        if isinstance(self.encoder_, AutoEncoderTransformer):
            families = counts = None
            if self.count_loss:
                if self.count_columns is None:
                    raise PipelineInputError("count_loss needs count_columns: each share column → the count "
                                             "column it is a share of")
                names = list(self.feature_names_in_)
                families, counts = count_targets(names, share_positions(names, self.count_columns, "count_columns"),
                                                 self.preprocessor_.keep_, values[sample])
            self.encoder_.fit(Z_sample, callbacks=callbacks, progress_bar=progress_bar, counts=counts,
                              families=families,
                              **cross_targets(self.cross_halves, self.count_loss, sample_halves, mix))
        else:
            self.encoder_.fit(Z_sample)
        latent = scoring.latent(self, Z_sample)

        step("embedding")
        self.reducer_ = make_reducer(self, len(sample))
        cluster_space = fit_transform_umap(self.reducer_, latent, self.mapping)

        step("clustering")
        self.clusterer_ = make_clusterer(self, len(sample)).fit(cluster_space)
        segments = segment_fit_sample(self.clusterer_, Z_sample, outlier_floor=self.outlier_floor,
                                      merge_alpha=self.merge_alpha, twin_distance=self.twin_distance,
                                      refine_neighbors=self.refine_neighbors, random_state=self.random_state,
                                      min_size=self.min_cluster_size_, split_distance=self.split_distance,
                                      mix_columns=mix, halves=sample_halves,
                                      mix_twins=self.mix_twins, space=cluster_space,
                                      reproducible_below=(None if self.reproducible_below is None else
                                                          resolve_min_cluster_size(self.reproducible_below,
                                                                                   len(sample))),
                                      min_samples=self.min_samples, join_noise=self.join_noise)
        sample_labels, sample_probs = segments.labels, segments.probabilities
        self.raw_labels_, self.label_map_ = segments.raw_labels, segments.label_map
        self.fold_map_ = None  # set by fold_segments after the fit
        self.granularity_, self.refined_share_, self.joined_share_ = (segments.granularity, segments.refined_share,
                                                                      segments.joined_share)
        if self.consensus > 1:
            sample_labels, sample_probs = self._consensus(X, sample, sample_labels, halves, step)
        spread, self.polish_space_ = resolve_polish(self.polish, self.polish_space, self.polish_from, len(sample))
        polish_rows = scoring.polish_rows(self, Z_sample, latent)
        self.polish_ = None if spread is None else DiscriminantPolish(spread).fit(polish_rows, sample_labels)
        if self.polish_ is not None:
            sample_labels, sample_probs = self.polish_.apply(polish_rows, sample_labels, sample_probs)

        step("mapping")
        self.map_reducer_ = make_map_reducer(self, len(sample))
        sample_map = (np.full((len(sample), 2), np.nan, dtype=np.float32) if self.map_reducer_ is None
                      else fit_transform_umap(self.map_reducer_, cluster_space, self.mapping))
        self.mapping_ = scoring.fit_mapping(self.mapping, self.random_state, latent, cluster_space, sample_map,
                                            sample_labels, sample_probs)

        step("assigning")
        labels = np.empty(n_rows, dtype=np.int64)
        probs = np.empty(n_rows, dtype=np.float32)
        xy = np.empty((n_rows, 2), dtype=np.float32)
        labels[sample], probs[sample], xy[sample] = sample_labels, sample_probs, sample_map
        space = np.empty((n_rows, cluster_space.shape[1]), dtype=np.float32)
        space[sample] = cluster_space
        rest = np.setdiff1d(np.arange(n_rows), sample, assume_unique=True)
        if len(rest):
            spaces: list = []
            scored = scoring.score_rows(self, Z[rest], spaces=spaces)
            labels[rest], probs[rest], xy[rest] = scored["segment_id"], scored["probability"], scored[["x", "y"]]
            space[rest] = spaces[0]
        self.labels_, self.probabilities_, self.map_embedding_ = labels, probs, xy
        self.cluster_space_ = space  # the fit sample's own embedding, the other rows mapped: not scored again
        self.reconstruction_error_ = scoring.reconstruction_error(self.encoder_, Z)
        self.n_segments_ = int(len(np.unique(labels[labels >= 0])))
        self.noise_share_ = float(np.mean(labels == _NOISE))
        return self

    def _consensus(self, X, sample: np.ndarray, first: np.ndarray, halves, step) -> tuple[np.ndarray, np.ndarray]:
        """The fit sample's consensus segments over ``consensus`` fits, ``first`` the one just made;
        ``step("consensus")`` as each further fit starts."""
        from sklearn.base import clone

        from segmentation.engine.consensus import consensus_labels

        rows = X.iloc[sample] if isinstance(X, pd.DataFrame) else np.asarray(X)[sample]
        seeds = np.random.SeedSequence(self.random_state).generate_state(self.consensus - 1)
        runs = [first]
        for seed in seeds:
            step("consensus")
            # the same rows, its own seed; no 2-D map (nobody sees it) and one fit each; unpolished, as the
            # first fit's labels are here (the polish comes after the consensus)
            replica = clone(self).set_params(random_state=int(seed) % 2**31, consensus=1, fit_sample_size=None,
                                             map_reducer=SKIP, polish=None, polish_from=None)
            runs.append(replica.fit(rows, halves=halves).labels_)
        labels, probabilities = consensus_labels(runs, self.min_cluster_size_, random_state=self.random_state)
        counts = [int(len(np.unique(run[run >= 0]))) for run in runs]
        kept = int(len(np.unique(labels[labels >= 0])))
        self.granularity_ = {**(self.granularity_ or {}), "consensus": {"fits": len(runs), "segments": counts},
                             "why": (f"{len(runs)} fits with their own seeds found {', '.join(map(str, counts))} "
                                     f"segments; the {kept} kept are the customers most fits put together. In the "
                                     f"first fit: " + str((self.granularity_ or {}).get("why", "")))}
        return labels, probabilities

    def _sample_halves(self, halves, index: pd.Index | None, sample: np.ndarray):
        """The fit sample's rows of the two halves' feature tables, preprocessed as ``X`` was."""
        from segmentation.engine.repeated import SplitHalves

        if index is None or len(halves) != 2:
            raise PipelineInputError("halves need X as a DataFrame and two DataFrames indexed like it")
        rows, names = index[sample], [str(n) for n in self.feature_names_in_]
        present, out = np.ones(len(sample), dtype=bool), []
        for half in halves:
            frame = half.rename(columns=str).reindex(index=rows, columns=names)
            present &= frame.notna().any(axis=1).to_numpy()
            out.append(self.preprocessor_.transform(np.nan_to_num(frame.to_numpy(dtype=np.float64))))
        return SplitHalves(out[0], out[1], present)

    def _mix_positions(self) -> list[int]:
        """Positions of the ``mix_columns`` among the preprocessed columns (unknown names are refused)."""
        if not self.mix_columns:
            return []
        names = [str(n) for n in self.feature_names_in_]
        unknown = [c for c in self.mix_columns if str(c) not in names]
        if unknown:
            raise PipelineInputError(f"mix_columns names unknown feature(s): {', '.join(map(str, unknown))}")
        wanted = {names.index(str(c)) for c in self.mix_columns}
        return [j for j, i in enumerate(self.preprocessor_.keep_) if int(i) in wanted]

    def fold_segments(self, into: dict[int, int], why: list[dict] | None = None) -> np.ndarray:
        """Fold fitted segments into others (``{segment: the segment it joins}``); returns the id map.

        The fitted labels change, and so does what the models assign from now on (``fold_map_``,
        applied to every scored row, and saved with the models): a folded segment never comes back
        under these models. The remaining segments are renumbered by size, largest first, as a fit
        numbers them. Returns the array that maps each old segment id to its new one (index = old
        id); ``why`` (one dict per fold; an ``into`` in it is given the new id) is recorded in
        ``granularity_["folded"]``. Raises ValueError for a fold into noise or folds in a circle.
        """
        check_is_fitted(self, "clusterer_")
        target = {int(a): int(b) for a, b in into.items()}
        # every id the models can give (a segment with no fitted row too)
        sources = [self.labels_, getattr(getattr(self, "mapping_", None), "classes_", None),
                   getattr(self, "label_map_", None)]
        ids = np.unique(np.concatenate([np.asarray(a, dtype=np.int64) for a in sources if a is not None]))
        id_map = fold_id_map(self.labels_, ids, target)
        self.labels_ = relabel(self.labels_, id_map)
        earlier = getattr(self, "fold_map_", None)  # folded before: compose
        self.fold_map_ = id_map if earlier is None else relabel(earlier, id_map)
        self.n_segments_ = int(len(np.unique(self.labels_[self.labels_ >= 0])))
        if isinstance(getattr(self, "granularity_", None), dict):
            why = [{**w, "into": int(id_map[w["into"]])} if "into" in w else w for w in (why or [])]
            self.granularity_ = {**self.granularity_, "segments": self.n_segments_,
                                 "why": f"{self.granularity_.get('why', '')}; {len(target)} folded into "
                                        f"another after the fit, leaving {self.n_segments_}",
                                 "folded": [*self.granularity_.get("folded", []), *why]}
        return id_map

    # ---------------------------------------------------------------- scoring
    @property
    def n_clusters_(self) -> int:
        """Number of clusters the clusterer found on the fit sample."""
        return n_clusters(self.clusterer_)

    def assign(self, X, batch_size: int = 50_000) -> pd.DataFrame:
        """Score customers with the fitted models, ``batch_size`` rows at a time.

        Returns columns ``segment_id`` (−1 = noise), ``probability`` (0–1),
        ``x``, ``y`` (map) and ``reconstruction_error``; the index is ``X``'s
        index for a DataFrame, else 0..n-1.
        """
        check_is_fitted(self, "clusterer_")
        values, index = self.check_input(X, fitting=False)
        parts = [scoring.score_rows(self, self.preprocessor_.transform(values[s:s + batch_size]), with_error=True)
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
        parts = [scoring.cluster_space(self, values[s:s + batch_size]) for s in range(0, len(values), batch_size)]
        return np.concatenate(parts) if parts else np.empty((0, self.cluster_dims), dtype=np.float32)

    # ---------------------------------------------------------------- persistence
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
        return save_pipeline(self, path)

    @classmethod
    def load(cls, path: str | Path) -> "SegmentationPipeline":
        """Rebuild a pipeline written by :meth:`save` (ready for ``assign``/``predict``/``transform``)."""
        return load_pipeline(cls, path)

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


# Recorded from the code before issue 17 (commit ffc6327) with small_table() and SnapshotParams();
# since then the autoencoder step has two more parameters (``ensemble_size`` 1, ``max_train_rows``)
# and training is told which member of the ensemble it is (the only one), with the same values as before.
# Changed on purpose in issue 14's round 4 (benchmarks/results/tuning.md): ``input_weight`` (the features
# beside the code) and ``outlier_floor`` 0.1, where it was None. The snapshot names its share features as
# ``mix_columns`` for the descent (``split_distance``: benchmarks/results/descent_tuning.md), on since v13
# of the dynamics (0.85, UNLIKE), where it was None. Since v25 the snapshot trains the autoencoder with the
# count-aware loss (weight 10) wherever the customer's event count is clustered, as here
# (benchmarks/results/count_features_tuning.md); until then ``count_loss`` was 0 and ``count_columns`` None.
# v26 added the discriminant polish as an option (``polish``, off: benchmarks/results/polish_tuning.md).
# v30 added ``neighbors_share`` as an option (off): the cluster space's UMAP neighbours at least that
# share of the fit sample. v31 added ``polish_space`` (where the polish's discriminant is drawn; v26's "features").
# v34 turned the polish on by the fit sample's size (``polish_from``: 25,000 rows or more, in the latent space).
SNAPSHOT_CONFIGURATION = {
    "pipeline": {
        "cluster_dims": 8, "cluster_selection_epsilon": 0.0, "cluster_selection_method": "eom", "clusterer": None,
        "dropout": 0.0, "encoder": "autoencoder", "ensemble_size": 1, "input_weight": 1.0,
        "feature_weights": {"frequency": 1.0, "night_share": 0.3162, "recency_days": 1.0, "share_app": 0.8},
        "fit_sample_size": 50000, "hidden_dims": (128, 64), "input_dropout": 0.3, "latent_dim": 16,
        "log_columns": ["frequency", "recency_days"], "map_reducer": None, "mapping": None, "max_epochs": 40,
        "merge_alpha": None, "min_cluster_size": 0.01, "min_samples": None, "n_neighbors": 15, "noise_std": 0.2,
        "outlier_floor": 0.1, "random_state": 0, "reducer": None, "refine_neighbors": 15, "scaler": "standard",
        "share_counts": None, "share_weight_power": 0.0, "twin_distance": 0.6,
        "split_distance": 0.85, "mix_columns": ["share_app", "night_share"], "mix_twins": True,
        "reproducible_below": None, "count_loss": 10.0,
        "count_columns": {"share_app": "frequency", "night_share": "frequency"}, "consensus": 1, "polish": None,
        "cross_halves": 0.0, "join_noise": 0.8, "neighbors_share": None, "polish_space": "features",
        "polish_from": 25000,
    },
    "preprocessor": {"column_weights": {0: 1.0, 1: 1.0, 2: 0.8, 3: 0.3162}, "log_columns": [0, 1],
                     "random_state": 0, "scaler": "standard", "share_counts": None, "share_weight_power": 0.0},
    "encoder": {"batch_size": 256, "dropout": 0.0, "hidden_dims": (128, 64), "input_dropout": 0.3, "latent_dim": 16,
                "max_epochs": 40, "noise_std": 0.2, "patience": 8, "random_state": 0, "ensemble_size": 1,
                "max_train_rows": 200000, "input_weight": 1.0, "count_loss": 10.0,
                "cross_halves": 0.0},
    "training": {"latent_dim": 16, "hidden_dims": (128, 64), "dropout": 0.0, "max_epochs": 40, "batch_size": 256,
                 "val_fraction": 0.1, "patience": 8, "random_state": 0, "progress_bar": False,
                 "max_train_rows": 200000, "input_dropout": 0.3, "noise_std": 0.2, "lr": 0.001,
                 "weight_decay": 1e-05, "member": (0, 1), "families": [[2], [3]], "count_weight": 10.0,
                 "halves": None, "cross_columns": None, "cross_weight": 0.0},
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
    # since v20 the floor is the data's choice: this table's median customer has more than 10 events
    assert float(table.frame["frequency"].median()) > 10
    found = fitted_configuration(make_pipeline(table, params), clustering_frame(table, params), monkeypatch)
    # the count-aware loss's targets: each share as a binomial of the customer's events (share, rest)
    counts = found["training"].pop("counts")
    events = table.frame["frequency"].to_numpy()
    assert counts.shape == (len(table.frame), 4)
    np.testing.assert_allclose(counts[:, 0] + counts[:, 1], events, rtol=1e-5)
    np.testing.assert_allclose(counts[:, 0], table.frame["share_app"].to_numpy() * events, rtol=1e-5)
    assert found == SNAPSHOT_CONFIGURATION


def test_the_snapshot_polishes_when_asked_or_from_25000_fitted_customers():
    from segmentation.workflows.engine_options import parse_engine_options
    from segmentation.workflows.snapshot import make_pipeline

    table = small_table()
    settings = make_pipeline(table, SnapshotParams()).get_params()
    assert settings["polish"] is None and settings["polish_from"] == 25_000
    extra = parse_engine_options(["polish=0.99"])
    assert make_pipeline(table, SnapshotParams(extra=extra)).get_params()["polish"] == 0.99
    assert parse_engine_options(["polish=off"]) == {"polish": None}
    assert parse_engine_options(["polish_from=off"]) == {"polish_from": None}
    assert parse_engine_options(["polish_from=10000"]) == {"polish_from": 10_000}


# ---------------------------------------------------------------- one source of defaults
def _signature_defaults(function) -> dict:
    return {name: p.default for name, p in inspect.signature(function).parameters.items()
            if p.default is not inspect.Parameter.empty}


@pytest.mark.parametrize("function", [
    pipeline_module.SegmentationPipeline.__init__, pipeline_module.AutoEncoderTransformer.__init__,
    pipeline_module.FeaturePreprocessor.__init__, ae.fit_autoencoder, ae.LitAutoEncoder.__init__,
    ae.AutoEncoder.__init__,
], ids=lambda f: f.__qualname__)
def test_every_engine_default_comes_from_the_one_source(function):
    from dataclasses import fields

    from segmentation.engine.defaults import DEFAULTS

    names = {f.name for f in fields(DEFAULTS)}
    shared = {name: value for name, value in _signature_defaults(function).items() if name in names}
    assert shared, "the signature shares no parameter with DEFAULTS"
    assert shared == {name: getattr(DEFAULTS, name) for name in shared}


def test_the_snapshot_takes_the_engine_defaults_except_its_own_two_choices():
    from dataclasses import fields

    from segmentation.engine.defaults import DEFAULTS

    params = SnapshotParams()
    engine_names = {"seed": "random_state", "fit_sample_size": "fit_sample_size", "latent_dim": "latent_dim",
                    "outlier_floor": "outlier_floor"}
    assert {f: getattr(params, f) for f in engine_names} == {f: getattr(DEFAULTS, e) for f, e in engine_names.items()}
    # The two values the snapshot chooses itself (reasons in SnapshotParams).
    assert (params.min_cluster_share, params.max_epochs) == (None, 40)  # None: the floor is chosen by the data
    assert (DEFAULTS.min_cluster_size, DEFAULTS.max_epochs) == (0.01, 100)
    # runs.params keeps its keys (a JSON contract).
    assert [f.name for f in fields(SnapshotParams)] == [
        "window_days", "seed", "fit_sample_size", "min_cluster_share", "latent_dim", "max_epochs", "outlier_floor",
        "profile_only_features", "smooth_shares", "weight_by_reliability", "extra", "refit", "refit_every"]


@pytest.mark.parametrize("events, floor", [([3, 5, 9, 10, 40], 0.02), ([3, 11, 12, 14, 40], 0.01),
                                          ([10.0, 10.0, 10.0, 100.0], 0.02), ([10.0, 10.5, 11.0, 100.0], 0.01)])
def test_the_segment_floor_is_chosen_by_how_many_events_the_median_customer_has(events, floor):
    """1 % where the median customer has more than 10 events in the window, else 2 % (tuning:
    benchmarks/results/granularity_floor_v18.md); the reason names the median."""
    from types import SimpleNamespace

    from segmentation.workflows.snapshot import make_pipeline, segment_floor

    table = SimpleNamespace(frame=pd.DataFrame({"frequency": events, "event_view": 0.5}))
    share, why = segment_floor(table, SnapshotParams())
    assert share == floor
    assert f"median customer has {float(np.median(events)):g} events" in why
    assert segment_floor(table, SnapshotParams(min_cluster_share=0.05)) == (
        0.05, "a segment must hold at least 5.0% of the fitted customers, as configured")
    assert segment_floor(SimpleNamespace(frame=pd.DataFrame({"event_view": [0.5]})), SnapshotParams())[0] == 0.02
    table.catalog, table.reliability, table.choices = [], None, {}
    assert make_pipeline(table, SnapshotParams()).min_cluster_size == floor


@pytest.mark.parametrize("median, previous, floor", [(9, 0.01, 0.01), (12, 0.02, 0.02), (14, 0.02, 0.02),
                                                     (15, 0.02, 0.01), (7, 0.01, 0.02), (12, None, 0.01)])
def test_a_timeline_keeps_its_floor_while_the_median_is_where_either_floor_fits(median, previous, floor):
    """Between 8 and 14 events the tuning data gave the same floors for any line: there the previous
    snapshot's choice stays, so a median near 10 does not flip the floor (and refit) every snapshot."""
    from types import SimpleNamespace

    from segmentation.workflows.snapshot import segment_floor

    table = SimpleNamespace(frame=pd.DataFrame({"frequency": [median] * 3}))
    share, why = segment_floor(table, SnapshotParams(), None if previous is None else {"share": previous})
    assert share == floor
    assert ("as the data chose at the previous snapshot" in why) == (previous is not None and 8 <= median <= 14)


@pytest.mark.parametrize("make", [
    lambda: pipeline_module.SegmentationPipeline("passthrough"),
    lambda: pipeline_module.AutoEncoderTransformer(8),
    lambda: pipeline_module.FeaturePreprocessor([0, 1]),
    lambda: ae.fit_autoencoder(np.zeros((4, 2), dtype=np.float32), 8),
    lambda: ae.LitAutoEncoder(4, (8,)),
])
def test_construction_is_keyword_only(make):
    with pytest.raises(TypeError, match="positional argument"):
        make()


# ---------------------------------------------------------------- one spelling for "skip this step"
def _pipeline(**params):
    return pipeline_module.SegmentationPipeline(**params)


def test_none_is_the_default_step_and_passthrough_leaves_it_out():
    from segmentation.engine.steps import AutoEncoderTransformer, Identity

    for spelling in (None, "autoencoder"):
        encoder = step_factory.make_encoder(_pipeline(encoder=spelling, latent_dim=5))
        assert type(encoder) is AutoEncoderTransformer and encoder.latent_dim == 5
    assert type(step_factory.make_encoder(_pipeline(encoder="passthrough"))) is Identity

    reducer = step_factory.make_reducer(_pipeline(reducer=None, cluster_dims=3), n_rows=100)
    assert type(reducer).__name__ == "UMAP" and reducer.n_components == 3
    assert type(step_factory.make_reducer(_pipeline(reducer="passthrough"), n_rows=100)) is Identity

    map_reducer = step_factory.make_map_reducer(_pipeline(map_reducer=None), n_rows=100)
    assert type(map_reducer).__name__ == "UMAP" and map_reducer.n_components == 2
    assert step_factory.make_map_reducer(_pipeline(map_reducer="passthrough"), n_rows=100) is None


def test_min_samples_is_a_share_of_the_fitted_rows_below_one_as_min_cluster_size():
    def clusterer(min_samples, n_rows=4000):
        pipeline = _pipeline(min_samples=min_samples)
        pipeline.min_cluster_size_ = 40
        return step_factory.make_clusterer(pipeline, n_rows)

    assert clusterer(None).min_samples is None  # HDBSCAN's own rule: min_cluster_size
    assert clusterer(0.02).min_samples == 80
    assert clusterer(0.02, n_rows=1000).min_samples == 20
    assert clusterer(0.001, n_rows=1000).min_samples == 5  # never below 5, as min_cluster_size
    assert clusterer(25).min_samples == 25


@pytest.fixture(scope="module")
def blobs():
    from sklearn.datasets import make_blobs

    X, y = make_blobs(n_samples=300, n_features=6, centers=3, cluster_std=1.0, random_state=2)
    return X, y


def test_every_step_left_out_with_passthrough_in_a_fit(blobs):
    from sklearn.cluster import KMeans

    from segmentation.engine.steps import Identity

    X, _ = blobs
    model = _pipeline(encoder="passthrough", reducer="passthrough", map_reducer="passthrough",
                      clusterer=KMeans(n_clusters=3, n_init=2, random_state=0)).fit(X)
    assert type(model.encoder_) is Identity and type(model.reducer_) is Identity and model.map_reducer_ is None
    assert np.isnan(model.map_embedding_).all() and model.n_segments_ == 3
    assert (model.reconstruction_error_ == 0).all()  # nothing to reconstruct with


def test_encoder_none_fits_the_autoencoder(blobs):
    from sklearn.cluster import KMeans

    from segmentation.engine.steps import AutoEncoderTransformer

    X, _ = blobs
    model = _pipeline(encoder=None, latent_dim=3, hidden_dims=(8,), max_epochs=2, reducer="passthrough",
                      map_reducer="passthrough", clusterer=KMeans(n_clusters=3, n_init=2, random_state=0)).fit(X)
    # The 6 features beside the 3-d code (input_weight, on by default).
    assert type(model.encoder_) is AutoEncoderTransformer and model.transform(X[:4]).shape == (4, 6 + 3)
    assert model.encoder_.model_.hparams.input_dropout == 0.3  # the engine's default reached the training


@pytest.mark.parametrize("params, message", [
    ({"encoder": "pca"}, "unknown encoder 'pca': use 'autoencoder', None"),
    ({"reducer": "umap"}, "unknown reducer 'umap': use None \\(the default\\) or 'passthrough'"),
    ({"map_reducer": "drop"}, "map_reducer='drop' is spelled 'passthrough' now"),
    ({"clusterer": "passthrough"}, "unknown clusterer 'passthrough': use None \\(HDBSCAN\\)"),
    ({"refine_neighbors": 0}, "refine_neighbors must be a positive number of neighbours, or None"),
    ({"merge_alpha": 0}, "merge_alpha must be between 0 and 1, or None"),
    ({"outlier_floor": "off"}, "outlier_floor must be a number, or None"),
    ({"reproducible_below": 0}, "reproducible_below must be a positive share of the fit sample"),
], ids=lambda value: str(value)[:30])
def test_other_spellings_are_refused_when_fitting(blobs, params, message):
    X, _ = blobs
    steps = {"encoder": "passthrough", "reducer": "passthrough", "map_reducer": "passthrough"}
    with pytest.raises(ValueError, match=message):
        _pipeline(**{**steps, **params}).fit(X)


def test_post_processing_switches_are_off_with_none(blobs):
    from sklearn.cluster import KMeans

    X, _ = blobs
    steps = dict(encoder="passthrough", reducer="passthrough", map_reducer="passthrough",
                 clusterer=KMeans(n_clusters=3, n_init=2, random_state=0))
    plain = _pipeline(refine_neighbors=None, merge_alpha=None, twin_distance=None, outlier_floor=None, **steps).fit(X)
    np.testing.assert_array_equal(plain.labels_, plain.clusterer_.labels_)
    assert plain.refined_share_ == 0.0 and "twins not merged" in plain.granularity_["why"]


# ---------------------------------------------------------------- models stored by the code before
def _old_spelling(model) -> None:
    """``model`` as the code before issue 17 spelled it: the encoder skipped with None, no map with "drop"."""
    model.encoder, model.map_reducer, model.refine_neighbors = None, "drop", 0


def test_a_pipeline_pickled_with_the_old_spellings_reads_them_in_todays(blobs, tmp_path):
    import pickle

    import joblib
    from sklearn.base import clone
    from sklearn.cluster import KMeans

    X, _ = blobs
    model = _pipeline(encoder="passthrough", reducer="passthrough", map_reducer="passthrough", refine_neighbors=None,
                      clusterer=KMeans(n_clusters=3, n_init=2, random_state=0)).fit(X)
    expected = model.assign(X)
    _old_spelling(model)
    loaded = pickle.loads(pickle.dumps(model))
    assert (loaded.encoder, loaded.map_reducer, loaded.refine_neighbors) == ("passthrough", "passthrough", None)
    pd.testing.assert_frame_equal(loaded.assign(X), expected)
    # Through save/load too, and a refit of the loaded parameters fits what was fitted.
    _old_spelling(loaded)
    path = loaded.save(tmp_path / "model")
    state = joblib.load(path / "pipeline.joblib")
    assert state["encoder"] is None and state["map_reducer"] == "drop"  # as the old code stored it
    again = pipeline_module.SegmentationPipeline.load(path)
    assert (again.encoder, again.map_reducer, again.refine_neighbors) == ("passthrough", "passthrough", None)
    pd.testing.assert_frame_equal(again.assign(X), expected)
    pd.testing.assert_frame_equal(clone(again).fit(X).assign(X), expected)


def test_an_autoencoder_saved_before_the_denoising_parameters_gets_their_old_values(tmp_path):
    import torch

    from segmentation.engine.defaults import BEFORE_ADDED

    system = ae.LitAutoEncoder(4, hidden_dims=(8,), latent_dim=2)
    ae.save_autoencoder(system, tmp_path / "ae.pt")
    saved = torch.load(tmp_path / "ae.pt", weights_only=True)
    for name in ("input_dropout", "noise_std"):
        del saved["hparams"][name]
    torch.save(saved, tmp_path / "ae.pt")
    loaded = ae.load_autoencoder(tmp_path / "ae.pt")
    assert (loaded.hparams.input_dropout, loaded.hparams.noise_std) == (BEFORE_ADDED["input_dropout"],
                                                                       BEFORE_ADDED["noise_std"]) == (0.1, 0.05)


def test_the_behaviour_mix_leaves_out_trend():
    # trend is 1 for anyone who signed up in the window: a growing segment's sign-ups would differ
    # from its regulars by it alone (the descent split them off over a timeline).
    table = small_table()
    rng = np.random.default_rng(1)
    table.frame["trend"] = rng.uniform(0, 1, len(table.frame))
    table.catalog.append(Feature("trend", "trend", "trend", "share"))
    table.reliability["trend"] = 1.0
    from segmentation.workflows.snapshot import clustering_frame

    pipeline = make_pipeline(table, SnapshotParams())
    assert pipeline.mix_columns == ["share_app", "night_share"]
    assert "trend" in clustering_frame(table, SnapshotParams()).columns  # clustered, only not in the mix

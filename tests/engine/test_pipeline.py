"""SegmentationPipeline: estimator contract, quality on a planted set, reproducibility,
fit-sample/assign agreement, persistence in a new process, bad input."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.cluster import KMeans
from sklearn.datasets import make_blobs
from sklearn.decomposition import PCA
from sklearn.exceptions import NotFittedError

from segmentation.errors import InputError
from segmentation.engine.metrics import adjusted_rand
from segmentation.engine.pipeline import FeaturePreprocessor, PipelineInputError, SegmentationPipeline
from tests.helpers import ROOT

PARAMS = dict(latent_dim=8, hidden_dims=(32,), max_epochs=30, min_cluster_size=0.05, random_state=11)


@pytest.fixture(scope="session")
def planted():
    """900 customers, 8 features, 5 planted segments; index = customer ids."""
    X, y = make_blobs(n_samples=900, n_features=8, centers=5, cluster_std=1.2, random_state=4)
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(8)], index=[f"c{i}" for i in range(900)])
    return frame, y


@pytest.fixture(scope="session")
def fitted(planted):
    X, _ = planted
    pipeline = SegmentationPipeline(**PARAMS)
    returned = pipeline.fit(X)
    assert returned is pipeline  # fit returns self
    return pipeline


@pytest.fixture(scope="session")
def sampled(planted):
    """Fitted on a 500-row sample, the other 400 rows assigned."""
    X, _ = planted
    return SegmentationPipeline(**{**PARAMS, "fit_sample_size": 500}).fit(X)


def fast(**kw) -> SegmentationPipeline:
    """No autoencoder, no UMAP: a pipeline that fits in well under a second."""
    return SegmentationPipeline(**{"encoder": "passthrough", "reducer": "passthrough", "map_reducer": "passthrough",
                                   "min_cluster_size": 0.05, **kw})


def test_recovers_planted_segments(planted, fitted):
    _, y = planted
    assert adjusted_rand(y, fitted.labels_) >= 0.95
    assert fitted.n_segments_ == 5
    assert fitted.noise_share_ <= 0.05


def test_fitted_attributes(planted, fitted):
    X, _ = planted
    n = len(X)
    assert list(fitted.feature_names_in_) == list(X.columns) and fitted.n_features_in_ == 8
    assert fitted.labels_.shape == (n,) and fitted.probabilities_.shape == (n,)
    assert fitted.map_embedding_.shape == (n, 2) and np.isfinite(fitted.map_embedding_).all()
    assert fitted.reconstruction_error_.shape == (n,) and (fitted.reconstruction_error_ >= 0).all()
    assert ((fitted.probabilities_ >= 0) & (fitted.probabilities_ <= 1)).all()
    assert fitted.noise_share_ == pytest.approx(np.mean(fitted.labels_ == -1))
    assert fitted.min_cluster_size_ == 45  # 5 % of 900 rows
    assert fitted.transform(X.iloc[:10]).shape == (10, 8)  # cluster_dims


def test_not_fitted_errors():
    pipeline = SegmentationPipeline()
    for call in (lambda: pipeline.assign(np.zeros((3, 2))), lambda: pipeline.predict(np.zeros((3, 2))),
                 lambda: pipeline.transform(np.zeros((3, 2))), lambda: pipeline.save("unused")):
        with pytest.raises(NotFittedError):
            call()


def test_init_only_stores_params_and_clone_round_trips(fitted):
    odd = SegmentationPipeline(min_cluster_size=-3, encoder="no-such-thing")  # validated in fit, not here
    assert odd.get_params()["min_cluster_size"] == -3
    copy = clone(fitted)
    assert copy.get_params() == fitted.get_params()
    assert not hasattr(copy, "labels_")
    copy.set_params(latent_dim=6, outlier_floor=0.2)
    assert copy.get_params()["latent_dim"] == 6 and copy.get_params()["outlier_floor"] == 0.2


def test_same_seed_gives_identical_labels(planted, fitted):
    X, _ = planted
    again = SegmentationPipeline(**PARAMS).fit(X)
    np.testing.assert_array_equal(again.labels_, fitted.labels_)
    np.testing.assert_array_equal(again.map_embedding_, fitted.map_embedding_)


def test_assign_agrees_with_fit_labels(planted, fitted):
    X, _ = planted
    scored = fitted.assign(X, batch_size=250)
    assert list(scored.columns) == ["segment_id", "probability", "x", "y", "reconstruction_error"]
    assert scored.index.equals(X.index)
    assert np.mean(scored["segment_id"].to_numpy() == fitted.labels_) >= 0.95
    np.testing.assert_allclose(scored["reconstruction_error"], fitted.reconstruction_error_, rtol=1e-4, atol=1e-6)
    np.testing.assert_array_equal(fitted.predict(X), scored["segment_id"].to_numpy())


def test_fit_on_sample_assigns_everyone(planted, sampled):
    X, y = planted
    assert len(sampled.fit_sample_index_) == 500 and len(sampled.labels_) == 900
    out = np.setdiff1d(np.arange(900), sampled.fit_sample_index_)
    assert adjusted_rand(y[out], sampled.labels_[out]) >= 0.95  # rows the models never saw
    assert np.mean(sampled.assign(X)["segment_id"].to_numpy() == sampled.labels_) >= 0.95
    # UMAP/HDBSCAN only ever saw the sample.
    assert sampled.reducer_.embedding_.shape[0] == 500


def test_columns_are_matched_by_name(planted, fitted):
    X, _ = planted
    shuffled = X[X.columns[::-1]].assign(extra=1.0)
    np.testing.assert_array_equal(fitted.predict(shuffled.iloc[:50]), fitted.predict(X.iloc[:50]))
    with pytest.raises(PipelineInputError, match="missing for scoring: f3"):
        fitted.assign(X.drop(columns="f3"))


def test_save_and_load_in_a_new_process(tmp_path, planted, fitted):
    X, _ = planted
    fitted.save(tmp_path / "model")
    X.to_parquet(tmp_path / "X.parquet")
    script = textwrap.dedent(f"""
        import sys; sys.path.insert(0, {str(ROOT)!r})
        import pandas as pd
        from segmentation.engine.pipeline import SegmentationPipeline
        model = SegmentationPipeline.load({str(tmp_path / "model")!r})
        model.assign(pd.read_parquet({str(tmp_path / "X.parquet")!r})).to_parquet({str(tmp_path / "out.parquet")!r})
    """)
    subprocess.run([sys.executable, "-c", script], check=True, timeout=300)
    reloaded = pd.read_parquet(tmp_path / "out.parquet")
    expected = fitted.assign(X)
    pd.testing.assert_frame_equal(reloaded, expected, check_exact=False, rtol=1e-5)
    assert not hasattr(SegmentationPipeline.load(tmp_path / "model"), "labels_")  # per-row results not stored


def test_denoising_settings_reach_the_autoencoder_and_old_models_still_load(tmp_path, planted, fitted):
    """``input_dropout``/``noise_std`` are pipeline parameters; older saved models keep working."""
    X, _ = planted
    clean = SegmentationPipeline(**{**PARAMS, "max_epochs": 2, "map_reducer": "passthrough",
                                    "input_dropout": 0.3, "noise_std": 0.0}).fit(X)
    assert clean.encoder_.model_.hparams.input_dropout == 0.3 and clean.encoder_.model_.hparams.noise_std == 0.0
    assert fitted.encoder_.model_.hparams.input_dropout == 0.3 and fitted.encoder_.model_.hparams.noise_std == 0.2
    import joblib

    path = fitted.save(tmp_path / "model")
    state = joblib.load(path / "pipeline.joblib")
    for name in ("input_dropout", "noise_std"):  # as a model saved before these were parameters
        del state[name], state["encoder_"].__dict__[name]
    del state["refine_neighbors"]
    joblib.dump(state, path / "pipeline.joblib")
    old = SegmentationPipeline.load(path)
    # It gets the values it was fitted with (those versions' fixed ones), not today's defaults.
    assert old.get_params()["noise_std"] == 0.05 and old.encoder_.get_params()["input_dropout"] == 0.1
    assert old.get_params()["refine_neighbors"] is None
    pd.testing.assert_frame_equal(old.assign(X), fitted.assign(X), check_exact=False, rtol=1e-5)


def test_an_ensemble_is_saved_member_by_member_and_a_single_autoencoder_model_still_loads(tmp_path, planted, fitted):
    """``ensemble_size=3`` trains and saves three autoencoders; a model saved before the ensemble has one."""
    import json

    import joblib

    X, _ = planted
    ensemble = SegmentationPipeline(**{**PARAMS, "max_epochs": 3, "map_reducer": "passthrough",
                                       "ensemble_size": 3}).fit(X)
    assert len(ensemble.encoder_.members_) == 3 and ensemble.encoder_.latent_scale_.shape == (3 * PARAMS["latent_dim"],)
    path = ensemble.save(tmp_path / "ensemble")
    assert sorted(p.name for p in path.glob("autoencoder*.pt")) == ["autoencoder.pt", "autoencoder_1.pt",
                                                                   "autoencoder_2.pt"]
    loaded = SegmentationPipeline.load(path)
    pd.testing.assert_frame_equal(loaded.assign(X), ensemble.assign(X), check_exact=False, rtol=1e-5)

    path = fitted.save(tmp_path / "single")  # the default: one autoencoder
    state = joblib.load(path / "pipeline.joblib")  # as saved before the ensemble: no size, no latent scaling
    del state["ensemble_size"], state["encoder_"].__dict__["ensemble_size"]
    for name in ("latent_centre_", "latent_scale_"):
        del state["encoder_"].__dict__[name]
    joblib.dump(state, path / "pipeline.joblib")
    manifest = json.loads((path / "manifest.json").read_text())
    del manifest["autoencoders"]
    (path / "manifest.json").write_text(json.dumps(manifest))
    old = SegmentationPipeline.load(path)
    assert old.get_params()["ensemble_size"] == 1 and len(old.encoder_.members()) == 1
    pd.testing.assert_frame_equal(old.assign(X), fitted.assign(X), check_exact=False, rtol=1e-5)


def test_a_model_saved_before_input_weight_still_encodes_with_its_code_alone(tmp_path, planted):
    """A model fitted with the code alone and saved before ``input_weight`` existed scores as it was fitted."""
    import joblib

    X, _ = planted
    code_alone = SegmentationPipeline(**{**PARAMS, "max_epochs": 3, "map_reducer": "passthrough",
                                         "input_weight": 0.0}).fit(X)
    assert code_alone.encoder_.transform(code_alone.preprocessor_.transform(X.to_numpy())).shape[1] == PARAMS["latent_dim"]
    path = code_alone.save(tmp_path / "model")
    state = joblib.load(path / "pipeline.joblib")
    del state["input_weight"], state["encoder_"].__dict__["input_weight"]
    for name in ("input_centre_", "input_norm_", "code_centre_", "code_norm_"):
        state["encoder_"].__dict__.pop(name, None)
    joblib.dump(state, path / "pipeline.joblib")
    old = SegmentationPipeline.load(path)
    assert old.get_params()["input_weight"] == 0.0 and old.encoder_.get_params()["input_weight"] == 0.0
    pd.testing.assert_frame_equal(old.assign(X), code_alone.assign(X), check_exact=False, rtol=1e-5)


def test_load_missing_directory_is_a_clear_error(tmp_path):
    with pytest.raises(InputError, match="no saved segmentation model"):
        SegmentationPipeline.load(tmp_path)


def test_swappable_steps(planted):
    X, y = planted
    model = SegmentationPipeline(encoder=PCA(n_components=4), reducer="passthrough", map_reducer="passthrough",
                                 clusterer=KMeans(n_clusters=5, n_init=4, random_state=0)).fit(X)
    assert adjusted_rand(y, model.labels_) >= 0.95
    assert np.isnan(model.map_embedding_).all()
    assert (model.reconstruction_error_ >= 0).all() and model.reconstruction_error_.mean() > 0
    np.testing.assert_array_equal(model.predict(X), model.labels_)


def test_folding_a_segment_changes_the_fitted_labels_and_what_the_models_assign(planted, tmp_path):
    X, _ = planted
    pipeline = fast().fit(X)
    before = pipeline.labels_.copy()
    sizes = np.bincount(before[before >= 0])
    assert len(sizes) == 5 and np.all(np.diff(sizes) <= 0)  # numbered by size, largest first
    id_map = pipeline.fold_segments({4: 1, 3: 4}, why=[{"segment": 4}, {"segment": 3}])  # 3 -> 4 -> 1
    # segments 1, 3 and 4 are one now, the largest: id 0; the others keep their order by size
    assert id_map.tolist() == [1, 0, 2, 0, 0]
    np.testing.assert_array_equal(pipeline.labels_, np.where(before >= 0, id_map[np.maximum(before, 0)], -1))
    assert pipeline.n_segments_ == 3 and pipeline.granularity_["segments"] == 3
    assert [f["segment"] for f in pipeline.granularity_["folded"]] == [4, 3]
    assert pipeline.granularity_["why"].endswith("; 2 folded into another after the fit, leaving 3")
    with pytest.raises(ValueError, match="circle"):
        pipeline.fold_segments({0: 1, 1: 0})
    with pytest.raises(ValueError, match="noise"):
        pipeline.fold_segments({0: -1})
    # the models give the folded segments from now on, and after a save and a load
    np.testing.assert_array_equal(pipeline.predict(X), pipeline.labels_)
    loaded = SegmentationPipeline.load(pipeline.save(tmp_path / "folded"))
    np.testing.assert_array_equal(loaded.predict(X), pipeline.labels_)


def test_outlier_reduction_only_lowers_noise():
    X, _ = make_blobs(n_samples=600, n_features=4, centers=4, cluster_std=1.5, random_state=4)
    background = np.random.default_rng(0).uniform(X.min(0), X.max(0), size=(60, 4))
    X = np.vstack([X, background])
    plain = fast(outlier_floor=None).fit(X)  # off (the default floor is 0.1)
    reduced = fast(outlier_floor=0.05).fit(X)
    assert plain.noise_share_ > 0.05
    assert reduced.noise_share_ < 0.02
    clustered = plain.labels_ >= 0
    np.testing.assert_array_equal(reduced.labels_[clustered], plain.labels_[clustered])
    # A floor above every membership changes nothing.
    np.testing.assert_array_equal(fast(outlier_floor=1.01).fit(X).labels_, plain.labels_)


def test_neighbour_vote_puts_torn_customers_back():
    # A 2-component PCA as the cluster space mixes up customers near the borders of 4 blobs in 6-D;
    # the vote over their 15 nearest customers in the feature space puts them back.
    X, y = make_blobs(n_samples=1200, n_features=6, centers=4, cluster_std=2.0, random_state=3)
    steps = dict(encoder=PCA(n_components=2), reducer="passthrough", map_reducer="passthrough",
                 clusterer=KMeans(n_clusters=4, n_init=4, random_state=0), polish=None)
    plain = SegmentationPipeline(refine_neighbors=None, **steps).fit(X)
    voted = SegmentationPipeline(**steps).fit(X)
    assert voted.get_params()["refine_neighbors"] == 15  # on by default
    np.testing.assert_array_equal(plain.labels_, plain.clusterer_.labels_)
    assert plain.refined_share_ == 0.0
    assert adjusted_rand(y, plain.labels_) == pytest.approx(0.928, abs=0.005)
    assert adjusted_rand(y, voted.labels_) >= 0.995
    moved = voted.labels_ != plain.labels_
    assert voted.refined_share_ == pytest.approx(moved.mean()) and 0.01 < voted.refined_share_ < 0.05
    # A moved customer's probability is its new segment's share of the 16 votes; others keep theirs.
    assert ((voted.probabilities_[moved] > 0.25) & (voted.probabilities_[moved] <= 1)).all()
    np.testing.assert_array_equal(voted.probabilities_[~moved], plain.probabilities_[~moved])
    np.testing.assert_array_equal(voted.predict(X), voted.labels_)  # assign agrees with the voted labels


def test_log_columns_and_constant_columns():
    X = pd.DataFrame({"orders": [0, 1, 10, 100, 1000.0], "flat": 3.0, "refunds": [-10, 0, 1, 2, 3.0]})
    pre = FeaturePreprocessor(log_columns=[0, 2], scaler="global").fit(X.to_numpy())
    assert list(pre.keep_) == [0, 2]  # the constant column is dropped
    out = pre.transform(X.to_numpy())
    assert out.dtype == np.float32 and out.shape == (5, 2)
    # log1p makes the orders column evenly spaced-ish; signed log keeps refunds ordered.
    assert np.all(np.diff(out[:, 1]) > 0)


@pytest.mark.parametrize("scaler", ["standard", "quantile", "global"])
def test_scalers_give_finite_output(scaler, planted):
    X, _ = planted
    out = FeaturePreprocessor(scaler=scaler).fit(X.to_numpy()).transform(X.to_numpy())
    assert np.isfinite(out).all() and out.shape == (900, 8)


def test_too_few_customers(planted):
    X, _ = planted
    with pytest.raises(PipelineInputError, match="12 customers are too few to segment: need at least 20"):
        fast().fit(X.iloc[:12])
    with pytest.raises(InputError):  # user-facing error class too
        fast(min_cluster_size=50).fit(X.iloc[:80])


def test_all_constant_columns():
    X = pd.DataFrame({"a": np.ones(50), "b": np.zeros(50)})
    with pytest.raises(PipelineInputError, match="no features left: all 2 feature columns are constant"):
        fast().fit(X)


def test_nan_and_inf_are_named(planted):
    X, _ = planted
    bad = X.copy()
    bad.loc["c7", "f2"] = np.nan
    with pytest.raises(PipelineInputError, match=r"feature 'f2' has a missing or infinite value \(nan\) at row 'c7'"):
        fast().fit(bad)
    arr = X.to_numpy().copy()
    arr[3, 1] = np.inf
    with pytest.raises(ValueError, match="'x1'.*at row 3"):
        fast().fit(arr)


def test_non_numeric_column(planted):
    X, _ = planted
    with pytest.raises(PipelineInputError, match="'name' is not numeric"):
        fast().fit(X.assign(name="x"))


def test_unknown_log_column(planted):
    X, _ = planted
    with pytest.raises(PipelineInputError, match="log_columns names unknown feature"):
        fast(log_columns=["nope"]).fit(X)


def test_small_data_umap_gets_the_same_exact_neighbours_from_scikit_learn():
    """Below 4,096 rows UMAP's own exact search is a Python loop over pairs; the scikit-learn search
    handed over instead finds the same neighbours, so the embedding is UMAP's own."""
    import umap

    from segmentation.engine.steps import fit_transform_umap

    X, _ = make_blobs(n_samples=400, n_features=6, centers=4, random_state=2)
    X = X.astype(np.float32)
    own = umap.UMAP(n_components=3, n_neighbors=15, random_state=0, n_jobs=1).fit(X)
    fast = umap.UMAP(n_components=3, n_neighbors=15, random_state=0, n_jobs=1)
    embedding = fit_transform_umap(fast, X, mapping=None)
    assert fast.precomputed_knn[0] is not None  # the shortcut was taken
    # the same neighbour graph: same edges, same fuzzy memberships
    assert (own.graph_ != 0).sum() == (fast.graph_ != 0).sum()
    assert abs(own.graph_ - fast.graph_).max() < 1e-4
    assert adjusted_rand(KMeans(4, n_init=4, random_state=0).fit_predict(embedding),
                         KMeans(4, n_init=4, random_state=0).fit_predict(own.embedding_)) > 0.99
    kept = umap.UMAP(n_components=3, n_neighbors=15, random_state=0, n_jobs=1)
    fit_transform_umap(kept, X, mapping="transform")  # UMAP's own transform is needed: own search kept
    assert kept.precomputed_knn[0] is None and kept.transform(X[:5]).shape == (5, 3)


def _blas_threads() -> int:
    from threadpoolctl import threadpool_info

    return max(pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas")


def _skip_without_blas_threads() -> None:
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=2, user_api="blas"):
        if _blas_threads() < 2:
            pytest.skip("this BLAS runs on one thread whatever it is told: there is nothing to limit")


class _Seen:
    """Not a UMAP (handed straight to fit_transform): notes the BLAS threads its fit runs on, after
    ``entered`` is set and ``wait_for`` is set (or 2 s have passed)."""

    def __init__(self, seen: dict, name: str = "fit", entered=None, wait_for=None):
        self.seen, self.name, self.entered, self.wait_for = seen, name, entered, wait_for

    def fit_transform(self, X):
        if self.entered is not None:
            self.entered.set()
        if self.wait_for is not None:
            self.wait_for.wait(timeout=2)  # the other fit, were it let in meanwhile
        self.seen[self.name] = _blas_threads()
        return X


def test_the_umap_layout_does_not_depend_on_how_many_threads_blas_has():
    """Above ~10,000 rows UMAP's spectral start differs in its last bits between one BLAS thread and
    two, and the layout grows apart from there (12,000 rows, 30 epochs: up to 4.6 apart without the
    limit). The fit runs on one BLAS thread whatever the machine has, so the layouts are the same."""
    import umap
    from threadpoolctl import threadpool_limits

    from segmentation.engine.steps import fit_transform_umap

    X, _ = make_blobs(n_samples=12_000, n_features=10, centers=8, cluster_std=3.0, random_state=0)
    X = X.astype(np.float32)
    layouts = []
    for threads in (1, 2):
        with threadpool_limits(limits=threads, user_api="blas"):
            reducer = umap.UMAP(n_components=5, n_neighbors=15, min_dist=0.0, n_epochs=30, random_state=0)
            layouts.append(fit_transform_umap(reducer, X, mapping=None))
    assert np.array_equal(layouts[0], layouts[1])


def test_umap_fits_in_two_threads_each_run_on_one_blas_thread_and_give_the_threads_back():
    """The BLAS limit belongs to the process: two fits at once (the app's snapshots on two databases)
    take turns, so the first to finish cannot hand the other its threads back mid-fit, and the count
    the process had is restored at the end."""
    import threading

    from threadpoolctl import threadpool_limits

    from segmentation.engine.steps import fit_transform_umap

    _skip_without_blas_threads()
    first_in, second_in, first_done = threading.Event(), threading.Event(), threading.Event()
    seen = {}

    def fit(name, entered, wait_for):
        fit_transform_umap(_Seen(seen, name, entered, wait_for), np.zeros((3, 2), np.float32), mapping=None)
        if name == "first":
            first_done.set()

    with threadpool_limits(limits=2, user_api="blas"):
        before = _blas_threads()
        first = threading.Thread(target=fit, args=("first", first_in, second_in))
        first.start()
        assert first_in.wait(timeout=5)
        second = threading.Thread(target=fit, args=("second", second_in, first_done))
        second.start()
        first.join(), second.join()
        after = _blas_threads()
    assert seen == {"first": 1, "second": 1} and after == before == 2


def test_a_limit_another_thread_sets_as_the_fit_starts_does_not_take_the_fits_one_blas_thread(monkeypatch):
    """scikit-learn limits BLAS in its own calls (nearest neighbours, KMeans), in whatever thread runs
    them: another job's call landing just as a fit starts must not take threadpoolctl's control of
    OpenBLAS from the fit (it would skip the fit's limit and later restore its own count mid-fit)."""
    import threading

    from threadpoolctl import threadpool_limits

    from segmentation.engine import steps

    _skip_without_blas_threads()
    other_limits, release = [], threading.Event()

    def other_job():  # asks for 2 threads, holds them, gives them back when released
        other_limits.append(threadpool_limits(limits=2, user_api="blas"))
        release.wait(timeout=10)
        other_limits[0].restore_original_limits()

    def other_job_lands_first(*args, **kwargs):  # the other job's call arrives right before the fit's own
        other = threading.Thread(target=other_job)
        other.start()
        while not other_limits:
            other.join(timeout=0.01)
        return threadpool_limits(*args, **kwargs)

    seen = {}
    monkeypatch.setattr(steps, "threadpool_limits", other_job_lands_first)
    try:
        steps.fit_transform_umap(_Seen(seen), np.zeros((3, 2), np.float32), mapping=None)
    finally:
        release.set()
    assert seen == {"fit": 1}


def test_the_cluster_space_takes_more_neighbours_only_on_a_large_fit_sample():
    """v30's option: UMAP's cluster-space neighbours at least 0.06 % of the fit sample (README v30), so
    every sample under 25,000 rows keeps 15 and a 50,000-row one gets 30; the 2-D map keeps 15. Off by
    default."""
    from segmentation.engine.step_factory import cluster_neighbours, make_map_reducer, make_reducer

    assert make_reducer(SegmentationPipeline(), 50_000).n_neighbors == 15
    pipeline = SegmentationPipeline(neighbors_share=0.0006)
    assert [cluster_neighbours(pipeline, n) for n in (4_000, 20_000, 25_000, 25_001, 50_000, 100_000)] == [
        15, 15, 15, 16, 30, 60]
    assert make_reducer(pipeline, 50_000).n_neighbors == 30
    assert make_map_reducer(pipeline, 50_000).n_neighbors == 15
    assert make_reducer(pipeline.set_params(neighbors_share=None), 50_000).n_neighbors == 15
    assert make_reducer(SegmentationPipeline(n_neighbors=40), 50_000).n_neighbors == 40  # never fewer than asked
    with pytest.raises(ValueError, match="neighbors_share must be a share of the fit sample"):
        SegmentationPipeline(neighbors_share=1.5).fit(np.random.default_rng(0).normal(size=(60, 3)))


def test_too_few_customers_says_how_many_are_needed_and_why():
    """An analyst's walk read "need at least 20 (two segments of min_cluster_size=5)": 2 × 5 is not 20."""
    from segmentation.engine.inputs import check_enough_rows

    with pytest.raises(PipelineInputError, match=r"^6 customers are too few to segment: need at least 20 \(the "
                                                 r"fewest the workbench segments\)$"):
        check_enough_rows(6, 6, 5)
    with pytest.raises(PipelineInputError, match=r"^1,000 customers are too few to segment: need at least 1,200 \(two "
                                                 r"segments of at least 600 customers each\)$"):
        check_enough_rows(1000, 1000, 600)
    check_enough_rows(1200, 1200, 600)  # enough

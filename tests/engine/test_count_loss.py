"""The autoencoder's count-aware loss (off in the engine; the snapshot trains with it since v25): targets, likelihood,
training, persistence."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from segmentation.engine.autoencoder import (LitAutoEncoder, encode, fit_autoencoder, load_autoencoder,
                                             reconstruction_error, save_autoencoder)
from segmentation.engine.inputs import count_targets
from segmentation.engine.pipeline import SegmentationPipeline


def test_count_targets_group_shares_by_name_and_give_a_lone_share_its_rest():
    names = ["frequency", "channel_web", "channel_app", "weekend", "recency_days"]
    values = np.array([[10.0, 0.7, 0.3, 0.2, 5.0],
                       [4.0, 0.0, 1.0, 0.5, 9.0]])
    # the preprocessing dropped nothing but recency_days: the autoencoder's columns are 0..3
    families, counts = count_targets(names, {1: 0, 2: 0, 3: 0}, kept=[0, 1, 2, 3], values=values)
    assert families == [[1, 2], [3]]
    np.testing.assert_allclose(counts, [[7, 3, 2, 8], [0, 4, 2, 2]])
    # a share the preprocessing dropped is no target, and positions follow the kept columns
    families, counts = count_targets(names, {1: 0, 2: 0, 3: 0}, kept=[0, 2, 3], values=values)
    assert families == [[1], [2]]
    np.testing.assert_allclose(counts, [[3, 7, 2, 8], [4, 0, 2, 2]])


def test_the_count_loss_is_the_multinomial_and_binomial_likelihood_of_the_counts():
    system = LitAutoEncoder(4, hidden_dims=[4], latent_dim=2, families=[[1, 2], [3]], count_weight=1.0,
                            count_scale=2.0)
    out = torch.tensor([[0.0, 1.0, -1.0, 0.5]])
    counts = torch.tensor([[3.0, 1.0, 2.0, 6.0]])
    p = torch.softmax(torch.tensor([1.0, -1.0]), 0)
    weekend = torch.sigmoid(torch.tensor(0.5))
    expected = -(3 * torch.log(p[0]) + 1 * torch.log(p[1]) + 2 * torch.log(weekend) + 6 * torch.log(1 - weekend))
    # divided by the count scale and the number of families
    assert system._count_nll(out, counts).item() == pytest.approx(expected.item() / (2.0 * 2), rel=1e-5)
    assert system.plain_columns == [0]


@pytest.fixture(scope="module")
def counted():
    rng = np.random.default_rng(0)
    n = 400
    events = rng.integers(1, 30, n).astype(np.float64)
    web = rng.beta(2, 2, n)
    counts = np.column_stack([web * events, (1 - web) * events])
    X = np.column_stack([np.log1p(events), web, 1 - web, rng.normal(size=n)]).astype(np.float32)
    X = (X - X.mean(0)) / X.std(0)
    return X.astype(np.float32), counts.astype(np.float32)


def test_training_with_counts_reconstructs_and_scores_the_other_columns_only(tmp_path, counted):
    X, counts = counted
    kwargs = dict(latent_dim=2, hidden_dims=(8,), max_epochs=3, batch_size=64, random_state=1)
    model = fit_autoencoder(X, counts=counts, families=[[1, 2]], count_weight=5.0, **kwargs)
    assert model.hparams.families == [[1, 2]] and model.hparams.count_scale == pytest.approx(counts.sum(1).mean())
    plain = [0, 3]
    with torch.no_grad():
        back = model.model(torch.from_numpy(X)).numpy()
    np.testing.assert_allclose(reconstruction_error(model, X), ((back[:, plain] - X[:, plain]) ** 2).mean(1),
                               rtol=1e-5)
    save_autoencoder(model, tmp_path / "ae.pt")
    loaded = load_autoencoder(tmp_path / "ae.pt")
    assert loaded.hparams.families == [[1, 2]] and loaded.plain_columns == plain
    np.testing.assert_array_equal(encode(loaded, X), encode(model, X))
    # the counts are what it trained on: without them the same seed learns another code
    plain_model = fit_autoencoder(X, **kwargs)
    assert not plain_model.hparams.families
    assert not np.allclose(encode(plain_model, X), encode(model, X))
    with pytest.raises(ValueError, match="counts has 10 rows"):
        fit_autoencoder(X, counts=counts[:10], families=[[1, 2]], count_weight=1.0, **kwargs)


def test_the_pipeline_trains_on_counts_only_when_the_option_is_on():
    rng = np.random.default_rng(2)
    n = 300
    frequency = rng.integers(1, 20, n).astype(float)
    web = np.where(np.arange(n) < n // 2, rng.beta(8, 2, n), rng.beta(2, 8, n))
    X = pd.DataFrame({"frequency": frequency, "channel_web": web, "channel_app": 1 - web,
                      "weekend": rng.uniform(0, 1, n)})
    columns = {"channel_web": "frequency", "channel_app": "frequency", "weekend": "frequency"}
    common = dict(latent_dim=2, hidden_dims=(8,), max_epochs=2, cluster_dims=2, map_reducer="passthrough",
                  min_cluster_size=0.1, count_columns=columns, random_state=0)
    on = SegmentationPipeline(count_loss=3.0, **common).fit(X)
    assert on.encoder_.model_.hparams.families == [[1, 2], [3]]
    off = SegmentationPipeline(**common).fit(X)
    assert not off.encoder_.model_.hparams.families


def test_the_count_loss_names_what_it_is_missing():
    from segmentation.engine.inputs import PipelineInputError

    X = pd.DataFrame({"frequency": [3.0, 5.0, 8.0, 2.0] * 25, "channel_web": [0.2, 0.6, 0.9, 0.5] * 25})
    common = dict(latent_dim=2, hidden_dims=(4,), max_epochs=1, cluster_dims=2, map_reducer="passthrough",
                  min_cluster_size=0.2, count_loss=1.0)
    with pytest.raises(PipelineInputError, match="count_loss needs count_columns"):
        SegmentationPipeline(**common).fit(X)
    with pytest.raises(PipelineInputError, match="count_columns names unknown feature.*visits"):
        SegmentationPipeline(count_columns={"channel_web": "visits"}, **common).fit(X)

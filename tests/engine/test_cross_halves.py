"""The autoencoder's cross-half targets (``cross_halves``, an option, off by default): it rebuilds the
behaviour mix of one half of a customer's events from the other."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from segmentation.engine.autoencoder import LitAutoEncoder, fit_autoencoder, reconstruct
from segmentation.engine.inputs import PipelineInputError
from segmentation.engine.pipeline import SegmentationPipeline


def test_the_cross_half_error_scores_each_half_against_the_other_on_the_cross_columns_only():
    torch.manual_seed(0)
    system = LitAutoEncoder(3, hidden_dims=[4], latent_dim=2, cross_columns=[1, 2], cross_weight=0.25)
    system.eval()
    x = torch.tensor([[0.5, 1.0, -1.0], [0.0, 2.0, 0.0]])
    first = torch.tensor([[9.0, 2.0, -2.0], [9.0, 1.0, 1.0]])
    second = torch.tensor([[9.0, 0.0, 0.0], [9.0, 3.0, -1.0]])
    present = torch.tensor([1.0, 0.0])
    with torch.no_grad():
        out = system.model(x)
        errors = system._cross_errors(x, out, (first, second, present), train=False)
        # given the first half's mix (the other columns stay the row's own), scored against the second
        from_first = system.model(torch.tensor([[0.5, 2.0, -2.0]]))[0]
        from_second = system.model(torch.tensor([[0.5, 0.0, 0.0]]))[0]
    plain = (out - x) ** 2
    expected = 0.75 * plain[0, 1:] + 0.25 * ((from_first[1:] - second[0, 1:]) ** 2
                                             + (from_second[1:] - first[0, 1:]) ** 2) / 2
    np.testing.assert_allclose(errors[0, 1:].numpy(), expected.numpy(), rtol=1e-5)
    # the other column, and a row without events in both halves, keep the plain error
    np.testing.assert_allclose(errors[:, 0].numpy(), plain[:, 0].numpy(), rtol=1e-6)
    np.testing.assert_allclose(errors[1].numpy(), plain[1].numpy(), rtol=1e-6)


@pytest.fixture(scope="module")
def halved():
    """Two groups whose mix (columns 1-2) is seen through few events: each half is the group's mix
    plus independent noise, the row its halves' mean; column 0 is noise alone."""
    rng = np.random.default_rng(0)
    n = 1500
    signal = np.where(rng.random(n) < 0.5, -1.0, 1.0)[:, None] * np.array([[1.0, -1.0]])
    first = signal + rng.normal(0, 1.5, (n, 2))
    second = signal + rng.normal(0, 1.5, (n, 2))
    rest = rng.normal(size=(n, 1))
    X = np.hstack([rest, (first + second) / 2]).astype(np.float32)
    halves = (np.hstack([rest, first]).astype(np.float32), np.hstack([rest, second]).astype(np.float32),
              np.ones(n, dtype=np.float32))
    return X, halves, signal


def test_cross_half_targets_rebuild_what_the_customer_repeats_not_the_chance_of_a_few_events(halved):
    X, halves, signal = halved
    kwargs = dict(latent_dim=3, hidden_dims=(16,), max_epochs=40, batch_size=128, random_state=0,
                  input_dropout=0.0, noise_std=0.0, patience=40)
    plain = fit_autoencoder(X, **kwargs)
    crossed = fit_autoencoder(X, halves=halves, cross_columns=[1, 2], cross_weight=1.0, **kwargs)
    assert crossed.hparams.cross_columns == [1, 2] and not plain.hparams.get("cross_columns")

    def error(model):  # how far the rebuilt mix lies from the group's true mix
        return float(((reconstruct(model, X)[:, 1:] - signal) ** 2).mean())

    # the row's own mix is 1.06² off the truth on average; the plain network copies most of that
    # noise, the cross-half one predicts the other half, so it shrinks the row toward its group
    raw = float(((X[:, 1:] - signal) ** 2).mean())
    assert error(crossed) < 0.6 * raw
    assert error(crossed) < 0.75 * error(plain)
    with pytest.raises(ValueError, match="cross_weight is a weight between 0 and 1"):
        LitAutoEncoder(3, cross_columns=[1], cross_weight=3.0)
    with pytest.raises(ValueError, match="halves have"):
        fit_autoencoder(X, halves=(halves[0][:10], halves[1], halves[2]), cross_columns=[1], cross_weight=1.0,
                        **kwargs)


def test_the_pipeline_trains_on_the_halves_mix_only_with_the_option(tmp_path):
    rng = np.random.default_rng(3)
    n = 300
    web = np.where(np.arange(n) < n // 2, 0.8, 0.2)
    frame = lambda noise: pd.DataFrame(  # noqa: E731 - one table per half
        {"frequency": np.full(n, 6.0), "channel_web": np.clip(web + noise, 0, 1),
         "channel_app": np.clip(1 - web - noise, 0, 1), "weekend": rng.uniform(0, 1, n)},
        index=pd.RangeIndex(n, name="customer_id"))
    first, second = frame(rng.normal(0, 0.2, n)), frame(rng.normal(0, 0.2, n))
    X = (first + second) / 2
    common = dict(latent_dim=2, hidden_dims=(8,), max_epochs=2, cluster_dims=2, map_reducer="passthrough",
                  min_cluster_size=0.1, mix_columns=["channel_web", "channel_app"], random_state=0)
    on = SegmentationPipeline(cross_halves=1.0, **common).fit(X, halves=(first, second))
    mix = on._mix_positions()
    assert on.encoder_.model_.hparams.cross_columns == mix and len(mix) == 2
    off = SegmentationPipeline(**common).fit(X, halves=(first, second))
    assert not off.encoder_.model_.hparams.get("cross_columns")
    with pytest.raises(PipelineInputError, match="cross_halves needs the two halves"):
        SegmentationPipeline(cross_halves=1.0, **common).fit(X)
    with pytest.raises(PipelineInputError, match="cross_halves is a weight between 0 and 1"):
        SegmentationPipeline(cross_halves=2.0, **common).fit(X, halves=(first, second))
    # saved and loaded, the option and the network's cross columns stay
    loaded = SegmentationPipeline.load(on.save(tmp_path / "model"))
    assert loaded.cross_halves == 1.0 and loaded.encoder_.model_.hparams.cross_columns == mix
    np.testing.assert_array_equal(loaded.predict(X), on.predict(X))

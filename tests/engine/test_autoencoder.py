"""The Lightning autoencoder: training, determinism, inference helpers, persistence."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from pytorch_lightning.callbacks import Callback
from sklearn.datasets import make_blobs
from sklearn.preprocessing import StandardScaler

from segmentation.engine.autoencoder import AutoEncoder, LitAutoEncoder, encode, fit_autoencoder, load_autoencoder, reconstruction_error, save_autoencoder


class EpochCounter(Callback):
    def __init__(self):
        self.epochs = 0
        self.steps: list[tuple[float, int]] = []  # the last epoch's (loss, rows) per training step
        self.train_losses: list[tuple[float, float]] = []

    def on_train_epoch_start(self, trainer, pl_module):
        self.steps = []

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        self.steps.append((float(outputs["loss"]), len(batch[0])))

    def on_train_epoch_end(self, trainer, pl_module):
        self.epochs += 1
        # what a callback sees at the epoch's end, and the rows-weighted mean of the epoch's steps
        losses, rows = np.array(self.steps).T
        self.train_losses.append((float(trainer.callback_metrics["train_loss"]), float(np.sum(losses * rows) / rows.sum())))


@pytest.fixture(scope="module")
def data() -> np.ndarray:
    X, _ = make_blobs(n_samples=600, n_features=10, centers=4, random_state=3)
    return StandardScaler().fit_transform(X).astype(np.float32)


@pytest.fixture(scope="module")
def trained(data):
    counter = EpochCounter()
    model = fit_autoencoder(data, latent_dim=3, hidden_dims=(16,), max_epochs=15, batch_size=64,
                            random_state=5, callbacks=[counter])
    return model, counter


def test_module_shapes():
    net = AutoEncoder(n_features=10, hidden_dims=(16, 8), latent_dim=3, dropout=0.0)
    x = torch.zeros(4, 10)
    assert net.encoder(x).shape == (4, 3)
    assert net(x).shape == (4, 10)


def test_hyperparameters_saved_and_optimizer_from_hparams():
    system = LitAutoEncoder(10, hidden_dims=(16,), latent_dim=3, lr=0.01, weight_decay=0.001)
    assert system.hparams.latent_dim == 3 and system.hparams.hidden_dims == [16]
    opt = system.configure_optimizers()
    assert isinstance(opt, torch.optim.Adam)
    assert opt.param_groups[0]["lr"] == 0.01 and opt.param_groups[0]["weight_decay"] == 0.001


def test_training_logs_both_stage_losses_and_runs_callbacks(trained):
    model, counter = trained
    metrics = model.trainer.callback_metrics
    assert {"train_loss", "val_loss"} <= set(metrics)
    assert counter.epochs == model.trainer.current_epoch >= 1
    # train_loss is the epoch's mean loss per row (540 training rows, the last of 9 batches has 28),
    # there for the callbacks at every epoch's end
    losses, rows = np.array(counter.steps).T
    assert rows.sum() == 540 and rows[-1] == 28
    assert len(counter.train_losses) == counter.epochs
    for logged, mean in counter.train_losses:
        assert logged == pytest.approx(mean, rel=1e-5)
    assert not model.training  # returned in eval mode


def test_learns_to_reconstruct(data, trained):
    model, _ = trained
    errors = reconstruction_error(model, data)
    assert errors.shape == (len(data),) and errors.dtype == np.float32
    # Features are standardised: predicting the mean would give an MSE of ~1.
    assert errors.mean() < 0.5
    # Rows far outside the training distribution are explained worse (novelty score).
    outliers = np.full((20, data.shape[1]), 6.0, dtype=np.float32)
    assert reconstruction_error(model, outliers).mean() > 5 * errors.mean()


def test_encode_is_chunked_and_float32(data, trained):
    model, _ = trained
    whole = encode(model, data)
    chunked = encode(model, data, batch_size=7)
    assert whole.shape == (len(data), 3) and whole.dtype == np.float32
    np.testing.assert_allclose(whole, chunked, rtol=1e-5, atol=1e-6)
    assert encode(model, data[:0]).shape == (0, 3)


def test_same_seed_same_model(data, trained):
    model, _ = trained
    again = fit_autoencoder(data, latent_dim=3, hidden_dims=(16,), max_epochs=15, batch_size=64, random_state=5)
    np.testing.assert_array_equal(encode(model, data), encode(again, data))


def test_max_train_rows_limits_training(data):
    model = fit_autoencoder(data, latent_dim=2, hidden_dims=(8,), max_epochs=1, batch_size=10,
                            max_train_rows=100, val_fraction=0.1)
    # 90 training rows in batches of 10 -> 9 optimiser steps in the single epoch.
    assert model.trainer.global_step == 9


def test_save_and_load_round_trip(tmp_path, data, trained):
    model, _ = trained
    save_autoencoder(model, tmp_path / "ae.pt")
    loaded = load_autoencoder(tmp_path / "ae.pt")
    assert dict(loaded.hparams) == dict(model.hparams)
    np.testing.assert_array_equal(encode(loaded, data), encode(model, data))


def test_rejects_non_table_input():
    with pytest.raises(ValueError, match="2-D"):
        fit_autoencoder(np.zeros(10))


# ---------------------------------------------------------------- the ensemble (issue 14)
@pytest.fixture(scope="module")
def ensemble(data):
    from segmentation.engine.steps import AutoEncoderTransformer

    counter = EpochCounter()
    step = AutoEncoderTransformer(latent_dim=3, hidden_dims=(16,), max_epochs=6, batch_size=64, random_state=5,
                                  ensemble_size=3, input_weight=0.0)
    return step.fit(data, callbacks=[counter]), counter


def test_ensemble_members_have_their_own_seeds_and_standardised_latents_side_by_side(data, ensemble):
    step, counter = ensemble
    assert len(step.members_) == 3 and step.model_ is step.members_[0]
    seeds = step.member_seeds()
    assert len(set(seeds)) == 3 and seeds == step.member_seeds()  # distinct, and the same every time
    first = [p.detach().numpy() for p in step.members_[0].parameters()]
    second = [p.detach().numpy() for p in step.members_[1].parameters()]
    assert not all(np.allclose(a, b) for a, b in zip(first, second))  # different networks
    latent = step.transform(data)
    assert latent.shape == (len(data), 9) and latent.dtype == np.float32
    # Each member's dimensions standardised on the training rows, then scaled by 1/sqrt(3).
    np.testing.assert_allclose(latent.mean(axis=0), 0.0, atol=1e-4)
    np.testing.assert_allclose(latent.std(axis=0), 1 / np.sqrt(3), rtol=1e-3)
    each = [reconstruction_error(m, data) for m in step.members_]
    np.testing.assert_allclose(step.reconstruction_error(data), np.mean(each, axis=0), rtol=1e-6)
    assert counter.epochs == sum(m.trainer.current_epoch for m in step.members_) >= 3  # every member trained


def test_one_member_is_the_single_autoencoder_of_before(data):
    from segmentation.engine.steps import AutoEncoderTransformer

    step = AutoEncoderTransformer(latent_dim=3, hidden_dims=(16,), max_epochs=3, batch_size=64, random_state=5,
                                  ensemble_size=1, input_weight=0.0).fit(data)
    single = fit_autoencoder(data, latent_dim=3, hidden_dims=(16,), max_epochs=3, batch_size=64, random_state=5)
    np.testing.assert_array_equal(step.transform(data), encode(single, data))  # raw latent, seed as given


def test_training_progress_counts_the_members_epochs_in_one_run(data):
    from segmentation.engine.steps import AutoEncoderTransformer
    from segmentation.workflows.progress import epoch_callback

    events = []
    AutoEncoderTransformer(latent_dim=3, hidden_dims=(16,), max_epochs=2, patience=10, batch_size=64,
                           random_state=5, ensemble_size=2).fit(data, callbacks=[epoch_callback(events.append)])
    assert [(e.epoch, e.epochs) for e in events] == [(1, 4), (2, 4), (3, 4), (4, 4)]


# ---------------------------------------------------------------- the features beside the code (issue 14)
def test_input_weight_puts_the_rows_beside_the_code_in_blocks_of_known_total_variance(data):
    from segmentation.engine.steps import AutoEncoderTransformer

    step = AutoEncoderTransformer(latent_dim=3, hidden_dims=(16,), max_epochs=3, batch_size=64,
                                  random_state=5, input_weight=0.5).fit(data)
    single = fit_autoencoder(data, latent_dim=3, hidden_dims=(16,), max_epochs=3, batch_size=64, random_state=5)
    out = step.transform(data)
    n_features = data.shape[1]
    assert out.shape == (len(data), n_features + 3) and out.dtype == np.float32
    inputs, code = out[:, :n_features], out[:, n_features:]
    # The rows themselves, centred, and the same network's code, centred; each scaled by one number.
    centred = data - data.mean(axis=0)
    np.testing.assert_allclose(inputs / 0.5 * np.sqrt(centred.var(axis=0).sum()), centred, rtol=1e-4, atol=1e-4)
    latent = encode(single, data)
    np.testing.assert_allclose(code * np.sqrt(latent.var(axis=0).sum()), latent - latent.mean(axis=0),
                               rtol=1e-3, atol=1e-3)
    # Total variances: the rows' block input_weight², the code's 1.
    np.testing.assert_allclose([inputs.var(axis=0).sum(), code.var(axis=0).sum()], [0.25, 1.0], rtol=1e-3)


def test_batches_are_those_of_a_shuffled_dataloader_fetched_whole():
    """The loaders index each batch at once (no per-row fetching and collation) yet give the batches of
    ``DataLoader(shuffle=True)`` with the same seed, epoch after epoch, leaving its generator where that
    one leaves it: a model trains bit for bit as before, only faster."""
    from torch.utils.data import DataLoader, TensorDataset

    from segmentation.engine.autoencoder import batch_loaders

    rows = torch.arange(1000, dtype=torch.float32).reshape(-1, 2)
    train, val = TensorDataset(rows[:450], rows[:450] * 10), TensorDataset(rows[450:])
    ours, our_val = batch_loaders(train, val, 64, seed=7)
    reference = DataLoader(train, batch_size=64, shuffle=True, generator=torch.Generator().manual_seed(7))
    for _ in range(3):  # epochs
        got, want = list(ours), list(reference)
        assert len(got) == len(want) == 8 and len(got[-1][0]) == 450 - 7 * 64
        for (x, c), (x_ref, c_ref) in zip(got, want):
            assert torch.equal(x, x_ref) and torch.equal(c, c_ref)
    assert torch.equal(ours.generator.get_state(), reference.generator.get_state())
    (only,) = list(our_val)  # the validation rows in order, in batches of at least 1,024
    assert torch.equal(only[0], rows[450:])

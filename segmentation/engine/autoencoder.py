"""Denoising autoencoder for tabular customer features (PyTorch Lightning).

Shape follows Lightning's ``LitAutoEncoder`` example: a plain
:class:`AutoEncoder` ``nn.Module`` (encoder + decoder) and a separate
:class:`LitAutoEncoder` "system" that owns the loss, the logging and the
optimiser. Helpers do the rest:

* :func:`fit_autoencoder` — seeded, deterministic training with a validation
  split and early stopping on ``val_loss``; trains on at most
  ``max_train_rows`` rows so a million customers stay cheap.
* :func:`encode` / :func:`reconstruction_error` — chunked, ``no_grad`` float32
  inference for any number of rows.
* :func:`save_autoencoder` / :func:`load_autoencoder` — a ``state_dict`` plus the
  hyper-parameters, loadable with ``weights_only=True`` in a new process.

Input is expected to be already preprocessed (finite, roughly standardised);
:mod:`segmentation.engine.pipeline` does that. Parameters after the first are keyword-only, and
their defaults are the engine's (:data:`segmentation.engine.defaults.DEFAULTS`).
"""

from __future__ import annotations

import contextlib
import logging
import warnings
from pathlib import Path
from typing import Iterable, Iterator, Sequence

import numpy as np
import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import Callback, EarlyStopping
from torch import nn
from torch.utils.data import BatchSampler, DataLoader, RandomSampler, SequentialSampler, TensorDataset

from segmentation.engine.defaults import BEFORE_ADDED, DEFAULTS

__all__ = [
    "AutoEncoder",
    "LitAutoEncoder",
    "fit_autoencoder",
    "encode",
    "reconstruct",
    "reconstruction_error",
    "save_autoencoder",
    "load_autoencoder",
]

# Lightning announces devices, model summaries and "few workers" hints at INFO /
# as PossibleUserWarning on every fit; on a CLI or in the app that is noise.
_LIGHTNING_LOGGERS = ("pytorch_lightning", "lightning.pytorch", "lightning_fabric", "lightning.fabric")


def _mlp(sizes: Sequence[int], dropout: float) -> nn.Sequential:
    """Linear → GELU → Dropout blocks between consecutive ``sizes``; last layer linear."""
    layers: list[nn.Module] = []
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(n_in, n_out))
        if i < len(sizes) - 2:
            layers.append(nn.GELU())
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
    return nn.Sequential(*layers)


class AutoEncoder(nn.Module):
    """Plain encoder/decoder MLP: ``n_features → hidden_dims → latent_dim`` and back."""

    def __init__(self, n_features: int, *, hidden_dims: Sequence[int] = DEFAULTS.hidden_dims,
                 latent_dim: int = DEFAULTS.latent_dim, dropout: float = DEFAULTS.dropout) -> None:
        super().__init__()
        sizes = [int(n_features), *map(int, hidden_dims), int(latent_dim)]
        self.encoder = _mlp(sizes, dropout)
        self.decoder = _mlp(sizes[::-1], dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Reconstruction of ``x`` (same shape)."""
        return self.decoder(self.encoder(x))


class LitAutoEncoder(pl.LightningModule):
    """Lightning system around :class:`AutoEncoder`: denoising MSE loss and Adam.

    Denoising: during training only, inputs are corrupted by masking each value
    to 0 (the standardised mean) with probability ``input_dropout`` and adding
    Gaussian noise of standard deviation ``noise_std``; the loss compares the
    reconstruction with the *clean* input.

    Count-aware reconstruction (``families`` given, ``count_weight`` > 0; off in the engine, the snapshot's default since v25):
    each family is a group of share columns of ``x`` (a customer's events by channel, say) whose
    decoder outputs are read as logits; the loss on them is the multinomial negative log-likelihood
    of the customer's event counts in that family (a one-column family, like the weekend share, is
    binomial: the count and the rest), as scVI models sparse single-cell counts, so a customer with
    three events weighs three events, not a full row of shares. Training batches are then
    ``(x, counts)``, the counts laid out family by family (a one-column family: count, rest), and
    divided by ``count_scale`` (the mean count per row and family). The other columns keep the MSE.

    Cross-half targets (``cross_columns`` given, ``cross_weight`` > 0; an option, off by default),
    as Noise2Noise and molecular cross-validation denoise: each training row also comes as its
    features on two halves of the customer's events. The network is given the row with its
    ``cross_columns`` (the behaviour mix) taken from one half, and on those columns it is scored
    against the *other* half: the noise of the two halves is independent, so what it can predict is
    what the customer repeats, not the chance lean of a few events. That error weighs
    ``cross_weight`` (0–1) on those columns, the plain reconstruction the rest; a row without events
    in both halves keeps the plain one. Training batches are then ``(x, first, second, present)``
    (it cannot be combined with the count-aware loss).
    """

    def __init__(self, n_features: int, *, hidden_dims: Sequence[int] = DEFAULTS.hidden_dims,
                 latent_dim: int = DEFAULTS.latent_dim, dropout: float = DEFAULTS.dropout,
                 input_dropout: float = DEFAULTS.input_dropout, noise_std: float = DEFAULTS.noise_std,
                 lr: float = DEFAULTS.lr, weight_decay: float = DEFAULTS.weight_decay,
                 families: Sequence[Sequence[int]] | None = None, count_weight: float = 0.0,
                 count_scale: float = 1.0, cross_columns: Sequence[int] | None = None,
                 cross_weight: float = 0.0) -> None:
        super().__init__()
        # hidden_dims and families as lists keep the hparams loadable with torch.load(weights_only=True).
        hidden_dims = [int(h) for h in hidden_dims]
        families = [[int(c) for c in f] for f in families] if families and count_weight > 0 else None
        if not 0 <= cross_weight <= 1:
            raise ValueError(f"cross_weight is a weight between 0 and 1, got {cross_weight!r}")
        cross_columns = [int(c) for c in cross_columns] if cross_columns and cross_weight > 0 else None
        if cross_columns and families:
            raise ValueError("cross-half targets and the count-aware loss cannot be combined")
        self.save_hyperparameters()
        self.model = AutoEncoder(n_features, hidden_dims=hidden_dims, latent_dim=latent_dim, dropout=dropout)
        in_family = {c for f in families or () for c in f}
        # the columns the MSE reconstructs when counts take the families' (None: every column)
        self.plain_columns = [c for c in range(int(n_features)) if c not in in_family] if families else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Latent vectors of ``x`` (n x latent_dim)."""
        return self.model.encoder(x)

    def _corrupt(self, x: torch.Tensor) -> torch.Tensor:
        if self.hparams.input_dropout > 0:
            keep = torch.rand_like(x) >= self.hparams.input_dropout
            x = x * keep
        if self.hparams.noise_std > 0:
            x = x + self.hparams.noise_std * torch.randn_like(x)
        return x

    def _count_nll(self, out: torch.Tensor, counts: torch.Tensor) -> torch.Tensor:
        """Per-row multinomial (binomial for one column) negative log-likelihood of ``counts``."""
        nll, at = out.new_zeros(len(out)), 0
        for family in self.hparams.families:
            logits = out[:, family]
            if len(family) == 1:
                logits = torch.cat([logits, torch.zeros_like(logits)], dim=1)
            width = logits.shape[1]
            nll = nll - (counts[:, at:at + width] * torch.log_softmax(logits, dim=1)).sum(dim=1)
            at += width
        return nll / (self.hparams.count_scale * len(self.hparams.families))

    def _cross_errors(self, x: torch.Tensor, out: torch.Tensor, halves: Sequence[torch.Tensor],
                      train: bool) -> torch.Tensor:
        """Squared errors per element: on the cross columns, ``cross_weight`` of them against the other half."""
        cross, weight = self.hparams.cross_columns, float(self.hparams.cross_weight)
        first, second, present = halves
        errors = (out - x) ** 2
        crossed = []
        for given, target in ((first, second), (second, first)):
            inputs = x.clone()
            inputs[:, cross] = given[:, cross]
            rebuilt = self.model(self._corrupt(inputs) if train else inputs)
            crossed.append((rebuilt[:, cross] - target[:, cross]) ** 2)
        other_half = (crossed[0] + crossed[1]) / 2
        mixed = (1 - weight) * errors[:, cross] + weight * other_half
        errors[:, cross] = torch.where(present[:, None] > 0, mixed, errors[:, cross])
        return errors

    def _common_step(self, batch: Sequence[torch.Tensor], stage: str) -> torch.Tensor:
        x = batch[0]
        inputs = self._corrupt(x) if stage == "train" else x
        out = self.model(inputs)
        if self.hparams.get("cross_columns"):
            loss = self._cross_errors(x, out, batch[-3:], stage == "train").mean()
        elif self.hparams.families:
            plain = self.plain_columns
            loss = nn.functional.mse_loss(out[:, plain], x[:, plain]) if plain else out.new_zeros(())
            loss = loss + self.hparams.count_weight * self._count_nll(out, batch[1]).mean()
        else:
            loss = nn.functional.mse_loss(out, x)
        return loss

    def on_train_epoch_start(self) -> None:  # noqa: D102 - Lightning hook
        self._train_loss = [torch.zeros((), device=self.device), 0]  # the epoch's summed loss x rows, its rows

    def training_step(self, batch, batch_idx):  # noqa: D102 - Lightning hook
        loss = self._common_step(batch, "train")
        # Summed here and logged once, at the epoch's last step: Lightning's own on-epoch log of every
        # step cost about a millisecond a step, a sixth of a step's time, for the same mean. Logged
        # in a step (not in on_train_epoch_end, which runs after the callbacks'), callbacks see the
        # epoch's train_loss at its end, as before.
        self._train_loss[0] += loss.detach() * len(batch[0])
        self._train_loss[1] += len(batch[0])
        if batch_idx + 1 == self.trainer.num_training_batches:
            total, rows = self._train_loss
            self.log("train_loss", total / rows, prog_bar=True, on_step=False, on_epoch=True, batch_size=1)
        return loss

    def validation_step(self, batch, batch_idx):  # noqa: D102 - Lightning hook
        loss = self._common_step(batch, "val")
        self.log("val_loss", loss, prog_bar=True, on_step=False, on_epoch=True, batch_size=len(batch[0]))
        return loss

    def configure_optimizers(self):  # noqa: D102 - Lightning hook
        return torch.optim.Adam(self.parameters(), lr=self.hparams.lr, weight_decay=self.hparams.weight_decay)


@contextlib.contextmanager
def _quiet_lightning() -> Iterator[None]:
    """Lower Lightning's loggers to WARNING and hide its PossibleUserWarning, for this block only."""
    saved = {}
    for name in _LIGHTNING_LOGGERS:
        logger = logging.getLogger(name)
        saved[name] = logger.level
        logger.setLevel(logging.WARNING)
    try:
        with warnings.catch_warnings():
            # Only Lightning's advisory category (e.g. "does not have many workers": on 2 cores
            # in-process loading is the right choice); every other warning still shows.
            from lightning_fabric.utilities.warnings import PossibleUserWarning

            warnings.simplefilter("ignore", PossibleUserWarning)
            # pytorch-lightning 2.6 still builds torch's deprecated LeafSpec on every batch;
            # a version mismatch the user cannot act on.
            warnings.filterwarnings("ignore", message=r"`isinstance\(treespec, LeafSpec\)` is deprecated",
                                    category=FutureWarning)
            yield
    finally:
        for name, level in saved.items():
            logging.getLogger(name).setLevel(level)


def _as_float32(X: np.ndarray) -> np.ndarray:
    X = np.ascontiguousarray(X, dtype=np.float32)
    if X.ndim != 2:
        raise ValueError(f"expected a 2-D array (rows x features), got shape {X.shape}")
    return X


def batch_loaders(train: TensorDataset, val: TensorDataset, batch_size: int, seed: int) -> tuple[DataLoader, DataLoader]:
    """The training rows in seeded random batches of ``batch_size`` and the validation rows in order.

    Each batch is indexed at once (``batch_size=None`` turns off DataLoader's per-row fetching and
    collation): the same batches in the same order as ``DataLoader(train, batch_size, shuffle=True,
    generator=torch.Generator().manual_seed(seed))``, whose seeds the loader's generator also gives,
    so a training is bit for bit what it was, in less time per step.
    """
    generator = torch.Generator().manual_seed(seed)
    train_loader = DataLoader(train, batch_size=None, generator=generator, sampler=BatchSampler(
        RandomSampler(train, generator=generator), batch_size=batch_size, drop_last=False))
    val_loader = DataLoader(val, batch_size=None, sampler=BatchSampler(
        SequentialSampler(val), batch_size=max(batch_size, 1024), drop_last=False))
    return train_loader, val_loader


def fit_autoencoder(
    X: np.ndarray,
    *,
    latent_dim: int = DEFAULTS.latent_dim,
    hidden_dims: Sequence[int] = DEFAULTS.hidden_dims,
    dropout: float = DEFAULTS.dropout,
    max_epochs: int = DEFAULTS.max_epochs,
    batch_size: int = DEFAULTS.batch_size,
    val_fraction: float = DEFAULTS.val_fraction,
    patience: int = DEFAULTS.patience,
    random_state: int = DEFAULTS.random_state,
    progress_bar: bool = False,
    callbacks: Iterable[Callback] = (),
    max_train_rows: int | None = DEFAULTS.max_train_rows,
    input_dropout: float = DEFAULTS.input_dropout,
    noise_std: float = DEFAULTS.noise_std,
    lr: float = DEFAULTS.lr,
    weight_decay: float = DEFAULTS.weight_decay,
    member: tuple[int, int] = (0, 1),
    counts: np.ndarray | None = None,
    families: Sequence[Sequence[int]] | None = None,
    count_weight: float = 0.0,
    halves: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
    cross_columns: Sequence[int] | None = None,
    cross_weight: float = 0.0,
) -> LitAutoEncoder:
    """Train a denoising autoencoder on preprocessed features and return it in eval mode.

    ``X``: rows x features, finite, already scaled. At most ``max_train_rows``
    rows (a seeded random sample) are used; ``val_fraction`` of them (at least
    one row) is held out for ``val_loss``, which drives ``EarlyStopping`` with
    ``patience`` epochs. ``batch_size`` in rows. ``callbacks`` are added to the
    Trainer (e.g. a progress callback from the app). Training is deterministic
    for a given ``random_state`` (``seed_everything`` + ``deterministic=True``). ``member``:
    (which, of how many) when it is one of an ensemble; it is kept as ``ensemble_member`` on the
    returned system (and on the one in training), for progress reports. ``counts`` (rows like
    ``X``), ``families`` and ``count_weight``: the count-aware loss of :class:`LitAutoEncoder`.
    ``halves`` (the rows' features on two halves of their events, preprocessed like ``X``, and a
    0/1 array of the rows with events in both), ``cross_columns`` and ``cross_weight``: its
    cross-half targets.
    """
    X = _as_float32(X)
    n_rows = len(X)
    if n_rows < 2:
        raise ValueError(f"an autoencoder needs at least 2 rows to train, got {n_rows}")
    pl.seed_everything(random_state, workers=True, verbose=False)
    rng = np.random.default_rng(random_state)
    use_counts = counts is not None and bool(families) and count_weight > 0
    arrays = [X, _as_float32(counts)] if use_counts else [X]
    if use_counts and len(arrays[1]) != n_rows:
        raise ValueError(f"counts has {len(arrays[1])} rows, X has {n_rows}")
    use_cross = halves is not None and bool(cross_columns) and cross_weight > 0
    if use_cross:
        arrays += [_as_float32(halves[0]), _as_float32(halves[1]),
                   np.asarray(halves[2], dtype=np.float32).reshape(-1)]
        if any(len(a) != n_rows for a in arrays):
            raise ValueError(f"halves have {[len(a) for a in arrays[-3:]]} rows, X has {n_rows}")
    if max_train_rows is not None and n_rows > max_train_rows:
        rows = np.sort(rng.choice(n_rows, size=max_train_rows, replace=False))
        arrays = [a[rows] for a in arrays]
        n_rows = max_train_rows
    order = rng.permutation(n_rows)
    n_val = min(max(1, int(round(val_fraction * n_rows))), n_rows - 1)
    train = TensorDataset(*(torch.from_numpy(a[order[n_val:]]) for a in arrays))
    val = TensorDataset(*(torch.from_numpy(a[order[:n_val]]) for a in arrays))
    train_loader, val_loader = batch_loaders(train, val, batch_size, int(random_state))

    loss_options = {}
    if use_counts:  # the mean count per row and family: the count loss's unit
        scale = float(arrays[1].sum(axis=1).mean()) / len(families)
        loss_options = dict(families=families, count_weight=float(count_weight), count_scale=max(scale, 1e-6))
    if use_cross:
        loss_options.update(cross_columns=list(cross_columns), cross_weight=float(cross_weight))
    system = LitAutoEncoder(X.shape[1], hidden_dims=hidden_dims, latent_dim=latent_dim, dropout=dropout,
                            input_dropout=input_dropout, noise_std=noise_std, lr=lr, weight_decay=weight_decay,
                            **loss_options)
    system.ensemble_member = (int(member[0]), int(member[1]))
    with _quiet_lightning():
        trainer = pl.Trainer(
            accelerator="auto",
            devices=1,
            max_epochs=max_epochs,
            deterministic=True,
            enable_checkpointing=False,
            logger=False,
            enable_progress_bar=progress_bar,
            enable_model_summary=False,
            log_every_n_steps=1,
            callbacks=[EarlyStopping(monitor="val_loss", patience=patience, mode="min"), *callbacks],
        )
        with _single_thread():
            trainer.fit(system, train_loader, val_loader)
    system = system.to("cpu")
    system.eval()
    return system


@contextlib.contextmanager
def _single_thread() -> Iterator[None]:
    """Train on one CPU thread, then restore the thread count.

    The batches are small (256 rows x a few dozen features): a second intra-op thread
    saves nothing, and on a busy machine its barrier waits made 40 epochs on 2,300 rows
    take 62 s instead of 6 s (2 cores, load 7). UMAP's numba calls reset the shared
    OpenMP thread count, so the count is set here, right before training.
    """
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def _module_of(model: nn.Module) -> AutoEncoder:
    return model.model if isinstance(model, LitAutoEncoder) else model


def _batches(X: np.ndarray, batch_size: int) -> Iterator[torch.Tensor]:
    for start in range(0, len(X), batch_size):
        yield torch.from_numpy(_as_float32(X[start:start + batch_size]))


def _map_batches(net: nn.Module, X: np.ndarray, batch_size: int, apply) -> list[np.ndarray]:
    """``apply(chunk)`` over ``X`` in evaluation mode without gradients; the mode is restored."""
    was_training = net.training
    net.eval()
    try:
        with torch.no_grad():
            return [apply(chunk).numpy() for chunk in _batches(X, batch_size)]
    finally:
        net.train(was_training)


def encode(model: nn.Module, X: np.ndarray, batch_size: int = 65_536) -> np.ndarray:
    """Latent vectors (rows x latent_dim, float32) of preprocessed ``X``, in chunks of ``batch_size`` rows."""
    net = _module_of(model)
    parts = _map_batches(net, X, batch_size, net.encoder)
    if not parts:
        return np.empty((0, net.encoder[-1].out_features), dtype=np.float32)
    return np.concatenate(parts)


def reconstruct(model: nn.Module, X: np.ndarray, batch_size: int = 65_536) -> np.ndarray:
    """The decoder's output (rows x features, float32) for preprocessed ``X``: each row as the network
    rebuilds it through its latent, the denoised row for a network trained to denoise."""
    net = _module_of(model)
    parts = _map_batches(net, X, batch_size, net)
    return np.concatenate(parts) if parts else np.empty((0, X.shape[1]), dtype=np.float32)


def reconstruction_error(model: nn.Module, X: np.ndarray, batch_size: int = 65_536) -> np.ndarray:
    """Per-row mean squared reconstruction error (float32, in squared scaled-feature units).

    A novelty score: high values are customers the model does not explain. A model trained with
    the count-aware loss reconstructs the columns outside its families only, and is scored on them.
    """
    net = _module_of(model)
    columns = getattr(model, "plain_columns", None) or slice(None)
    parts = _map_batches(net, X, batch_size,
                         lambda chunk: ((net(chunk)[:, columns] - chunk[:, columns]) ** 2).mean(dim=1))
    return np.concatenate(parts) if parts else np.empty(0, dtype=np.float32)


def save_autoencoder(model: LitAutoEncoder, path: str | Path) -> None:
    """Write ``{"hparams", "state_dict"}`` to ``path`` (a ``.pt`` file)."""
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    torch.save({"hparams": dict(model.hparams), "state_dict": state}, Path(path))


def load_autoencoder(path: str | Path) -> LitAutoEncoder:
    """Rebuild a :class:`LitAutoEncoder` saved by :func:`save_autoencoder` (eval mode, CPU)."""
    saved = torch.load(Path(path), map_location="cpu", weights_only=True)
    # A model saved before a hyper-parameter existed was trained with the value of those versions.
    before = {name: BEFORE_ADDED[name] for name in ("input_dropout", "noise_std")}
    system = LitAutoEncoder(**{**before, **saved["hparams"]})
    system.load_state_dict(saved["state_dict"])
    system.eval()
    return system

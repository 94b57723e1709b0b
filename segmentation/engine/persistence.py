"""Saving a fitted segmentation pipeline to a directory and loading it back. A model directory holds
``pipeline.joblib`` (the pipeline's state without its per-row results: the scikit-learn, UMAP and
HDBSCAN steps and the out-of-sample mapping), ``autoencoder.pt`` (the autoencoder's weights and
hyper-parameters, when there is one; ``autoencoder_1.pt``, ... for the other members of an ensemble) and ``manifest.json`` (format version, features, segment count,
parameters). Loading fills in parameters added since a model was saved with the value the older
versions used (:data:`segmentation.engine.defaults.BEFORE_ADDED`) and reads parameters spelled the
older way in today's spelling, so a model is scored the way it was fitted. The joblib files are
pickles of module paths: the classes they name must stay where they are (see ``MOVED`` in
:mod:`segmentation`)."""

from __future__ import annotations

import json
from pathlib import Path

import joblib
from sklearn.base import clone
from sklearn.utils.validation import check_is_fitted

from segmentation.engine import autoencoder as ae
from segmentation.engine.defaults import BEFORE_ADDED
from segmentation.engine.steps import AutoEncoderTransformer
from segmentation.errors import InputError

__all__ = ["save_pipeline", "load_pipeline"]

_FORMAT_VERSION = 1
# Per-row results: the run stores them, the model directory does not.
_PER_ROW = ("labels_", "probabilities_", "map_embedding_", "reconstruction_error_", "fit_sample_index_",
            "raw_labels_", "cluster_space_")


def save_pipeline(pipeline, path: str | Path) -> Path:
    """Write the fitted ``pipeline``'s models to directory ``path`` (created) and return it.

    See :meth:`segmentation.engine.pipeline.SegmentationPipeline.save`.
    """
    check_is_fitted(pipeline, "clusterer_")
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    state = {k: v for k, v in pipeline.__dict__.items() if k not in _PER_ROW}
    members: list = []
    if isinstance(pipeline.encoder_, AutoEncoderTransformer):
        members = pipeline.encoder_.members()
        shell = clone(pipeline.encoder_)  # the weights go to autoencoder*.pt, the scalings stay
        for name in _ENCODER_SCALINGS:
            setattr(shell, name, getattr(pipeline.encoder_, name, None))
        state["encoder_"] = shell
        for index, model in enumerate(members):
            ae.save_autoencoder(model, path / _member_file(index))
    joblib.dump(state, path / "pipeline.joblib")
    manifest = {"format_version": _FORMAT_VERSION, "class": type(pipeline).__name__,
                "feature_names": list(map(str, pipeline.feature_names_in_)), "n_segments": pipeline.n_segments_,
                "noise_share": pipeline.noise_share_, "autoencoder": bool(members), "autoencoders": len(members),
                "params": {k: repr(v) for k, v in pipeline.get_params(deep=False).items()}}
    (path / "manifest.json").write_text(json.dumps(manifest, indent=2))
    return path


# What a fitted AutoEncoderTransformer learnt besides its networks' weights.
_ENCODER_SCALINGS = ("latent_centre_", "latent_scale_", "input_centre_", "input_norm_", "code_centre_", "code_norm_")


def load_pipeline(cls, path: str | Path):
    """A ``cls`` (the pipeline class) rebuilt from a directory :func:`save_pipeline` wrote.

    Raises :class:`~segmentation.errors.InputError` when ``path`` holds no model or one of
    another format version. Load only directories you wrote (joblib files are pickles).
    """
    path = Path(path)
    if not (path / "pipeline.joblib").is_file():
        raise InputError(f"no saved segmentation model in {path}")
    manifest = json.loads((path / "manifest.json").read_text())
    if manifest.get("format_version") != _FORMAT_VERSION:
        raise InputError(f"model in {path} has format {manifest.get('format_version')}, "
                         f"this version reads {_FORMAT_VERSION}")
    state = joblib.load(path / "pipeline.joblib")
    pipeline = cls.__new__(cls)
    pipeline.__setstate__(state)  # older spellings of its parameters are read in today's
    # A parameter added since the model was saved takes the value it was fitted with (BEFORE_ADDED),
    # not today's default.
    for step, fresh in ((pipeline, cls()), (pipeline.encoder_, AutoEncoderTransformer())):
        if type(step) is type(fresh):
            for name, default in fresh.get_params(deep=False).items():
                step.__dict__.setdefault(name, BEFORE_ADDED.get(name, default))
    if manifest["autoencoder"]:
        members = [ae.load_autoencoder(path / _member_file(index))
                   for index in range(int(manifest.get("autoencoders", 1)))]
        pipeline.encoder_.members_, pipeline.encoder_.model_ = members, members[0]
    return pipeline


def _member_file(index: int) -> str:
    """The file of an ensemble's member ``index`` (the first keeps the single autoencoder's name)."""
    return "autoencoder.pt" if index == 0 else f"autoencoder_{index}.pt"

"""What the segmentation pipeline accepts: the checks on its input and on the options naming
columns. :class:`PipelineInputError` is the error for input the pipeline cannot segment;
:func:`check_features` turns a DataFrame or array into validated float64 values (numeric, finite,
the fitted columns in their order when scoring); :func:`column_positions` resolves the options that
name feature columns (``log_columns``, ``share_counts``, ``feature_weights``) to column positions;
:func:`resolve_min_cluster_size`, :func:`choose_fit_sample` and :func:`check_enough_rows` size the
fit sample and its smallest segment; :func:`check_switches` checks the post-processing switches.
Pure: arrays and frames in, arrays out; :class:`~segmentation.engine.pipeline.SegmentationPipeline`
calls them."""

from __future__ import annotations

import inspect
import math
from numbers import Integral, Real
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from segmentation.engine.defaults import REST_ALIKE
from segmentation.errors import InputError

__all__ = ["PipelineInputError", "resolve_min_cluster_size", "check_features", "column_positions",
           "choose_fit_sample", "check_enough_rows", "check_switches", "cross_targets"]


class PipelineInputError(InputError, ValueError):
    """Input the pipeline cannot segment (too few rows, no usable feature, NaN/inf).

    Both an :class:`~segmentation.errors.InputError` (user-facing one-line
    message) and a ``ValueError`` (scikit-learn's convention for bad input).
    """


def resolve_min_cluster_size(min_cluster_size: float, n_rows: int) -> int:
    """Smallest segment in rows: a fraction of ``n_rows`` when < 1, else a count; at least 5."""
    if min_cluster_size <= 0:
        raise PipelineInputError(f"min_cluster_size must be > 0, got {min_cluster_size}")
    size = math.ceil(min_cluster_size * n_rows) if min_cluster_size < 1 else int(min_cluster_size)
    return max(5, size)


def check_features(X, fitted_names: Sequence[str] | None = None) -> tuple[np.ndarray, pd.Index | None, list[str]]:
    """``X`` (DataFrame or array, rows x features) as float64 values, with its index and column names.

    Fitting (``fitted_names`` None): every column, named as in the DataFrame (``x0``, ``x1``, …
    for an array). Scoring: the columns named ``fitted_names``, in that order (a DataFrame may
    have more, an array must have exactly as many). Raises :class:`PipelineInputError` for a
    missing or non-numeric column, a value that is not a table, or a missing or infinite value
    (naming the feature and the row). Returns ``(values, index or None, names)``.
    """
    index = None
    if isinstance(X, pd.DataFrame):
        index = X.index
        if fitted_names is None:
            names = [str(c) for c in X.columns]
        else:
            names = list(fitted_names)
            missing = [c for c in names if c not in set(map(str, X.columns))]
            if missing:
                raise PipelineInputError(f"feature column(s) missing for scoring: {', '.join(missing)}")
            X = X.rename(columns=str)[names]
        bad = [c for c in X.columns if not (pd.api.types.is_numeric_dtype(X[c]) or pd.api.types.is_bool_dtype(X[c]))]
        if bad:
            raise PipelineInputError(f"feature column {bad[0]!r} is not numeric (dtype {X[bad[0]].dtype})")
        values = X.to_numpy(dtype=np.float64, na_value=np.nan)
    else:
        values = np.asarray(X, dtype=np.float64)
        if fitted_names is None:
            names = [f"x{i}" for i in range(values.shape[1])] if values.ndim == 2 else []
        else:
            names = list(fitted_names)
    if values.ndim != 2:
        raise PipelineInputError(f"expected a table (rows x features), got an array of shape {values.shape}")
    if fitted_names is not None and values.shape[1] != len(names):
        raise PipelineInputError(f"expected {len(names)} feature columns, got {values.shape[1]}")
    finite = np.isfinite(values)
    if not finite.all():
        row, col = map(int, np.argwhere(~finite)[0])
        label = index[row] if index is not None else row
        raise PipelineInputError(
            f"feature {names[col]!r} has a missing or infinite value "
            f"({values[row, col]}) at row {label!r}; fill or drop it before segmenting")
    return values, index, names


def column_positions(names: Sequence[str], log_columns: Sequence | None, share_counts: Mapping | None,
                     feature_weights: Mapping | None
                     ) -> tuple[list[int] | None, dict[int, int] | None, dict[int, float] | None]:
    """Positions in ``names`` of the columns the preprocessing options name.

    Returns ``(log_columns, share_counts, feature_weights)`` by position: the log1p columns
    (None = the preprocessor's default), share column → its count column (None = off) and
    column → weight (None = off; weights of columns not in ``names`` are ignored). An unknown
    column in ``log_columns`` or ``share_counts`` raises :class:`PipelineInputError`.
    """
    names = list(names)
    log_idx = None if log_columns is None else _index_of(names, "log_columns", log_columns)
    share_idx = share_positions(names, share_counts, "share_counts") if share_counts else None
    weight_idx = ({names.index(str(c)): float(w) for c, w in feature_weights.items() if str(c) in names}
                  if feature_weights else None)
    return log_idx, share_idx, weight_idx


def _index_of(names: list[str], option: str, columns) -> list[int]:
    unknown = [c for c in columns if str(c) not in names]
    if unknown:
        raise PipelineInputError(f"{option} names unknown feature(s): {', '.join(map(str, unknown))}")
    return [names.index(str(c)) for c in columns]


def share_positions(names: Sequence[str], shares: Mapping, option: str) -> dict[int, int]:
    """Share column → the count column it is a share of, by position in ``names``; an unknown
    column raises :class:`PipelineInputError` naming ``option`` (the parameter that named it)."""
    names = list(names)
    return {_index_of(names, option, [share])[0]: _index_of(names, option, [count])[0]
            for share, count in shares.items()}


def choose_fit_sample(n_rows: int, fit_sample_size: int | None, rng: np.random.Generator) -> np.ndarray:
    """Sorted row positions the steps are fitted on: all rows, or ``fit_sample_size`` drawn with ``rng``."""
    if fit_sample_size is not None and n_rows > fit_sample_size:
        return np.sort(rng.choice(n_rows, size=int(fit_sample_size), replace=False))
    return np.arange(n_rows)


def check_enough_rows(n_rows: int, n_sample: int, min_cluster_size: int) -> None:
    """Raise :class:`PipelineInputError` unless the fit sample can hold two segments of ``min_cluster_size``
    rows (and has at least 20 rows)."""
    needed = max(20, 2 * min_cluster_size)
    if n_sample < needed:
        why = (f"two segments of at least {min_cluster_size:,} customers each" if needed > 20 else
               "the fewest the workbench segments")
        raise PipelineInputError(f"{n_rows:,} {'customer is' if n_rows == 1 else 'customers are'} too few to "
                                 f"segment: need at least {needed:,} ({why})")


#: Where the discriminant polish can be drawn (:mod:`segmentation.engine.polish`).
POLISH_SPACES = ("features", "latent")


def check_switches(*, outlier_floor, refine_neighbors, merge_alpha, twin_distance, split_distance=None,
                   mix_twins=True, reproducible_below=None, consensus=1, polish=None, join_noise=None,
                   neighbors_share=None, polish_space="features", polish_from=None) -> None:
    """Raise ``ValueError`` for a post-processing switch that is neither None (off) nor a setting.

    ``refine_neighbors`` is a positive number of neighbours (0 is refused: None turns the vote
    off); ``merge_alpha`` a significance level between 0 and 1; ``outlier_floor``,
    ``twin_distance`` and ``split_distance`` numbers; ``mix_twins`` True, False or ``"rest alike"``;
    ``reproducible_below`` a positive share (below 1) or number of rows; ``consensus`` a whole
    number of fits, 1 or more (1: one fit); ``polish`` a quantile between 0 and 1; ``join_noise``
    a share of the votes from 0 up to (not including) 1; ``neighbors_share`` a share of the fit sample
    from 0 up to (not including) 1; ``polish_space`` ``"features"`` or ``"latent"``; ``polish_from`` a
    positive number of rows.
    """
    if polish_from is not None and (isinstance(polish_from, bool) or not isinstance(polish_from, Real)
                                    or polish_from < 1):
        raise ValueError(f"polish_from must be a number of fit-sample rows, 1 or more (from that size the polish is "
                         f"on), or None for never by size; got {polish_from!r}")
    if polish_space not in POLISH_SPACES:
        raise ValueError(f"polish_space must be one of {', '.join(map(repr, POLISH_SPACES))} (where the polish's "
                         f"discriminant is drawn: the preprocessed features, or the latent rows UMAP sees); "
                         f"got {polish_space!r}")
    if neighbors_share is not None and (isinstance(neighbors_share, bool) or not isinstance(neighbors_share, Real)
                                        or not 0 <= neighbors_share < 1):
        raise ValueError(f"neighbors_share must be a share of the fit sample from 0 up to 1 (UMAP's neighbours in "
                         f"the cluster space are at least that share of it), or None for n_neighbors alone; "
                         f"got {neighbors_share!r}")
    if join_noise is not None and (isinstance(join_noise, bool) or not isinstance(join_noise, Real)
                                   or not 0 <= join_noise < 1):
        raise ValueError(f"join_noise must be a share of the votes from 0 up to 1 (a noise customer joins the segment "
                         f"holding more than it of its nearest segmented customers), or None to turn it off; "
                         f"got {join_noise!r}")
    if polish is not None and (isinstance(polish, bool) or not isinstance(polish, Real) or not 0 <= polish <= 1):
        raise ValueError(f"polish must be a quantile between 0 and 1 (the share of a segment's own spread within "
                         f"which noise joins it), or None to turn the polish off; got {polish!r}")
    if isinstance(consensus, bool) or not isinstance(consensus, Integral) or consensus < 1:
        raise PipelineInputError(f"consensus must be a whole number of fits, 1 or more (got {consensus!r})")
    if mix_twins not in (True, False, REST_ALIKE):
        raise ValueError(f"mix_twins must be True, False or {REST_ALIKE!r}, not {mix_twins!r}")
    counts = isinstance(refine_neighbors, Integral) and not isinstance(refine_neighbors, bool)
    if refine_neighbors is not None and not (counts and refine_neighbors >= 1):
        raise ValueError(f"refine_neighbors must be a positive number of neighbours, or None to turn the "
                         f"neighbour vote off; got {refine_neighbors!r}")
    if merge_alpha is not None and not (isinstance(merge_alpha, Real) and 0 < merge_alpha < 1):
        raise ValueError(f"merge_alpha must be between 0 and 1, or None to keep twins apart; got {merge_alpha!r}")
    for name, value in (("outlier_floor", outlier_floor), ("twin_distance", twin_distance),
                        ("split_distance", split_distance)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, Real)):
            raise ValueError(f"{name} must be a number, or None to turn it off; got {value!r}")
    below = reproducible_below
    if below is not None and (isinstance(below, bool) or not isinstance(below, Real) or not math.isfinite(below)
                              or below <= 0):
        raise ValueError(f"reproducible_below must be a positive share of the fit sample (below 1) or a number of "
                         f"rows, or None to turn it off; got {reproducible_below!r}")


#: The post-processing switches :func:`check_switches` checks (the pipeline's parameters of those names).
SWITCHES = tuple(inspect.signature(check_switches).parameters)


def count_targets(names: Sequence[str], share_idx: Mapping[int, int], kept: Sequence[int], values: np.ndarray
                  ) -> tuple[list[list[int]], np.ndarray]:
    """The share families and event counts the autoencoder's count-aware loss is trained on.

    ``names``: the feature names; ``share_idx``: share column → its count column (positions in
    ``names``, :func:`column_positions`); ``kept``: the positions the preprocessing kept (the
    autoencoder's columns, in order); ``values``: raw rows. Shares whose names start alike (``channel_``,
    ``category_``) form one multinomial family; a share alone (``weekend``) is binomial (its count
    and the rest of its base). Returns the families as column positions among ``kept`` and the counts
    (share × its count), family by family, a one-column family as (count, rest).
    """
    at = {int(raw): j for j, raw in enumerate(kept)}
    groups: dict[str, list[int]] = {}
    for raw in sorted(share_idx):
        if raw in at:
            name = str(names[raw])
            groups.setdefault(name.split("_", 1)[0] if "_" in name else name, []).append(raw)
    families, blocks = [], []
    for members in groups.values():
        base = np.clip(values[:, [share_idx[r] for r in members]], 0, None)
        count = np.clip(values[:, members], 0, 1) * base
        if len(members) == 1:
            count = np.hstack([count, np.clip(base - count, 0, None)])
        families.append([at[r] for r in members])
        blocks.append(count)
    counts = np.hstack(blocks) if blocks else np.empty((len(values), 0))
    return families, counts.astype(np.float32)


def cross_targets(weight: float, count_loss: float, halves, mix_positions: list[int]) -> dict:
    """The autoencoder's cross-half targets for a pipeline's ``cross_halves`` (``weight``): the fit
    sample's two halves and the mix's positions, or ``{}`` when it is off. Raises
    :class:`PipelineInputError` for a weight outside (0, 1], beside ``count_loss``, or without halves
    and mix columns."""
    if not weight:
        return {}
    if not 0 < weight <= 1:
        raise PipelineInputError(f"cross_halves is a weight between 0 and 1, got {weight!r}")
    if count_loss:
        raise PipelineInputError("cross_halves and count_loss cannot be combined: each sets the loss on the mix")
    if halves is None or not mix_positions:
        raise PipelineInputError("cross_halves needs the two halves of each customer's events "
                                 "(fit(..., halves=)) and the mix_columns they are compared on")
    return dict(halves=tuple(halves), cross_columns=list(mix_positions))

"""From the clusterer's clusters to segments: the outlier floor, merged twins and the neighbour
vote. :func:`segment_fit_sample` post-processes the clusters of the fit sample in the pipeline's
order (HDBSCAN's noise rows with a high enough soft membership join that cluster, then clusters that
are one behaviour are merged by :func:`~segmentation.engine.granularity.choose_granularity`, then
each segmented row takes the segment most of its nearest neighbours hold); :func:`reduce_outliers`
and :func:`relabel` are the same rules for rows scored later with the models' own transforms. Pure:
arrays in, arrays out."""

from __future__ import annotations

from typing import Any, NamedTuple

import hdbscan
import numpy as np
import pandas as pd

from segmentation.constants import NOISE as _NOISE
from segmentation.engine.defaults import REST_ALIKE
from segmentation.engine.granularity import choose_granularity
from segmentation.engine.mapping import join_noise as join_noise_rows
from segmentation.engine.mapping import neighbour_vote

__all__ = ["SampleSegments", "n_clusters", "reduce_outliers", "relabel", "fold_id_map", "segment_fit_sample",
           "keep_segments_whole"]


class SampleSegments(NamedTuple):
    """The fit sample's segments (see :func:`segment_fit_sample`)."""

    labels: np.ndarray
    probabilities: np.ndarray
    raw_labels: np.ndarray
    label_map: Any
    granularity: Any
    refined_share: float
    joined_share: float = 0.0


def n_clusters(clusterer) -> int:
    """Number of clusters a fitted clusterer found (its largest label + 1)."""
    return int(np.max(clusterer.labels_, initial=-1) + 1)


def reduce_outliers(labels: np.ndarray, probs: np.ndarray, soft, floor: float) -> tuple[np.ndarray, np.ndarray]:
    """Move each noise row into the cluster of its highest soft membership when that is at least ``floor``.

    ``soft``: the rows' membership vectors (rows x clusters); returns new labels and
    probabilities (the membership for moved rows), the inputs are left unchanged.
    """
    soft = np.asarray(soft).reshape(len(labels), -1)
    best = soft.argmax(axis=1)
    best_p = soft[np.arange(len(labels)), best]
    move = (labels == _NOISE) & (best_p >= floor)
    labels, probs = labels.copy(), probs.copy()
    labels[move], probs[move] = best[move], best_p[move]
    return labels, probs


def relabel(labels: np.ndarray, label_map) -> np.ndarray:
    """Cluster ids → segment ids through ``label_map`` (merged twins); noise stays noise."""
    return np.where(labels >= 0, label_map[np.maximum(labels, 0)], _NOISE)


def fold_id_map(labels: np.ndarray, ids: np.ndarray, into: dict[int, int]) -> np.ndarray:
    """Each segment id's id once segments are folded ``into`` others (index = old id, value = new id).

    ``ids``: every segment id the models can give (one with no fitted row too); ``labels``: the fitted
    rows' segments, whose counts number the segments left by size, largest first, as a fit numbers them.
    A chain a → b → c ends in c. Raises ValueError for a fold into noise or folds in a circle.
    """
    if any(b < 0 for b in into.values()):
        raise ValueError(f"a segment is folded into another segment, not into noise: {into}")

    def final(segment: int) -> int:
        seen = {segment}
        while segment in into:
            segment = into[segment]
            if segment in seen:
                raise ValueError(f"folds that go round in a circle: {into}")
            seen.add(segment)
        return segment

    ids = ids[ids >= 0]
    counts = pd.Series(labels[labels >= 0]).value_counts().reindex(ids, fill_value=0)
    folded = counts.groupby([final(int(s)) for s in ids]).sum()
    renumber = {int(s): i for i, s in enumerate(folded.sort_values(ascending=False, kind="stable").index)}
    id_map = np.full(int(ids.max()) + 1 if len(ids) else 0, _NOISE, dtype=np.int64)
    id_map[ids] = [renumber[final(int(s))] for s in ids]
    return id_map


def keep_segments_whole(before: np.ndarray, after: np.ndarray, min_size: int) -> np.ndarray:
    """``after`` (the neighbour vote's labels), except that a segment the vote shrank below
    ``min_size`` rows keeps its rows of ``before``: the vote puts torn border rows back where
    they belong, it does not dissolve a cluster the clusterer found (a small, young segment whose
    members' nearest neighbours are mostly of a large one)."""
    out = after.copy()
    ids, sizes = np.unique(before[before >= 0], return_counts=True)
    for segment, size in zip(ids, sizes):
        if size >= min_size and np.count_nonzero(after == segment) < min_size:
            out[before == segment] = segment
    return out


def segment_fit_sample(clusterer, Z_sample: np.ndarray, *, outlier_floor: float | None, merge_alpha: float | None,
                       twin_distance: float | None, refine_neighbors: int | None, random_state,
                       min_size: int = 1, split_distance: float | None = None,
                       mix_columns: list[int] | None = None, halves=None, mix_twins: bool = False,
                       space: np.ndarray | None = None, reproducible_below: int | None = None,
                       min_samples: float | None = None, join_noise: float | None = None) -> SampleSegments:
    """The segments of the fit sample from a fitted ``clusterer`` and its preprocessed rows ``Z_sample``.

    Probabilities are HDBSCAN's membership strengths (1 for other clusterers); ``outlier_floor``
    (HDBSCAN only), ``merge_alpha``/``twin_distance`` and ``refine_neighbors`` are the pipeline's
    parameters of the same names (each off with None). ``raw_labels`` are the clusterer's own labels.
    No segment of at least ``min_size`` rows is shrunk below it by the neighbour vote (:func:`keep_segments_whole`).
    ``split_distance`` (HDBSCAN only; None: off) splits a cluster into its children in the condensed
    tree when their mixes, the ``mix_columns`` of ``Z_sample``, differ by more than it
    (:func:`~segmentation.engine.descent.split_distinct_children`; after the outlier floor, before twins
    are merged). ``halves`` (a :class:`~segmentation.engine.repeated.SplitHalves` of ``Z_sample``;
    None: off): the split counts only the mix difference the customers repeat on both halves of
    their events (:mod:`segmentation.engine.repeated`), and with ``mix_twins`` so do the twins (with
    ``mix_twins="rest alike"`` only where the other columns' lift profiles are within the twin distance too).
    ``reproducible_below`` (rows; HDBSCAN only, with ``space``, the cluster-space rows the clusterer
    was fitted on; None: off): after the twins, a segment of fewer rows that is one of HDBSCAN's
    clusters as found (not a split part, not merged twins) and that resamples do not find again joins
    the segments around it (:mod:`segmentation.engine.reproducible`); ``min_samples``: the pipeline's
    (a share below 1 is scaled to each resample, as the clusterer's floor is). Last, ``join_noise``
    (None: off): a noise row whose nearest segmented rows are more than that share one segment's, and
    which is within reach of them, joins it (:func:`~segmentation.engine.mapping.join_noise`).
    """
    labels = np.asarray(clusterer.labels_, dtype=np.int64)
    is_hdbscan = isinstance(clusterer, hdbscan.HDBSCAN)
    probs = (np.asarray(clusterer.probabilities_, dtype=np.float32) if is_hdbscan
             else np.ones(len(labels), dtype=np.float32))
    raw_labels = labels.copy()
    if is_hdbscan and outlier_floor is not None and labels.max() >= 0:
        soft = hdbscan.all_points_membership_vectors(clusterer)
        labels, probs = reduce_outliers(labels, probs, soft, outlier_floor)
    clustered = labels.copy()  # HDBSCAN's clusters, before any split or merge
    splits: list[dict] = []
    if is_hdbscan and split_distance is not None and mix_columns and labels.max() >= 0:
        from segmentation.engine.descent import split_distinct_children

        labels, splits = split_distinct_children(
            clusterer, Z_sample[:, mix_columns], labels, split_distance, space=Z_sample,
            halves=None if halves is None else halves.columns(mix_columns))
    repeated = None
    if halves is not None and mix_twins and mix_columns:
        repeated = (mix_columns, halves.columns(mix_columns))
        if mix_twins == REST_ALIKE:  # the other columns must be alike too
            repeated += (sorted(set(range(Z_sample.shape[1])) - set(mix_columns)),)
    labels, label_map, granularity = choose_granularity(
        Z_sample, labels, merge_alpha, n_clusters(clusterer), random_state, twin_distance, repeated)
    if splits:  # the parts' ids as the segments they became (a part may have been merged back as a twin)
        splits = [{**split, "into": [int(label_map[i]) for i in split["into"]]} for split in splits]
        granularity = {**granularity, "split_by_mix": splits, "why": (
            f"{len(splits)} of HDBSCAN's clusters held parts whose behaviour mixes differ by more than "
            f"{split_distance} and were split into them; " + granularity["why"])}
    if is_hdbscan and reproducible_below is not None and space is not None and labels.max() >= 0:
        labels, probs, label_map, granularity = _keep_reproducible(
            clusterer, space, Z_sample, labels, probs, clustered, label_map, granularity, reproducible_below,
            random_state, min_samples)
    refined_share = joined_share = 0.0
    if refine_neighbors is not None:
        refined, share = neighbour_vote(Z_sample, labels, refine_neighbors, random_state)
        labels, probs, refined_share = _moved_to(labels, probs, keep_segments_whole(labels, refined, min_size), share)
    if join_noise is not None and labels.max() >= 0:
        labels, probs, joined_share = _moved_to(
            labels, probs, *join_noise_rows(Z_sample, labels, join_noise, random_state=random_state))
    return SampleSegments(labels, probs, raw_labels, label_map, granularity, refined_share, joined_share)


def _moved_to(labels: np.ndarray, probs: np.ndarray, new: np.ndarray, share: np.ndarray):
    """``new`` labels, with a moved row's probability its vote ``share``: labels, probabilities, share of rows moved."""
    moved = new != labels
    return new, np.where(moved, share, probs).astype(np.float32), float(moved.mean())


def _keep_reproducible(clusterer, space, Z_sample, labels, probs, clustered, label_map, granularity: dict, below: int,
                       random_state, min_samples: float | None):
    """Small segments that resamples do not find again join their neighbours; the probabilities (the
    neighbours' vote share), the cluster → segment map, the split parts and the granularity record
    (``dissolved``: the segment's id before, its rows, stability, the segment it joined) follow.
    Only segments that are one of HDBSCAN's clusters as found are asked (``clustered``: the rows'
    clusters before any split or merge): resamples cannot find a split part, which HDBSCAN kept inside
    a larger cluster, nor merged twins as one cluster."""
    from segmentation.engine.metrics import resample_clusterer
    from segmentation.engine.reproducible import dissolve, dissolve_sentence, unreproducible_small, whole_clusters

    n_rows = len(labels)
    make = resample_clusterer(clusterer, int(clusterer.min_cluster_size), n_rows, min_samples)
    found = unreproducible_small(space, labels, make, below, random_state=random_state,
                                 candidates=whole_clusters(labels, clustered))
    if not found or len(found) == len(np.unique(labels[labels >= 0])):  # never dissolve every segment
        return labels, probs, label_map, granularity
    sizes = {s: int(np.count_nonzero(labels == s)) for s in found}
    labels, id_map, share = dissolve(Z_sample, labels, found, random_state=random_state)
    moved = np.isfinite(share)
    probs = np.where(moved, share, probs).astype(np.float32)
    label_map = np.where(np.asarray(label_map) >= 0, id_map[np.maximum(label_map, 0)], _NOISE)
    record = dict(granularity)
    if "split_by_mix" in record:  # split parts are never dissolved: their ids only move down
        record["split_by_mix"] = [{**split, "into": [int(id_map[i]) for i in split["into"]]}
                                  for split in record["split_by_mix"]]
    record["dissolved"] = [{"segment_before": int(s), "rows": sizes[s], "stability": j, "joined": int(id_map[s])}
                           for s, j in sorted(found.items())]
    record["segments"] = int(len(np.unique(labels[labels >= 0])))
    record["why"] = "; ".join(filter(None, [record.get("why", ""),
                                            dissolve_sentence(found, below / n_rows, record["segments"])]))
    return labels, probs, label_map, record

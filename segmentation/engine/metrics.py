"""Quality metrics for a segmentation run.

With ground truth (demo data): ARI and NMI, where noise (−1) counts as a label
of its own, so leaving customers unassigned costs score. Without: DBCV (density
based validity of the clusters in the cluster space), trustworthiness of the
embeddings (are embedded neighbours real neighbours?), per-segment bootstrap
stability and the autoencoder's reconstruction error. Expensive metrics run on
seeded subsamples so a million customers cost the same as a few thousand.
"""

from __future__ import annotations

import math
from typing import Callable

import numpy as np
from sklearn.base import clone
from sklearn.manifold import trustworthiness as _sk_trustworthiness
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

__all__ = [
    "adjusted_rand",
    "nmi",
    "dbcv",
    "trustworthiness",
    "cluster_stability",
    "bootstrap_stability",
    "resample_clusterer",
    "stability_label",
    "quality_report",
    "STABLE",
    "UNTRUSTED",
]

STABLE = 0.75  # mean Jaccard at or above: "stable" (Hennig 2007)
UNTRUSTED = 0.6  # below: "not to be trusted"


def adjusted_rand(labels_true, labels_pred) -> float:
    """Adjusted Rand index (1 = identical partitions, ~0 = chance); −1 noise is one label."""
    return float(adjusted_rand_score(np.asarray(labels_true), np.asarray(labels_pred)))


def nmi(labels_true, labels_pred) -> float:
    """Normalised mutual information (0–1); −1 noise is one label."""
    return float(normalized_mutual_info_score(np.asarray(labels_true), np.asarray(labels_pred)))


def _subsample(n: int, size: int | None, random_state) -> np.ndarray:
    if size is None or n <= size:
        return np.arange(n)
    return np.sort(np.random.default_rng(random_state).choice(n, size=size, replace=False))


def dbcv(X, labels, sample_size: int = 2000, random_state=0) -> float | None:
    """Density-based cluster validity (−1…1, higher is better) on a subsample of ``sample_size`` rows.

    ``X`` is the space the clusters were found in (the cluster space). Noise
    rows are ignored by the index. ``None`` when fewer than two clusters are
    present in the subsample or the index is not finite (e.g. duplicate points).
    """
    import hdbscan

    X = np.asarray(X, dtype=np.float64)
    labels = np.asarray(labels)
    idx = _subsample(len(X), sample_size, random_state)
    X, labels = X[idx], labels[idx]
    clusters, counts = np.unique(labels[labels >= 0], return_counts=True)
    # validity_index needs >= 2 clusters with at least 2 points each.
    clusters = clusters[counts >= 2]
    if len(clusters) < 2:
        return None
    keep = np.isin(labels, clusters) | (labels < 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        try:
            score = float(hdbscan.validity_index(X[keep], labels[keep].astype(np.intp)))
        except (ValueError, ZeroDivisionError, FloatingPointError):
            return None
    return score if math.isfinite(score) else None


def trustworthiness(X_high, X_low, sample_size: int = 2000, n_neighbors: int = 10, random_state=0) -> float:
    """Trustworthiness (0–1) of embedding ``X_low`` of ``X_high``, on a subsample of ``sample_size`` rows."""
    X_high, X_low = np.asarray(X_high), np.asarray(X_low)
    idx = _subsample(len(X_high), sample_size, random_state)
    k = min(n_neighbors, max(1, len(idx) // 2 - 1))
    return float(_sk_trustworthiness(X_high[idx], X_low[idx], n_neighbors=k))


def _best_jaccard(reference: np.ndarray, boot: np.ndarray) -> dict[int, float]:
    """For each reference cluster, the best Jaccard overlap with any bootstrap cluster (noise excluded)."""
    out = {}
    boot_ids = np.unique(boot[boot >= 0])
    for seg in np.unique(reference[reference >= 0]):
        mine = reference == seg
        best = 0.0
        for other in boot_ids:
            theirs = boot == other
            inter = np.count_nonzero(mine & theirs)
            if inter:
                best = max(best, inter / np.count_nonzero(mine | theirs))
        out[int(seg)] = best
    return out


def cluster_stability(embedding, labels, make_clusterer: Callable[[int], object], n_boot: int = 3,
                      sample_fraction: float = 0.8, random_state=0) -> dict[int, float]:
    """Per-cluster stability: mean best-match Jaccard over ``n_boot`` refits on subsamples.

    ``make_clusterer(n_rows)`` returns a fresh unfitted clusterer for a
    subsample of ``n_rows``; each refit sees ``sample_fraction`` of the rows
    (drawn without replacement) and is compared with ``labels`` on those rows.
    """
    embedding, labels = np.asarray(embedding), np.asarray(labels)
    rng = np.random.default_rng(random_state)
    n = len(embedding)
    m = max(2, int(round(sample_fraction * n)))
    scores: dict[int, list[float]] = {int(s): [] for s in np.unique(labels[labels >= 0])}
    for _ in range(n_boot):
        idx = np.sort(rng.choice(n, size=m, replace=False))
        boot = np.asarray(make_clusterer(m).fit(embedding[idx]).labels_)
        for seg, j in _best_jaccard(labels[idx], boot).items():
            scores[seg].append(j)
    return {seg: float(np.mean(js)) for seg, js in scores.items() if js}


def bootstrap_stability(pipeline, X, labels=None, *, n_boot: int = 3, sample_fraction: float = 0.8,
                        max_rows: int = 5000, random_state=0) -> dict[int, float]:
    """Per-segment stability of a fitted pipeline: ``{segment_id: mean best-match Jaccard}`` (0–1).

    Only the clusterer is refitted, on subsamples of the cluster-space
    embedding of at most ``max_rows`` rows of ``X`` (refitting the
    autoencoder and UMAP would cost minutes per draw and mostly measure their
    seeds, not the segments). ``labels`` are the segments of ``X``'s rows
    (default: ``pipeline.predict``). HDBSCAN's ``min_cluster_size`` is scaled
    to the subsample so a refit looks for segments of the same share (and ``min_samples`` when the
    pipeline gives it as a share).
    """
    idx = _subsample(len(X), max_rows, random_state)
    rows = X.iloc[idx] if hasattr(X, "iloc") else np.asarray(X)[idx]
    embedding = pipeline.transform(rows)
    ref = pipeline.predict(rows) if labels is None else np.asarray(labels)[idx]
    base = pipeline.clusterer_
    make_clusterer = resample_clusterer(base, pipeline.min_cluster_size_, len(base.labels_),
                                        getattr(pipeline, "min_samples", None))
    return cluster_stability(embedding, ref, make_clusterer, n_boot, sample_fraction, random_state)


def resample_clusterer(base, min_cluster_size: int, n_fit: int, min_samples: float | None = None
                       ) -> Callable[[int], object]:
    """``make_clusterer(n_rows)`` for refits on resamples: a fresh clone of the clusterer ``base``; for
    HDBSCAN with ``min_cluster_size`` (rows of the ``n_fit`` fitted) scaled to ``n_rows``, so a refit looks
    for segments of the same share, ``min_samples`` too when the pipeline gave it as a share (below 1;
    a count stays a count), and no prediction data."""
    import hdbscan

    from segmentation.engine.step_factory import min_samples_rows

    def make(n_rows: int):
        model = clone(base)
        if isinstance(model, hdbscan.HDBSCAN):
            model.set_params(min_cluster_size=max(5, round(min_cluster_size * n_rows / n_fit)), prediction_data=False)
            if min_samples is not None and min_samples < 1:
                model.set_params(min_samples=min_samples_rows(min_samples, n_rows))
        return model

    return make


def stability_label(jaccard: float) -> str:
    """``"stable"`` (≥ 0.75), ``"uncertain"`` (0.6–0.75) or ``"not to be trusted"`` (< 0.6)."""
    if jaccard >= STABLE:
        return "stable"
    if jaccard >= UNTRUSTED:
        return "uncertain"
    return "not to be trusted"


def quality_report(pipeline, X, truth=None, labels=None, *, sample_size: int = 2000, n_boot: int = 3,
                   random_state=0) -> dict:
    """JSON-serialisable quality summary of a fitted pipeline on feature table ``X``.

    ``labels``: the segment of each row of ``X`` (pass ``pipeline.labels_``
    when ``X`` is the table the pipeline was fitted on; default
    ``pipeline.predict(X)``). ``truth``: ground-truth labels per row (adds
    ``ari`` and ``nmi``). Keys: n_segments, noise_share, dbcv,
    trustworthiness_cluster_space, trustworthiness_map,
    mean_reconstruction_error, stability ``{segment_id: {jaccard, label}}``,
    and ari/nmi with truth.
    """
    labels = pipeline.predict(X) if labels is None else np.asarray(labels)
    idx = _subsample(len(labels), sample_size, random_state)
    rows = X.iloc[idx] if hasattr(X, "iloc") else np.asarray(X)[idx]
    scored = pipeline.assign(rows)
    space = pipeline.transform(rows)
    features = pipeline.preprocessor_.transform(pipeline.check_input(rows, fitting=False)[0])
    segments = labels[labels >= 0]
    report: dict = {
        "n_segments": int(len(np.unique(segments))),
        "noise_share": float(np.mean(labels < 0)),
        "dbcv": dbcv(space, labels[idx], sample_size=None),
        "trustworthiness_cluster_space": trustworthiness(features, space, sample_size=None),
        "trustworthiness_map": (None if scored[["x", "y"]].isna().any().any()
                                else trustworthiness(features, scored[["x", "y"]].to_numpy(), sample_size=None)),
        "mean_reconstruction_error": float(scored["reconstruction_error"].mean()),
    }
    stability = bootstrap_stability(pipeline, X, labels, n_boot=n_boot, random_state=random_state,
                                    max_rows=max(sample_size, 1000))
    report["stability"] = {str(seg): {"jaccard": round(j, 4), "label": stability_label(j)}
                           for seg, j in sorted(stability.items())}
    if truth is not None:
        truth = np.asarray(truth)
        report["ari"] = adjusted_rand(truth, labels)
        report["nmi"] = nmi(truth, labels)
    return report


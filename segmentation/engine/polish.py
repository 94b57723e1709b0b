"""The segments' edges drawn again in the features themselves: a linear discriminant polish.

The segments come out of a seeded cluster space (the autoencoder's code, UMAP's layout). Where
personas overlap, the customers between two of them go one way or the other with the seed: the
bulk of each segment is the same from seed to seed, its edge is not
(benchmarks/results/seed_agreement_v17.md). :class:`DiscriminantPolish` redraws the edges in the
preprocessed features, which no seed touches:

1. a linear discriminant (scikit-learn's ``LinearDiscriminantAnalysis``, Ledoit-Wolf shrinkage:
   one covariance shared by the segments, so small segments borrow the large ones' shape) is
   fitted on the fit sample's segments, every segmented customer takes the segment it predicts,
   and the discriminant is fitted again on those (:data:`MAX_ROUNDS` rounds of classification EM
   from the clusters' start; more rounds, to a fixed point, made the seeds agree as well but drew
   linear edges where the sparse data's are not, and cost ARI there); that last discriminant
   gives every customer, in the fit sample or scored later, its segment;
2. a customer the clusterer left as noise joins the segment the discriminant predicts when it
   lies within that segment's spread: its Mahalanobis distance to the segment's mean at most the
   :data:`SPREAD` quantile of the members' own. Noise far from every segment, random behaviour or a
   behaviour no segment holds yet (what the drift check watches for), stays noise.

The number of segments is the clusterer's: the polish moves customers between segments and out of
the noise, it never makes a segment (one can empty, and is then gone). A moved customer's
probability is the discriminant's posterior of its new segment.

By default it is on only for a fit sample of ``polish_from`` rows or more (25,000), drawn in the latent
space (:func:`resolve`; README v34): there HDBSCAN's density neighbourhood (its ``min_samples``, the
segment floor: 500-1,000 rows at 50,000) blurs the edges between touching segments, and on the 1M demo's
sample the polish lifted every fit of the tuning seeds (mean ARI 0.876 -> 0.894, KMeans told k 0.887;
benchmarks/results/sample_seeds_probe_polish.md). Below that size it is an option (``polish=0.99``;
``--engine-option polish=0.99``). Its setting was chosen
on the tuning seeds (benchmarks/results/polish_tuning.md, ``python -m benchmarks.polish_tuning``),
where it raised the ARI and the pipeline seeds' agreement; held out it did too (README v26). It is
not the default for two costs measured then: digits' pixels lie on curved manifolds, where the
discriminant moved 2 % of the images into the wrong digit (ARI 0.908 -> 0.869 over seeds 0-4,
benchmarks/results/quality_digits_v26_polish.md), and on the web change suite's timelines a refit's
redrawn edges read as splits and merges (seed 100 at month ends: 6 false events against 1).

Pure numpy/scikit-learn.
"""

from __future__ import annotations

import numpy as np
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis

from segmentation.constants import NOISE as _NOISE

__all__ = ["DiscriminantPolish", "MAX_ROUNDS", "SPREAD", "BY_SIZE_SPACE", "resolve"]

#: Rounds of refit-and-reassign on the fit sample (fewer when nobody moves).
MAX_ROUNDS = 1
#: A noise customer joins a segment when it is no further from the segment's mean than this
#: quantile of the segment's own members (Mahalanobis distance, the discriminant's covariance).
SPREAD = 0.99
#: Where the polish that the fit sample's size turns on is drawn (``polish_from``).
BY_SIZE_SPACE = "latent"


def resolve(polish: float | None, polish_space: str, polish_from: int | None, n_rows: int) -> tuple[float | None, str]:
    """The polish a fit of ``n_rows`` rows uses: ``(spread or None for none, space)``.

    ``polish`` set: that spread in ``polish_space``, at any size. Otherwise a fit sample of at least
    ``polish_from`` rows is polished with :data:`SPREAD` in :data:`BY_SIZE_SPACE`; a smaller one is not.
    """
    if polish is not None:
        return float(polish), polish_space
    if polish_from is not None and n_rows >= polish_from:
        return SPREAD, BY_SIZE_SPACE
    return None, polish_space


class DiscriminantPolish:
    """Fitted on the fit sample's preprocessed rows and segments; :meth:`apply` polishes any rows.

    ``spread``: the members' distance quantile within which noise joins a segment (None: noise
    stays noise). Learned: ``discriminant_`` (the last round's LDA, None with fewer than two
    segments), ``precision_`` (its inverse covariance), ``limits_`` (squared Mahalanobis distance
    per segment, in ``discriminant_.classes_`` order), ``moved_share_`` (0–1: segmented fit-sample
    rows that ended in another segment).
    """

    def __init__(self, spread: float | None = SPREAD, max_rounds: int = MAX_ROUNDS):
        self.spread = spread
        self.max_rounds = max_rounds

    def fit(self, Z: np.ndarray, labels: np.ndarray) -> "DiscriminantPolish":
        Z = np.asarray(Z, dtype=np.float64)
        labels = np.asarray(labels, dtype=np.int64)
        rows, first = Z[labels != _NOISE], labels[labels != _NOISE]
        self.discriminant_, self.moved_share_ = None, 0.0
        if len(np.unique(first)) < 2:  # nothing to draw an edge between
            return self
        current, discriminant = first, _discriminant(rows, first)
        for _ in range(self.max_rounds):
            moved = discriminant.predict(rows)
            # nobody moves, or the polish would leave one segment: keep this round's
            if np.array_equal(moved, current) or len(np.unique(moved)) < 2:
                break
            current, discriminant = moved, _discriminant(rows, moved)
        self.discriminant_ = discriminant
        self.moved_share_ = float(np.mean(current != first))
        self._fit_limits(rows, current)
        return self

    def _fit_limits(self, Z: np.ndarray, labels: np.ndarray) -> None:
        lda = self.discriminant_
        self.precision_ = np.linalg.pinv(lda.covariance_)
        self.limits_ = np.full(len(lda.classes_), -np.inf)  # None: no noise joins
        if self.spread is None:
            return
        for i, segment in enumerate(lda.classes_):
            members = labels == segment
            if members.any():
                self.limits_[i] = np.quantile(self._distance(Z[members], i), self.spread)

    def _distance(self, Z: np.ndarray, class_position) -> np.ndarray:
        """Squared Mahalanobis distance of each row to the mean of its class (a position or an array)."""
        diff = Z - self.discriminant_.means_[class_position]
        return np.einsum("ij,jk,ik->i", diff, self.precision_, diff)

    def apply(self, Z: np.ndarray, labels: np.ndarray, probabilities: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Polished ``(labels, probabilities)`` of preprocessed rows ``Z`` and their segments."""
        labels = np.asarray(labels, dtype=np.int64).copy()
        probabilities = np.asarray(probabilities, dtype=np.float32).copy()
        if self.discriminant_ is None or len(labels) == 0:
            return labels, probabilities
        Z = np.asarray(Z, dtype=np.float64)
        lda = self.discriminant_
        posterior = lda.predict_proba(Z)
        best = posterior.argmax(axis=1)
        proposed = lda.classes_[best]
        noise = labels == _NOISE
        joins = noise.copy()  # noise within the predicted segment's spread (distances of the noise rows only)
        joins[noise] = self._distance(Z[noise], best[noise]) <= self.limits_[best[noise]]
        moves = (~noise & (proposed != labels)) | joins
        labels[moves] = proposed[moves]
        probabilities[moves] = posterior[moves, best[moves]]
        return labels, probabilities


def _discriminant(Z: np.ndarray, labels: np.ndarray) -> LinearDiscriminantAnalysis:
    return LinearDiscriminantAnalysis(solver="lsqr", shrinkage="auto", store_covariance=True).fit(Z, labels)

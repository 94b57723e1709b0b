"""Do ensembles in the fit make pipeline seeds agree? Measured on the scenario suite's TUNING seeds only.

    .venv/bin/python -m benchmarks.ensemble_agreement_probe [--data-seeds 0 1 2] [--candidates ...]
        # -> results/ensemble_agreement_probe.csv/.md

The seed-source probe (results/seed_sources_tuning.md) found both random steps move the segments: the
autoencoder's seed more, UMAP's less, and neither alone explains the disagreement. Here each candidate
averages over random draws inside one fit, every draw's seed derived from the pipeline's:

* ``autoencoders ×3``: ``ensemble_size=3`` (three autoencoders, their standardised codes side by side);
* ``UMAPs ×3``: the cluster space is three UMAP layouts of the same rows side by side
  (:class:`UMAPEnsemble`), so distances are averaged over three layouts;
* both;
* a steadier cluster space in one fit (stop 56): UMAP optimised for 600 epochs instead of 200
  (``UMAP 600 epochs``, one layout), or the seed-free preprocessed features weighing more beside the
  autoencoder's code (``input weight 2`` and ``3``: the features' block spread that many times the
  code's; the default is 1).

For each of the five sparse or overlapping scenarios (customers × 0.5) and tuning data seed, every
candidate is fitted with pipeline seeds 0, 1 and 2 and the three labelings compared pairwise (ARI,
noise a label of its own, every customer) and with the personas (ARI on the customers with one).
Issue 14 asks for 0.95 between every pair of seeds on every data set.
"""

from __future__ import annotations

import argparse
import tempfile
import time
import warnings
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin

from benchmarks.seed_agreement_probe import PIPELINE_SEEDS, SCENARIOS, agreement, agreement_table

RESULTS = Path(__file__).resolve().parent / "results"


def member_seeds(random_state: int | None, members: int) -> list[int | None]:
    """Each member's seed, drawn from ``random_state`` (None: unseeded members)."""
    if random_state is None:
        return [None] * members
    states = np.random.SeedSequence(int(random_state)).generate_state(members)
    return [int(s) for s in states]


class UMAPEnsemble(TransformerMixin, BaseEstimator):
    """``members`` UMAPs (``n_components`` each, seeds drawn from ``random_state``), their layouts side by side.

    Under 4,096 rows the exact neighbours are found once and shared; above, each member searches its
    own. ``fit_transform`` returns ``n_rows x (members * n_components)``, so a Euclidean distance there
    sums the layouts' squared distances: a bridge one layout draws by chance weighs a third.
    ``transform`` asks every member (UMAP transforms only when it found its own neighbours); the
    engine's default out-of-sample mapping does not need it.
    """

    def __init__(self, *, members: int = 3, n_components: int = 8, n_neighbors: int = 15, min_dist: float = 0.0,
                 n_epochs: int | None = None, random_state: int | None = 0) -> None:
        self.members = members
        self.n_components = n_components
        self.n_neighbors = n_neighbors
        self.min_dist = min_dist
        self.n_epochs = n_epochs
        self.random_state = random_state

    def _umap(self, seed: int | None, n_rows: int, knn):
        import umap

        from segmentation.engine.numba_cache import cache_umap_kernels
        from segmentation.engine.steps import UMAP_EPOCHS

        cache_umap_kernels()
        return umap.UMAP(n_components=self.n_components, n_neighbors=min(self.n_neighbors, n_rows - 1),
                         min_dist=self.min_dist, random_state=seed, n_jobs=1 if seed is not None else -1,
                         n_epochs=self.n_epochs or UMAP_EPOCHS, precomputed_knn=knn)

    def fit_transform(self, X, y=None) -> np.ndarray:  # noqa: D102 - sklearn API
        from sklearn.neighbors import NearestNeighbors

        from segmentation.engine.steps import UMAP_SMALL_DATA

        X = np.asarray(X, dtype=np.float32)
        if int(self.members) < 1:
            raise ValueError(f"members is a number of UMAPs, at least 1, got {self.members!r}")
        n_neighbors = min(int(self.n_neighbors), len(X) - 1)
        knn = (None, None, None)
        if len(X) < UMAP_SMALL_DATA:  # exact neighbours, found once for every member
            distances, indices = NearestNeighbors(n_neighbors=n_neighbors).fit(X).kneighbors(X)
            knn = (indices.astype(np.int64), distances.astype(np.float32))
        layouts, self.members_ = [], []
        for seed in member_seeds(self.random_state, int(self.members)):
            reducer = self._umap(seed, len(X), knn)
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", message=r"precomputed_knn\[2\]")
                layouts.append(np.asarray(reducer.fit_transform(X), dtype=np.float32))
            self.members_.append(reducer)
        return np.hstack(layouts)

    def fit(self, X, y=None) -> "UMAPEnsemble":  # noqa: D102 - sklearn API
        self.fit_transform(X)
        return self

    def transform(self, X) -> np.ndarray:  # noqa: D102 - sklearn API
        X = np.asarray(X, dtype=np.float32)
        return np.hstack([np.asarray(m.transform(X), dtype=np.float32) for m in self.members_])


CANDIDATES = {
    "one fit (the default)": {},
    "autoencoders ×3": {"ensemble_size": 3},
    "UMAPs ×3": {"umap_members": 3},
    "autoencoders ×3 and UMAPs ×3": {"ensemble_size": 3, "umap_members": 3},
    "UMAP 600 epochs": {"umap_epochs": 600},
    "input weight 2": {"input_weight": 2.0},
    "input weight 3": {"input_weight": 3.0},
}


def fit_labels(table, params, override: dict) -> np.ndarray:
    from benchmarks import scenario_quality as q
    from segmentation.workflows.snapshot import make_pipeline

    override = dict(override)
    members, epochs = override.pop("umap_members", 1), override.pop("umap_epochs", None)
    if members > 1 or epochs:
        pipeline = make_pipeline(table, params)
        override["reducer"] = UMAPEnsemble(members=members, n_components=pipeline.cluster_dims,
                                           n_neighbors=pipeline.n_neighbors, n_epochs=epochs,
                                           random_state=params.seed)
    return q._ours(table, params, **override).labels_


def score(data_seeds, candidates) -> pd.DataFrame:
    from benchmarks import scenario_quality as q
    from benchmarks import scenarios as sc
    from segmentation.workflows.snapshot import SnapshotParams

    rows = []
    for name in SCENARIOS:
        scenario = sc.SCENARIOS[name]
        scenario = replace(scenario, customers=int(round(scenario.customers * 0.5)))
        for data_seed in data_seeds:
            with tempfile.TemporaryDirectory(prefix="ensemble-agreement-") as folder:
                table, truth, _, _ = q.prepare(scenario, data_seed, Path(folder))
                truth = truth.to_numpy().astype(str)
                known = truth != sc.RANDOM
                for candidate in candidates:
                    started, labels = time.perf_counter(), []
                    for seed in PIPELINE_SEEDS:
                        params = SnapshotParams(window_days=scenario.window_days, seed=seed)
                        labels.append(np.asarray(fit_labels(table, params, CANDIDATES[candidate]), dtype=np.int64))
                    rows.append({"scenario": name, "data_seed": data_seed, "candidate": candidate,
                                 **agreement(labels, truth, known),
                                 "seconds_per_fit": (time.perf_counter() - started) / len(PIPELINE_SEEDS)})
                    print(rows[-1], flush=True)
    return pd.DataFrame(rows)


def report(frame: pd.DataFrame, data_seeds) -> str:
    table = agreement_table(frame)
    table["seconds per fit"] = frame.groupby("candidate", sort=False)["seconds_per_fit"].mean()
    return "\n".join([
        "# Ensembles or a steadier cluster space inside one fit, for seed agreement (tuning data seeds "
        + ", ".join(map(str, data_seeds)) + "; customers × 0.5)", "",
        "Written by `python -m benchmarks.ensemble_agreement_probe` (see its docstring). Five sparse or "
        "overlapping scenarios; each candidate fitted with pipeline seeds 0, 1, 2.", "",
        "```", table.round(3).to_string(), "```", ""])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--candidates", nargs="+", default=list(CANDIDATES), choices=list(CANDIDATES))
    parser.add_argument("--combine", type=Path, nargs="+", help="report these runs' CSVs together instead of fitting")
    parser.add_argument("--out", type=Path, default=RESULTS / "ensemble_agreement_probe.csv")
    args = parser.parse_args(argv)
    if any(seed >= 100 for seed in args.data_seeds):
        parser.error("data seeds 100-104 are held out: probe on tuning seeds (0-9)")
    if args.combine:
        frame = pd.concat([pd.read_csv(path) for path in args.combine], ignore_index=True)
    else:
        frame = score(args.data_seeds, args.candidates)
    frame.to_csv(args.out, index=False)
    text = report(frame, args.data_seeds)
    args.out.with_suffix(".md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()

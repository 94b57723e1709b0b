"""The scenario suite: ours beside fair baselines, on planted data the engine was not tuned to.

    .venv/bin/python -m benchmarks.quality --suite scenarios --seeds heldout   # reported
    .venv/bin/python -m benchmarks.quality --suite scenarios --seeds tuning    # choose defaults

Each (scenario, data seed) is written as a CSV with its own column names, imported through
``ingest`` into a fresh database, and turned into the snapshot's feature table with
``build_features`` (as a user's data would be). Every method then sees the same customers:

* ``ours``: the snapshot's pipeline, exactly as ``run`` builds it (pipeline seeds 0, 1, 2);
* ``ours, no autoencoder``: the same with ``encoder="passthrough"`` (ablation);
* ``ours, no post-processing``: ours before the neighbour vote, the noise join and the twin merge (the
  post-processing shown as its own row, read off the same fits);
* ``kmeans (true k)``, ``kmeans (silhouette k)``, ``gmm (BIC k)``: on the analyst's table;
* ``umap+hdbscan (share table)``: UMAP (8-d) + HDBSCAN with our segment floor on the analyst's table;
* ``rfm quintiles``: the classic recency × frequency/monetary quintile grid and its named cells.

The analyst's table is built with plain SQL from the events: log counts and spend, and the
shares of each channel, event type, category, time of day and weekend.

Scores: ARI and NMI against the planted persona over the customers who have one (customers
planted with random behaviour are left out; noise −1 counts as a label of its own).
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.cluster import KMeans
from sklearn.metrics import silhouette_score
from sklearn.mixture import GaussianMixture
from sklearn.preprocessing import StandardScaler

from segmentation.data import store
from segmentation.engine.metrics import adjusted_rand, nmi
from segmentation.workflows.snapshot import (SnapshotParams, clustering_frame, make_pipeline, segment_floor,
                                             snapshot_inputs)

from . import scenarios as sc
from .scratch import scratch

__all__ = ["prepare", "score_dataset", "run_suite", "summarise_suite", "BASELINES_NOT_TOLD_K"]

OURS, ABLATION, RAW = "ours", "ours, no autoencoder", "ours, no post-processing"
KMEANS_K, KMEANS_SIL, GMM_BIC = "kmeans (true k)", "kmeans (silhouette k)", "gmm (BIC k)"
UMAP_HDBSCAN, RFM = "umap+hdbscan (share table)", "rfm quintiles"
BASELINES_NOT_TOLD_K = (KMEANS_SIL, GMM_BIC, UMAP_HDBSCAN, RFM)
K_RANGE = range(2, 17)

_SHARE_TABLE = """
WITH e AS (
    SELECT customer_id, event_type, coalesce(channel, 'unknown') AS channel,
           nullif(trim(category), '') AS category, coalesce(amount, 0) AS amount,
           hour(ts) AS h, isodow(ts) >= 6 AS weekend
    FROM events)
SELECT customer_id, count(*) AS n, sum(amount) FILTER (WHERE event_type = 'purchase') AS spend,
       count(*) FILTER (WHERE event_type = 'purchase') AS purchases,
       avg(CAST(h < 6 AS DOUBLE)) AS t_night, avg(CAST(h >= 6 AND h < 12 AS DOUBLE)) AS t_morning,
       avg(CAST(h >= 12 AND h < 18 AS DOUBLE)) AS t_afternoon, avg(CAST(h >= 18 AS DOUBLE)) AS t_evening,
       avg(CAST(weekend AS DOUBLE)) AS weekend
FROM e GROUP BY customer_id ORDER BY customer_id
"""


def prepare(scenario: sc.Scenario, seed: int, workdir: Path):
    """Import the scenario and build the feature table: (table, truth aligned to it, share table, RFM)."""
    db = workdir / f"{scenario.name}_{seed}.duckdb"
    as_of, window, truth = sc.load_into(db, scenario, seed, workdir)
    table, _ = snapshot_inputs(db, as_of, window)  # what a snapshot reads, reliability included
    with store.connect(db, read_only=True) as con:
        share = con.execute(_SHARE_TABLE).df().set_index("customer_id")
        for column in ("event_type", "channel", "category"):
            long = con.execute(f"SELECT customer_id, coalesce({column}, 'none') AS v, count(*) AS n "
                               "FROM events GROUP BY ALL").df()
            wide = long.pivot_table(index="customer_id", columns="v", values="n", fill_value=0)
            share = share.join((wide.div(wide.sum(axis=1), axis=0)).add_prefix(f"{column}_"))
        rfm = con.execute(
            "SELECT customer_id, date_diff('day', max(ts), CAST($as_of AS TIMESTAMP)) AS r, "
            "count(*) FILTER (WHERE event_type = 'purchase') AS f, "
            "coalesce(sum(amount) FILTER (WHERE event_type = 'purchase'), 0) AS m "
            "FROM events GROUP BY customer_id", {"as_of": as_of}).df().set_index("customer_id")
    index = table.frame.index
    share = share.reindex(index).fillna(0.0)
    for column in ("n", "spend", "purchases"):
        share[column] = np.log1p(share[column])
    return table, truth.reindex(index).fillna(sc.RANDOM), share, rfm.reindex(index)


def rfm_segments(rfm: pd.DataFrame) -> np.ndarray:
    """The classic RFM grid: recency and frequency/monetary quintiles → 11 named cells."""
    def quintile(values, reverse=False):
        ranks = pd.Series(values).rank(method="first", ascending=not reverse)
        return np.asarray(pd.qcut(ranks, 5, labels=False)) + 1
    r = quintile(rfm["r"], reverse=True)  # recent = 5
    fm = np.rint((quintile(rfm["f"]) + quintile(rfm["m"])) / 2).astype(int)
    cells = {  # (recency score, frequency/monetary score) → segment, after the usual RFM grid
        "champions": lambda r, f: (r >= 4) & (f >= 4), "loyal": lambda r, f: (r == 3) & (f >= 4),
        "potential loyalists": lambda r, f: (r >= 4) & (f == 3), "new": lambda r, f: (r == 5) & (f <= 2),
        "promising": lambda r, f: (r == 4) & (f <= 2), "need attention": lambda r, f: (r == 3) & (f == 3),
        "about to sleep": lambda r, f: (r == 3) & (f <= 2), "cannot lose": lambda r, f: (r <= 2) & (f == 5),
        "at risk": lambda r, f: (r <= 2) & (f >= 3) & (f <= 4), "hibernating": lambda r, f: (r == 2) & (f <= 2),
        "lost": lambda r, f: (r == 1) & (f <= 2)}
    labels = np.full(len(r), -1)
    for i, rule in enumerate(cells.values()):
        labels[(labels == -1) & rule(r, fm)] = i
    return labels


def share_matrix(share: pd.DataFrame) -> np.ndarray:
    """The share table as the KMeans, silhouette and BIC baselines see it: standardised, constant columns out."""
    X = StandardScaler().fit_transform(share.to_numpy())
    return X[:, np.isfinite(X).all(axis=0)]


def kmeans_told_k(X: np.ndarray, k: int, seed: int, n_init: int = 10) -> np.ndarray:
    """KMeans told the true ``k``, the best of ``n_init`` starts."""
    return KMeans(n_clusters=k, n_init=n_init, random_state=seed).fit_predict(X)


def _by_silhouette(X: np.ndarray, seed: int) -> np.ndarray:
    best, best_labels = -2.0, None
    sample = np.random.default_rng(seed).choice(len(X), size=min(3000, len(X)), replace=False)
    for k in K_RANGE:
        labels = KMeans(n_clusters=k, n_init=4, random_state=seed).fit_predict(X)
        score = silhouette_score(X[sample], labels[sample])
        if score > best:
            best, best_labels = score, labels
    return best_labels


def _by_bic(X: np.ndarray, seed: int) -> np.ndarray:
    best, best_labels = np.inf, None
    for k in K_RANGE:
        gmm = GaussianMixture(n_components=k, covariance_type="diag", n_init=1, random_state=seed,
                              reg_covar=1e-4).fit(X)
        bic = gmm.bic(X)
        if bic < best:
            best, best_labels = bic, gmm.predict(X)
    return best_labels


def _umap_hdbscan(X: np.ndarray, seed: int, floor: float) -> np.ndarray:
    from segmentation.engine.pipeline import SegmentationPipeline

    pipeline = SegmentationPipeline(encoder="passthrough", map_reducer="passthrough", refine_neighbors=None,
                                    polish=None, join_noise=None, min_cluster_size=floor, scaler="standard", random_state=seed)
    return pipeline.fit(X).labels_


def _ours(table, params: SnapshotParams, **override):
    use_halves = override.pop("halves", True)  # a tuning candidate: False fits as v13 did, without them
    if override.get("feature_weights") == "sqrt":  # a tuning candidate: sqrt(reliability), no floor
        override["feature_weights"] = {c: float(np.sqrt(r)) for c, r in (table.reliability or {}).items()}
    pipeline = make_pipeline(table, params)
    pipeline.set_params(**override)
    frame = clustering_frame(table, params)
    pipeline.fit(frame, halves=table.halves if use_halves else None)
    return pipeline


def score_dataset(scenario: sc.Scenario, seed: int, pipeline_seeds=(0, 1, 2), params: SnapshotParams | None = None,
                  baselines: bool = True, ablation: bool = True, workdir: Path | None = None,
                  baseline_seeds=None) -> list[dict]:
    """Every method on one (scenario, data seed): one row per method and pipeline seed.

    ``baseline_seeds`` (default: ``pipeline_seeds``): the seeds the ablation and the
    baselines are run with (fewer saves time; ours always runs every pipeline seed).
    """
    with scratch("scenario-", workdir) as folder:
        return _score_dataset(scenario, seed, pipeline_seeds, params, baselines, ablation, folder, baseline_seeds)


def _score_dataset(scenario, seed, pipeline_seeds, params, baselines, ablation, workdir, baseline_seeds) -> list[dict]:
    baseline_seeds = tuple(pipeline_seeds if baseline_seeds is None else baseline_seeds)
    table, truth, share, rfm = prepare(scenario, seed, workdir)
    known = (truth != sc.RANDOM).to_numpy()
    y = truth.to_numpy()[known]
    k = len(np.unique(y))
    base = params or SnapshotParams(window_days=scenario.window_days)
    rows: list[dict] = []

    def add(method: str, labels, pipeline_seed, seconds: float, extra: dict | None = None):
        labels = np.asarray(labels)
        rows.append({"scenario": scenario.name, "data_seed": seed, "method": method,
                     "pipeline_seed": pipeline_seed, "ari": adjusted_rand(y, labels[known]),
                     "nmi": nmi(y, labels[known]), "noise_share": float(np.mean(labels == -1)),
                     "n_segments": int(len(np.unique(labels[labels >= 0]))), "true_k": k,
                     "sparse": scenario.sparse, "purchase_only": scenario.purchase_only,
                     "planted_random": scenario.random_share, "seconds": round(seconds, 2),
                     "spend_eta2": _eta2(np.log1p(rfm["m"].to_numpy()), labels),
                     "purchases_eta2": _eta2(np.log1p(rfm["f"].to_numpy()), labels), **(extra or {})})

    ours_labels = []
    for pipeline_seed in pipeline_seeds:
        params_seed = SnapshotParams(**{**base.__dict__, "seed": pipeline_seed})
        started = time.perf_counter()
        pipeline = _ours(table, params_seed)
        seconds = time.perf_counter() - started
        add(OURS, pipeline.labels_, pipeline_seed, seconds,
            {"granularity": getattr(pipeline, "granularity_", None)})
        ours_labels.append(pipeline.labels_)
        raw = getattr(pipeline, "raw_labels_", None)
        if raw is not None and len(raw) == len(pipeline.labels_):
            add(RAW, raw, pipeline_seed, seconds)
        if ablation and pipeline_seed in baseline_seeds:
            started = time.perf_counter()
            pipeline = _ours(table, params_seed, encoder="passthrough", map_reducer="passthrough")
            add(ABLATION, pipeline.labels_, pipeline_seed, time.perf_counter() - started)
        if baselines is True and pipeline_seed in baseline_seeds:
            started = time.perf_counter()
            add(UMAP_HDBSCAN, _umap_hdbscan(share.to_numpy(), pipeline_seed, segment_floor(table, base)[0]),
                pipeline_seed, time.perf_counter() - started)
    pairs = [adjusted_rand(a, b) for i, a in enumerate(ours_labels) for b in ours_labels[i + 1:]]
    for row in rows:
        if row["method"] == OURS:
            row["seed_agreement"] = min(pairs) if pairs else None
    if baselines:
        X = share_matrix(share)
        makers = ((KMEANS_K, lambda s: kmeans_told_k(X, k, s)),
                  (KMEANS_SIL, lambda s: _by_silhouette(X, s)), (GMM_BIC, lambda s: _by_bic(X, s)))
        for method, make in makers if baselines is True else makers[:1]:
            for pipeline_seed in baseline_seeds:
                started = time.perf_counter()
                add(method, make(pipeline_seed), pipeline_seed, time.perf_counter() - started)
        started = time.perf_counter()
        labels = rfm_segments(rfm)
        for pipeline_seed in baseline_seeds if baselines is True else ():
            add(RFM, labels, pipeline_seed, time.perf_counter() - started)
    return rows


def _eta2(values: np.ndarray, labels: np.ndarray) -> float:
    """Share of the variance of ``values`` explained by the labels (noise as a group of its own)."""
    values = np.asarray(values, dtype=float)
    total = float(((values - values.mean()) ** 2).sum())
    if total == 0:
        return 0.0
    frame = pd.DataFrame({"v": values, "g": labels})
    means = frame.groupby("g")["v"].transform("mean").to_numpy()
    return float(1 - ((values - means) ** 2).sum() / total)


def run_suite(names, seeds, pipeline_seeds=(0, 1, 2), params_for=None, baselines=True, ablation=True,
              log=print, baseline_seeds=None, partial: Path | None = None) -> pd.DataFrame:
    """All rows for ``names`` × ``seeds``; ``params_for(scenario)`` overrides the snapshot parameters.

    ``partial``: a CSV rewritten after each data set, so a long run can be read while it goes.
    """
    rows = []
    for seed in seeds:  # seed-major: a partial run covers every scenario
        for name in names:
            scenario = sc.SCENARIOS[name]
            params = params_for(scenario) if params_for else None
            dataset = score_dataset(scenario, seed, pipeline_seeds, params, baselines, ablation,
                                    baseline_seeds=baseline_seeds)
            rows += dataset
            if partial is not None:
                pd.DataFrame(rows).to_csv(partial, index=False)
            frame = pd.DataFrame(dataset).groupby("method", sort=False)["ari"].mean()
            log(f"{name:<18} seed {seed:>3}: " + ", ".join(f"{m} {v:.3f}" for m, v in frame.items()))
    return pd.DataFrame(rows)


def summarise_suite(runs: pd.DataFrame) -> pd.DataFrame:
    """Per scenario and method: mean ARI over data seeds of the mean over pipeline seeds, and its range."""
    per_data = runs.groupby(["scenario", "method", "data_seed"], sort=False).agg(
        ari=("ari", "mean"), ari_lo=("ari", "min"), ari_hi=("ari", "max"), noise=("noise_share", "mean"),
        segments=("n_segments", "mean"), true_k=("true_k", "first"),
        spend_eta2=("spend_eta2", "mean"), purchases_eta2=("purchases_eta2", "mean")).reset_index()
    return per_data.groupby(["scenario", "method"], sort=False).agg(
        ari=("ari", "mean"), ari_lo=("ari_lo", "min"), ari_hi=("ari_hi", "max"), noise=("noise", "mean"),
        segments=("segments", "mean"), true_k=("true_k", "first"), spend_eta2=("spend_eta2", "mean"),
        purchases_eta2=("purchases_eta2", "mean")).reset_index()


def verdicts(runs: pd.DataFrame) -> list[str]:
    """The issue's acceptance checks, read off the runs (one line each)."""
    lines = []
    per = runs.groupby(["scenario", "data_seed", "method"]).agg(ari=("ari", "mean"), sparse=("sparse", "first"),
                                                              purchase_only=("purchase_only", "first"))
    per = per.reset_index()
    mean = per.groupby(["scenario", "method"])["ari"].mean().unstack()
    methods = [m for m in BASELINES_NOT_TOLD_K if m in mean.columns]
    losses = [(s, m, mean.loc[s, OURS], mean.loc[s, m]) for s in mean.index for m in methods
              if mean.loc[s, m] > mean.loc[s, OURS]]
    lines.append(f"ours ≥ every baseline not told k on {len(mean) - len({l[0] for l in losses})} of {len(mean)} "
                 "scenarios" + ("" if not losses else "; behind on: " + "; ".join(
                     f"{s} ({m} {b:.3f} vs ours {o:.3f})" for s, m, o, b in losses)))
    if KMEANS_K in mean.columns:
        sparse = per.groupby("scenario")["sparse"].first()
        lines.append(f"suite mean: ours {mean[OURS].mean():.3f} vs kmeans (true k) {mean[KMEANS_K].mean():.3f}; "
                     f"sparse scenarios: ours {mean.loc[sparse[sparse].index, OURS].mean():.3f} vs "
                     f"{mean.loc[sparse[sparse].index, KMEANS_K].mean():.3f}")
    if ABLATION in mean.columns:
        gain = mean[OURS] - mean[ABLATION]
        sparse = per.groupby("scenario")["sparse"].first()
        lines.append(f"autoencoder gain (ours − no autoencoder): sparse {gain[sparse[sparse].index].mean():+.3f}, "
                     f"elsewhere {gain[sparse[~sparse].index].mean():+.3f}")
    ours = runs[runs["method"] == OURS]
    within = (ours["n_segments"] - ours["true_k"]).abs() <= 1
    lines.append(f"segment count within ±1 of the truth on {within.mean():.0%} of our runs ({within.sum()}/{len(ours)})")
    if "seed_agreement" in ours.columns:
        agreement = ours.groupby(["scenario", "data_seed"])["seed_agreement"].first()
        lines.append(f"pipeline seeds 0/1/2 agree (pairwise ARI): min {agreement.min():.3f}, "
                     f"mean {agreement.mean():.3f}")
    noise = ours.groupby("scenario").agg(noise=("noise_share", "max"), planted=("planted_random", "first"))
    over = noise[noise["noise"] > np.maximum(0.10, noise["planted"])]
    lines.append(f"noise ≤ 10 % (or the planted random share) on {len(noise) - len(over)} of {len(noise)} "
                 "scenarios" + ("" if over.empty else "; over on " + ", ".join(
                     f"{s} ({r.noise:.0%})" for s, r in over.iterrows())))
    value = runs[runs["purchase_only"]].groupby("method")[["spend_eta2", "purchases_eta2"]].mean()
    if OURS in value.index:
        lines.append("purchase-only η² (log spend / log purchases): " + ", ".join(
            f"{m} {r.spend_eta2:.2f} / {r.purchases_eta2:.2f}" for m, r in value.iterrows()
            if m in (OURS, RFM, KMEANS_K)))
    return lines


def report(runs: pd.DataFrame, title: str, out: Path) -> str:
    """Write ``out``.csv (every run), ``out``.md (summary table and verdicts); returns the text."""
    out.parent.mkdir(parents=True, exist_ok=True)
    runs.to_csv(out.with_suffix(".csv"), index=False)
    table = summarise_suite(runs)
    wide = table.pivot(index="scenario", columns="method", values="ari")
    order = [m for m in (OURS, ABLATION, RAW, KMEANS_K, KMEANS_SIL, GMM_BIC, UMAP_HDBSCAN, RFM) if m in wide.columns]
    wide = wide[order]
    with pd.option_context("display.float_format", "{:.3f}".format, "display.width", 250):
        text = wide.to_string()
        detail = table.to_string(index=False)
    lines = verdicts(runs)
    document = (f"# {title}\n\nMean ARI over data seeds of the mean over pipeline seeds (customers with a "
                "planted persona; noise −1 is a label of its own).\n\n```\n" + text + "\n```\n\n"
                + "\n".join(f"- {line}" for line in lines) + "\n\n## Detail (range over pipeline and data seeds)\n\n```\n"
                + detail + "\n```\n")
    out.with_suffix(".md").write_text(document)
    return document

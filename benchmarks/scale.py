"""Scale benchmark: one snapshot of N demo customers, stage by stage, beside the baselines.

    .venv/bin/python -m benchmarks.scale --customers 100000
    .venv/bin/python -m benchmarks.scale --customers 1000000      # no fit-on-everyone baseline above 200k

Generates demo data of N customers, all active in one month (``stationary``,
≈ 10 events each: ≈ 10 M events at 1 M), then, each in a fresh child process so
peak memory is the variant's own (RSS sampled every 50 ms in a thread):

* **ours**: ``run_snapshot`` on the month (features → fit on a sample of
  ``--fit-sample`` → assign everyone → profiles → quality metrics → tracking →
  store). Stage seconds come from the snapshot's progress events (their
  stages) and its ``timings``; ARI against ``demo_truth``.
* **assign**: the stored run's models score every customer again
  (``assign_customers``): customers per second of the scoring itself.
* **umap+hdbscan (all)**: UMAP (cluster space) and HDBSCAN fitted on *all*
  customers, no autoencoder, no map, same preprocessing and segment floor: what
  the sample-and-assign design saves (skipped above 200k unless ``--full-baseline``).
* **kmeans**: KMeans (k = the true number of personas) on the same
  standardised features, all customers.

Writes ``benchmarks/results/scale_<N>.csv``, ``.md`` (both tables, printed too)
and ``.json`` (every variant's raw results).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time
from datetime import date, datetime
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("NUMBA_CACHE_DIR", str(ROOT / ".cache" / "numba"))

from segmentation.workflows.progress import ProgressEvent, Stage  # noqa: E402 - after the path is set

RESULTS = ROOT / "benchmarks" / "results"
AS_OF = date(2025, 1, 31)  # the demo's first (and only) month
WINDOW_DAYS = 30  # [2025-01-01, 2025-01-31]: the whole month
FULL_BASELINE_MAX = 200_000

# The stages of run_snapshot's progress events that start a measured stage (the others belong to
# the one before them).
STAGES = {
    Stage.FEATURES: "feature SQL",
    Stage.FITTING: "preprocessing",
    Stage.TRAINING: "autoencoder training",
    Stage.EMBEDDING: "embedding (UMAP, cluster space)",
    Stage.CLUSTERING: "clustering (HDBSCAN)",
    Stage.MAPPING: "2-D map (UMAP) + out-of-sample mapping",
    Stage.ASSIGNING: "assignment of everyone",
    Stage.SEGMENTS: "segments found",
    Stage.PROFILES: "profiles + quality metrics",
    Stage.RULES: "rules",
    Stage.LOOKALIKES: "lookalikes",
    Stage.TRACKING: "tracking",
    Stage.STORE: "store",
    Stage.STORED: "done",
}

#: The stages of the whole fit, preprocessing to the assignment of everyone (the "whole fit" row).
FIT_STAGES = (Stage.FITTING, Stage.TRAINING, Stage.EMBEDDING, Stage.CLUSTERING, Stage.MAPPING, Stage.ASSIGNING)


class MemorySampler:
    """Peak resident memory (bytes) of this process, overall and per stage, sampled in a thread."""

    def __init__(self, interval: float = 0.05):
        import psutil

        self._process = psutil.Process()
        self._interval = interval
        self.stage = "start"
        self.peak: dict[str, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _sample(self) -> None:
        rss = self._process.memory_info().rss
        self.peak[self.stage] = max(self.peak.get(self.stage, 0), rss)

    def _run(self) -> None:
        while not self._stop.is_set():
            self._sample()
            self._stop.wait(self._interval)

    def enter(self, stage: str) -> None:
        """Start attributing samples to ``stage`` (sampled at once: short stages get a value too)."""
        self.stage = stage
        self._sample()

    def __enter__(self) -> "MemorySampler":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def overall(self) -> int:
        return max(self.peak.values(), default=0)


# ---------------------------------------------------------------- children (one variant each)
def child_snapshot(db: Path, fit_sample: int) -> dict:
    """run_snapshot with stage timestamps and per-stage peak memory."""
    from segmentation.workflows.snapshot import SnapshotParams, run_snapshot

    marks: list[tuple[str, float]] = []
    with MemorySampler() as memory:
        def progress(event: ProgressEvent) -> None:
            stage = STAGES.get(event.stage)
            if stage is not None and stage != memory.stage:
                marks.append((stage, time.perf_counter()))
                memory.enter(stage)

        params = SnapshotParams(window_days=WINDOW_DAYS, fit_sample_size=fit_sample, seed=0)
        document = run_snapshot(db, AS_OF, params, progress=progress)
    seconds = {stage: round(marks[i + 1][1] - t, 3) for i, (stage, t) in enumerate(marks[:-1])}
    timings = document["timings"]
    # No message separates profiles from the quality report: take both from the snapshot's own timings.
    seconds.pop("profiles + quality metrics", None)
    seconds["profiles"], seconds["quality metrics"] = timings["profiles"], timings["metrics"]
    for stage in ("feature SQL", "rules", "lookalikes", "store", "tracking"):  # the snapshot's own laps are tighter
        seconds[stage] = timings[{"feature SQL": "features"}.get(stage, stage)]
    seconds["other (between the stages)"] = round(document["seconds"] - sum(seconds.values()), 3)
    peak = {stage: memory.peak.get(stage, 0) for stage in STAGES.values()}
    peak["profiles"] = peak["quality metrics"] = peak.pop("profiles + quality metrics")
    return {"run_id": document["run_id"], "n_customers": document["n_customers"],
            "fit_sample": min(fit_sample, document["n_customers"]),
            "n_segments": document["n_segments"], "noise_share": document["noise_share"],
            "ari": document["metrics"].get("ari"), "seconds_total": document["seconds"],
            "stage_seconds": seconds, "stage_peak_rss": peak, "peak_rss": memory.overall, "timings": timings}


def child_assign(db: Path, run_id: int) -> dict:
    """Score every customer again with the stored run's models (features included in the wall time)."""
    from segmentation.workflows.assign import assign_customers

    with MemorySampler() as memory:
        started = time.perf_counter()
        document = assign_customers(db, run_id)
        wall = time.perf_counter() - started
    return {"n_scored": document["n_scored"], "seconds": document["seconds"], "wall_seconds": round(wall, 3),
            "customers_per_second": document["customers_per_second"],
            "agreement_with_run": document["agreement_with_run"], "peak_rss": memory.overall}


def demo_month(db: Path, customers: int, seed: int) -> dict:
    """The benchmark's data in a new database ``db``: ``customers`` demo customers all active in one month
    (``stationary``); returns ``create_demo``'s summary."""
    from segmentation.data import store
    from segmentation.demo.generate import create_demo

    with store.connect(db) as con:
        return create_demo(con, customers=customers, months=1, seed=seed, stationary=True)


def baseline_inputs(db: Path):
    """What a baseline fitted on all customers sees: the snapshot's feature table ``X``, the personas ``y``
    and the pipeline settings the baselines share (fitted on everyone, nobody left to map)."""
    from segmentation.workflows.snapshot import SnapshotParams, clustering_frame, make_pipeline, snapshot_inputs

    table, truth = snapshot_inputs(db, AS_OF, WINDOW_DAYS)
    params = SnapshotParams(window_days=WINDOW_DAYS)
    settings = make_pipeline(table, params).get_params()
    for step in ("encoder", "reducer", "clusterer", "map_reducer", "mapping"):
        settings.pop(step, None)
    settings["fit_sample_size"] = None  # everyone
    settings["mapping"] = "transform"  # nobody is left to assign: no neighbour index to build
    settings["split_distance"] = None  # the split by mix needs the neighbour mapping (refused with transform)
    X = clustering_frame(table, params)
    return X, truth.reindex(X.index).fillna("(unknown)").to_numpy(), settings


def child_baseline(db: Path, method: str) -> dict:
    """A baseline of benchmarks.quality fitted on all customers of the snapshot's feature table."""
    import numpy as np

    from benchmarks.quality import methods
    from segmentation.engine.metrics import adjusted_rand

    with MemorySampler() as memory:
        X, y, settings = baseline_inputs(db)
        pipeline = methods(len(np.unique(y)), **settings)[method]
        started = time.perf_counter()
        pipeline.fit(X)
        seconds = time.perf_counter() - started
    return {"seconds": round(seconds, 3), "ari": adjusted_rand(y, pipeline.labels_),
            "n_segments": pipeline.n_segments_, "noise_share": pipeline.noise_share_,
            "n_customers": len(X), "peak_rss": memory.overall}


def _child(kind: str, db: Path, out: Path, extra: str) -> None:
    if kind == "snapshot":
        result = child_snapshot(db, int(extra))
    elif kind == "assign":
        result = child_assign(db, int(extra))
    else:
        result = child_baseline(db, extra)
    result["load_average"] = round(os.getloadavg()[0], 1)  # the machine is shared: context for wall times
    out.write_text(json.dumps(result))


def run_child(kind: str, db: Path, extra: str, work: Path) -> dict:
    """Run one variant in a fresh interpreter; its result comes back through a JSON file."""
    out = work / f"{kind}-{extra}.json"
    command = [sys.executable, "-m", "benchmarks.scale", "--child", kind, "--db", str(db),
               "--child-out", str(out), "--child-extra", str(extra)]
    print(f"  … {kind} {extra}", flush=True)
    subprocess.run(command, check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
    return json.loads(out.read_text())


# ---------------------------------------------------------------- parent
def _gb(n_bytes: float) -> float:
    return round(n_bytes / 1e9, 2)


def tables(ours: dict, assign: dict, baselines: dict[str, dict]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Stage table (seconds, peak RSS) and method table (seconds, ARI, ratio) from the children's results."""
    stages = [stage for stage in STAGES.values() if stage not in ("done", "profiles + quality metrics")]
    stages[stages.index("tracking"):stages.index("tracking")] = ["profiles", "quality metrics"]
    rows = [{"stage": s, "seconds": ours["stage_seconds"].get(s), "peak_rss_gb": _gb(ours["stage_peak_rss"].get(s, 0))}
            for s in stages]
    rows.append({"stage": "other (between the stages)", "seconds": ours["stage_seconds"].get("other (between the stages)"),
                 "peak_rss_gb": None})
    rows.append({"stage": "snapshot total", "seconds": ours["seconds_total"], "peak_rss_gb": _gb(ours["peak_rss"])})
    rows.append({"stage": f"assign everyone with the stored models ({assign['customers_per_second']:,.0f}/s)",
                 "seconds": assign["seconds"], "peak_rss_gb": _gb(assign["peak_rss"])})
    stage_table = pd.DataFrame(rows)

    seconds = ours["stage_seconds"]
    fit_seconds = sum(seconds.get(STAGES[stage], 0) for stage in FIT_STAGES)
    # Like for like with "UMAP+HDBSCAN on all": the same two models on the sample, plus assigning the rest.
    design_seconds = sum(seconds.get(s, 0) for s in ("embedding (UMAP, cluster space)", "clustering (HDBSCAN)",
                                                     "assignment of everyone"))
    common = {"ari": ours["ari"], "n_segments": ours["n_segments"], "noise_share": ours["noise_share"],
              "peak_rss_gb": _gb(ours["peak_rss"])}
    methods = [
        {"method": "ours, UMAP+HDBSCAN on the sample + assign the rest", "customers_fitted": ours["fit_sample"],
         "seconds": round(design_seconds, 2), **common},
        {"method": "ours, whole fit (+ preprocessing, autoencoder, 2-D map)", "customers_fitted": ours["fit_sample"],
         "seconds": round(fit_seconds, 2), **common},
    ]
    names = {"umap+hdbscan": "UMAP+HDBSCAN fitted on all customers (no AE, no map)",
             "kmeans": "KMeans on the same features, all customers"}
    for key, result in baselines.items():
        methods.append({"method": names[key], "customers_fitted": result["n_customers"], "seconds": result["seconds"],
                        "ari": result["ari"], "n_segments": result["n_segments"],
                        "noise_share": result["noise_share"], "peak_rss_gb": _gb(result["peak_rss"])})
    method_table = pd.DataFrame(methods)
    method_table["seconds_vs_sample_and_assign"] = (method_table["seconds"] / design_seconds).round(2)
    return stage_table, method_table


def markdown_table(frame: pd.DataFrame) -> str:
    """A GitHub markdown table; floats with 2 decimals (3 for ARI and shares), thousands separators."""
    def cell(column: str, value) -> str:
        if value is None or (isinstance(value, float) and pd.isna(value)):
            return ""
        if isinstance(value, float):
            return f"{value:,.3f}" if column in ("ari", "noise_share") else f"{value:,.2f}"
        return f"{value:,}" if isinstance(value, int) else str(value)

    lines = ["| " + " | ".join(frame.columns) + " |", "|" + "---|" * len(frame.columns)]
    lines += ["| " + " | ".join(cell(c, v) for c, v in zip(frame.columns, row)) + " |"
              for row in frame.itertuples(index=False)]
    return "\n".join(lines)


def write_results(n: int, stage_table: pd.DataFrame, method_table: pd.DataFrame, header: str,
                  out_dir: Path) -> Path:
    """``scale_<n>.csv`` (both tables, a ``table`` column tells them apart) and ``scale_<n>.md``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    both = pd.concat([stage_table.assign(table="stages"), method_table.assign(table="methods")], ignore_index=True)
    both.to_csv(out_dir / f"scale_{n}.csv", index=False)
    md = [f"# Scale: {n:,} customers", "", header, "", markdown_table(stage_table), "",
          markdown_table(method_table), ""]
    path = out_dir / f"scale_{n}.md"
    path.write_text("\n".join(md))
    return path


def main(argv: list[str] | None = None) -> None:
    """Generate the data, run every variant in its own process, print and save the tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--fit-sample", type=int, default=50_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--full-baseline", action="store_true", help="UMAP+HDBSCAN on all, even above 200k")
    parser.add_argument("--no-baselines", action="store_true")
    parser.add_argument("--out-dir", type=Path, default=RESULTS)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--db", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--child-out", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--child-extra", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        _child(args.child, args.db, args.child_out, args.child_extra)
        return

    n = args.customers
    with tempfile.TemporaryDirectory(prefix="scale-") as tmp:
        work = Path(tmp)
        db = work / "scale.duckdb"
        print(f"demo data: {n:,} customers, one month …", flush=True)
        demo = demo_month(db, n, args.seed)
        ours = run_child("snapshot", db, str(args.fit_sample), work)
        assign = run_child("assign", db, str(ours["run_id"]), work)
        baselines = {}
        if not args.no_baselines:
            if n <= FULL_BASELINE_MAX or args.full_baseline:
                baselines["umap+hdbscan"] = run_child("baseline", db, "umap+hdbscan", work)
            baselines["kmeans"] = run_child("baseline", db, "kmeans", work)
    stage_table, method_table = tables(ours, assign, baselines)
    header = (f"{demo['events']:,} events, {ours['n_customers']:,} customers active in the {WINDOW_DAYS}-day window "
              f"as of {AS_OF}; fit sample {min(args.fit_sample, ours['n_customers']):,}; demo written in "
              f"{demo['seconds']:.1f} s; {os.cpu_count()} CPU cores, Python {platform.python_version()}, "
              f"run {datetime.now():%Y-%m-%d %H:%M}. Peak RSS is per stage, each variant in its own process. "
              f"1-min load average at the end of the snapshot {ours['load_average']}, of the assign "
              f"{assign['load_average']}"
              + (" (other work shared the 2 cores)." if max(ours["load_average"], assign["load_average"]) > 2.5
                 else " (nothing else ran)."))
    path = write_results(n, stage_table, method_table, header, args.out_dir)
    raw = {"customers": n, "demo": demo, "ours": ours, "assign": assign, "baselines": baselines, "header": header}
    path.with_suffix(".json").write_text(json.dumps(raw, indent=1, default=str))
    with pd.option_context("display.width", 160, "display.max_colwidth", 70):
        print(header)
        print(stage_table.to_string(index=False))
        print(method_table.to_string(index=False))
    print(f"saved {path}, {path.with_suffix('.csv')} and {path.with_suffix('.json')} (raw results)")


if __name__ == "__main__":
    main()

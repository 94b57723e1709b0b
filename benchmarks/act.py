"""Acting on segments, measured: rule fidelity and lookalike recall, beside their baselines.

    .venv/bin/python -m benchmarks.act                      # demo + held-out scenarios (seeds 100-104)
    .venv/bin/python -m benchmarks.act --seeds 100 --scenarios rich_7 purchases_6

For each data set the engine is fitted as ``run`` fits it (pipeline seed 0) and its segments are
what the numbers are about (not the planted personas: rules and lookalikes describe the segments
the workbench found). Per non-noise segment:

Rules (``segmentation.dynamics.rules``), fidelity F1 of the rule set against the segment's members:
* ``rules (shown)``: ≤ 3 rules of ≤ 3 conditions, thresholds rounded, measured on every customer,
  as the product shows it;
* ``rules (held-out half)``: grown on a random half of the customers, measured on the other half;
* ``tree, unlimited depth (held-out half)``: the upper bound, same split;
* ``one-feature rule (held-out half)``: the best single threshold (depth-1 tree), the floor.

Lookalikes (``segmentation.audiences.lookalike``): recall at the top 20 % of held-out members (20 % of the
segment hidden from the seed; random = 0.20), ours in the engine's cluster space beside the
distance to the seed's mean in standardised features, on the same split.

Results: printed and written to benchmarks/results/act.csv and act.md.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from segmentation.audiences.lookalike import evaluate
from segmentation.dynamics.rules import display_kinds, one_feature_rule, segment_rules, tree_fidelity
from segmentation.workflows.snapshot import SnapshotParams, clustering_frame, make_pipeline, snapshot_inputs

from . import scenarios as sc

RESULTS = Path(__file__).resolve().parent / "results"
DEMO = ("demo", 6000, date(2025, 6, 30), 90)  # name, customers, snapshot date, window


def _demo(workdir: Path):
    from segmentation.data import store
    from segmentation.demo.generate import create_demo

    _, customers, as_of, window = DEMO
    db = workdir / "demo.duckdb"
    with store.connect(db) as con:
        create_demo(con, customers=customers, months=6, seed=7)
    return snapshot_inputs(db, as_of, window)[0]


def _scenario(name: str, seed: int, workdir: Path):
    db = workdir / f"{name}_{seed}.duckdb"
    as_of, window, _ = sc.load_into(db, sc.SCENARIOS[name], seed, workdir)
    return snapshot_inputs(db, as_of, window)[0]


def score_table(table, data: str, seed: int, log=print) -> list[dict]:
    """Fit the engine on ``table`` and score rules and lookalikes for each of its segments."""
    params = SnapshotParams(seed=0)
    started = time.perf_counter()
    features = clustering_frame(table, params)
    pipeline = make_pipeline(table, params).fit(features, halves=table.halves)  # as the snapshot fits it
    labels = pipeline.labels_
    space = pipeline.transform(features)
    fit_seconds = time.perf_counter() - started
    frame = table.frame
    kinds = display_kinds(frame, table.catalog)
    words = {f.name: f.label for f in table.catalog}
    half = np.random.default_rng(seed).random(len(frame)) < 0.5
    rows = []
    for segment in sorted(s for s in np.unique(labels) if s != -1):
        member = labels == segment
        t = time.perf_counter()
        shown = segment_rules(frame, member, kinds, words)
        rules_seconds = time.perf_counter() - t
        trained = segment_rules(frame[half], member[half], kinds, words)
        test, test_member = frame[~half], member[~half]
        predicted = np.zeros(len(test), dtype=bool)
        for rule in trained["rules"]:
            mask = np.ones(len(test), dtype=bool)
            for c in rule["conditions"]:
                values = test[c["feature"]].to_numpy()
                mask &= values <= c["threshold"] if c["op"] == "<=" else values > c["threshold"]
            predicted |= mask
        tp = float((predicted & test_member).sum())
        held_f1 = 2 * tp / max(1.0, predicted.sum() + test_member.sum())
        t = time.perf_counter()
        lookalike = evaluate(space, member, features=frame.to_numpy(np.float64), random_state=seed)
        lookalike_seconds = time.perf_counter() - t
        rows.append({
            "data": data, "seed": seed, "segment": int(segment), "size": int(member.sum()),
            "share": float(member.mean()), "n_rules": len(shown["rules"]),
            "rules (shown)": shown["fidelity"]["f1"],
            "rules (held-out half)": held_f1,
            "tree, unlimited depth (held-out half)": tree_fidelity(frame[half], member[half], test, test_member)["f1"],
            "one-feature rule (held-out half)": one_feature_rule(frame[half], member[half], test, test_member)["f1"],
            "lookalike recall@20 (ours)": lookalike["recall_at_20"],
            "lookalike recall@20 (mean-distance baseline)": lookalike["baseline_recall_at_20"],
            "rules_seconds": rules_seconds, "lookalike_seconds": lookalike_seconds, "fit_seconds": fit_seconds,
        })
    summary = pd.DataFrame(rows)
    log(f"{data:<18} seed {seed:>3}: {len(rows)} segments, rules F1 {summary['rules (shown)'].mean():.3f} "
        f"(held-out {summary['rules (held-out half)'].mean():.3f}), lookalike recall@20 "
        f"{summary['lookalike recall@20 (ours)'].mean():.3f} vs "
        f"{summary['lookalike recall@20 (mean-distance baseline)'].mean():.3f} ({fit_seconds:.0f} s fit)")
    return rows


METRICS = ["rules (shown)", "rules (held-out half)", "tree, unlimited depth (held-out half)",
           "one-feature rule (held-out half)", "lookalike recall@20 (ours)",
           "lookalike recall@20 (mean-distance baseline)"]


def summarise(rows: pd.DataFrame) -> pd.DataFrame:
    """Mean over segments per data set (scenario), then the mean of those over seeds."""
    per = rows.groupby(["data", "seed"])[METRICS + ["n_rules"]].mean().reset_index()
    table = per.groupby("data", sort=False)[METRICS + ["n_rules"]].mean()
    table.loc["held-out scenarios (mean)"] = per[per["data"] != "demo"][METRICS + ["n_rules"]].mean()
    return table


def report(rows: pd.DataFrame, seeds) -> str:
    table = summarise(rows)
    lines = ["# Acting on segments: rule fidelity and lookalike recall", "",
             f"`python -m benchmarks.act` — demo (6,000 customers, 90-day window, seed 7) and the held-out "
             f"scenarios of `benchmarks/scenarios.py` (data seeds {', '.join(map(str, seeds))}); the engine's "
             "own segments, pipeline seed 0. Mean over segments, then over seeds. Rules: F1 against the "
             "segment's members. Lookalikes: recall of held-out members (20 %) in the top 20 % "
             "(random = 0.20).", "",
             "| data | " + " | ".join(METRICS) + " | rules per segment |",
             "|---|" + "---|" * (len(METRICS) + 1)]
    for name, row in table.iterrows():
        lines.append(f"| {name} | " + " | ".join(f"{row[m]:.3f}" for m in METRICS) + f" | {row['n_rules']:.1f} |")
    lines += ["", f"Segments scored: {len(rows)}; rules took {rows['rules_seconds'].median():.2f} s and the "
              f"lookalike evaluation {rows['lookalike_seconds'].median():.2f} s per segment (median)."]
    return "\n".join(lines) + "\n"


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, nargs="*", default=list(sc.HELDOUT_SEEDS))
    parser.add_argument("--scenarios", nargs="*", default=list(sc.SCENARIOS))
    parser.add_argument("--no-demo", action="store_true")
    parser.add_argument("--tag", default="")
    args = parser.parse_args(argv)
    rows: list[dict] = []
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"act{args.tag}"
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        if not args.no_demo:
            rows += score_table(_demo(workdir), "demo", 7)
        for seed in args.seeds:
            for name in args.scenarios:
                rows += score_table(_scenario(name, seed, workdir), name, seed)
                pd.DataFrame(rows).to_csv(out.with_suffix(".csv"), index=False)
    frame = pd.DataFrame(rows)
    text = report(frame, args.seeds)
    out.with_suffix(".md").write_text(text, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()

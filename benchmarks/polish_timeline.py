"""The demo's timelines above the size that turns the polish on, with and without it (README v34).

    .venv/bin/python -m benchmarks.polish_timeline [--customers 30000]   # -> results/dynamics_polish_<N>.md/.csv

From 25,000 fitted customers the engine polishes a fit's segments (``polish_from``,
segmentation/engine/polish.py). Below that size the polish was measured to cost timelines false events (the
change suite at 2,500 customers, README v26 and v31); every timeline benchmark runs below it. This runs
``benchmarks.dynamics``' two demo timelines (the evolving demo at month ends, March to December, and the
stationary demo over six month ends; data seed 7, the products' defaults, models reused until drift) at
``--customers`` customers, once as the engine runs (the polish on) and once with ``polish_from=off``: the
emerging persona's flag and delay, false ``emerged`` events, segments surviving on the stationary demo, the
ARI of every snapshot.

``--changes NAME,...`` runs those planted changes of the change suite instead (``benchmarks.changes``, month
ends, data seed 100, at ``--customers`` customers instead of the suite's 2,500; ours only, models reused
until drift), scored as the suite scores them (-> results/changes_polish_<N>.md/.csv): the timelines where
the polish read false events at 2,500 customers (README v31: merge, seasonal, emerge_distinct+new_category).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

from benchmarks.dynamics import emergence_lines, month_ends, run_series, survival, table

RESULTS = Path(__file__).resolve().parent / "results"
VARIANTS = {"polish on (v34, the default)": {}, "polish off (polish_from=off)": {"polish_from": None}}


def events(series: pd.DataFrame) -> str:
    """Transitions other than ``survived`` over a timeline's steps, by kind (``none`` when there are none)."""
    counts: dict[str, int] = {}
    for step in series["transitions"].iloc[1:]:
        for kind, n in step.items():
            if kind != "survived" and n:
                counts[kind] = counts.get(kind, 0) + int(n)
    return ", ".join(f"{kind} {n}" for kind, n in sorted(counts.items())) or "none"


def changes(names: list[str], customers: int, seed: int = 100) -> pd.DataFrame:
    """Each planted change at ``customers`` customers, month ends, with each variant: the suite's scores."""
    from dataclasses import replace

    from benchmarks import changes as ch
    from benchmarks.dynamics_changes import OURS, run_case

    rows = []
    for name in names:
        change = replace(ch.named(name), customers=customers)
        for variant, extra in VARIANTS.items():
            row, = [r for r in run_case(change, seed, "month ends", baselines=False, extra=extra) if r["method"] == OURS]
            rows.append({"change": name, "variant": variant, **{k: row.get(k) for k in (
                "expected", "detected", "false_events", "delay", "lineage_kept", "survived_share", "refits",
                "snapshots", "seconds")}})
            print(rows[-1], flush=True)
    return pd.DataFrame(rows)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=30_000)
    parser.add_argument("--window-days", type=int, default=90)
    parser.add_argument("--changes", help="comma list of the change suite's changes (see the docstring)")
    parser.add_argument("--tag", default="", help="--changes: appended to the results' file name")
    args = parser.parse_args(argv)
    if args.changes:
        frame = changes(args.changes.split(","), args.customers)
        out = RESULTS / f"changes_polish_{args.customers}{args.tag}"
        frame.to_csv(out.with_suffix(".csv"), index=False)
        out.with_suffix(".md").write_text("\n".join(
            [f"# Planted changes at {args.customers:,} customers (data seed 100, month ends), the size polish on and off",
             "", "Written by `python -m benchmarks.polish_timeline --changes ...` (see its docstring).", "",
             "```", frame.round(3).to_string(index=False), "```", ""]))
        print(frame.to_string(index=False))
        return
    lines, tables, frames = [], [], []
    for name, extra in VARIANTS.items():
        evolving = run_series(False, args.customers, month_ends(3, 12), args.window_days, extra=extra)
        stationary = run_series(True, args.customers, month_ends(3, 8), args.window_days, extra=extra)
        summary = [*emergence_lines(evolving),
                   f"false `emerged` after the first snapshot, in all: {int(evolving['false_emerged'].iloc[1:].sum())}",
                   f"events after the first snapshot, evolving demo (one persona emerges): {events(evolving)}",
                   f"events after the first snapshot, stationary demo (nothing changes): {events(stationary)}",
                   f"stationary demo: {survival(stationary):.1%} of segments survived snapshot to snapshot",
                   f"ARI, mean over the snapshots: evolving {evolving['ari'].mean():.4f}, "
                   f"stationary {stationary['ari'].mean():.4f}"]
        lines += [f"## {name}", "", *[f"- {line}" for line in summary], ""]
        tables += [f"## {name}: evolving demo", "", *table(evolving), f"## {name}: stationary demo", "",
                   *table(stationary)]
        for kind, frame in (("evolving", evolving), ("stationary", stationary)):
            frames.append(frame.assign(variant=name, timeline=kind))
        print("\n".join(summary), flush=True)
    out = RESULTS / f"dynamics_polish_{args.customers}"
    pd.concat(frames, ignore_index=True).to_csv(out.with_suffix(".csv"), index=False)
    out.with_suffix(".md").write_text("\n".join(
        [f"# The demo's timelines at {args.customers:,} customers, the size polish on and off", "",
         "Written by `python -m benchmarks.polish_timeline` (see its docstring).", "", *lines, *tables]))


if __name__ == "__main__":
    main()

"""Dynamics benchmark: is the planted emerging persona flagged `emerged` in time, and do
stable segments survive?

    .venv/bin/python -m benchmarks.dynamics [--customers 20000] [--stationary-snapshots 6]
    .venv/bin/python -m benchmarks.dynamics --suite changes --seeds heldout   # the change-scenario suite

On the demo timeline (month-end snapshots, 90-day window) it reports, per snapshot, the
emerging persona's share of the customers, the segments flagged `emerged` and whether one of
them is mostly (≥ 50 %) that persona; then the first snapshot where the persona holds ≥ 2 %,
the first where it is flagged `emerged`, and the false `emerged` events before that (the first
snapshot aside). On the stationary demo (no emergence, no migration) it reports the share of
segments that survive from each snapshot to the next. Printed and saved to
benchmarks/results/dynamics*.csv and dynamics.md.
"""

from __future__ import annotations

import argparse
import calendar
import time
from datetime import date, timedelta
from pathlib import Path

import pandas as pd

from segmentation.data import store
from segmentation.demo.generate import create_demo
from segmentation.demo.personas import EMERGING
from segmentation.workflows.snapshot import SnapshotParams, run_snapshot

from .scratch import scratch

RESULTS = Path(__file__).resolve().parent / "results"


def month_ends(first_month: int, last_month: int, year: int = 2025) -> list[date]:
    return [date(year, m, calendar.monthrange(year, m)[1]) for m in range(first_month, last_month + 1)]


def run_series(stationary: bool, customers: int, dates: list[date], window_days: int,
               refit: bool = False, min_cluster_share: float | None = SnapshotParams.min_cluster_share,
               extra: dict | None = None) -> pd.DataFrame:
    """The demo's timeline: one snapshot per date, each row what it found; ``extra``: engine options."""
    with scratch("dynamics-") as folder:
        return _run_series(folder / "dynamics.duckdb", stationary, customers, dates, window_days, refit, min_cluster_share,
                           extra or {})


def _run_series(db: Path, stationary: bool, customers: int, dates: list[date], window_days: int, refit: bool,
                min_cluster_share: float | None, extra: dict) -> pd.DataFrame:
    with store.connect(db) as con:
        create_demo(con, customers=customers, months=12, seed=7, stationary=stationary)
    rows = []
    for when in dates:
        started = time.perf_counter()
        document = run_snapshot(db, when, SnapshotParams(window_days=window_days, refit=refit,
                                                      min_cluster_share=min_cluster_share, extra=dict(extra)))
        with store.connect(db, read_only=True) as con:
            mix = con.execute(
                """
                WITH truth AS (SELECT customer_id, arg_max(persona, month) AS persona FROM demo_truth
                               WHERE month <= date_trunc('month', $as_of::DATE) GROUP BY 1)
                SELECT a.segment_id, s.transition, avg((t.persona = $persona)::INT) AS emerging_share,
                       count(*) AS size
                FROM assignments a JOIN segments s USING (run_id, segment_id)
                LEFT JOIN truth t USING (customer_id)
                WHERE a.run_id = $run_id GROUP BY ALL
                """,
                {"as_of": when, "persona": EMERGING, "run_id": document["run_id"]},
            ).df()
        total = mix["size"].sum()
        persona_share = float((mix["emerging_share"] * mix["size"]).sum() / total)
        emerged = mix[mix["transition"] == "emerged"]
        counts = document["metrics"]["tracking"].get("counts", {})
        real = sum(v for k, v in counts.items() if k != "disappeared") or 1
        rows.append({
            "as_of": when.isoformat(), "run_id": document["run_id"], "n_segments": document["n_segments"],
            "emerging_persona_share": round(persona_share, 4),
            "n_emerged": int(len(emerged)),
            "emerging_persona_flagged": bool((emerged["emerging_share"] >= 0.5).any()),
            "false_emerged": int((emerged["emerging_share"] < 0.5).sum()),
            "survived": int(counts.get("survived", 0)), "transitions": counts,
            "survived_share": counts.get("survived", 0) / real if document["metrics"]["tracking"]["previous_run"] else None,
            "ari": document["metrics"].get("ari"), "seconds": round(time.perf_counter() - started, 1),
            "model": _model_note(document["metrics"]["model"]),
        })
        print(rows[-1], flush=True)
    return pd.DataFrame(rows)


def _model_note(model: dict) -> str:
    """``refit`` or ``reused run N`` with the drift figures that decided it."""
    what = "refit" if model["refit"] else f"reused run {model['from_run']}"
    if model.get("from_run") is None and model["refit"]:
        return f"{what} ({model['reasons'][0]})"
    noise = f"{model['noise_share']:.1%}"
    if model.get("unexplained_as_noise"):
        noise += f" + {model['unexplained_as_noise']:,} unexplained customers reported as noise"
    return f"{what} (unexplained {model['novelty_share']:.1%}, noise {noise})"


def survival(series: pd.DataFrame) -> float:
    """Share of tracked segments that survived, over all snapshot-to-snapshot steps."""
    steps = series.iloc[1:]
    tracked = steps["transitions"].map(lambda c: sum(v for k, v in c.items() if k != "disappeared")).sum()
    return float(steps["survived"].sum() / max(1, tracked))


def emergence(evolving: pd.DataFrame) -> tuple[str | None, str | None, int]:
    """(first snapshot where the persona holds >= 2 %, first where it is flagged, false alarms before)."""
    reached = evolving[evolving["emerging_persona_share"] >= 0.02]
    flagged = evolving[evolving["emerging_persona_flagged"]]
    first_flagged = flagged["as_of"].iloc[0] if not flagged.empty else None
    before = evolving.iloc[1:]
    if first_flagged:
        before = before[before["as_of"] < first_flagged]
    return (reached["as_of"].iloc[0] if not reached.empty else None), first_flagged, int(before["n_emerged"].sum())


def emergence_lines(evolving: pd.DataFrame) -> list[str]:
    first_reached, first_flagged, false_before = emergence(evolving)
    return [f"emerging persona first >= 2 % of customers: {first_reached}",
            f"first snapshot with a segment mostly of it flagged `emerged`: {first_flagged}",
            f"false `emerged` events before it (first snapshot aside): {false_before}"]


def table(frame: pd.DataFrame) -> list[str]:
    return ["```", frame.drop(columns=["transitions"]).to_string(index=False), "```", ""]


#: The demo's cadences: month ends, every 30 days from an arbitrary date, weekly.
DEMO_CADENCES = {
    "month ends": month_ends(3, 12),
    "every 30 days from 1 April": [date(2025, 4, 1) + timedelta(days=30 * i) for i in range(9)],
    "weekly": [date(2025, 4, 27) + timedelta(days=7 * i) for i in range(14)],
}


def demo_cadences(args) -> None:
    """The evolving demo on each cadence: is the emerging persona flagged in time, with no false alarm?"""
    chosen = list(DEMO_CADENCES) if args.cadences == "all" else args.cadences.split(",")
    lines, tables = [], []
    for cadence in chosen:
        series = run_series(False, args.customers, DEMO_CADENCES[cadence], args.window_days,
                            min_cluster_share=args.min_cluster_share)
        first_reached, first_flagged, false_before = emergence(series)
        index = {d: i for i, d in enumerate(series["as_of"])}
        delay = (index[first_flagged] - index[first_reached]) if first_flagged and first_reached else None
        false_total = int(series["false_emerged"].iloc[1:].sum())
        lines.append(f"{cadence}: persona ≥ 2 % on {first_reached}, flagged on {first_flagged} "
                     f"(delay {delay} snapshots); false `emerged` before it {false_before}, in all {false_total}")
        tables += [f"## {cadence}", "", *table(series)]
        print(lines[-1], flush=True)
    (RESULTS / "dynamics_demo_cadences.md").write_text("\n".join(
        ["# The demo's emerging persona on every cadence", "", *[f"- {line}" for line in lines], "", *tables]))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=20_000)
    parser.add_argument("--window-days", type=int, default=90)
    parser.add_argument("--stationary-snapshots", type=int, default=6)
    parser.add_argument("--min-cluster-share", type=float, default=SnapshotParams.min_cluster_share,
                        help="smallest segment (default: chosen by the data, see segment_floor)")
    parser.add_argument("--evolving-only", action="store_true",
                        help="only the evolving timeline (saved as dynamics_timeline_<share>.csv/.md)")
    parser.add_argument("--suite", choices=("demo", "changes"), default="demo",
                        help="demo: the demo timeline (below); changes: planted changes × cadences "
                             "(benchmarks/dynamics_changes.py)")
    parser.add_argument("--seeds", default="heldout", help="changes: tuning, heldout or a comma list")
    parser.add_argument("--changes", default="all", help="changes: comma list of change names (default all)")
    parser.add_argument("--cadences", default="all", help="changes: comma list of cadences (default all)")
    parser.add_argument("--baselines-on", default="month ends",
                        help="changes: cadences on which the refit baselines run too (comma list)")
    parser.add_argument("--tag", default="", help="changes: suffix of the result files")
    parser.add_argument("--baseline-seeds", default="all", help="changes: data seeds the refit baselines run on")
    parser.add_argument("--baselines-only", action="store_true",
                        help="changes: only the refit baselines (MONIC and ours refitted at every snapshot)")
    parser.add_argument("--combine", action="store_true",
                        help="changes: one report (--report) from the result files matching --pattern")
    parser.add_argument("--pattern", default="changes_1*.csv", help="changes --combine: result files to read")
    parser.add_argument("--report", default="changes_heldout.md", help="changes --combine: the report's file name")
    parser.add_argument("--purchases", action="store_true",
                        help="changes: also the purchase log with quarterly snapshots (…_purchases.csv)")
    parser.add_argument("--demo-cadences", action="store_true",
                        help="demo: the evolving demo on every cadence (dynamics_demo_cadences.md)")
    args = parser.parse_args(argv)
    RESULTS.mkdir(parents=True, exist_ok=True)
    if args.suite == "changes":
        from .dynamics_changes import combine, main_changes

        print(combine(RESULTS, args.pattern, args.report)) if args.combine else main_changes(args, RESULTS)
        return

    if args.cadences != "all" or args.demo_cadences:
        demo_cadences(args)
        return
    evolving = run_series(False, args.customers, month_ends(3, 12), args.window_days,
                          min_cluster_share=args.min_cluster_share)
    if args.evolving_only:
        floor = "auto" if args.min_cluster_share is None else f"{args.min_cluster_share:g}"
        name = f"dynamics_timeline_{floor}"
        evolving.to_csv(RESULTS / f"{name}.csv", index=False)
        lines = emergence_lines(evolving)
        (RESULTS / f"{name}.md").write_text("\n".join(
            [f"# Emergence with --min-cluster-share {floor}", "",
             *[f"- {line}" for line in lines], "", *table(evolving)]))
        print("\n".join(lines))
        return
    evolving.to_csv(RESULTS / "dynamics_timeline.csv", index=False)

    stationary_dates = month_ends(3, 2 + args.stationary_snapshots)
    stationary = run_series(True, args.customers, stationary_dates, args.window_days,
                            min_cluster_share=args.min_cluster_share)
    stationary.to_csv(RESULTS / "dynamics_stationary.csv", index=False)
    survived_share = survival(stationary)
    # Baseline in the same run: refit every snapshot (no model reuse).
    refitted = run_series(True, args.customers, stationary_dates, args.window_days, refit=True,
                          min_cluster_share=args.min_cluster_share)
    refitted.to_csv(RESULTS / "dynamics_stationary_refit.csv", index=False)
    steps = stationary.iloc[1:]

    summary = [
        *emergence_lines(evolving),
        f"stationary demo: {survived_share:.1%} of segments survived snapshot to snapshot "
        f"({len(steps)} steps); refitting every snapshot instead: {survival(refitted):.1%}",
    ]
    text = "\n".join(["# Dynamics benchmark", "", *[f"- {line}" for line in summary], "",
                      "## Evolving demo", "", *table(evolving), "## Stationary demo", "", *table(stationary),
                      "## Stationary demo, refitting every snapshot (baseline)", "", *table(refitted)])
    (RESULTS / "dynamics.md").write_text(text)
    print("\n".join(summary))


if __name__ == "__main__":
    main()

"""The change-scenario suite: planted changes × cadences, ours beside MONIC and a size alert.

    .venv/bin/python -m benchmarks.dynamics --suite changes --seeds heldout   # reported
    .venv/bin/python -m benchmarks.dynamics --suite changes --seeds tuning    # choose defaults

For every (change, cadence, data seed) the planted events (:mod:`benchmarks.changes`) are
imported through ``ingest`` into a fresh database and a timeline of snapshots is run:

* ``ours`` — the product as it runs: models reused until drift calls for a refit,
  transitions by membership and behaviour;
* ``ours, refit every snapshot`` — the same tracking on models refitted at every snapshot;
* ``monic (refit every snapshot)`` — those same refitted snapshots tracked by member overlap
  alone (MONIC, match 0.5, split 0.25), the classic baseline;
* ``size alert (±50 %)`` — what CDPs offer: an alert when a segment's size grows to 1.5× or
  falls to half, on our lineages (so it is not handicapped by worse segments).

Scores, per event kind (emerged, split, merged, disappeared) and together: precision, recall,
F1; detection delay in snapshots after the planted change holds ≥ 2 % of customers (a split
or merge: once complete; a fade: once the persona holds < 2 %); false events per stable transition (a
persona untouched by the change, present in both snapshots); the share of customers whose
planted persona did not change who keep their lineage. A detected event is correct when
its segments are mostly (by majority) the personas the change involves; a second detection
of the same planted event counts as false. A planted event that is not complete by a cadence's last
snapshot (a fade seen weekly: with a 90-day window the faded persona still holds 12 % of customers
on the last weekly date) is not counted: neither as planted nor, if reported early, as found or false.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import pandas as pd

from segmentation.data import store
from segmentation.dynamics.matching import monic_transitions
from segmentation.workflows.snapshot import SnapshotParams, run_snapshot
from segmentation.dynamics.tracking import carry_lineage

from . import changes as ch
from .scratch import scratch

__all__ = ["CADENCES", "run_case", "score_case", "run_suite", "summarise"]

WINDOW = 90
OURS, OURS_REFIT, MONIC, SIZE_ALERT = ("ours", "ours, refit every snapshot", "monic (refit every snapshot)",
                                       "size alert (±50 %)")
EVENT_KINDS = ("emerged", "split", "merged", "disappeared")


def _every(start: date, end: date, days: int) -> list[date]:
    out, when = [], start
    while when <= end:
        out.append(when)
        when += timedelta(days=days)
    return out


def _month_ends() -> list[date]:
    return [ch._month_start(m) - timedelta(days=1) for m in range(3, 11)]


#: cadence -> snapshot dates (the data run from January to October 2025; changes start in May).
CADENCES = {
    "month ends": _month_ends(),
    "every 30 days from 17 March": _every(date(2025, 3, 17), date(2025, 10, 31), 30),
    "weekly": _every(date(2025, 4, 20), date(2025, 7, 13), 7),
}


@dataclass
class Timeline:
    runs: pd.DataFrame          # run_id, as_of
    assignments: dict[int, pd.DataFrame]
    segments: dict[int, pd.DataFrame]
    transitions: dict[int, pd.DataFrame]
    seconds: float


def _read(db: Path, run_ids: list[int]) -> tuple[dict, dict, dict]:
    assignments, segments, transitions = {}, {}, {}
    with store.connect(db, read_only=True) as con:
        for run_id in run_ids:
            assignments[run_id] = con.execute(
                "SELECT customer_id, segment_id FROM assignments WHERE run_id = ?", [run_id]).df()
            seg = con.execute("SELECT segment_id, lineage_id, size, suggested_name, transition, profile "
                              "FROM segments WHERE run_id = ?", [run_id]).df()
            seg["profile"] = seg["profile"].map(lambda p: json.loads(p) if isinstance(p, str) else p)
            segments[run_id] = seg
            transitions[run_id] = con.execute(
                "SELECT from_segment, to_segment, kind FROM transitions WHERE to_run = ?", [run_id]).df()
    return assignments, segments, transitions


def run_timeline(db: Path, dates: list[date], refit: bool, extra: dict | None = None) -> Timeline:
    """One snapshot per date (``extra``: engine options), read back for scoring."""
    started = time.perf_counter()
    rows = []
    for when in dates:
        document = run_snapshot(db, when, SnapshotParams(window_days=WINDOW, refit=refit, extra=dict(extra or {})))
        rows.append({"run_id": document["run_id"], "as_of": when, "refit": document["metrics"]["model"]["refit"],
                     "n_segments": document["n_segments"], "noise": document["noise_share"]})
    runs = pd.DataFrame(rows)
    return Timeline(runs, *_read(db, runs["run_id"].tolist()), seconds=time.perf_counter() - started)


def monic_timeline(timeline: Timeline) -> Timeline:
    """The same snapshots tracked by member overlap alone (transitions and lineages recomputed)."""
    segments, transitions, previous, counter = {}, {}, None, 1
    for run_id in timeline.runs["run_id"]:
        current = timeline.segments[run_id][["segment_id", "size", "suggested_name", "profile"]].copy()
        if previous is None:
            tracked, moves = carry_lineage(None, current, None, counter), pd.DataFrame(columns=["from_segment", "to_segment", "kind"])
        else:
            moves = monic_transitions(timeline.assignments[previous], timeline.assignments[run_id])
            tracked = carry_lineage(segments[previous], current, moves, counter)
        counter = int(pd.to_numeric(tracked["lineage_id"]).max(skipna=True) or 0) + 1
        segments[run_id] = tracked.drop(columns=["parents", "review", "lineage_from"])
        transitions[run_id] = moves
        previous = run_id
    return Timeline(timeline.runs, timeline.assignments, segments, transitions, timeline.seconds)


# ------------------------------------------------------------------------------------- scoring
def _majorities(assign: pd.DataFrame, truth: pd.Series) -> dict[int, str]:
    frame = assign.assign(persona=assign["customer_id"].map(truth)).dropna(subset=["persona"])
    frame = frame[frame["segment_id"] >= 0]
    return frame.groupby("segment_id")["persona"].agg(lambda s: s.value_counts().idxmax()).to_dict()


def _involved(change: ch.Change) -> set[str]:
    """Personas (names) a change touches: persona 1 is ``x``, persona 2 is ``y``."""
    return {"emerge_distinct": {ch.NEW}, "emerge_blend": {ch.NEW}, "grow": {"persona 1"},
            "shrink": {"persona 1"}, "fade": {"persona 1"}, "drift": {"persona 1"},
            "split": {"persona 1", ch.CHILD_A, ch.CHILD_B}, "merge": {"persona 1", "persona 2", ch.MERGED},
            "seasonal": set(), "stationary": set()}[change.kind]


def _reference(change: ch.Change, shares: list[dict[str, float]], dates: list) -> int | None:
    """Index of the snapshot from which the planted event should be seen (None: no external event)."""
    kind = ch.EXPECTED[change.kind]
    onset = pd.Timestamp(ch._month_start(change.onset))
    dates = [pd.Timestamp(d) for d in dates]
    for i, share in enumerate(shares):
        if kind == "emerged" and share.get(ch.NEW, 0) >= 0.02:
            return i
        if kind == "split" and share.get("persona 1", 0) < 0.01 and share.get(ch.CHILD_A, 0) > 0:
            return i
        if kind == "merged" and share.get("persona 1", 0) < 0.01 and share.get(ch.MERGED, 0) > 0:
            return i
        if kind == "disappeared" and i > 0 and dates[i] >= onset and all(
                share.get(p, 0) < 0.02 for p in _involved(change)):
            return i
    return None


def truth_shares(truth, dates=None) -> list[dict[str, float]]:
    """Each snapshot's persona shares: of ``truth`` (the events) at ``dates``, or of per-customer truths."""
    truths = truth if dates is None else [ch.truth_at(truth, d, WINDOW) for d in dates]
    return [t.value_counts(normalize=True).to_dict() for t in truths]


def rescore_fades(runs: pd.DataFrame) -> pd.DataFrame:
    """Rows scored before stop 35 (2 Dec) with today's fade reference, from the truth alone.

    A fade's delay was counted from the first snapshot after its onset, and a fade not complete by a
    cadence's last snapshot was counted as planted. Only the reference moves, so the snapshot each
    method reported the fade in is ``delay + old reference``, and nothing else in a row changes.
    """
    out = runs.copy()
    for (name, seed, cadence), rows in out[out["expected"] == "disappeared"].groupby(["change", "seed", "cadence"]):
        change = ch.named(name)
        dates = CADENCES[cadence]
        _, truth = ch.generate(change, int(seed))
        shares = truth_shares(truth, dates)
        onset = pd.Timestamp(ch._month_start(change.onset))
        old = next(i for i, d in enumerate(dates) if i > 0 and pd.Timestamp(d) >= onset)
        new = _reference(change, shares, dates)
        for index, row in rows.iterrows():
            found_at = None if pd.isna(row["delay"]) else int(row["delay"]) + old
            out.loc[index, "planted"] = int(new is not None)
            out.loc[index, "detected"] = int(new is not None and found_at is not None)
            out.loc[index, "delay"] = None if new is None or found_at is None else found_at - new
    return out


def _events(timeline: Timeline, alert: bool = False) -> list[dict]:
    """Detected external events: (snapshot index, kind, old segment ids, new segment ids)."""
    out = []
    runs = timeline.runs["run_id"].tolist()
    for i, run_id in enumerate(runs[1:], start=1):
        if alert:
            before = timeline.segments[runs[i - 1]].set_index("lineage_id")["size"]
            now = timeline.segments[run_id]
            for row in now[now["segment_id"] >= 0].itertuples(index=False):
                size_before = before.get(row.lineage_id)
                if size_before is not None and row.size >= 1.5 * size_before:
                    out.append({"i": i, "kind": "grew", "old": [], "new": [int(row.segment_id)]})
            now_lineages = set(now["lineage_id"])
            old = timeline.segments[runs[i - 1]]
            for row in old[old["segment_id"] >= 0].itertuples(index=False):
                after = now.loc[now["lineage_id"] == row.lineage_id, "size"]
                if row.lineage_id not in now_lineages or (not after.empty and after.iloc[0] <= 0.5 * row.size):
                    out.append({"i": i, "kind": "fell", "old": [int(row.segment_id)], "new": []})
            continue
        moves = timeline.transitions[run_id]
        moves = moves[moves["kind"].isin(EVENT_KINDS)]
        for kind, key in (("emerged", "to_segment"), ("merged", "to_segment"), ("split", "from_segment"),
                          ("disappeared", "from_segment")):
            mine = moves[moves["kind"] == kind]
            for value, group in mine.groupby(key):
                out.append({"i": i, "kind": kind,
                            "old": [int(v) for v in group["from_segment"].dropna()],
                            "new": [int(v) for v in group["to_segment"].dropna()]})
    return out


def score_case(change: ch.Change, truth: pd.DataFrame, timeline: Timeline, method: str,
               merge_personas: str = "before onset") -> dict:
    """One method's scores on one case. ``merge_personas="current"``: the rule before v10, which
    judged a merge's old segments by their customers' current personas (kept to compare runs)."""
    runs = timeline.runs
    truths = [ch.truth_at(truth, d, WINDOW) for d in runs["as_of"]]
    shares = truth_shares(truths)
    ids = runs["run_id"].tolist()
    majority = [_majorities(timeline.assignments[r], t) for r, t in zip(ids, truths)]
    # Which personas the old segments of a merge held: their customers' personas before the onset.
    # By their current personas, once the merge is complete both old segments are "merged persona",
    # and a merge reported a snapshot after completing would count as false, not as delay 1.
    involved = _involved(change)
    expected = ch.EXPECTED[change.kind]
    before_onset = majority
    if expected == "merged" and merge_personas == "before onset":
        origin = ch.truth_at(truth, ch._month_start(change.onset) - timedelta(days=1), WINDOW)
        before_onset = [_majorities(timeline.assignments[r], origin) for r in ids]
    reference = _reference(change, shares, list(runs["as_of"]))
    onset = pd.Timestamp(ch._month_start(change.onset))
    alert = method == SIZE_ALERT
    events = _events(timeline, alert=alert)
    detected_at, correct, false = None, 0, 0
    for event in events:
        i = event["i"]
        old_p = {(before_onset if event["kind"] == "merged" else majority)[i - 1].get(s) for s in event["old"]}
        new_p = {majority[i].get(s) for s in event["new"]}
        started = pd.Timestamp(runs["as_of"].iloc[i]) >= onset
        kind = event["kind"]
        if alert:  # a size alert "detects" the planted event when it lands on the change's personas
            hit = started and expected is not None and bool((old_p | new_p) & involved)
            kind = expected if hit else kind
        else:
            hit = started and kind == expected and bool(
                (expected == "emerged" and new_p & {ch.NEW}) or
                (expected == "split" and old_p & involved and len(new_p & involved) >= 1) or
                (expected == "merged" and len(old_p & involved) >= 2 and new_p & involved) or
                (expected == "disappeared" and old_p & involved))
        if hit and reference is None:
            continue  # the planted event does not complete in this span: not scored (module docstring)
        if hit and detected_at is None:
            detected_at, correct = i, 1
        else:
            false += 1
    stable = 0
    kept = total = 0
    for i in range(1, len(ids)):
        before, now = shares[i - 1], shares[i]
        stable += sum(1 for p in before if p not in involved and before[p] >= 0.02 and now.get(p, 0) >= 0.02)
        lineage_before = timeline.segments[ids[i - 1]].set_index("segment_id")["lineage_id"]
        lineage_now = timeline.segments[ids[i]].set_index("segment_id")["lineage_id"]
        a = timeline.assignments[ids[i - 1]].set_index("customer_id")["segment_id"]
        b = timeline.assignments[ids[i]].set_index("customer_id")["segment_id"]
        both = a.index.intersection(b.index)
        same = truths[i - 1].reindex(both) == truths[i].reindex(both)
        both = both[same.to_numpy()]
        la = a.loc[both].map(lineage_before).where(a.loc[both] >= 0)
        lb = b.loc[both].map(lineage_now).where(b.loc[both] >= 0)
        kept += int(((la == lb) & la.notna()).sum())
        total += len(both)
    delay = None if detected_at is None or reference is None else detected_at - reference
    early = any(pd.Timestamp(runs["as_of"].iloc[e["i"]]) < onset for e in events
                if e["kind"] == "emerged")  # an emergence flagged before the planted onset
    survived = sum(int((timeline.segments[r]["transition"] == "survived").sum()) for r in ids[1:])
    tracked = sum(int((timeline.segments[r]["segment_id"] >= 0).sum()) for r in ids[1:])
    return {"change": change.name, "method": method, "expected": expected or "-",
            "planted": int(expected is not None and reference is not None), "detected": correct,
            "false_events": false,
            "stable_transitions": stable, "delay": delay, "early": early,
            "lineage_kept": kept / total if total else None, "customers_compared": total,
            "survived_share": survived / tracked if tracked else None,
            "max_noise": float(runs["noise"].max()), "refits": int(runs["refit"].sum()),
            "snapshots": len(ids), "seconds": round(timeline.seconds, 1)}


def run_case(change: ch.Change, seed: int, cadence: str, baselines: bool = True,
             workdir: Path | None = None, ours: bool = True, extra: dict | None = None) -> list[dict]:
    """Every method on one (change, cadence, seed): one scored row per method.

    ``ours`` False: the refit baselines only (ours and the size alert scored on it measured elsewhere).
    ``workdir`` None: a temporary folder, removed after the case. ``extra``: engine options of every snapshot.
    """
    with scratch("changes-", workdir) as folder:
        return _run_case(change, seed, cadence, baselines, folder, ours, extra)


def _run_case(change: ch.Change, seed: int, cadence: str, baselines: bool, workdir: Path, ours: bool,
              extra: dict | None = None) -> list[dict]:
    dates = CADENCES[cadence]
    rows = []
    if ours:
        db = workdir / f"{change.name}_{seed}.duckdb"
        truth = ch.load_into(db, change, seed, workdir)
        timeline = run_timeline(db, dates, refit=False, extra=extra)
        rows.append(score_case(change, truth, timeline, OURS))
        rows.append(score_case(change, truth, timeline, SIZE_ALERT))
    if baselines:
        db_refit = workdir / f"{change.name}_{seed}_refit.duckdb"
        truth = ch.load_into(db_refit, change, seed, workdir / "refit")  # the same data, generated again
        refitted = run_timeline(db_refit, dates, refit=True, extra=extra)
        rows.append(score_case(change, truth, refitted, OURS_REFIT))
        rows.append(score_case(change, truth, monic_timeline(refitted), MONIC))
    for row in rows:
        row.update({"seed": seed, "cadence": cadence})
    return rows


def run_suite(names, seeds, cadences, baselines_on=("month ends",), out: Path | None = None,
              baseline_seeds=None, ours: bool = True) -> pd.DataFrame:
    """Every (cadence, seed, change); the refit baselines on ``baselines_on`` cadences (and ``baseline_seeds``)."""
    rows: list[dict] = []
    for cadence in cadences:
        for seed in seeds:
            for name in names:
                change = ch.named(name)
                started = time.perf_counter()
                with_baselines = cadence in baselines_on and (baseline_seeds is None or seed in baseline_seeds)
                if not (ours or with_baselines):
                    continue
                case = run_case(change, seed, cadence, baselines=with_baselines, ours=ours)
                rows += case
                print(f"{cadence} | {name} | seed {seed}: {time.perf_counter() - started:.0f} s", flush=True)
                for row in case:
                    print("   ", {k: row[k] for k in ("method", "detected", "planted", "false_events",
                                                      "delay", "lineage_kept", "survived_share")}, flush=True)
                if out is not None:
                    pd.DataFrame(rows).to_csv(out, index=False)
    return pd.DataFrame(rows)


def summarise(runs: pd.DataFrame) -> pd.DataFrame:
    """Per method: precision, recall, F1 of external events, delay, false events per stable transition, lineage kept."""
    out = []
    for method, g in runs.groupby("method", sort=False):
        tp, planted = g["detected"].sum(), g["planted"].sum()
        detections = tp + g["false_events"].sum()
        precision = tp / detections if detections else 1.0
        recall = tp / planted if planted else None
        f1 = (2 * precision * recall / (precision + recall)) if recall and precision else 0.0
        row = {"method": method, "planted": int(planted), "detected": int(tp), "false events": int(g["false_events"].sum()),
               "precision": precision, "recall": recall, "F1": f1,
               "median delay": g["delay"].dropna().median() if g["delay"].notna().any() else None,
               "flagged early": int(g["early"].sum()),
               "false per stable transition": g["false_events"].sum() / max(1, g["stable_transitions"].sum()),
               "lineage kept": (g["lineage_kept"] * g["customers_compared"]).sum() / max(1, g["customers_compared"].sum())}
        for kind in EVENT_KINDS:
            mine = g[g["expected"] == kind]
            if len(mine):
                row[f"recall {kind}"] = mine["detected"].sum() / mine["planted"].sum()
        out.append(row)
    return pd.DataFrame(out)


def main_changes(args, results: Path) -> None:
    """``python -m benchmarks.dynamics --suite changes``: run, summarise, write results/changes_<seeds>.*"""
    from . import scenarios as sc

    seeds = {"tuning": sc.TUNING_SEEDS, "heldout": sc.HELDOUT_SEEDS}.get(args.seeds) or tuple(
        int(s) for s in args.seeds.split(","))
    names = list(ch.CHANGES) + ["stationary+new_category", "emerge_distinct+new_category"] \
        if args.changes == "all" else args.changes.split(",")
    cadences = list(CADENCES) if args.cadences == "all" else args.cadences.split(",")
    stem = f"changes_{args.seeds.replace(',', '-')}{args.tag}"
    baseline_seeds = None if args.baseline_seeds == "all" else {int(s) for s in args.baseline_seeds.split(",")}
    runs = run_suite(names, seeds, cadences, baselines_on=tuple(args.baselines_on.split(",")),
                     out=results / f"{stem}.csv", baseline_seeds=baseline_seeds, ours=not args.baselines_only)
    if args.purchases:
        purchases = pd.DataFrame([run_purchases(seed) for seed in seeds])
        purchases.to_csv(results / f"{stem}_purchases.csv", index=False)
    text = report(runs, f"Change-scenario suite, seeds {args.seeds}")
    if args.purchases:
        text += "\n".join(["", "## Purchase log, quarterly snapshots, 180-day window", "",
                           _table(purchases.drop(columns=["method"])), ""])
    (results / f"{stem}.md").write_text(text)
    print(text)


def _table(frame: pd.DataFrame) -> str:
    return "```\n" + frame.to_string(index=False) + "\n```"


def report(runs: pd.DataFrame, title: str) -> str:
    lines = [f"# {title}", "", "Produced by `python -m benchmarks.dynamics --suite changes` "
             "(see benchmarks/dynamics_changes.py for the definitions).", "",
             "## All cadences together", "", summarise(runs).round(3).pipe(_table), ""]
    for cadence, g in runs.groupby("cadence", sort=False):
        lines += [f"## {cadence}", "", summarise(g).round(3).pipe(_table), ""]
    ours = runs[runs["method"] == OURS]
    lines += ["## Ours, per change and cadence", "",
              ours[["cadence", "change", "seed", "expected", "detected", "false_events", "delay", "lineage_kept",
                    "survived_share", "max_noise", "refits", "snapshots", "seconds"]].round(3).pipe(_table), ""]
    return "\n".join(lines)


def run_purchases(seed: int, customers: int = 4000, refit: bool = False, workdir: Path | None = None) -> dict:
    """A stationary purchase log, quarterly snapshots with a 180-day window: lineage, survival, noise, names."""
    with scratch("purchases-", workdir) as folder:
        return _run_purchases(seed, customers, refit, folder)


def _run_purchases(seed: int, customers: int, refit: bool, workdir: Path) -> dict:
    import re

    db = workdir / f"purchases_{seed}.duckdb"
    truth = ch.load_purchase_log(db, seed, workdir, customers)
    started = time.perf_counter()
    rows = []
    for when in ch.PURCHASE_SNAPSHOTS:
        document = run_snapshot(db, when, SnapshotParams(window_days=ch.PURCHASE_WINDOW, refit=refit))
        rows.append({"run_id": document["run_id"], "as_of": when, "refit": document["metrics"]["model"]["refit"],
                     "n_segments": document["n_segments"], "noise": document["noise_share"]})
    runs = pd.DataFrame(rows)
    t = Timeline(runs, *_read(db, runs["run_id"].tolist()), seconds=time.perf_counter() - started)
    ids = runs["run_id"].tolist()
    kept, survived, duplicates = [], [], 0
    for before, now in zip(ids, ids[1:]):
        a = t.assignments[before].set_index("customer_id")["segment_id"]
        b = t.assignments[now].set_index("customer_id")["segment_id"]
        both = a.index.intersection(b.index)
        la = a.loc[both].map(t.segments[before].set_index("segment_id")["lineage_id"]).where(a.loc[both] >= 0)
        lb = b.loc[both].map(t.segments[now].set_index("segment_id")["lineage_id"]).where(b.loc[both] >= 0)
        kept.append(float(((la == lb) & la.notna()).mean()) if len(both) else None)
        real = t.segments[now][t.segments[now]["segment_id"] >= 0]
        survived.append(float((real["transition"] == "survived").mean()) if len(real) else None)
    for run_id in ids:
        names = t.segments[run_id].loc[t.segments[run_id]["segment_id"] >= 0, "suggested_name"]
        stems = names.map(lambda n: re.sub(r"\s*\d+$", "", str(n)))
        duplicates += int(stems.duplicated().sum())
    from segmentation.engine.metrics import adjusted_rand

    aris = [adjusted_rand(t.assignments[r]["customer_id"].map(truth).fillna("?").to_numpy(),
                          t.assignments[r]["segment_id"].to_numpy()) for r in ids]
    return {"seed": seed, "method": OURS_REFIT if refit else OURS, "customers": customers,
            "lineage_kept": kept, "min_lineage_kept": min(kept), "survived_share": survived,
            "min_survived_share": min(survived), "max_noise": float(runs["noise"].max()),
            "duplicate_names": duplicates, "segments": runs["n_segments"].tolist(),
            "refits": int(runs["refit"].sum()), "ari": [round(a, 3) for a in aris],
            "seconds": round(t.seconds, 1)}


def combine(results: Path, pattern: str = "changes_1*.csv", out: str = "changes_heldout.md") -> str:
    """One report from every held-out result file (``--suite changes --combine``), purchase logs included."""
    files = sorted(p for p in results.glob(pattern) if not p.name.endswith("_purchases.csv"))
    runs = pd.concat([pd.read_csv(p) for p in files], ignore_index=True)
    text = report(runs, "Change-scenario suite, held-out seeds (" + ", ".join(p.name for p in files) + ")")
    purchases = sorted(results.glob(pattern.replace(".csv", "_purchases.csv")))
    if purchases:
        frame = pd.concat([pd.read_csv(p) for p in purchases], ignore_index=True)
        text += "\n".join(["", "## Purchase log, quarterly snapshots, 180-day window", "",
                           _table(frame.drop(columns=["method"])), ""])
    (results / out).write_text(text)
    return text

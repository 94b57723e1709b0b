"""Snapshot-to-snapshot tracking: lineages, transitions, names and who moved.

Transitions come from :mod:`segmentation.dynamics.matching` (membership and behaviour). This
module turns them into lineages a marketer can follow:

* a survivor (or a merge's main parent) continues its lineage: its given name and, while
  nobody renamed it, its suggested name carry over, so an unchanged segment does not
  reword itself between runs;
* split children and emerged segments start new lineages and get a suggested name from
  their own profile; where they came from is in ``profile["lineage_from"]`` ("from
  Weekend family shoppers"), never in the name;
* every segment's ``profile`` gets ``sources`` (where its customers were in the previous
  snapshot) and ``changes`` (the three features whose lift moved most against those
  sources); survivors get ``internal`` (grew / shrank / shifted behaviour);
* no two segments of a snapshot are shown under one name (given names included).

Functions take and return tidy DataFrames and never touch the store: :func:`track_snapshot` is
given what the store holds about the previous run (:func:`segmentation.data.results.tracking_inputs`).
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import pandas as pd

from segmentation.constants import ANNOUNCE_SHARE, GROWTH  # GROWTH: a survivor that changed this much "grew" / "shrank"
from segmentation.dynamics.matching import NOISE, Thresholds, match_segments, monic_transitions, overlap_table
from segmentation.dynamics.profiles import unique_name
from segmentation.engine.resemblance import SHIFTED, group_shift, largest_changes, lift_vectors, profile_distance

__all__ = [
    "Thresholds",
    "overlap_table",
    "match_segments",
    "monic_transitions",
    "carry_lineage",
    "hold_back",
    "FORMING",
    "DISSOLVED",
    "emerged_sources",
    "track_snapshot",
    "customer_flows",
    "sizes_over_time",
    "emerging_alerts",
    "movement",
]

NEW_CUSTOMERS = "new customers"
#: a lineage not announced yet (under :data:`~segmentation.constants.ANNOUNCE_SHARE`), and the end of one
FORMING, DISSOLVED = "forming", "dissolved"


def _display(row) -> str:
    return row["name"] if isinstance(row.get("name"), str) and row["name"] else str(row["suggested_name"])


def carry_lineage(
    previous_segments: pd.DataFrame | None,
    current_segments: pd.DataFrame,
    transitions: pd.DataFrame | None,
    next_lineage_id: int,
) -> pd.DataFrame:
    """Lineage ids, transition labels and carried-over names for the current segments.

    Survivors keep lineage, name, description and (unless taken) their suggested name; a
    merge continues the lineage of its largest parent; split children start a new
    lineage, keep the name suggested by their own profile, record ``lineage_from`` (the
    parent's name) and are flagged for review; emerged segments start a new lineage. The
    first snapshot marks every segment ``new``. Suggested names end up unique.
    """
    out = current_segments.copy()
    for column in ("lineage_id", "transition", "name", "description", "named_by", "named_at"):
        if column not in out.columns:
            out[column] = None
    out["lineage_id"] = out["lineage_id"].astype(object)
    out["parents"] = [[] for _ in range(len(out))]
    out["review"] = False
    out["lineage_from"] = None
    is_noise = out["segment_id"] == NOISE
    counter = next_lineage_id

    if previous_segments is None or transitions is None:
        for idx in out.index[~is_noise]:
            out.at[idx, "lineage_id"], out.at[idx, "transition"] = counter, "new"
            counter += 1
        return _unique_suggestions(out, [])

    old = previous_segments.set_index("segment_id")
    forming = _forming(previous_segments)
    carried: list[int] = []  # rows whose suggested name came from their lineage
    for idx in out.index[~is_noise]:
        n = out.at[idx, "segment_id"]
        links = transitions[(transitions["to_segment"] == n) & (transitions["kind"] != DISSOLVED)]
        kind = links["kind"].iloc[0] if not links.empty else "emerged"
        parents = [int(p) for p in links["from_segment"].dropna()]
        out.at[idx, "transition"] = kind
        out.at[idx, "parents"] = [int(old.at[p, "lineage_id"]) for p in parents if p in old.index
                                  and pd.notna(old.at[p, "lineage_id"])]
        # a forming lineage goes on while it forms, and when it is announced (emerged) at last
        goes_on = kind in (FORMING, "emerged") and bool(parents) and set(parents) <= forming
        if (kind in ("survived", "merged") or goes_on) and parents:
            heir = max(parents, key=lambda p: links.loc[links["from_segment"] == p, "overlap"].iloc[0]
                       * old.at[p, "size"])
            out.at[idx, "lineage_id"] = int(old.at[heir, "lineage_id"])
            for column in ("name", "description", "named_by", "named_at"):
                value = old.at[heir, column]
                out.at[idx, column] = None if pd.isna(value) else value
            previous_suggestion = old.at[heir, "suggested_name"] if "suggested_name" in old.columns else None
            if kind in ("survived", FORMING) and isinstance(previous_suggestion, str):
                out.at[idx, "suggested_name"] = previous_suggestion
                carried.append(idx)
            continue
        out.at[idx, "lineage_id"] = counter
        counter += 1
        if kind in ("split", FORMING) and parents and parents[0] in old.index:
            out.at[idx, "lineage_from"] = _display(old.loc[parents[0]])
            out.at[idx, "review"] = kind == "split"
    return _unique_suggestions(out, carried)


def hold_back_first(tracked: pd.DataFrame, n_customers: int, share: float = ANNOUNCE_SHARE) -> pd.DataFrame:
    """A first snapshot's segments: ``new``, and ``forming`` under ``share`` of its ``n_customers``.

    A first snapshot announces no change, but its groups under ``share`` are not announced either:
    like a small group born later, one that is taken in or ends is ``dissolved`` (not ``merged``),
    and one that grows to ``share`` is ``emerged`` (:func:`hold_back`).
    """
    out = tracked.copy()
    small = (out["segment_id"] != NOISE) & (out["size"] < share * n_customers)
    out.loc[small, "transition"] = FORMING
    return out


def _forming(segments: pd.DataFrame | None) -> set[int]:
    """Ids of the segments whose lineage was still forming (not announced) in that snapshot."""
    if segments is None or "transition" not in segments.columns:
        return set()
    return set(segments.loc[segments["transition"] == FORMING, "segment_id"].astype(int))


def hold_back(transitions: pd.DataFrame, previous_segments: pd.DataFrame, sizes: pd.Series, n_customers: int,
              share: float = ANNOUNCE_SHARE) -> pd.DataFrame:
    """Transitions with a lineage's birth announced only once it holds ``share`` of the customers.

    ``sizes``: the new segments' sizes (by segment id); ``n_customers``: the snapshot's customers,
    noise included. A segment floor below ``share`` lets small groups be segments (a small persona is
    found), but a group that small comes and goes with the fit; a marketer is told of it once it holds
    ``share``:

    * a new segment under ``share`` that would emerge, or split off beside a part of its parent that
      is announced (split or survived), is ``forming`` (its lineage starts; a split keeps the parent as
      the link);
    * a segment that continues forming ones only (survived, or merged from forming ones) is
      ``forming`` while under ``share`` and ``emerged`` once it holds it, in the same lineage;
    * a forming segment that ends (no successor, merged into an announced one, split) is
      ``dissolved``: never announced, it neither disappears nor merges. The customers it hands to an
      announced survivor leave that one ``survived``.
    """
    forming = _forming(previous_segments)
    small = set(sizes.index[sizes < share * n_customers].astype(int))
    rows = [dict(r) for r in transitions.to_dict(orient="records")]
    old_size = previous_segments.set_index("segment_id")["size"] if forming else pd.Series(dtype=float)
    ended: set[int] = set()  # forming groups that split
    for n in sorted({int(r["to_segment"]) for r in rows if pd.notna(r["to_segment"])}):
        mine = [r for r in rows if pd.notna(r["to_segment"]) and int(r["to_segment"]) == n]
        kind = mine[0]["kind"]
        held = [r for r in mine if pd.notna(r["from_segment"]) and int(r["from_segment"]) in forming]
        told = [r for r in mine if r not in held]
        if kind in ("survived", "merged") and held:
            if told:  # an announced segment goes on; the forming ones it took in end there
                for r in held:
                    r["kind"] = DISSOLVED
                if len([r for r in told if pd.notna(r["from_segment"])]) == 1:
                    told[0]["kind"] = "survived"
            else:  # forming ones only: the largest part goes on, still forming or announced now
                heir = max(held, key=lambda r: float(r["overlap"]) * float(old_size.get(int(r["from_segment"]), 0)))
                for r in held:
                    r["kind"] = DISSOLVED if r is not heir else (FORMING if n in small else "emerged")
        elif kind == "emerged" and n in small:
            mine[0]["kind"] = FORMING
        elif kind == "split" and held:  # a forming group split: it ends, its parts are new groups
            for r in held:
                ended.add(int(r["from_segment"]))
                r["from_segment"], r["kind"] = None, FORMING if n in small else "emerged"
        elif kind == "split" and n in small:
            parent = mine[0]["from_segment"]
            announced = any(x["kind"] in ("split", "survived") and x["from_segment"] == parent
                            and pd.notna(x["to_segment"]) and int(x["to_segment"]) not in small
                            for x in rows if pd.notna(x["from_segment"]))
            # the split is told by its announced parts, or the parent goes on as an announced segment
            # beside it: either way this part is a new group, still forming
            if announced:
                for r in mine:
                    r["kind"] = FORMING
    for r in rows:  # a forming group with no successor
        if pd.isna(r["to_segment"]) and pd.notna(r["from_segment"]) and int(r["from_segment"]) in forming:
            r["kind"] = DISSOLVED
    rows += [{"from_segment": o, "to_segment": None, "kind": DISSOLVED, "overlap": 0.0} for o in sorted(ended)]
    frame = pd.DataFrame(rows, columns=transitions.columns)
    return frame.astype({"from_segment": "Int64", "to_segment": "Int64"})


def _unique_suggestions(out: pd.DataFrame, carried: list[int]) -> pd.DataFrame:
    """No two segments share a displayed name (given, else suggested).

    A given name carried onto two segments stays with the larger one (the other shows its
    suggested name); suggested names avoid every given name, carried suggestions win over
    new ones, and the others are reworded.
    """
    real = out.index[out["segment_id"] != NOISE]
    given: set[str] = set()
    for idx in sorted(real, key=lambda i: -int(out.at[i, "size"]) if "size" in out.columns else 0):
        name = out.at[idx, "name"]
        if isinstance(name, str) and name:
            if name.casefold() in given:
                for column in ("name", "description", "named_by", "named_at"):
                    out.at[idx, column] = None
            else:
                given.add(name.casefold())
    taken = {str(out.at[i, "name"]) for i in real if isinstance(out.at[i, "name"], str) and out.at[i, "name"]}
    order = carried + [i for i in real if i not in carried]
    for idx in order:
        name = out.at[idx, "suggested_name"]
        if name in taken:
            profile = out.at[idx, "profile"] if isinstance(out.at[idx, "profile"], dict) else {}
            name = unique_name(profile.get("traits") or [], taken, fallback=str(name))
            out.at[idx, "suggested_name"] = name
        taken.add(name)
    return out


def emerged_sources(
    previous: pd.DataFrame, current: pd.DataFrame, segment_ids: list[int]
) -> pd.DataFrame:
    """Where the members of each given (emerged) segment came from.

    Returns ``segment_id, source, customers, share`` with sources ``segment N``,
    ``noise`` and ``new customers`` (not in the previous snapshot): the
    :func:`customer_flows` into those segments.
    """
    targets = {f"segment {s}": int(s) for s in segment_ids}
    flows = customer_flows(previous, current)
    frame = flows[flows["target"].isin(targets)].assign(segment_id=lambda f: f["target"].map(targets))
    frame = frame[["segment_id", "source", "customers"]]
    frame["share"] = frame["customers"] / frame.groupby("segment_id")["customers"].transform("sum")
    return frame.sort_values(["segment_id", "customers"], ascending=[True, False]).reset_index(drop=True)


def track_snapshot(previous: dict[str, Any], segments: pd.DataFrame, assignments: pd.DataFrame,
                   thresholds: Thresholds = Thresholds(), window_days: int | None = None,
                   behaviour: tuple[Callable[[], pd.DataFrame], pd.DataFrame] | None = None,
                   started_with: Callable[[int], pd.Index | None] | None = None):
    """Track a freshly computed snapshot against the stored run just before it.

    ``previous`` is what the store holds about that run
    (:func:`segmentation.data.results.tracking_inputs`): ``next_lineage``, ``run`` (None for the
    first snapshot), ``other_run`` (an earlier run with another window, for the note), and the
    run's ``assignments`` and ``segments``. Returns ``(segments, transitions, summary)``: segments
    with lineage, transition, carried-over names and, in their profile, where their customers came
    from and what changed; transitions ready for the store (``from_run`` filled); a JSON-friendly
    summary including the sources of emerged segments.

    ``behaviour`` (optional): ``(before, now)``: a function giving the customers' feature table of
    an earlier window (called only if needed; cache it) and this snapshot's. A segment unlike every
    earlier one is then checked for new behaviour (:func:`~segmentation.dynamics.matching.match_segments`);
    the checks are in the summary (``behaviour_checks``). The earlier window is the caller's choice:
    :func:`segmentation.workflows.reuse.reference_window` (the window before this one, or the
    window of the snapshot that fitted the previous run's models when that is earlier).
    ``started_with(old_segment_id)`` (optional): the customers of that old segment's lineage where it
    began (``match_segments``: a part shed beside its heir that came to it since is emerged).
    """
    next_lineage, previous_run = int(previous["next_lineage"]), previous["run"]
    if previous_run is None:
        tracked = hold_back_first(carry_lineage(None, segments, None, next_lineage), len(assignments))
        counts = tracked.loc[tracked["segment_id"] != NOISE, "transition"].value_counts()
        summary = {"previous_run": None, "counts": {str(k): int(v) for k, v in counts.items()}}
        other = previous.get("other_run")
        if other is not None:
            summary["note"] = (f"not compared with run {other['run_id']} ({other['as_of']}): its window is "
                               f"{other['window_days']} days, this one {window_days}; every segment starts a lineage")
        return _finish(tracked), None, summary
    prev_id = previous_run["run_id"]
    previous_assign, previous_segments = previous["assignments"], previous["segments"]
    lifts = (lift_vectors(previous_segments), lift_vectors(segments))
    shift, checks = None, []
    if behaviour is not None:
        before, now = behaviour
        shift = lambda customers: group_shift(before(), now, customers)  # noqa: E731
    transitions = match_segments(previous_assign, assignments, thresholds, lifts=lifts, behaviour_shift=shift,
                                 checks=checks, started_with=started_with, forming=_forming(previous_segments))
    sizes = segments.loc[segments["segment_id"] != NOISE].set_index("segment_id")["size"]
    transitions = hold_back(transitions, previous_segments, sizes, len(assignments))
    tracked = carry_lineage(previous_segments, segments, transitions, next_lineage)
    tracked_ids = tracked.loc[tracked["segment_id"] != NOISE, "segment_id"].astype(int).tolist()
    sources = emerged_sources(previous_assign, assignments, tracked_ids)
    emerged = tracked.loc[tracked["transition"] == "emerged", "segment_id"].astype(int).tolist()
    transitions = transitions.assign(from_run=prev_id)
    counts = transitions["kind"].value_counts().to_dict()
    summary = {
        "previous_run": prev_id,
        "counts": {k: int(v) for k, v in counts.items()},
        "emerged_sources": sources[sources["segment_id"].isin(emerged)].to_dict(orient="records"),
    }
    if checks:
        summary["behaviour_checks"] = checks
    tracked = _finish(tracked, sources, _evidence(tracked, previous_segments, transitions, lifts, sources))
    return tracked, transitions, summary


def _evidence(tracked: pd.DataFrame, previous_segments: pd.DataFrame, transitions: pd.DataFrame,
              lifts: tuple[pd.DataFrame, pd.DataFrame], sources: pd.DataFrame) -> dict[int, dict[str, Any]]:
    """Per new segment: what changed against where its customers came from, and survivors' internal change."""
    old_lifts, new_lifts = lifts
    old_size = previous_segments.set_index("segment_id")["size"]
    out: dict[int, dict[str, Any]] = {}
    for row in tracked[tracked["segment_id"] != NOISE].itertuples(index=False):
        n = int(row.segment_id)
        facts: dict[str, Any] = {}
        mine = sources[(sources["segment_id"] == n) & sources["source"].str.startswith("segment ")]
        came_from = {int(s.removeprefix("segment ")): c for s, c in zip(mine["source"], mine["customers"])}
        came_from = {s: c for s, c in came_from.items() if s in old_lifts.index}
        if n in new_lifts.index and came_from:
            weights = pd.Series(came_from, dtype=float)
            mix = old_lifts.loc[weights.index].mul(weights / weights.sum(), axis=0).sum()
            facts["changes"] = largest_changes(mix, new_lifts.loc[n])
        links = transitions[(transitions["to_segment"] == n) & transitions["from_segment"].notna()]
        parents = [int(p) for p in links["from_segment"] if int(p) in old_lifts.index]
        if row.transition in ("survived", "merged") and parents:
            heir = parents[0]
            before, after = int(old_size.get(heir, 0)), int(row.size)
            distance = (float(profile_distance(old_lifts.loc[[heir]], new_lifts.loc[[n]]).iat[0, 0])
                        if n in new_lifts.index else 0.0)
            change = after / before - 1 if before else 0.0
            labels = (["grew"] if change >= GROWTH else ["shrank"] if change <= -GROWTH else [])
            labels += ["shifted behaviour"] if distance >= SHIFTED else []
            facts["internal"] = {"size_before": before, "size_after": after, "size_change": round(change, 4),
                                 "profile_distance": round(distance, 3), "labels": labels}
        out[n] = facts
    return out


def _finish(tracked: pd.DataFrame, sources: pd.DataFrame | None = None,
            evidence: dict[int, dict[str, Any]] | None = None) -> pd.DataFrame:
    """Fold tracking facts into each segment's profile (JSON) and drop helper columns."""
    out = tracked.copy()
    profiles = []
    for row in out.itertuples(index=False):
        profile = dict(row.profile) if isinstance(row.profile, dict) else {}
        profile["lineage_parents"] = list(row.parents)
        profile["review"] = bool(row.review)
        if isinstance(row.lineage_from, str):
            profile["lineage_from"] = row.lineage_from
        if sources is not None and row.segment_id != NOISE:
            mine = sources[sources["segment_id"] == row.segment_id]
            profile["sources"] = mine[["source", "customers", "share"]].to_dict(orient="records")
        if evidence and int(row.segment_id) in evidence:
            profile.update(evidence[int(row.segment_id)])
        profiles.append(profile)
    out["profile"] = profiles
    return out.drop(columns=["parents", "review", "lineage_from"])


def movement(profile: Any) -> dict[str, Any]:
    """Who moved into a segment, and why: the tracking facts of its stored profile (JSON-friendly).

    ``lineage_from`` (the segment it split from), ``sources`` (where its customers were in
    the previous snapshot: segment, noise or new customers, with counts), ``changes`` (the
    three features whose lift moved most against those sources) and ``internal`` (a
    survivor's size change and profile shift).
    """
    profile = profile if isinstance(profile, dict) else {}
    return {key: profile.get(key) for key in ("lineage_from", "sources", "changes", "internal")}


def customer_flows(previous: pd.DataFrame, current: pd.DataFrame) -> pd.DataFrame:
    """Customers moving between two snapshots (for a Sankey).

    Returns ``source, target, customers`` where sources are ``segment N``,
    ``noise`` or ``new customers`` and targets ``segment N``, ``noise`` or
    ``left`` (not in the later snapshot).
    """
    def label(values: pd.Series, missing: str) -> pd.Series:
        text = "segment " + values.fillna(0).astype(int).astype(str)
        text = text.where(values != NOISE, "noise")
        return text.where(values.notna(), missing)

    joined = previous[["customer_id", "segment_id"]].merge(
        current[["customer_id", "segment_id"]], on="customer_id", how="outer", suffixes=("_from", "_to"))
    frame = pd.DataFrame({
        "source": label(joined["segment_id_from"], NEW_CUSTOMERS),
        "target": label(joined["segment_id_to"], "left"),
    })
    flows = frame.groupby(["source", "target"]).size().rename("customers").reset_index()
    return flows.sort_values("customers", ascending=False).reset_index(drop=True)


def one_window(runs: pd.DataFrame, run_id: int) -> tuple[list[int], int, int]:
    """The snapshots a timeline of run ``run_id`` compares: those over its window, one per date (the
    run itself at its own date, else the latest computed), oldest first; and how many snapshots were
    left out for another window and as other computations of a date.

    ``runs``: ``run_id, as_of, window_days`` of the complete runs, ``run_id`` among them. Snapshots
    over other windows describe customers differently (45 days hold more of each customer than 30)
    and are tracked apart: stacked on one chart, every segment drops to 0 at the other's date.
    """
    window = int(runs.loc[runs["run_id"].astype(int) == int(run_id), "window_days"].iloc[0])
    same = runs[runs["window_days"].astype(int) == window]
    own = same["run_id"].astype(int) == int(run_id)
    own_date = same.loc[own, "as_of"].iloc[0]
    others = same[same["as_of"] != own_date].sort_values(["as_of", "run_id"]).groupby("as_of").tail(1)
    kept = pd.concat([others, same[own]]).sort_values("as_of")
    return kept["run_id"].astype(int).tolist(), len(runs) - len(same), len(same) - len(kept)


def sizes_over_time(segments: pd.DataFrame) -> pd.DataFrame:
    """Tidy sizes per lineage and snapshot, from stored segment rows.

    ``segments``: ``as_of, run_id, segment_id, lineage_id, size, name,
    suggested_name, transition`` (noise rows are dropped). Returns ``as_of,
    lineage_id, label, size, share, transition`` with ``label`` the latest name
    (given, else suggested) of the lineage.
    """
    frame = segments[segments["segment_id"] != NOISE].copy()
    frame["display"] = frame["name"].where(frame["name"].notna(), frame["suggested_name"])
    latest = frame.sort_values("as_of").groupby("lineage_id")["display"].last()
    frame["label"] = frame["lineage_id"].map(latest)
    frame["share"] = frame["size"] / frame.groupby("as_of")["size"].transform("sum")
    columns = ["as_of", "lineage_id", "label", "size", "share", "transition"]
    return frame[columns].sort_values(["as_of", "lineage_id"]).reset_index(drop=True)


def emerging_alerts(history: pd.DataFrame, run_ids: Sequence[int] | None = None) -> list[dict]:
    """One alert per emerged segment: size, growth over the following snapshots, sources, traits.

    ``history``: stored segments of all runs (``results.segment_history``: run_id,
    as_of, n_customers, segment_id, lineage_id, size, name, suggested_name,
    transition, profile). ``run_ids`` limits the alerts to segments that emerged
    in those runs. ``growth`` follows the lineage through the later snapshots
    (``share`` of that snapshot's customers; ``transition`` there).
    """
    frame = history[history["segment_id"] != NOISE]
    emerged = frame[frame["transition"] == "emerged"]
    if run_ids is not None:
        emerged = emerged[emerged["run_id"].isin(list(run_ids))]
    alerts = []
    for row in emerged.itertuples(index=False):
        profile = row.profile if isinstance(row.profile, dict) else {}
        later = frame[(frame["lineage_id"] == row.lineage_id) & (frame["as_of"] > row.as_of)]
        later = later.groupby(["as_of", "run_id", "n_customers"], as_index=False).agg(
            size=("size", "sum"), transition=("transition", "first"))
        growth = [{"as_of": str(g.as_of), "run_id": int(g.run_id), "size": int(g.size),
                   "share": float(g.size / g.n_customers) if g.n_customers else None,
                   "transition": g.transition} for g in later.itertuples(index=False)]
        share = float(row.size / row.n_customers) if row.n_customers else None
        alerts.append({
            "run_id": int(row.run_id), "as_of": str(row.as_of), "segment_id": int(row.segment_id),
            "lineage_id": int(row.lineage_id),
            "name": row.name if isinstance(row.name, str) else None,
            "suggested_name": row.suggested_name,
            "size": int(row.size), "share": share,
            "growth": growth,
            "latest_share": growth[-1]["share"] if growth else share,
            "sources": profile.get("sources", []),
            "top_traits": profile.get("top_traits", []),
        })
    return alerts

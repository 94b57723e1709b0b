"""Snapshot-to-snapshot tracking (MONIC-style transitions by member overlap).

Between the previous snapshot and the current one, segments are matched by
the share of their customers they have in common:

* **survived** — the old segment's best match holds ≥ ``tau`` of its members
  (or the new segment is mostly made of it and it is its best match);
* **split** — the old segment's members went to several new segments, each
  ≥ ``tau_split`` of it and together ≥ ``tau``;
* **merged** — several old segments survive into one new segment;
* **emerged** — no old segment contributes ≥ ``tau_split`` of the new
  segment's members (it comes from noise, new customers or many places);
* **disappeared** — an old segment with no successor.

Functions return tidy DataFrames; nothing here reads or writes the store
except :func:`track_snapshot`, which reads the previous run.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import pandas as pd

from .queries import load_query

__all__ = [
    "Thresholds",
    "overlap_table",
    "match_segments",
    "carry_lineage",
    "emerged_sources",
    "track_snapshot",
    "customer_flows",
    "sizes_over_time",
    "emerging_alerts",
]

NOISE = -1
NEW_CUSTOMERS = "new customers"


@dataclass(frozen=True)
class Thresholds:
    """``tau``: share of an old segment that must stay together to survive;
    ``tau_split``: smallest share that counts as a part (of a split, or as a source)."""

    tau: float = 0.5
    tau_split: float = 0.25

    def __post_init__(self) -> None:
        if not 0 < self.tau_split <= self.tau <= 1:
            raise ValueError("thresholds must satisfy 0 < tau_split <= tau <= 1")


def overlap_table(previous: pd.DataFrame, current: pd.DataFrame) -> pd.DataFrame:
    """Customers shared by each (old segment, new segment) pair.

    ``previous``/``current``: columns ``customer_id``, ``segment_id``. Returns
    ``from_segment, to_segment, shared, from_size, to_size, share_of_old,
    share_of_new`` for pairs of real segments (noise excluded on both sides).
    """
    old = previous[previous["segment_id"] != NOISE][["customer_id", "segment_id"]]
    new = current[current["segment_id"] != NOISE][["customer_id", "segment_id"]]
    joined = old.merge(new, on="customer_id", suffixes=("_old", "_new"))
    pairs = (
        joined.groupby(["segment_id_old", "segment_id_new"]).size().rename("shared").reset_index()
        .rename(columns={"segment_id_old": "from_segment", "segment_id_new": "to_segment"})
    )
    pairs["from_size"] = pairs["from_segment"].map(old["segment_id"].value_counts())
    pairs["to_size"] = pairs["to_segment"].map(new["segment_id"].value_counts())
    pairs["share_of_old"] = pairs["shared"] / pairs["from_size"]
    pairs["share_of_new"] = pairs["shared"] / pairs["to_size"]
    return pairs.sort_values(["from_segment", "shared"], ascending=[True, False]).reset_index(drop=True)


def match_segments(
    previous: pd.DataFrame, current: pd.DataFrame, thresholds: Thresholds = Thresholds()
) -> pd.DataFrame:
    """Transitions between two snapshots as a tidy frame.

    Columns: ``from_segment`` (NaN for emerged), ``to_segment`` (NaN for
    disappeared), ``kind``, ``overlap`` (share of the old segment for
    survived/split/merged/disappeared links; for emerged, the largest share of
    the new segment that any old segment contributes).
    """
    tau, tau_split = thresholds.tau, thresholds.tau_split
    pairs = overlap_table(previous, current)
    old_ids = sorted(set(previous["segment_id"]) - {NOISE})
    new_ids = sorted(set(current["segment_id"]) - {NOISE})

    best_of_old = pairs.loc[pairs.groupby("from_segment")["shared"].idxmax()].set_index("from_segment") \
        if not pairs.empty else pd.DataFrame()
    survival_links: dict[int, list[int]] = {n: [] for n in new_ids}  # new -> old parents
    split_children: dict[int, list[int]] = {}  # old -> new parts
    for o in old_ids:
        mine = pairs[pairs["from_segment"] == o]
        parts = mine[mine["share_of_old"] >= tau_split]
        if len(parts) >= 2 and parts["share_of_old"].sum() >= tau:
            split_children[o] = parts["to_segment"].tolist()
            continue
        if o in best_of_old.index:
            best = best_of_old.loc[o]
            if best["share_of_old"] >= tau or best["share_of_new"] >= tau:
                survival_links[int(best["to_segment"])].append(o)

    rows: list[dict[str, Any]] = []
    linked_old: set[int] = set()
    for n in new_ids:
        parents = survival_links[n]
        split_parents = [o for o, children in split_children.items() if n in children]
        share = pairs[pairs["to_segment"] == n].set_index("from_segment")
        if len(parents) >= 2:
            kind, links = "merged", parents
        elif split_parents:
            kind, links = "split", split_parents
        elif len(parents) == 1:
            kind, links = "survived", parents
        elif share.empty or share["share_of_new"].max() < tau_split:
            top = float(share["share_of_new"].max()) if not share.empty else 0.0
            rows.append({"from_segment": np.nan, "to_segment": n, "kind": "emerged", "overlap": top})
            continue
        else:
            # Mostly made of part of an old segment that survived elsewhere: a split-off.
            kind, links = "split", [int(share["share_of_new"].idxmax())]
        for o in links:
            linked_old.add(o)
            rows.append({
                "from_segment": o, "to_segment": n, "kind": kind,
                "overlap": float(share.loc[o, "share_of_old"]) if o in share.index else 0.0,
            })
    for o in old_ids:
        if o not in linked_old:
            rows.append({"from_segment": o, "to_segment": np.nan, "kind": "disappeared", "overlap": 0.0})
    frame = pd.DataFrame(rows, columns=["from_segment", "to_segment", "kind", "overlap"])
    return frame.astype({"from_segment": "Int64", "to_segment": "Int64"})


def carry_lineage(
    previous_segments: pd.DataFrame | None,
    current_segments: pd.DataFrame,
    transitions: pd.DataFrame | None,
    next_lineage_id: int,
) -> pd.DataFrame:
    """Lineage ids, transition labels and carried-over names for the current segments.

    Survivors keep lineage, name and description; a merge continues the
    lineage of its largest parent; split children start a new lineage with the
    parent's name as suggestion and are flagged for review; emerged segments
    start a new lineage. The first snapshot marks every segment ``new``.
    """
    out = current_segments.copy()
    for column in ("lineage_id", "transition", "name", "description", "named_by", "named_at"):
        if column not in out.columns:
            out[column] = None
    out["lineage_id"] = out["lineage_id"].astype(object)
    out["parents"] = [[] for _ in range(len(out))]
    out["review"] = False
    is_noise = out["segment_id"] == NOISE
    counter = next_lineage_id

    if previous_segments is None or transitions is None:
        for idx in out.index[~is_noise]:
            out.at[idx, "lineage_id"], out.at[idx, "transition"] = counter, "new"
            counter += 1
        return out

    old = previous_segments.set_index("segment_id")
    for idx in out.index[~is_noise]:
        n = out.at[idx, "segment_id"]
        links = transitions[transitions["to_segment"] == n]
        kind = links["kind"].iloc[0] if not links.empty else "emerged"
        parents = [int(p) for p in links["from_segment"].dropna()]
        out.at[idx, "transition"] = kind
        out.at[idx, "parents"] = [int(old.at[p, "lineage_id"]) for p in parents if p in old.index
                                  and pd.notna(old.at[p, "lineage_id"])]
        if kind in ("survived", "merged") and parents:
            heir = max(parents, key=lambda p: links.loc[links["from_segment"] == p, "overlap"].iloc[0]
                       * old.at[p, "size"])
            out.at[idx, "lineage_id"] = int(old.at[heir, "lineage_id"])
            for column in ("name", "description", "named_by", "named_at"):
                value = old.at[heir, column]
                out.at[idx, column] = None if pd.isna(value) else value
            continue
        out.at[idx, "lineage_id"] = counter
        counter += 1
        if kind == "split" and parents:
            parent = old.loc[parents[0]]
            parent_name = parent["name"] if pd.notna(parent["name"]) else parent["suggested_name"]
            out.at[idx, "suggested_name"] = f"{parent_name} (split)"
            out.at[idx, "review"] = True
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


def track_snapshot(con, as_of, segments: pd.DataFrame, assignments: pd.DataFrame,
                   thresholds: Thresholds = Thresholds()):
    """Track a freshly computed snapshot against the stored run just before ``as_of``.

    Returns ``(segments, transitions, summary)``: segments with lineage,
    transition and carried-over names; transitions ready for the store
    (``from_run`` filled); a JSON-friendly summary including the sources of
    emerged segments.
    """
    from . import results, store

    next_lineage = int(store.fetch_row(con, "lineage_next_id")[0])
    previous_run = results.previous_run(con, as_of)
    if previous_run is None:
        tracked = carry_lineage(None, segments, None, next_lineage)
        return _finish(tracked), None, {"previous_run": None, "counts": {"new": int((segments["segment_id"] != NOISE).sum())}}
    prev_id = previous_run["run_id"]
    previous_assign = con.execute(load_query("assignments_of_run"), {"run_id": prev_id}).df()
    previous_segments = con.execute(load_query("segments_of_run"), {"run_id": prev_id}).df()
    transitions = match_segments(previous_assign, assignments, thresholds)
    tracked = carry_lineage(previous_segments, segments, transitions, next_lineage)
    emerged = tracked.loc[tracked["transition"] == "emerged", "segment_id"].astype(int).tolist()
    sources = emerged_sources(previous_assign, assignments, emerged)
    transitions = transitions.assign(from_run=prev_id)
    counts = transitions["kind"].value_counts().to_dict()
    summary = {
        "previous_run": prev_id,
        "counts": {k: int(v) for k, v in counts.items()},
        "emerged_sources": sources.to_dict(orient="records"),
    }
    tracked = _finish(tracked, sources)
    return tracked, transitions, summary


def _finish(tracked: pd.DataFrame, sources: pd.DataFrame | None = None) -> pd.DataFrame:
    """Fold tracking facts into each segment's profile (JSON) and drop helper columns."""
    out = tracked.copy()
    profiles = []
    for row in out.itertuples(index=False):
        profile = dict(row.profile) if isinstance(row.profile, dict) else {}
        profile["lineage_parents"] = list(row.parents)
        profile["review"] = bool(row.review)
        if sources is not None and row.transition == "emerged":
            mine = sources[sources["segment_id"] == row.segment_id]
            profile["sources"] = mine[["source", "customers", "share"]].to_dict(orient="records")
        profiles.append(profile)
    out["profile"] = profiles
    return out.drop(columns=["parents", "review"])


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

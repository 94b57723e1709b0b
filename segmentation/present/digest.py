"""What changed in a snapshot, in a marketer's words: segment cards, badges and alerts.

Pure functions over stored rows (``segments`` of a run, its ``transitions``):
data frames in, data frames / plain dicts out. The app's Overview draws them;
nothing here reads the store or imports streamlit.
"""

from __future__ import annotations

import re
from typing import Any

import pandas as pd

from segmentation.constants import GROWTH, NOISE

__all__ = ["share_text", "customers_text", "GROWTH", "NO_CHANGE", "display_name", "badge", "segment_cards", "alerts", "format_change", "selection_summary",
           "escape_markdown"]

# A survivor whose share of the customers changed by at least this much (relative) is
# GROWING or FADING; smaller moves are ordinary snapshot-to-snapshot wobble.
BADGES = {"emerged": "NEW", "split": "SPLIT", "merged": "MERGED"}


_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]<>$~|#])")
_LIST_START = re.compile(r"^(\s*)(?:([-+])|(\d+)\.)(?=\s)")


def escape_markdown(text: str) -> str:
    """User text (a segment name, a message quoting a value) shown literally inside markdown.

    Escapes what would change the rendering: emphasis, code, links, HTML-like tags,
    LaTeX (``$``), tables and headings, and a list marker at the start.
    """
    escaped = _MARKDOWN_SPECIAL.sub(r"\\\1", text)
    return _LIST_START.sub(lambda m: m.group(1) + (f"\\{m.group(2)}" if m.group(2) else f"{m.group(3)}\\."),
                           escaped)


def display_name(name: Any, suggested_name: Any) -> str:
    """The given name, else the suggested one."""
    for value in (name, suggested_name):
        if isinstance(value, str) and value.strip():
            return value
    return "(unnamed)"


def badge(transition: Any, share: float, share_before: float | None) -> str | None:
    """NEW / SPLIT / MERGED from the transition, else GROWING / FADING from the share change.

    ``share`` and ``share_before`` are shares of the run's customers (0–1); a
    first snapshot (``transition == "new"``) gets no badge: nothing changed yet.
    """
    if transition in BADGES:
        return BADGES[transition]
    if share_before is None or pd.isna(share_before) or not share_before:
        return None
    change = share / share_before - 1
    if change >= GROWTH:
        return "GROWING"
    if change <= -GROWTH:
        return "FADING"
    return None


#: :func:`format_change` of a share that moved less than 0.05 points (shown without an arrow).
NO_CHANGE = "same share"  # the count may still move (Evolution: "grew" at +15 % customers)


def format_change(share: float, share_before: float | None) -> str | None:
    """``"+1.2 pts"`` style change of the share of customers, :data:`NO_CHANGE` when it rounds to 0.0
    (a "+0.0 pts" read as growth), or None without a predecessor."""
    if share_before is None or pd.isna(share_before):
        return None
    points = round((share - share_before) * 100, 1)
    return NO_CHANGE if points == 0 else f"{points:+.1f} pts"


def _profile(value: Any) -> dict:
    return value if isinstance(value, dict) else {}


def segment_cards(current: pd.DataFrame, n_customers: int, previous: pd.DataFrame | None = None,
                  n_customers_before: int | None = None) -> pd.DataFrame:
    """One card per real segment of a run (noise left out), largest first.

    ``current`` / ``previous``: segment rows (``segment_id, lineage_id, size, name,
    suggested_name, transition, profile`` with ``profile`` a dict) of the run and of
    the run it was tracked against (None for a first snapshot). A segment's
    predecessor is the previous segment of the same lineage (survived or merged).
    Returns ``segment_id, lineage_id, label, named, size, share, share_before,
    change, badge, top_traits, summary, review``.
    """
    before: dict[int, float] = {}
    if previous is not None and n_customers_before:
        for row in previous.itertuples(index=False):
            if row.segment_id != NOISE and pd.notna(row.lineage_id):
                before[int(row.lineage_id)] = row.size / n_customers_before
    rows = []
    for row in current[current["segment_id"] != NOISE].itertuples(index=False):
        profile = _profile(row.profile)
        share = row.size / n_customers if n_customers else 0.0
        previous_share = before.get(int(row.lineage_id)) if pd.notna(row.lineage_id) else None
        if row.transition not in ("survived", "merged", "forming"):
            previous_share = None  # a new lineage has no predecessor to compare with
        rows.append({
            "segment_id": int(row.segment_id),
            "lineage_id": int(row.lineage_id) if pd.notna(row.lineage_id) else None,
            "label": display_name(row.name, row.suggested_name),
            "named": isinstance(row.name, str) and bool(row.name.strip()),
            "size": int(row.size),
            "share": share,
            "share_before": previous_share,
            "change": format_change(share, previous_share),
            "badge": badge(row.transition, share, previous_share),
            "top_traits": list(profile.get("top_traits", [])),
            "summary": profile.get("summary", ""),
            "review": bool(profile.get("review", False)),
        })
    columns = ["segment_id", "lineage_id", "label", "named", "size", "share", "share_before", "change",
               "badge", "top_traits", "summary", "review"]
    frame = pd.DataFrame(rows, columns=columns).sort_values("size", ascending=False, kind="stable") \
        .reset_index(drop=True)
    for column in ("lineage_id", "share_before", "change", "badge"):  # missing stays None, not NaN
        frame[column] = frame[column].astype(object).where(frame[column].notna(), None)
    return frame


def _percent(value: float) -> str:
    return f"{value:.0%}" if value >= 0.01 else share_text(value)


def share_text(share: float) -> str:
    """A share to one decimal, never "0.0%" for some: ``"<0.1%"`` (a single customer of thousands)."""
    return "<0.1%" if 0 < share < 0.0005 else f"{share:.1%}"


def customers_text(count: int) -> str:
    """``1 customer``, ``2,345 customers``."""
    return f"{int(count):,} customer{'' if int(count) == 1 else 's'}"


def _sources_text(sources: list[dict], names: dict[str, str]) -> str:
    parts = [f"{_percent(float(s['share']))} from {escape_markdown(names.get(s['source'], s['source']))}"
             for s in sources[:3] if s.get("share")]
    return ", ".join(parts)


def alerts(current: pd.DataFrame, transitions: pd.DataFrame | None, n_customers: int,
           previous_labels: dict[int, str] | None = None) -> list[dict[str, Any]]:
    """Emerged, split, merged and disappeared segments since the previous snapshot, as messages.

    ``current``: the run's segment rows (with ``profile`` dicts; emerged segments carry
    their ``sources``); ``transitions``: rows of queries/ui/transitions_select_of_run.sql;
    ``previous_labels``: names of the previous run's segments (for the sources of an
    emerged segment). Returns dicts ``kind, segment_id (or None), text``, emerged first.
    """
    source_names = {f"segment {k}": v for k, v in (previous_labels or {}).items()}
    if transitions is None or transitions.empty:
        return []
    by_id = current.set_index("segment_id")
    out: list[dict[str, Any]] = []

    def label(segment_id: int) -> str:
        row = by_id.loc[segment_id]
        return escape_markdown(display_name(row["name"], row["suggested_name"]))

    for kind in ("emerged", "split", "merged"):
        targets = transitions.loc[transitions["kind"] == kind, "to_segment"].dropna().astype(int).unique()
        for segment_id in targets:
            if segment_id not in by_id.index:
                continue
            size = int(by_id.at[segment_id, "size"])
            share = size / n_customers if n_customers else 0.0
            links = transitions[(transitions["kind"] == kind) & (transitions["to_segment"] == segment_id)]
            parents = [escape_markdown(p) for p in links["from_label"].dropna().tolist()]
            if kind == "emerged":
                sources = _profile(by_id.at[segment_id, "profile"]).get("sources", [])
                where = _sources_text(sources, source_names)
                text = (f"New segment emerged: **{label(segment_id)}** — {size:,} customers "
                        f"({_percent(share)})" + (f"; {where}" if where else ""))
            elif kind == "split":
                text = (f"**{label(segment_id)}** split off from {', '.join(sorted(set(parents)))} — "
                        f"{size:,} customers ({_percent(share)}); check its name")
            else:
                text = (f"Segments merged into **{label(segment_id)}**: {', '.join(sorted(set(parents)))} — "
                        f"{size:,} customers ({_percent(share)})")
            out.append({"kind": kind, "segment_id": int(segment_id), "text": text})
    for row in transitions[transitions["kind"] == "disappeared"].itertuples(index=False):
        name = escape_markdown(row.from_label if isinstance(row.from_label, str) else f"segment {row.from_segment}")
        out.append({"kind": "disappeared", "segment_id": None,
                    "text": f"Segment disappeared: **{name}** ({int(row.from_size or 0):,} customers before)"})
    return out


def selection_summary(points: pd.DataFrame, positions: list[int], labels: dict[int, str]) -> dict[str, Any]:
    """Summary of map points picked with the box or lasso.

    ``points``: the downsampled map rows (``segment_id, probability, segment_size``,
    as from queries/ui/assignments_select_map_points.sql, where ``segment_size`` is the segment's full
    size); ``positions``: row positions of the picked points. Counts are scaled back
    up per segment by its sampling rate, so they estimate customers of the whole run.
    Returns ``n_points``, ``estimated_customers``, ``mean_probability`` and
    ``breakdown`` (``segment_id, label, points, estimated_customers, selected_share,
    overall_share``, largest first).
    """
    picked = points.iloc[sorted(set(int(p) for p in positions))]
    sampled = points.groupby("segment_id").size()
    full = points.groupby("segment_id")["segment_size"].first()
    rate = (full / sampled).rename("scale")
    total = float(full.sum())
    counts = picked.groupby("segment_id").size().rename("points").to_frame().join(rate)
    counts["estimated_customers"] = counts["points"] * counts["scale"]
    estimated = float(counts["estimated_customers"].sum())
    breakdown = counts.reset_index()
    breakdown["label"] = breakdown["segment_id"].map(lambda s: labels.get(int(s), f"segment {s}"))
    breakdown["selected_share"] = breakdown["estimated_customers"] / estimated if estimated else 0.0
    breakdown["overall_share"] = breakdown["segment_id"].map(full) / total if total else 0.0
    breakdown = breakdown.sort_values("estimated_customers", ascending=False).reset_index(drop=True)
    return {
        "n_points": int(len(picked)),
        "estimated_customers": round(estimated),
        "mean_probability": float(picked["probability"].mean()) if len(picked) else None,
        "breakdown": breakdown[["segment_id", "label", "points", "estimated_customers", "selected_share",
                                "overall_share"]],
    }

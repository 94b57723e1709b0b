"""Per-segment profiles: KPIs, trait lifts vs the population, traits in words, suggested names.

Everything is computed from the feature table (one row per customer) and the
assignments; the result is JSON-friendly so it can be stored with the run and
shown by the app without recomputing (aggregates, never customers' rows).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from segmentation.constants import NOISE

__all__ = ["profile_segments", "trait_phrase", "suggest_name", "unique_name", "KPI_FEATURES"]

# KPI name -> feature column (a KPI is left out when the data lacks its feature).
KPI_FEATURES = {
    "avg_monetary": "monetary",
    "recency_days": "recency_days",
    "frequency": "frequency",
    "conversion": "conversion",
    "refund_rate": "refund_rate",
    "avg_basket": "avg_basket",
}
MIN_STD_DIFF = 0.5   # a trait must differ by half a population standard deviation to be named
TOP_TRAITS = 4
QUANTILES = (0.1, 0.25, 0.5, 0.75, 0.9)

# Words for names: feature -> (word when higher than usual, word when lower); None = not used.
_ADJECTIVES: dict[str, tuple[str | None, str | None]] = {
    "channel_app": ("app-first", None),
    "channel_web": ("web", None),
    "channel_store": ("in-store", None),
    "channel_email": ("email-driven", None),
    "channel_social": ("social", None),
    "channel_ads": ("ad-responsive", None),
    "event_app_open": ("app-first", None),
    "event_store_visit": ("in-store", None),
    "time_night": ("night-owl", None),
    "time_morning": ("early-bird", None),
    "time_evening": ("evening", None),
    "time_afternoon": ("daytime", None),
    "weekend": ("weekend", "weekday"),
    "avg_basket": ("big-basket", "small-basket"),
    "monetary": ("high-value", "low-spend"),
    "frequency": ("frequent", "occasional"),
    "active_days": ("frequent", "occasional"),
    "refund_rate": ("returns-prone", None),
    "event_refund": ("returns-prone", None),
    "cart_abandonment": ("cart-abandoning", None),
    "event_cart": ("cart-filling", None),
    "email_open_rate": ("newsletter-loving", None),
    "email_click_rate": ("email-clicking", None),
    "event_email_open": ("newsletter-loving", None),
    "recency_days": ("lapsing", None),
    "conversion": ("decisive", "window-shopping"),
    "event_view": ("browsing", None),
    "event_search": ("searching", None),
    "trend": ("growing", "cooling"),
}


def _category_noun(feature: str) -> str | None:
    if feature.startswith("category_"):
        return feature.removeprefix("category_").replace("_", " ") + " shoppers"
    return None


# A segment whose average is at most this share of everyone's has "almost no" of it.
ALMOST_NONE = 0.1


def trait_phrase(label: str, kind: str, segment_mean: float, population_mean: float, std_diff: float) -> str:
    """A trait in plain words, e.g. ``"3.1× more app use"``, ``"2.0× less refunds"``, or ``"almost no
    web use"`` below a tenth of everyone's average ("113.0× less" is precision a marketer cannot use,
    and on the bar chart it sat beside a shorter bar than "13.1× less")."""
    if population_mean > 0 and segment_mean > 0:
        ratio = segment_mean / population_mean
        if ratio >= 1.25:
            return f"{ratio:.1f}× more {label}"
        if ratio <= ALMOST_NONE:
            return f"almost no {label}"
        if ratio <= 0.8:  # "fewer" for what is counted in the plural ("active days", "purchases")
            less = "fewer" if kind == "count" and label.endswith("s") else "less"
            return f"{1 / ratio:.1f}× {less} {label}"
    if population_mean > 0 and segment_mean == 0:
        return f"no {label}"
    return f"{'higher' if std_diff > 0 else 'lower'} {label}"


def _lifts(frame: pd.DataFrame, members: np.ndarray, catalog: list) -> list[dict[str, Any]]:
    population_mean = frame.mean()
    population_std = frame.std(ddof=0).replace(0, np.nan)
    segment = frame[members]
    segment_mean = segment.mean()
    traits = []
    for feature in catalog:
        name = feature.name
        pm, sm, sd = float(population_mean[name]), float(segment_mean[name]), population_std[name]
        std_diff = 0.0 if pd.isna(sd) else float((sm - pm) / sd)
        ratio = float(sm / pm) if pm != 0 else None
        traits.append({
            "feature": name, "label": feature.label, "kind": feature.kind,
            "segment_mean": sm, "population_mean": pm, "population_std": 0.0 if pd.isna(sd) else float(sd),
            "std_diff": std_diff, "ratio": ratio,
            "phrase": trait_phrase(feature.label, feature.kind, sm, pm, std_diff),
        })
    traits.sort(key=lambda t: -abs(t["std_diff"]))
    return traits


def _distributions(frame: pd.DataFrame, members: np.ndarray, features: list[str]) -> dict[str, Any]:
    out = {}
    for name in features:
        out[name] = {
            "segment": [float(v) for v in frame.loc[members, name].quantile(QUANTILES)],
            "population": [float(v) for v in frame[name].quantile(QUANTILES)],
        }
    return out


def _name_candidates(traits: list[dict[str, Any]]) -> list[str]:
    """Names from the strongest traits, shortest first (2 adjectives and a noun, then more)."""
    strong = [t for t in traits if abs(t["std_diff"]) >= MIN_STD_DIFF] or traits[:3]
    nouns = [n for t in strong if t["std_diff"] > 0 and (n := _category_noun(t["feature"]))]
    adjectives: list[str] = []
    for trait in strong:
        words = _ADJECTIVES.get(trait["feature"])
        if not words:
            continue
        word = words[0] if trait["std_diff"] > 0 else words[1]
        if word and word not in adjectives:
            adjectives.append(word)
    noun = nouns[0] if nouns else (
        "browsers" if "window-shopping" in adjectives or "browsing" in adjectives else "shoppers")
    out = [" ".join(adjectives[:n] + [noun]) for n in range(min(2, len(adjectives)), len(adjectives) + 1)]
    if len(nouns) > 1:  # a second category tells twins of one category apart
        both = nouns[0].removesuffix(" shoppers") + " & " + nouns[1]
        out += [" ".join(adjectives[:n] + [both]) for n in range(min(2, len(adjectives)), len(adjectives) + 1)]
    return [c[:1].upper() + c[1:] for c in dict.fromkeys(out)]


def unique_name(traits: list[dict[str, Any]], taken: set[str], fallback: str = "Shoppers") -> str:
    """A name from ``traits`` not in ``taken``: more traits in words before ever a number.

    Tries :func:`_name_candidates`; then the first candidate with its strongest trait
    phrases (``"Weekday shoppers, 2.1× more refunds"``); only when every trait is
    already spent, a number.
    """
    candidates = _name_candidates(traits) if traits else []
    for candidate in candidates:
        if candidate not in taken:
            return candidate
    base = candidates[0] if candidates else fallback
    for trait in sorted(traits, key=lambda t: -abs(t["std_diff"])):
        phrase = trait.get("phrase") or trait_phrase(
            trait.get("label", trait["feature"]), "", 0.0, 0.0, trait["std_diff"])
        candidate = f"{base}, {phrase}"
        if candidate not in taken:
            return candidate
    suffix = 2
    while f"{base} {suffix}" in taken:
        suffix += 1
    return f"{base} {suffix}"


def suggest_name(traits: list[dict[str, Any]], taken: set[str]) -> str:
    """A short name from the strongest traits (e.g. "App-first night-owl gaming shoppers"), unique in ``taken``."""
    return unique_name(traits, taken)


def profile_segments(table, assignments: pd.DataFrame) -> pd.DataFrame:
    """One row per segment (noise included as ``-1``): size, suggested name and a profile dict.

    ``table`` is a :class:`segmentation.features.table.FeatureTable`; ``assignments``
    has ``customer_id``, ``segment_id``, ``probability`` in the table's row order.
    Profile: share, revenue share, KPIs, trait lifts (standardised difference and
    ratio) for every catalog feature, the top traits in words, and quantiles of
    the key features for the segment and the population.
    """
    frame = table.frame
    labels = assignments["segment_id"].to_numpy()
    probability = assignments["probability"].to_numpy()
    revenue = frame["monetary"].to_numpy() if "monetary" in frame.columns else None
    total_revenue = float(revenue.sum()) if revenue is not None else 0.0
    n_total = len(frame)
    rows, taken = [], set()
    segment_ids = sorted(set(labels.tolist()), key=lambda s: (s == NOISE, s))
    for segment_id in segment_ids:
        members = labels == segment_id
        size = int(members.sum())
        kpis = {
            kpi: float(frame.loc[members, column].mean())
            for kpi, column in KPI_FEATURES.items() if column in frame.columns
        }
        kpis["avg_membership_probability"] = float(probability[members].mean())
        traits = _lifts(frame, members, table.catalog)
        top = [t for t in traits if abs(t["std_diff"]) >= MIN_STD_DIFF][:TOP_TRAITS] or traits[:2]
        if segment_id == NOISE:
            suggested = "Unassigned (noise)"
        else:
            suggested = suggest_name(traits, taken)
            taken.add(suggested)
        profile = {
            "share": size / n_total,
            "revenue_share": float(revenue[members].sum() / total_revenue) if total_revenue else None,
            "kpis": kpis,
            "top_traits": [t["phrase"] for t in top],
            "traits": traits,
            "distributions": _distributions(frame, members, [t["feature"] for t in top]),
            "summary": "Customers with " + _join([t["phrase"] for t in top]) + ".",
        }
        rows.append({"segment_id": int(segment_id), "size": size, "suggested_name": suggested,
                     "profile": profile})
    return pd.DataFrame(rows)


def _join(phrases: list[str]) -> str:
    if len(phrases) <= 1:
        return "".join(phrases)
    return ", ".join(phrases[:-1]) + " and " + phrases[-1]

"""Profiles: KPIs, trait lifts, traits in words, unique suggested names."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from segmentation.features.catalog import Feature
from segmentation.features.table import FeatureTable
from segmentation.dynamics.profiles import profile_segments, suggest_name, trait_phrase

CATALOG = [
    Feature("frequency", "activity", "events in the window", "count"),
    Feature("monetary", "spend", "money spent on purchases", "money"),
    Feature("channel_app", "app use", "share of events on the mobile app", "share"),
    Feature("time_night", "night-time activity", "share of events between midnight and 6 am", "share"),
    Feature("category_gaming", "gaming purchases", "share of events in gaming", "share"),
    Feature("refund_rate", "refunds", "refunds per purchase", "rate"),
]


@pytest.fixture(scope="module")
def table_and_assignments():
    rng = np.random.default_rng(0)
    n = 300
    labels = np.repeat([0, 1, 2, -1], [150, 100, 40, 10])
    frame = pd.DataFrame({
        "frequency": rng.gamma(5, 2, n),
        "monetary": np.where(labels == 1, 400.0, 50.0) + rng.normal(0, 5, n),
        "channel_app": np.where(labels == 0, 0.8, 0.1) + rng.normal(0, 0.02, n),
        "time_night": np.where(labels == 0, 0.6, 0.05) + rng.normal(0, 0.01, n),
        "category_gaming": np.where(labels == 0, 0.7, 0.05),
        "refund_rate": np.where(labels == 2, 0.5, 0.02),
    }, index=pd.Index([f"C{i:04d}" for i in range(n)], name="customer_id"))
    assignments = pd.DataFrame({"customer_id": frame.index, "segment_id": labels,
                                "probability": np.where(labels == -1, 0.0, 0.9)})
    return FeatureTable(frame=frame, catalog=CATALOG), assignments


def test_sizes_shares_and_revenue(table_and_assignments):
    table, assignments = table_and_assignments
    profiles = profile_segments(table, assignments).set_index("segment_id")
    assert profiles["size"].to_dict() == {0: 150, 1: 100, 2: 40, -1: 10}
    assert profiles.loc[0, "profile"]["share"] == pytest.approx(0.5)
    revenue = table.frame["monetary"]
    expected = revenue[assignments["segment_id"].to_numpy() == 1].sum() / revenue.sum()
    assert profiles.loc[1, "profile"]["revenue_share"] == pytest.approx(expected)
    assert sum(p["revenue_share"] for p in profiles["profile"]) == pytest.approx(1.0)


def test_kpis_and_lifts_for_every_feature(table_and_assignments):
    table, assignments = table_and_assignments
    profiles = profile_segments(table, assignments).set_index("segment_id")
    for profile in profiles["profile"]:
        assert {"avg_monetary", "frequency", "refund_rate", "avg_membership_probability"} <= set(profile["kpis"])
        assert {t["feature"] for t in profile["traits"]} == {f.name for f in CATALOG}
    gaming = next(t for t in profiles.loc[0, "profile"]["traits"] if t["feature"] == "category_gaming")
    population = table.frame["category_gaming"].mean()
    assert gaming["ratio"] == pytest.approx(0.7 / population)
    assert gaming["std_diff"] == pytest.approx((0.7 - population) / table.frame["category_gaming"].std(ddof=0))


def test_top_traits_in_words_and_names(table_and_assignments):
    table, assignments = table_and_assignments
    profiles = profile_segments(table, assignments).set_index("segment_id")
    night_gamers = profiles.loc[0]
    assert any(p.endswith("more night-time activity") for p in night_gamers["profile"]["top_traits"])
    name = night_gamers["suggested_name"]
    assert "gaming shoppers" in name and ("App-first" in name or "Night-owl" in name)
    assert "more refunds" in " ".join(profiles.loc[2, "profile"]["top_traits"])
    assert "Returns-prone" in profiles.loc[2, "suggested_name"]
    names = profiles.drop(index=-1)["suggested_name"]
    assert names.is_unique and names.str.len().gt(0).all()
    assert profiles.loc[-1, "suggested_name"] == "Unassigned (noise)"


def test_trait_phrase_wording():
    assert trait_phrase("app use", "share", 0.62, 0.2, 2.0) == "3.1× more app use"
    assert trait_phrase("refunds", "rate", 0.01, 0.05, -1.0) == "5.0× less refunds"
    assert trait_phrase("web use", "share", 0.006, 0.5, -1.1) == "almost no web use"  # not "83.3× less"
    assert trait_phrase("web use", "share", 0.051, 0.5, -1.1) == "9.8× less web use"
    assert trait_phrase("active days", "count", 2.0, 4.0, -0.9) == "2.0× fewer active days"
    assert trait_phrase("activity", "count", 2.0, 4.0, -0.9) == "2.0× less activity"
    assert trait_phrase("email opens", "rate", 0.0, 0.3, -1.2) == "no email opens"
    assert trait_phrase("trend", "share", 0.55, 0.5, 0.6) == "higher trend"


def test_suggested_names_stay_unique():
    traits = [{"feature": "channel_app", "std_diff": 2.0}, {"feature": "time_night", "std_diff": 1.5},
              {"feature": "weekend", "std_diff": 1.0}]
    taken: set[str] = set()
    names = []
    for _ in range(4):
        names.append(suggest_name(traits, taken))
        taken.add(names[-1])
    assert len(set(names)) == 4
    assert names[0] == "App-first night-owl shoppers"
    assert names[1] == "App-first night-owl weekend shoppers"

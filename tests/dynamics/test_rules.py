"""Rules for a segment (segmentation.dynamics.rules, `explain`): readable, faithful, and the SQL is the text."""

from __future__ import annotations

import json
import re

import duckdb
import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from segmentation.cli.main import app
from segmentation.features.catalog import Feature
from segmentation.dynamics.rules import MAX_CONDITIONS, MAX_RULES, display_kinds, segment_rules


def _planted(n: int = 3000, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    """Shares and counts; the segment is 'social share > 30 % and at least 5 events', plus noise columns."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({
        "channel_social": rng.uniform(0, 0.6, n),
        "frequency": rng.integers(1, 20, n).astype(float),
        "monetary": rng.lognormal(4, 1, n),
        "weekend": rng.uniform(0, 1, n),
    }, index=[f"c{i}" for i in range(n)])
    member = (frame["channel_social"] > 0.3).to_numpy() & (frame["frequency"] >= 5).to_numpy()
    return frame, member


CATALOG = [Feature("channel_social", "social media activity", "", "share"),
           Feature("frequency", "activity", "", "count"),
           Feature("monetary", "spend", "", "money"),
           Feature("weekend", "weekend activity", "", "share")]


def _sql_members(frame: pd.DataFrame, clause: str) -> set[str]:
    con = duckdb.connect()
    con.register("features", frame.reset_index(names="customer_id"))
    return {r[0] for r in con.execute(f"SELECT customer_id FROM features WHERE {clause}").fetchall()}


def _check_text_matches_sql(rule: dict, kinds: dict[str, str]) -> None:
    """Every threshold the text shows is the one the SQL uses (integers: 'at least 5' is '> 4')."""
    for condition in rule["conditions"]:
        value = condition["threshold"]
        if kinds[condition["feature"]] == "percent":
            shown = f"{value * 100:.0f} %"
        elif kinds[condition["feature"]] == "integer":
            shown = f"{value + 1:.0f}" if condition["op"] == ">" else f"{value:.0f}"
        else:
            shown = f"{value:,.2f}".rstrip("0").rstrip(".") if abs(value) < 100 else f"{value:,.0f}"
        assert shown in rule["text"], (shown, rule["text"])
        assert f'"{condition["feature"]}" {condition["op"]} {value!r}' in rule["sql"]


def test_two_bounds_on_one_feature_read_as_a_range():
    """The browser walk read "evening activity above 50 % to 60 %"."""
    from segmentation.dynamics.rules import Condition, rule_text

    rule = [Condition("evening", ">", 0.5), Condition("evening", "<=", 0.6), Condition("visits", ">", 2.0),
            Condition("visits", "<=", 5.0), Condition("grocery", ">", 0.12)]
    kinds = {"evening": "percent", "visits": "integer", "grocery": "percent"}
    labels = {"evening": "evening activity", "visits": "visits", "grocery": "grocery activity"}
    assert rule_text(rule, kinds, labels) == ("evening activity more than 50 % and at most 60 % and visits from 3 "
                                              "to 5 and grocery activity more than 12 %")
    # one bound reads in the same words as a range (the browser walk: "> 60 %" beside "more than 50 % and …")
    assert rule_text([Condition("grocery", "<=", 0.12), Condition("visits", ">", 4.0)], kinds, labels) == (
        "grocery activity at most 12 % and visits at least 5")


def test_planted_rule_is_found_rounded_and_the_sql_selects_what_the_text_says():
    frame, member = _planted()
    kinds = display_kinds(frame, CATALOG)
    found = segment_rules(frame, member, kinds, {f.name: f.label for f in CATALOG})
    assert found["fidelity"]["f1"] >= 0.97
    assert 1 <= len(found["rules"]) <= MAX_RULES
    assert all(len(r["conditions"]) <= MAX_CONDITIONS for r in found["rules"])
    first = found["rules"][0]
    assert "social media activity more than 30 %" in first["text"] and "activity at least 5" in first["text"], first["text"]
    for rule in found["rules"]:
        _check_text_matches_sql(rule, kinds)
    # the clause run in DuckDB selects the customers the reported precision and recall describe
    selected = _sql_members(frame, found["sql"])
    truth = set(frame.index[member])
    assert len(selected & truth) / len(selected) == pytest.approx(found["fidelity"]["precision"])
    assert len(selected & truth) / len(truth) == pytest.approx(found["fidelity"]["recall"])


def test_on_many_customers_rules_are_grown_on_a_sample_and_measured_on_everyone(monkeypatch):
    from sklearn.tree import DecisionTreeClassifier

    from segmentation.dynamics import rules

    seen: list[int] = []

    class Recording(DecisionTreeClassifier):
        def fit(self, X, y, *args, **kwargs):
            seen.append(len(X))
            return super().fit(X, y, *args, **kwargs)

    monkeypatch.setattr(rules, "DecisionTreeClassifier", Recording)
    monkeypatch.setattr(rules, "RULES_SAMPLE", 1000)
    frame, member = _planted(n=6000, seed=2)
    kinds = display_kinds(frame, CATALOG)
    found = segment_rules(frame, member, kinds, {f.name: f.label for f in CATALOG})
    assert seen and set(seen) == {1000}  # every tree saw the sample only
    assert found["fidelity"]["f1"] >= 0.95
    selected, truth = _sql_members(frame, found["sql"]), set(frame.index[member])  # the fidelity is on all 6,000
    assert len(selected & truth) / len(selected) == pytest.approx(found["fidelity"]["precision"])
    assert len(selected & truth) / len(truth) == pytest.approx(found["fidelity"]["recall"])


def test_a_segment_no_short_rule_describes_gets_low_fidelity_not_a_fake_one():
    frame, _ = _planted(seed=1)
    rng = np.random.default_rng(5)
    member = rng.random(len(frame)) < 0.2  # membership unrelated to every column
    found = segment_rules(frame, member, display_kinds(frame, CATALOG), {})
    assert found["fidelity"]["f1"] < 0.5


@pytest.fixture(scope="module")
def explained(demo_runs_template) -> tuple[dict, list[dict]]:
    import duckdb as ddb

    con = ddb.connect(str(demo_runs_template), read_only=True)
    run_id = con.execute("SELECT max(run_id) FROM runs").fetchone()[0]
    con.close()
    runner = CliRunner()
    listed = json.loads(runner.invoke(app, ["--db", str(demo_runs_template), "segments", "--run", str(run_id),
                                            "--json"]).stdout)
    documents = []
    for segment in [s for s in listed if s["segment_id"] != -1]:
        result = runner.invoke(app, ["--db", str(demo_runs_template), "explain", "--run", str(run_id),
                                     "--segment", str(segment["segment_id"]), "--json"])
        assert result.exit_code == 0, result.output
        documents.append(json.loads(result.stdout))
    return listed, documents


def test_explain_on_the_demo_is_faithful_and_its_sql_runs_on_the_feature_table(explained, demo_runs_template):
    from segmentation.features import table as features
    from segmentation.data import store

    listed, documents = explained
    assert np.mean([d["fidelity"]["f1"] for d in documents]) >= 0.85
    run = documents[0]["run_id"]
    with store.connect(demo_runs_template, read_only=True) as con:
        as_of, window = con.execute("SELECT as_of, window_days FROM runs WHERE run_id = ?", [run]).fetchone()
        table = features.build_features(con, as_of, window)
        labels = con.execute("SELECT customer_id, segment_id FROM assignments WHERE run_id = ?", [run]).df()
    members = labels.groupby("segment_id")["customer_id"].apply(set).to_dict()
    for document in documents:
        selected = _sql_members(table.frame, document["sql"])
        truth = members[document["segment_id"]]
        assert len(selected & truth) / max(1, len(selected)) == pytest.approx(document["fidelity"]["precision"])
        assert len(selected & truth) / len(truth) == pytest.approx(document["fidelity"]["recall"])
        for rule in document["rules"]:
            assert set(rule) >= {"text", "sql", "precision", "recall"}
            assert re.search(r"\d", rule["text"])


def test_segments_json_carries_the_rules_stored_with_the_snapshot(explained):
    listed, documents = explained
    by_id = {s["segment_id"]: s for s in listed}
    for document in documents:
        stored = by_id[document["segment_id"]]["rules"]
        assert stored is not None and stored["sql"] == document["sql"]
        assert stored["fidelity"] == pytest.approx(document["fidelity"])
    assert by_id.get(-1, {}).get("rules") is None


def test_explain_errors_name_the_problem(demo_runs_template):
    runner = CliRunner()
    noise = runner.invoke(app, ["--db", str(demo_runs_template), "explain", "--run", "1", "--segment", "-1"])
    assert noise.exit_code == 2 and "noise" in noise.output
    missing = runner.invoke(app, ["--db", str(demo_runs_template), "explain", "--run", "1", "--segment", "99"])
    assert missing.exit_code == 4 and "no segment 99" in missing.output

"""AppTest: every page of the app, on an empty database and on a stored two-snapshot demo timeline.

The numbers each page shows are checked against the database (queried here
independently), widgets are driven as a user would, and writes (names,
snapshots, exports, imports) are checked in DuckDB afterwards.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from datetime import date
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from segmentation.present import plotting
from segmentation.present.digest import display_name, escape_markdown
from segmentation.workflows.snapshot import SnapshotParams
from tests.helpers import ROOT

APP = str(ROOT / "app.py")
PAGES = {
    "overview": "Overview", "run": "Run", "map": "Map", "segment": "Segment", "evolution": "Evolution",
    "export": "Export", "data": "Data",
}


def open_app(db: Path, monkeypatch, page: str | None = None, timeout: float = 120) -> AppTest:
    """The app on ``db``, run once (on the Overview), then on ``page`` if given."""
    monkeypatch.setenv("SEGMENTATION_DB", str(db))
    at = AppTest.from_file(APP, default_timeout=timeout).run()
    if page and page != "overview":
        at.switch_page(f"segmentation/ui/{page}.py").run()
    return at


def sql(db: Path, statement: str, params: dict | None = None) -> pd.DataFrame:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(statement, params or {}).df()
    finally:
        con.close()


def latest_run(db: Path) -> dict:
    return sql(db, "SELECT * FROM runs WHERE status = 'complete' ORDER BY as_of DESC, run_id DESC LIMIT 1") \
        .iloc[0].to_dict()


def real_segments(db: Path, run_id: int) -> pd.DataFrame:
    return sql(db, "SELECT * FROM segments WHERE run_id = $r AND segment_id <> -1 ORDER BY size DESC",
               {"r": int(run_id)})


def metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def array(value) -> np.ndarray:
    """A plotly JSON array: a plain list, or plotly's typed array ``{"dtype", "bdata", "shape"}``."""
    if isinstance(value, dict) and "bdata" in value:
        values = np.frombuffer(base64.b64decode(value["bdata"]), dtype=np.dtype(value["dtype"]))
        shape = value.get("shape")
        return values.reshape([int(n) for n in str(shape).split(",")]) if shape else values
    return np.asarray(value)


# ------------------------------------------------------------------ empty database
@pytest.mark.parametrize("page", list(PAGES))
def test_every_page_on_an_empty_database_says_what_to_do(db_file, monkeypatch, page):
    at = open_app(db_file, monkeypatch, page)
    assert not at.exception
    assert at.title[0].value == PAGES[page]
    infos = " ".join(i.value for i in at.info)
    if page == "data":
        assert "no events yet" in infos and [b.label for b in at.button] == ["Create demo data"]
    elif page == "run":
        assert "no events to segment" in infos
    else:
        assert "no events yet" in infos and not at.get("plotly_chart")


def test_pages_with_events_but_no_snapshot_point_to_the_run_page(demo_runs_db, monkeypatch):
    con = duckdb.connect(str(demo_runs_db))
    for table in ("transitions", "assignments", "segments", "runs"):
        con.execute(f"DELETE FROM {table}")
    con.close()
    for page in ("overview", "map", "segment", "evolution", "export"):
        at = open_app(demo_runs_db, monkeypatch, page)
        assert not at.exception
        assert any("no snapshot has been computed yet" in i.value for i in at.info), page
    at = open_app(demo_runs_db, monkeypatch, "run")
    assert [b.label for b in at.button] == ["Run snapshot"]


# ------------------------------------------------------------------ with data
def test_overview_shows_the_latest_snapshot_its_alerts_and_one_card_per_segment(demo_runs_db, monkeypatch):
    at = open_app(demo_runs_db, monkeypatch)
    assert not at.exception
    run = latest_run(demo_runs_db)
    shown = metrics(at)
    assert shown["Segments"] == str(run["n_segments"])
    assert shown["Customers covered"] == f"{run['n_customers']:,}"
    assert shown["Unassigned"] == f"{run['noise_share']:.1%}"
    segments = real_segments(demo_runs_db, run["run_id"])
    assert [b.label for b in at.button if b.key and b.key.startswith("open_")] == ["Open"] * len(segments)
    # one card per segment with its name, size and revenue, in the documented order (docs/app.md):
    # NEW, then GROWING, then the rest; within each by revenue trend, then size
    cards = [m.value for m in at.markdown if m.value.startswith("**")][:len(segments)]
    titles = [re.match(r"\*\*(.+?)\*\*", c).group(1) for c in cards]
    expected = {escape_markdown(n or s): size for n, s, size in zip(segments["name"], segments["suggested_name"],
                                                                   segments["size"])}
    assert sorted(titles) == sorted(expected)
    sizes = [m.value for m in at.metric if m.label == "customers"]
    assert sizes == [f"{expected[t]:,} · {expected[t] / run['n_customers']:.1%}" for t in titles]
    groups = [0 if "[NEW]" in c else 1 if "[GROWING]" in c else 2 for c in cards]
    assert groups == sorted(groups)
    revenue = [c.value for c in at.caption if c.value.startswith("Revenue in the window")]
    assert len(revenue) == len(segments)
    trends = [float(m.group(1)) if (m := re.search(r"([+-]\d+) % since", r)) else None for r in revenue]
    value = sql(demo_runs_db, """SELECT a.segment_id, sum(e.amount) AS revenue FROM assignments a
        JOIN runs r USING (run_id) JOIN events e ON e.customer_id = a.customer_id AND e.event_type = 'purchase'
         AND e.ts >= r.as_of - r.window_days AND e.ts < r.as_of + 1 WHERE a.run_id = $r AND a.segment_id <> -1
        GROUP BY ALL""",
                {"r": int(run["run_id"])})
    assert sorted(f"Revenue in the window {v:,.0f}" for v in value["revenue"]) == sorted(
        r.split(" · ")[0] for r in revenue)
    for group in set(groups):
        known = [t for t, g in zip(trends, groups) if g == group and t is not None]
        assert known == sorted(known, reverse=True)
    # one alert per emerged/split/merged target and per disappeared segment
    transitions = sql(demo_runs_db, "SELECT * FROM transitions WHERE to_run = $r", {"r": int(run["run_id"])})
    changed = transitions[transitions["kind"].isin(["emerged", "split", "merged"])]["to_segment"].nunique()
    gone = int((transitions["kind"] == "disappeared").sum())
    alerts = [a.value for a in at.warning] + [a.value for a in at.info]
    assert len(alerts) == changed + gone
    for segment_id in transitions.loc[transitions["kind"] == "emerged", "to_segment"]:
        name = segments.set_index("segment_id").at[int(segment_id), "suggested_name"]
        assert any(a.startswith(f"New segment emerged: **{name}**") for a in alerts)


def test_money_shows_in_the_currency_chosen_in_the_sidebar(demo_runs_db, monkeypatch):
    at = open_app(demo_runs_db, monkeypatch)
    assert at.selectbox(key="_currency_picker").value == ""  # none until chosen: amounts as in the data
    at.selectbox(key="_currency_picker").select("€").run()
    assert not at.exception
    revenue = [c.value for c in at.caption if c.value.startswith("Revenue in the window")]
    assert revenue and all(r.startswith("Revenue in the window €") for r in revenue)
    at.switch_page("segmentation/ui/segment.py").run()  # the choice is kept across pages
    assert {m.label: m.value for m in at.metric}["Spend per customer"].startswith("€")
    at.switch_page("segmentation/ui/evolution.py").run()
    value_chart = json.loads(at.get("plotly_chart")[-1].proto.spec)
    assert value_chart["layout"]["yaxis"]["tickprefix"] == "€"


def test_a_card_opens_its_segment_page(demo_runs_db, monkeypatch):
    at = open_app(demo_runs_db, monkeypatch)
    run = latest_run(demo_runs_db)
    smallest = real_segments(demo_runs_db, run["run_id"]).iloc[-1]
    at.button(key=f"open_{int(smallest['segment_id'])}").click().run()
    assert not at.exception
    assert at.title[0].value == "Segment"
    assert at.header[0].value == smallest["suggested_name"]
    assert metrics(at)["Customers"] == f"{int(smallest['size']):,}"


def assert_shares_with_one_decimal(table) -> None:
    """Every percent column of ``table`` shows one decimal in every row (Streamlit's plain percent format
    trims them row by row: "5%" above "12.35%"; common.percent_column sets the step that fixes them)."""
    configs = json.loads(table.proto.columns)
    numbers = [config.get("type_config") or {} for config in configs.values()]
    percents = [n for n in numbers if n.get("format") == "percent"]
    assert all(n.get("step") == 0.001 for n in percents), percents
    # ...and Streamlit cuts a value down to that step (0.2779 reads 27.7%): the table holds it rounded
    for name in [name for name, config in configs.items()
                 if (config.get("type_config") or {}).get("format") == "percent" and name in table.value.columns]:
        thousandths = table.value[name].dropna().astype(float) * 1000
        assert np.allclose(thousandths, thousandths.round(), rtol=0, atol=1e-6), (name, thousandths.tolist()[:5])


def test_segment_page_profile_history_and_masked_members(demo_runs_db, monkeypatch):
    at = open_app(demo_runs_db, monkeypatch, "segment")
    assert not at.exception
    run = latest_run(demo_runs_db)
    largest = real_segments(demo_runs_db, run["run_id"]).iloc[0]
    profile = json.loads(largest["profile"])
    shown = metrics(at)
    assert at.header[0].value == largest["suggested_name"]
    assert shown["Customers"] == f"{int(largest['size']):,}"
    assert shown["Share of customers"] == f"{profile['share']:.1%}"
    assert shown["Spend per customer"] == f"{profile['kpis']['avg_monetary']:,.0f}"
    charts = at.get("plotly_chart")
    assert len(charts) >= 3  # trait lifts, distributions, membership (+ lineage when it has history)
    lifts = json.loads(charts[0].proto.spec)["data"][0]
    strongest = max(profile["traits"], key=lambda t: abs(t["std_diff"]))
    drawn = list(lifts["y"]).index(strongest["phrase"])  # the trait in words, e.g. "2.3× more app use"
    assert array(lifts["x"])[drawn] == pytest.approx(strongest["std_diff"])
    assert (np.diff(array(lifts["x"])) >= 0).all()  # less-of at the bottom, more-of on top
    histogram = json.loads(charts[2].proto.spec)["data"][0]
    assert array(histogram["y"]).sum() == int(largest["size"])
    history = sql(demo_runs_db, "SELECT * FROM segments WHERE lineage_id = $l", {"l": int(largest["lineage_id"])})
    lineage_table = at.dataframe[0].value
    assert sorted(lineage_table["run_id"]) == sorted(history["run_id"])
    # as rules: the fidelity and the SQL clause stored with the snapshot
    rules = profile["rules"]
    assert shown["F1"] == f"{rules['fidelity']['f1']:.2f}"
    assert shown["Precision"] == f"{rules['fidelity']['precision']:.0%}"
    assert any(c.value == f"WHERE {rules['sql']}" for c in at.code)
    members = at.dataframe[-1].value
    assert len(members) == min(20, int(largest["size"]))
    emails = members["email"].dropna()
    assert len(emails) and emails.str.contains("•••@").all()
    assert members["phone"].dropna().str.fullmatch(r"••• ••\d\d").all()
    # every table's columns in words (the browser walk read run_id, membership_probability, consent_ads)
    for table in at.dataframe:
        labels = {c: (config.get("label") or c) for c, config in json.loads(table.proto.columns).items()}
        shown_names = [labels.get(c, c) for c in table.value.columns]
        assert not [n for n in shown_names if "_" in n], shown_names
        assert_shares_with_one_decimal(table)


def test_map_shows_every_segment_without_ids_and_summarises_a_selection(demo_runs_db, monkeypatch):
    at = open_app(demo_runs_db, monkeypatch, "map")
    assert not at.exception
    run = latest_run(demo_runs_db)
    spec = at.get("plotly_chart")[0].proto.spec
    figure = json.loads(spec)
    counts = sql(demo_runs_db, "SELECT segment_id, count(*) AS n FROM assignments WHERE run_id = $r GROUP BY 1",
                 {"r": int(run["run_id"])})
    assert len(figure["data"]) == len(counts)
    assert sum(len(array(trace["x"])) for trace in figure["data"]) == int(counts["n"].sum())  # small: all shown
    assert "customer_id" not in spec and '"C0' not in spec  # no customer ids anywhere in the figure
    # a lasso around the first five points of the first real segment
    trace = next(t for t in figure["data"] if t["name"] != "Unassigned (noise)")
    picked = [{"customdata": array(trace["customdata"])[i].tolist()} for i in range(5)]
    at.session_state[f"map_{int(run['run_id'])}"] = {
        "selection": {"points": picked, "point_indices": list(range(5)), "box": [], "lasso": []}}
    at.run()
    assert not at.exception
    shown = metrics(at)
    assert shown["Points selected"] == "5" and shown["Customers (estimated)"] == "5"
    breakdown = at.dataframe[-1].value
    assert [plotting.short_label(x) for x in breakdown["label"]] == [trace["name"]]  # the legend cuts long names
    assert_shares_with_one_decimal(at.dataframe[-1])
    assert breakdown["points"].tolist() == [5]


def test_evolution_counts_transitions_and_draws_sizes_and_sankey(demo_runs_db, monkeypatch):
    at = open_app(demo_runs_db, monkeypatch, "evolution")
    assert not at.exception
    run = latest_run(demo_runs_db)
    kinds = sql(demo_runs_db, "SELECT kind, count(*) AS n FROM transitions WHERE to_run = $r GROUP BY 1",
                {"r": int(run["run_id"])}).set_index("kind")["n"]
    shown = metrics(at)
    for kind in ("emerged", "split", "merged", "disappeared", "survived", "forming", "dissolved"):
        assert shown[kind] == str(int(kinds.get(kind, 0)))
    charts = [json.loads(c.proto.spec) for c in at.get("plotly_chart")]
    assert charts[1]["data"][0]["type"] == "sankey"
    flows = array(charts[1]["data"][0]["link"]["value"])
    customers_after = sql(demo_runs_db, "SELECT count(*) AS n FROM assignments WHERE run_id = $r",
                          {"r": int(run["run_id"])})["n"].iloc[0]
    labels = charts[1]["data"][0]["node"]["label"]
    targets = array(charts[1]["data"][0]["link"]["target"])
    into_after = sum(v for v, t in zip(flows, targets) if labels[t] != plotting.LEFT)
    assert not any(label.startswith(("before:", "after:")) for label in labels)
    assert into_after == customers_after
    # who moved, and why: each emerged or split segment with where its customers came from
    texts = [m.value for m in at.markdown]
    assert any("Who moved, and why" in t for t in texts)
    moved = sql(demo_runs_db, "SELECT coalesce(name, suggested_name) AS label, transition FROM segments "
                "WHERE run_id = $r AND transition IN ('emerged', 'split')", {"r": int(run["run_id"])})
    for row in moved.itertuples(index=False):
        assert any(row.label in t and f"({row.transition}" in t for t in texts), (row.label, texts)
    # value over time: one line per lineage; at the latest snapshot they add up to the members' purchases
    assert any(h.value == "Value over time" for h in at.subheader)
    value = charts[-1]["data"]
    assert len(value) == int(sql(demo_runs_db, "SELECT count(DISTINCT lineage_id) AS n FROM segments "
                                 "WHERE segment_id <> -1")["n"].iloc[0])
    latest = str(run["as_of"])[:10]
    drawn = sum(y for trace in value for x, y in zip(trace["x"], array(trace["y"])) if str(x)[:10] == latest)
    revenue = sql(demo_runs_db, """SELECT sum(e.amount) AS r FROM assignments a JOIN runs r USING (run_id)
        JOIN events e ON e.customer_id = a.customer_id AND e.event_type = 'purchase'
         AND e.ts >= r.as_of - r.window_days AND e.ts < r.as_of + 1
        WHERE a.run_id = $r AND a.segment_id <> -1""", {"r": int(run["run_id"])})["r"].iloc[0]
    assert drawn == pytest.approx(revenue, rel=1e-6)
    moves = next(d.value for d in at.dataframe if "what happened" in d.value.columns)
    assert not moves.isna().any().any()  # see test_an_emerged_segments_empty_side_reads_a_dash
    # From later than To (the browser walk: new customers flowed into the older snapshot): refused, no chart
    at.selectbox(key=f"sankey_before_{int(run['run_id'])}").set_value(int(run["run_id"]))
    at.selectbox(key=f"sankey_after_{int(run['run_id'])}").set_value(int(sql(demo_runs_db, "SELECT min(run_id) AS r FROM runs")["r"].iloc[0]))
    at.run()
    assert not at.exception
    assert [w.value for w in at.warning if "is later than" in w.value]
    assert "sankey" not in [json.loads(c.proto.spec)["data"][0]["type"] for c in at.get("plotly_chart")]


def test_run_page_starts_from_the_latest_snapshots_parameters(demo_runs_db, monkeypatch):
    at = open_app(demo_runs_db, monkeypatch, "run")
    assert not at.exception
    for table in at.dataframe:  # the stored snapshots' "in no segment"
        assert_shares_with_one_decimal(table)
    last = sql(demo_runs_db, "SELECT max(ts)::DATE AS d FROM events")["d"].iloc[0]
    assert at.date_input(key="run_as_of").value == pd.Timestamp(last).date()
    latest = latest_run(demo_runs_db)
    params = json.loads(latest["params"])
    assert params["window_days"] == 60 != SnapshotParams().window_days  # the fixture's window, not the default
    assert at.number_input(key="run_window").value == params["window_days"]
    assert at.number_input(key="run_min_share").value == pytest.approx(params["min_cluster_share"])
    assert any(f"latest snapshot (run {int(latest['run_id'])})" in c.value for c in at.caption)
    assert len(at.dataframe[0].value) == len(sql(demo_runs_db, "SELECT * FROM runs"))
    # the default date already has a snapshot: said before the form, not only after a click
    covering = sql(demo_runs_db, "SELECT max(run_id) AS r FROM runs WHERE status = 'complete' AND as_of::DATE = $d "
                   "AND window_days = 60", {"d": last})["r"].iloc[0]
    assert [c.value for c in at.caption if "already covers" in c.value] == [
        f"Run {int(covering)} already covers {pd.Timestamp(last).date()}, the last day with events, with a 60-day "
        "window: a new snapshot needs newer events (import them on the Data page), another date, another window, "
        "or “Compute again” under More parameters."]


def test_a_number_out_of_range_is_refused_by_name_and_nothing_starts(demo_runs_db, monkeypatch):
    """The browser walk: a window of 0 turned the field red, and the snapshot ran with 60 days."""
    from segmentation.ui import background

    started = []
    monkeypatch.setattr(background, "start_snapshot", lambda params, *args: started.append(params))
    at = open_app(demo_runs_db, monkeypatch, "run")
    at.number_input(key="run_window").set_value(0)
    at.number_input(key="run_epochs").set_value(9000)
    at.checkbox(key="run_again").check()
    next(b for b in at.button if b.label == "Run snapshot").click().run()
    assert not at.exception and started == []
    assert [e.value for e in at.error] == ["Nothing was started: “Window (days)” must be between 7 and 3,650, not 0; "
                                           "“Training epochs (at most)” must be between 1 and 500, not 9,000."]
    at.number_input(key="run_window").set_value(30)
    at.number_input(key="run_epochs").set_value(20)
    next(b for b in at.button if b.label == "Run snapshot").click().run()
    assert not at.error and [(p.window_days, p.max_epochs) for p in started] == [(30, 20)]


def test_the_run_form_lets_the_data_choose_the_smallest_segment(demo_runs_db, monkeypatch):
    from segmentation.ui import background

    started = []
    monkeypatch.setattr(background, "start_snapshot", lambda params, *args: started.append(params))
    at = open_app(demo_runs_db, monkeypatch, "run")
    assert not at.checkbox(key="run_floor_auto").value  # the latest snapshot set 2 %
    at.checkbox(key="run_floor_auto").check()
    at.checkbox(key="run_again").check()
    next(b for b in at.button if b.label == "Run snapshot").click().run()
    assert not at.exception and not at.error
    assert [p.min_cluster_share for p in started] == [None]
    # a run stored with a floor the data chose starts the next one from the same choice
    monkeypatch.setattr(background, "latest_params", lambda: (SnapshotParams(window_days=60), 1))
    assert open_app(demo_runs_db, monkeypatch, "run").checkbox(key="run_floor_auto").value


def test_the_run_form_carries_the_latest_snapshots_engine_options_over(demo_runs_db, monkeypatch):
    from segmentation.ui import background

    started = []
    monkeypatch.setattr(background, "start_snapshot", lambda params, *args: started.append(params))
    con = duckdb.connect(str(demo_runs_db))
    run_id, params = con.execute("SELECT run_id, params FROM runs ORDER BY as_of DESC LIMIT 1").fetchone()
    con.execute("UPDATE runs SET params = json_merge_patch(params, '{\"extra\": {\"consensus\": 5}}') "
                "WHERE run_id = ?", [run_id])
    con.close()
    try:
        at = open_app(demo_runs_db, monkeypatch, "run")
        assert any("its engine options carry over too (consensus=5)" in c.value for c in at.caption)
        at.checkbox(key="run_again").check()
        next(b for b in at.button if b.label == "Run snapshot").click().run()
        assert not at.exception and not at.error
        assert [p.extra for p in started] == [{"consensus": 5}]
    finally:
        con = duckdb.connect(str(demo_runs_db))
        con.execute("UPDATE runs SET params = ? WHERE run_id = ?", [params, run_id])
        con.close()


def test_run_page_says_why_the_latest_snapshot_has_its_segments_and_features(demo_runs_db, monkeypatch):
    at = open_app(demo_runs_db, monkeypatch, "run")
    latest = sql(demo_runs_db, "SELECT run_id, n_segments, metrics->>'$.granularity.clusters_found' AS found, "
                               "params->>'$.feature_choice' AS choice FROM runs ORDER BY as_of DESC LIMIT 1").iloc[0]
    expander = [e for e in at.expander if e.label.startswith("Why run")]
    assert [e.label for e in expander] == [f"Why run {latest['run_id']} has {latest['n_segments']} segments"]
    text = " ".join(m.value for m in expander[0].markdown)
    assert f"**Segments.** The workbench found {latest['found']} groups of customers who behave alike" in text
    analysts = [c.value for c in expander[0].caption if c.value.startswith("For analysts: ")]
    assert len(analysts) == 1 and f"{latest['found']} dense groups" in analysts[0]  # the stored why, set apart
    assert "HDBSCAN" not in text and "lift distance" not in text
    assert latest["choice"] in text and "profile-only" in latest["choice"]  # the demo is not a purchase log
    assert "two random halves" in text
    assert "**Smallest segment allowed.** A segment must hold at least 2.0% of the fitted customers, as configured." in text
    # the twins were judged on what the customers repeat on the halves of their events (v14)
    assert "the same behaviour mix in what their customers repeat on both halves of their events" in analysts[0]
    # the lightest features named as the pages name them, not by their columns
    lightest = text.split("The lightest: ")[1]
    assert "_" not in lightest and lightest.count("(") == 5, lightest


def test_run_page_shows_the_notes_the_latest_snapshot_stored(demo_runs_db, monkeypatch):
    run = latest_run(demo_runs_db)
    con = duckdb.connect(str(demo_runs_db))
    note = "3 customers had undefined values (NaN or infinity) in 1 feature, set to the value for no such activity"
    left = "event_other left out: no 'other' events in the window"  # a feature named in words, as the page says it
    con.execute("UPDATE runs SET metrics = json_merge_patch(metrics, ?) WHERE run_id = ?",
                [json.dumps({"notes": [note, left]}), int(run["run_id"])])
    con.close()
    at = open_app(demo_runs_db, monkeypatch, "run")
    assert not at.exception
    in_words = "“other activity” left out: no 'other' events in the window"
    assert [i.value for i in at.info if i.value.startswith("Notes on run")] == [
        f"Notes on run {int(run['run_id'])}:\n- {escape_markdown(note)}\n- {escape_markdown(in_words)}"]


def test_run_page_says_which_cut_a_refit_folded_back(demo_runs_db, monkeypatch):
    run = latest_run(demo_runs_db)
    granularity = {**json.loads(run["metrics"])["granularity"], "folded": [
        {"segment": 3, "into": 0, "from_segment": 0, "customers": 49, "from_it": 47, "stability": 0.373,
         "behaviour_shift": 0.456, "from_run": 3}]}
    con = duckdb.connect(str(demo_runs_db))
    con.execute("UPDATE runs SET metrics = json_merge_patch(metrics, ?) WHERE run_id = ?",
                [json.dumps({"granularity": granularity}), int(run["run_id"])])
    con.close()
    at = open_app(demo_runs_db, monkeypatch, "run")
    assert not at.exception
    text = " ".join(m.value for e in at.expander if e.label.startswith("Why run") for m in e.markdown)
    assert ("**Kept together.** A part of 49 customers the new models cut out of segment 0 of run 3 (47 of them "
            "from it) stays with its successor: the cut was not reproducible (stability 0.37) and their behaviour "
            "had not changed (shift 0.46).") in text


def test_naming_saves_at_once_keeps_who_and_when_and_shows_on_the_next_snapshot(demo_runs_db, monkeypatch):
    run = latest_run(demo_runs_db)
    largest = real_segments(demo_runs_db, run["run_id"]).iloc[0]
    key = f"name_{int(run['run_id'])}_{int(largest['segment_id'])}"
    at = open_app(demo_runs_db, monkeypatch, "segment")
    at.text_input(key=key).input("Weeknight grocery regulars").run()
    assert not at.exception
    stored = sql(demo_runs_db, "SELECT name, named_by, named_at FROM segments WHERE run_id = $r AND segment_id = $s",
                 {"r": int(run["run_id"]), "s": int(largest["segment_id"])}).iloc[0]
    assert stored["name"] == "Weeknight grocery regulars" and stored["named_by"].startswith("app:")
    assert pd.notna(stored["named_at"])
    assert at.header[0].value == "Weeknight grocery regulars"
    history = sql(demo_runs_db, "SELECT * FROM name_history")
    assert history["name"].tolist() == ["Weeknight grocery regulars"]

    # the next snapshot, computed from the Run page with the timeline's parameters
    at.switch_page("segmentation/ui/run.py").run()
    at.date_input(key="run_as_of").set_value(date(2025, 7, 31))
    at.number_input(key="run_window").set_value(60)
    at.number_input(key="run_min_share").set_value(0.02)
    at.button[0].click().run(timeout=600)
    assert not at.exception
    assert [e.value for e in at.error] == []
    # computed in a worker thread the app keeps (segmentation/ui/jobs.py): wait for it here
    from segmentation.ui.background import job_registry

    job = job_registry().jobs()[-1]
    assert job.label == "snapshot of 2025-07-31 (60-day window)"
    assert job_registry().wait(job, 600) and job.state == "done", job.error
    new = latest_run(demo_runs_db)
    assert new["run_id"] > run["run_id"] and str(new["as_of"])[:10] == "2025-07-31"
    carried = sql(demo_runs_db, "SELECT name FROM segments WHERE run_id = $r AND lineage_id = $l",
                  {"r": int(new["run_id"]), "l": int(largest["lineage_id"])})
    assert carried["name"].tolist() == ["Weeknight grocery regulars"]
    at.switch_page("segmentation/ui/overview.py").run()
    assert any(m.value.startswith("**Weeknight grocery regulars**") for m in at.markdown)
    assert [s.value for s in at.success] == [
        f"New snapshot stored: the snapshot of 2025-07-31 (60-day window) started at {job.started_at:%H:%M} "
        f"is run {new['run_id']}."]
    at.run()  # said once
    assert not [s.value for s in at.success if s.value.startswith("New snapshot stored")]


def test_suggested_name_is_one_click_and_a_stale_edit_is_refused(demo_runs_db, monkeypatch):
    run = latest_run(demo_runs_db)
    segment = real_segments(demo_runs_db, run["run_id"]).iloc[1]
    run_id, segment_id = int(run["run_id"]), int(segment["segment_id"])
    at = open_app(demo_runs_db, monkeypatch, "segment")
    at.selectbox(key="_segment_picker").select(segment_id).run()
    at.button(key=f"suggest_{run_id}_{segment_id}").click().run()
    assert not at.exception
    name = sql(demo_runs_db, "SELECT name FROM segments WHERE run_id = $r AND segment_id = $s",
               {"r": run_id, "s": segment_id})["name"].iloc[0]
    assert name == segment["suggested_name"]
    # someone else renames it meanwhile (the command line); this page still shows the old name
    from segmentation.data import results, store

    with store.connect(demo_runs_db) as con:
        results.name_segment(con, run_id, segment_id, "Renamed elsewhere", who="cli:tom")
    at.text_input(key=f"name_{run_id}_{segment_id}").input("My late edit").run()
    assert not at.exception
    assert any("was changed by cli:tom" in e.value for e in at.error)
    assert at.text_input(key=f"name_{run_id}_{segment_id}").value == "Renamed elsewhere"
    name = sql(demo_runs_db, "SELECT name FROM segments WHERE run_id = $r AND segment_id = $s",
               {"r": run_id, "s": segment_id})["name"].iloc[0]
    assert name == "Renamed elsewhere"


def test_a_name_another_segment_is_shown_under_is_refused(demo_runs_db, monkeypatch):
    run = latest_run(demo_runs_db)
    first, second = real_segments(demo_runs_db, run["run_id"]).iloc[:2].to_dict(orient="records")
    run_id, segment_id = int(run["run_id"]), int(second["segment_id"])
    taken = first["name"] or first["suggested_name"]
    at = open_app(demo_runs_db, monkeypatch, "segment")
    at.selectbox(key="_segment_picker").select(segment_id).run()
    at.text_input(key=f"name_{run_id}_{segment_id}").input(taken.upper()).run()
    assert not at.exception
    assert [e.value for e in at.error] == [
        f"Segment {int(first['segment_id'])} of this snapshot is already called “{escape_markdown(taken)}”; "
        "two segments cannot share a name, choose another one"]
    stored = sql(demo_runs_db, "SELECT name FROM segments WHERE run_id = $r AND segment_id = $s",
                 {"r": run_id, "s": segment_id})["name"].iloc[0]
    assert stored == second["name"] or (pd.isna(stored) and pd.isna(second["name"]))
    assert sql(demo_runs_db, "SELECT count(*) AS n FROM name_history")["n"].iloc[0] == 0
    # the typed name stays in the field to be edited (the browser walk: the field was emptied)
    assert at.text_input(key=f"name_{run_id}_{segment_id}").value == taken.upper()


def test_export_page_checks_previews_and_saves_the_file_with_an_audit_row(demo_runs_db, monkeypatch, tmp_path):
    monkeypatch.setenv("SEGMENTATION_EXPORT_DIR", str(tmp_path))
    run = latest_run(demo_runs_db)
    largest = real_segments(demo_runs_db, run["run_id"]).iloc[0]
    at = open_app(demo_runs_db, monkeypatch, "export")
    assert any("Choose one or more segments" in i.value for i in at.info)
    at.multiselect(key=f"export_segments_{int(run['run_id'])}").select(int(largest["segment_id"])).run()
    at.selectbox(key="export_platform").select("google").run()
    assert not at.exception
    shown = metrics(at)
    assert shown["Customers in the segments"] == f"{int(largest['size']):,}"
    preview = at.dataframe[0].value
    assert list(preview.columns) == ["Email", "Phone", "First Name", "Last Name", "Country", "Zip"]
    assert preview["Email"].dropna().str.fullmatch(r"[0-9a-f]{64}").all()
    # A name that would leave the export folder is refused, and nothing is written.
    at.text_input(key="export_out").set_value("../escape.csv")
    at.button(key="export_save").click().run()
    assert not at.exception and any("not a plain file name" in e.value for e in at.error)
    assert not (tmp_path.parent / "escape.csv").exists() and sql(demo_runs_db, "SELECT * FROM exports").empty
    out = tmp_path / "google.csv"
    at.text_input(key="export_out").set_value("google.csv")
    at.button(key="export_save").click().run()
    assert not at.exception
    assert any(escape_markdown(str(out)) in s.value for s in at.success)
    lines = out.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "Email,Phone,First Name,Last Name,Country,Zip"
    audit = sql(demo_runs_db, "SELECT * FROM exports")
    assert len(audit) == 1
    row = audit.iloc[0]
    assert (row["platform"], row["path"], int(row["n_rows"])) == ("google", str(out), len(lines) - 1)
    assert int(row["n_rows"]) + int(row["n_excluded"]) == int(largest["size"])
    assert int(at.dataframe[-1].value["export_id"].iloc[0]) == int(row["export_id"])  # history on the page
    # the exported segment by name, not as "[0]"
    assert at.dataframe[-1].value["segment_ids"].tolist() == [display_name(largest["name"], largest["suggested_name"])]
    # Expand: the measured recall, and lookalikes join the candidates (every check applies to them)
    assert any(h.value == "Expand with lookalikes" for h in at.subheader)
    stored = json.loads(largest["profile"])["lookalike"]  # measured with the snapshot
    assert metrics(at)["Recall at the top 20 %"] == f"{stored['recall_at_20']:.2f}"
    assert [c.value for c in at.caption if c.value.startswith("Tested by hiding")] == [  # the figure in words
        f"Tested by hiding {stored['held_out']:,} of the segment's members: {stored['recall_at_20']:.0%} of them "
        "came out among the 20% of customers most like the segment (by chance: 20%; by likeness to its average "
        f"customer alone: {stored['baseline_recall_at_20']:.0%})."]
    assert 0.6 <= stored["recall_at_20"] <= 1.0 and len(stored["curve"]) == 5
    key = f"export_lookalike_{int(run['run_id'])}_{int(largest['segment_id'])}"
    at.number_input(key=key).set_value(50).run()
    assert not at.exception
    assert metrics(at)["Members + lookalikes"] == f"{int(largest['size']) + 50:,}"
    # a number out of range is said, and not half-used (the field kept showing it while 50 applied)
    at.number_input(key=key).set_value(-5).run()
    assert [e.value for e in at.error if e.value.startswith("Lookalikes to add")] == [
        f"Lookalikes to add must be between 0 and {stored['candidates'] - stored['held_out']:,}, not -5: none are added."]
    assert "Members + lookalikes" not in metrics(at)  # shown only when lookalikes are added


def test_export_page_refuses_an_audience_below_the_platform_minimum(demo_runs_db, monkeypatch):
    run = latest_run(demo_runs_db)
    smallest = real_segments(demo_runs_db, run["run_id"]).iloc[-1]
    assert int(smallest["size"]) < 1000  # TikTok's minimum
    at = open_app(demo_runs_db, monkeypatch, "export")
    at.multiselect(key=f"export_segments_{int(run['run_id'])}").select(int(smallest["segment_id"])).run()
    at.selectbox(key="export_platform").select("tiktok").run()
    assert not at.exception
    refusal = next(e.value for e in at.error if e.value.startswith("Cannot export: audience too small"))
    # the reasons in words, not "consent false 4, low probability 17" (what the browser walk read)
    from segmentation.audiences.export import EXCLUSION_WORDS

    detail = re.search(r"\(excluded: ([^)]*)\)", refusal).group(1).split(", ")
    assert detail and all(re.sub(r" [\d,]+$", "", part) in EXCLUSION_WORDS.values() for part in detail), refusal
    assert not at.get("download_button") and not [b for b in at.button if b.key == "export_save"]
    assert sql(demo_runs_db, "SELECT count(*) AS n FROM exports")["n"].iloc[0] == 0
    # the way forward: how many rows are missing, and lookalikes as one way to get them
    rows = int(metrics(at)["Rows in the file"].replace(",", ""))
    way = next(i.value for i in at.info if "more rows are needed" in i.value)
    assert way.startswith(f"{1000 - rows:,} more rows are needed for TikTok") and "Expand with lookalikes" in way
    key = f"export_lookalike_{int(run['run_id'])}_{int(smallest['segment_id'])}"
    at.number_input(key=key).set_value(2 * (1000 - rows)).run()  # most customers consent
    assert not at.exception and not [e for e in at.error if e.value.startswith("Cannot export")]
    assert int(metrics(at)["Rows in the file"].replace(",", "")) >= 1000


def test_segment_page_keeps_the_segment_in_the_address_and_exports_it(demo_runs_db, monkeypatch):
    run = latest_run(demo_runs_db)
    smallest = real_segments(demo_runs_db, run["run_id"]).iloc[-1]
    monkeypatch.setenv("SEGMENTATION_DB", str(demo_runs_db))
    at = AppTest.from_file(APP, default_timeout=120)
    at.query_params["run"] = str(int(run["run_id"]))
    at.query_params["segment"] = str(int(smallest["segment_id"]))  # a shared link to the smallest segment
    at.run()
    at.switch_page("segmentation/ui/segment.py").run()
    assert not at.exception
    assert at.header[0].value == escape_markdown(smallest["suggested_name"])
    assert at.query_params["segment"] == str(int(smallest["segment_id"]))
    at.button(key="segment_export").click().run()
    assert not at.exception
    assert any(h.value == "Checks" for h in at.subheader)  # the Export page, with the checks of that segment
    chosen = at.multiselect(key=f"export_segments_{int(run['run_id'])}").value
    assert chosen == [int(smallest["segment_id"])]


def test_the_export_pages_messages_name_its_controls_not_command_line_options():
    """The browser walk read "(--allow-unknown-consent)" and "pass --force" on the page (and "consent false 4":
    the refusal words its reasons itself now, see the TikTok minimum test)."""
    from segmentation.ui.export import in_page_words

    assert in_page_words("12 customers with unknown ad consent are included (--allow-unknown-consent): make sure "
                         "your legal basis covers them") == (
        "12 customers with unknown ad consent are included (“Include customers whose ad consent is unknown” is "
        "ticked): make sure your legal basis covers them")
    assert in_page_words("a.csv already exists; choose another --out or pass --force to replace it") == (
        "a.csv already exists; choose another file name or tick “Replace the file if it exists”")
    assert in_page_words("segment -1 is noise (customers no segment fits)") == "segment -1 is noise (customers no segment fits)"


def test_a_second_download_of_the_same_audience_gives_the_file_again(demo_runs_db, monkeypatch, tmp_path):
    """The browser walk: a second click on Download gave nothing (the page's plan was stale: the first
    click's export had become the last one) and said nothing."""
    from segmentation.audiences.export import StalePlan
    from segmentation.ui import common
    from segmentation.ui import export as page

    folder = tmp_path / "exports"
    monkeypatch.setattr(page, "EXPORT_DIR", folder)
    monkeypatch.setattr(common, "current_db", lambda: demo_runs_db)
    run_id = int(latest_run(demo_runs_db)["run_id"])
    largest = int(real_segments(demo_runs_db, run_id).iloc[0]["segment_id"])
    choices = (run_id, (largest,), "google", 0.0, False, False, 0)
    plan = page._fresh_plan(str(demo_runs_db), *choices)
    produce = page._saved_download(plan, choices)  # what the button calls at each click
    assert produce() == produce() == plan.to_bytes("full")
    # the page's rerun after a click waits for the click's file (the browser walk: the history showed it only at
    # the next refresh), and a click that failed does not keep it waiting
    import threading

    cleared = []
    monkeypatch.setattr(common, "after_write", lambda: cleared.append(len(sql(demo_runs_db, "SELECT * FROM exports"))))
    written = threading.Event()
    clicked = threading.Timer(0.5, page._saved_download(plan, choices, written))
    clicked.start()
    page._await_download(written)
    assert cleared == [3]  # the third export's audit row was in before the history is drawn
    failing = threading.Event()
    with pytest.raises(ZeroDivisionError):
        monkeypatch.setattr(page.export, "record_download", lambda *a, **k: 1 / 0)
        page._saved_download(plan, choices, failing)()
    assert failing.is_set()
    monkeypatch.undo()
    monkeypatch.setattr(page, "EXPORT_DIR", folder)
    monkeypatch.setattr(common, "current_db", lambda: demo_runs_db)
    audits = sql(demo_runs_db, "SELECT kind, path, sha256, n_rows FROM exports ORDER BY export_id")
    assert audits["kind"].tolist() == ["full"] * 3
    assert audits["path"].tolist() == [f"downloaded in the browser as {plan.filename}"] * 3
    assert set(audits["sha256"]) == {hashlib.sha256(plan.to_bytes("full")).hexdigest()}
    members = sql(demo_runs_db, "SELECT export_id, count(*) AS n FROM export_members GROUP BY ALL ORDER BY 1")
    assert members["n"].tolist() == audits["n_rows"].tolist() == [plan.n_rows] * 3
    assert not folder.exists()  # a download keeps no copy of the file (contact data) on the server
    # when more than the last export changed (one member withdrew consent: the audience is still fine, its file
    # is not the one previewed), the click is refused and nothing is written
    con = duckdb.connect(str(demo_runs_db))
    con.execute("UPDATE customers SET consent_ads = false WHERE customer_id = $c", {"c": str(plan.customer_ids.iloc[0])})
    con.close()
    assert page._fresh_plan(str(demo_runs_db), *choices).ok
    with pytest.raises(StalePlan):
        produce()
    assert len(sql(demo_runs_db, "SELECT * FROM exports")) == 3 and not folder.exists()


def test_an_emerged_segments_empty_side_reads_a_dash():
    """The browser walk read "None" under "size before" and "share kept" for an emerged segment; shares
    have one decimal, as every other share column in the app."""
    from segmentation.ui.evolution import transitions_table

    transitions = pd.DataFrame({"kind": ["emerged", "survived", "disappeared"], "from_label": [None, "Owls", "Fans"],
                                "from_size": [np.nan, 1200.0, 80.0], "to_label": ["New", "Owls", None],
                                "to_size": [300.0, 1100.0, np.nan], "overlap": [0.0, 0.874, 0.0]})
    table = transitions_table(transitions)
    assert table.to_dict(orient="list") == {
        "what happened": ["emerged", "survived", "disappeared"], "before": ["—", "Owls", "Fans"],
        "size before": ["—", "1,200", "80"], "after": ["New", "Owls", "—"], "size after": ["300", "1,100", "—"],
        "share kept": ["—", "87.4%", "—"]}


def test_the_overviews_order_is_said_as_it_is_for_the_first_snapshot_and_a_later_one(demo_runs_db, monkeypatch):
    """The browser walk: with the first snapshot chosen the caption said "by revenue trend, then size" while the
    cards ran by revenue per customer (no trend without a previous snapshot)."""
    first = int(sql(demo_runs_db, "SELECT run_id FROM runs ORDER BY as_of LIMIT 1")["run_id"].iloc[0])
    at = open_app(demo_runs_db, monkeypatch)
    order = lambda: [c.value for c in at.caption if c.value.startswith("New segments first")]  # noqa: E731
    assert order() == ["New segments first, then growing ones, then the rest; within each, by revenue trend since "
                       "the previous snapshot (for a segment without one: its revenue per customer), then size."]
    at.session_state["run_id"] = first
    at.switch_page("segmentation/ui/overview.py").run()
    assert not at.exception
    assert order() == ["New segments first, then growing ones, then the rest; within each, by revenue per customer, "
                       "highest first, then size."]
    revenue = [float(re.search(r"Revenue in the window ([\d,]+)", c.value).group(1).replace(",", ""))
               for c in at.caption if c.value.startswith("Revenue in the window")]
    sizes = [int(m.value.split(" · ")[0].replace(",", "")) for m in at.metric if m.label == "customers"]
    per_customer = [r / n for r, n in zip(revenue, sizes)]
    assert len(per_customer) >= 3 and per_customer == sorted(per_customer, reverse=True)

"""Evolution page: a timeline compares snapshots over one window only (a browser walk found a 45-day
snapshot stacked on the 60-day ones: every segment dropped to 0 at its date, the legend twice as long)."""

from __future__ import annotations

import json

import duckdb
import pandas as pd

from tests.ui.test_ui_pages import open_app, sql


def _add_snapshot_over_another_window(db, days: int = 45) -> tuple[int, int, str]:
    """A copy of the latest run, 15 days later over ``days`` days, tracked apart (new lineages):
    (the latest run before it, the new run, the new run's date)."""
    con = duckdb.connect(str(db))
    try:
        latest = con.execute("SELECT max(run_id) FROM runs").fetchone()[0]
        new = latest + 1
        con.execute(f"""INSERT INTO runs SELECT * REPLACE ({new} AS run_id, as_of + 15 AS as_of,
                        {days} AS window_days) FROM runs WHERE run_id = {latest}""")
        con.execute(f"""INSERT INTO segments SELECT * REPLACE ({new} AS run_id, lineage_id + 1000 AS lineage_id,
                        'emerged' AS transition) FROM segments WHERE run_id = {latest}""")
        con.execute(f"INSERT INTO assignments SELECT * REPLACE ({new} AS run_id) FROM assignments "
                    f"WHERE run_id = {latest}")
        as_of = con.execute(f"SELECT as_of FROM runs WHERE run_id = {new}").fetchone()[0]
    finally:
        con.close()
    return latest, new, str(as_of)


def _sizes_chart(at) -> dict:
    return next(json.loads(c.proto.spec) for c in at.get("plotly_chart")
                if json.loads(c.proto.spec)["layout"].get("yaxis", {}).get("title", {}).get("text") == "customers")


def test_the_timeline_holds_the_chosen_snapshots_window_only(demo_runs_db, monkeypatch):
    before, new, new_date = _add_snapshot_over_another_window(demo_runs_db)
    window = int(sql(demo_runs_db, f"SELECT window_days FROM runs WHERE run_id = {before}")["window_days"].iloc[0])
    same_window = sql(demo_runs_db, f"SELECT run_id, as_of FROM runs WHERE window_days = {window}")
    lineages = int(sql(demo_runs_db, f"SELECT count(DISTINCT lineage_id) AS n FROM segments WHERE segment_id <> -1 "
                                     f"AND run_id IN (SELECT run_id FROM runs WHERE window_days = {window})")["n"].iloc[0])

    at = open_app(demo_runs_db, monkeypatch, "evolution")  # the newest snapshot: the 45-day one, alone on its timeline
    assert not at.exception
    dates = {str(x)[:10] for trace in _sizes_chart(at)["data"] for x in trace["x"]}
    assert dates == {new_date[:10]}
    assert [c.value for c in at.caption if c.value.startswith("Snapshots over a 45-day window")] == [
        f"Snapshots over a 45-day window, as the one chosen in the sidebar; {len(same_window)} snapshots over "
        "another window left out (choose one in the sidebar to see its own timeline)."]
    assert at.selectbox(key=f"sankey_after_{new}").value == new  # into the chosen snapshot

    at.session_state["run_id"] = before  # the sidebar's choice, kept across pages
    at.switch_page("segmentation/ui/evolution.py").run()
    assert not at.exception
    sizes = _sizes_chart(at)["data"]
    dates = {str(x)[:10] for trace in sizes for x in trace["x"]}
    assert dates == {str(d)[:10] for d in pd.to_datetime(same_window["as_of"])}  # no drop to 0 at the other date
    assert len(sizes) == lineages  # one area per lineage of this window, none of the other's
    assert any(c.value.startswith(f"Snapshots over a {window}-day window") and "1 snapshot over another window"
               in c.value for c in at.caption)
    # Where customers moved: from the snapshot before on the same timeline, not the 45-day one
    earlier = same_window.sort_values("as_of")["run_id"].astype(int).tolist()
    assert at.selectbox(key=f"sankey_before_{before}").value == earlier[earlier.index(before) - 1]
    assert at.selectbox(key=f"sankey_after_{before}").value == before


def test_the_oldest_snapshot_opens_on_where_its_customers_went_next(demo_runs_db, monkeypatch):
    """The browser walk: with the first snapshot chosen in the sidebar, From and To both read it and the
    page opened on "Choose two different snapshots."."""
    runs = sql(demo_runs_db, "SELECT run_id FROM runs ORDER BY as_of, run_id")["run_id"].astype(int).tolist()
    first, second = runs[0], runs[1]
    at = open_app(demo_runs_db, monkeypatch, "evolution")
    at.session_state["run_id"] = first
    at.switch_page("segmentation/ui/evolution.py").run()
    assert not at.exception
    assert at.selectbox(key=f"sankey_before_{first}").value == first
    assert at.selectbox(key=f"sankey_after_{first}").value == second
    assert "Choose two different snapshots." not in [c.value for c in at.caption]

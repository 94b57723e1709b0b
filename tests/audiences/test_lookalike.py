"""Lookalikes (segmentation.audiences.lookalike, `lookalike`, `export --lookalike`): measured, and guarded on export."""

from __future__ import annotations

import json

import duckdb
import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import make_blobs
from typer.testing import CliRunner

from segmentation.cli.main import app
from segmentation.audiences.lookalike import CURVE_SHARES, evaluate, rank_lookalikes


def test_recall_on_planted_groups_is_far_above_random_and_the_curve_rises():
    X, y = make_blobs(n_samples=2000, n_features=5, centers=5, cluster_std=1.0, random_state=3)
    quality = evaluate(X, y == 2, features=X)
    assert quality["recall_at_20"] >= 0.95 and quality["baseline_recall_at_20"] >= 0.9
    assert [p["share"] for p in quality["curve"]] == list(CURVE_SHARES)
    recalls = [p["recall"] for p in quality["curve"]]
    assert recalls == sorted(recalls)
    similarities = [p["mean_similarity"] for p in quality["curve"]]
    assert similarities == sorted(similarities, reverse=True)


def test_a_sampled_evaluation_of_a_large_segment_estimates_the_same_recall():
    # Half the customers are members: ranking a sample of the candidates must sample the held-out
    # members at the same rate as the others, or the top 20 % cannot hold them all.
    X, y = make_blobs(n_samples=6000, n_features=4, centers=[[0] * 4, [8] * 4], cluster_std=1.0, random_state=4)
    member = y == 0
    everyone = evaluate(X, member)
    sampled = evaluate(X, member, max_candidates=500)
    assert everyone["ranked"] == everyone["candidates"] and sampled["ranked"] <= 502
    assert sampled["candidates"] == everyone["candidates"] and sampled["held_out"] == everyone["held_out"] == 600
    assert everyone["recall_at_20"] >= 0.95
    assert sampled["recall_at_20"] == pytest.approx(everyone["recall_at_20"], abs=0.05)


def test_a_segment_unlike_its_space_gets_random_recall():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(3000, 4))
    quality = evaluate(X, rng.random(3000) < 0.1)  # members scattered at random
    assert 0.1 <= quality["recall_at_20"] <= 0.32  # about 0.20: nothing to find


def test_ranking_returns_only_non_members_best_first():
    X, y = make_blobs(n_samples=600, n_features=3, centers=3, random_state=1)
    member = y == 0
    positions, similarity = rank_lookalikes(X, member, 50)
    assert len(positions) == 50 and not member[positions].any()
    assert np.all(np.diff(similarity) <= 0)


def _largest_segment(db) -> tuple[int, int, int]:
    con = duckdb.connect(str(db), read_only=True)
    row = con.execute("SELECT run_id, segment_id, size FROM segments WHERE segment_id <> -1 "
                      "ORDER BY run_id DESC, size DESC LIMIT 1").fetchone()
    con.close()
    return row


def test_lookalike_command_measures_recall_and_writes_ranked_non_members(demo_runs_db, tmp_path):
    run_id, segment_id, size = _largest_segment(demo_runs_db)
    out = tmp_path / "lookalikes.csv"
    result = CliRunner().invoke(app, ["--db", str(demo_runs_db), "lookalike", "--run", str(run_id), "--segment",
                                      str(segment_id), "--size", "120", "--out", str(out), "--json"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["recall_at_20"] >= 0.6 and document["customers"] == 120
    assert len(document["curve"]) == 5 and {"size", "mean_similarity", "recall"} <= set(document["curve"][0])
    written = pd.read_csv(out, dtype={"customer_id": str})
    assert list(written.columns) == ["customer_id", "rank", "similarity"]
    assert written["rank"].tolist() == list(range(1, 121))
    con = duckdb.connect(str(demo_runs_db), read_only=True)
    members = {r[0] for r in con.execute("SELECT customer_id FROM assignments WHERE run_id = ? AND segment_id = ?",
                                         [run_id, segment_id]).fetchall()}
    con.close()
    assert not members & set(written["customer_id"])


def test_export_with_lookalikes_passes_every_guard_and_the_audit_counts_them(demo_runs_db, tmp_path):
    run_id, segment_id, size = _largest_segment(demo_runs_db)
    out = tmp_path / "google.csv"
    result = CliRunner().invoke(app, ["--db", str(demo_runs_db), "export", "--run", str(run_id), "--segment",
                                      str(segment_id), "--platform", "google", "--out", str(out),
                                      "--lookalike", "200", "--json"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    con = duckdb.connect(str(demo_runs_db), read_only=True)
    options = json.loads(con.execute("SELECT options FROM exports WHERE kind = 'full'").fetchone()[0])
    in_file = con.execute("SELECT customer_id FROM export_members").df()["customer_id"]
    consent = con.execute("SELECT customer_id, consent_ads FROM customers").df().set_index("customer_id")["consent_ads"]
    members = {r[0] for r in con.execute("SELECT customer_id FROM assignments WHERE run_id = ? AND segment_id = ?",
                                         [run_id, segment_id]).fetchall()}
    con.close()
    from_lookalike = [c for c in in_file if c not in members]
    assert options["lookalike"] == {"requested": 200, "in_file": len(from_lookalike)}
    assert 0 < len(from_lookalike) <= 200
    assert consent.reindex(in_file).eq(True).all()  # consent guard: only customers who said yes
    lines = out.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "Email,Phone,First Name,Last Name,Country,Zip"
    assert len(lines) - 1 == document["n_rows"] == len(in_file)
    email = lines[1].split(",")[0]
    assert len(email) == 64 and all(ch in "0123456789abcdef" for ch in email)  # hashed as Google asks


def test_export_lookalike_needs_exactly_one_segment(demo_runs_db, tmp_path):
    result = CliRunner().invoke(app, ["--db", str(demo_runs_db), "export", "--run", "1", "--segment", "0",
                                      "--segment", "1", "--platform", "google", "--out", str(tmp_path / "x.csv"),
                                      "--lookalike", "10"])
    assert result.exit_code == 2 and "exactly one segment" in result.output
    assert not (tmp_path / "x.csv").exists()

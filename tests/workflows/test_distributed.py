"""``assign --engine dask`` (segmentation/workflows/distributed.py) on a LocalCluster: the same labels as the
local ``assign``, partition by partition over Parquet, with features computed by DuckDB over
events Parquet files; clear errors for bad options."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from segmentation.data import store
from segmentation.cli.main import app
from segmentation.workflows.distributed import assign_with_dask, features_over_parquet, feature_files, write_feature_partitions
from segmentation.errors import InputError
from segmentation.features.table import build_features
from segmentation.workflows.assign import assign_customers

RUN_ID, AS_OF, WINDOW = 1, date(2025, 4, 30), 60  # the first run of demo_runs_template


@pytest.fixture(scope="module")
def cluster():
    """A running cluster reached by address, as a real one would be (worker processes: the models
    really travel, pickled, to other processes)."""
    from distributed import LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as local:
        yield local


@pytest.fixture(scope="module")
def local_scores(demo_runs_template, tmp_path_factory):
    out = tmp_path_factory.mktemp("local") / "local.parquet"
    document = assign_customers(demo_runs_template, RUN_ID, out=out)
    return document, pd.read_parquet(out).set_index("customer_id").sort_index()


def _same_scores(dask_out: Path, local: pd.DataFrame) -> pd.DataFrame:
    scored = pd.read_parquet(dask_out).set_index("customer_id").sort_index()
    assert scored.index.is_unique and scored.index.equals(local.index)
    np.testing.assert_array_equal(scored["segment_id"].to_numpy(), local["segment_id"].to_numpy())
    pd.testing.assert_frame_equal(scored, local, check_exact=False, rtol=1e-5, atol=1e-6)
    return scored


def test_dask_labels_equal_local_assign(demo_runs_template, local_scores, tmp_path):
    """Default engine set-up: a LocalCluster of 2 single-threaded worker processes started for the call."""
    local_document, local = local_scores
    out = tmp_path / "scores.parquet"
    document = assign_with_dask(demo_runs_template, RUN_ID, out=out, rows_per_partition=700)
    scored = _same_scores(out, local)
    n = len(local)
    assert document["engine"] == "dask" and document["n_workers"] == 2
    assert document["n_partitions"] == -(-n // 700) >= 2  # ceil: partition by partition
    assert len(list(out.glob("part-*.parquet"))) == document["n_partitions"]
    assert document["n_scored"] == n == local_document["n_scored"]
    assert document["segment_counts"] == local_document["segment_counts"]
    assert document["agreement_with_run"] == pytest.approx(local_document["agreement_with_run"])
    assert document["n_new_customers"] == local_document["n_new_customers"]
    assert (scored["segment_id"] >= -1).all()
    assert not list(tmp_path.glob(".scores.parquet.tmp-*"))  # the work directory is gone


def test_features_over_parquet_where_the_events_lie(demo_runs_template, local_scores, cluster, tmp_path):
    """Events in two Parquet files; DuckDB computes the features over read_parquet of the files (no
    import); the feature table goes out in Parquet partitions that the Dask engine scores."""
    _, local = local_scores
    with store.connect(demo_runs_template, read_only=True) as con:
        events = con.table("events").df()
        expected = build_features(con, AS_OF, WINDOW).frame
    bucket = pd.util.hash_pandas_object(events["customer_id"], index=False).to_numpy() % 2
    events_dir, features_dir = tmp_path / "events", tmp_path / "features"
    events_dir.mkdir()
    for b in (0, 1):
        events[bucket == b].drop(columns=["ingest_id"]).to_parquet(events_dir / f"bucket-{b}.parquet", index=False)

    table = features_over_parquet(str(events_dir / "bucket-*.parquet"), AS_OF, WINDOW)
    pd.testing.assert_frame_equal(table.frame.sort_index(), expected.sort_index(), check_exact=False, rtol=1e-12)
    # One file alone gives other neutral fills (e.g. the window's median basket for customers
    # without purchases): features need the whole population, scoring does not.
    alone = features_over_parquet(str(events_dir / "bucket-0.parquet"), AS_OF, WINDOW).frame
    no_purchase = alone.index[alone["n_purchases"] == 0]
    assert len(no_purchase) and not np.allclose(alone.loc[no_purchase, "avg_basket"],
                                                expected.loc[no_purchase, "avg_basket"])
    write_feature_partitions(table.frame, features_dir, rows_per_partition=-(-len(table.frame) // 2))

    out = tmp_path / "from_parquet.parquet"
    result = CliRunner().invoke(app, ["--db", str(demo_runs_template), "assign", "--run", str(RUN_ID),
                                      "--engine", "dask", "--scheduler", cluster.scheduler_address,
                                      "--features", str(features_dir), "--out", str(out), "--json"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["n_partitions"] == 2 and document["n_scored"] == len(local)
    _same_scores(out, local)


def test_feature_files_and_partitions(tmp_path):
    frame = pd.DataFrame({"a": np.arange(5.0)}, index=pd.Index([f"c{i}" for i in range(5)], name="customer_id"))
    paths = write_feature_partitions(frame, tmp_path / "f", rows_per_partition=2)
    assert [Path(p).name for p in paths] == ["part-00000.parquet", "part-00001.parquet", "part-00002.parquet"]
    assert feature_files(tmp_path / "f") == paths
    assert feature_files(str(tmp_path / "f" / "part-0000[01].parquet")) == paths[:2]
    back = pd.concat(pd.read_parquet(p) for p in paths)
    assert back["customer_id"].tolist() == list(frame.index) and back["a"].tolist() == list(frame["a"])
    with pytest.raises(InputError, match="no such file or directory"):
        feature_files(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="no Parquet files found"):
        feature_files(tmp_path / "empty")
    with pytest.raises(InputError, match="at least 1"):
        write_feature_partitions(frame, tmp_path / "g", rows_per_partition=0)


@pytest.mark.parametrize("args, message", [
    (["--engine", "dask"], "give --out"),
    (["--engine", "dask", "--out", "scores.csv"], "use a name ending in .parquet"),
    (["--engine", "spark"], "use local or dask"),
    (["--features", "x.parquet"], "go with --engine dask"),
])
def test_bad_engine_options_are_clear_errors(demo_runs_template, args, message):
    result = CliRunner().invoke(app, ["--db", str(demo_runs_template), "assign", "--run", str(RUN_ID), *args])
    assert result.exit_code == 2
    assert message in result.output and "Traceback" not in result.output

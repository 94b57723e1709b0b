"""Engine options (``SnapshotParams.extra``, the command line's ``--engine-option``): read and checked
before any work, so a typo fails at once with what is accepted."""

from __future__ import annotations

from datetime import date

import pytest

from segmentation.engine.defaults import DEFAULTS
from segmentation.errors import InputError
from segmentation.workflows.engine_options import SET_BY_SNAPSHOT, engine_option_names, parse_engine_options
from segmentation.workflows.snapshot import SnapshotParams, run_snapshot


def test_values_take_the_type_of_the_option():
    assert parse_engine_options(["count_loss=10", "ensemble_size=3", "hidden_dims=64,32", "twin_distance=off",
                                 "scaler=robust", "encoder=passthrough", "min_samples=5", "count_loss=3"]) == {
        "count_loss": 3.0, "ensemble_size": 3, "hidden_dims": (64, 32), "twin_distance": None,
        "scaler": "robust", "encoder": "passthrough", "min_samples": 5.0}
    assert isinstance(parse_engine_options(["ensemble_size=3.0"])["ensemble_size"], int)


@pytest.mark.parametrize("pair, fragment", [
    ("count_loss", "expected NAME=VALUE"),
    ("count_loss=", "expected NAME=VALUE"),
    ("count_loss=ten", "'ten' is not a number"),
    ("ensemble_size=2.5", "not a whole number"),
    ("cluster_dims=off", "cannot turn it off"),
    ("hidden_dims=a,b", "comma-separated list of whole numbers"),
    ("random_state=1", "--seed"),
    ("min_cluster_size=0.05", "--min-cluster-share"),
    ("count_columns=x", "from the data's features"),
    ("countloss=1", "unknown engine option 'countloss'; the options are: cluster_dims"),
    # a switch's setting is checked as the pipeline checks it, before any work
    ("polish=1.5", "engine option polish must be a quantile between 0 and 1"),
    ("consensus=0", "engine option consensus must be a whole number of fits"),
    ("refine_neighbors=0", "engine option refine_neighbors must be a positive number"),
    ("polish_space=code", "engine option polish_space must be one of 'features', 'latent'"),  # text as the value
])
def test_bad_options_are_refused_with_what_to_do(pair, fragment):
    with pytest.raises(InputError) as caught:
        parse_engine_options([pair])
    assert fragment in str(caught.value)


def test_every_option_is_an_engine_parameter_the_snapshot_leaves_alone():
    from inspect import signature

    from segmentation.engine.pipeline import SegmentationPipeline

    accepted = set(signature(SegmentationPipeline).parameters)
    assert set(engine_option_names()) <= accepted
    assert set(SET_BY_SNAPSHOT) <= accepted  # each refusal names a real parameter
    assert not set(engine_option_names()) & set(SET_BY_SNAPSHOT)
    assert "count_loss" in engine_option_names() and DEFAULTS.count_loss == 0


def test_a_snapshot_refuses_an_option_the_snapshot_sets_before_reading_anything(tmp_path):
    missing = tmp_path / "never-created.duckdb"
    with pytest.raises(InputError, match="random_state: the snapshot sets it"):
        run_snapshot(missing, date(2025, 1, 31), SnapshotParams(extra={"random_state": 3}))
    with pytest.raises(InputError, match="polish must be a quantile"):
        run_snapshot(missing, date(2025, 1, 31), SnapshotParams(extra={"polish": 2.0}))
    assert not missing.exists()

"""Values as the MLflow UI shows them: numbers without representation noise, version tags
formatted one way, and versions registered under the old metric names still ranked."""

from __future__ import annotations

import math

import numpy as np
import pytest
from click.testing import CliRunner
from mlflow.tracking import MlflowClient

from tracking_demo import evaluation, registry
from tracking_demo.cli.main import cli
from tracking_demo.tracking.values import metric_value, seconds, without_float_noise


@pytest.mark.parametrize(
    ("computed", "logged"),
    [
        (0.9560000000000001, 0.956),  # a mean of fold scores
        (0.1 + 0.2, 0.3),
        (float(np.float32(0.9)), 0.9),  # a Keras float32 metric read as a double
        (float(np.float32(0.123456789)), 0.12345679),  # float32 keeps its 8 digits
        (47123.4567, 47123.4567),  # a real fraction keeps its digits
        (1234567891.0, 1234567891.0),  # whole numbers stay exact
    ],
)
def test_metric_values_lose_only_representation_noise(computed: float, logged: float) -> None:
    assert without_float_noise(computed) == logged


def test_non_finite_values_stay() -> None:
    assert math.isnan(without_float_noise(math.nan))
    assert without_float_noise(-math.inf) == -math.inf


def test_timings_keep_milliseconds() -> None:
    assert seconds(61.05737959800001) == 61.057
    assert metric_value("sweep_wall_time_s", 58.008528241) == 58.009  # any duration, by its name
    assert metric_value("cv_best_score", 0.9560000000000001) == 0.956
    assert metric_value("epoch_time_s", float("nan")) != metric_value("epoch_time_s", 0.0)


@pytest.mark.parametrize(
    ("value", "tag"),
    [(0.96, "0.96"), (0.985, "0.985"), (0.98123456, "0.981235"), (47123.456, "47123.5"),
     (1234567.8, "1234570"), (0.000123456789, "0.000123457"), (5.0, "5")],
)  # fmt: skip
def test_version_tags_are_formatted_one_way(value: float, tag: str) -> None:
    assert registry.format_metric_tag(value) == tag


def test_old_names_are_read_where_the_new_one_is_missing() -> None:
    assert registry.recorded({"MAE": 1.0, "test_mae": 2.0}, "test_mae") == 2.0
    assert registry.recorded({"MAE": 1.0}, "test_mae") == 1.0
    # and the old name, as a user's script or `--best-by accuracy` asks, reads a new version
    assert registry.recorded({"test_accuracy": 0.9}, "accuracy") == 0.9
    assert registry.recorded({"best_val_accuracy": 0.9}, "val_accuracy") == 0.9
    assert registry.recorded({"loss": 0.9}, "test_loss") is None
    assert registry.recorded({"accuracy": 0.9}, "test_accuracy") == 0.9
    assert registry.recorded({"accuracy": 0.9}, "cv_best_score") is None


def test_promote_and_compare_take_the_runs_names() -> None:
    assert evaluation.metric("test_mae") is evaluation.metric("mae")
    assert evaluation.metric("test_accuracy").mode == "max"


@pytest.mark.integration
def test_logged_values_reach_the_server_without_noise(mlflow_server, session_for) -> None:  # type: ignore[no-untyped-def]
    session = session_for(mlflow_server)
    with session.run() as run:
        session.log_metrics({"cv_best_score": 0.9560000000000001})
        session.log_metric("loss", float(np.float32(0.9)), step=1)
    metrics = MlflowClient(mlflow_server.uri).get_run(run.run_id).data.metrics
    assert (repr(metrics["cv_best_score"]), repr(metrics["loss"])) == ("0.956", "0.9")


@pytest.mark.integration
def test_versions_with_old_tag_names_still_rank(mlflow_server, session_for) -> None:  # type: ignore[no-untyped-def]
    """A moons version registered before `test_accuracy` carries `accuracy`; `models best
    --metric test_accuracy` ranks it beside a new one."""
    session = session_for(mlflow_server)
    name = "old-and-new-names"
    client = session.client
    for tag_name, value in (("accuracy", "0.97"), ("test_accuracy", "0.95")):
        with session.run() as run:
            session.log_text("model stand-in", "model/README.txt")
        registry.register(client, f"runs:/{run.run_id}/model", name, {tag_name: value})
    result = CliRunner().invoke(
        cli,
        ["models", "best", name, "--metric", "test_accuracy", "--tracking-uri", mlflow_server.uri],
    )
    assert result.exit_code == 0, result.output
    assert "best: old-and-new-names:1 (test_accuracy 0.970000, max)" in result.output

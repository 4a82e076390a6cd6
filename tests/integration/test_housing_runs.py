"""The housing MLP and baseline against the real local server: what they log, the registered
models' predictions, serving them (raw rows, a missing value, an unknown category) and compare."""

from __future__ import annotations

from pathlib import Path

import mlflow.pyfunc
import numpy as np
import pytest
import requests
from mlflow.tracking import MlflowClient
from tests.support.endpoint import serving
from tests.support.server import session_on

from tracking_demo import registry
from tracking_demo.data import housing as housing_data
from tracking_demo.tasks import housing
from tracking_demo.tasks.compare import compare
from tracking_demo.tasks.recording import TaskResult

pytestmark = pytest.mark.integration
MLP_NAME = "housing-mlp-it"
BASELINE_NAME = "housing-gb-it"


@pytest.fixture(scope="module")
def housing_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return housing_data.write(
        housing_data.HousingSpec(n_rows=3000), tmp_path_factory.mktemp("housing")
    )


@pytest.fixture(scope="module")
def mlp_run(mlflow_server, housing_file: Path) -> TaskResult:  # type: ignore[no-untyped-def]
    options = housing.MlpOptions(
        housing.SplitOptions(housing_file),
        batch_size=50,
        epochs=3,
        first_layer_units=8,
        second_layer_units=4,
        learning_rate=0.01,
        verbose=0,
        register_as=MLP_NAME,
    )
    return housing.train_mlp(options, session_on(mlflow_server, "housing-it"))


@pytest.fixture(scope="module")
def baseline_run(mlflow_server, housing_file: Path) -> TaskResult:  # type: ignore[no-untyped-def]
    options = housing.BaselineOptions(housing.SplitOptions(housing_file), register_as=BASELINE_NAME)
    return housing.train_baseline(options, session_on(mlflow_server, "housing-it"))


def _client(server) -> MlflowClient:  # type: ignore[no-untyped-def]
    return MlflowClient(tracking_uri=server.uri)


def test_mlp_run_logs_params_epochs_and_test_metrics(mlflow_server, mlp_run) -> None:  # type: ignore[no-untyped-def]
    client = _client(mlflow_server)
    run = client.get_run(mlp_run.run_id)
    assert run.info.status == "FINISHED"
    params = run.data.params
    assert (params["batch_size"], params["epochs"], params["learning_rate"]) == ("50", "3", "0.01")
    assert (params["first_layer_units"], params["second_layer_units"]) == ("8", "4")
    assert params["split/test_fraction"] == "0.2" and params["split/seed"] == "42"
    assert params["n_train"] == "2400" and params["n_test"] == "600"
    assert params["cleaning/impute"].startswith("total_bedrooms: median of training rows (")
    assert "NEAR BAY" in params["cleaning/one_hot"]
    for name in ("loss", "mae", "val_mae"):
        history = client.get_metric_history(mlp_run.run_id, name)
        assert sorted(m.step for m in history) == [1, 2, 3], name
    metrics = run.data.metrics
    assert 0 < metrics["test_mae"] < metrics["test_rmse"]
    assert metrics["test_mae"] < 0.75 * metrics["test_mae_mean_predictor"]
    artifacts = {a.path for a in client.list_artifacts(mlp_run.run_id)}
    assert {"predicted_vs_actual.png", "training_curves.png"} <= artifacts
    assert "MLmodel" in registry.run_model_files(client, mlp_run.run_id)
    contexts = {i.tags[0].value for i in run.inputs.dataset_inputs}
    assert contexts == {"training", "testing"}


def test_baseline_beats_the_mean_predictor_widely(mlflow_server, baseline_run) -> None:  # type: ignore[no-untyped-def]
    run = _client(mlflow_server).get_run(baseline_run.run_id)
    assert run.info.status == "FINISHED"
    assert run.data.params["model_kind"] == "hist_gradient_boosting"
    assert run.data.metrics["test_mae"] < 0.6 * run.data.metrics["test_mae_mean_predictor"]
    artifacts = {a.path for a in _client(mlflow_server).list_artifacts(baseline_run.run_id)}
    assert "predicted_vs_actual.png" in artifacts
    assert "MLmodel" in registry.run_model_files(_client(mlflow_server), baseline_run.run_id)


@pytest.mark.parametrize("name", [MLP_NAME, BASELINE_NAME])
def test_registered_model_predicts_raw_rows_as_logged(  # type: ignore[no-untyped-def]
    mlflow_server, housing_file: Path, mlp_run, baseline_run, name: str
) -> None:
    mlflow.set_tracking_uri(mlflow_server.uri)
    model = mlflow.pyfunc.load_model(f"models:/{name}/1")
    split = housing_data.load(housing_file)
    predicted = np.asarray(model.predict(split.x_test)).reshape(-1)
    assert np.isfinite(predicted).all()
    logged = (mlp_run if name == MLP_NAME else baseline_run).metrics["test_mae"]
    assert np.mean(np.abs(predicted - split.y_test)) == pytest.approx(logged, rel=1e-4)
    with_missing = split.x_test.head(2).assign(total_bedrooms=np.nan)
    assert np.isfinite(np.asarray(model.predict(with_missing))).all()


def test_served_mlp_takes_raw_rows_and_refuses_an_unknown_category(  # type: ignore[no-untyped-def]
    mlflow_server, mlp_run, housing_file: Path, tmp_path: Path
) -> None:
    split = housing_data.load(housing_file)
    row = split.x_test.dropna().iloc[0].to_dict()
    env = {"MLFLOW_TRACKING_URI": mlflow_server.uri}
    with serving([f"{MLP_NAME}:1"], tmp_path, env=env) as endpoint:
        answer = requests.post(endpoint.url, json={"data": [row]}, headers=endpoint.headers())
        assert answer.status_code == 200, answer.text
        assert answer.json()[0] == pytest.approx(
            float(
                mlflow.pyfunc.load_model(f"models:/{MLP_NAME}/1").predict(
                    split.x_test.dropna().head(1)
                )[0]
            ),
            rel=1e-4,
        )
        missing = requests.post(
            endpoint.url,
            json={"data": [{**row, "total_bedrooms": None}]},
            headers=endpoint.headers(),
        )
        assert missing.status_code == 200, missing.text
        unknown = requests.post(
            endpoint.url,
            json={"data": [{**row, "ocean_proximity": "ON THE MOON"}]},
            headers=endpoint.headers(),
        )
        assert unknown.status_code == 422
        assert "unknown category 'ON THE MOON'" in unknown.json()["error"]
        assert "NEAR BAY" in unknown.json()["error"]
        text = requests.post(
            endpoint.url,
            json={"data": [{**row, "median_income": "high"}]},
            headers=endpoint.headers(),
        )
        assert text.status_code == 422
        assert requests.get(f"{endpoint.base}/health", timeout=5).status_code == 200


def test_compare_scores_both_on_one_test_set_and_names_the_better(  # type: ignore[no-untyped-def]
    mlflow_server, mlp_run, baseline_run
) -> None:
    session = session_on(mlflow_server, "housing-compare-it")
    result = compare([f"{MLP_NAME}:1", baseline_run.run_id], session)
    table = result.table.set_index("run_id")
    assert result.n_test == 600 and result.kind == "housing"
    assert table.loc[mlp_run.run_id, "mae"] == pytest.approx(mlp_run.metrics["test_mae"], rel=1e-4)
    assert table.loc[baseline_run.run_id, "rmse"] == pytest.approx(
        baseline_run.metrics["test_rmse"], rel=1e-4
    )
    winner = min((mlp_run, baseline_run), key=lambda r: r.metrics["test_mae"])
    assert table.loc[winner.run_id, "model"] == result.better
    run = _client(mlflow_server).get_run(result.run_id)
    assert run.data.tags["tracking_demo.better_model"] == result.better
    artifacts = {a.path for a in _client(mlflow_server).list_artifacts(result.run_id)}
    assert "comparison.csv" in artifacts
    by_rmse = compare([f"{MLP_NAME}:1", f"{BASELINE_NAME}:1"], session, metric="rmse")
    rmse_winner = min((mlp_run, baseline_run), key=lambda r: r.metrics["test_rmse"])
    assert by_rmse.table.set_index("run_id").loc[rmse_winner.run_id, "model"] == by_rmse.better

"""One task, two servers: a logged model where the server has MLflow 3's logged-models API, the
run's artifacts where it answers 404 (Azure ML, `--azure-surface`); registered, loaded and read
back alike (docs/architecture.md, rule 3)."""

from __future__ import annotations

from pathlib import Path

import mlflow
import pandas as pd
import pytest
from mlflow.entities import LoggedModelStatus
from mlflow.exceptions import MlflowException
from mlflow.models import Model

from tracking_demo import registry
from tracking_demo.serving import model as serving_model
from tracking_demo.tasks.compare import compare
from tracking_demo.tasks.moons import MoonsOptions, train
from tracking_demo.tasks.recording import TaskResult
from tracking_demo.tracking.session import TrackingSession

pytestmark = pytest.mark.integration

SMALL_GRID = {"n_estimators": [10], "max_depth": [3]}
POINTS = pd.DataFrame({"x1": [0.0, 1.5, -0.5], "x2": [1.0, -0.5, 0.2]})


def _train(session: TrackingSession, moons_dir: Path, name: str) -> TaskResult:
    return train(MoonsOptions(moons_dir, grid=SMALL_GRID, register_as=name), session)


def test_plain_server_gets_a_logged_model_with_schema_params_and_linked_metrics(
    mlflow_server, moons_dir: Path, session_for, tmp_path: Path
) -> None:
    session = session_for(mlflow_server)
    result = _train(session, moons_dir, "moons-logged")
    client = session.client
    run = client.get_run(result.run_id)

    [model] = client.search_logged_models(experiment_ids=[run.info.experiment_id])
    assert (model.name, model.source_run_id, model.model_type) == (
        "model",
        run.info.run_id,
        "moons",
    )
    assert model.status == LoggedModelStatus.READY
    assert [output.model_id for output in run.outputs.model_outputs] == [model.model_id]
    assert model.params["selected/max_depth"] == "3"
    assert model.params.items() >= run.data.params.items()
    assert model.tags["mlflow.source.type"] and model.tags["mlflow.user"]
    linked = {metric.key: metric for metric in model.metrics}
    assert set(linked) == set(result.metrics)
    assert all(metric.model_id == model.model_id for metric in linked.values())
    for key, value in result.metrics.items():
        assert linked[key].value == pytest.approx(value)
        assert len(client.get_metric_history(run.info.run_id, key)) == 1, "linked, not copied"

    folder = mlflow.artifacts.download_artifacts(
        f"models:/{model.model_id}", dst_path=str(tmp_path)
    )
    meta = Model.load(folder)
    assert meta.signature is not None and meta.signature.inputs.input_names() == ["x1", "x2"]
    assert meta.saved_input_example_info is not None
    assert (meta.model_id, meta.run_id) == (model.model_id, run.info.run_id)
    assert meta.artifact_path == model.artifact_location

    version = client.get_model_version("moons-logged", result.registered_version or "")
    assert (version.source, version.run_id) == (f"models:/{model.model_id}", run.info.run_id)
    served = serving_model.load(f"models:/moons-logged/{version.version}")
    assert served.run_id == run.info.run_id
    expected = mlflow.sklearn.load_model(result.model_uri).predict(POINTS)
    assert served.predict(POINTS).tolist() == expected.tolist()
    assert "MLmodel" in registry.run_model_files(client, run.info.run_id)


def test_registration_replay_finds_the_same_version(
    mlflow_server, moons_dir: Path, session_for
) -> None:
    session = session_for(mlflow_server)
    result = _train(session, moons_dir, "moons-replayed")
    again = registry.register_once(session.client, result.model_uri or "", "moons-replayed")
    assert again.version == result.registered_version


def test_azure_surface_gets_the_portable_model_and_every_read_path_survives(
    azure_surface_server, moons_dir: Path, session_for, tmp_path: Path
) -> None:
    session = session_for(azure_surface_server)
    first = _train(session, moons_dir, "moons-portable")
    second = _train(session, moons_dir, "moons-portable")
    client = session.client
    run = client.get_run(first.run_id)
    assert run.outputs is None or not run.outputs.model_outputs
    with pytest.raises(MlflowException, match="not available"):
        client.search_logged_models(experiment_ids=[run.info.experiment_id])
    with pytest.raises(MlflowException, match="not available"):
        client.list_artifacts(first.run_id, "model")  # why the project never lists this way

    assert "MLmodel" in registry.run_model_files(client, first.run_id)
    listed = registry.run_artifact_repository(client, first.run_id).list_artifacts("model")
    assert "model/MLmodel" in {item.path for item in listed}
    version = client.get_model_version("moons-portable", first.registered_version or "")
    assert version.source.endswith(f"{first.run_id}/artifacts/model")
    assert registry.register_once(client, first.model_uri or "", "moons-portable").version == "1"

    local = registry.download("moons-portable:1", tmp_path / "download")
    assert mlflow.pyfunc.load_model(str(local)).predict(POINTS).shape == (3,)
    served = serving_model.load(f"runs:/{second.run_id}/model")
    assert served.predict(POINTS).shape == (3,)
    compared = compare(
        [first.run_id, "moons-portable:2"],
        session_for(azure_surface_server, "compare-surface"),
        data=moons_dir,
    )
    assert len(compared.table) == 2


def test_compare_reads_logged_models_by_run_id_and_version(
    mlflow_server, moons_dir: Path, session_for
) -> None:
    session = session_for(mlflow_server)
    first = _train(session, moons_dir, "moons-compared")
    _train(session, moons_dir, "moons-compared")
    compared = compare(
        [first.run_id, "moons-compared:2"], session_for(mlflow_server, "cmp"), data=moons_dir
    )
    assert set(compared.table["run_id"]) >= {first.run_id}
    assert len(compared.table) == 2

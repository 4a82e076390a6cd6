"""Azure ML's tracking server lacks MLflow 3's logged-models API and registry aliases; training
and promotion must not need them."""

from __future__ import annotations

from pathlib import Path

import mlflow
import pandas as pd
import pytest
import requests
from mlflow.exceptions import MlflowException
from sklearn.dummy import DummyClassifier

from tracking_demo import registry
from tracking_demo.server.azure_surface import is_refused
from tracking_demo.tasks.moons import MoonsOptions, train

pytestmark = pytest.mark.integration


def test_refused_paths_cover_api_and_ui_routes() -> None:
    assert is_refused("/api/2.0/mlflow/logged-models")
    assert is_refused("/ajax-api/2.0/mlflow/logged-models/search")
    assert is_refused("/api/2.0/mlflow/registered-models/alias")
    assert is_refused("/ajax-api/2.0/mlflow/registered-models/alias")
    assert not is_refused("/api/2.0/mlflow/runs/create")
    assert not is_refused("/api/2.0/mlflow/registered-models/create")
    assert not is_refused("/api/2.0/mlflow/model-versions/set-tag")


@pytest.mark.parametrize("prefix", ["api", "ajax-api"])
@pytest.mark.parametrize("method", ["GET", "POST", "DELETE"])
def test_surface_refuses_every_alias_route(azure_surface_server, prefix: str, method: str) -> None:  # type: ignore[no-untyped-def]
    """GET is `get_model_version_by_alias`, POST sets an alias, DELETE removes one."""
    response = requests.request(
        method,
        f"{azure_surface_server.uri}/{prefix}/2.0/mlflow/registered-models/alias",
        params={"name": "m", "alias": "champion"} if method == "GET" else None,
        json=None if method == "GET" else {"name": "m", "alias": "champion", "version": "1"},
        timeout=10,
    )
    assert response.status_code == 404
    assert response.json()["error_code"] == "ENDPOINT_NOT_FOUND"
    assert "aliases are not available" in response.json()["message"]


def test_surface_really_refuses_logged_models(azure_surface_server, session_for) -> None:
    """Guard: if this stops failing, the surface mode no longer mimics Azure ML."""
    response = requests.post(
        f"{azure_surface_server.uri}/api/2.0/mlflow/logged-models",
        json={"experiment_id": "0"},
        timeout=10,
    )
    assert response.status_code == 404
    session = session_for(azure_surface_server)
    model = DummyClassifier().fit([[0.0], [1.0]], [0, 1])
    with pytest.raises(MlflowException), session.run():
        mlflow.sklearn.log_model(model, name="model")


def test_moons_registers_without_logged_models_api(
    azure_surface_server, moons_dir: Path, session_for, tmp_path: Path
) -> None:
    session = session_for(azure_surface_server)
    options = MoonsOptions(
        moons_dir, grid={"n_estimators": [25], "max_depth": [5]}, register_as="moons-azure"
    )
    result = train(options, session)
    run = session.client.get_run(result.run_id)
    assert run.info.status == "FINISHED"
    assert result.registered_version == "1"
    local = registry.download("moons-azure:1", tmp_path / "model")
    assert mlflow.pyfunc.load_model(str(local)).predict(
        pd.DataFrame({"x1": [0.0], "x2": [1.0]})
    ).shape == (1,)

"""The local server starts uvicorn as `mlflow server` would: same variables, same log format."""

from __future__ import annotations

import sys
from pathlib import Path

import mlflow.server as mlflow_server
from mlflow.environment_variables import _MLFLOW_SGI_NAME
from mlflow.server import constants

from tracking_demo.server import local as server


def test_variable_names_are_mlflows() -> None:
    """A renamed variable in a new MLflow would leave the app on its default store: fail here."""
    assert server.BACKEND_STORE_VARIABLE == constants.BACKEND_STORE_URI_ENV_VAR
    assert server.REGISTRY_STORE_VARIABLE == constants.REGISTRY_STORE_URI_ENV_VAR
    assert server.ARTIFACT_ROOT_VARIABLE == constants.ARTIFACT_ROOT_ENV_VAR
    assert server.SERVE_ARTIFACTS_VARIABLE == constants.SERVE_ARTIFACTS_ENV_VAR
    assert server.ARTIFACTS_DESTINATION_VARIABLE == constants.ARTIFACTS_DESTINATION_ENV_VAR
    assert _MLFLOW_SGI_NAME.name == server.SERVER_KIND_VARIABLE


def test_command_is_mlflows_uvicorn_command(tmp_path: Path) -> None:
    local = server.LocalServer(tmp_path, port=5999, workers=2)
    expected = mlflow_server._build_uvicorn_command(None, "127.0.0.1", 5999, 2, server.TUNED_APP)
    assert local.command() == expected
    assert Path(local.command()[local.command().index("--log-config") + 1]).is_file()
    assert local.command()[0] == sys.executable


def test_environment_points_the_app_at_the_folder(tmp_path: Path) -> None:
    env = server.LocalServer(tmp_path).environment()
    db = f"sqlite:///{tmp_path.absolute() / 'mlflow.db'}"
    assert env[server.BACKEND_STORE_VARIABLE] == env[server.REGISTRY_STORE_VARIABLE] == db
    assert env[server.ARTIFACTS_DESTINATION_VARIABLE] == str(tmp_path.absolute() / "artifacts")
    assert env[server.ARTIFACT_ROOT_VARIABLE] == "mlflow-artifacts:/"
    assert env[server.SERVE_ARTIFACTS_VARIABLE] == "true"


def test_azure_surface_serves_its_own_app(tmp_path: Path) -> None:
    assert (
        server.LocalServer(tmp_path, azure_surface=True).command()[-1] == server.AZURE_SURFACE_APP
    )

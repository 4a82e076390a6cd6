from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tracking_demo.errors import ConfigError, TrackingUnavailableError
from tracking_demo.server.processes import find_free_port
from tracking_demo.tracking import workspace as azure_workspace
from tracking_demo.tracking.settings import (
    DEFAULT_TRACKING_URI,
    check_reachable,
    resolve_settings,
    resolve_tracking_uri,
)

if TYPE_CHECKING:
    from conftest import LoopbackMirror

JOB_ENV = {
    "MLFLOW_TRACKING_URI": "azureml://example/from-job",
    "MLFLOW_RUN_ID": "abc123",
    "MLFLOW_EXPERIMENT_NAME": "job-experiment",
}


def test_explicit_uri_wins_over_environment() -> None:
    assert resolve_tracking_uri("http://127.0.0.1:9", JOB_ENV) == "http://127.0.0.1:9"


def test_environment_wins_over_default() -> None:
    assert resolve_tracking_uri(None, JOB_ENV) == "azureml://example/from-job"


def test_default_is_the_local_server() -> None:
    assert resolve_tracking_uri(None, {}) == DEFAULT_TRACKING_URI == "http://127.0.0.1:5000"
    assert resolve_tracking_uri(None, {"MLFLOW_TRACKING_URI": "  "}) == DEFAULT_TRACKING_URI


def test_missing_workspace_config_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"workspace config '.*absent\.json' does not exist"):
        resolve_tracking_uri(None, JOB_ENV, workspace_config=tmp_path / "absent.json")


def test_job_environment_sets_run_and_experiment() -> None:
    settings = resolve_settings(None, None, JOB_ENV)
    assert (settings.uri, settings.run_id, settings.experiment) == (
        "azureml://example/from-job",
        "abc123",
        "job-experiment",
    )


def test_experiment_option_wins_and_default_name() -> None:
    assert resolve_settings(None, "mine", JOB_ENV).experiment == "mine"
    settings = resolve_settings(None, None, {})
    assert (settings.experiment, settings.run_id) == ("tracking-demo", None)


def test_unreachable_local_server_fails_fast_with_hint() -> None:
    uri = f"http://127.0.0.1:{find_free_port()}"
    with pytest.raises(TrackingUnavailableError, match="tracking-demo server start"):
        check_reachable(uri)


def test_non_http_uris_are_not_probed(http_mirror: LoopbackMirror, tmp_path: Path) -> None:
    """A store or a workspace URI is no server to wait for: nothing is sent, nothing created.

    The workspace URI names a real HTTP server here, so a probe of it would be recorded."""
    address = http_mirror.url.removeprefix("http://").rstrip("/")
    database, folder = tmp_path / "db.sqlite", tmp_path / "mlruns"
    check_reachable(f"sqlite:///{database}")
    check_reachable(folder.as_uri())
    check_reachable(f"azureml://{address}/mlflow/v1.0/subscriptions/sub")
    assert http_mirror.requested == []
    assert not database.exists() and not folder.exists()
    check_reachable(http_mirror.url)
    assert http_mirror.requested == ["/health"], "the same server over HTTP is probed"


def _config(folder: Path, **overrides: str) -> Path:
    content = {
        "subscription_id": "sub",
        "resource_group": "rg",
        "workspace_name": "ws",
        **overrides,
    }
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "config.json"
    path.write_text(json.dumps(content))
    return path


def test_workspace_config_is_found_like_the_sdk_does(tmp_path: Path) -> None:
    nested = tmp_path / "project" / "src" / "deep"
    nested.mkdir(parents=True)
    plain = _config(tmp_path / "project")
    assert azure_workspace.find_config(nested) == plain
    preferred = _config(tmp_path / "project" / ".azureml")
    assert azure_workspace.find_config(nested) == preferred, ".azureml/ is searched first"
    assert azure_workspace.find_config(plain) == plain


def test_a_config_without_the_workspace_keys_is_one_clear_line(tmp_path: Path) -> None:
    path = _config(tmp_path, workspace_name="")
    with pytest.raises(
        ConfigError, match=r"config\.json' lacks workspace_name \(expected the keys"
    ):
        resolve_tracking_uri(None, {}, workspace_config=path)
    path.write_text("{not json")
    with pytest.raises(ConfigError, match="is not readable JSON"):
        resolve_tracking_uri(None, {}, workspace_config=path)


def test_azureml_uri_without_any_config_says_where_it_looked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError, match=r"no workspace config\.json in .* or its parents"):
        resolve_tracking_uri("azureml", JOB_ENV)


def test_missing_sdk_is_one_clear_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "azureml.core", None)  # import fails as if not installed
    with pytest.raises(ConfigError, match=r"azureml-core\) is not installed"):
        resolve_tracking_uri(None, {}, workspace_config=_config(tmp_path))


def test_resolution_order_explicit_then_workspace_then_environment_then_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`--workspace-config` and `--tracking-uri azureml` are explicit asks: they beat the job's
    environment, while a plain `--tracking-uri URI` beats both."""
    monkeypatch.setattr(azure_workspace, "tracking_uri_from_workspace", lambda *_: "azureml://ws")
    config = _config(tmp_path)
    assert resolve_tracking_uri("http://127.0.0.1:9", JOB_ENV, config) == "http://127.0.0.1:9"
    assert resolve_tracking_uri("azureml", JOB_ENV) == "azureml://ws"
    assert resolve_tracking_uri(None, JOB_ENV, config) == "azureml://ws"
    assert resolve_tracking_uri(None, JOB_ENV) == "azureml://example/from-job"
    assert resolve_tracking_uri(None, {}) == DEFAULT_TRACKING_URI

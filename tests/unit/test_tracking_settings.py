from pathlib import Path

import pytest

from tracking_demo.errors import ConfigError, TrackingUnavailableError
from tracking_demo.server import find_free_port
from tracking_demo.tracking import (
    DEFAULT_TRACKING_URI,
    check_reachable,
    resolve_settings,
    resolve_tracking_uri,
)

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


def test_non_http_uris_are_not_probed(tmp_path: Path) -> None:
    check_reachable(f"sqlite:///{tmp_path}/db.sqlite")

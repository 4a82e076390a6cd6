"""The suite does not depend on the machine: the user's variables never reach a test."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tracking_demo.tracking.settings import default_wal_root

# What a user's shell may well hold after the README's first hour: the quickstart server on the
# default port, a job's run, a served model, the repository's own run folder.
USER_VARIABLES = {
    "MLFLOW_TRACKING_URI": "http://127.0.0.1:5000",
    "MLFLOW_REGISTRY_URI": "http://127.0.0.1:5000",
    "MLFLOW_EXPERIMENT_NAME": "users-experiment",
    "MLFLOW_RUN_ID": "0123456789abcdef0123456789abcdef",
    "TRACKING_DEMO_RUNS_DIR": ".tracking/runs",
    "TRACKING_DEMO_SERVING_KEY": "users-key",
    "TRACKING_DEMO_MODEL_URI": "models:/users-model/1",
    "AZUREML_MODEL_DIR": "/var/azureml-app/azureml-models",
    "AZURE_CLIENT_SECRET": "users-secret",
}


def test_no_variable_of_the_machine_within_a_test(
    pytestconfig: pytest.Config, runs_dir: Path
) -> None:
    """Checked by the next test with the user's variables set; trivially true without them."""
    reached = [name for name, value in USER_VARIABLES.items() if os.environ.get(name) == value]
    assert reached == [], "the user's values never reach a test"
    assert "AZURE_CLIENT_SECRET" not in os.environ, "no credentials of the user's either"
    assert default_wal_root(os.environ) == runs_dir
    assert not runs_dir.resolve().is_relative_to(pytestconfig.rootpath.resolve())
    for name in ("NO_PROXY", "no_proxy"):
        assert "127.0.0.1" in os.environ[name].split(","), "loopback never goes to a proxy"


def test_the_users_variables_do_not_reach_the_tests(pytestconfig: pytest.Config) -> None:
    """The test above, run by a pytest started from a shell that holds all of them."""
    root = pytestconfig.rootpath
    here = Path(__file__).relative_to(root)
    result = subprocess.run(
        [
            *(sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"),
            f"{here}::test_no_variable_of_the_machine_within_a_test",
        ],
        cwd=root,
        env={**os.environ, **USER_VARIABLES},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "1 passed" in result.stdout

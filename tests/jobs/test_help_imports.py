"""Every submitter's `--help` answers without loading an Azure SDK or TensorFlow (seconds each):
a user reading the options waits for nothing (benchmarks/jobs_sdk.py has the figures)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from tests.jobs.jobs_cli import ROOT

HEAVY = ("azure.ai.ml", "azureml.core", "tensorflow", "keras")
PROBE = (
    "import json, runpy, sys\n"
    "sys.argv = [sys.argv[1], '--help']\n"
    "try:\n"
    "    runpy.run_module(sys.argv[0], run_name='__main__')\n"
    "except SystemExit as done:\n"
    "    assert not done.code, done.code\n"
    f"print(json.dumps(sorted(set(sys.modules) & set({HEAVY!r}))))\n"
)
SUBMITTERS = (
    "submit",
    "sweep",
    "automl",
    "compute",
    "dataset",
    "workspace",
    "model_info",
    "download_model",
    "deploy",
)


@pytest.mark.parametrize("name", SUBMITTERS)
def test_help_loads_no_sdk_and_no_tensorflow(name: str) -> None:
    finished = subprocess.run(
        [sys.executable, "-c", PROBE, f"jobs.{name}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert finished.returncode == 0, finished.stderr
    assert json.loads(finished.stdout.strip().splitlines()[-1]) == []

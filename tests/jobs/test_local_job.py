"""`jobs.submit --sdk v1 --local`: the exact job command, in a fresh process with a job's
environment (v2's: test_v2_submit.py)."""

from __future__ import annotations

import json
from pathlib import Path

import mlflow
import pandas as pd
import pytest
from click.testing import CliRunner, Result
from mlflow.tracking import MlflowClient

from jobs import download_model
from jobs.submit import main
from tracking_demo.server.local import LocalServer

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def invoke_local(root: Path, data: Path, *args: str) -> Result:
    """`python -m jobs.submit --sdk v1 --local --data DATA ARGS` with the repository at `root`."""
    return CliRunner().invoke(
        main, ["--source", str(root), "--sdk", "v1", "--local", "--data", str(data), *args]
    )


def run_local(root: Path, server: LocalServer, data: Path, *args: str) -> tuple[int, str]:
    result = invoke_local(root, data, "--tracking-uri", server.uri, *args)
    return result.exit_code, result.output


def test_local_job_finishes_the_run_azure_would_create_and_registers_the_model(
    pytestconfig: pytest.Config,
    azure_surface_server: LocalServer,
    moons_dir: Path,
    tmp_path: Path,
) -> None:
    info_file = tmp_path / "model" / "model.json"
    code, output = run_local(
        pytestconfig.rootpath,
        azure_surface_server,
        moons_dir,
        "moons",
        "--experiment",
        "local-job",
        "--register-as",
        "moons-local-job",
        "--model-info-out",
        str(info_file),
        "--",
        "--cv",
        "2",
    )
    assert code == 0, output
    result = json.loads(output[output.index("{\n") :])
    server_uri = azure_surface_server.uri
    client = MlflowClient(server_uri)
    run = client.get_run(result["run_id"])
    assert run.info.status == "FINISHED"
    assert run.data.tags["tracking_demo.job"] == "local", "the pre-created run, not a new one"
    assert client.get_experiment(run.info.experiment_id).name == "local-job"
    assert run.data.metrics["test_accuracy"] > 0.9
    assert run.data.params["cv_folds"] == "2"
    info = json.loads(info_file.read_text())
    version = client.get_model_version("moons-local-job", info["version"])
    assert version.run_id == result["run_id"] == info["run_id"]
    assert result["command"][:6] == [
        result["command"][0],
        "-m",
        "tracking_demo",
        "train",
        "moons",
        "--data",
    ]
    assert result["snapshot"]["within_limits"] is True

    out = tmp_path / "downloaded"
    download = CliRunner().invoke(
        download_model.main,
        [f"moons-local-job:{info['version']}", "--out", str(out), "--tracking-uri", server_uri],
    )
    assert download.exit_code == 0, download.output
    model = mlflow.pyfunc.load_model(str(out))
    test = pd.read_csv(moons_dir / "test.csv")
    predictions = model.predict(test[["x1", "x2"]])
    assert (predictions == test["label"]).mean() == pytest.approx(run.data.metrics["test_accuracy"])


def test_a_failing_job_exits_non_zero_and_its_run_is_failed(
    pytestconfig: pytest.Config,
    azure_surface_server: LocalServer,
    tmp_path: Path,
) -> None:
    empty = tmp_path / "mounted-but-empty"
    empty.mkdir()
    code, output = run_local(
        pytestconfig.rootpath, azure_surface_server, empty, "moons", "--experiment", "local-fail"
    )
    assert code == 1
    assert "the job command exited 1" in output
    client = MlflowClient(azure_surface_server.uri)
    experiment = client.get_experiment_by_name("local-fail")
    runs = client.search_runs([experiment.experiment_id])
    assert [run.info.status for run in runs] == ["FAILED"]
    assert "train.csv" in runs[0].data.tags.get("tracking_demo.error", ""), runs[0].data.tags


def test_local_job_needs_a_server_uri(pytestconfig: pytest.Config, moons_dir: Path) -> None:
    result = invoke_local(
        pytestconfig.rootpath, moons_dir, "--tracking-uri", "sqlite:///x.db", "moons"
    )
    assert result.exit_code == 1
    assert "--local needs an MLflow server URI" in result.output


def test_local_job_data_folder_must_exist(pytestconfig: pytest.Config, tmp_path: Path) -> None:
    result = invoke_local(pytestconfig.rootpath, tmp_path / "nope", "moons")
    assert result.exit_code == 1
    assert "is not a folder (it stands in for the dataset)" in result.output

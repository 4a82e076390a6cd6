"""`python -m jobs.model_info`: the pipeline's model check after `az ml job create`, against a
real MLflow server standing in for the workspace's (a job's name is its MLflow run id)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from mlflow.tracking import MlflowClient
from tests.jobs.jobs_cli import assert_refused

from jobs.model_info import main
from tracking_demo.server.local import LocalServer


@pytest.mark.integration
def test_a_job_that_registered_the_model_writes_its_version(
    mlflow_server: LocalServer, tmp_path: Path
) -> None:
    client = MlflowClient(mlflow_server.uri, registry_uri=mlflow_server.uri)
    experiment_id = client.create_experiment("model-info-jobs")
    job = client.create_run(experiment_id).info.run_id
    client.create_registered_model("model-info-rf")
    client.create_model_version("model-info-rf", f"runs:/{job}/model", run_id=job)
    client.create_model_version("model-info-rf", f"runs:/{job}/model", run_id=job)
    out = tmp_path / "model" / "model.json"
    uri = mlflow_server.uri

    result = CliRunner().invoke(
        main,
        [job, "--register-as", "model-info-rf", "--out", str(out), "--tracking-uri", uri],
    )

    assert result.exit_code == 0, result.output
    expected = {"name": "model-info-rf", "version": "2", "run_id": job, "job_id": job}
    assert json.loads(out.read_text()) == expected
    assert json.loads(result.stdout) == expected


@pytest.mark.integration
def test_a_job_that_registered_nothing_fails_in_one_line(mlflow_server: LocalServer) -> None:
    client = MlflowClient(mlflow_server.uri)
    job = client.create_run(client.create_experiment("model-info-empty")).info.run_id

    result = CliRunner().invoke(
        main, [job, "--register-as", "never-registered", "--tracking-uri", mlflow_server.uri]
    )

    assert_refused(result, job, "registered no version of model 'never-registered'")

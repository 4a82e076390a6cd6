"""`jobs.submit --local`: the job command, run here the way an Azure ML node runs it.

A node gets the snapshot (not the checkout) as its working folder, an `outputs/` folder, the
data where the dataset was downloaded, and MLflow's variables pointing at a run the platform
created beforehand. This recreates all of that in a temporary folder against a local MLflow
server, runs the same command in a fresh process with no inherited environment beyond the
basics, and then checks through MlflowClient what the job must leave: the same run FINISHED,
its metrics, the model, and the registered version when one was asked for.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import click

from jobs import snapshot
from jobs.spec import JobFailedError, JobRequest, job_command, job_variables, registered_model
from tracking_demo.errors import ConfigError, DataError
from tracking_demo.tracking import tags

# What survives from the caller's environment: enough to find programs and write files.
INHERITED = ("HOME", "LANG", "LC_ALL", "TMPDIR", "SSL_CERT_FILE", "REQUESTS_CA_BUNDLE")


def job_environment(
    request: JobRequest, tracking_uri: str, run_id: str, environ: Mapping[str, str]
) -> dict[str, str]:
    """Azure ML's job variables, with the tracking server and run of this machine."""
    bin_dir = str(Path(sys.executable).parent)
    variables = {name: environ[name] for name in INHERITED if name in environ}
    variables.update(
        {
            "PATH": os.pathsep.join([bin_dir, "/usr/local/bin", "/usr/bin", "/bin"]),
            "MLFLOW_TRACKING_URI": tracking_uri,
            "MLFLOW_RUN_ID": run_id,
            "MLFLOW_EXPERIMENT_NAME": request.experiment,
            "AZUREML_RUN_ID": run_id,
            "AZUREML_EXPERIMENT_NAME": request.experiment,
            "MLFLOW_DISABLE_TELEMETRY": "true",
            **job_variables(request),
        }
    )
    return variables


def resolved_command(request: JobRequest, data_path: Path) -> list[str]:
    """`python`/`tracking-demo` as this virtualenv's programs, the data at its mount point."""
    command = [str(part) for part in job_command(request, str(data_path))]
    bin_dir = Path(sys.executable).parent
    if command[0] == "python":
        command[0] = sys.executable
    elif command[0] == "tracking-demo":
        command[0] = str(bin_dir / "tracking-demo")
    return command


def create_job_run(tracking_uri: str, experiment: str, task: str, where: str = "local") -> str:
    """The run Azure ML would create before the node starts (`where`: local, image)."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=tracking_uri)
    found = client.get_experiment_by_name(experiment)
    experiment_id = found.experiment_id if found else client.create_experiment(experiment)
    run = client.create_run(experiment_id, run_name=f"{task}-{where}-job", tags={tags.JOB: where})
    return run.info.run_id


def check_job_run(tracking_uri: str, run_id: str, register_as: str | None) -> dict[str, Any]:
    """What a finished job must leave in MLflow; anything missing is a failed job."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=tracking_uri)
    run = client.get_run(run_id)
    if run.info.status != "FINISHED":
        raise JobFailedError(f"job run {run_id} ended {run.info.status}, expected FINISHED")
    if not run.data.metrics:
        raise JobFailedError(f"job run {run_id} finished without metrics")
    model_files = {
        Path(item.path).name for item in _artifacts(run.info.artifact_uri, "model", tracking_uri)
    }
    if "MLmodel" not in model_files:
        raise JobFailedError(f"job run {run_id} has no model/MLmodel artifact")
    result: dict[str, Any] = {
        "run_id": run_id,
        "status": run.info.status,
        "metrics": dict(sorted(run.data.metrics.items())),
        "model_uri": f"runs:/{run_id}/model",
    }
    if register_as:
        result["model"] = registered_model(tracking_uri, run_id, register_as)
    return result


def _artifacts(artifact_uri: str, path: str, tracking_uri: str) -> list[Any]:
    """The run's artifact store directly: `runs:/` listing also asks the logged-models API,
    which Azure ML's server (and the local `--azure-surface` server) does not have."""
    from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository

    return list(
        get_artifact_repository(artifact_uri, tracking_uri=tracking_uri).list_artifacts(path)
    )


def run_locally(
    request: JobRequest,
    source: Path,
    data: Path,
    tracking_uri: str | None,
    environ: Mapping[str, str],
    job_dir: Path | None = None,
) -> dict[str, Any]:
    """Run the job command in a node-like folder and return what the run left."""
    from tracking_demo.tracking.settings import resolve_tracking_uri

    if not data.is_dir():
        raise DataError(f"--data '{data}' is not a folder (it stands in for the dataset)")
    uri = resolve_tracking_uri(tracking_uri, environ)
    if not uri.startswith(("http://", "https://")):
        raise ConfigError(
            f"--local needs an MLflow server URI (http://...), got '{uri}': start one with "
            "`tracking-demo server start`"
        )
    taken = snapshot.take(source)
    with tempfile.TemporaryDirectory(prefix="tracking-demo-job-") as scratch:
        node = job_dir or Path(scratch)
        working = snapshot.copy_to(taken, node / "wd")
        (working / "outputs").mkdir(exist_ok=True)
        mount = node / "mnt" / "inputs" / "data"
        mount.parent.mkdir(parents=True, exist_ok=True)
        mount.symlink_to(data.resolve(), target_is_directory=True)
        run_id = create_job_run(uri, request.experiment, request.task)
        command = resolved_command(request, mount)
        click.echo(f"local job {run_id}: {' '.join(command)}", err=True)
        finished = subprocess.run(
            command,
            cwd=working,
            env=job_environment(request, uri, run_id, environ),
            check=False,
        )
        if finished.returncode != 0:
            raise JobFailedError(
                f"the job command exited {finished.returncode} (run {run_id} on {uri})"
            )
        result = check_job_run(uri, run_id, request.register_as)
    result["tracking_uri"] = uri
    result["snapshot"] = taken.summary()
    result["command"] = command
    return result

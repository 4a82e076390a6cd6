"""`jobs.submit --local`: the job command, run here the way an Azure ML node runs it.

A node gets the snapshot (not the checkout) as its working folder, an `outputs/` folder, the
data where the dataset was downloaded, and MLflow's variables pointing at a run the platform
created beforehand. This recreates all of that in a temporary folder against a local MLflow
server, runs the same command in a fresh process with no inherited environment beyond the
basics, and then checks through MlflowClient what the job must leave: the same run FINISHED,
its metrics, the model, and the registered version when one was asked for.

The MLflow variables follow the SDK the job is submitted with. A v2 command job runs its command
line in a shell, with MLflow configured for the workspace and the job's run already started
("Track jobs running on Azure Machine Learning", V2_JOB_VARIABLES_DOC; the runtime sets
MLFLOW_TRACKING_URI, MLFLOW_RUN_ID and MLFLOW_EXPERIMENT_ID and overrides any the job sets,
V2_JOB_VARIABLES_ISSUE). `--local --sdk v2` sets V2_JOB_VARIABLES, pointing at the local server;
MLFLOW_TRACKING_TOKEN (the job's short-lived workspace token) is left unset, as a local server
needs none. `--sdk v1` keeps V1_JOB_VARIABLES and runs the command as an argument list.
"""

from __future__ import annotations

import dataclasses
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from jobs import snapshot
from jobs.spec import JobFailedError, JobRequest, job_command, job_variables, registered_model
from tracking_demo.errors import ConfigError, DataError
from tracking_demo.tracking import tags

# What survives from the caller's environment: enough to find programs and write files.
INHERITED = ("HOME", "LANG", "LC_ALL", "TMPDIR", "SSL_CERT_FILE", "REQUESTS_CA_BUNDLE")
V2_JOB_VARIABLES_DOC = (
    "https://learn.microsoft.com/azure/machine-learning/how-to-use-mlflow-cli-runs"
    "#track-jobs-running-on-azure-machine-learning"
)
V2_JOB_VARIABLES_ISSUE = "https://github.com/Azure/azure-sdk-for-python/issues/38813"
# The MLflow (and run) variables a job gets, by SDK; the values are this machine's.
V1_JOB_VARIABLES = (
    "MLFLOW_TRACKING_URI",
    "MLFLOW_RUN_ID",
    "MLFLOW_EXPERIMENT_NAME",
    "AZUREML_RUN_ID",
    "AZUREML_EXPERIMENT_NAME",
)
V2_JOB_VARIABLES = (
    "MLFLOW_TRACKING_URI",
    "MLFLOW_RUN_ID",
    "MLFLOW_EXPERIMENT_ID",
    "MLFLOW_EXPERIMENT_NAME",
    "AZUREML_RUN_ID",
)


@dataclass(frozen=True)
class JobRun:
    """The run Azure ML creates before the node starts, and where it logs."""

    tracking_uri: str
    run_id: str
    experiment_id: str
    experiment: str


def mlflow_variables(run: JobRun, sdk: str) -> dict[str, str]:
    """V1_JOB_VARIABLES or V2_JOB_VARIABLES with this machine's server and run."""
    values = {
        "MLFLOW_TRACKING_URI": run.tracking_uri,
        "MLFLOW_RUN_ID": run.run_id,
        "MLFLOW_EXPERIMENT_ID": run.experiment_id,
        "MLFLOW_EXPERIMENT_NAME": run.experiment,
        "AZUREML_RUN_ID": run.run_id,  # a v2 job's name is its run id
        "AZUREML_EXPERIMENT_NAME": run.experiment,
    }
    names = V2_JOB_VARIABLES if sdk == "v2" else V1_JOB_VARIABLES
    return {name: values[name] for name in names}


def job_environment(
    request: JobRequest, run: JobRun, environ: Mapping[str, str], sdk: str = "v1"
) -> dict[str, str]:
    """Azure ML's job variables, with the tracking server and run of this machine."""
    bin_dir = str(Path(sys.executable).parent)
    variables = {name: environ[name] for name in INHERITED if name in environ}
    variables.update(
        {
            "PATH": os.pathsep.join([bin_dir, "/usr/local/bin", "/usr/bin", "/bin"]),
            **mlflow_variables(run, sdk),
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


def v2_command_line(request: JobRequest, data_path: Path) -> str:
    """The v2 job's command line as its YAML has it, the data input at its mount point.

    `--data DIR` stands in for the data input with or without `--dataset`, as v1's does."""
    from jobs.v2.command_job import DATA_PLACEHOLDER, command_line

    with_input = request if request.dataset else dataclasses.replace(request, dataset="local")
    return command_line(with_input).replace(DATA_PLACEHOLDER, shlex.quote(str(data_path)))


def shell_command(line: str) -> list[str]:
    """A v2 command job runs its command line in a shell; `python` and `tracking-demo` are this
    virtualenv's, first on the job's PATH."""
    return [shutil.which("bash") or "/bin/bash", "-c", line]


def create_job_run(tracking_uri: str, experiment: str, task: str, where: str = "local") -> str:
    """The run Azure ML would create before the node starts (`where`: local, image)."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=tracking_uri)
    found = client.get_experiment_by_name(experiment)
    experiment_id = found.experiment_id if found else client.create_experiment(experiment)
    run = client.create_run(experiment_id, run_name=f"{task}-{where}-job", tags={tags.JOB: where})
    return run.info.run_id


def job_run(tracking_uri: str, experiment: str, task: str) -> JobRun:
    """`create_job_run`, with the experiment id a v2 job also gets."""
    from mlflow.tracking import MlflowClient

    run_id = create_job_run(tracking_uri, experiment, task)
    experiment_id = MlflowClient(tracking_uri=tracking_uri).get_run(run_id).info.experiment_id
    return JobRun(tracking_uri, run_id, experiment_id, experiment)


def check_job_run(tracking_uri: str, run_id: str, register_as: str | None) -> dict[str, Any]:
    """What a finished job must leave in MLflow; anything missing is a failed job."""
    from mlflow.tracking import MlflowClient

    from tracking_demo.registry import run_model_files

    client = MlflowClient(tracking_uri=tracking_uri)
    run = client.get_run(run_id)
    if run.info.status != "FINISHED":
        raise JobFailedError(f"job run {run_id} ended {run.info.status}, expected FINISHED")
    if not run.data.metrics:
        raise JobFailedError(f"job run {run_id} finished without metrics")
    if "MLmodel" not in run_model_files(client, run_id, "model"):
        raise JobFailedError(f"job run {run_id} has no model (no MLmodel in its model)")
    result: dict[str, Any] = {
        "run_id": run_id,
        "status": run.info.status,
        "metrics": dict(sorted(run.data.metrics.items())),
        "model_uri": f"runs:/{run_id}/model",
    }
    if register_as:
        result["model"] = registered_model(tracking_uri, run_id, register_as)
    return result


def run_locally(
    request: JobRequest,
    source: Path,
    data: Path,
    tracking_uri: str | None,
    environ: Mapping[str, str],
    job_dir: Path | None = None,
    sdk: str = "v1",
) -> dict[str, Any]:
    """Run the job command in a node-like folder and return what the run left.

    `sdk`: v2 runs the command job's line in a shell with V2_JOB_VARIABLES; v1 the argument
    list with V1_JOB_VARIABLES."""
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
        run = job_run(uri, request.experiment, request.task)
        run_id = run.run_id
        shown: str | list[str]
        if sdk == "v2":
            shown = v2_command_line(request, mount)
            command = shell_command(shown)
        else:
            command = shown = resolved_command(request, mount)
        click.echo(f"local job {run_id}: {' '.join(command)}", err=True)
        finished = subprocess.run(
            command,
            cwd=working,
            env=job_environment(request, run, environ, sdk),
            check=False,
        )
        if finished.returncode != 0:
            raise JobFailedError(
                f"the job command exited {finished.returncode} (run {run_id} on {uri})"
            )
        result = check_job_run(uri, run_id, request.register_as)
    result["tracking_uri"] = uri
    result["snapshot"] = taken.summary()
    result["command"] = shown
    result["sdk"] = sdk
    return result

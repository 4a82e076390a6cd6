"""Run a training task as an Azure ML job: `python -m jobs.submit TASK [options] [-- TASK_OPTIONS]`.

The job is the one contract of docs/architecture.md, rule 6:
`tracking-demo train TASK --data DIR [options]` with the environment Azure ML gives a job (or,
with `--command sweep`, the whole local sweep `tracking-demo sweep TASK --data DIR [options]` as
one job). This module only packages that command (snapshot, environment, compute, dataset) and
never adds training logic; `--local` runs the very same command here against a local MLflow
server, and `--dry-run` prints what would be sent: the CLI v2 YAML with `--sdk v2` (the default,
jobs.v2.submit), the azureml-core spec as JSON with `--sdk v1` (this module).
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import click

from jobs import environments, snapshot
from jobs.common import (
    WorkspaceRef,
    check_emit,
    command,
    describe_auth,
    emit_option,
    load_workspace,
    local_tracking_uri_option,
    print_spec,
    sdk_option,
    source_option,
    workspace_options,
    workspace_or_reason,
)
from jobs.spec import (
    DATA_INPUT,
    DATA_MODES,
    VERBS,
    JobFailedError,
    JobRequest,
    JobTarget,
    job_command,
    job_model,
    job_variables,
    make_request,
    write_model_info,
)
from tracking_demo.errors import ConfigError


def build_environment(request: JobRequest, root: Path, environ: Mapping[str, str]) -> Any:
    if request.environment == "image":
        assert request.image is not None
        return environments.image_environment(request.image, request.gpu, environ)
    requirements = environments.locked_requirements(root, request.gpu, environ)
    return environments.curated_environment(requirements, request.gpu, request.data_mode)


def script_run_config(request: JobRequest, environment: Any, root: Path, data_argument: Any) -> Any:
    """The real SDK object a submit sends (buildable offline with a placeholder for the data)."""
    from azureml.core import ScriptRunConfig
    from azureml.core.runconfig import DockerConfiguration

    config = ScriptRunConfig(
        source_directory=str(root),
        command=job_command(request, data_argument),
        compute_target=request.compute,
        environment=environment,
        docker_runtime_config=DockerConfiguration(use_docker=True, shm_size="2g"),
    )
    config.run_config.environment_variables = job_variables(request)
    return config


def dry_run_spec(
    request: JobRequest, ref: WorkspaceRef, root: Path, environ: Mapping[str, str]
) -> dict[str, Any]:
    """What a submit would send, from the real SDK objects, without a workspace or network."""
    environment = build_environment(request, root, environ)
    placeholder = (
        f"<dataset {request.dataset}:{request.dataset_version} as {request.data_mode}>"
        if request.dataset
        else "<no dataset>"
    )
    config = script_run_config(request, environment, root, placeholder)
    taken = snapshot.take(root)
    notes = [
        "The dataset argument is a placeholder: a DatasetConsumptionConfig needs the "
        "workspace's registered dataset, so it is built only on a real submit "
        f"(Dataset.get_by_name(...).as_named_input('{DATA_INPUT}').as_{request.data_mode}()).",
    ]
    if request.environment == "curated":
        notes.append(
            "The environment is registered under this name and version; an unchanged lock "
            "reuses the image Azure ML built for it."
        )
    return {
        "task": request.task,
        "experiment": request.experiment,
        "compute": config.run_config.target,
        "gpu": request.gpu,
        "command": [str(part) for part in config.command],
        "environment_variables": dict(config.run_config.environment_variables),
        "docker": {
            "use_docker": config.run_config.docker.use_docker,
            "shm_size": config.run_config.docker.shm_size,
        },
        "environment_kind": request.environment,
        "environment": environments.environment_spec(environment),
        "dataset": {
            "name": request.dataset,
            "version": request.dataset_version,
            "mode": request.data_mode,
            "input_name": DATA_INPUT,
        }
        if request.dataset
        else None,
        "register_as": request.register_as,
        "snapshot": taken.summary(),
        "workspace": workspace_or_reason(ref),
        "auth": describe_auth(ref, environ),
        "note": notes,
    }


def prepare_submit(
    request: JobRequest, ref: WorkspaceRef, root: Path, environ: Mapping[str, str]
) -> tuple[Any, Any, Any]:
    """The workspace, the environment (reused or registered) and the data argument of a submit.

    Checked first: the snapshot's limits and a `--gpu` job's cluster. `jobs.sweep` shares it.
    """
    from azureml.core import Dataset, Environment
    from azureml.core.compute import ComputeTarget

    from jobs.compute import is_gpu_vm_size

    snapshot.take_within_limits(root)
    environment = build_environment(request, root, environ)
    workspace = load_workspace(ref, environ)
    target = ComputeTarget(workspace=workspace, name=request.compute)
    vm_size = getattr(target, "vm_size", None)
    if request.gpu and vm_size and not is_gpu_vm_size(vm_size):
        raise ConfigError(
            f"--gpu but compute '{request.compute}' has the CPU VM size {vm_size} "
            "(create a GPU cluster with `python -m jobs.compute --gpu`)"
        )
    if request.environment == "curated":
        try:
            environment = Environment.get(workspace, environment.name, environment.version)
            click.echo(f"environment {environment.name}:{environment.version} reused", err=True)
        except Exception:
            environment = environment.register(workspace)
            click.echo(
                f"environment {environment.name}:{environment.version} registered "
                "(its image is built on first use: 10-30 minutes)",
                err=True,
            )
    data_argument: Any = "."
    if request.dataset:
        version = request.dataset_version
        dataset = Dataset.get_by_name(
            workspace, request.dataset, version=version if version == "latest" else int(version)
        )
        named = dataset.as_named_input(DATA_INPUT)
        data_argument = named.as_mount() if request.data_mode == "mount" else named.as_download()
    return workspace, environment, data_argument


def submit(
    request: JobRequest,
    ref: WorkspaceRef,
    root: Path,
    wait: bool,
    model_info_out: Path | None,
    environ: Mapping[str, str] = os.environ,
) -> dict[str, Any]:
    """Submit to the workspace; with `wait`, stream the logs and check what the job left."""
    workspace, environment, data_argument = prepare_submit(request, ref, root, environ)
    config = script_run_config(request, environment, root, data_argument)
    run, result = run_experiment(workspace, request.experiment, config, "job", wait)
    if not wait:
        return result
    if request.register_as:
        result["model"] = job_model(
            workspace.get_mlflow_tracking_uri(),
            run.id,
            request.register_as,
            include_children=request.verb == "sweep",
            model_info_out=model_info_out,
        )
    return result


def run_experiment(
    workspace: Any, experiment: str, config: Any, kind: str, wait: bool
) -> tuple[Any, dict[str, Any]]:
    """Submit `config` (a job or a sweep: `kind`); with `wait`, stream it and fail unless it
    Completed. Returns the run and what the submitter prints of it."""
    from azureml.core import Experiment

    run = Experiment(workspace, experiment).submit(config)
    click.echo(f"submitted {run.id}: {run.get_portal_url()}", err=True)
    result: dict[str, Any] = {f"{kind}_id": run.id, "portal_url": run.get_portal_url()}
    if wait:
        run.wait_for_completion(show_output=True, raise_on_error=False)
        status = run.get_status()
        result["status"] = status
        if status != "Completed":
            raise JobFailedError(f"{kind} {run.id} ended {status}: {run.get_portal_url()}")
    return run, result


def job_target_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """Where and on what a job runs; shared by `jobs.submit` and `jobs.sweep`'s trials.

    The command receives them as one `target: JobTarget`, checked by `make_request`.
    """

    @functools.wraps(func)
    def with_target(
        *args: Any,
        compute: str | None,
        experiment: str,
        environment: str,
        image: str | None,
        gpu: bool,
        dataset: str | None,
        data_mode: str,
        **kwargs: Any,
    ) -> Any:
        target = JobTarget(compute, experiment, environment, image, gpu, dataset, data_mode)
        return func(*args, target=target, **kwargs)

    options = [
        click.option(
            "--compute", help="AmlCompute cluster [default: cpu-cluster, gpu-cluster with --gpu]."
        ),
        click.option("--experiment", default="tracking-demo", show_default=True),
        click.option(
            "--environment",
            type=click.Choice(["curated", "image"]),
            default="curated",
            show_default=True,
            help="curated: Azure ML builds the locked dependencies (cached by the lock's hash); "
            "image: the custom image from the Dockerfile (--image).",
        ),
        click.option(
            "--image", help="REGISTRY/NAME:TAG of the custom image (--environment image)."
        ),
        click.option(
            "--gpu", is_flag=True, help="GPU variant: GPU base image and TensorFlow's CUDA extra."
        ),
        click.option("--dataset", help="Registered dataset NAME[:VERSION], passed as --data."),
        click.option(
            "--data-mode", type=click.Choice(DATA_MODES), default="download", show_default=True
        ),
    ]
    for option in reversed(options):
        with_target = option(with_target)
    return with_target


@command
@click.argument("task")
@click.argument("task_args", nargs=-1, type=click.UNPROCESSED)
@click.option(
    "--command",
    "verb",
    type=click.Choice(VERBS),
    default="train",
    show_default=True,
    help="train: one training run (`tracking-demo train TASK`); sweep: the whole local sweep "
    "(`tracking-demo sweep TASK`) as one job. For HyperDrive trials, see `python -m jobs.sweep`.",
)
@job_target_options
@click.option("--register-as", help="Register the trained model under this name.")
@click.option("--wait", is_flag=True, help="Stream the logs and exit with the job's status.")
@click.option(
    "--model-info-out",
    type=click.Path(path_type=Path, dir_okay=False),
    help="With --wait: write the registered model's name and version as JSON here.",
)
@click.option(
    "--dry-run",
    is_flag=True,
    help="Print the job (v2: CLI v2 YAML for `az ml job create --file`; v1: the JSON spec); "
    "no workspace, no network.",
)
@emit_option
@click.option(
    "--local",
    is_flag=True,
    help="Run the job command here, in a fresh process with a job's environment, against a "
    "local MLflow server (--tracking-uri), then check the run.",
)
@click.option(
    "--data",
    "local_data",
    type=click.Path(path_type=Path),
    help="--local: the folder that stands in for the dataset's download/mount.",
)
@local_tracking_uri_option
@source_option
@sdk_option
@workspace_options
def main(
    task: str,
    task_args: tuple[str, ...],
    verb: str,
    target: JobTarget,
    register_as: str | None,
    wait: bool,
    model_info_out: Path | None,
    dry_run: bool,
    local: bool,
    local_data: Path | None,
    tracking_uri: str | None,
    source: Path,
    sdk: str,
    emit: Path | None,
    ref: WorkspaceRef,
    debug: bool,
) -> None:
    """Run TASK (a `tracking-demo train` task) as a job; options after `--` go to the task.

    \b
        python -m jobs.submit moons --dataset moons --register-as moons-rf --dry-run
        python -m jobs.submit mnist-cnn --gpu --dataset mnist --wait -- --epochs 5
        python -m jobs.submit moons --local --data data/moons --register-as moons-rf
        python -m jobs.submit housing-mlp --command sweep --dataset housing --dry-run
        python -m jobs.submit moons --dataset moons --dry-run --emit job.yml --sdk v2
    """
    check_emit(sdk, dry_run, emit)
    if dry_run and local:
        raise ConfigError("--dry-run and --local are two different ways to check a job: pick one")
    if local and verb != "train":
        raise ConfigError(
            f"--local checks one training run; run `tracking-demo {verb} {task}` here instead"
        )
    if model_info_out is not None and not wait and not local:
        raise ConfigError("--model-info-out needs --wait (the model exists once the job ends)")
    if model_info_out is not None and not register_as:
        raise ConfigError("--model-info-out needs --register-as NAME (the model it describes)")
    request = make_request(task, task_args, target, register_as, verb)
    if dry_run and sdk == "v2":
        from jobs.v2 import render
        from jobs.v2.submit import dry_run_yaml

        render.emit(dry_run_yaml(request, ref, source, os.environ, emit), emit)
        return
    if dry_run:
        print_spec(dry_run_spec(request, ref, source, os.environ))
        return
    if local:
        from jobs.local_job import run_locally

        if local_data is None:
            raise ConfigError("--local needs --data DIR (the folder the dataset would be)")
        result = run_locally(request, source, local_data, tracking_uri, os.environ, sdk=sdk)
        if model_info_out is not None and result.get("model"):
            write_model_info(result["model"], model_info_out)
        print_spec(result)
        return
    if sdk == "v2":
        from jobs.v2 import submit as v2_submit

        print_spec(v2_submit.submit(request, ref, source, wait, model_info_out, os.environ))
        return
    print_spec(submit(request, ref, source, wait, model_info_out))


if __name__ == "__main__":
    main(prog_name="python -m jobs.submit", args=sys.argv[1:])

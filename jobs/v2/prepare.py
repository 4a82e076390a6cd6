"""What a v2 submit checks and sets up in the workspace before it creates a job: the environment
(reused or registered), the cluster (a `--gpu` job on a CPU cluster is refused), the data asset,
and, with `--wait`, the job's end.

The same steps as v1's `jobs.submit.prepare_submit`, through an `MLClient`; `jobs.sweep` and the
single job share them, so a sweep's trials run exactly where and on what a single job would.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import click

from jobs import environments
from jobs.spec import JobFailedError, JobRequest
from jobs.v2 import environment as v2_environment
from tracking_demo.errors import ConfigError

COMPLETED = "Completed"


def build_environment(request: JobRequest, root: Path, environ: Mapping[str, str]) -> Any:
    """The job's `Environment` entity: the lock's pins on Azure ML's base image, or the image."""
    if request.environment == "image":
        assert request.image is not None
        return v2_environment.image_environment(request.image, environ)
    requirements = environments.locked_requirements(root, request.gpu, environ)
    return v2_environment.curated_environment(requirements, request.gpu, request.data_mode)


def inline_environment(environment: Any) -> Any:
    """The environment as a YAML file carries it: inline and anonymous (Azure ML names it by its
    content's hash, so an unchanged lock still reuses its image), no registration needed."""
    from azure.ai.ml.entities import Environment

    return Environment(
        image=environment.image,
        conda_file=environment.conda_file,
        description=environment.description,
    )


def prepare_environment(
    ml_client: Any,
    request: JobRequest,
    root: Path,
    environ: Mapping[str, str],
    built: Any = None,
) -> Any:
    """What the job names as its environment: the curated one registered under its lock hash
    (reused when that version exists), or the image, inline. `built`: the entity
    `build_environment` already made, so its offline errors came before the login."""
    from azure.core.exceptions import ResourceNotFoundError

    environment = built if built is not None else build_environment(request, root, environ)
    if request.environment != "curated":
        return environment
    name, version = environment.name, environment.version
    try:
        ml_client.environments.get(name, version=version)
        click.echo(f"environment {name}:{version} reused", err=True)
    except ResourceNotFoundError:
        ml_client.environments.create_or_update(environment)
        click.echo(
            f"environment {name}:{version} registered "
            "(its image is built on first use: 10-30 minutes)",
            err=True,
        )
    return v2_environment.reference(environment)


def check_compute(ml_client: Any, request: JobRequest) -> None:
    """The cluster exists, and a `--gpu` job does not land on CPU nodes."""
    from azure.core.exceptions import ResourceNotFoundError

    from jobs.compute import is_gpu_vm_size

    try:
        compute = ml_client.compute.get(request.compute)
    except ResourceNotFoundError as error:
        raise ConfigError(
            f"compute '{request.compute}' does not exist in the workspace (create it with "
            f"`python -m jobs.compute{' --gpu' if request.gpu else ''}`)"
        ) from error
    size = getattr(compute, "size", None)
    if request.gpu and size and not is_gpu_vm_size(size):
        raise ConfigError(
            f"--gpu but compute '{request.compute}' has the CPU VM size {size} "
            "(create a GPU cluster with `python -m jobs.compute --gpu`)"
        )


def check_data(ml_client: Any, request: JobRequest) -> None:
    """The data asset (and version) exists: a typo fails here, not after the job has queued."""
    from azure.core.exceptions import ResourceNotFoundError

    if not request.dataset:
        return
    version = request.dataset_version
    try:
        if version == "latest":
            ml_client.data.get(request.dataset, label="latest")
        else:
            ml_client.data.get(request.dataset, version=version)
    except ResourceNotFoundError as error:
        raise ConfigError(
            f"data asset '{request.dataset}:{version}' does not exist in the workspace "
            "(register it with `python -m jobs.dataset`)"
        ) from error


def wait_for(ml_client: Any, name: str, kind: str, url: str) -> str:
    """Stream the job's logs (to stderr: stdout is the result's JSON), then fail unless it
    Completed. The SDK raises on a failed job; the status read afterwards is the answer."""
    from azure.ai.ml.exceptions import JobException

    with contextlib.redirect_stdout(sys.stderr), contextlib.suppress(JobException):
        ml_client.jobs.stream(name)
    status = str(ml_client.jobs.get(name).status)
    if status != COMPLETED:
        raise JobFailedError(f"{kind} {name} ended {status}: {url}")
    return status

"""What a v2 submit checks and sets up in the workspace before it creates a job, and how it waits
for the job's end: `jobs.submit` and `jobs.sweep` share it, so a sweep's trials run exactly where
and on what a single job would.

The same steps as v1's `jobs.submit.prepare_submit`, through an `MLClient`: every check (the
cluster, the data asset) comes before the one thing that writes (registering the environment),
so a refused submit leaves the workspace as it was.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from jobs import environments
from jobs.spec import JobFailedError, JobRequest
from jobs.v2 import environment as v2_environment
from jobs.v2.command_job import INPUT_MODES, URI_FOLDER
from tracking_demo.errors import ConfigError
from tracking_demo.tasks.catalog import data_kind_of

COMPLETED = "Completed"
URI_FILE = "uri_file"
# The data kinds whose tasks take the data file itself as `--data` (housing.resolve_file reads
# the CSV, or the folder holding housing.csv); moons and MNIST read several files from a folder.
FILE_DATA_KINDS = ("housing",)


@dataclass(frozen=True)
class Prepared:
    """The job as the workspace has it: the request with `latest` pinned, the environment to
    name, and the type of the data asset (the job's input is declared with it)."""

    request: JobRequest
    environment: Any
    data_type: str = URI_FOLDER


def build_environment(request: JobRequest, root: Path, environ: Mapping[str, str]) -> Any:
    """The job's named `Environment`: the lock's pins on Azure ML's base image (versioned by
    their hash), or the custom image. Offline, so a lock or image error comes before a login."""
    if request.environment == "image":
        assert request.image is not None
        return v2_environment.image_environment(request.image, environ)
    requirements = environments.locked_requirements(root, request.gpu, environ)
    return v2_environment.curated_environment(requirements, request.gpu, request.data_mode)


def inline_environment(environment: Any) -> Any:
    """The same image and conda file without a name, as a YAML file carries it: Azure ML names
    an anonymous environment by its content's hash, so an unchanged lock reuses its image and
    nothing needs registering first."""
    from azure.ai.ml.entities import Environment

    return Environment(image=environment.image, conda_file=environment.conda_file)


def registered_environment(ml_client: Any, environment: Any) -> str:
    """`azureml:NAME:VERSION` of the curated environment: reused if the workspace has that
    version (its image is built), else registered now; Azure ML builds the image on first use."""
    from azure.core.exceptions import ResourceNotFoundError

    label = f"{environment.name}:{environment.version}"
    try:
        ml_client.environments.get(name=environment.name, version=environment.version)
    except ResourceNotFoundError:
        ml_client.environments.create_or_update(environment)
        click.echo(
            f"environment {label} registered (its image is built on first use: 10-30 minutes)",
            err=True,
        )
    else:
        click.echo(f"environment {label} reused", err=True)
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


def check_data_type(request: JobRequest, label: str, data_type: str) -> None:
    """A type the job can declare, and that the task can read: a `uri_file` lands as one file,
    which only a task reading one file (housing) can take as `--data`."""
    if data_type not in INPUT_MODES:
        raise ConfigError(
            f"data asset '{label}' is of type {data_type}; a job reads uri_folder, uri_file or "
            "mltable (register the data with `python -m jobs.dataset`)"
        )
    if data_type == URI_FILE and data_kind_of(request.task) not in FILE_DATA_KINDS:
        raise ConfigError(
            f"data asset '{label}' is a uri_file (one file), but task '{request.task}' reads "
            "--data as a folder of files: register the folder, or the files' URLs as an "
            "mltable, with `python -m jobs.dataset`"
        )


def resolved_data(ml_client: Any, request: JobRequest) -> tuple[JobRequest, str]:
    """The data asset exists and the task can read it; `latest` is pinned to the version found,
    so the job records which version it read. Returns the request and the asset's type."""
    from azure.core.exceptions import ResourceNotFoundError

    if not request.dataset:
        return request, URI_FOLDER
    wanted = f"{request.dataset}:{request.dataset_version}"
    try:
        if request.dataset_version == "latest":
            asset = ml_client.data.get(name=request.dataset, label="latest")
        else:
            asset = ml_client.data.get(name=request.dataset, version=request.dataset_version)
    except ResourceNotFoundError as error:
        raise ConfigError(
            f"data asset '{wanted}' does not exist in the workspace (register it with "
            "`python -m jobs.dataset`)"
        ) from error
    label, data_type = f"{request.dataset}:{asset.version}", str(asset.type)
    check_data_type(request, label, data_type)
    mode = INPUT_MODES[data_type][request.data_mode]
    click.echo(f"data asset {label} ({data_type}, {mode})", err=True)
    return dataclasses.replace(request, dataset_version=str(asset.version)), data_type


def in_workspace(ml_client: Any, request: JobRequest, environment: Any) -> Prepared:
    """The checks, then the registration: the cluster, the data asset, then the curated
    environment reused or registered (an image environment is sent as it is)."""
    check_compute(ml_client, request)
    request, data_type = resolved_data(ml_client, request)
    if request.environment == "curated":
        environment = registered_environment(ml_client, environment)
    return Prepared(request, environment, data_type)


def failure_reason(error: Exception) -> str:
    """The run's error message from the SDK's JobException (`Exception : ` then the run's error
    as JSON, bare or under "error"), first line only; else the exception's text on one line."""
    text = str(error)
    _, _, body = text.partition("\n")
    try:
        found = json.loads(body)
    except ValueError:
        found = None
    if isinstance(found, Mapping):
        inner = found.get("error")
        message = (inner if isinstance(inner, Mapping) else found).get("message")
        if message and str(message).strip():
            return str(message).strip().splitlines()[0]
    return " ".join(text.split())[:200]


def wait_for(ml_client: Any, name: str, kind: str, url: str) -> str:
    """Stream the job's logs (to stderr: stdout is the result's JSON), then fail unless it
    Completed. The SDK raises on a failed job; its message becomes the failure's reason, and
    the status read afterwards is the answer."""
    from azure.ai.ml.exceptions import JobException

    reason = ""
    with contextlib.redirect_stdout(sys.stderr):
        try:
            ml_client.jobs.stream(name)
        except JobException as error:
            reason = failure_reason(error)
    status = str(ml_client.jobs.get(name).status)
    if status != COMPLETED:
        suffix = f" ({reason})" if reason else ""
        raise JobFailedError(f"{kind} {name} ended {status}: {url}{suffix}")
    return status

"""`python -m jobs.submit` on SDK v2: the job spec as a command job, printed as the CLI v2 YAML
`az ml job create --file` accepts (`--dry-run`, `--emit FILE`) or sent through MLClient.

The dry-run inlines the environment anonymously: Azure ML content-hashes an anonymous
environment, so an unchanged lock reuses the image it built, and the YAML needs nothing
registered first. The SDK path registers the same content under the named, lock-hashed version
instead (`tracking-demo-cpu:<hash>`), so the workspace lists which lock a job ran.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import click

from jobs import environments, snapshot
from jobs.common import WorkspaceRef, auth_kind, workspace_or_reason
from jobs.spec import JobFailedError, JobRequest, registered_model, write_model_info
from jobs.v2 import command_job, render
from jobs.v2 import environment as v2_environment
from tracking_demo.errors import ConfigError

JOB_WHAT = "the command job"
# What an inline (anonymous) environment must not carry: Azure ML names and versions it itself.
ANONYMOUS_FIELDS = ("name", "version", "tags", "description")


def named_environment(request: JobRequest, root: Path, environ: Mapping[str, str]) -> Any:
    """The job's environment entity: the lock on Azure ML's base image, or the custom image."""
    if request.environment == "image":
        assert request.image is not None
        return v2_environment.image_environment(request.image, environ)
    requirements = environments.locked_requirements(root, request.gpu, environ)
    return v2_environment.curated_environment(requirements, request.gpu, request.data_mode)


def inline_environment(environment: Any) -> Any:
    """The same image and conda file without a name: anonymous, content-hashed by Azure ML."""
    from azure.ai.ml.entities import Environment

    return Environment(image=environment.image, conda_file=environment.conda_file)


def _without_empty(value: Any) -> Any:
    """Nested `{}`/`[]`/None left out: the SDK dumps empty sections the YAML does not need."""
    if isinstance(value, dict):
        kept = {key: _without_empty(item) for key, item in value.items()}
        return {key: item for key, item in kept.items() if item not in ({}, [], None)}
    return value


def job_yaml_data(job: Any, base: Path) -> dict[str, Any]:
    """The CommandJob as its YAML schema writes it; `code:` relative to the YAML's folder."""
    data: dict[str, Any] = _without_empty(render.entity_dict(job))
    if isinstance(data.get("environment"), dict):
        for field in ANONYMOUS_FIELDS:
            data["environment"].pop(field, None)
    render.relative_paths(data, base)
    return data


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def auth_line(ref: WorkspaceRef, environ: Mapping[str, str]) -> str:
    """The login `jobs.v2.client.credential` would use, by kind only (never a secret)."""
    kind = auth_kind(ref, environ)
    if ref.auth == "auto" and kind != "service-principal":
        return "auth: auto (DefaultAzureCredential: az login, managed identity, then a browser)"
    return f"auth: {kind}"


def header_lines(
    request: JobRequest,
    ref: WorkspaceRef,
    root: Path,
    environment: Any,
    environ: Mapping[str, str],
    emit_path: Path | None = None,
) -> list[str]:
    """What the YAML cannot say: where it would go, who logs in, what is uploaded, what the SDK
    path registers. Never a secret: the auth line is the kind only."""
    workspace = workspace_or_reason(ref)
    if "unresolved" in workspace:
        where = f"workspace: unresolved ({_one_line(workspace['unresolved'])})"
    else:
        where = (
            f"workspace: {workspace['workspace_name']} (resource group "
            f"{workspace['resource_group']}, subscription {workspace['subscription_id']})"
        )
    summary = snapshot.take(root).summary()
    lines = [
        f"az ml job create --file {emit_path.name if emit_path else 'FILE'}  "
        "(`python -m jobs.submit` without --dry-run submits the same job)",
        where,
        auth_line(ref, environ),
        f"snapshot: {summary['files']} files, {summary['megabytes']} MB of code "
        f"(limits {summary['limit_megabytes']} MB, {summary['limit_files']} files; "
        f"ignore file {summary['ignore_file']}; within limits: {summary['within_limits']})",
    ]
    if request.environment == "curated":
        lines.append(
            "environment: inline and anonymous (Azure ML content-hashes it: an unchanged lock "
            "reuses the built image); the SDK path registers it as "
            f"{environment.name}:{environment.version}"
        )
    else:
        lines.append("environment: the custom image as it is (nothing is registered)")
    return lines


def dry_run_yaml(
    request: JobRequest,
    ref: WorkspaceRef,
    root: Path,
    environ: Mapping[str, str],
    emit_path: Path | None,
) -> str:
    """The command job `az ml job create --file` accepts, checked offline against the REST body."""
    environment = named_environment(request, root, environ)
    job = command_job.command_job(request, root, inline_environment(environment))
    render.check_rest(job, JOB_WHAT)
    header = header_lines(request, ref, root, environment, environ, emit_path)
    data = job_yaml_data(job, render.emit_base(emit_path))
    return render.to_yaml(data, "command", header)


def registered_environment(ml_client: Any, environment: Any) -> str:
    """`azureml:NAME:VERSION` of the curated environment: reused if the workspace has it (its
    image is built), else registered now; Azure ML builds the image on the first job using it."""
    from azure.core.exceptions import ResourceNotFoundError

    label = f"{environment.name}:{environment.version}"
    try:
        found = ml_client.environments.get(name=environment.name, version=environment.version)
    except ResourceNotFoundError:
        created = ml_client.environments.create_or_update(environment)
        click.echo(
            f"environment {label} registered (its image is built on first use: 10-30 minutes)",
            err=True,
        )
        return str(v2_environment.reference(created))
    click.echo(f"environment {label} reused", err=True)
    return str(v2_environment.reference(found))


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


def resolved_data(ml_client: Any, request: JobRequest) -> JobRequest:
    """The data asset must exist; `latest` is pinned to the version found, so the job records
    which version it read."""
    from azure.core.exceptions import ResourceNotFoundError

    if not request.dataset:
        return request
    wanted = f"{request.dataset}:{request.dataset_version}"
    try:
        if request.dataset_version == "latest":
            asset = ml_client.data.get(name=request.dataset, label="latest")
        else:
            asset = ml_client.data.get(name=request.dataset, version=request.dataset_version)
    except ResourceNotFoundError as error:
        raise ConfigError(
            f"data asset {wanted} does not exist in the workspace (register it with "
            "`python -m jobs.dataset`)"
        ) from error
    click.echo(f"data asset {request.dataset}:{asset.version} ({request.data_mode})", err=True)
    return dataclasses.replace(request, dataset_version=str(asset.version))


def wait_for(ml_client: Any, name: str, studio_url: str) -> str:
    """Stream the logs; anything but Completed is a failed job (one line, with the studio URL)."""
    from azure.ai.ml.exceptions import JobException

    try:
        ml_client.jobs.stream(name)
    except JobException as error:
        status = ml_client.jobs.get(name).status
        reason = _one_line(str(error))[:200]
        raise JobFailedError(f"job {name} ended {status}: {studio_url} ({reason})") from error
    status = str(ml_client.jobs.get(name).status)
    if status != "Completed":
        raise JobFailedError(f"job {name} ended {status}: {studio_url}")
    return status


def submit(
    request: JobRequest,
    ref: WorkspaceRef,
    root: Path,
    wait: bool,
    model_info_out: Path | None,
    environ: Mapping[str, str],
) -> dict[str, Any]:
    """Create the job; with `wait`, stream it and check what it left (the registered model).

    Offline checks first (snapshot limits, lock export, the REST body), then the login.
    """
    from jobs.v2 import client

    snapshot.take_within_limits(root)
    environment = named_environment(request, root, environ)
    render.check_rest(command_job.command_job(request, root, environment), JOB_WHAT)
    ml_client = client.ml_client(ref, environ)
    check_compute(ml_client, request)
    if request.environment == "curated":
        environment = registered_environment(ml_client, environment)
    request = resolved_data(ml_client, request)
    created = ml_client.jobs.create_or_update(command_job.command_job(request, root, environment))
    click.echo(f"submitted {created.name}: {created.studio_url}", err=True)
    result: dict[str, Any] = {"job_id": created.name, "portal_url": created.studio_url}
    if not wait:
        return result
    result["status"] = wait_for(ml_client, created.name, created.studio_url)
    if request.register_as:
        workspace = ml_client.workspaces.get(ml_client.workspace_name)
        info = registered_model(
            workspace.mlflow_tracking_uri,
            created.name,  # a v2 job's name is its MLflow run id
            request.register_as,
            include_children=request.verb == "sweep",
        )
        info["job_id"] = created.name
        result["model"] = info
        if model_info_out is not None:
            write_model_info(info, model_info_out)
    return result

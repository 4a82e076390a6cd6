"""What a v2 dry-run prints around the entity: comment lines on top (which workspace, which login,
what is uploaded, which environment a real run would use) and, for a job, the YAML body cleaned
of what the SDK dumps but `az ml job create --file` does not need.

Comments, so the YAML stays exactly what `az ml ... create --file` reads; one line each (a reason
spanning lines would end the comment and break the file). Never a secret: the login is named by
kind, tenant and client id, a client secret only as ***.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jobs import snapshot
from jobs.common import WorkspaceRef, describe_auth, workspace_or_reason
from jobs.v2 import render

if TYPE_CHECKING:  # the job spec is only named here: compute, dataset and automl do without it
    from jobs.spec import JobRequest

# What an inline (anonymous) environment must not carry: Azure ML names and versions it itself.
ANONYMOUS_FIELDS = ("name", "version", "tags", "description")
DEFAULT_CREDENTIAL = "DefaultAzureCredential: az login, managed identity, then a browser"


def one_line(text: str) -> str:
    return " ".join(str(text).split())


def create_line(emit_path: Path | None, submitter: str, what: str) -> str:
    """The command that takes the file, and the one that does the same without it."""
    name = emit_path.name if emit_path else "FILE"
    return (
        f"az ml job create --file {name}  (`python -m {submitter}` without --dry-run submits "
        f"the same {what})"
    )


def workspace_line(ref: WorkspaceRef) -> str:
    """The workspace by name, resource group, subscription (and the config file read), or why
    it is unresolved: a dry-run needs no config.json, a real run does."""
    workspace = workspace_or_reason(ref)
    if "unresolved" in workspace:
        return f"workspace: unresolved ({one_line(workspace['unresolved'])})"
    source = f", from {workspace['config_file']}" if "config_file" in workspace else ""
    return (
        f"workspace: {workspace['workspace_name']} (resource group "
        f"{workspace['resource_group']}, subscription {workspace['subscription_id']}{source})"
    )


def auth_line(ref: WorkspaceRef, environ: Mapping[str, str]) -> str:
    """The login `jobs.v2.client.credential` would use: `--auth auto` is DefaultAzureCredential's
    chain (a service principal first when its three variables are set)."""
    described = describe_auth(ref, environ)
    kind = described.pop("kind")
    details = [f"{key} {value}" for key, value in described.items()]
    if ref.auth == "auto" and kind != "service-principal":
        kind, details = "auto", [DEFAULT_CREDENTIAL, *details]
    return f"auth: {kind}" + (f" ({', '.join(details)})" if details else "")


def workspace_header(ref: WorkspaceRef, environ: Mapping[str, str]) -> list[str]:
    """Where and as whom: the header of every v2 dry-run."""
    return [workspace_line(ref), auth_line(ref, environ)]


def snapshot_line(root: Path) -> str:
    """What the job uploads as its code, and whether Azure ML's snapshot limits allow it."""
    summary = snapshot.take(root).summary()
    return (
        f"snapshot: {summary['files']} files, {summary['megabytes']} MB of code "
        f"(limits {summary['limit_megabytes']} MB, {summary['limit_files']} files; "
        f"ignore file {summary['ignore_file']}; within limits: {summary['within_limits']})"
    )


def environment_line(request: JobRequest, environment: Any) -> str:
    """The YAML inlines the environment; a real submit registers the curated one by name."""
    if request.environment == "curated":
        return (
            "environment: inline and anonymous (Azure ML content-hashes it: an unchanged lock "
            "reuses the built image); the SDK path registers it as "
            f"{environment.name}:{environment.version}"
        )
    return "environment: the custom image as it is (nothing is registered)"


def data_line(request: JobRequest) -> list[str]:
    """A dry-run cannot look the data asset up, so the YAML declares a folder."""
    if not request.dataset:
        return []
    return [
        "data: declared uri_folder here (a dry-run does not look the asset up); the SDK path "
        "declares the asset's own type: uri_file (a task reading one file), or mltable "
        "(eval_download / eval_mount: the files it lists, in a folder)"
    ]


def job_header(
    request: JobRequest,
    ref: WorkspaceRef,
    root: Path,
    environment: Any,
    environ: Mapping[str, str],
) -> list[str]:
    """What a job's YAML cannot say: where it would go, who logs in, what is uploaded, what the
    SDK path registers and how it declares the data."""
    return [
        *workspace_header(ref, environ),
        snapshot_line(root),
        environment_line(request, environment),
        *data_line(request),
    ]


def _without_empty(value: Any) -> Any:
    """Nested `{}`/`[]`/None left out: the SDK dumps empty sections the YAML does not need."""
    if isinstance(value, dict):
        kept = {key: _without_empty(item) for key, item in value.items()}
        return {key: item for key, item in kept.items() if item not in ({}, [], None)}
    return value


def job_yaml_data(job: Any, base: Path) -> dict[str, Any]:
    """A command or sweep job as its YAML schema writes it: the inline environment without the
    name and version the SDK makes up for it, `code:` relative to the YAML's folder."""
    data: dict[str, Any] = _without_empty(render.entity_dict(job))
    for part in (data, data.get("trial")):
        if not isinstance(part, dict):
            continue
        if isinstance(part.get("environment"), dict):
            for field in ANONYMOUS_FIELDS:
                part["environment"].pop(field, None)
        render.relative_paths(part, base, keys=("code",))
    return data

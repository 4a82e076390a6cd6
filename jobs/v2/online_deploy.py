"""A model version onto a managed online endpoint through MLClient, blue/green: the endpoint is
created when missing, the new deployment waited for, and only then does traffic move (100% to
it) and the deployment that served before go (unless `--keep-previous`).

A failed deployment prints its container's logs and exits 1 with traffic as it was. It is left
in place: its logs (`az ml online-deployment get-logs`, the storage initializer's included) are
what a user needs next, and it serves nothing; the error line names the command that deletes it.
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import click

from jobs import snapshot
from jobs.common import WorkspaceRef
from jobs.deploy_local import DeployFailedError
from jobs.deploy_target import mlflow_client, resolve_version
from jobs.serving_stage import stage_source
from jobs.v2 import online_dry_run
from jobs.v2 import online_endpoint as online

SUCCEEDED = "Succeeded"
LOG_LINES = 200


def _is_azure_error(error: Exception) -> bool:
    return type(error).__module__.startswith(("azure", "msrest"))


def _first_line(error: Exception) -> str:
    text = str(error).strip() or type(error).__name__
    return " ".join(text.splitlines()[0].split())


def workspace_version(ml_client: Any, request: online.EndpointRequest) -> str:
    """NAME:VERSION as given; an alias or best-by through the workspace's MLflow registry."""
    if request.target.version:
        return request.target.version
    workspace = ml_client.workspaces.get(ml_client.workspace_name)
    return resolve_version(mlflow_client(workspace.mlflow_tracking_uri), request.target)


def ensure_endpoint(ml_client: Any, request: online.EndpointRequest) -> Any:
    """The endpoint as it is, or created (key auth) and waited for."""
    from azure.core.exceptions import ResourceNotFoundError

    name = request.endpoint_name
    try:
        endpoint = ml_client.online_endpoints.get(name)
    except ResourceNotFoundError:
        click.echo(f"creating endpoint '{name}' (key auth)", err=True)
        return ml_client.online_endpoints.begin_create_or_update(
            online.endpoint_entity(request)
        ).result()
    if str(getattr(endpoint, "auth_mode", online.KEY_AUTH)).lower() != online.KEY_AUTH:
        click.echo(
            f"warning: endpoint '{name}' exists with auth_mode {endpoint.auth_mode}, not key: "
            "`tracking-demo predict --key` needs key auth",
            err=True,
        )
    click.echo(f"endpoint '{name}' exists: deploying into it", err=True)
    return endpoint


def serving_traffic(endpoint: Any, new: str) -> dict[str, int]:
    """The deployments that serve now (other than the new one) and their shares."""
    traffic = getattr(endpoint, "traffic", None) or {}
    return {name: int(share) for name, share in traffic.items() if int(share) > 0 and name != new}


def logs(ml_client: Any, endpoint: str, deployment: str) -> str:
    try:
        return str(
            ml_client.online_deployments.get_logs(
                name=deployment, endpoint_name=endpoint, lines=LOG_LINES
            )
        )
    except Exception as error:  # a container that never started has no logs
        if not _is_azure_error(error):
            raise
        return f"(no logs: {_first_line(error)})"


def create_deployment(
    ml_client: Any, endpoint: str, deployment: Any, before: Mapping[str, int]
) -> Any:
    """Create and wait; a failure prints the logs and raises, traffic untouched."""
    name = deployment.name
    click.echo(
        f"creating deployment '{name}' ({deployment.model}, {deployment.instance_count} x "
        f"{deployment.instance_type}); a new environment image adds 10-30 minutes",
        err=True,
    )
    failure = None
    created = None
    try:
        created = ml_client.online_deployments.begin_create_or_update(deployment).result()
    except Exception as error:
        if not _is_azure_error(error):
            raise
        failure = _first_line(error)
    state = getattr(created, "provisioning_state", None) if created is not None else None
    if failure is None and state == SUCCEEDED:
        return created
    if created is None:
        try:
            state = ml_client.online_deployments.get(
                name=name, endpoint_name=endpoint
            ).provisioning_state
        except Exception as error:
            if not _is_azure_error(error):
                raise
            state = "unknown"
    click.echo(f"deployment '{name}' logs:", err=True)
    click.echo(logs(ml_client, endpoint, name), err=True)
    traffic = ", ".join(f"{key}={value}" for key, value in before.items()) or "none"
    raise DeployFailedError(
        f"deployment '{name}' on endpoint '{endpoint}' ended {state}"
        + (f": {failure}" if failure else "")
        + f"; traffic unchanged ({traffic}); the failed deployment is kept for its logs: "
        f"`python -m jobs.deploy delete {endpoint} --deployment {name}` removes it"
    )


def move_traffic(ml_client: Any, endpoint_name: str, deployment: str) -> Any:
    """100% to the new deployment, in one endpoint update."""
    endpoint = ml_client.online_endpoints.get(endpoint_name)
    endpoint.traffic = {deployment: 100}
    updated = ml_client.online_endpoints.begin_create_or_update(endpoint).result()
    click.echo(f"traffic: {deployment}=100", err=True)
    return updated


def delete_deployments(ml_client: Any, endpoint: str, deployments: list[str]) -> list[str]:
    for name in deployments:
        ml_client.online_deployments.begin_delete(name=name, endpoint_name=endpoint).result()
        click.echo(f"deleted the previous deployment '{name}'", err=True)
    return deployments


def keys_of(ml_client: Any, endpoint: str) -> dict[str, str]:
    found = ml_client.online_endpoints.get_keys(name=endpoint)
    return {"primary": found.primary_key, "secondary": found.secondary_key}


def deploy(
    request: online.EndpointRequest, ref: WorkspaceRef, root: Path, environ: Mapping[str, str]
) -> dict[str, Any]:
    """Offline checks first (snapshot limits, the lock or image, the REST body), then the
    login, the version, the endpoint, the environment, the deployment, the traffic."""
    from jobs.v2 import client, prepare

    taken = snapshot.take_within_limits(root)
    environment = online_dry_run.build_environment(request, root, environ)
    ml_client = client.ml_client(ref, environ)
    version = workspace_version(ml_client, request)
    name = online_dry_run.deployment_name(request, version)
    model = f"{request.target.name}:{version}"
    endpoint = ensure_endpoint(ml_client, request)
    before = serving_traffic(endpoint, name)
    if request.environment == "curated":
        environment = prepare.registered_environment(ml_client, environment)
    with tempfile.TemporaryDirectory(prefix="tracking-demo-deploy-") as scratch:
        code = stage_source(taken, Path(scratch))
        deployment = online.deployment_entity(request, name, version, code, environment)
        create_deployment(ml_client, request.endpoint_name, deployment, before)
    updated = move_traffic(ml_client, request.endpoint_name, name)
    previous = sorted(before)
    deleted = (
        []
        if request.keep_previous
        else delete_deployments(ml_client, request.endpoint_name, previous)
    )
    result: dict[str, Any] = {
        "endpoint": request.endpoint_name,
        "deployment": name,
        "model": model,
        "scoring_uri": getattr(updated, "scoring_uri", None),
        "traffic": {name: 100},
        "previous": previous,
        "deleted": deleted,
    }
    click.echo(f"endpoint '{request.endpoint_name}': {model} at {result['scoring_uri']}", err=True)
    if request.show_keys:
        result["keys"] = keys_of(ml_client, request.endpoint_name)
    return result


def delete(
    endpoint: str, deployment: str | None, ref: WorkspaceRef, environ: Mapping[str, str]
) -> dict[str, str]:
    """One deployment (Azure refuses one that still has traffic), or the endpoint and all its
    deployments."""
    from jobs.v2 import client

    ml_client = client.ml_client(ref, environ)
    if deployment:
        ml_client.online_deployments.begin_delete(name=deployment, endpoint_name=endpoint).result()
        click.echo(f"deployment '{deployment}' of endpoint '{endpoint}' deleted", err=True)
        return {"deleted": f"{endpoint}/{deployment}"}
    ml_client.online_endpoints.begin_delete(name=endpoint).result()
    click.echo(f"endpoint '{endpoint}' and its deployments deleted", err=True)
    return {"deleted": endpoint}


def keys(endpoint: str, ref: WorkspaceRef, environ: Mapping[str, str]) -> dict[str, Any]:
    """The scoring URI and both keys (the caller asked with --show-keys)."""
    from jobs.v2 import client

    ml_client = client.ml_client(ref, environ)
    found = ml_client.online_endpoints.get(endpoint)
    return {
        "endpoint": endpoint,
        "scoring_uri": getattr(found, "scoring_uri", None),
        "keys": keys_of(ml_client, endpoint),
    }

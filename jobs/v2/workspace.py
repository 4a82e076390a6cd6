"""The workspace with SDK v2: show it (`MLClient.workspaces.get`), or create it from the v2
`Workspace` entity (the YAML `az ml workspace create --file` accepts) and write the
`.azureml/config.json` every submitter looks for.

MLClient cannot create resource groups, so the group must exist: `az group create` makes it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from typing import Any

import click

from jobs.common import WorkspaceRef
from jobs.v2 import client, dry_run, render
from jobs.workspace import CreateRequest

STUDIO = "https://ml.azure.com/"


def workspace_entity(
    request: CreateRequest, display_name: str | None, description: str | None
) -> Any:
    """What `begin_create` sends; Azure ML creates its storage, key vault and insights."""
    from azure.ai.ml.entities import Workspace

    return Workspace(
        name=request.name,
        location=request.location,
        resource_group=request.resource_group,
        display_name=display_name,
        description=description,
    )


def workspace_yaml(entity: Any, header: Iterable[str]) -> str:
    render.check_rest(entity, f"workspace '{entity.name}'")
    return render.to_yaml(render.entity_dict(entity), "workspace", list(header))


def create_header(
    request: CreateRequest, ref: WorkspaceRef, environ: Mapping[str, str]
) -> list[str]:
    """No workspace yet: the subscription it goes to, the login (as every v2 dry-run names it),
    the config file written and what must exist first."""
    return [
        f"subscription: {request.subscription_id}",
        dry_run.auth_line(ref, environ),
        f"config file: {request.config_file}",
        f"note: the resource group {request.resource_group} must exist (az group create --name "
        f"{request.resource_group} --location {request.location}); an existing workspace of "
        "this name is reused as it is",
    ]


def resource_group_client(
    request: CreateRequest, ref: WorkspaceRef, environ: Mapping[str, str] = os.environ
) -> Any:
    """An MLClient scoped to the resource group: workspaces are created from there."""
    login = client.credential(ref, environ)
    from azure.ai.ml import MLClient

    return MLClient(
        login,
        subscription_id=request.subscription_id,
        resource_group_name=request.resource_group,
    )


def get_or_create(ml_client: Any, entity: Any) -> tuple[Any, bool]:
    """The workspace of that name, created (and waited for) only when it does not exist;
    (workspace, created)."""
    from azure.core.exceptions import ResourceNotFoundError

    try:
        existing = ml_client.workspaces.get(entity.name)
    except ResourceNotFoundError:
        existing = None
    if existing is not None:
        click.echo(f"using existing workspace {entity.name}; the other options are not applied")
        return existing, False
    click.echo(f"creating workspace {entity.name} in {entity.location} (takes a few minutes)")
    return ml_client.workspaces.begin_create(entity).result(), True


def studio_url(workspace: Any) -> str:
    """The workspace's page in Azure ML studio, from its resource id."""
    return f"{STUDIO}?wsid={workspace.id}" if getattr(workspace, "id", None) else STUDIO


def workspace_lines(workspace: Any) -> list[str]:
    """What a user checks about a workspace; no keys or tokens among them."""
    return [
        f"name:            {workspace.name}",
        f"resource group:  {workspace.resource_group}",
        f"location:        {workspace.location}",
        f"tracking URI:    {workspace.mlflow_tracking_uri}",
        f"studio:          {studio_url(workspace)}",
    ]


def write_config(request: CreateRequest) -> None:
    """The same three keys `Workspace.write_config` (v1) writes, where it writes them."""
    identity = {
        "subscription_id": request.subscription_id,
        "resource_group": request.resource_group,
        "workspace_name": request.name,
    }
    request.config_file.parent.mkdir(parents=True, exist_ok=True)
    request.config_file.write_text(json.dumps(identity, indent=4) + "\n")

"""Show the Azure ML workspace, or create one: `python -m jobs.workspace [--create ...]`.

Every other submitter finds the workspace the way `Workspace.from_config` does; `--create`
writes the `.azureml/config.json` they look for. Secrets never reach the output: the dry-run
shows which login would be used, a service principal's secret only as `***`.
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from jobs.common import (
    WorkspaceRef,
    auth_kind,
    authentication,
    check_emit,
    command,
    describe_auth,
    emit_option,
    load_workspace,
    print_spec,
    resolve_workspace,
    sdk_option,
    workspace_options,
)
from tracking_demo.errors import ConfigError

WORKSPACE_NAME = re.compile(r"^[A-Za-z0-9][\w-]{2,32}$")
SUBSCRIPTION_ID = re.compile(r"^[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}$", re.IGNORECASE)
LOCATION = re.compile(r"^[a-z][a-z0-9]*$")
CONFIG_DIR = ".azureml"


@dataclass(frozen=True)
class CreateRequest:
    """A workspace to create, checked offline so a typo costs no login."""

    subscription_id: str
    resource_group: str
    name: str
    location: str
    create_resource_group: bool
    config_dir: Path

    @property
    def config_file(self) -> Path:
        """Where `Workspace.write_config(path=config_dir)` puts it."""
        return self.config_dir.resolve() / CONFIG_DIR / "config.json"


def create_request(
    ref: WorkspaceRef, location: str | None, create_resource_group: bool, config_dir: Path
) -> CreateRequest:
    """All four of subscription, resource group, name and location, each in Azure's format."""
    if ref.config is not None:
        raise ConfigError(
            "--create takes --subscription, --resource-group, --workspace-name and --location, "
            "not --workspace-config (it writes the config file)"
        )
    given = {
        "--subscription": ref.subscription,
        "--resource-group": ref.resource_group,
        "--workspace-name": ref.name,
        "--location": location,
    }
    missing = [option for option, value in given.items() if not value]
    if missing:
        raise ConfigError(f"--create needs {', '.join(missing)}")
    assert ref.subscription and ref.resource_group and ref.name and location
    if not SUBSCRIPTION_ID.match(ref.subscription):
        raise ConfigError(
            f"--subscription '{ref.subscription}' is not a subscription id (expected a GUID "
            "such as 12345678-1234-1234-1234-123456789abc; `az account list -o table` shows it)"
        )
    if not WORKSPACE_NAME.match(ref.name):
        raise ConfigError(
            f"--workspace-name '{ref.name}' is not a valid workspace name (expected 3-33 "
            "letters, digits, hyphens or underscores, starting with a letter or digit)"
        )
    if not LOCATION.match(location):
        raise ConfigError(
            f"--location '{location}' is not an Azure region name (expected lower case without "
            "spaces, e.g. westeurope; `az account list-locations -o table` lists them)"
        )
    check_config_target(config_dir, ref.subscription, ref.resource_group, ref.name)
    return CreateRequest(
        ref.subscription, ref.resource_group, ref.name, location, create_resource_group, config_dir
    )


def check_config_target(config_dir: Path, subscription: str, group: str, name: str) -> None:
    """Refuse to overwrite a config.json that points at another workspace."""
    if config_dir.exists() and not config_dir.is_dir():
        raise ConfigError(f"--config-dir '{config_dir}' is not a folder")
    existing = config_dir / CONFIG_DIR / "config.json"
    if not existing.is_file():
        return
    try:
        content = json.loads(existing.read_text())
    except (OSError, ValueError):
        content = {}
    wanted = {"subscription_id": subscription, "resource_group": group, "workspace_name": name}
    if not isinstance(content, dict) or any(content.get(k) != v for k, v in wanted.items()):
        raise ConfigError(
            f"'{existing}' already describes another workspace (expected {name} in {group}); "
            "move it away or pass --config-dir"
        )


def check_show_options(location: str | None, create_resource_group: bool) -> None:
    """Options of --create given without it would be silently ignored; say so instead."""
    stray = [
        option
        for option, given in (
            ("--location", location),
            ("--create-resource-group", create_resource_group),
        )
        if given
    ]
    if stray:
        raise ConfigError(f"{', '.join(stray)} given without --create (used only with --create)")


def create_arguments(request: CreateRequest) -> dict[str, Any]:
    """The keyword arguments of `Workspace.create`, all but the auth object."""
    return {
        "name": request.name,
        "subscription_id": request.subscription_id,
        "resource_group": request.resource_group,
        "location": request.location,
        "create_resource_group": request.create_resource_group,
        "exist_ok": True,
        "show_output": True,
    }


def show_spec(ref: WorkspaceRef, environ: Mapping[str, str]) -> dict[str, Any]:
    """Which workspace the other submitters would use, and how they would log in."""
    return {
        "action": "show",
        "workspace": resolve_workspace(ref),
        "auth": describe_auth(ref, environ),
        "note": "Workspace.get(...) needs the service: location and MLflow tracking URI are "
        "read from it on a real run.",
    }


def create_spec(
    request: CreateRequest, ref: WorkspaceRef, environ: Mapping[str, str]
) -> dict[str, Any]:
    """The exact `Workspace.create` call and the config file it leads to."""
    return {
        "action": "create",
        "create": create_arguments(request),
        "config_file": str(request.config_file),
        "auth": describe_auth(ref, environ),
        "note": "Workspace.create(...) talks to Azure Resource Manager, so no SDK object is "
        "built offline: 'create' lists exactly the arguments sent (with the auth above); an "
        "existing workspace of that name is reused (exist_ok).",
    }


def workspace_lines(workspace: Any) -> list[str]:
    """What a user checks about a workspace; no keys or tokens among them."""
    return [
        f"name:            {workspace.name}",
        f"subscription:    {workspace.subscription_id}",
        f"resource group:  {workspace.resource_group}",
        f"location:        {workspace.location}",
        f"tracking URI:    {workspace.get_mlflow_tracking_uri()}",
    ]


def create_workspace(request: CreateRequest, ref: WorkspaceRef, environ: Mapping[str, str]) -> Any:
    """Create (or reuse) the workspace and write its config.json for the other submitters."""
    from azureml.core import Workspace

    workspace = Workspace.create(auth=authentication(ref, environ), **create_arguments(request))
    request.config_dir.mkdir(parents=True, exist_ok=True)
    workspace.write_config(path=str(request.config_dir))
    return workspace


@command
@click.option("--create", is_flag=True, help="Create the workspace (or reuse one of that name).")
@click.option("--location", help="Azure region for --create, e.g. westeurope.")
@click.option(
    "--create-resource-group",
    is_flag=True,
    help="With --create: create the resource group when it does not exist.",
)
@click.option(
    "--config-dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=Path("."),
    show_default=True,
    help="With --create: write CONFIG_DIR/.azureml/config.json.",
)
@click.option("--display-name", help="With --create (v2): the name the studio shows.")
@click.option("--description", help="With --create (v2): the workspace's description.")
@click.option(
    "--dry-run",
    is_flag=True,
    help="Print the workspace YAML for --create (v2), else the spec as JSON; no login, no "
    "network.",
)
@sdk_option
@emit_option
@workspace_options
def main(
    create: bool,
    location: str | None,
    create_resource_group: bool,
    config_dir: Path,
    display_name: str | None,
    description: str | None,
    dry_run: bool,
    sdk: str,
    emit: Path | None,
    ref: WorkspaceRef,
    debug: bool,
) -> None:
    """Print the workspace that config.json points to, or --create one and write its config."""
    check_emit(sdk, dry_run, emit)
    check_v2_options(sdk, create, create_resource_group, display_name, description, emit)
    if sdk == "v2":
        run_v2(create, location, config_dir, display_name, description, dry_run, emit, ref)
        return
    if not create:
        check_show_options(location, create_resource_group)
        if dry_run:
            print_spec(show_spec(ref, os.environ))
            return
        click.echo("\n".join(workspace_lines(load_workspace(ref))))
        return
    request = create_request(ref, location, create_resource_group, config_dir)
    if dry_run:
        print_spec(create_spec(request, ref, os.environ))
        return
    workspace = create_workspace(request, ref, os.environ)
    click.echo("\n".join(workspace_lines(workspace)))
    click.echo(f"wrote {request.config_file}")


def check_v2_options(
    sdk: str,
    create: bool,
    create_resource_group: bool,
    display_name: str | None,
    description: str | None,
    emit: Path | None,
) -> None:
    """What one SDK cannot do is refused in one line, not silently skipped."""
    described = [
        option
        for option, given in (("--display-name", display_name), ("--description", description))
        if given
    ]
    if described and sdk != "v2":
        raise ConfigError(f"{', '.join(described)}: --sdk v2 options (v1 creates without them)")
    if described and not create:
        raise ConfigError(
            f"{', '.join(described)} given without --create (used only with --create)"
        )
    if sdk == "v2" and create_resource_group:
        raise ConfigError(
            "--create-resource-group: SDK v2 cannot create resource groups; create it with "
            "`az group create --name GROUP --location LOCATION`, or use --sdk v1"
        )
    if emit is not None and not create:
        raise ConfigError("--emit FILE writes the workspace YAML of --create: showing has none")


def show_spec_v2(ref: WorkspaceRef, environ: Mapping[str, str]) -> dict[str, Any]:
    """Showing creates nothing, so there is no YAML: the JSON names what would be looked up."""
    spec = show_spec(ref, environ)
    spec["note"] = (
        "MLClient.workspaces.get(name) needs the service: location, MLflow tracking URI and "
        "studio URL are read from it on a real run."
    )
    return spec


def run_v2(
    create: bool,
    location: str | None,
    config_dir: Path,
    display_name: str | None,
    description: str | None,
    dry_run: bool,
    emit: Path | None,
    ref: WorkspaceRef,
) -> None:
    """SDK v2: the YAML (create) or JSON (show) on a dry run, else the MLClient calls."""
    if not create:
        check_show_options(location, False)
        if dry_run:
            print_spec(show_spec_v2(ref, os.environ))
            return
        from jobs.v2 import client
        from jobs.v2 import workspace as workspace_v2

        ml_client = client.ml_client(ref)
        found = ml_client.workspaces.get(ml_client.workspace_name)
        click.echo("\n".join(workspace_v2.workspace_lines(found)))
        return
    request = create_request(ref, location, False, config_dir)
    auth_kind(ref, os.environ)  # a missing service principal variable fails before any build
    from jobs.v2 import render
    from jobs.v2 import workspace as workspace_v2

    entity = workspace_v2.workspace_entity(request, display_name, description)
    if dry_run:
        header = workspace_v2.create_header(request, ref, os.environ)
        render.emit(workspace_v2.workspace_yaml(entity, header), emit)
        return
    ml_client = workspace_v2.resource_group_client(request, ref)
    created, _ = workspace_v2.get_or_create(ml_client, entity)
    workspace_v2.write_config(request)
    click.echo("\n".join(workspace_v2.workspace_lines(created)))
    click.echo(f"wrote {request.config_file}")


if __name__ == "__main__":
    main(prog_name="python -m jobs.workspace", args=sys.argv[1:])

"""What every submitter shares: the workspace options, authentication, the JSON spec, errors.

Everything here that can be checked offline is checked before the SDK opens a connection,
so bad input costs one clear line instead of a login prompt or a stack trace from the cloud.
"""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from tracking_demo.cli.errors import OneLineErrors, own_error_line
from tracking_demo.errors import ConfigError
from tracking_demo.tracking.workspace import locate_config, read_config

SERVICE_PRINCIPAL_VARIABLES = ("AZURE_CLIENT_ID", "AZURE_TENANT_ID", "AZURE_CLIENT_SECRET")
AUTH_KINDS = ("auto", "interactive", "cli", "service-principal")
REDACTED = "***"


def _mlflow_error_line(error: Exception) -> str | None:
    if not type(error).__module__.startswith("mlflow"):
        return None
    return f"tracking server error: {_first_line(error)}"


def _azure_error_line(error: Exception) -> str | None:
    """The SDK's own exceptions (auth, not found, service errors) are answers, not bugs."""
    if not type(error).__module__.startswith(("azureml", "azure", "msrest", "adal", "msal")):
        return None
    return f"Azure ML error: {_first_line(error)}"


def _first_line(error: Exception) -> str:
    text = str(error).strip() or type(error).__name__
    return text.splitlines()[0]


class JobsCommand(OneLineErrors):
    """Print the errors a user can fix as one line (exit 1); `--debug` shows the traceback."""

    error_lines = (own_error_line, _mlflow_error_line, _azure_error_line)


def command(func: Callable[..., Any]) -> click.Command:
    """A submitter's click command: `-h/--help`, `--debug`, one-line errors."""
    func = click.option("--debug", is_flag=True, help="Show tracebacks.")(func)
    return click.command(cls=JobsCommand, context_settings={"help_option_names": ["-h", "--help"]})(
        func
    )


@dataclass(frozen=True)
class WorkspaceRef:
    """Which workspace to use and how to log in; resolved without touching the network."""

    config: Path | None = None
    subscription: str | None = None
    resource_group: str | None = None
    name: str | None = None
    tenant: str | None = None
    auth: str = "auto"


def workspace_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """`--workspace-config PATH`, or subscription + resource group + name; tenant; auth kind.

    The command receives them as one `ref: WorkspaceRef`, resolved later and only when needed.
    """

    @functools.wraps(func)
    def with_ref(
        *args: Any,
        workspace_config: Path | None,
        subscription: str | None,
        resource_group: str | None,
        workspace_name: str | None,
        tenant: str | None,
        auth: str,
        **kwargs: Any,
    ) -> Any:
        ref = WorkspaceRef(
            workspace_config, subscription, resource_group, workspace_name, tenant, auth
        )
        return func(*args, ref=ref, **kwargs)

    options = [
        click.option(
            "--auth",
            type=click.Choice(AUTH_KINDS),
            default="auto",
            show_default=True,
            help="auto: v2 tries DefaultAzureCredential's chain (AZURE_* variables, managed "
            "identity, the `az login` session, ..., then a browser); v1 a service principal "
            "when AZURE_CLIENT_ID, AZURE_TENANT_ID and AZURE_CLIENT_SECRET are set, else "
            "interactive. cli: the `az login` session (Azure DevOps AzureCLI@2).",
        ),
        click.option("--tenant", help="Azure AD tenant for users in several tenants."),
        click.option("--workspace-name", help="Workspace name (with --subscription and -g)."),
        click.option("--resource-group", "-g", help="Resource group of the workspace."),
        click.option("--subscription", help="Subscription id (overrides config.json's)."),
        click.option(
            "--workspace-config",
            type=click.Path(path_type=Path),
            help="config.json (or a folder to search up from) [default: search from the cwd "
            "up like Workspace.from_config: .azureml/config.json, config.json].",
        ),
    ]
    for option in options:
        with_ref = option(with_ref)
    return with_ref


def resolve_workspace(ref: WorkspaceRef, cwd: Path | None = None) -> dict[str, str]:
    """Subscription, resource group, name (and the config file used): the workspace's identity.

    Explicit options win over the file, so `--subscription` picks among several subscriptions.
    """
    explicit = {
        "subscription_id": ref.subscription,
        "resource_group": ref.resource_group,
        "workspace_name": ref.name,
    }
    if ref.config is None and all(explicit.values()):
        return {key: str(value) for key, value in explicit.items()}
    found = locate_config(
        ref.config, cwd, other_fix="give --subscription, --resource-group and --workspace-name"
    )
    identity = read_config(found)
    identity.update({key: str(value) for key, value in explicit.items() if value})
    identity["config_file"] = str(found)
    return identity


def workspace_or_reason(ref: WorkspaceRef) -> dict[str, Any]:
    """A dry-run without config.json still shows its spec, and says what is missing."""
    try:
        return dict(resolve_workspace(ref))
    except ConfigError as error:
        return {"unresolved": str(error)}


def auth_kind(ref: WorkspaceRef, environ: Mapping[str, str]) -> str:
    """Which login the SDK will use; a service principal needs all three variables."""
    if ref.auth == "auto":
        present = [name for name in SERVICE_PRINCIPAL_VARIABLES if environ.get(name)]
        return (
            "service-principal"
            if len(present) == len(SERVICE_PRINCIPAL_VARIABLES)
            else ("interactive")
        )
    if ref.auth == "service-principal":
        missing = [name for name in SERVICE_PRINCIPAL_VARIABLES if not environ.get(name)]
        if missing:
            raise ConfigError(
                f"--auth service-principal needs the environment variables {', '.join(missing)}"
            )
    return ref.auth


def describe_auth(ref: WorkspaceRef, environ: Mapping[str, str]) -> dict[str, str]:
    """The login as the dry-run shows it: kind, tenant, client id; the secret only as ***."""
    kind = auth_kind(ref, environ)
    described = {"kind": kind}
    if ref.tenant:
        described["tenant"] = ref.tenant
    if kind == "service-principal":
        described["tenant"] = environ["AZURE_TENANT_ID"]
        described["client_id"] = environ["AZURE_CLIENT_ID"]
        described["client_secret"] = REDACTED
    return described


def authentication(ref: WorkspaceRef, environ: Mapping[str, str]) -> Any:
    """The SDK's authentication object for `auth_kind`; none of them prints the secret."""
    from azureml.core.authentication import (
        AzureCliAuthentication,
        InteractiveLoginAuthentication,
        ServicePrincipalAuthentication,
    )

    kind = auth_kind(ref, environ)
    if kind == "service-principal":
        return ServicePrincipalAuthentication(
            tenant_id=environ["AZURE_TENANT_ID"],
            service_principal_id=environ["AZURE_CLIENT_ID"],
            service_principal_password=environ["AZURE_CLIENT_SECRET"],
        )
    if kind == "cli":
        return AzureCliAuthentication()
    return InteractiveLoginAuthentication(tenant_id=ref.tenant)


def load_workspace(ref: WorkspaceRef, environ: Mapping[str, str] = os.environ) -> Any:
    """The SDK Workspace; identity and auth are resolved (and checked) before the first request."""
    identity = resolve_workspace(ref)
    auth = authentication(ref, environ)
    from azureml.core import Workspace

    return Workspace.get(
        identity["workspace_name"],
        auth=auth,
        subscription_id=identity["subscription_id"],
        resource_group=identity["resource_group"],
    )


def workspace_tracking_uri(sdk: str, ref: WorkspaceRef) -> str:
    """The workspace's MLflow tracking URI, read through the SDK the caller chose."""
    if sdk == "v1":
        return str(load_workspace(ref, os.environ).get_mlflow_tracking_uri())
    from jobs.v2.client import ml_client

    client = ml_client(ref, os.environ)
    return str(client.workspaces.get(client.workspace_name).mlflow_tracking_uri)


def print_spec(spec: Mapping[str, Any]) -> None:
    """The dry-run's answer: the resolved spec as JSON on stdout, nothing else there."""
    click.echo(json.dumps(spec, indent=2, default=str))


SDK_VERSIONS = ("v2", "v1")

sdk_option = click.option(
    "--sdk",
    type=click.Choice(SDK_VERSIONS),
    default="v2",
    show_default=True,
    help="v2: azure-ai-ml, --dry-run prints CLI v2 YAML (the recommended path); v1: "
    "azureml-core, for workspaces that still use it (its support ended 2026-06-30).",
)
emit_option = click.option(
    "--emit",
    type=click.Path(path_type=Path, dir_okay=False),
    help="With --dry-run (v2): also write the YAML to FILE, for `az ml ... create --file FILE`.",
)


def check_emit(sdk: str, dry_run: bool, emit: Path | None) -> None:
    """`--emit` writes the v2 dry-run's YAML: anything else has nothing to write."""
    if emit is not None and (sdk != "v2" or not dry_run):
        raise ConfigError("--emit FILE writes the CLI v2 YAML: it needs --dry-run and --sdk v2")


# Options the submitters that upload a snapshot and can run it here (`--local`) share.
local_tracking_uri_option = click.option(
    "--tracking-uri",
    help="--local: the MLflow server [default: $MLFLOW_TRACKING_URI, else the local default].",
)
source_option = click.option(
    "--source",
    type=click.Path(path_type=Path, file_okay=False, exists=True),
    default=Path("."),
    help="Source folder to snapshot [default: the current folder].",
)

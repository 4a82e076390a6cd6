"""MLClient for a workspace: the same workspace options and logins as v1, as azure-identity
credentials. Nothing here opens a connection: MLClient logs in on its first request."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from jobs.common import WorkspaceRef, auth_kind, resolve_workspace


def credential(ref: WorkspaceRef, environ: Mapping[str, str]) -> Any:
    """`--auth`: cli (the `az login` session, as AzureCLI@2 gives), service-principal (the three
    AZURE_* variables), interactive (a browser), auto (DefaultAzureCredential's chain)."""
    from azure.identity import (
        AzureCliCredential,
        ClientSecretCredential,
        DefaultAzureCredential,
        InteractiveBrowserCredential,
    )

    kind = "auto" if ref.auth == "auto" else auth_kind(ref, environ)
    if kind == "service-principal":
        return ClientSecretCredential(
            tenant_id=environ["AZURE_TENANT_ID"],
            client_id=environ["AZURE_CLIENT_ID"],
            client_secret=environ["AZURE_CLIENT_SECRET"],
        )
    if kind == "cli":
        return AzureCliCredential(tenant_id=ref.tenant or "")
    if kind == "interactive":
        return InteractiveBrowserCredential(tenant_id=ref.tenant)
    return DefaultAzureCredential(
        exclude_interactive_browser_credential=False,
        **({"interactive_browser_tenant_id": ref.tenant} if ref.tenant else {}),
    )


def ml_client(ref: WorkspaceRef, environ: Mapping[str, str] = os.environ) -> Any:
    """The workspace's MLClient; identity and auth are resolved (and checked) before any request."""
    identity = resolve_workspace(ref)
    login = credential(ref, environ)
    from azure.ai.ml import MLClient

    return MLClient(
        login,
        subscription_id=identity["subscription_id"],
        resource_group_name=identity["resource_group"],
        workspace_name=identity["workspace_name"],
    )

"""The comment lines on top of a v2 dry-run's YAML: which workspace and which login a real run
would use. Comments, so the YAML stays exactly what `az ml ... create --file` reads."""

from __future__ import annotations

from collections.abc import Mapping

from jobs.common import WorkspaceRef, auth_kind, workspace_or_reason


def workspace_header(ref: WorkspaceRef, environ: Mapping[str, str]) -> list[str]:
    """`workspace: sub/group/name (config)` or why it is unresolved; the auth kind, no secret."""
    workspace = workspace_or_reason(ref)
    if "unresolved" in workspace:
        where = f"unresolved ({workspace['unresolved']})"
    else:
        where = "/".join(
            workspace[key] for key in ("subscription_id", "resource_group", "workspace_name")
        )
        if "config_file" in workspace:
            where += f" (from {workspace['config_file']})"
    return [f"workspace: {where}", f"auth: {auth_kind(ref, environ)}"]

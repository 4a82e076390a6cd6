"""The one module allowed to touch the Azure SDK: a workspace's MLflow tracking URI.

Imported lazily by `tracking.resolve_tracking_uri`, so nothing that trains depends on azureml.
The config file is found and checked here before the SDK is imported, so a missing or broken
config.json is one clear line, not a login prompt or an SDK stack trace.
"""

from __future__ import annotations

import json
from pathlib import Path

from tracking_demo.errors import ConfigError

CONFIG_KEYS = ("subscription_id", "resource_group", "workspace_name")


def find_config(start: Path) -> Path | None:
    """The file `Workspace.from_config` would use: the same folders, the same order."""
    start = start.resolve()
    if start.is_file():
        return start
    for folder in (".azureml", "aml_config", None):
        for name in ("config.json", "project.json"):
            for parent in (start, *start.parents):
                candidate = parent / folder / name if folder else parent / name
                if candidate.is_file():
                    return candidate
    return None


def read_config(path: Path) -> dict[str, str]:
    """The workspace's subscription, resource group and name, each checked to be there."""
    try:
        content = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise ConfigError(f"workspace config '{path}' is not readable JSON: {error}") from error
    if not isinstance(content, dict):
        raise ConfigError(f"workspace config '{path}' must be a JSON object")
    missing = [key for key in CONFIG_KEYS if not str(content.get(key) or "").strip()]
    if missing:
        raise ConfigError(
            f"workspace config '{path}' lacks {', '.join(missing)} "
            f"(expected the keys {', '.join(CONFIG_KEYS)}, as in the portal's config.json)"
        )
    return {key: str(content[key]) for key in CONFIG_KEYS}


def locate_config(
    config_path: Path | None, cwd: Path | None = None, other_fix: str | None = None
) -> Path:
    """The given file (or folder to search up from), else a search from the cwd up; checked.

    `other_fix` is one more way out that the error offers (the submitters' explicit options)."""
    if config_path is not None and not Path(config_path).exists():
        raise ConfigError(f"workspace config '{config_path}' does not exist")
    start = Path(config_path) if config_path is not None else (cwd or Path.cwd())
    found = find_config(start)
    if found is None:
        fixes = [
            "download it from the portal (workspace > Download config.json)",
            "pass --workspace-config PATH",
            *([other_fix] if other_fix else []),
        ]
        raise ConfigError(
            f"no workspace config.json in {start.resolve()} or its parents: "
            + ", ".join(fixes[:-1])
            + ("," if len(fixes) > 2 else "")
            + f" or {fixes[-1]}"
        )
    read_config(found)
    return found


def tracking_uri_from_workspace(config_path: Path | None = None, cwd: Path | None = None) -> str:
    """Read config.json (the given file, or searched like `Workspace.from_config`)."""
    found = locate_config(config_path, cwd)
    try:
        from azureml.core import Workspace
    except ImportError as error:
        raise ConfigError(
            "the Azure ML SDK (azureml-core) is not installed; install the project's main "
            "dependencies to use a workspace"
        ) from error
    try:
        workspace = Workspace.from_config(path=str(found))
    except Exception as error:  # the SDK raises its own UserErrorException and auth errors
        raise ConfigError(f"cannot load the Azure ML workspace from '{found}': {error}") from error
    return str(workspace.get_mlflow_tracking_uri())

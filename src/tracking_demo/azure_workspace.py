"""The one module allowed to touch the Azure SDK: a workspace's MLflow tracking URI.

Imported lazily by `tracking.resolve_tracking_uri`, so nothing that trains depends on azureml.
"""

from __future__ import annotations

from pathlib import Path

from tracking_demo.errors import ConfigError


def tracking_uri_from_workspace(config_path: Path | None = None) -> str:
    """Read config.json (the given file, or searched like `Workspace.from_config`)."""
    if config_path is not None and not Path(config_path).is_file():
        raise ConfigError(f"workspace config '{config_path}' does not exist")
    try:
        from azureml.core import Workspace
    except ImportError as error:
        raise ConfigError(
            "the Azure ML SDK (azureml-core) is not installed; install the project's main "
            "dependencies to use a workspace"
        ) from error
    try:
        workspace = (
            Workspace.from_config(path=str(config_path))
            if config_path is not None
            else Workspace.from_config()
        )
    except Exception as error:  # the SDK raises its own UserErrorException and auth errors
        where = f"'{config_path}'" if config_path else "config.json (searched from the cwd up)"
        raise ConfigError(f"cannot load the Azure ML workspace from {where}: {error}") from error
    return str(workspace.get_mlflow_tracking_uri())

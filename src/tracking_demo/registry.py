"""Model registry: register from a run, list versions, resolve references, download."""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from pathlib import Path

import mlflow
from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from tracking_demo.errors import ConfigError

_REF = re.compile(r"^(?P<name>[^:@/]+)(?::(?P<version>\d+)|@(?P<alias>[A-Za-z0-9_\-]+))$")


def model_uri_from_ref(ref: str) -> str:
    """`NAME:VERSION` or `NAME@ALIAS` → `models:/...`; `models:/` and `runs:/` URIs pass."""
    if ref.startswith(("models:/", "runs:/")):
        return ref
    match = _REF.match(ref)
    if not match:
        raise ConfigError(
            f"model reference '{ref}' is not NAME:VERSION, NAME@ALIAS or a models:/ URI"
        )
    if match["version"]:
        return f"models:/{match['name']}/{match['version']}"
    return f"models:/{match['name']}@{match['alias']}"


def register(
    client: MlflowClient,
    model_uri: str,
    name: str,
    tags: Mapping[str, str] | None = None,
    timeout_s: float = 60.0,
) -> ModelVersion:
    """Register a `runs:/` model and wait until the version is READY."""
    version = mlflow.register_model(model_uri, name, tags=dict(tags or {}))
    deadline = time.monotonic() + timeout_s
    while version.status != "READY" and time.monotonic() < deadline:
        time.sleep(0.5)
        version = client.get_model_version(name, version.version)
    return version


def register_once(
    client: MlflowClient, model_uri: str, name: str, tags: Mapping[str, str] | None = None
) -> ModelVersion:
    """Register unless this exact model (same run, same path) already is: replays stay single."""
    run_id = model_uri.removeprefix("runs:/").split("/", 1)[0]
    try:
        existing = client.search_model_versions(f"name = '{name}' and run_id = '{run_id}'")
    except MlflowException:
        existing = []
    artifact_path = model_uri.removeprefix(f"runs:/{run_id}")
    for version in existing:
        if (version.source or "").rstrip("/").endswith(artifact_path.rstrip("/")):
            return version
    return register(client, model_uri, name, tags)


def list_versions(client: MlflowClient, name: str) -> list[ModelVersion]:
    """All versions of `name`, newest first; a missing model is a user error."""
    try:
        client.get_registered_model(name)
    except MlflowException as error:
        raise ConfigError(f"no registered model named '{name}'") from error
    versions = client.search_model_versions(f"name = '{name}'")
    return sorted(versions, key=lambda v: int(v.version), reverse=True)


def download(ref: str, out_dir: Path) -> Path:
    """Write the model's MLflow folder (MLmodel at its top) to `out_dir`."""
    uri = model_uri_from_ref(ref)
    out_dir.mkdir(parents=True, exist_ok=True)
    try:
        local = mlflow.artifacts.download_artifacts(artifact_uri=uri, dst_path=str(out_dir))
    except MlflowException as error:
        raise ConfigError(f"cannot download '{ref}': {error.message}") from error
    return Path(local)

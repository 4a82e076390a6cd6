"""Model registry: register from a run, list versions, pick the best, resolve refs, download."""

from __future__ import annotations

import math
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import mlflow
from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException
from mlflow.store.artifact.runs_artifact_repo import RunsArtifactRepository
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
    """Register a `runs:/` model with this client's registry and wait until it is READY.

    The client's own calls, not `mlflow.register_model`: the fluent one uses the process-wide
    URIs and prints three lines of its own to stderr on every registration.
    """
    run_id, artifact_path = RunsArtifactRepository.parse_runs_uri(model_uri)
    source = f"{client.get_run(run_id).info.artifact_uri.rstrip('/')}/{artifact_path}"
    try:
        client.create_registered_model(name)
    except MlflowException as error:
        if error.error_code not in ("RESOURCE_ALREADY_EXISTS", "ALREADY_EXISTS"):
            raise
    version = client.create_model_version(
        name, source, run_id=run_id, tags=dict(tags or {}), await_creation_for=0
    )
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
    existing: Sequence[ModelVersion]
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


@dataclass(frozen=True)
class ScoredVersion:
    """A version with the value of the metric it was ranked by, and where that value came from."""

    version: ModelVersion
    value: float
    source: Literal["version tag", "run metric"]


@dataclass(frozen=True)
class Ranking:
    """Versions best first; `unscored` lists the ones that do not carry the metric."""

    metric: str
    mode: Literal["max", "min"]
    scored: list[ScoredVersion]
    unscored: list[str]

    @property
    def best(self) -> ScoredVersion:
        return self.scored[0]


def _float_or_none(text: str | None) -> float | None:
    if text is None:
        return None
    try:
        value = float(text)
    except ValueError:
        return None
    return None if math.isnan(value) else value


def metric_of(client: MlflowClient, version: ModelVersion, metric: str) -> ScoredVersion | None:
    """The version's own tag wins (it is what the task judged the model by, e.g. the restored
    epoch's val_accuracy); otherwise the latest value of the metric on the version's run."""
    from_tag = _float_or_none(version.tags.get(metric))
    if from_tag is not None:
        return ScoredVersion(version, from_tag, "version tag")
    if not version.run_id:
        return None
    try:
        run_metrics = client.get_run(version.run_id).data.metrics
    except MlflowException:
        return None
    value = run_metrics.get(metric)
    if value is None or math.isnan(value):
        return None
    return ScoredVersion(version, float(value), "run metric")


def rank_versions(
    client: MlflowClient, name: str, metric: str, mode: Literal["max", "min"] = "max"
) -> Ranking:
    """All versions of `name` that carry `metric`, best first; ties go to the newest version."""
    scored: list[ScoredVersion] = []
    unscored: list[str] = []
    for version in list_versions(client, name):
        found = metric_of(client, version, metric)
        if found is None:
            unscored.append(version.version)
        else:
            scored.append(found)
    if not scored:
        raise ConfigError(
            f"no version of '{name}' has a '{metric}' tag or run metric "
            f"(versions checked: {', '.join(unscored)})"
        )
    sign = -1.0 if mode == "max" else 1.0
    scored.sort(key=lambda s: (sign * s.value, -int(s.version.version)))
    return Ranking(metric, mode, scored, unscored)


def download(ref: str, out_dir: Path) -> Path:
    """Write the model's MLflow folder (MLmodel at its top) to `out_dir`."""
    uri = model_uri_from_ref(ref)
    out_dir.mkdir(parents=True, exist_ok=True)
    try:
        local = mlflow.artifacts.download_artifacts(artifact_uri=uri, dst_path=str(out_dir))
    except MlflowException as error:
        raise ConfigError(f"cannot download '{ref}': {error.message}") from error
    return Path(local)


CHAMPION = "champion"


_MODELS_URI = re.compile(r"^models:/(?P<name>[^/@]+)(?:/(?P<version>\d+)|@(?P<alias>[\w\-]+))$")


@dataclass(frozen=True)
class VersionRef:
    """A registered version named by number or by alias."""

    name: str
    version: str | None
    alias: str | None


def parse_version_uri(uri: str) -> VersionRef | None:
    """`models:/NAME/VERSION` or `models:/NAME@ALIAS`; None for anything else."""
    match = _MODELS_URI.match(uri)
    return VersionRef(match["name"], match["version"], match["alias"]) if match else None


def resolve_version(client: MlflowClient, uri: str) -> ModelVersion | None:
    """The registry version a `models:/` URI names (by number or alias); None for `runs:/`."""
    ref = parse_version_uri(uri)
    if ref is None:
        return None
    try:
        if ref.alias:
            return client.get_model_version_by_alias(ref.name, ref.alias)
        assert ref.version is not None  # parse_version_uri names a version or an alias
        return client.get_model_version(ref.name, ref.version)
    except MlflowException as error:
        raise ConfigError(f"no model version at {uri}: {error.message}") from error


def run_id_of(client: MlflowClient, uri: str) -> str | None:
    """The run that logged the model behind `runs:/` or `models:/` URI."""
    if uri.startswith("runs:/"):
        return uri.removeprefix("runs:/").split("/", 1)[0]
    version = resolve_version(client, uri)
    return version.run_id if version is not None else None


def champion(client: MlflowClient, name: str) -> ModelVersion | None:
    """The version holding the `champion` alias, or None when no version holds it yet."""
    try:
        return client.get_model_version_by_alias(name, CHAMPION)
    except MlflowException as error:
        if error.error_code in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE"):
            return None
        raise

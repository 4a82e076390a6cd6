"""Model registry: register from a run, list versions, pick the best, resolve refs, download; the
`champion` as an alias, or as a version tag where the registry has no aliases (Azure ML)."""

from __future__ import annotations

import math
import re
import time
import weakref
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Literal, TypeVar

import mlflow
import numpy as np
from mlflow.entities import LoggedModel
from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException
from mlflow.store.artifact.runs_artifact_repo import RunsArtifactRepository
from mlflow.tracking import MlflowClient

from tracking_demo.errors import ConfigError

if TYPE_CHECKING:
    from mlflow.store.artifact.artifact_repo import ArtifactRepository

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
    """Register a `runs:/RUN/NAME` model with this client's registry and wait until it is READY.

    The source is the run's logged model NAME where the server keeps one (`models:/m-...`, as
    MLflow's own `register_model` resolves it), else the run's artifacts under NAME. The client's
    own calls, not `mlflow.register_model`: the fluent one uses the process-wide URIs and prints
    three lines of its own to stderr on every registration.
    """
    run_id, source, model_id = model_source(client, model_uri)
    try:
        client.create_registered_model(name)
    except MlflowException as error:
        if error.error_code not in ("RESOURCE_ALREADY_EXISTS", "ALREADY_EXISTS"):
            raise
    version = client.create_model_version(
        name,
        source,
        run_id=run_id,
        tags=dict(tags or {}),
        await_creation_for=0,
        model_id=model_id,
    )
    deadline = time.monotonic() + timeout_s
    while version.status != "READY" and time.monotonic() < deadline:
        time.sleep(0.5)
        version = client.get_model_version(name, version.version)
    return version


def model_source(client: MlflowClient, model_uri: str) -> tuple[str, str, str | None]:
    """`runs:/RUN/NAME` -> (run id, the source a version records, the logged model's id)."""
    run_id, artifact_path = RunsArtifactRepository.parse_runs_uri(model_uri)
    if not artifact_path:
        raise ConfigError(f"'{model_uri}' names no model: expected runs:/RUN_ID/NAME")
    logged = logged_model_of_run(client, run_id, artifact_path)
    if logged is not None:
        return run_id, f"models:/{logged.model_id}", logged.model_id
    return run_id, f"{client.get_run(run_id).info.artifact_uri.rstrip('/')}/{artifact_path}", None


def register_once(
    client: MlflowClient, model_uri: str, name: str, tags: Mapping[str, str] | None = None
) -> ModelVersion:
    """Register unless this exact model (same run, same source) already is: replays stay single."""
    run_id, source, _ = model_source(client, model_uri)
    existing: Sequence[ModelVersion]
    try:
        existing = client.search_model_versions(f"name = '{name}' and run_id = '{run_id}'")
    except MlflowException:
        existing = []
    for version in existing:
        if (version.source or "").rstrip("/") == source.rstrip("/"):
            return version
    return register(client, model_uri, name, tags)


# --- logged models, where the server has MLflow 3's API ----------------------------------------
#
# Azure ML's server (and the local `--azure-surface` one) answers 404 to every logged-models
# route; there a model is the run's artifacts under its name (docs/architecture.md, rule 3).


def no_logged_models_api(error: MlflowException) -> bool:
    """The server has no logged-models route: 404 (MLflow maps a bare 404 to
    ENDPOINT_NOT_FOUND too) or 501. Anything else is an answer about the call, not the route."""
    return error.error_code == "ENDPOINT_NOT_FOUND" or error.get_http_status_code() in (404, 501)


def has_logged_models(client: MlflowClient, experiment_id: str) -> bool:
    """One cheap search decides; errors other than "no such route" propagate (a server that is
    away must not make a run portable)."""
    try:
        client.search_logged_models(experiment_ids=[experiment_id], max_results=1)
    except MlflowException as error:
        if no_logged_models_api(error):
            return False
        raise
    return True


def logged_model_of_run(client: MlflowClient, run_id: str, name: str) -> LoggedModel | None:
    """The logged model named `name` that run `run_id` created; None where there is none or the
    server has no logged models. The newest wins, as MLflow's `register_model` picks it."""
    experiment_id = client.get_run(run_id).info.experiment_id
    found: list[LoggedModel] = []
    token: str | None = None
    try:
        while True:
            page = client.search_logged_models(
                experiment_ids=[experiment_id],
                filter_string=f"source_run_id = '{run_id}' AND name = '{name}'",
                page_token=token,
            )
            found += [m for m in page if m.source_run_id == run_id and m.name == name]
            token = page.token
            if not token:
                break
    except MlflowException as error:
        if no_logged_models_api(error):
            return None
        raise
    return max(found, key=lambda m: m.creation_timestamp, default=None)


def run_model_files(client: MlflowClient, run_id: str, name: str = "model") -> list[str]:
    """The file names at the top of run `run_id`'s model `name`, wherever it was logged: its
    artifacts under `name`, or its logged model. Never `MlflowClient.list_artifacts(run, name)`:
    MLflow 3.15 answers that by also searching logged models, which fails where they are missing.
    """
    listed = run_artifact_repository(client, run_id).list_artifacts(name)
    if listed:
        return [PurePosixPath(item.path).name for item in listed]
    logged = logged_model_of_run(client, run_id, name)
    if logged is None:
        return []
    return [
        PurePosixPath(item.path).name
        for item in client.list_logged_model_artifacts(logged.model_id)
    ]


def run_artifact_repository(client: MlflowClient, run_id: str) -> ArtifactRepository:
    """The run's own artifact store, without the logged-models lookups `runs:/` URIs add."""
    from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository

    artifact_uri = client.get_run(run_id).info.artifact_uri
    return get_artifact_repository(artifact_uri, tracking_uri=client.tracking_uri)


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


# --- metric names and tag values -----------------------------------------------------------
#
# One naming convention (docs/architecture.md, rule 7): test-set metrics are `test_*`, per-epoch
# metrics are named as Keras names them. Versions registered, and runs logged, before it carry
# the old names; reading falls back to them here, and only here.
LEGACY_METRIC_NAMES: dict[str, str] = {
    "test_accuracy": "accuracy",  # moons (and MNIST logreg, which logged both)
    "test_mae": "MAE",  # housing
    "test_rmse": "RMSE",
    "test_mae_mean_predictor": "mean_predictor_MAE",
    "best_val_accuracy": "val_accuracy",  # the MNIST networks' version tag
}
TAG_SIGNIFICANT_DIGITS = 6

V = TypeVar("V")


CURRENT_METRIC_NAMES: dict[str, str] = {old: new for new, old in LEGACY_METRIC_NAMES.items()}


def recorded(values: Mapping[str, V], name: str) -> V | None:
    """`values[name]`, else the same measure under its other name: a new name reads a version or
    run from before the convention, an old name (`--best-by accuracy`, a user's script) a new one.
    """
    if name in values:
        return values[name]
    other = LEGACY_METRIC_NAMES.get(name) or CURRENT_METRIC_NAMES.get(name)
    return values.get(other) if other is not None else None


def format_metric_tag(value: float) -> str:
    """A metric as a version tag, one way for every task: six significant digits, no exponent,
    no trailing zeros (`0.985`, `47123.5`), so the registry UI shows comparable values."""
    return str(
        np.format_float_positional(
            float(value), precision=TAG_SIGNIFICANT_DIGITS, unique=True, fractional=False, trim="-"
        )
    )


def metric_of(client: MlflowClient, version: ModelVersion, metric: str) -> ScoredVersion | None:
    """The version's own tag wins (it is what the task judged the model by, e.g. the restored
    epoch's val accuracy); otherwise the latest value of the metric on the version's run. Both
    read the metric's name before the `test_*` convention when the new one is absent."""
    from_tag = _float_or_none(recorded(version.tags, metric))
    if from_tag is not None:
        return ScoredVersion(version, from_tag, "version tag")
    if not version.run_id:
        return None
    try:
        run_metrics = client.get_run(version.run_id).data.metrics
    except MlflowException:
        return None
    value = recorded(run_metrics, metric)
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
    uri = pinned_uri(MlflowClient(), model_uri_from_ref(ref))
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
    """The registry version a `models:/` URI names (by number or alias); None for `runs:/`.

    An alias is looked up as the registry keeps it: a real alias, or the version tag that
    stands in for one where the server has no aliases (`version_by_alias`)."""
    ref = parse_version_uri(uri)
    if ref is None:
        return None
    try:
        if ref.alias:
            version = version_by_alias(client, ref.name, ref.alias)
        else:
            assert ref.version is not None  # parse_version_uri names a version or an alias
            version = client.get_model_version(ref.name, ref.version)
    except MlflowException as error:
        raise ConfigError(f"no model version at {uri}: {error.message}") from error
    if version is None:
        how = held_by(client, ref.alias or CHAMPION)
        raise ConfigError(f"no model version at {uri}: no version of '{ref.name}' holds the {how}")
    return version


def pinned_uri(client: MlflowClient, uri: str) -> str:
    """`models:/NAME@ALIAS` as `models:/NAME/VERSION`, so that downloads never ask the server
    for an alias (Azure ML has none) and serve exactly the version that was resolved."""
    ref = parse_version_uri(uri)
    if ref is None or ref.alias is None:
        return uri
    version = resolve_version(client, uri)
    assert version is not None  # an alias URI resolves to a version or raises
    return f"models:/{ref.name}/{version.version}"


def run_id_of(client: MlflowClient, uri: str) -> str | None:
    """The run that logged the model behind `runs:/` or `models:/` URI."""
    if uri.startswith("runs:/"):
        return uri.removeprefix("runs:/").split("/", 1)[0]
    version = resolve_version(client, uri)
    return version.run_id if version is not None else None


# --- aliases, or the version tag standing in for them -----------------------------------------
#
# Azure ML's MLflow registry documents stages, tags and descriptions, not aliases, and the
# azureml-mlflow plugin passes alias calls to a server that does not promise to answer them. So
# an `azureml://` registry, or any server that refuses the first alias call with 404
# (`ENDPOINT_NOT_FOUND`), gets tag mode: the version holding alias A carries the tag `A=true`,
# and moving A moves the tag, so exactly one version holds it. The mode is found once per client.

Mechanism = Literal["alias", "tag"]
TAG_VALUE = "true"
NOT_HELD = ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE")

_modes: weakref.WeakKeyDictionary[MlflowClient, Mechanism] = weakref.WeakKeyDictionary()


def _no_alias_route(error: MlflowException) -> bool:
    """The server has no such route (MLflow maps a 404 without its own error code here too)."""
    return error.error_code == "ENDPOINT_NOT_FOUND"


def known_mechanism(client: MlflowClient) -> Mechanism | None:
    """What this client found (or was told by its registry URI); None before the first call."""
    if client not in _modes and _registry_uri(client).startswith("azureml:"):
        _modes[client] = "tag"
    return _modes.get(client)


def describe_mechanism(mechanism: Mechanism, alias: str) -> str:
    """How output names the mechanism: `alias champion`, or the tag that stands in for it."""
    if mechanism == "alias":
        return f"alias {alias}"
    return f"tag {alias}={TAG_VALUE}; this registry has no aliases"


def version_by_alias(client: MlflowClient, name: str, alias: str) -> ModelVersion | None:
    """The version holding `alias`, or None when none does (or the model does not exist)."""
    if known_mechanism(client) != "tag":
        try:
            version = client.get_model_version_by_alias(name, alias)
        except MlflowException as error:
            if _no_alias_route(error):
                _modes[client] = "tag"
            elif error.error_code in NOT_HELD:
                _modes[client] = "alias"
                return None
            else:
                raise
        else:
            _modes[client] = "alias"
            return version
    holders = _tag_holders(client, name, alias)
    return holders[0] if holders else None


def set_alias(client: MlflowClient, name: str, alias: str, version: str) -> Mechanism:
    """Point `alias` at `version`: the alias itself, or the tag moved so only `version` has it."""
    if known_mechanism(client) != "tag":
        try:
            client.set_registered_model_alias(name, alias, version)
        except MlflowException as error:
            if not _no_alias_route(error):
                raise
            _modes[client] = "tag"
        else:
            _modes[client] = "alias"
            return "alias"
    # The new holder first, then the old ones lose the tag: never a moment with no champion.
    client.set_model_version_tag(name, version, alias, TAG_VALUE)
    for holder in _tag_holders(client, name, alias):
        if holder.version != str(version):
            client.delete_model_version_tag(name, holder.version, alias)
    return "tag"


def aliases_of(version: ModelVersion, tag_aliases: Iterable[str]) -> list[str]:
    """The version's aliases, both kinds: real ones, and those of `tag_aliases` it holds as a
    tag (only named ones: any other tag may be `true` for reasons of its own)."""
    tagged = {alias for alias in tag_aliases if version.tags.get(alias) == TAG_VALUE}
    return sorted(set(version.aliases) | tagged)


def _tag_holders(client: MlflowClient, name: str, alias: str) -> list[ModelVersion]:
    """Versions tagged `alias=true`, newest first (filtered here: tag filters in the search
    string are not among what Azure ML documents)."""
    versions = client.search_model_versions(f"name = '{name}'")
    holders = [v for v in versions if v.tags.get(alias) == TAG_VALUE]
    return sorted(holders, key=lambda v: int(v.version), reverse=True)


def _registry_uri(client: MlflowClient) -> str:
    """MlflowClient keeps the registry URI it resolved only as a private attribute."""
    return str(getattr(client, "_registry_uri", "") or "")


def champion(client: MlflowClient, name: str) -> ModelVersion | None:
    """The version holding `champion` (alias or tag), or None when no version holds it yet."""
    return version_by_alias(client, name, CHAMPION)


def set_champion(client: MlflowClient, name: str, version: str) -> Mechanism:
    """Make `version` the only champion of `name`; says which mechanism carried it."""
    return set_alias(client, name, CHAMPION, version)


def held_by(client: MlflowClient, alias: str = CHAMPION) -> str:
    """For output: how the registry behind `client` holds `alias` (found by its last lookup)."""
    return describe_mechanism(known_mechanism(client) or "alias", alias)

"""Which registered model version a deploy means: NAME:VERSION, NAME@ALIAS, or NAME --best-by.

Parsed before any login (a typo is one line, not a stack trace); resolved against an MLflow
registry, the local server's or the workspace's, when the deploy runs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

import click

from tracking_demo.errors import ConfigError

_NAME = re.compile(r"^[^:@/]+$")


@dataclass(frozen=True)
class ModelTarget:
    """Which registered version to deploy: by number, by alias, or the best by a metric."""

    ref: str
    name: str
    version: str | None = None
    alias: str | None = None
    best_by: str | None = None
    mode: str = "max"

    def describe(self) -> dict[str, str]:
        described = {"ref": self.ref, "name": self.name}
        for key in ("version", "alias", "best_by"):
            value = getattr(self, key)
            if value is not None:
                described[key] = value
        if self.best_by:
            described["mode"] = self.mode
        return described


def parse_target(model: str, best_by: str | None, mode: str | None) -> ModelTarget:
    """NAME:VERSION, NAME@ALIAS, models:/ URIs, or a bare NAME with --best-by METRIC."""
    text = model.strip()
    if mode is not None and not best_by:
        raise ConfigError("--mode needs --best-by METRIC (it says which way the metric is better)")
    if best_by:
        if not _NAME.match(text):
            raise ConfigError(
                f"--best-by picks the version itself: give the bare model NAME, not '{model}'"
            )
        return ModelTarget(text, text, best_by=best_by, mode=mode or "max")
    if _NAME.match(text):
        raise ConfigError(
            f"model '{model}' names no version: give NAME:VERSION, NAME@champion, or "
            "NAME --best-by METRIC"
        )
    from tracking_demo import registry

    ref = registry.parse_version_uri(registry.model_uri_from_ref(text))
    if ref is None:
        raise ConfigError(
            f"model '{model}' is not a registered model version (NAME:VERSION, NAME@ALIAS or "
            "models:/NAME/VERSION): a web service deploys from the registry"
        )
    return ModelTarget(text, ref.name, version=ref.version, alias=ref.alias)


def mlflow_client(tracking_uri: str) -> Any:
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)


def resolve_version(client: Any, target: ModelTarget) -> str:
    """The version number behind the target, from an MLflow registry (local or the workspace's)."""
    from tracking_demo import registry

    if target.best_by:
        mode: Literal["max", "min"] = "min" if target.mode == "min" else "max"
        best = registry.rank_versions(client, target.name, target.best_by, mode).best
        click.echo(
            f"best version of {target.name} by {target.best_by} ({target.mode}): "
            f"{best.version.version} ({best.value:g}, {best.source})",
            err=True,
        )
        return str(best.version.version)
    uri = (
        f"models:/{target.name}/{target.version}"
        if target.version
        else f"models:/{target.name}@{target.alias}"
    )
    version = registry.resolve_version(client, uri)
    if version is None:
        raise ConfigError(f"no model version at {uri}")
    if target.alias:
        click.echo(
            f"{target.name}@{target.alias} is version {version.version} "
            f"({registry.held_by(client, target.alias)})",
            err=True,
        )
    return str(version.version)

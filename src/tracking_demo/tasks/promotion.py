"""Promote the newest version of a model to `champion` only when it scores better than the current
champion on the same held-out data; the comparison is logged as a run either way.

The champion is the registry's alias where the server has aliases, else the version tag
`champion=true` (Azure ML): `tracking_demo.aliases` finds which, once per client."""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path

from mlflow.entities.model_registry import ModelVersion
from mlflow.tracking import MlflowClient

from tracking_demo import evaluation, registry
from tracking_demo.errors import ConfigError, TrackingDemoError
from tracking_demo.evaluation import Examples, Metric, Mode
from tracking_demo.serving import model as model_io
from tracking_demo.tasks import catalog
from tracking_demo.tracking import tags
from tracking_demo.tracking.session import TrackingSession


@dataclass(frozen=True)
class PromotionOptions:
    name: str
    metric: str
    mode: Mode | None = None
    min_delta: float = 0.0
    data_dir: Path | None = None
    model_kind: str | None = None
    candidate: str | None = None


@dataclass(frozen=True)
class PromotionResult:
    name: str
    metric: str
    mode: Mode
    candidate: str
    champion: str | None
    candidate_value: float | None
    champion_value: float | None
    promoted: bool
    reason: str
    run_id: str | None
    mechanism: registry.Mechanism

    @property
    def held_by(self) -> str:
        """How the registry holds the champion, for output: `alias champion` or the tag."""
        return registry.describe_mechanism(self.mechanism, registry.CHAMPION)

    @property
    def delta(self) -> float | None:
        if self.candidate_value is None or self.champion_value is None:
            return None
        sign = 1.0 if self.mode == "max" else -1.0
        return sign * (self.candidate_value - self.champion_value)


def model_kind(client: MlflowClient, version: ModelVersion, given: str | None) -> str:
    """`--model-kind`, else the kind of the task that registered the version (its `task` tag,
    or its run's `tracking_demo.task` tag)."""
    if given:
        return given
    kind = catalog.data_kind_of(version.tags.get(tags.VERSION_TASK))
    if kind is None and version.run_id:
        run = client.get_run(version.run_id)
        kind = catalog.data_kind_of(run.data.tags.get(tags.TASK))
    if kind is None:
        raise ConfigError(
            f"cannot tell which test data suits {version.name}:{version.version} (no known "
            f"'task' tag); pass --model-kind {'|'.join(evaluation.LOADERS)}"
        )
    return kind


def score_version(version: ModelVersion, examples: Examples, metric: Metric) -> float:
    """Score through the same loader the endpoint uses, so what is promoted is what serves."""
    uri = f"models:/{version.name}/{version.version}"
    try:
        loaded = model_io.load(uri)
        predicted = loaded.predict(examples.features)
    except TrackingDemoError:
        raise
    except Exception as error:
        raise ConfigError(
            f"cannot score {version.name}:{version.version} on {examples.source}: {error}"
        ) from error
    return metric.compute(examples.targets, predicted)


def promote(options: PromotionOptions, session: TrackingSession) -> PromotionResult:
    client = session.client
    metric = evaluation.metric(options.metric)
    mode: Mode = options.mode or metric.mode
    if options.min_delta < 0:
        raise ConfigError(f"--min-delta must be 0 or more, got {options.min_delta}")
    versions = registry.list_versions(client, options.name)
    candidate = _pick_candidate(versions, options)
    champion = registry.champion(client, options.name)
    mechanism = registry.known_mechanism(client) or "alias"
    if champion is not None and champion.version == candidate.version:
        return PromotionResult(
            options.name, metric.name, mode, candidate.version, champion.version,
            None, None, False, f"version {candidate.version} already is the champion", None,
            mechanism,
        )  # fmt: skip
    kind = model_kind(client, candidate, options.model_kind)
    examples = evaluation.load(kind, options.data_dir)
    candidate_value = score_version(candidate, examples, metric)
    champion_value = score_version(champion, examples, metric) if champion else None

    with session.run(
        tags={tags.TASK: catalog.PROMOTE.name, "model": options.name},
        name_prefix=catalog.PROMOTE.run_prefix,
    ) as run:
        session.log_params(
            {
                "model": options.name,
                "metric": metric.name,
                "mode": mode,
                "min_delta": options.min_delta,
                "candidate_version": candidate.version,
                "champion_version": champion.version if champion else "none",
                "n_examples": len(examples),
                "data": str(examples.source),
            }
        )
        values = {f"candidate_{metric.name}": candidate_value}
        if champion_value is not None:
            values[f"champion_{metric.name}"] = champion_value
        session.log_metrics(values)
        promoted, reason = _decide(candidate_value, champion_value, mode, options.min_delta)
        if promoted:
            reason = f"version {candidate.version} {reason}"
        result = PromotionResult(
            options.name, metric.name, mode, candidate.version,
            champion.version if champion else None, candidate_value, champion_value,
            promoted, reason, run.run_id, mechanism,
        )  # fmt: skip
        if result.delta is not None:
            session.log_metrics({"delta": result.delta})
        session.set_tags(
            {
                "decision": "promoted" if promoted else "kept",
                "reason": reason,
                "champion_held_by": mechanism,
            }
        )
        session.log_text(json.dumps(_comparison(result, examples), indent=2), "comparison.json")
    if promoted:
        moved_by = registry.set_champion(client, options.name, candidate.version)
        client.set_model_version_tag(
            options.name,
            candidate.version,
            f"heldout_{metric.name}",
            registry.format_metric_tag(candidate_value),
        )
        result = replace(result, mechanism=moved_by)
    return result


def _pick_candidate(versions: list[ModelVersion], options: PromotionOptions) -> ModelVersion:
    if options.candidate is None:
        return versions[0]
    for version in versions:
        if version.version == options.candidate:
            return version
    raise ConfigError(
        f"'{options.name}' has no version {options.candidate} "
        f"(versions: {', '.join(v.version for v in versions)})"
    )


def _decide(
    candidate: float, champion: float | None, mode: Mode, min_delta: float
) -> tuple[bool, str]:
    if champion is None:
        return True, "becomes the first champion (no version was champion)"
    gain = candidate - champion if mode == "max" else champion - candidate
    if gain > 0 and gain >= min_delta:
        return True, f"beats the champion by {gain:.6f} (needed {min_delta})"
    return False, (
        f"the candidate is not better by at least {min_delta}: {candidate:.6f} against "
        f"{champion:.6f} ({mode} is better)"
    )


def _comparison(result: PromotionResult, examples: Examples) -> dict[str, object]:
    return {
        "model": result.name,
        "metric": result.metric,
        "mode": result.mode,
        "data": str(examples.source),
        "n_examples": len(examples),
        "candidate": {"version": result.candidate, "value": result.candidate_value},
        "champion": {"version": result.champion, "value": result.champion_value},
        "promoted": result.promoted,
        "reason": result.reason,
    }

"""The one skeleton every training task runs in.

A task's steps load data, fit and evaluate, logging only what happens as it happens (inputs,
per-epoch metrics); they return an `Outcome`. `run_task` opens the run with the task's tag,
logs the options it was given first (so a failed run still says what it was asked), records the
outcome in one order (params, metrics, tags, figures, the model, its registration) and
returns one `TaskResult` type for every task. A run its steps report stopped on purpose (a sweep's
policy) ends KILLED with the reason as its description.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tracking_demo.tasks.catalog import Task
from tracking_demo.tracking import tags
from tracking_demo.tracking.session import TrackingSession

if TYPE_CHECKING:
    from matplotlib.figure import Figure


@dataclass(frozen=True)
class ModelToLog:
    """How to write the trained model as an MLflow model folder, and what a registered version
    of it says about itself (the task's name is added).

    Where the server has logged models, the model is one named `name`, with `params` (default:
    the outcome's) and the run's params, and `linked_metrics` (default: the outcome's metrics)
    linked to it; elsewhere its files are the run's artifacts under `name` (rule 3).
    """

    save: Callable[[Path], None]
    registration_tags: Mapping[str, str] = field(default_factory=dict)
    name: str = "model"
    params: Mapping[str, Any] | None = None
    linked_metrics: Sequence[str] | None = None


@dataclass(frozen=True)
class Outcome:
    """What a task's steps found, for `run_task` to record."""

    params: Mapping[str, Any] = field(default_factory=dict)
    metrics: Mapping[str, float] = field(default_factory=dict)
    tags: Mapping[str, str] = field(default_factory=dict)
    figures: Mapping[str, Figure] = field(default_factory=dict)  # artifact file -> figure
    model: ModelToLog | None = None
    history: Mapping[str, list[float]] = field(default_factory=dict)  # per-epoch metrics
    selected: Mapping[str, Any] = field(default_factory=dict)  # hyper-parameters it chose
    terminated_at: int | None = None  # the epoch a sweep's policy stopped it at
    stop_reason: str | None = None  # why it was stopped: the run ends KILLED, this its description


@dataclass(frozen=True)
class TaskResult:
    """What a command prints and a caller keeps: the run, its metrics, the model and version."""

    task: str
    run_id: str
    metrics: dict[str, float]
    model_uri: str | None = None
    registered_name: str | None = None
    registered_version: str | None = None
    history: dict[str, list[float]] = field(default_factory=dict)
    selected: dict[str, Any] = field(default_factory=dict)
    terminated_at: int | None = None


Steps = Callable[[TrackingSession], Outcome]


def run_task(
    session: TrackingSession,
    task: Task,
    steps: Steps,
    *,
    params: Mapping[str, Any] | None = None,
    register_as: str | None = None,
    run_prefix: str | None = None,
) -> TaskResult:
    """Run `steps` inside one MLflow run of `task` named after it (`run_prefix` overrides the
    task's, e.g. for LeNet); a failure leaves the run FAILED."""
    with session.run(tags={tags.TASK: task.name}, name_prefix=run_prefix or task.run_prefix) as run:
        if params:
            session.log_params(params)
        return record(session, run.run_id, task, steps(session), register_as)


def record(
    session: TrackingSession,
    run_id: str,
    task: Task,
    outcome: Outcome,
    register_as: str | None = None,
) -> TaskResult:
    """Log `outcome` into the open run and register its model when asked."""
    if outcome.params:
        session.log_params(outcome.params)
    if outcome.metrics:
        session.log_metrics(outcome.metrics)
    if outcome.tags:
        session.set_tags(outcome.tags)
    if outcome.stop_reason is not None:
        session.stop_run(outcome.stop_reason)
    for artifact_file, figure in outcome.figures.items():
        session.log_figure(figure, artifact_file)
    model_uri = version = None
    if outcome.model is not None:
        model = outcome.model
        linked = outcome.metrics if model.linked_metrics is None else model.linked_metrics
        model_uri = session.log_model(
            model.save,
            model.name,
            params=outcome.params if model.params is None else model.params,
            model_type=task.name,
            linked_metrics=linked,
        )
        if register_as:
            version_tags = {tags.VERSION_TASK: task.name, **outcome.model.registration_tags}
            version = session.register_model(model_uri, register_as, tags=version_tags)
    return TaskResult(
        task=task.name,
        run_id=run_id,
        metrics=dict(outcome.metrics),
        model_uri=model_uri,
        registered_name=register_as if outcome.model is not None else None,
        registered_version=str(version) if version is not None else None,
        history={name: list(values) for name, values in outcome.history.items()},
        selected=dict(outcome.selected),
        terminated_at=outcome.terminated_at,
    )

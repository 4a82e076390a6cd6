"""What a training command prints when its run is done: metrics, then where to look."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from tracking_demo.tasks.options import GridValue
    from tracking_demo.tasks.recording import TaskResult
    from tracking_demo.tracking.session import TrackingSession


def registered_name(result: TaskResult) -> str:
    return f"models:/{result.registered_name}/{result.registered_version}"


def print_run_links(result: TaskResult, session: TrackingSession) -> None:
    """Where to look: the run's page, the model URI and the registered version."""
    click.echo(f"Run: {session.run_url(result.run_id)}")
    if result.model_uri:
        click.echo(f"Model: {result.model_uri}")
    if result.registered_version:
        click.echo(f"Registered: {registered_name(result)}")


def print_result(result: TaskResult, session: TrackingSession, number: str = ".4f") -> None:
    """The run's metrics (whole numbers as such, others in `number` format), then its links."""
    click.echo("Metrics:")
    for name, value in result.metrics.items():
        text = f"{value:g}" if float(value).is_integer() else format(value, number)
        click.echo(f"{name} {text}")
    print_run_links(result, session)


def print_moons_summary(
    result: TaskResult, grid: Mapping[str, Sequence[GridValue]], session: TrackingSession
) -> None:
    """The grid searched, the hyper-parameters it selected, the metrics, then the links."""
    from tracking_demo.tasks.moons import grid_params, selected_params

    click.echo("Hyper-parameters:")
    for name, value in grid_params(grid).items():
        click.echo(f"{name} {value}")
    click.echo("Selected hyper-parameters:")
    for name, value in selected_params(result.selected).items():
        click.echo(f"{name} {value}")
    click.echo("Metrics:")
    for name in ("test_accuracy", "cv_best_score"):
        click.echo(f"{name} {result.metrics[name]:.4f}")
    print_run_links(result, session)

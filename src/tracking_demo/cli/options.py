"""Options and wiring that several command modules share."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])


def tracking_options(func: F) -> F:
    """The options every command that talks to a tracking server shares (docs/architecture.md,
    rule 2)."""
    func = click.option(
        "--experiment",
        help="Experiment name [default: $MLFLOW_EXPERIMENT_NAME or tracking-demo].",
    )(func)
    func = click.option(
        "--workspace-config",
        type=click.Path(path_type=Path, dir_okay=False),
        help="Azure ML workspace config.json whose MLflow tracking URI to use.",
    )(func)
    func = click.option(
        "--tracking-uri",
        help="MLflow tracking URI; 'azureml' finds config.json like Workspace.from_config "
        "[default: $MLFLOW_TRACKING_URI, else http://127.0.0.1:5000].",
    )(func)
    return func


def session_from_options(
    tracking_uri: str | None, workspace_config: Path | None, experiment: str | None
) -> Any:
    from tracking_demo.tracking.session import TrackingSession
    from tracking_demo.tracking.settings import resolve_settings

    settings = resolve_settings(tracking_uri, experiment, os.environ, workspace_config)
    return TrackingSession(settings)


def registered_name(result: Any) -> str:
    return f"models:/{result.registered_name}/{result.registered_version}"


def print_run_links(result: Any, session: Any) -> None:
    """Where to look: the run's page, the model URI and the registered version."""
    click.echo(f"Run: {session.run_url(result.run_id)}")
    if result.model_uri:
        click.echo(f"Model: {result.model_uri}")
    if result.registered_version:
        click.echo(f"Registered: {registered_name(result)}")


def print_result(result: Any, session: Any, number: str = ".4f") -> None:
    """The run's metrics (whole numbers as such, others in `number` format), then its links."""
    click.echo("Metrics:")
    for name, value in result.metrics.items():
        text = f"{value:g}" if float(value).is_integer() else format(value, number)
        click.echo(f"{name} {text}")
    print_run_links(result, session)

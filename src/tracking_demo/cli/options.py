"""The tracking options every command that talks to a tracking server shares, as one object."""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

if TYPE_CHECKING:
    from tracking_demo.tracking.session import TrackingSession

R = TypeVar("R")


@dataclass(frozen=True)
class TrackingOptions:
    """Where runs go, as the user said it; the environment and the workspace are read only when
    a session is opened (docs/architecture.md, rule 2)."""

    tracking_uri: str | None = None
    workspace_config: Path | None = None
    experiment: str | None = None


def tracking_options(func: Callable[..., R]) -> Callable[..., R]:
    """`--tracking-uri`, `--workspace-config`, `--experiment`; the command receives them as one
    `tracking: TrackingOptions`."""

    @functools.wraps(func)
    def with_tracking(
        *args: Any,
        tracking_uri: str | None,
        workspace_config: Path | None,
        experiment: str | None,
        **kwargs: Any,
    ) -> R:
        tracking = TrackingOptions(tracking_uri, workspace_config, experiment)
        return func(*args, tracking=tracking, **kwargs)

    options = [
        click.option(
            "--experiment",
            help="Experiment name [default: $MLFLOW_EXPERIMENT_NAME or tracking-demo].",
        ),
        click.option(
            "--workspace-config",
            type=click.Path(path_type=Path, dir_okay=False),
            help="Azure ML workspace config.json whose MLflow tracking URI to use.",
        ),
        click.option(
            "--tracking-uri",
            help="MLflow tracking URI; 'azureml' finds config.json like Workspace.from_config "
            "[default: $MLFLOW_TRACKING_URI, else http://127.0.0.1:5000].",
        ),
    ]
    for option in options:
        with_tracking = option(with_tracking)
    return with_tracking


def session_from_options(tracking: TrackingOptions) -> TrackingSession:
    from tracking_demo.tracking.session import TrackingSession
    from tracking_demo.tracking.settings import resolve_settings

    settings = resolve_settings(
        tracking.tracking_uri, tracking.experiment, os.environ, tracking.workspace_config
    )
    return TrackingSession(settings)

"""`tracking-demo tensorboard RUN`: a run's TensorBoard event files, served locally."""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Callable, Iterator
from pathlib import Path
from types import FrameType

import click

from tracking_demo.cli.options import TrackingOptions, tracking_options

EVENT_FOLDER = "tensorboard"  # where the MNIST networks log them (tasks/tensorboard_logging.py)
DEFAULT_CACHE = Path(".tracking") / "tensorboard"


@click.command()
@click.argument("run")
@click.option(
    "--dir",
    "folder",
    type=click.Path(path_type=Path, file_okay=False),
    help="Where the event files go [default: .tracking/tensorboard/RUN_ID].",
)
@click.option(
    "--port", type=click.IntRange(1, 65535), help="TensorBoard's port [default: a free one]."
)
@click.option(
    "--interval",
    type=click.FloatRange(min=0.5),
    default=5.0,
    show_default=True,
    help="Seconds between fetches while the run is RUNNING.",
)
@click.option("--once", is_flag=True, help="Download the event files once and exit.")
@click.option(
    "--no-serve",
    is_flag=True,
    help="Do not start TensorBoard: fetch while the run is RUNNING, then exit.",
)
@tracking_options
def tensorboard(
    run: str,
    folder: Path | None,
    port: int | None,
    interval: float,
    once: bool,
    no_serve: bool,
    tracking: TrackingOptions,
) -> None:
    """Fetch RUN's TensorBoard event files and start TensorBoard on them.

    RUN is a run id, the run's page URL in the MLflow UI (which also names the server), or a
    run name in --experiment. While the run is RUNNING the files are fetched again every
    --interval seconds (only new or grown ones); TensorBoard serves on 127.0.0.1 until Ctrl-C.
    """
    from mlflow.tracking import MlflowClient

    from tracking_demo import registry
    from tracking_demo.errors import ConfigError, ServerError
    from tracking_demo.tracking.artifact_mirror import (
        ACTIVE_STATUSES,
        ArtifactMirror,
        follow_while_active,
    )
    from tracking_demo.tracking.run_lookup import find_run, parse_run_reference
    from tracking_demo.tracking.settings import (
        DEFAULT_REQUEST_TIMEOUT_S,
        check_reachable,
        configure_http,
        resolve_settings,
    )

    # One progress bar per fetched file every few seconds says nothing; a user's setting wins.
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    reference = parse_run_reference(run)
    page_server = reference.server if tracking.workspace_config is None else None
    settings = resolve_settings(
        tracking.tracking_uri or page_server,
        tracking.experiment,
        os.environ,
        tracking.workspace_config,
    )
    configure_http(DEFAULT_REQUEST_TIMEOUT_S)
    check_reachable(settings.uri)
    client = MlflowClient(tracking_uri=settings.uri)
    found = find_run(client, reference.run, settings.experiment)
    run_id = found.info.run_id
    logdir = folder or DEFAULT_CACHE / run_id
    mirror = ArtifactMirror(registry.run_artifact_repository(client, run_id), EVENT_FOLDER, logdir)
    fetched = mirror.refresh()
    status = found.info.status
    have = sorted(p.relative_to(logdir).as_posix() for p in logdir.rglob("*") if p.is_file())
    if not have and status not in ACTIVE_STATUSES:
        raise ConfigError(
            f"run {run_id} ({status}) has no {EVENT_FOLDER}/ files; the MNIST networks log them "
            "(train mnist-cnn or mnist-lenet without --no-tensorboard)"
        )
    click.echo(
        f"run {run_id} ({status}): {len(have)} files in {logdir} ({len(fetched)} fetched now)"
    )
    if once:
        return

    def follow(keep_going: Callable[[], bool]) -> str:
        if status in ACTIVE_STATUSES:
            click.echo(f"fetching new event files every {interval:g}s while the run runs")
        return follow_while_active(
            mirror,
            lambda: client.get_run(run_id).info.status,
            interval,
            lambda paths: click.echo(f"fetched {', '.join(paths)}"),
            keep_going,
        )

    if no_serve:
        final = follow(lambda: True)
        click.echo(f"run {run_id} is {final}: its event files are in {logdir}")
        return

    from tracking_demo.server.tensorboard import start_tensorboard

    board = start_tensorboard(
        logdir, logdir.with_name(f"{logdir.name}.tensorboard.log"), port, interval
    )
    click.echo(f"TensorBoard: {board.url}  (Ctrl-C stops it; its output: {board.log})")
    try:
        with _sigterm_as_interrupt():
            final = follow(lambda: board.process.poll() is None)
            if board.process.poll() is None:
                click.echo(f"run {run_id} is {final}: no more fetching; TensorBoard serves on")
            code = board.process.wait()
            raise ServerError(f"TensorBoard exited with code {code}; its output is in {board.log}")
    except KeyboardInterrupt:
        click.echo("stopping TensorBoard")
    finally:
        board.stop()


@contextlib.contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """SIGTERM stops TensorBoard's group as Ctrl-C does, rather than orphaning it."""

    def interrupt(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)

"""`tracking-demo quickstart`: from nothing to a registered model in one command."""

from __future__ import annotations

import os
import time
from pathlib import Path

import click

from tracking_demo.cli.results import print_moons_summary
from tracking_demo.cli.server import data_dir_option

QUICKSTART_MODEL = "moons-rf"


@click.command()
@data_dir_option
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=click.IntRange(1, 65535), default=5000, show_default=True)
@click.option("--register-as", default=QUICKSTART_MODEL, show_default=True)
def quickstart(data_dir: Path, host: str, port: int, register_as: str) -> None:
    """Local server (started if none answers), two-moons data, a run and a registered model."""
    from tracking_demo.server.local import DEFAULT_DATA_DIR, LocalServer, is_healthy

    local = LocalServer(data_dir, host, port)
    started = time.monotonic()
    running = is_healthy(local.uri)
    # The server boots on one core while this process imports MLflow and the task (seconds).
    uri = local.uri if running else local.launch().uri
    from tracking_demo.data.moons import MoonsSpec, write
    from tracking_demo.tasks import moons
    from tracking_demo.tracking.session import TrackingSession
    from tracking_demo.tracking.settings import (
        DEFAULT_TRACKING_URI,
        TrackingSettings,
        default_wal_root,
    )

    moons_dir = data_dir / "datasets" / "moons"
    write(MoonsSpec(), moons_dir)
    if running:
        click.echo(f"Using the MLflow server already answering at {uri}")
    else:
        local.wait_healthy()
        click.echo(f"Started the MLflow server at {uri} in {time.monotonic() - started:.1f}s")
    # Its runs' logs live with its server's data unless the user chose a place for them.
    runs = default_wal_root(os.environ, data_dir / "runs")
    session = TrackingSession(TrackingSettings(uri=uri, wal_root=runs))
    options = moons.MoonsOptions(moons_dir, register_as=register_as)
    result = moons.train(options, session)
    print_moons_summary(result, dict(options.grid), session)
    # Commands to copy: they name the server and folder when those are not the defaults.
    tracking = "" if uri == DEFAULT_TRACKING_URI else f" --tracking-uri {uri}"
    folder = "" if data_dir == DEFAULT_DATA_DIR else f" --data-dir {data_dir}"
    click.echo("")
    click.echo(f"Open the MLflow UI:   {uri}")
    if result.registered_version:
        ref = f"{register_as}:{result.registered_version}"
        click.echo(f"Serve the model:      tracking-demo serve {ref}{tracking}")
    click.echo(f"Stop the server:      tracking-demo server stop{folder}")

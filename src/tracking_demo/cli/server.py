"""`tracking-demo server start|stop|status`: the local MLflow server."""

from __future__ import annotations

import os
import time
from pathlib import Path

import click

data_dir_option = click.option(
    "--data-dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=Path(".tracking"),
    show_default=True,
    help="Folder holding the sqlite database, the artifacts, the pid and the log.",
)


@click.group()
def server() -> None:
    """The local MLflow server (sqlite + local artifacts, loopback only by default)."""


@server.command("start")
@data_dir_option
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Address to listen on. Anything but loopback (127.0.0.0/8, ::1, localhost) needs "
    "--auth, or --insecure-no-auth.",
)
@click.option("--port", type=click.IntRange(1, 65535), default=5000, show_default=True)
@click.option("--workers", type=click.IntRange(1, 16), default=1, show_default=True)
@click.option(
    "--azure-surface",
    is_flag=True,
    help="Answer 404 to MLflow 3's logged-models API, as Azure ML's tracking server does.",
)
@click.option(
    "--auth",
    is_flag=True,
    help="MLflow's basic authentication, with the admin password from "
    "$TRACKING_DEMO_ADMIN_PASSWORD or --admin-password-file (never the command line, which ps "
    "shows to every user). Clients set MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD.",
)
@click.option(
    "--admin-username",
    default="admin",
    show_default=True,
    help="The admin user created on the first authenticated start.",
)
@click.option(
    "--admin-password-file",
    type=click.Path(path_type=Path, dir_okay=False),
    help="File whose one line is the admin password (implies --auth); each start sets it.",
)
@click.option(
    "--insecure-no-auth",
    is_flag=True,
    help="Serve a host off loopback without authentication (warned at every start).",
)
@click.option("--timeout", type=float, default=90.0, show_default=True, help="Seconds to wait.")
def server_start(
    data_dir: Path,
    host: str,
    port: int,
    workers: int,
    azure_surface: bool,
    auth: bool,
    admin_username: str,
    admin_password_file: Path | None,
    insecure_no_auth: bool,
    timeout: float,
) -> None:
    """Start the server in the background and wait until /health answers."""
    from tracking_demo.cli.secret_files import read_secret_file
    from tracking_demo.server.auth import insecure_warning, resolve_credentials
    from tracking_demo.server.local import LocalServer

    password_from_file = (
        None
        if admin_password_file is None
        else read_secret_file(admin_password_file, "--admin-password-file")
    )
    admin = resolve_credentials(
        host,
        auth=auth,
        insecure_no_auth=insecure_no_auth,
        password_from_file=password_from_file,
        username=admin_username,
        environ=os.environ,
    )
    if admin is None and insecure_no_auth:
        click.echo(insecure_warning(host), err=True)
    local = LocalServer(
        data_dir, host, port, workers=workers, azure_surface=azure_surface, admin=admin
    )
    started = time.monotonic()
    state = local.start(timeout=timeout)
    click.echo(
        f"MLflow server running at {state.uri} (pid {state.pid}, data in {state.data_dir}, "
        f"ready after {time.monotonic() - started:.1f}s)"
    )
    if admin is not None:
        click.echo(
            f"Basic authentication on (admin '{admin.username}'): clients set "
            "MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD"
        )
    click.echo(f"Log: {local.log_path}. Stop it with: tracking-demo server stop")


@server.command("stop")
@data_dir_option
def server_stop(data_dir: Path) -> None:
    """Stop the server of --data-dir and every process it started."""
    from tracking_demo.server.local import LocalServer

    stopped = LocalServer(data_dir).stop()
    click.echo("MLflow server stopped" if stopped else f"no MLflow server running for {data_dir}")


@server.command("status")
@data_dir_option
def server_status(data_dir: Path) -> None:
    """Say whether the server of --data-dir runs and answers; exit 1 when it does not."""
    from tracking_demo.server.local import LocalServer, is_healthy

    state = LocalServer(data_dir).read_state()
    if state is None:
        click.echo(f"no MLflow server running for {data_dir}")
        raise SystemExit(1)
    health = "healthy" if is_healthy(state.uri) else "NOT answering /health"
    auth = "basic auth" if state.auth else "no auth"
    click.echo(
        f"MLflow server at {state.uri}: pid {state.pid}, {health}, {auth}, data in {state.data_dir}"
    )
    if health != "healthy":
        raise SystemExit(1)

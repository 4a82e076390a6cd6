"""The `tracking-demo` command group; each command group lives in its own module."""

from __future__ import annotations

import click

from tracking_demo import __version__
from tracking_demo.cli.compare import compare
from tracking_demo.cli.data import data
from tracking_demo.cli.errors import OneLineErrors
from tracking_demo.cli.models import models
from tracking_demo.cli.output import configure_output
from tracking_demo.cli.quickstart import quickstart
from tracking_demo.cli.server import server
from tracking_demo.cli.serving import predict, serve
from tracking_demo.cli.sweep import sweep
from tracking_demo.cli.sync import sync
from tracking_demo.cli.tensorboard import tensorboard
from tracking_demo.cli.train import train


class _Cli(OneLineErrors, click.Group):
    """Print expected errors as one line; `--debug` shows the traceback instead.

    Start-up imports nothing heavy (MLflow, TensorFlow, pandas...): every command imports what
    it uses when it runs, so `--help` and `server status` answer at once
    (tests/cli/test_startup_imports.py).
    """


@click.group(cls=_Cli, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "-v", "--verbose", is_flag=True, help="Also show progress logs and MLflow's own output."
)
@click.option("--debug", is_flag=True, help="Show tracebacks and debug logs.")
@click.version_option(__version__, prog_name="tracking-demo")
def cli(verbose: bool, debug: bool) -> None:
    """Plain-MLflow training tasks: local server, data, training, registry."""
    configure_output(verbose, debug)


def main() -> None:
    cli(prog_name="tracking-demo")


for command in (
    server,
    data,
    train,
    models,
    sync,
    quickstart,
    serve,
    predict,
    sweep,
    compare,
    tensorboard,
):
    cli.add_command(command)

"""Errors a user can fix, printed as one line with exit status 1; `--debug` keeps the traceback.

`tracking-demo` and the Azure submitters (`jobs/`) share this adapter; each names the errors it
describes, so the submitters add the Azure SDK's without this package importing it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

import click

from tracking_demo.errors import (
    TrackingDemoError,
    credentials_refused_line,
    mlflow_error_message,
    refused_credentials_status,
)

ErrorLine = Callable[[Exception], str | None]


def own_error_line(error: Exception) -> str | None:
    return f"error: {error}" if isinstance(error, TrackingDemoError) else None


def mlflow_error_line(error: Exception) -> str | None:
    status = refused_credentials_status(error)
    if status is not None:
        return f"error: {credentials_refused_line(status)}"
    message = mlflow_error_message(error)
    return None if message is None else f"tracking server error: {message}"


class OneLineErrors(click.Command):
    """A command (or, mixed in before `click.Group`, a group) that prints the errors its
    `error_lines` describe instead of a traceback; any other exception is a bug and propagates.

    `--debug` is read from the command's own parameters.
    """

    error_lines: ClassVar[tuple[ErrorLine, ...]] = (own_error_line, mlflow_error_line)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except Exception as error:
            line = next(filter(None, (describe(error) for describe in self.error_lines)), None)
            if line is None or ctx.params.get("debug"):
                raise
            click.echo(line, err=True)
            ctx.exit(1)

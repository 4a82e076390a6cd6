"""One exception type per kind of user error, caught once by the CLI and printed as one line."""

from __future__ import annotations

import sys


class TrackingDemoError(Exception):
    """Base of the errors a user can fix; the CLI prints them without a traceback."""


class DataError(TrackingDemoError):
    """Input data is missing or malformed; the message names the file and the problem."""


class DownloadError(DataError):
    """A data set could not be fetched from any mirror; the message says what each one answered."""


class ConfigError(TrackingDemoError):
    """An option, a grid or a configuration file is invalid."""


class TrackingUnavailableError(TrackingDemoError):
    """The tracking server cannot be reached or refused the request."""


class ServerError(TrackingDemoError):
    """The local MLflow server could not be started, found or stopped."""


class TrackingIncompleteError(TrackingDemoError):
    """Some of a run's records were not acknowledged in time; `tracking-demo sync` finishes it."""


class DiskFullError(TrackingDemoError):
    """The file system of the runs folder is full: the run ends FAILED, nothing logged before is
    lost (docs/architecture.md, rule 4); the message names the folder, its free space and the fix.
    """

    ADVICE = "free space or set TRACKING_DEMO_RUNS_DIR to a larger disk and run again"

    def __init__(self, summary: str, outcome: str | None = None) -> None:
        self.summary = summary
        self.outcome = outcome
        super().__init__(f"{summary}: {outcome + '; ' if outcome else ''}{self.ADVICE}")


class EndpointError(TrackingDemoError):
    """A scoring endpoint could not be reached or refused a request; says what it answered."""


def mlflow_error_message(error: BaseException) -> str | None:
    """MLflow's message when `error` is an `MlflowException`, else None.

    Asked without importing MLflow (seconds of start-up for every command): an MlflowException
    can only exist once `mlflow.exceptions` has been imported by whatever raised it.
    """
    exceptions = sys.modules.get("mlflow.exceptions")
    if exceptions is not None and isinstance(error, exceptions.MlflowException):
        return str(error.message)
    return None

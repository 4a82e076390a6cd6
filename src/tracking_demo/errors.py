"""One exception type per kind of user error, caught once by the CLI and printed as one line."""

from __future__ import annotations

import os
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


class CredentialsRefusedError(TrackingUnavailableError):
    """The tracking server refused this client's credentials (HTTP 401/403): nothing a retry
    changes, nothing wrong with the records; the message names the variables to set."""


CREDENTIAL_VARIABLES = ("MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD")
REFUSED_CREDENTIAL_STATUSES = {"UNAUTHENTICATED": 401, "PERMISSION_DENIED": 403}


def credentials_refused_line(status: int, environ: dict[str, str] | None = None) -> str:
    """One line for a 401/403 from the tracking server, naming MLflow's own variables."""
    environ = dict(os.environ) if environ is None else environ
    username, password = (environ.get(name) for name in CREDENTIAL_VARIABLES)
    if status == 401 and not (username and password):
        what = "asks for a user and password (HTTP 401)"
    elif status == 401:
        what = f"refused the password of MLFLOW_TRACKING_USERNAME={username} (HTTP 401)"
    else:
        what = f"does not let {username or 'this client'} do this (HTTP 403)"
    return (
        f"the tracking server {what}: set {CREDENTIAL_VARIABLES[0]} and "
        f"{CREDENTIAL_VARIABLES[1]} to an account of it (for `tracking-demo server start --auth`: "
        "its admin and $TRACKING_DEMO_ADMIN_PASSWORD)"
    )


def refused_credentials_status(error: BaseException) -> int | None:
    """401 or 403 when `error` is MLflow's client reporting that status (an `MlflowException`,
    or the `requests.HTTPError` its artifact uploads and downloads raise), else None; asked
    without importing either, as `mlflow_error_message` is."""
    exceptions = sys.modules.get("mlflow.exceptions")
    if exceptions is not None and isinstance(error, exceptions.MlflowException):
        return REFUSED_CREDENTIAL_STATUSES.get(str(error.error_code))
    requests = sys.modules.get("requests")
    if requests is not None and isinstance(error, requests.HTTPError):
        status = getattr(error.response, "status_code", None)
        return status if status in REFUSED_CREDENTIAL_STATUSES.values() else None
    return None


def credentials_refused(error: BaseException) -> CredentialsRefusedError | None:
    """The one-line error to raise instead of `error` when it is the server refusing this
    client (401/403): a retry cannot change that answer, and the records are not at fault."""
    status = refused_credentials_status(error)
    return None if status is None else CredentialsRefusedError(credentials_refused_line(status))


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

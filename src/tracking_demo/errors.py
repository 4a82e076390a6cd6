"""One exception type per kind of user error, caught once by the CLI and printed as one line."""


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


class EndpointError(TrackingDemoError):
    """A scoring endpoint could not be reached or refused a request; says what it answered."""

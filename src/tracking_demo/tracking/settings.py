"""Where a command's runs go: the tracking URI, the experiment and the run, from options first,
then the environment (docs/architecture.md, rule 2), and the HTTP limits that keep a missing
server from costing minutes."""

from __future__ import annotations

import os
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

import requests

from tracking_demo.errors import CREDENTIAL_VARIABLES, TrackingUnavailableError

DEFAULT_TRACKING_URI = "http://127.0.0.1:5000"
DEFAULT_EXPERIMENT = "tracking-demo"
# (connect, read): a refused port fails at once, a black hole within 4.5 s.
REACHABILITY_TIMEOUT_S = (2.0, 2.5)
DEFAULT_REQUEST_TIMEOUT_S = 10.0
DEFAULT_WAL_ROOT = Path(".tracking") / "runs"


@dataclass(frozen=True)
class TrackingSettings:
    """Where and under which run a command logs; built once from options and environment."""

    uri: str
    experiment: str = DEFAULT_EXPERIMENT
    run_id: str | None = None
    run_name: str | None = None
    extra_tags: Mapping[str, str] = field(default_factory=dict)
    wal_root: Path = field(default_factory=lambda: default_wal_root(os.environ))
    request_timeout_s: float = DEFAULT_REQUEST_TIMEOUT_S


def default_wal_root(environ: Mapping[str, str], default: Path = DEFAULT_WAL_ROOT) -> Path:
    """Where runs keep their write-ahead logs: `$TRACKING_DEMO_RUNS_DIR`, else `default`."""
    return Path(environ.get("TRACKING_DEMO_RUNS_DIR") or default)


def resolve_tracking_uri(
    explicit: str | None,
    environ: Mapping[str, str],
    workspace_config: Path | None = None,
    default: str = DEFAULT_TRACKING_URI,
) -> str:
    """`--tracking-uri`, else a workspace asked for, else `MLFLOW_TRACKING_URI`, else local.

    The order of docs/architecture.md, rule 2. `--tracking-uri azureml` means "find the
    workspace's config.json as the Azure SDK does"; `--workspace-config` names the file.
    """
    if explicit and explicit != "azureml":
        return explicit
    if explicit == "azureml" or workspace_config is not None:
        from tracking_demo.tracking.workspace import tracking_uri_from_workspace

        return tracking_uri_from_workspace(workspace_config)
    from_env = environ.get("MLFLOW_TRACKING_URI", "").strip()
    if from_env:
        return from_env
    return default


def resolve_settings(
    tracking_uri: str | None,
    experiment: str | None,
    environ: Mapping[str, str],
    workspace_config: Path | None = None,
    run_name: str | None = None,
) -> TrackingSettings:
    """Options first, then what Azure ML sets inside a job (`MLFLOW_RUN_ID`, experiment name)."""
    return TrackingSettings(
        uri=resolve_tracking_uri(tracking_uri, environ, workspace_config),
        experiment=experiment or environ.get("MLFLOW_EXPERIMENT_NAME") or DEFAULT_EXPERIMENT,
        run_id=environ.get("MLFLOW_RUN_ID") or None,
        run_name=run_name,
        wal_root=default_wal_root(environ),
    )


_HTTP_DEFAULTS_SET: dict[str, str] = {}


def configure_http(
    request_timeout_s: float, environ: MutableMapping[str, str] = os.environ
) -> None:
    """MLflow's own retry schedule (minutes) must never be what a user waits on.

    The project's sender retries with its own backoff, so MLflow's HTTP layer makes one attempt
    with a bounded timeout. Values the user set in the environment are left alone.
    """
    wanted = {
        "MLFLOW_HTTP_REQUEST_TIMEOUT": str(max(1, round(request_timeout_s))),
        "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0",
    }
    for name, value in wanted.items():
        if name not in environ or _HTTP_DEFAULTS_SET.get(name) == environ[name]:
            environ[name] = value
            _HTTP_DEFAULTS_SET[name] = value


def basic_auth(environ: Mapping[str, str]) -> tuple[str, str] | None:
    """The user and password MLflow's own client sends (`MLFLOW_TRACKING_USERNAME/PASSWORD`),
    for the project's own requests to the tracking server: the same server, the same account."""
    username, password = (environ.get(name) for name in CREDENTIAL_VARIABLES)
    return (username, password) if username and password else None


def check_reachable(uri: str) -> None:
    """Fail within 5 s, not after MLflow's minutes of retries, when an HTTP server is absent."""
    parsed = urlparse(uri)
    if parsed.scheme not in ("http", "https"):
        return
    try:
        requests.get(
            f"{uri.rstrip('/')}/health", timeout=REACHABILITY_TIMEOUT_S, auth=basic_auth(os.environ)
        )
    except requests.RequestException as error:
        hint = (
            "; start the local one with `tracking-demo server start`"
            if parsed.hostname in ("127.0.0.1", "localhost", "::1")
            else ""
        )
        raise TrackingUnavailableError(
            f"no MLflow tracking server answers at {uri} ({type(error).__name__}){hint}"
        ) from error

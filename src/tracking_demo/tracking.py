"""The tracking session: where runs go, how they start and end, and how models are logged.

Tasks receive a `TrackingSession` and speak only MLflow through it; nothing here imports an
Azure SDK (the workspace lookup lives in `azure_workspace`, imported lazily).
"""

from __future__ import annotations

import logging
import subprocess
import tempfile
import time
import traceback
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

import mlflow
import requests
from mlflow.entities import Metric, RunStatus
from mlflow.tracking import MlflowClient
from mlflow.utils.validation import MAX_METRICS_PER_BATCH

from tracking_demo import __version__
from tracking_demo.errors import TrackingUnavailableError

logger = logging.getLogger(__name__)

DEFAULT_TRACKING_URI = "http://127.0.0.1:5000"
DEFAULT_EXPERIMENT = "tracking-demo"
ERROR_TAG = "tracking_demo.error"
ERROR_ARTIFACT = "error.txt"
MAX_TAG_LENGTH = 5000
REACHABILITY_TIMEOUT_S = 5.0


@dataclass(frozen=True)
class TrackingSettings:
    """Where and under which run a command logs; built once from options and environment."""

    uri: str
    experiment: str = DEFAULT_EXPERIMENT
    run_id: str | None = None
    run_name: str | None = None
    extra_tags: Mapping[str, str] = field(default_factory=dict)


def resolve_tracking_uri(
    explicit: str | None,
    environ: Mapping[str, str],
    workspace_config: Path | None = None,
    default: str = DEFAULT_TRACKING_URI,
) -> str:
    """DESIGN rule 2: `--tracking-uri`, then `MLFLOW_TRACKING_URI`, then a workspace, then local.

    `--tracking-uri azureml` means "find the workspace's config.json as the Azure SDK does".
    """
    if explicit and explicit != "azureml":
        return explicit
    if explicit == "azureml" or workspace_config is not None:
        from tracking_demo.azure_workspace import tracking_uri_from_workspace

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
    )


def git_commit(cwd: Path | None = None) -> str | None:
    """The commit of the working tree the command runs from, when there is one."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def check_reachable(uri: str, timeout: float = REACHABILITY_TIMEOUT_S) -> None:
    """Fail in seconds, not after MLflow's minutes of retries, when an HTTP server is absent."""
    parsed = urlparse(uri)
    if parsed.scheme not in ("http", "https"):
        return
    try:
        requests.get(f"{uri.rstrip('/')}/health", timeout=timeout)
    except requests.RequestException as error:
        hint = (
            "; start the local one with `tracking-demo server start`"
            if parsed.hostname in ("127.0.0.1", "localhost", "::1")
            else ""
        )
        raise TrackingUnavailableError(
            f"no MLflow tracking server answers at {uri} " f"({type(error).__name__}){hint}"
        ) from error


class TrackingSession:
    """Owns the tracking connection: URI, experiment, the run's life and failure recording."""

    def __init__(self, settings: TrackingSettings, check: bool = True) -> None:
        self.settings = settings
        if check:
            check_reachable(settings.uri)
        mlflow.set_tracking_uri(settings.uri)
        self.client = MlflowClient(tracking_uri=settings.uri)

    @property
    def uri(self) -> str:
        return self.settings.uri

    @contextmanager
    def run(self, tags: Mapping[str, str] | None = None) -> Iterator[mlflow.ActiveRun]:
        """A run that ends FINISHED, or FAILED with the error logged; the error then re-raises."""
        if self.settings.run_id is None:
            mlflow.set_experiment(self.settings.experiment)
        else:  # a run created for us (Azure ML job): log into its experiment, whatever is active
            existing = self.client.get_run(self.settings.run_id)
            mlflow.set_experiment(experiment_id=existing.info.experiment_id)
        active = mlflow.start_run(run_id=self.settings.run_id, run_name=self.settings.run_name)
        try:
            mlflow.set_tags({**self.default_tags(), **self.settings.extra_tags, **(tags or {})})
            yield active
        except BaseException as error:
            self._record_failure(error)
            mlflow.end_run(RunStatus.to_string(RunStatus.FAILED))
            raise
        mlflow.end_run(RunStatus.to_string(RunStatus.FINISHED))

    @staticmethod
    def default_tags() -> dict[str, str]:
        tags = {"tracking_demo.version": __version__}
        commit = git_commit()
        if commit:
            tags["mlflow.source.git.commit"] = commit
        return tags

    @staticmethod
    def _record_failure(error: BaseException) -> None:
        """Best effort: the failure must not be hidden by a second failure while recording it."""
        summary = f"{type(error).__name__}: {error}"[:MAX_TAG_LENGTH]
        try:
            mlflow.set_tag(ERROR_TAG, summary)
            mlflow.log_text("".join(traceback.format_exception(error)), ERROR_ARTIFACT)
        except Exception:
            logger.warning("could not record the failure on the run", exc_info=True)

    def log_metrics(self, metrics: Mapping[str, float], step: int = 0) -> None:
        """All points in as few requests as MLflow's batch limit allows."""
        run = mlflow.active_run()
        if run is None:
            raise RuntimeError("log_metrics needs an active run")
        timestamp = int(time.time() * 1000)
        points = [Metric(key, float(value), timestamp, step) for key, value in metrics.items()]
        for start in range(0, len(points), MAX_METRICS_PER_BATCH):
            chunk = points[start : start + MAX_METRICS_PER_BATCH]
            self.client.log_batch(run.info.run_id, metrics=chunk)

    @staticmethod
    def log_model_portably(save: Callable[[Path], None], artifact_path: str = "model") -> str:
        """DESIGN rule 3: save the MLflow model locally, upload its files, return `runs:/` URI.

        Works on servers without MLflow 3's logged-models API (Azure ML), unlike `log_model`.
        """
        run = mlflow.active_run()
        if run is None:
            raise RuntimeError("log_model_portably needs an active run")
        with tempfile.TemporaryDirectory() as tmp:
            local = Path(tmp) / artifact_path
            save(local)
            mlflow.log_artifacts(str(local), artifact_path)
        return f"runs:/{run.info.run_id}/{artifact_path}"

    def run_url(self, run_id: str) -> str:
        """The run's page in the MLflow UI (meaningful for HTTP servers)."""
        run = self.client.get_run(run_id)
        return f"{self.uri.rstrip('/')}/#/experiments/{run.info.experiment_id}/runs/{run_id}"

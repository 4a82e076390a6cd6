"""The tracking session: where runs go, how they start and end, and how models are logged.

Tasks receive a `TrackingSession` and speak only MLflow through it; nothing here imports an
Azure SDK (the workspace lookup lives in `tracking.workspace`, imported lazily; where runs go in
`tracking.settings`).
"""

from __future__ import annotations

import io
import json
import logging
import secrets
import shutil
import traceback
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

import mlflow
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient
from mlflow.utils.mlflow_tags import MLFLOW_DATASET_CONTEXT, MLFLOW_RUN_NOTE

from tracking_demo import __version__
from tracking_demo.errors import ConfigError, DiskFullError, TrackingIncompleteError
from tracking_demo.tracking import context as run_context
from tracking_demo.tracking import tags as run_tags
from tracking_demo.tracking import values
from tracking_demo.tracking.delivery import dataset_record
from tracking_demo.tracking.disk_space import DiskFull, free_bytes, is_disk_full, size_of
from tracking_demo.tracking.logger import LoggerOptions, RunLogger
from tracking_demo.tracking.records import ModelRecord, RegistrationRecord
from tracking_demo.tracking.settings import (
    TrackingSettings,
    check_reachable,
    configure_http,
)
from tracking_demo.tracking.wal import RunMeta

if TYPE_CHECKING:
    from matplotlib.figure import Figure

logger = logging.getLogger(__name__)

ERROR_ARTIFACT = "error.txt"
MAX_TAG_LENGTH = 5000
INTEGER_COLUMN_HINT = "Hint: Inferred schema contains integer column"
# MLflow 3's UI opens an experiment on its GenAI pages (traces, evaluation runs) unless this tag
# says the experiment trains models; then runs, charts and models are what it shows first.
EXPERIMENT_KIND = "mlflow.experimentKind"
MODEL_TRAINING = "custom_model_development"


def local_file_source(path: Path) -> Any:
    """An `mlflow.data` source for a local file, without MLflow's "ambiguous source" warning.

    MLflow registers its local dataset source twice (for the "" and "file" schemes), so a path
    or file:// URI given as a string matches both and it warns on every run; naming the source
    type picks one.
    """
    from mlflow.data.dataset_source_registry import get_dataset_source_from_json

    uri = json.dumps({"uri": path.absolute().as_uri()})
    return get_dataset_source_from_json(uri, source_type="local")


@dataclass(frozen=True)
class RunHandle:
    """The run a task logs into."""

    run_id: str
    experiment_id: str
    # MLflow's context tags the run still lacks (a run created elsewhere), logged with ours.
    context_tags: Mapping[str, str] = field(default_factory=dict)
    name: str | None = None


class TrackingSession:
    """Owns the tracking connection: URI, experiment, the run's life and failure recording.

    Everything a task logs goes through the run's `RunLogger` (docs/architecture.md, rule 4):
    appended to a local write-ahead log, delivered in the background, finished by `sync` if the
    process ends before the server acknowledged it.
    """

    def __init__(
        self,
        settings: TrackingSettings,
        check: bool = True,
        logger_options: LoggerOptions | None = None,
    ) -> None:
        self.settings = settings
        self.logger_options = logger_options or LoggerOptions()
        configure_http(settings.request_timeout_s)
        if check:
            check_reachable(settings.uri)
        mlflow.set_tracking_uri(settings.uri)
        # The registry lives with the tracking server (locally and on Azure ML): a registry URI
        # set earlier in the process (e.g. by a model download) must not redirect this client.
        self.client = MlflowClient(tracking_uri=settings.uri, registry_uri=settings.uri)
        self._run_logger: RunLogger | None = None
        self._closed_logger: RunLogger | None = None
        self._stopped = False

    @property
    def uri(self) -> str:
        return self.settings.uri

    @property
    def run_logger(self) -> RunLogger:
        if self._run_logger is None:
            raise RuntimeError("logging needs an active run: use `with session.run():`")
        return self._run_logger

    @contextmanager
    def run(
        self, tags: Mapping[str, str] | None = None, name_prefix: str | None = None
    ) -> Iterator[RunHandle]:
        """A run that ends FINISHED, or FAILED with the error logged; the error then re-raises;
        KILLED when the task stopped it on purpose (`stop_run`).

        A new run is named `name_prefix-xxxx` (`settings.run_name` wins); a run created for us
        (an Azure ML job's) keeps its name. If the server has not acknowledged everything within
        the flush timeout, the records stay in the run's log and `TrackingIncompleteError` names
        the command that finishes it.
        """
        handle = self._start_run(name_prefix)
        self._stopped = False
        self._run_logger = self._open_logger(handle)
        try:
            self.set_tags(
                {
                    **handle.context_tags,
                    **self.default_tags(),
                    **self.settings.extra_tags,
                    **(tags or {}),
                }
            )
            yield handle
        except BaseException as error:
            run_logger = self.run_logger
            run_logger.failing()
            logged_before = run_logger.appended
            self._record_failure(error)
            status = "KILLED" if isinstance(error, KeyboardInterrupt) else "FAILED"
            delivered = self._close(status)
            if isinstance(error, DiskFullError):
                outcome = self._disk_full_outcome(handle, delivered, logged_before)
                raise DiskFullError(error.summary, outcome) from error
            if not delivered:
                logger.error("%s", self._incomplete_message())
            raise
        if not self._close("KILLED" if self._stopped else "FINISHED"):
            raise TrackingIncompleteError(self._incomplete_message())

    def _start_run(self, name_prefix: str | None) -> RunHandle:
        context = run_context.run_context_tags()
        if self.settings.run_id is not None:  # a run created for us (Azure ML job, sweep trial)
            existing = self.client.get_run(self.settings.run_id)
            missing = run_context.missing_from(existing.data.tags, context)
            return RunHandle(
                existing.info.run_id, existing.info.experiment_id, missing, existing.info.run_name
            )
        experiment_id = self._experiment_id()
        created = self.client.create_run(
            experiment_id, run_name=self.run_name(name_prefix), tags=context
        )
        return RunHandle(created.info.run_id, experiment_id, name=created.info.run_name)

    def _open_logger(self, handle: RunHandle) -> RunLogger:
        """The run's logger; a full disk before anything was logged ends the run FAILED here,
        directly on the server, as no log exists to carry the status (rule 5)."""
        root = self.settings.wal_root
        try:
            return RunLogger(
                self.client,
                RunMeta(handle.run_id, self.uri, handle.experiment_id),
                root,
                self.logger_options,
            )
        except OSError as error:
            if not is_disk_full(error):
                raise
            shutil.rmtree(root / handle.run_id, ignore_errors=True)
            summary = DiskFull(root, "the run's folder").describe()
            try:
                self.client.set_tag(handle.run_id, run_tags.ERROR, f"DiskFullError: {summary}")
                self.client.set_terminated(handle.run_id, "FAILED")
                outcome = f"{_run_label(handle)} ended FAILED before anything was logged"
            except Exception:
                logger.warning("could not end run %s", handle.run_id, exc_info=True)
                outcome = f"{_run_label(handle)} could not be ended and stays RUNNING"
            raise DiskFullError(summary, outcome) from error

    def run_name(self, prefix: str | None) -> str | None:
        """`settings.run_name`, else `prefix` and four random hex digits (`moons-rf-3f2a`), else
        None: MLflow's own random name."""
        if self.settings.run_name:
            return self.settings.run_name
        return f"{prefix}-{secrets.token_hex(2)}" if prefix else None

    def _experiment_id(self) -> str:
        """The experiment's id, created or marked as model training (`EXPERIMENT_KIND`)."""
        kind = {EXPERIMENT_KIND: MODEL_TRAINING}
        experiment = self.client.get_experiment_by_name(self.settings.experiment)
        if experiment is None:
            return self.client.create_experiment(self.settings.experiment, tags=kind)
        if EXPERIMENT_KIND not in experiment.tags:
            try:
                self.client.set_experiment_tag(experiment.experiment_id, *kind.popitem())
            except MlflowException:  # a server that refuses it only shows the GenAI view
                logger.debug("could not mark experiment %s", experiment.name, exc_info=True)
        return experiment.experiment_id

    def _close(self, status: str) -> bool:
        run_logger = self.run_logger
        try:
            return run_logger.close(status)
        finally:
            self._closed_logger = run_logger
            self._run_logger = None

    def _incomplete_message(self) -> str:
        closed = self._closed_logger
        assert closed is not None, "only called after a run's logger was closed"
        problem = f" (last problem: {closed.last_problem})" if closed.last_problem else ""
        return (
            f"the tracking server at {self.uri} did not acknowledge "
            f"{closed.unacknowledged} records of run {closed.run_id} within "
            f"{self.logger_options.flush_timeout_s:.0f}s{problem}; they are kept in "
            f"{closed.run_dir.path}. Finish the run with: tracking-demo sync {closed.run_dir.path}"
        )

    def _disk_full_outcome(self, handle: RunHandle, delivered: bool, logged_before: int) -> str:
        """What became of the run and of what it logged, for the one line the user reads."""
        closed = self._closed_logger
        assert closed is not None, "only called after a run's logger was closed"
        if delivered:
            return (
                f"{_run_label(handle)} ended FAILED; the {logged_before} records logged before "
                "were delivered"
            )
        lost = closed.lost_in_memory
        lost_text = f"; {lost} records that did not fit on the disk are lost" if lost else ""
        return (
            f"{_run_label(handle)} is not ended: the tracking server at {self.uri} did not "
            f"acknowledge {closed.unacknowledged} records{lost_text}; what was written is kept "
            f"in {closed.run_dir.path}, finish it with: tracking-demo sync {closed.run_dir.path}"
        )

    @staticmethod
    def default_tags() -> dict[str, str]:
        """Ours; MLflow's context tags (user, source, git) are set when the run is created."""
        return {run_tags.VERSION: __version__}

    def _record_failure(self, error: BaseException) -> None:
        """Best effort: the failure must not be hidden by a second failure while recording it."""
        summary = f"{type(error).__name__}: {error}"[:MAX_TAG_LENGTH]
        try:
            self.set_tags({run_tags.ERROR: summary})
            if isinstance(error, DiskFullError):  # no room for it, and no bug to trace
                return
            self.log_text("".join(traceback.format_exception(error)), ERROR_ARTIFACT)
        except DiskFullError as full:
            logger.warning("the traceback is not kept on the run: %s", full.summary)
        except Exception:
            logger.warning("could not record the failure on the run", exc_info=True)

    def stop_run(self, reason: str) -> None:
        """End the open run KILLED, not FINISHED, when its block returns: something stopped it on
        purpose (a sweep's policy), so it must not look completed. `reason` (markdown) becomes
        the run's description; unlike a killed process (docs/architecture.md, rule 5) it carries
        no error tag. The status goes through the run's log like any other, so `sync` keeps it.
        """
        self.set_tags({MLFLOW_RUN_NOTE: reason})
        self._stopped = True

    # --- what tasks log ------------------------------------------------------------------------

    def log_metrics(self, metrics: Mapping[str, float], step: int = 0) -> None:
        """Numbers as computed, less representation noise; durations (`*_s`) to the millisecond
        (`values.metric_value`)."""
        clean = {key: values.metric_value(key, value) for key, value in metrics.items()}
        self.run_logger.log_metrics(clean, step)

    def log_metric(self, key: str, value: float, step: int = 0) -> None:
        self.run_logger.log_metric(key, values.metric_value(key, value), step)

    def log_params(self, params: Mapping[str, Any]) -> None:
        self.run_logger.log_params(params)

    def set_tags(self, tags: Mapping[str, Any]) -> None:
        self.run_logger.set_tags(tags)

    def log_input(self, dataset: Any, context: str) -> None:
        """An `mlflow.data` dataset as a run input (name, digest, source, schema)."""
        with warnings.catch_warnings():
            # MLflow's hint about integer columns is advice for model signatures; a data set's
            # schema describes the data as it is, and integer labels are right there.
            warnings.filterwarnings("ignore", INTEGER_COLUMN_HINT, UserWarning)
            entity = dataset._to_mlflow_entity()
        self.run_logger.log_record(dataset_record(entity, {MLFLOW_DATASET_CONTEXT: context}))

    def log_figure(self, figure: Figure, artifact_file: str) -> None:
        rendered = io.BytesIO()  # drawn first, so a full disk is told how much it needed
        suffix = PurePosixPath(artifact_file).suffix.lstrip(".")
        figure.savefig(rendered, format=suffix or None)
        self._log_bytes(rendered.getvalue(), artifact_file, f"the figure {artifact_file}")

    def log_text(self, text: str, artifact_file: str) -> None:
        self._log_bytes(text.encode(), artifact_file, f"the file {artifact_file}")

    def _log_bytes(self, data: bytes, artifact_file: str, what: str) -> None:
        kept = self._keep(
            what,
            PurePosixPath(artifact_file).name,
            lambda target: target.write_bytes(data),
            lambda: len(data),
        )
        self.run_logger.log_artifact_kept(kept, _parent(artifact_file))

    def log_artifacts(self, local_dir: Path, artifact_path: str | None = None) -> None:
        """A copy is kept until uploaded, so later changes to `local_dir` do not leak in."""
        kept = self._keep(
            f"a copy of {local_dir}",
            "files",
            lambda target: shutil.copytree(local_dir, target),
            lambda: size_of(local_dir),
        )
        self.run_logger.log_artifact_kept(kept, artifact_path)

    def log_artifact(self, local_file: Path, artifact_path: str | None = None) -> None:
        """One file, copied as it is now: a file still being written (an event file) can be
        logged again later, and each upload replaces the one before."""
        kept = self._keep(
            f"a copy of {local_file}",
            local_file.name,
            lambda target: shutil.copyfile(local_file, target),
            lambda: size_of(local_file),
        )
        self.run_logger.log_artifact_kept(kept, artifact_path)

    def _keep(
        self,
        what: str,
        name: str,
        write: Callable[[Path], Any],
        needed: Callable[[], int] | None = None,
    ) -> Path:
        """`write` the file or folder `name` into a fresh slot of the run's log; on a full disk
        the partial slot is removed (it frees space for the run's end) and `DiskFullError` says
        how much was needed (`needed`, else more than what was written before it filled)."""
        run_logger = self.run_logger
        free_before = free_bytes(run_logger.root) or 0
        target: Path | None = None
        try:
            target = run_logger.new_artifact_slot() / name
            write(target)
        except Exception as error:
            if not is_disk_full(error):
                raise
            written = size_of(target.parent) if target is not None else 0
            if target is not None:
                shutil.rmtree(target.parent, ignore_errors=True)
            size = max(written, free_before) if needed is None else needed()
            full = DiskFull(run_logger.root, what, size, at_least=needed is None)
            raise DiskFullError(full.describe()) from error
        return target

    def log_model(
        self,
        save: Callable[[Path], None],
        name: str = "model",
        *,
        params: Mapping[str, Any] | None = None,
        model_type: str | None = None,
        linked_metrics: Iterable[str] = (),
    ) -> str:
        """Save the MLflow model locally now; deliver it in the background; return `runs:/`.

        Where the server has MLflow 3's logged-models API the model becomes a logged model
        called `name` (its params: `params` and the run's, as `log_model` records them; the
        `linked_metrics` logged at step 0 linked to it); where it does not (Azure ML), its files
        are the run's artifacts under `name`. `runs:/<run_id>/<name>` loads and registers
        either way (docs/architecture.md, rule 3). The model is in the run's write-ahead log
        before this returns, so `sync` delivers it if the process dies (rule 4).
        """
        run_logger = self.run_logger
        what = "the model" if name == "model" else f"the model {name}"
        local = self._keep(what, PurePosixPath(name).name, save)
        record = ModelRecord(
            local=str(local.resolve().relative_to(run_logger.run_dir.path.resolve())),
            name=name,
            model_type=model_type,
            params={
                **{key: str(value) for key, value in (params or {}).items()},
                **run_logger.params,
            },
            tags=run_context.run_context_tags(),  # what `log_model` tags a logged model with
            linked_metrics=tuple(linked_metrics),
        )
        run_logger.log_record(record)
        return f"runs:/{run_logger.run_id}/{name}"

    def register_model(
        self, model_uri: str, name: str, tags: Mapping[str, str] | None = None
    ) -> str | None:
        """Register once the model's files are on the server; None while it is unreachable.

        A pending registration stays in the run's log; `sync` performs it later.
        """
        run_logger = self.run_logger
        prefix = f"runs:/{run_logger.run_id}/"
        if not model_uri.startswith(prefix):
            raise ConfigError(f"can only register this run's models ({prefix}...), got {model_uri}")
        seq = run_logger.log_record(
            RegistrationRecord(name, model_uri.removeprefix(prefix), dict(tags or {}))
        )
        if run_logger.flush(upto=seq):
            return run_logger.registered_version(seq)
        logger.warning(
            "registration of %s as '%s' is pending: the server did not answer", model_uri, name
        )
        return None

    def run_url(self, run_id: str) -> str:
        """The run's page in the MLflow UI (meaningful for HTTP servers)."""
        run = self.client.get_run(run_id)
        return f"{self.uri.rstrip('/')}/#/experiments/{run.info.experiment_id}/runs/{run_id}"


def _run_label(handle: RunHandle) -> str:
    return f"run {handle.name} (id {handle.run_id})" if handle.name else f"run {handle.run_id}"


def _parent(artifact_file: str) -> str | None:
    parent = str(PurePosixPath(artifact_file).parent)
    return None if parent in ("", ".") else parent

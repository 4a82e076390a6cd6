"""From logged records to MLflow calls: batches within MLflow's limits, retry classes, dedup.

Shared by the live background sender and by `tracking-demo sync`, so a replay does exactly what
the live run would have done.
"""

from __future__ import annotations

import json
import logging
import math
import random
import socket
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import assert_never

import requests
from mlflow.entities import Dataset, DatasetInput, InputTag, Metric, Param, RunTag
from mlflow.exceptions import MlflowException
from mlflow.models.model import MLMODEL_FILE_NAME
from mlflow.tracking import MlflowClient
from mlflow.utils.validation import (
    MAX_ENTITIES_PER_BATCH,
    MAX_METRICS_PER_BATCH,
    MAX_PARAMS_TAGS_PER_BATCH,
)

from tracking_demo.errors import credentials_refused, refused_credentials_status
from tracking_demo.tracking.logged_model import deliver_logged_model
from tracking_demo.tracking.records import (
    ArtifactRecord,
    DatasetRecord,
    EndRecord,
    MetricRecord,
    ModelRecord,
    ParamRecord,
    Record,
    RegistrationRecord,
    TagRecord,
)

logger = logging.getLogger(__name__)

# The open-source server accepts larger requests, hosted ones (Databricks, Azure ML) do not.
MAX_REQUEST_BYTES = 1_000_000
_REQUEST_BYTES_BUDGET = int(MAX_REQUEST_BYTES * 0.9)
_TRANSIENT_STATUS = frozenset({408, 429})
_TRANSIENT_TYPES = (
    requests.ConnectionError,
    requests.Timeout,
    ConnectionError,
    TimeoutError,
    socket.timeout,
)
BATCHED_TYPES = (MetricRecord, ParamRecord, TagRecord)


class TransientDeliveryError(Exception):
    """The server may accept the same operation later: retry with backoff."""


class PermanentDeliveryError(Exception):
    """The server refuses the operation as it is: retrying cannot help."""


@dataclass(frozen=True)
class Operation:
    """One MLflow call: a `log_batch` of metrics/params/tags, or a single other record."""

    records: list[tuple[int, Record]]

    @property
    def kind(self) -> str:
        first = self.records[0][1]
        return "batch" if isinstance(first, BATCHED_TYPES) else first.kind

    @property
    def last_seq(self) -> int:
        return self.records[-1][0]


@dataclass(frozen=True)
class Rejection:
    """A record the server refused for good, kept with the reason."""

    seq: int
    record: Record
    reason: str

    def describe(self) -> str:
        return f"{self.record.kind} '{_name(self.record)}' (record {self.seq}): {self.reason}"


def _name(record: Record) -> str:
    match record:
        case MetricRecord() | ParamRecord() | TagRecord():
            return record.key
        case DatasetRecord() | ModelRecord() | RegistrationRecord():
            return record.name
        case _:
            return ""


def _size(record: MetricRecord | ParamRecord | TagRecord) -> int:
    """Bytes the record adds to a log-batch request body, with room for the JSON around it."""
    if isinstance(record, MetricRecord):
        return _json_bytes(record.key) + 80
    return _json_bytes(record.key) + _json_bytes(record.value) + 40


def _json_bytes(text: str) -> int:
    """What `text` takes in the ASCII-escaped JSON MLflow's client sends: "é" is 6 bytes, a quote
    2, so counting characters would let a batch of accented tags grow to megabytes."""
    return len(json.dumps(text))


def plan(records: Iterable[tuple[int, Record]]) -> list[Operation]:
    """Consecutive metrics/params/tags share `log_batch` calls within every limit; others alone."""
    operations: list[Operation] = []
    current: list[tuple[int, Record]] = []
    counts = dict.fromkeys(BATCHED_TYPES, 0)
    size = 0

    def close() -> None:
        nonlocal current, size
        if current:
            operations.append(Operation(current))
        current, size = [], 0
        counts.update(dict.fromkeys(BATCHED_TYPES, 0))

    for seq, record in records:
        if not isinstance(record, BATCHED_TYPES):
            close()
            operations.append(Operation([(seq, record)]))
            continue
        kind = type(record)
        record_size = _size(record)
        limit = MAX_METRICS_PER_BATCH if kind is MetricRecord else MAX_PARAMS_TAGS_PER_BATCH
        if (
            counts[kind] >= limit
            or len(current) >= MAX_ENTITIES_PER_BATCH
            or size + record_size > _REQUEST_BYTES_BUDGET
        ):
            close()
        current.append((seq, record))
        counts[kind] += 1
        size += record_size
    close()
    return operations


def is_transient(error: BaseException) -> bool:
    """Only a refusal is permanent: a 4xx answer (not 408/429), or a kept file that is gone.

    Refused, reset, timed out, 408/429/5xx, and anything unexpected (a race inside a library,
    say) are retried: retrying costs delay, dropping records would cost data.
    """
    seen: set[int] = set()
    link: BaseException | None = error
    while link is not None and id(link) not in seen:
        seen.add(id(link))
        if isinstance(link, _TRANSIENT_TYPES):
            return True
        link = link.__cause__ or link.__context__
    if isinstance(error, MlflowException):
        status = error.get_http_status_code()
        return status in _TRANSIENT_STATUS or status >= 500
    return not isinstance(error, FileNotFoundError)


# How SQLAlchemy's stores (sqlite, PostgreSQL, MySQL) word a unique constraint violated.
_UNIQUE_VIOLATIONS = ("UNIQUE constraint failed", "duplicate key value", "Duplicate entry")


def lost_insert_race(error: MlflowException) -> bool:
    """The server refused an insert because a concurrent request had just made the same row:
    MLflow's SQL store checks, then inserts, without a lock (datasets, for one)."""
    return error.get_http_status_code() == 400 and any(
        phrase in error.message for phrase in _UNIQUE_VIOLATIONS
    )


def _identity(key: str, value: float, timestamp: int, step: int) -> tuple[str, str, int, int]:
    """MLflow's metric identity; NaN compares equal to NaN here, as the server stores it once."""
    return key, "nan" if math.isnan(value) else repr(float(value)), int(timestamp), int(step)


@dataclass
class Delivery:
    """Performs operations against one run; results of registrations are kept by record."""

    client: MlflowClient
    run_id: str
    run_path: Path
    registered: dict[int, str] = field(default_factory=dict)
    logged_models: dict[int, str] = field(default_factory=dict)  # record -> logged model id
    _modes: ModelModes = field(default_factory=lambda: ModelModes())

    def deliver(self, operation: Operation, uncertain: bool = False) -> list[Rejection]:
        """Deliver, isolating records the server refuses; raises TransientDeliveryError, or
        CredentialsRefusedError when the server refuses this client (HTTP 401/403).

        `uncertain` says an earlier attempt may have reached the server: metrics then are
        checked against the server's history so a replay stores no duplicate.
        """
        try:
            self._perform(operation, uncertain)
            return []
        except TransientDeliveryError:
            raise
        except PermanentDeliveryError as error:
            if len(operation.records) == 1:
                seq, record = operation.records[0]
                return [Rejection(seq, record, str(error))]
            middle = len(operation.records) // 2
            halves = (operation.records[:middle], operation.records[middle:])
            return [r for half in halves for r in self.deliver(Operation(half), uncertain)]

    def _perform(self, operation: Operation, uncertain: bool) -> None:
        try:
            self._call(operation, uncertain)
        except Exception as error:
            refused = credentials_refused(error)
            if refused is not None:  # the client is refused, not the records: keep them all
                raise refused from error
            message = error.message if isinstance(error, MlflowException) else str(error)
            if is_transient(error):
                raise TransientDeliveryError(message) from error
            raise PermanentDeliveryError(message) from error

    def _call(self, operation: Operation, uncertain: bool) -> None:
        seq, first = operation.records[0]
        match first:
            case MetricRecord() | ParamRecord() | TagRecord():
                self._log_batch(operation.records, uncertain)
            case ArtifactRecord():
                self._log_artifact(first)
            case DatasetRecord():
                self._log_input(first)
            case ModelRecord():
                self._log_model(seq, first)
            case RegistrationRecord():
                self._register(seq, first)
            case EndRecord():
                self._terminate(first)
            case _:
                assert_never(first)

    def _log_batch(self, records: list[tuple[int, Record]], uncertain: bool) -> None:
        metrics = [
            Metric(r.key, float(r.value), r.timestamp_ms, r.step)
            for _, r in records
            if isinstance(r, MetricRecord)
        ]
        # MLflow refuses a batch naming a param twice; a tag set twice keeps its last value.
        params = {r.key: Param(r.key, r.value) for _, r in records if isinstance(r, ParamRecord)}
        tags = {r.key: RunTag(r.key, r.value) for _, r in records if isinstance(r, TagRecord)}
        if uncertain and metrics:
            metrics = self._not_on_server(metrics)
        if metrics or params or tags:
            self.client.log_batch(
                self.run_id, metrics=metrics, params=list(params.values()), tags=list(tags.values())
            )

    def _not_on_server(self, metrics: list[Metric]) -> list[Metric]:
        stored: set[tuple[str, str, int, int]] = set()
        for key in {m.key for m in metrics}:
            for point in self.client.get_metric_history(self.run_id, key):
                stored.add(_identity(point.key, point.value, point.timestamp, point.step))
        fresh = [m for m in metrics if _identity(m.key, m.value, m.timestamp, m.step) not in stored]
        if len(fresh) < len(metrics):
            logger.info("%d points were already on the server", len(metrics) - len(fresh))
        return fresh

    def _log_artifact(self, record: ArtifactRecord) -> None:
        local = self.run_path / record.local
        if not local.exists():
            raise FileNotFoundError(f"kept artifact {local} is missing")
        if local.is_dir():
            self.client.log_artifacts(self.run_id, str(local), record.path)
        else:
            self.client.log_artifact(self.run_id, str(local), record.path)

    def _log_input(self, record: DatasetRecord) -> None:
        dataset = Dataset(
            name=record.name,
            digest=record.digest,
            source_type=record.source_type,
            source=record.source,
            schema=record.schema,
            profile=record.profile,
        )
        tags = [InputTag(key, value) for key, value in record.tags.items()]
        try:
            self.client.log_inputs(self.run_id, datasets=[DatasetInput(dataset, tags)])
        except MlflowException as error:
            if not lost_insert_race(error):
                raise
            # Another run of the experiment inserted the same dataset between the server's
            # check and its insert (sweep trials start together): it exists now, so the
            # server links it this time.
            self.client.log_inputs(self.run_id, datasets=[DatasetInput(dataset, tags)])

    def _log_model(self, seq: int, record: ModelRecord) -> None:
        local = self.run_path / record.local
        if not (local / MLMODEL_FILE_NAME).is_file():
            raise FileNotFoundError(f"kept model {local} is missing its {MLMODEL_FILE_NAME}")
        if self._modes.has_logged_models(self.client, self.run_id):
            self.logged_models[seq] = deliver_logged_model(self.client, self.run_id, local, record)
        else:
            self.client.log_artifacts(self.run_id, str(local), record.name)

    def _register(self, seq: int, record: RegistrationRecord) -> None:
        from tracking_demo.registry import register_once

        version = register_once(
            self.client,
            f"runs:/{self.run_id}/{record.model_path}",
            record.name,
            record.tags,
        )
        self.registered[seq] = str(version.version)

    def _terminate(self, record: EndRecord) -> None:
        self.client.set_terminated(self.run_id, record.status, record.end_ms)


@dataclass
class ModelModes:
    """Whether the run's server has MLflow 3's logged-models API, found by the first model
    delivered and kept for the rest of the run (docs/architecture.md, rule 3).

    Decided when the server answers: a 404 (Azure ML) means portable; an error that may pass
    (server away, 5xx) propagates and is retried, so it never makes a run portable by accident;
    any other refusal also means portable, said once as a warning, since the model must arrive.
    """

    found: bool | None = None

    def has_logged_models(self, client: MlflowClient, run_id: str) -> bool:
        from tracking_demo.registry import has_logged_models

        if self.found is None:
            experiment_id = client.get_run(run_id).info.experiment_id
            try:
                self.found = has_logged_models(client, experiment_id)
            except MlflowException as error:
                if is_transient(error) or refused_credentials_status(error) is not None:
                    raise
                logger.warning(
                    "the tracking server refused the logged-models check (%s); models of run "
                    "%s are uploaded as its artifacts instead",
                    error.message,
                    run_id,
                )
                self.found = False
        return self.found


@dataclass
class Backoff:
    """Capped exponential backoff with jitter, so many clients do not retry in lockstep."""

    initial_s: float = 0.25
    cap_s: float = 4.0
    attempt: int = 0

    def next_delay(self) -> float:
        delay = min(self.cap_s, self.initial_s * 2**self.attempt)
        self.attempt += 1
        return delay * random.uniform(0.5, 1.0)

    def reset(self) -> None:
        self.attempt = 0


def deliver_with_retry(
    delivery: Delivery,
    operation: Operation,
    wait: Callable[[float], bool],
    on_retry: Callable[[TransientDeliveryError, float], None],
    uncertain: bool = False,
) -> list[Rejection] | None:
    """Deliver, retrying transient failures with backoff; None when `wait(delay)` gives up.

    Every retry is uncertain: the failed attempt may have reached the server.
    """
    backoff = Backoff()
    while True:
        try:
            return delivery.deliver(operation, uncertain)
        except TransientDeliveryError as error:
            uncertain = True
            delay = backoff.next_delay()
            on_retry(error, delay)
            if not wait(delay):
                return None


def dataset_record(dataset: Dataset, tags: dict[str, str]) -> DatasetRecord:
    """An `mlflow.data` dataset as a log record (its entity fields, JSON-safe)."""
    return DatasetRecord(
        name=dataset.name,
        digest=dataset.digest,
        source_type=dataset.source_type,
        source=dataset.source,
        schema=dataset.schema,
        profile=dataset.profile,
        tags=dict(tags),
    )

"""The live logger of one run: the training thread appends, two background threads do the rest.

- the training thread only appends a record to memory (a few microseconds, no I/O);
- the writer thread makes records durable: it writes them to the run's write-ahead log and
  fsyncs at most every `fsync_interval_s` or every `fsync_every` records;
- the sender thread delivers durable records with `log_batch` (and uploads, registrations, the
  final status), retrying transient failures with backoff and persisting the acknowledged
  sequence number after each success.

A server outage therefore costs delay, not data; what a process could not deliver before it
ended is finished later by `tracking-demo sync`. A full disk stops the training instead: the
writer keeps the records it could not write in memory, the training thread's next logging call
raises `DiskFullError`, and `close` writes them to the log if they fit by then, else sends them
directly (docs/architecture.md, rule 4).
"""

from __future__ import annotations

import json
import logging
import shutil
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlflow.tracking import MlflowClient
from mlflow.utils.validation import (
    MAX_PARAM_VAL_LENGTH,
    MAX_TAG_VAL_LENGTH,
    _validate_metric_name,
    _validate_param_name,
    _validate_tag_name,
)

from tracking_demo.errors import (
    ConfigError,
    CredentialsRefusedError,
    DiskFullError,
    TrackingDemoError,
)
from tracking_demo.tracking.delivery import Delivery, Operation, Rejection, deliver_with_retry, plan
from tracking_demo.tracking.disk_space import DiskFull, is_disk_full
from tracking_demo.tracking.records import (
    ArtifactRecord,
    EndRecord,
    MetricRecord,
    ParamRecord,
    Record,
    TagRecord,
    encode_record,
)
from tracking_demo.tracking.wal import RunDir, RunMeta, WalFile, encode

logger = logging.getLogger(__name__)

REJECTED_FILE = "rejected.jsonl"


class TrackingRejectedError(TrackingDemoError):
    """The tracking server refused a logged value for good (e.g. an invalid param)."""


@dataclass(frozen=True)
class LoggerOptions:
    """Durability and patience; the defaults suit training loops from seconds to days."""

    fsync_interval_s: float = 1.0
    fsync_every: int = 1000
    flush_timeout_s: float = 30.0
    keep_completed: bool = False


class RunLogger:
    """Durable, non-blocking logging into one MLflow run."""

    def __init__(
        self,
        client: MlflowClient,
        meta: RunMeta,
        root: Path,
        options: LoggerOptions | None = None,
    ) -> None:
        self.options = options or LoggerOptions()
        self.run_id = meta.run_id
        self.root = root
        self.run_dir = RunDir.create(root, meta)
        self.run_dir.lock()
        try:
            self._wal = WalFile(self.run_dir.wal_path)
        except OSError:
            self.run_dir.unlock()
            raise
        self._delivery = Delivery(client, meta.run_id, self.run_dir.path)

        self._lock = threading.Lock()
        self._pending: list[tuple[int, Record]] = []
        self._next_seq = 0
        self._params: dict[str, str] = {}
        self._checked_keys: set[str] = set()
        self._artifact_count = 0

        self._progress = threading.Condition()
        self._durable: list[tuple[int, Record]] = []
        self._written_seq = 0
        self._acked_seq = 0
        self._rejections: list[Rejection] = []
        self._reported_rejections = 0
        self._last_problem: str | None = None
        self._refused: str | None = None  # credentials refused: sending stops, records stay

        # A full disk: what the writer could not write (records wait in memory meanwhile), and
        # whether the training thread was told; `_memory_only` once close finds no room either.
        self._disk_full: DiskFull | None = None
        self._disk_full_told = False
        self._memory_only = False
        self._wal_seq = 0  # the last record really in `wal.log`
        self._closing_log = threading.Event()  # close() appended the end record

        self._wake_writer = threading.Event()
        self._closing = threading.Event()
        self._abandoned = threading.Event()
        self._writer = threading.Thread(target=self._write_loop, name="wal-writer", daemon=True)
        self._sender = threading.Thread(target=self._send_loop, name="wal-sender", daemon=True)
        self._writer.start()
        self._sender.start()

    # --- the training thread's side: append only -------------------------------------------

    def _append(self, record: Record) -> int:
        self._raise_disk_full()
        with self._lock:
            self._next_seq += 1
            seq = self._next_seq
            self._pending.append((seq, record))
            if len(self._pending) >= self.options.fsync_every:
                self._wake_writer.set()
        if len(self._rejections) > self._reported_rejections:
            self._raise_rejections()
        return seq

    def log_metric(
        self, key: str, value: float, step: int = 0, timestamp_ms: int | None = None
    ) -> None:
        if key not in self._checked_keys:
            _validate_metric_name(key)
            self._checked_keys.add(key)
        ts = int(time.time() * 1000) if timestamp_ms is None else timestamp_ms
        self._append(MetricRecord(key, float(value), ts, int(step)))

    def log_metrics(self, metrics: Mapping[str, float], step: int = 0) -> None:
        """One timestamp for all, as MLflow's own `log_metrics` does."""
        ts = int(time.time() * 1000)
        for key, value in metrics.items():
            self.log_metric(key, value, step, ts)

    def log_param(self, key: str, value: Any) -> None:
        """Checked here, not minutes later on the server: a changed value is an error at once."""
        text = str(value)
        _validate_param_name(key)
        if len(text) > MAX_PARAM_VAL_LENGTH:
            raise ConfigError(
                f"param '{key}' is {len(text)} characters long; "
                f"MLflow keeps at most {MAX_PARAM_VAL_LENGTH}"
            )
        previous = self._params.get(key)
        if previous is not None and previous != text:
            raise ConfigError(
                f"param '{key}' was already logged as '{previous}'; MLflow params cannot "
                f"change (new value '{text}'): log it as a metric or a tag instead"
            )
        if previous is None:
            self._params[key] = text
            self._append(ParamRecord(key, text))

    def log_params(self, params: Mapping[str, Any]) -> None:
        for key, value in params.items():
            self.log_param(key, value)

    @property
    def params(self) -> dict[str, str]:
        """The params this process logged into the run so far."""
        return dict(self._params)

    def set_tag(self, key: str, value: Any) -> None:
        text = str(value)
        _validate_tag_name(key)
        if len(text) > MAX_TAG_VAL_LENGTH:
            text = text[: MAX_TAG_VAL_LENGTH - 3] + "..."
        self._append(TagRecord(key, text))

    def set_tags(self, tags: Mapping[str, Any]) -> None:
        for key, value in tags.items():
            self.set_tag(key, value)

    def new_artifact_slot(self) -> Path:
        """A fresh folder inside the run's log where a file or folder to upload is kept."""
        with self._lock:
            self._artifact_count += 1
            slot = self.run_dir.artifacts / str(self._artifact_count)
        slot.mkdir(parents=True, exist_ok=True)
        return slot

    def log_artifact_kept(self, local: Path, artifact_path: str | None = None) -> None:
        """Upload `local` (inside a slot) under `artifact_path`, after what was logged before."""
        relative = local.resolve().relative_to(self.run_dir.path.resolve())
        self._append(ArtifactRecord(str(relative), artifact_path))

    def log_record(self, record: Record) -> int:
        """Any other record kind (dataset input, registration); returns its sequence number."""
        return self._append(record)

    def registered_version(self, seq: int) -> str | None:
        return self._delivery.registered.get(seq)

    # --- waiting -----------------------------------------------------------------------------

    def flush(self, timeout_s: float | None = None, upto: int | None = None) -> bool:
        """Wait until everything appended so far (or up to `upto`) is acknowledged."""
        with self._lock:
            target = self._next_seq if upto is None else upto
        self._wake_writer.set()
        deadline = time.monotonic() + (
            self.options.flush_timeout_s if timeout_s is None else timeout_s
        )
        with self._progress:
            while self._acked_seq < target and not self._disk_full_untold():
                remaining = deadline - time.monotonic()
                if remaining <= 0 or self._refused is not None:
                    return False
                self._progress.wait(min(remaining, 0.5))
        self._raise_disk_full()
        if len(self._rejections) > self._reported_rejections:
            self._raise_rejections()
        return True

    def close(self, status: str, timeout_s: float | None = None) -> bool:
        """Log the final status and wait for delivery; False leaves the rest to `sync`.

        After a full disk the records held in memory and the end record go to the log if they
        fit now, else directly to the server (nothing to replay then if it is away too).
        """
        self.failing()
        self._closing_log.set()
        self._append(EndRecord(status, int(time.time() * 1000)))
        try:
            delivered = self.flush(timeout_s)
        except TrackingRejectedError:
            delivered = self._acked_seq >= self._next_seq
        self._closing.set()
        self._wake_writer.set()
        self._writer.join(timeout=10)
        if delivered:
            self._sender.join(timeout=10)
        else:
            self._abandoned.set()
        self._wal.close()
        self.run_dir.unlock()
        if delivered:
            self.run_dir.mark_done()
            if not self.options.keep_completed:
                shutil.rmtree(self.run_dir.path, ignore_errors=True)
        return delivered

    def failing(self) -> None:
        """The training thread is ending the run (failing or closing): a full disk found by the
        writer is handled by `close` from now on, not raised while the failure is recorded."""
        self._disk_full_told = True

    @property
    def appended(self) -> int:
        """How many records this process logged into the run so far."""
        with self._lock:
            return self._next_seq

    @property
    def disk_full(self) -> DiskFull | None:
        return self._disk_full

    @property
    def lost_in_memory(self) -> int:
        """Records that reached neither the log (a full disk) nor the server: gone at exit."""
        with self._lock:
            return max(0, self._next_seq - max(self._wal_seq, self._acked_seq))

    def _disk_full_untold(self) -> bool:
        return self._disk_full is not None and not self._disk_full_told

    def _raise_disk_full(self) -> None:
        """In the training thread: the writer found the disk full; say so once, here."""
        if self._disk_full is not None and not self._disk_full_told:
            self._disk_full_told = True
            raise DiskFullError(self._disk_full.describe())

    @property
    def unacknowledged(self) -> int:
        with self._lock:
            return self._next_seq - self._acked_seq

    @property
    def last_problem(self) -> str | None:
        return self._last_problem

    @property
    def rejections(self) -> list[Rejection]:
        return list(self._rejections)

    def _raise_rejections(self) -> None:
        new = self._rejections[self._reported_rejections :]
        self._reported_rejections = len(self._rejections)
        details = "; ".join(r.describe() for r in new)
        raise TrackingRejectedError(f"the tracking server refused {details}")

    # --- background threads ------------------------------------------------------------------

    def _write_loop(self) -> None:
        while True:
            self._wake_writer.wait(self.options.fsync_interval_s)
            self._wake_writer.clear()
            if self._disk_full is not None and not self._closing_log.is_set():
                with self._progress:  # wake a waiting flush: it raises DiskFullError
                    self._progress.notify_all()
                continue  # the records wait in memory until close decides where they go
            with self._lock:
                batch, self._pending = self._pending, []
            if batch:
                if self._write(batch):
                    with self._progress:
                        self._durable.extend(batch)
                        self._written_seq = batch[-1][0]
                        self._progress.notify_all()
            elif self._closing.is_set():
                with self._progress:
                    self._progress.notify_all()
                return

    def _write(self, batch: list[tuple[int, Record]]) -> bool:
        """Make `batch` durable; False keeps it in memory (the disk is full, close comes next).

        At close, a log that still cannot be written is bypassed: the records are handed to the
        sender as they are, so the server gets them while it answers.
        """
        if self._memory_only:
            return True
        try:
            self._wal.append(batch)
        except OSError as error:
            if not is_disk_full(error):
                raise
            if self._disk_full is None:
                needed = sum(len(encode(seq, record).encode()) for seq, record in batch)
                self._disk_full = DiskFull(self.root, f"{len(batch)} records to the log", needed)
            if not self._closing_log.is_set():
                with self._lock:
                    self._pending = batch + self._pending
                return False
            self._memory_only = True
            logger.warning(
                "no space left to write the run's log in %s; the %d records from sequence %d on "
                "are sent directly to the tracking server (they cannot be replayed by sync)",
                self.run_dir.path,
                len(batch),
                batch[0][0],
            )
            return True
        self._wal_seq = batch[-1][0]
        return True

    def _send_loop(self) -> None:
        while not self._abandoned.is_set():
            with self._progress:
                while not self._durable:
                    if self._closing.is_set() and self._written_seq >= self._next_seq:
                        return
                    self._progress.wait(0.5)
                    if self._abandoned.is_set():
                        return
                batch, self._durable = self._durable, []
            for operation in plan(batch):
                if not self._deliver(operation):
                    return

    def _deliver(self, operation: Operation) -> bool:
        try:
            rejected = deliver_with_retry(
                self._delivery,
                operation,
                wait=lambda delay: not self._abandoned.wait(delay),
                on_retry=lambda error, delay: self._report_problem(
                    f"{type(error).__name__}: {error}", delay
                ),
            )
        except CredentialsRefusedError as error:
            # Not the records' fault and not passing: stop sending, keep every record for
            # `sync` with the right credentials, and let a waiting flush give up at once.
            logger.error("%s; the run's records are kept in %s", error, self.run_dir.wal_path)
            with self._progress:
                self._refused = self._last_problem = str(error)
                self._progress.notify_all()
            return False
        except Exception as error:  # a bug here must surface, not loop or kill the thread
            logger.exception(
                "could not deliver records %d..%d", operation.records[0][0], operation.last_seq
            )
            rejected = [
                Rejection(seq, rec, f"internal error: {error!r}") for seq, rec in operation.records
            ]
        if rejected is None or self._abandoned.is_set():
            return False
        self._accept(operation, rejected)
        return True

    def _accept(self, operation: Operation, rejected: list[Rejection]) -> None:
        if rejected:
            self._keep_rejections(rejected)
            for item in rejected:
                logger.error("tracking server refused %s", item.describe())
        self.run_dir.write_acked(operation.last_seq)
        if self._last_problem is not None:
            logger.warning("tracking server reachable again; delivering the kept records")
            self._last_problem = None
        with self._progress:
            self._rejections.extend(rejected)
            self._acked_seq = operation.last_seq
            self._progress.notify_all()

    def _keep_rejections(self, rejected: list[Rejection]) -> None:
        """For the user to inspect; the error is raised in the training thread either way."""
        lines = "".join(
            json.dumps(
                {"seq": item.seq, "record": encode_record(item.record), "reason": item.reason}
            )
            + "\n"
            for item in rejected
        )
        try:
            with (self.run_dir.path / REJECTED_FILE).open("a", encoding="utf-8") as handle:
                handle.write(lines)
        except OSError as error:
            if not is_disk_full(error):
                raise
            logger.warning("no space left to keep the refused records in %s", REJECTED_FILE)

    def _report_problem(self, problem: str, delay: float) -> None:
        first = self._last_problem is None
        self._last_problem = problem
        if first:
            logger.warning(
                "tracking server unavailable (%s); training goes on, records are kept in %s "
                "and retried (next in %.1fs)",
                problem,
                self.run_dir.wal_path,
                delay,
            )
        else:
            logger.debug("still unavailable (%s); retry in %.1fs", problem, delay)

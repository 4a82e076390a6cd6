"""`tracking-demo sync`: finish a run whose process ended before the server acknowledged it.

Replays every intact record after the acknowledged one into the same run (metrics checked
against the server so nothing is stored twice), uploads the kept files, performs pending
registrations, and only then sets the final status: the logged one, or KILLED when the process
died without ending its run.
"""

from __future__ import annotations

import logging
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

import mlflow
from mlflow.tracking import MlflowClient

from tracking_demo.errors import TrackingIncompleteError
from tracking_demo.tracking import tags
from tracking_demo.tracking.delivery import (
    Delivery,
    Operation,
    Rejection,
    TransientDeliveryError,
    deliver_with_retry,
    plan,
)
from tracking_demo.tracking.records import EndRecord, Record, RegistrationRecord, TagRecord
from tracking_demo.tracking.settings import check_reachable, configure_http
from tracking_demo.tracking.wal import RunDir, read_wal

logger = logging.getLogger(__name__)


@dataclass
class SyncReport:
    """What one `sync` did, for the user and for tests."""

    run_id: str
    path: Path
    replayed: int = 0
    already_acknowledged: int = 0
    status: str | None = None
    skipped: str | None = None
    registered: dict[str, str] = field(default_factory=dict)
    rejections: list[Rejection] = field(default_factory=list)


def sync_run(
    path: Path,
    tracking_uri: str | None = None,
    timeout_s: float = 120.0,
    keep: bool = False,
    request_timeout_s: float = 10.0,
) -> SyncReport:
    """Deliver what `path` holds beyond the acknowledged offset, then close the run."""
    run_dir = RunDir(path)
    meta = run_dir.meta()
    run_dir.lock()
    try:
        uri = tracking_uri or meta.tracking_uri
        configure_http(request_timeout_s)
        check_reachable(uri)
        client = MlflowClient(tracking_uri=uri, registry_uri=uri)
        mlflow.set_tracking_uri(uri)  # registrations go through MLflow's fluent API
        contents = read_wal(run_dir.wal_path)
        acked = run_dir.acked()
        todo = [(seq, record) for seq, record in contents.records if seq > acked]
        report = SyncReport(
            meta.run_id,
            path,
            replayed=len(todo),
            already_acknowledged=len(contents.records) - len(todo),
        )
        report.skipped = contents.problem
        delivery = Delivery(client, meta.run_id, run_dir.path)
        deadline = time.monotonic() + timeout_s
        ended = any(isinstance(record, EndRecord) for _, record in contents.records)
        closing = [] if ended else _killed_records(meta.pid, meta.host, len(contents.records))
        if contents.problem:
            closing.insert(0, (0, TagRecord(tags.SYNC_SKIPPED, contents.problem[:5000])))
        for operation in plan(todo):
            report.rejections += _deliver(delivery, operation, deadline, uri)
            run_dir.write_acked(operation.last_seq)
        for operation in plan(closing):
            report.rejections += _deliver(delivery, operation, deadline, uri)
        for seq, record in contents.records:
            if isinstance(record, RegistrationRecord) and seq in delivery.registered:
                report.registered[record.name] = delivery.registered[seq]
        report.status = client.get_run(meta.run_id).info.status
        run_dir.mark_done()
    finally:
        run_dir.unlock()
    if not keep:
        shutil.rmtree(run_dir.path, ignore_errors=True)
    return report


def _killed_records(pid: int, host: str, count: int) -> list[tuple[int, Record]]:
    """The process died mid-run: say so on the run, then end it as KILLED."""
    reason = (
        f"the training process (pid {pid} on {host}) ended without closing the run; "
        f"{count} logged records were recovered by tracking-demo sync"
    )
    return [
        (0, TagRecord(tags.ERROR, reason)),
        (0, TagRecord(tags.SYNCED_BY, f"pid {os.getpid()}")),
        (0, EndRecord("KILLED", int(time.time() * 1000))),
    ]


def _deliver(
    delivery: Delivery, operation: Operation, deadline: float, uri: str
) -> list[Rejection]:
    """Retry until `deadline`; giving up keeps everything for the next sync."""
    last: list[TransientDeliveryError] = []

    def wait(delay: float) -> bool:
        if time.monotonic() + delay > deadline:
            return False
        time.sleep(delay)
        return True

    def on_retry(error: TransientDeliveryError, delay: float) -> None:
        last[:] = [error]
        logger.warning("tracking server unavailable (%s); retrying in %.1fs", error, delay)

    # uncertain from the start: the live process may have sent it before it ended
    rejected = deliver_with_retry(delivery, operation, wait, on_retry, uncertain=True)
    if rejected is None:
        raise TrackingIncompleteError(
            f"sync gave up: the tracking server at {uri} kept failing ({last[0]}); "
            "everything not delivered is still kept, run sync again"
        ) from last[0]
    return rejected

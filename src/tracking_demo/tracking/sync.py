"""`tracking-demo sync`: finish a run whose process ended before the server acknowledged it.

Replays every intact record after the acknowledged one into the same run (metrics checked
against the server so nothing is stored twice), uploads the kept files, performs pending
registrations, and only then sets the final status: the logged one, KILLED when the process
died without ending its run, or FAILED when the log's damage may have held the final status.

A damaged log is replayed past its damage (`wal.read_wal`); what was skipped is reported, tagged
on the run, and the log folder is kept as evidence. Syncing it again delivers nothing twice and
reports the same gaps.
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
from tracking_demo.tracking.wal_gaps import WalGap

logger = logging.getLogger(__name__)
MAX_TAG_CHARS = 5000  # MLflow 3 keeps 8,000 characters of a tag value; older servers 5,000


@dataclass
class SyncReport:
    """What one `sync` did, for the user and for tests."""

    run_id: str
    path: Path
    replayed: int = 0
    already_acknowledged: int = 0
    status: str | None = None
    gaps: list[WalGap] = field(default_factory=list)
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
        report.gaps = contents.gaps
        delivery = Delivery(client, meta.run_id, run_dir.path)
        deadline = time.monotonic() + timeout_s
        for operation in plan(todo):
            report.rejections += _deliver(delivery, operation, deadline, uri)
            run_dir.write_acked(operation.last_seq)
        closing = _gap_tags(contents.gaps)
        ended = any(isinstance(record, EndRecord) for _, record in contents.records)
        if not ended and client.get_run(meta.run_id).info.status == "RUNNING":
            lost_status = next((g for g in contents.gaps if g.may_hold_final_status), None)
            closing += (
                _lost_status_records(lost_status)
                if lost_status
                else _killed_records(meta.pid, meta.host, len(contents.records))
            )
        for operation in plan(closing):
            report.rejections += _deliver(delivery, operation, deadline, uri)
        for seq, record in contents.records:
            if isinstance(record, RegistrationRecord) and seq in delivery.registered:
                report.registered[record.name] = delivery.registered[seq]
        report.status = client.get_run(meta.run_id).info.status
        run_dir.mark_done()
    finally:
        run_dir.unlock()
    if not keep and not report.gaps:
        shutil.rmtree(run_dir.path, ignore_errors=True)
    return report


def _gap_tags(gaps: list[WalGap]) -> list[tuple[int, Record]]:
    """What was skipped, on the run itself: one line per gap, within MLflow's tag length."""
    if not gaps:
        return []
    lines = [gap.message for gap in gaps]
    text = "\n".join(lines)
    while len(text) > MAX_TAG_CHARS:
        lines.pop()
        text = "\n".join([*lines, f"... and {len(gaps) - len(lines)} more gaps"])
    return [(0, TagRecord(tags.SYNC_SKIPPED, text)), (0, TagRecord(tags.SYNC_GAPS, str(len(gaps))))]


def _lost_status_records(gap: WalGap) -> list[tuple[int, Record]]:
    """The final status was in damaged bytes: the outcome is unknown, so FINISHED would claim a
    success nobody can vouch for and KILLED a process death the log does not show. FAILED, with
    the reason on the run, says its record is incomplete."""
    reason = (
        "the run's final status was lost in a damaged part of its write-ahead log, so "
        f"tracking-demo sync ended the run FAILED rather than leave it RUNNING: {gap.message}"
    )
    return [
        (0, TagRecord(tags.ERROR, reason[:MAX_TAG_CHARS])),
        (0, TagRecord(tags.SYNCED_BY, f"pid {os.getpid()}")),
        (0, EndRecord("FAILED", int(time.time() * 1000))),
    ]


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

"""Batching within MLflow's limits, and which failures are worth retrying."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import requests
from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import INVALID_PARAMETER_VALUE, TEMPORARILY_UNAVAILABLE

from tracking_demo.tracking.delivery import Backoff, is_transient, plan
from tracking_demo.tracking.records import (
    ArtifactRecord,
    EndRecord,
    MetricRecord,
    ParamRecord,
    Record,
    TagRecord,
)

if TYPE_CHECKING:
    from conftest import LoopbackMirror


def _metrics(n: int, start: int = 1) -> list[tuple[int, Record]]:
    return [(start + i, MetricRecord("loss", 0.1, 1, i)) for i in range(n)]


def test_metrics_split_at_1000() -> None:
    operations = plan(_metrics(2500))
    assert [len(op.records) for op in operations] == [1000, 1000, 500]
    assert [op.last_seq for op in operations] == [1000, 2000, 2500]


def test_params_and_tags_split_at_100_and_share_batches_with_metrics() -> None:
    records: list[tuple[int, Record]] = [(i + 1, ParamRecord(f"p{i}", "1")) for i in range(150)]
    records += [(151 + i, TagRecord(f"g{i}", "x")) for i in range(30)]
    operations = plan(records)
    kinds = [[r.kind for _, r in op.records] for op in operations]
    assert [k.count("param") for k in kinds] == [100, 50]
    assert [k.count("tag") for k in kinds] == [0, 30]


@pytest.mark.parametrize("char", ["x", "é", '"'], ids=["ascii", "accented", "quotes"])
def test_request_size_stays_under_one_megabyte(
    http_mirror: LoopbackMirror, tmp_path: Path, char: str
) -> None:
    """Every planned batch, as MLflow's REST client sends it, is a body under the 1 MB hosted
    servers accept: measured on the wire, not by the planner's own estimate (an escaped "é" is
    six bytes there)."""
    import json

    from mlflow.tracking import MlflowClient

    from tracking_demo.tracking.delivery import MAX_REQUEST_BYTES, Delivery

    long_key = "k" * 250  # MLflow's longest metric name
    records: list[tuple[int, Record]]
    records = [(i + 1, ParamRecord(f"param{i}", "x" * 6000)) for i in range(100)]
    records += [(101 + i, TagRecord(f"tag{i}", char * 7900)) for i in range(100)]
    records += [(201 + i, MetricRecord(long_key, 0.1, 1, i)) for i in range(1500)]
    operations = plan(records)
    assert len(operations) > 1
    client = MlflowClient(tracking_uri=http_mirror.url.rstrip("/"))
    delivery = Delivery(client, "0" * 32, tmp_path)
    for operation in operations:
        assert delivery.deliver(operation) == []
    bodies = [body for path, body in http_mirror.posted if path.endswith("/runs/log-batch")]
    assert len(bodies) == len(operations)
    assert max(len(body) for body in bodies) < MAX_REQUEST_BYTES
    sent = [json.loads(body) for body in bodies]
    assert sum(len(request.get("params", [])) for request in sent) == 100
    assert sum(len(request.get("tags", [])) for request in sent) == 100
    assert sum(len(request.get("metrics", [])) for request in sent) == 1500


def test_other_records_keep_their_place_in_order() -> None:
    records = [
        *_metrics(3),
        (4, ArtifactRecord("artifacts/1/x.png")),
        *_metrics(2, start=5),
        (7, EndRecord("FINISHED", 1)),
    ]
    assert [op.kind for op in plan(records)] == ["batch", "artifact", "batch", "end"]


@pytest.mark.parametrize(
    ("error", "transient"),
    [
        (MlflowException("bad param", INVALID_PARAMETER_VALUE), False),
        (MlflowException("busy", TEMPORARILY_UNAVAILABLE), True),
        (MlflowException("API request failed with exception ..."), True),
        (FileNotFoundError("kept artifact missing"), False),
        (requests.ConnectionError("refused"), True),
        (requests.ReadTimeout("no answer"), True),
        (KeyError("_MLFLOW_TELEMETRY_SESSION_ID"), True),
    ],
    ids=["400", "503", "wrapped-connection-error", "local-file", "refused", "timeout", "race"],
)
def test_transient_or_permanent(error: BaseException, transient: bool) -> None:
    assert is_transient(error) is transient


def test_wrapped_connection_error_is_transient() -> None:
    try:
        try:
            raise requests.ConnectionError("refused")
        except requests.ConnectionError:
            raise MlflowException("API request to x failed", INVALID_PARAMETER_VALUE) from None
    except MlflowException as wrapped:
        wrapped.__context__ = requests.ConnectionError("refused")
        assert is_transient(wrapped)


def test_backoff_is_capped_and_jittered() -> None:
    backoff = Backoff(initial_s=0.25, cap_s=4.0)
    delays = [backoff.next_delay() for _ in range(12)]
    assert all(0 < d <= 4.0 for d in delays)
    assert max(delays[-4:]) >= 2.0
    backoff.reset()
    assert backoff.next_delay() <= 0.25

"""A run a task stops on purpose (a sweep's policy stopping a trial) ends KILLED with the reason
as its description and no error tag, so it neither looks completed nor like a crash; the status
travels through the run's log, so `sync` finishes such a run KILLED too (docs/architecture.md,
rule 5)."""

from __future__ import annotations

from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from tracking_demo.errors import TrackingIncompleteError
from tracking_demo.server.local import LocalServer
from tracking_demo.server.processes import find_free_port
from tracking_demo.tracking import tags
from tracking_demo.tracking.logger import LoggerOptions
from tracking_demo.tracking.session import TrackingSession
from tracking_demo.tracking.settings import TrackingSettings
from tracking_demo.tracking.sync import sync_run

pytestmark = pytest.mark.integration
REASON = "**Stopped by the policy at epoch 2**: val_mae 120 is above the cut-off 99."
NOTE = "mlflow.note.content"


def _stopped_run(session: TrackingSession) -> str:
    with session.run(tags={tags.TRIAL_STATUS: "terminated"}) as run:
        for epoch in (1, 2):
            session.log_metrics({"val_mae": 130.0 - 5 * epoch}, step=epoch)
        session.stop_run(REASON)
    return run.run_id


def test_a_stopped_run_ends_killed_with_its_reason_and_keeps_what_it_logged(
    mlflow_server,  # type: ignore[no-untyped-def]
) -> None:
    session = TrackingSession(TrackingSettings(uri=mlflow_server.uri, experiment="stopped-it"))
    run_id = _stopped_run(session)
    run = MlflowClient(mlflow_server.uri).get_run(run_id)
    assert run.info.status == "KILLED"
    assert run.data.tags[NOTE] == REASON
    assert run.data.tags[tags.TRIAL_STATUS] == "terminated"
    assert tags.ERROR not in run.data.tags
    history = MlflowClient(mlflow_server.uri).get_metric_history(run_id, "val_mae")
    assert sorted((m.step, m.value) for m in history) == [(1, 125.0), (2, 120.0)]
    assert not (session.settings.wal_root / run_id).exists()
    # the session's next run is not stopped by the last one's decision
    with session.run() as next_run:
        session.log_metrics({"val_mae": 1.0})
    assert MlflowClient(mlflow_server.uri).get_run(next_run.run_id).info.status == "FINISHED"


@pytest.mark.slow
def test_sync_finishes_a_stopped_run_killed_with_its_reason(tmp_path: Path) -> None:
    server = LocalServer(tmp_path / "server", port=find_free_port())
    server.start(timeout=120)
    try:
        session = TrackingSession(
            TrackingSettings(uri=server.uri, experiment="stopped-sync", wal_root=tmp_path / "runs"),
            logger_options=LoggerOptions(fsync_interval_s=0.2, flush_timeout_s=2.0),
        )
        with pytest.raises(TrackingIncompleteError), session.run() as run:
            server.stop(timeout=20)
            session.log_metrics({"val_mae": 120.0}, step=2)
            session.stop_run(REASON)
        run_dir = tmp_path / "runs" / run.run_id
        assert run_dir.is_dir()
        server.start(timeout=120)
        report = sync_run(run_dir)
        assert report.status == "KILLED"
        synced = MlflowClient(server.uri).get_run(run.run_id)
        assert synced.data.tags[NOTE] == REASON
        assert tags.ERROR not in synced.data.tags  # not taken for a process that died
        assert synced.data.metrics["val_mae"] == 120.0
    finally:
        server.stop(timeout=20)

"""A full disk under the runs folder: one clear line, exit 1, the run FAILED, nothing lost.

Each case mounts a small tmpfs as `TRACKING_DEMO_RUNS_DIR` (root only: the test fails, never
skips, where it cannot) and trains through it against a real MLflow server
(docs/architecture.md, rule 4).
"""

from __future__ import annotations

import contextlib
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient
from tests.support.cli import run_cli
from tests.support.small_disk import small_disk

from tracking_demo.data import housing as housing_data
from tracking_demo.errors import DiskFullError
from tracking_demo.server.local import LocalServer
from tracking_demo.server.processes import find_free_port
from tracking_demo.tracking import tags
from tracking_demo.tracking.logger import LoggerOptions
from tracking_demo.tracking.session import TrackingSession
from tracking_demo.tracking.settings import TrackingSettings

pytestmark = [pytest.mark.integration, pytest.mark.slow]
RUN_ID = re.compile(r"\(id ([0-9a-f]{32})\)")
# Small enough that the moons model (a few estimators) or the housing MLP does not fit after
# the log and the figures; measured on the pinned MLflow, Keras and matplotlib.
MOONS_DISK_KIB = 200
HOUSING_DISK_KIB = 150
SMALL_MOONS = ("--grid", "n_estimators=5", "--grid", "max_depth=3", "--cv", "2")


def _fill(folder: Path) -> None:
    """Take every free byte of the file system `folder` is on."""
    with (folder / "filler").open("wb", buffering=0) as handle, contextlib.suppress(OSError):
        while handle.write(b"\0" * 4096):
            pass
    assert shutil.disk_usage(folder).free == 0


def _the_line(stderr: str, runs: Path) -> str:
    """The one error line, after asserting it is alone and no traceback came with it."""
    assert "Traceback" not in stderr, stderr
    errors = [line for line in stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, stderr
    line = errors[0]
    assert f"no space left on the file system of {runs} (" in line, line
    assert "free" in line
    assert "set TRACKING_DEMO_RUNS_DIR to a larger disk" in line
    return line


def _assert_failed_with_each_point_once(client: MlflowClient, run_id: str) -> dict[str, int]:
    """The run ended FAILED with the disk-full error tag; every metric point is there once."""
    run = client.get_run(run_id)
    assert run.info.status == "FAILED"
    assert run.data.tags[tags.ERROR].startswith("DiskFullError: no space left"), run.data.tags
    points = {}
    for key in run.data.metrics:
        history = client.get_metric_history(run_id, key)
        steps = [point.step for point in history]
        assert len(steps) == len(set(steps)), f"{key} duplicated: {steps}"
        points[key] = len(steps)
    return points


def _nothing_left_to_sync(runs: Path) -> None:
    synced = run_cli("sync", "--all", env={"TRACKING_DEMO_RUNS_DIR": str(runs)})
    assert synced.returncode == 0, synced.stderr
    assert f"nothing to sync under {runs}" in synced.stdout
    assert [p.name for p in runs.iterdir()] in ([], ["filler"])


def _train_moons(data: Path, uri: str, runs: Path) -> subprocess.CompletedProcess[str]:
    return run_cli(
        "train", "moons", "--data", str(data), "--tracking-uri", uri,
        "--experiment", "disk-full", *SMALL_MOONS,
        env={"TRACKING_DEMO_RUNS_DIR": str(runs)},
    )  # fmt: skip


def test_moons_stops_with_one_line_when_its_model_does_not_fit(
    mlflow_server,  # type: ignore[no-untyped-def]
    moons_dir: Path,
    tmp_path: Path,
) -> None:
    with small_disk(tmp_path / "runs", MOONS_DISK_KIB) as runs:
        result = _train_moons(moons_dir, mlflow_server.uri, runs)
        assert result.returncode == 1, result.stdout + result.stderr
        line = _the_line(result.stderr, runs)
        assert "writing the model needed more than" in line, line
        assert "ended FAILED; the" in line and "records logged before were delivered" in line
        match = RUN_ID.search(line)
        assert match, line
        points = _assert_failed_with_each_point_once(MlflowClient(mlflow_server.uri), match[1])
        assert points == {"cv_best_score": 1, "test_accuracy": 1}
        _nothing_left_to_sync(runs)


def test_housing_mlp_stops_with_one_line_when_its_model_does_not_fit(
    mlflow_server,  # type: ignore[no-untyped-def]
    tmp_path: Path,
) -> None:
    data = housing_data.write(housing_data.HousingSpec(n_rows=300), tmp_path / "housing")
    with small_disk(tmp_path / "runs", HOUSING_DISK_KIB) as runs:
        result = run_cli(
            "train", "housing-mlp", "--data", str(data), "--tracking-uri", mlflow_server.uri,
            "--experiment", "disk-full", "--epochs", "3", "--batch-size", "100",
            env={"TRACKING_DEMO_RUNS_DIR": str(runs)},
        )  # fmt: skip
        assert result.returncode == 1, result.stdout + result.stderr
        line = _the_line(result.stderr, runs)
        assert "writing the model needed more than" in line, line
        match = RUN_ID.search(line)
        assert match, line
        points = _assert_failed_with_each_point_once(MlflowClient(mlflow_server.uri), match[1])
        for per_epoch in ("loss", "mae", "val_loss", "val_mae"):
            assert points[per_epoch] == 3, points
        assert points["test_mae"] == 1
        _nothing_left_to_sync(runs)


def test_a_disk_full_before_the_run_starts_ends_it_failed(
    mlflow_server,  # type: ignore[no-untyped-def]
    moons_dir: Path,
    tmp_path: Path,
) -> None:
    with small_disk(tmp_path / "runs", 64) as runs:
        _fill(runs)
        result = _train_moons(moons_dir, mlflow_server.uri, runs)
        assert result.returncode == 1, result.stdout + result.stderr
        line = _the_line(result.stderr, runs)
        assert "(0 B free; writing the run's folder)" in line, line
        assert "ended FAILED before anything was logged" in line
        match = RUN_ID.search(line)
        assert match, line
        assert _assert_failed_with_each_point_once(MlflowClient(mlflow_server.uri), match[1]) == {}
        _nothing_left_to_sync(runs)


def _session(uri: str, runs: Path, flush_timeout_s: float = 30.0) -> TrackingSession:
    return TrackingSession(
        TrackingSettings(uri=uri, experiment="disk-full", wal_root=runs),
        logger_options=LoggerOptions(fsync_interval_s=0.05, flush_timeout_s=flush_timeout_s),
    )


def _log(session: TrackingSession, steps: range, logged: list[int]) -> None:
    """A point per step, appended to `logged` once its call returned."""
    for step in steps:
        session.log_metric("loss", 1.0 / (step + 1), step=step)
        logged.append(step)
        time.sleep(0.002)


def test_the_log_filling_up_mid_run_is_told_at_the_next_logging_call(
    mlflow_server,  # type: ignore[no-untyped-def]
    tmp_path: Path,
) -> None:
    """The writer thread finds the disk full: the records it could not write go directly to
    the server, the run ends FAILED and no point logged before is lost or doubled."""
    with small_disk(tmp_path / "runs", 64) as runs:
        session = _session(mlflow_server.uri, runs)
        logged: list[int] = []
        with pytest.raises(DiskFullError) as raised, session.run() as run:
            _log(session, range(10), logged)
            session.run_logger.flush()
            _fill(runs)
            _log(session, range(10, 10_000), logged)
        message = str(raised.value)
        assert f"no space left on the file system of {runs}" in message
        assert "records to the log needed about" in message
        assert f"the {len(logged) + 1} records logged before were delivered" in message
        client = MlflowClient(mlflow_server.uri)
        _assert_failed_with_each_point_once(client, run.run_id)
        steps = sorted(point.step for point in client.get_metric_history(run.run_id, "loss"))
        assert steps == logged
        assert not (runs / run.run_id).exists()


def test_a_full_disk_with_the_server_away_leaves_what_was_written_to_sync(
    tmp_path: Path,
) -> None:
    """Records written before the disk filled survive the server's absence: `sync`, run on the
    still full disk, delivers them once and ends the run KILLED (its end never fit)."""
    server = LocalServer(tmp_path / "server", port=find_free_port())
    server.start(timeout=120)
    try:
        with small_disk(tmp_path / "runs", 64) as runs:
            session = _session(server.uri, runs, flush_timeout_s=2.0)
            logged: list[int] = []
            with pytest.raises(DiskFullError) as raised, session.run() as run:
                _log(session, range(10), logged)
                session.run_logger.flush()
                server.stop(timeout=20)
                _log(session, range(10, 20), logged)
                time.sleep(0.5)  # the writer makes them durable
                _fill(runs)
                _log(session, range(20, 10_000), logged)
            run_dir = runs / run.run_id
            message = str(raised.value)
            assert "is not ended" in message, message
            assert "records that did not fit on the disk are lost" in message
            assert f"tracking-demo sync {run_dir}" in message
            server.start(timeout=120)
            synced = run_cli("sync", str(run_dir))
            assert synced.returncode == 0, synced.stderr
            assert "Traceback" not in synced.stderr
            assert not run_dir.exists()
        client = MlflowClient(server.uri)
        ended = client.get_run(run.run_id)
        assert ended.info.status == "KILLED"
        assert "ended without closing the run" in ended.data.tags[tags.ERROR]
        steps = sorted(point.step for point in client.get_metric_history(run.run_id, "loss"))
        assert steps == logged[: len(steps)], "a point was doubled or one before it lost"
        assert steps[:20] == list(range(20)), "a point written before the disk filled was lost"
    finally:
        server.stop(timeout=20)

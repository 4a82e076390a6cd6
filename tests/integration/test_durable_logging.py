"""Tracking that loses nothing and never hangs, against real MLflow servers and real kills.

The faults a user meets (no server, a black hole, restarts, outages, a killed trainer, damaged
logs, a full disk, shared runs folders, a sweep) are the fault matrix,
`tests/integration/test_fault_matrix.py`; this module keeps the finer properties of the logger:
a frozen server, models and registrations of a killed trainer, old log formats, deduplication
and refused params. Each test that breaks a server gets its own.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import mlflow.sklearn
import numpy as np
import pytest
from mlflow.entities import LoggedModelStatus
from mlflow.tracking import MlflowClient
from sklearn.datasets import make_moons
from sklearn.linear_model import SGDClassifier
from sklearn.metrics import accuracy_score, log_loss
from tests.support.breakable_server import BreakableServer

from tracking_demo import registry
from tracking_demo.tracking import tags
from tracking_demo.tracking.logger import LoggerOptions, TrackingRejectedError
from tracking_demo.tracking.records import MetricRecord, Record
from tracking_demo.tracking.session import TrackingSession
from tracking_demo.tracking.settings import TrackingSettings
from tracking_demo.tracking.sync import sync_run
from tracking_demo.tracking.wal import RunDir

pytestmark = [pytest.mark.integration, pytest.mark.slow]
SUPPORT = Path(__file__).parent.parent / "support"
FIXTURE_RUN = (
    Path(__file__).parent.parent / "fixtures" / "run_log" / "0f1e2d3c4b5a69788796a5b4c3d2e1f0"
)


@pytest.fixture
def breakable(tmp_path: Path) -> Iterator[BreakableServer]:
    server = BreakableServer(tmp_path / "server")
    try:
        yield server
    finally:
        server.close()


def _session(uri: str, flush_timeout_s: float = 30.0, request_timeout_s: float = 10.0):  # type: ignore[no-untyped-def]
    return TrackingSession(
        TrackingSettings(uri=uri, experiment="durable", request_timeout_s=request_timeout_s),
        logger_options=LoggerOptions(fsync_interval_s=0.2, flush_timeout_s=flush_timeout_s),
    )


def _epochs(session: TrackingSession, epochs: int, pause_s: float) -> list[float]:
    """A real training loop: SGD on two moons, loss and accuracy logged per epoch."""
    x, y = make_moons(400, noise=0.2, random_state=0)
    model = SGDClassifier(loss="log_loss", random_state=0)
    call_costs = []
    for epoch in range(epochs):
        model.partial_fit(x, y, classes=np.array([0, 1]))
        metrics = {
            "loss": log_loss(y, model.predict_proba(x)),
            "accuracy": accuracy_score(y, model.predict(x)),
        }
        started = time.perf_counter()
        session.log_metrics(metrics, step=epoch)
        call_costs.append(time.perf_counter() - started)
        time.sleep(pause_s)
    return call_costs


def _assert_each_step_once(client: MlflowClient, run_id: str, keys: list[str], steps: int) -> None:
    for key in keys:
        history = client.get_metric_history(run_id, key)
        assert sorted(point.step for point in history) == list(range(steps)), key


def test_frozen_server_mid_run_is_detected_and_points_kept(breakable: BreakableServer) -> None:
    session = _session(breakable.uri, request_timeout_s=2.0)
    epochs = 40
    with session.run() as run:
        _epochs(session, 5, pause_s=0.0)
        assert session.run_logger.flush(10)
        breakable.freeze()
        costs = _epochs_from(session, 5, epochs, pause_s=0.1)
        deadline = time.monotonic() + 10
        while session.run_logger.last_problem is None and time.monotonic() < deadline:
            time.sleep(0.1)
        problem = session.run_logger.last_problem
        breakable.thaw()
    assert problem is not None and "timeout" in problem.lower()
    assert max(costs) < 0.5, "a logging call waited on the frozen server"
    client = MlflowClient(breakable.uri)
    assert client.get_run(run.run_id).info.status == "FINISHED"
    _assert_each_step_once(client, run.run_id, ["loss"], epochs)


def _epochs_from(session: TrackingSession, start: int, stop: int, pause_s: float) -> list[float]:
    costs = []
    for step in range(start, stop):
        began = time.perf_counter()
        session.log_metrics({"loss": 1.0 / (step + 1)}, step=step)
        costs.append(time.perf_counter() - began)
        time.sleep(pause_s)
    return costs


@pytest.mark.parametrize("azure_surface", [False, True], ids=["logged-model", "azure-surface"])
def test_killed_trainers_model_is_delivered_and_registered_by_sync_once(
    tmp_path: Path, azure_surface: bool
) -> None:
    """The model and its registration were only in the killed process's log: `sync` delivers
    them (a logged model, or the run's artifacts on the Azure surface), and a second replay of
    the whole log, as after a lost acknowledgement, makes no second model or version."""
    server = BreakableServer(tmp_path / "server", azure_surface=azure_surface)
    env = {**os.environ, "TRACKING_DEMO_RUNS_DIR": str(tmp_path / "runs")}
    process = subprocess.Popen(
        [sys.executable, str(SUPPORT / "model_until_killed.py"), server.uri, "killed", "killed-rf"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert process.stdin is not None and process.stdout is not None
        _, run_id, run_path = process.stdout.readline().split()
        server.kill()
        process.stdin.write("go\n")
        process.stdin.flush()
        assert process.stdout.readline().strip() == "MODEL"
        process.kill()
        process.wait(timeout=10)
        server.restart()

        report = sync_run(Path(run_path), keep=True)
        assert (report.status, report.registered, report.rejections) == (
            "KILLED",
            {"killed-rf": "1"},
            [],
        )
        RunDir(Path(run_path)).write_acked(0)
        assert sync_run(Path(run_path)).registered == {"killed-rf": "1"}

        client = MlflowClient(server.uri)
        run = client.get_run(run_id)
        [version] = client.search_model_versions("name = 'killed-rf'")
        assert version.run_id == run_id
        if azure_surface:
            assert version.source.endswith(f"{run_id}/artifacts/model")
            assert "MLmodel" in registry.run_model_files(client, run_id)
        else:
            [model] = client.search_logged_models(experiment_ids=[run.info.experiment_id])
            assert version.source == f"models:/{model.model_id}"
            assert (model.name, model.model_type) == ("model", "killed")
            assert model.status == LoggedModelStatus.READY
            assert [m.key for m in model.metrics] == ["test_accuracy"]
            assert [o.model_id for o in run.outputs.model_outputs] == [model.model_id]
            assert len(client.get_metric_history(run_id, "test_accuracy")) == 1
        mlflow.set_tracking_uri(server.uri)
        mlflow.set_registry_uri(server.uri)
        loaded = mlflow.pyfunc.load_model(f"models:/killed-rf/{version.version}")
        assert loaded.predict(np.array([[0.0, 1.0]])).shape == (1,)
    finally:
        process.kill()
        process.wait(timeout=10)
        server.close()


def test_run_log_written_before_typed_records_still_syncs(mlflow_server, tmp_path: Path) -> None:
    """The fixture was written by the logger before records were typed: the format is kept."""
    client = MlflowClient(mlflow_server.uri)
    experiment_id = client.create_experiment("run-log-fixture")
    run_id = client.create_run(experiment_id).info.run_id
    run_path = tmp_path / run_id
    shutil.copytree(FIXTURE_RUN, run_path)
    meta = json.loads((run_path / "run.json").read_text())
    meta.update(run_id=run_id, tracking_uri=mlflow_server.uri, experiment_id=experiment_id)
    (run_path / "run.json").write_text(json.dumps(meta))

    report = sync_run(run_path)
    assert (report.replayed, report.gaps, report.rejections) == (23, [], [])
    assert report.status == "FINISHED"
    assert list(report.registered) == ["moons-model"]
    run = client.get_run(run_id)
    assert run.data.params == {"lr": "0.1", "epochs": "3", "note": "tab\there\nnewline é"}
    assert run.data.tags["tracking_demo.task"] == "moons"
    accuracy = client.get_metric_history(run_id, "accuracy")
    assert sorted((p.step, p.value) for p in accuracy) == [
        (0, 0.5),
        (1, 0.81),
        (2, 0.875),
        (6, 1.0),
    ]
    grad_norm = sorted(client.get_metric_history(run_id, "grad_norm"), key=lambda p: p.step)
    assert [p.step for p in grad_norm] == [3, 4, 5] and math.isnan(grad_norm[0].value)
    assert {a.path for a in client.list_artifacts(run_id)} == {
        "notes.txt",
        "plots",
        "data",
        "model",
    }
    assert {a.path for a in client.list_artifacts(run_id, "data")} == {"data/a.txt", "data/b.txt"}
    inputs = {i.dataset.name: i for i in run.inputs.dataset_inputs}
    assert set(inputs) == {"moons-train", "moons-test"}
    assert [(t.key, t.value) for t in inputs["moons-train"].tags] == [
        ("mlflow.data.context", "train")
    ]
    version = client.get_model_version("moons-model", report.registered["moons-model"])
    assert version.run_id == run_id and version.tags == {"stage": "candidate"}


def test_replay_stores_no_duplicates(mlflow_server, tmp_path: Path) -> None:
    from tracking_demo.tracking.delivery import Delivery, plan

    client = MlflowClient(mlflow_server.uri)
    run_id = client.create_run(client.create_experiment("replay")).info.run_id
    records: list[tuple[int, Record]] = [
        (i + 1, MetricRecord("x", float(i % 3), 5000, i)) for i in range(50)
    ]
    records.append((51, MetricRecord("x", float("nan"), 5001, 50)))
    delivery = Delivery(client, run_id, tmp_path)
    for uncertain in (False, True, True):
        for operation in plan(records):
            assert delivery.deliver(operation, uncertain) == []
    history = client.get_metric_history(run_id, "x")
    assert len(history) == 51
    assert sorted(p.step for p in history) == list(range(51))


def test_param_changed_on_the_server_fails_clearly_and_keeps_the_rest(mlflow_server) -> None:
    session = _session(mlflow_server.uri)
    with pytest.raises(TrackingRejectedError, match="param 'lr'"), session.run() as run:
        session.client.log_param(run.run_id, "lr", "0.1")
        session.log_params({"lr": 0.2, "batch_size": 32})
        session.log_metrics({"loss": 0.5}, step=0)
        session.run_logger.flush(10)
    finished = session.client.get_run(run.run_id)
    assert finished.info.status == "FAILED"
    assert finished.data.params == {"lr": "0.1", "batch_size": "32"}
    assert finished.data.metrics == {"loss": 0.5}
    assert "TrackingRejectedError" in finished.data.tags[tags.ERROR]


def test_changing_a_param_is_refused_at_once_without_the_network(mlflow_server) -> None:
    from tracking_demo.errors import ConfigError

    session = _session(mlflow_server.uri)
    with pytest.raises(ConfigError, match="param 'lr' was already logged as '0.1'"), session.run():
        session.log_params({"lr": 0.1})
        session.log_params({"lr": 0.2})

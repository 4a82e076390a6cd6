"""The fault matrix: each fault a user can meet, against the real local server, measured the
same way and asserted equal to its row in `fault_cases.py` (docs/tracking.md's reliability table).

Measured per case: the exit codes (of the trainer, and of `sync` where it runs), the run's final
status on the server, and the metric points on the server against those the trainer logged
(each step of each key once): points lost and points duplicated. The trainer is
`tests/support/fault_trainer.py`, a real training loop in its own process; the sweep is the real
`tracking-demo sweep`. One breakable server serves the module, each case in its own experiment;
a case that breaks it leaves it running again.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import mlflow.sklearn
import pytest
from mlflow.tracking import MlflowClient
from sklearn.datasets import make_moons
from tests.integration.fault_cases import CASES, Observed
from tests.support.breakable_server import BreakableServer
from tests.support.cli import run_cli
from tests.support.small_disk import small_disk
from tests.support.wal_damage import damage_record

from tracking_demo.data import housing as housing_data
from tracking_demo.server.processes import find_free_port
from tracking_demo.sweep import space as search_space
from tracking_demo.tracking import tags
from tracking_demo.tracking.records import MetricRecord
from tracking_demo.tracking.wal import read_wal

pytestmark = [pytest.mark.integration, pytest.mark.slow]
TRAINER = Path(__file__).parent.parent / "support" / "fault_trainer.py"
KEYS = ("loss", "accuracy", "mark")
Logged = dict[str, set[int]]  # metric key -> the steps the trainer logged


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BreakableServer]:
    server = BreakableServer(tmp_path_factory.mktemp("fault-matrix-server"))
    try:
        yield server
    finally:
        server.close()


@pytest.fixture(autouse=True)
def server_left_running(request: pytest.FixtureRequest) -> Iterator[None]:
    """A case that failed halfway must not leave the next one without its server."""
    yield
    if "server" in request.fixturenames:
        server: BreakableServer = request.getfixturevalue("server")
        if not server.up:
            server.restart()


@dataclass
class Trainer:
    """One `fault_trainer.py` process and what it printed: its run, its log folder, its steps."""

    process: subprocess.Popen[str]
    run_id: str = ""
    run_path: Path = Path()
    steps: list[int] = field(default_factory=list)
    points: dict[str, set[int]] = field(default_factory=dict)  # key -> steps logged
    stderr: str = ""

    @classmethod
    def start(cls, uri: str, runs: Path, *options: str) -> Trainer:
        process = subprocess.Popen(
            [sys.executable, str(TRAINER), uri, *options],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "TRACKING_DEMO_RUNS_DIR": str(runs)},
        )
        trainer = cls(process)
        assert process.stdout is not None
        first = process.stdout.readline().split()
        if not first:
            trainer.finish()
            return trainer
        assert first[0] == "RUN", first
        trainer.run_id, trainer.run_path = first[1], Path(first[2])
        return trainer

    def go(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write("go\n")
        self.process.stdin.flush()

    def read_until_step(self, step: int) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self._note_point(line)
            if line.startswith("STEP"):
                self.steps.append(int(line.split()[1]))
                if self.steps[-1] >= step:
                    return
        raise AssertionError(f"the trainer ended before step {step}: {self.finish()}")

    def kill(self) -> None:
        self.process.kill()
        self.finish()

    def finish(self, timeout: float = 120) -> int:
        out, err = self.process.communicate(timeout=timeout)
        for line in out.splitlines():
            self._note_point(line)
            if line.startswith("STEP"):
                self.steps.append(int(line.split()[1]))
        self.stderr += err
        return self.process.returncode

    def _note_point(self, line: str) -> None:
        if line.startswith("POINT"):
            _, key, step = line.split()
            self.points.setdefault(key, set()).add(int(step))

    @property
    def logged(self) -> Logged:
        """Every point whose logging call returned (a full disk can stop an epoch midway)."""
        return {key: set(self.points.get(key, ())) for key in KEYS}


def _durable(run_path: Path) -> Logged:
    """The metric points the trainer's log holds intact: what it promised to deliver."""
    logged: Logged = {}
    for _, record in read_wal(run_path / "wal.log").records:
        if isinstance(record, MetricRecord):
            logged.setdefault(record.key, set()).add(record.step)
    return logged


def _points(client: MlflowClient, run_id: str, logged: Mapping[str, set[int]]) -> tuple[int, int]:
    """(lost, duplicated): logged steps missing from the server, and steps it holds twice.
    A point the trainer never logged would be cross-talk: it fails the case outright."""
    lost = duplicated = 0
    for key, steps in logged.items():
        history = [point.step for point in client.get_metric_history(run_id, key)]
        assert set(history) <= steps, f"{key}: points this trainer never logged"
        lost += len(steps - set(history))
        duplicated += len(history) - len(set(history))
    return lost, duplicated


def _sync_all(runs: Path) -> subprocess.CompletedProcess[str]:
    return run_cli("sync", "--all", env={"TRACKING_DEMO_RUNS_DIR": str(runs)})


def _observe(
    client: MlflowClient,
    run_id: str,
    logged: Logged,
    exit_codes: tuple[int, ...],
    sync_exit: int | None = None,
) -> Observed:
    lost, duplicated = _points(client, run_id, logged)
    status = client.get_run(run_id).info.status
    return Observed(exit_codes, sync_exit, status, lost, duplicated)


# --- the server cannot be reached ----------------------------------------------------------


def _unreachable(uri: str, moons_dir: Path) -> tuple[Observed, str, float]:
    started = time.monotonic()
    result = run_cli("train", "moons", "--data", str(moons_dir), "--tracking-uri", uri)
    elapsed = time.monotonic() - started
    return Observed((result.returncode,), None, "no run", 0, 0), result.stderr, elapsed


def test_no_server(moons_dir: Path) -> None:
    uri = f"http://127.0.0.1:{find_free_port()}"
    observed, stderr, _ = _unreachable(uri, moons_dir)
    assert observed == CASES["no server"].expected
    assert f"error: no MLflow tracking server answers at {uri}" in stderr
    assert "tracking-demo server start" in stderr


def test_black_hole(moons_dir: Path) -> None:
    with socket.socket() as listener:  # the kernel accepts; nobody ever reads or answers
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        uri = f"http://127.0.0.1:{listener.getsockname()[1]}"
        started = time.monotonic()
        observed, stderr, _ = _unreachable(uri, moons_dir)
        health_check_s = time.monotonic() - started
    assert observed == CASES["black hole"].expected
    assert f"error: no MLflow tracking server answers at {uri}" in stderr
    # The command's own start-up (imports, data) comes on top of the 5 s health check.
    assert health_check_s < 5.0 + 15.0


# --- the server goes away and comes back ---------------------------------------------------


def test_restart_mid_run(server: BreakableServer, tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    trainer = Trainer.start(
        server.uri, runs, "--experiment", "restart", "--epochs", "60", "--pause", "0.1"
    )
    trainer.read_until_step(5)
    server.kill()
    time.sleep(1.0)
    server.restart()
    code = trainer.finish()
    observed = _observe(MlflowClient(server.uri), trainer.run_id, trainer.logged, (code,))
    assert observed == CASES["restart mid-run"].expected, trainer.stderr
    assert "kept" in trainer.stderr and "reachable again" in trainer.stderr
    assert not trainer.run_path.exists(), "a fully acknowledged run keeps no log folder"


def test_outage_past_the_deadline(server: BreakableServer, tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    trainer = Trainer.start(
        server.uri,
        runs,
        *("--experiment", "outage", "--wait", "--flush-timeout", "3"),
        *("--register-as", "fault-outage-model"),
    )
    server.kill()
    trainer.go()
    code = trainer.finish()
    assert f"tracking-demo sync {trainer.run_path}" in trainer.stderr
    assert "error: the tracking server at" in trainer.stderr
    assert trainer.run_path.is_dir()
    server.restart()
    synced = _sync_all(runs)
    client = MlflowClient(server.uri)
    observed = _observe(client, trainer.run_id, trainer.logged, (code,), synced.returncode)
    assert observed == CASES["outage past the deadline"].expected, synced.stderr
    assert f"run {trainer.run_id}:" in synced.stdout and "status FINISHED" in synced.stdout
    assert "registered models:/fault-outage-model/1" in synced.stdout
    assert not trainer.run_path.exists()
    run = client.get_run(trainer.run_id)
    assert run.data.params == {"epochs": "20", "mark": "0.0"}
    assert {a.path for a in client.list_artifacts(trainer.run_id, "plots")} == {"plots/curve.png"}
    mlflow.set_tracking_uri(server.uri)
    mlflow.set_registry_uri(server.uri)
    x, _ = make_moons(20, noise=0.2, random_state=1)
    assert mlflow.sklearn.load_model("models:/fault-outage-model/1").predict(x).shape == (20,)


# --- the trainer dies; its log is damaged ---------------------------------------------------


def test_trainer_sigkilled_then_sync(server: BreakableServer, tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    trainer = Trainer.start(
        server.uri, runs, "--experiment", "sigkill", "--epochs", "0", "--pause", "0.02"
    )
    trainer.read_until_step(60)
    trainer.kill()
    durable = _durable(trainer.run_path)
    assert len(durable["loss"]) >= 20, "fsync'd records cover all but the last second"
    synced = _sync_all(runs)
    client = MlflowClient(server.uri)
    observed = _observe(
        client, trainer.run_id, durable, (trainer.process.returncode,), synced.returncode
    )
    assert observed == CASES["trainer SIGKILLed"].expected, synced.stderr
    assert "ended without closing the run" in client.get_run(trainer.run_id).data.tags[tags.ERROR]


def _server_away(server: BreakableServer, runs: Path, experiment: str, *options: str) -> Trainer:
    """A trainer whose server went away right after its run opened."""
    trainer = Trainer.start(server.uri, runs, "--experiment", experiment, "--wait", *options)
    server.kill()
    trainer.go()
    return trainer


def test_damaged_middle_record(server: BreakableServer, tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    trainer = _server_away(server, runs, "damaged", "--epochs", "40", "--flush-timeout", "1")
    code = trainer.finish()
    wal = trainer.run_path / "wal.log"
    records = read_wal(wal).records
    metrics = [seq for seq, record in records if isinstance(record, MetricRecord)]
    logged = _durable(trainer.run_path)
    damage_record(wal, metrics[len(metrics) // 2])
    server.restart()
    synced = _sync_all(runs)
    client = MlflowClient(server.uri)
    observed = _observe(client, trainer.run_id, logged, (code,), synced.returncode)
    assert observed == CASES["damaged middle record"].expected, synced.stderr
    assert tags.SYNC_SKIPPED in client.get_run(trainer.run_id).data.tags


def test_torn_tail(server: BreakableServer, tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    trainer = _server_away(server, runs, "torn", "--epochs", "0", "--pause", "0.05")
    trainer.read_until_step(40)
    time.sleep(1.5)  # past the writer's fsync interval: the last record is whole on disk
    trainer.kill()
    logged = _durable(trainer.run_path)
    wal = trainer.run_path / "wal.log"
    data = wal.read_bytes()
    last_line = data.rstrip(b"\n").rfind(b"\n") + 1
    torn = read_wal(wal).records[-1][1]
    assert isinstance(torn, MetricRecord), "the torn record is an epoch's point"
    wal.write_bytes(data[: last_line + (len(data) - last_line) // 2])  # power loss mid-write
    server.restart()
    synced = _sync_all(runs)
    client = MlflowClient(server.uri)
    observed = _observe(
        client, trainer.run_id, logged, (trainer.process.returncode,), synced.returncode
    )
    assert observed == CASES["torn tail"].expected, synced.stderr
    assert "truncated" in synced.stderr
    assert "truncated" in client.get_run(trainer.run_id).data.tags[tags.SYNC_SKIPPED]


# --- the runs folder: full, shared ---------------------------------------------------------


def test_disk_full(server: BreakableServer, tmp_path: Path) -> None:
    with small_disk(tmp_path / "runs", 256) as runs:
        trainer = Trainer.start(
            server.uri, runs, "--experiment", "disk-full", "--epochs", "400", "--text-kib", "32"
        )
        code = trainer.finish()
        synced = _sync_all(runs)
    errors = [line for line in trainer.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and str(runs) in errors[0], trainer.stderr
    assert "Traceback" not in trainer.stderr
    client = MlflowClient(server.uri)
    observed = _observe(client, trainer.run_id, trainer.logged, (code,), synced.returncode)
    assert observed == CASES["disk full"].expected, trainer.stderr + synced.stderr


def test_two_trainers_share_a_runs_folder(server: BreakableServer, tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    common = ("--experiment", "shared", "--epochs", "40", "--pause", "0.05", "--keep")
    first = Trainer.start(server.uri, runs, *common, "--mark", "1")
    second = Trainer.start(server.uri, runs, *common, "--mark", "2")
    codes = (first.finish(), second.finish())
    client = MlflowClient(server.uri)
    each = [_observe(client, t.run_id, t.logged, codes) for t in (first, second)]
    observed = Observed(
        codes,
        None,
        ", ".join(o.status for o in each),
        sum(o.lost for o in each),
        sum(o.duplicated for o in each),
    )
    assert observed == CASES["two trainers"].expected, first.stderr + second.stderr
    assert sorted(p.name for p in runs.iterdir()) == sorted([first.run_id, second.run_id])
    for trainer, mark in ((first, 1.0), (second, 2.0)):
        marks = {p.value for p in client.get_metric_history(trainer.run_id, "mark")}
        assert marks == {mark}
        kept = [r for _, r in read_wal(trainer.run_path / "wal.log").records]
        assert {r.value for r in kept if isinstance(r, MetricRecord) and r.key == "mark"} == {mark}


# --- a sweep --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def housing_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Enough rows that trial 1's epochs outlast the server's restart being noticed."""
    out = tmp_path_factory.mktemp("housing")
    housing_data.write(housing_data.HousingSpec(n_rows=20000), out)
    return out


def _restart_when_trial_one_has_an_epoch(
    server: BreakableServer, experiment: str, restarted: threading.Event
) -> None:
    client = MlflowClient(server.uri)
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        found = client.get_experiment_by_name(experiment)
        trials = (
            []
            if found is None
            else client.search_runs([found.experiment_id], f"tags.{tags.TRIAL} = '1'")
        )
        running = [t for t in trials if t.info.status == "RUNNING"]
        if running and client.get_metric_history(running[0].info.run_id, "val_mae"):
            server.kill()
            server.restart()
            restarted.set()
            return
        time.sleep(0.2)
    # the test fails on `restarted` not being set: trial 1 never logged an epoch


def test_sweep_server_restart_mid_trial(
    server: BreakableServer, housing_dir: Path, tmp_path: Path
) -> None:
    space = tmp_path / "quick_sweep.yaml"
    space.write_text(search_space.packaged_space_text(search_space.QUICK_SPACE_RESOURCE))
    experiment = "fault-sweep"
    restarted = threading.Event()
    chaos = threading.Thread(
        target=_restart_when_trial_one_has_an_epoch, args=(server, experiment, restarted)
    )
    chaos.start()
    result = run_cli(
        *("sweep", "housing-mlp", "--data", str(housing_dir), "--space", str(space)),
        *("--sampling-seed", "1", "--tracking-uri", server.uri, "--experiment", experiment),
        env={"TRACKING_DEMO_RUNS_DIR": str(tmp_path / "runs")},
    )
    chaos.join()
    assert restarted.is_set(), "the server was not restarted while trial 1 trained"
    client = MlflowClient(server.uri)
    experiment_id = client.get_experiment_by_name(experiment).experiment_id
    runs = client.search_runs([experiment_id])
    [parent] = [r for r in runs if tags.TRIAL not in r.data.tags]
    trials = [r for r in runs if tags.TRIAL in r.data.tags]
    lost = duplicated = 0
    for trial in trials:
        epochs = int(trial.data.metrics["epochs_trained"])
        logged = {key: set(range(1, epochs + 1)) for key in ("loss", "val_mae")}
        trial_lost, trial_duplicated = _points(client, trial.info.run_id, logged)
        lost, duplicated = lost + trial_lost, duplicated + trial_duplicated
    statuses = sorted(t.info.status for t in trials)
    status = (
        f"{parent.info.status}; trials {statuses.count('FINISHED')} FINISHED, "
        f"{statuses.count('KILLED')} KILLED"
    )
    observed = Observed((result.returncode,), None, status, lost, duplicated)
    assert observed == CASES["sweep, server restart"].expected, result.stderr
    assert len(trials) == 4

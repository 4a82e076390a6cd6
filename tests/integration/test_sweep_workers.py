"""Warm sweep workers against the real local server: the same results as a fresh process per
trial, and every way a worker's trial can end (a crash, an out-of-memory-style SIGKILL, Ctrl-C
on the sweep, an exception) recorded with its true final status, nothing logged lost, nothing
left RUNNING and no worker process left behind.

The sweeps are the real `tracking-demo sweep housing-mlp` (its own process group, as a terminal
starts it) on a small synthetic housing file; the long trials (100 epochs) exist only to be
stopped after their first epoch reached the server.
"""

from __future__ import annotations

import os
import signal
import time
import uuid
from collections.abc import Sequence
from pathlib import Path

import pytest
from mlflow.entities import Run
from mlflow.tracking import MlflowClient
from tests.support.sweep_process import (
    SweepProcess,
    is_dead,
    is_sweep_worker,
    parent_of,
    running_sweep,
)

from tracking_demo.data import housing as housing_data
from tracking_demo.sweep import space as search_space
from tracking_demo.sweep.runner import SweepOptions, TrialOutcome, run_sweep
from tracking_demo.tasks import housing
from tracking_demo.tracking import tags
from tracking_demo.tracking.records import MetricRecord
from tracking_demo.tracking.session import TrackingSession
from tracking_demo.tracking.settings import TrackingSettings
from tracking_demo.tracking.wal import LOCK_FILE, WAL_FILE, read_wal

pytestmark = pytest.mark.integration
EPOCH_TIMEOUT_S = 240.0  # a worker's TensorFlow import and a first epoch on a busy machine
SWEEP_TIMEOUT_S = 300.0
INTERRUPT_TIMEOUT_S = 60.0  # the sweep gives its workers 10 s to end their runs, then kills them
# Two learning rates so a few trials stay distinct; 100 epochs only for a trial to be stopped.
STOPPABLE_SPACE = """\
parameters:
  learning_rate: {choice: [0.01, 0.02]}
  epochs: {choice: [2, 100]}
  batch_size: {choice: [50]}
  first_layer_units: {choice: [8]}
  second_layer_units: {choice: [4]}
primary_metric: {name: val_mae, goal: minimize}
early_termination: {policy: none}
max_trials: 3
max_concurrent: 1
"""


@pytest.fixture(scope="module")
def housing_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return housing_data.write(
        housing_data.HousingSpec(n_rows=3000), tmp_path_factory.mktemp("housing")
    )


@pytest.fixture
def experiment(request: pytest.FixtureRequest) -> str:
    return f"sweep-workers-{request.node.originalname}-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def stoppable_space(tmp_path: Path) -> Path:
    path = tmp_path / "stoppable.yaml"
    path.write_text(STOPPABLE_SPACE)
    return path


def _seed_sampling_epochs(space: Path, epochs: Sequence[int]) -> int:
    """The first sampling seed whose trials have these epochs, in this order."""
    spec = search_space.load(space, housing.TUNABLE)
    for seed in range(200):
        trials = search_space.sample(spec.parameters, spec.max_trials, seed)
        if [t["epochs"] for t in trials] == list(epochs):
            return seed
    raise AssertionError(f"no sampling seed gives epochs {list(epochs)}")


def _environment(runs: Path) -> dict[str, str]:
    """The test session's variables (no MLflow ones), trial run logs in `runs`."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    return {**clean, "TRACKING_DEMO_RUNS_DIR": str(runs)}


def _arguments(
    data: Path, space: Path, seed: int, uri: str, experiment: str, *more: str
) -> list[str]:
    return [
        *("--data", str(data), "--space", str(space), "--sampling-seed", str(seed)),
        *("--tracking-uri", uri, "--experiment", experiment, *more),
    ]


def _runs(client: MlflowClient, experiment: str) -> tuple[Run, dict[int, Run]]:
    """The sweep's run and its trial runs by trial number."""
    found = client.get_experiment_by_name(experiment)
    assert found is not None, f"no experiment {experiment}"
    runs = client.search_runs([found.experiment_id])
    [parent] = [r for r in runs if tags.TRIAL not in r.data.tags]
    trials = {int(r.data.tags[tags.TRIAL]): r for r in runs if tags.TRIAL in r.data.tags}
    return parent, trials


def _curve(client: MlflowClient, run_id: str, key: str = "val_mae") -> list[tuple[int, float]]:
    return sorted((m.step, m.value) for m in client.get_metric_history(run_id, key))


def _trial_logs(client: MlflowClient, parent_id: str) -> set[str]:
    return {Path(a.path).name for a in client.list_artifacts(parent_id, "trial_logs")}


def _running_trial_with_an_epoch(
    client: MlflowClient, experiment: str, index: int, sweep: SweepProcess
) -> tuple[str, int]:
    """Poll the server until trial `index` runs and its first val_mae arrived: its run id and
    the epochs on the server then."""
    deadline = time.monotonic() + EPOCH_TIMEOUT_S
    while time.monotonic() < deadline:
        if sweep.process.poll() is not None:
            raise AssertionError(
                f"the sweep ended before trial-{index} logged an epoch:\n{sweep.output()}"
            )
        found = client.get_experiment_by_name(experiment)
        if found is not None:
            for run in client.search_runs(
                [found.experiment_id], f"tags.`{tags.TRIAL}` = '{index}'"
            ):
                epochs = len(client.get_metric_history(run.info.run_id, "val_mae"))
                if run.info.status == "RUNNING" and epochs:
                    return run.info.run_id, epochs
        time.sleep(0.2)
    raise AssertionError(f"trial-{index} logged no epoch in {EPOCH_TIMEOUT_S:g}s")


def _run_owner(runs: Path, run_id: str) -> int:
    """The process that holds the run's log: its lock file says `pid@host`."""
    return int((runs / run_id / LOCK_FILE).read_text().split("@")[0])


def _kill_and_read_run_log(
    sweep: SweepProcess, worker: int, signum: int, run_log: Path
) -> dict[str, set[int]]:
    """Send `signum` to the worker and read what its run log holds once the worker is dead:
    metric key -> steps. The sweep is paused meanwhile, or it could deliver the log and remove
    it (as it should) before the test read it."""
    os.kill(sweep.pid, signal.SIGSTOP)
    try:
        os.kill(worker, signum)
        deadline = time.monotonic() + 30
        while not is_dead(worker):
            assert time.monotonic() < deadline, f"worker {worker} survived {signum}"
            time.sleep(0.05)
        logged: dict[str, set[int]] = {}
        for _, record in read_wal(run_log / WAL_FILE).records:
            if isinstance(record, MetricRecord):
                logged.setdefault(record.key, set()).add(record.step)
        return logged
    finally:
        os.kill(sweep.pid, signal.SIGCONT)


def _assert_delivered(client: MlflowClient, run_id: str, logged: dict[str, set[int]]) -> None:
    """Every point the run log held is on the server, each once."""
    for key, steps in logged.items():
        on_server = [m.step for m in client.get_metric_history(run_id, key)]
        assert sorted(on_server) == sorted(steps), key


# --- same results -----------------------------------------------------------------------------


@pytest.mark.slow
def test_warm_workers_train_the_same_trials_as_fresh_processes(  # type: ignore[no-untyped-def]
    mlflow_server, housing_file: Path, tmp_path: Path, experiment: str
) -> None:
    space = tmp_path / "quick_sweep.yaml"
    space.write_text(search_space.packaged_space_text(search_space.QUICK_SPACE_RESOURCE))
    client = MlflowClient(mlflow_server.uri)
    results = {}
    for isolation in ("worker", "process"):
        name = f"{experiment}-{isolation}"
        work = tmp_path / isolation
        work.mkdir()
        arguments = _arguments(housing_file, space, 1, mlflow_server.uri, name)
        arguments += ["--no-early-termination", "--max-concurrent", "2"]
        arguments += ["--isolation", isolation]
        with running_sweep(arguments, _environment(tmp_path / "runs"), work) as sweep:
            assert sweep.wait(SWEEP_TIMEOUT_S) == 0, sweep.output()
        results[isolation] = _runs(client, name)

    (worker_parent, worker_trials), (process_parent, process_trials) = results.values()
    assert worker_parent.data.params["sweep/isolation"] == "worker"
    assert process_parent.data.params["sweep/isolation"] == "process"
    assert sorted(worker_trials) == sorted(process_trials) == [1, 2, 3, 4]
    for index, warm in worker_trials.items():
        fresh = process_trials[index]
        assert warm.info.status == fresh.info.status == "FINISHED"
        assert warm.data.params == fresh.data.params
        warm_curve = _curve(client, warm.info.run_id)
        fresh_curve = _curve(client, fresh.info.run_id)
        assert [step for step, _ in warm_curve] == list(
            range(1, int(warm.data.params["epochs"]) + 1)
        )
        assert [s for s, _ in warm_curve] == [s for s, _ in fresh_curve]
        assert [v for _, v in warm_curve] == pytest.approx([v for _, v in fresh_curve], rel=1e-6)
        assert warm.data.metrics["test_mae"] == pytest.approx(
            fresh.data.metrics["test_mae"], rel=1e-6
        )
    trial_logs = {f"trial-{i}.log" for i in range(1, 5)}
    # 4 trials, 2 at a time, in the same 2 workers: each worker ran trials one after another
    assert _trial_logs(client, worker_parent.info.run_id) == trial_logs | {
        "worker-1.log",
        "worker-2.log",
    }
    assert _trial_logs(client, process_parent.info.run_id) == trial_logs


# --- a worker that dies mid-trial ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("signum", "status", "reason"),
    [
        (signal.SIGSEGV, "FAILED", "was killed by SIGSEGV (a crash in native code)"),
        (signal.SIGKILL, "KILLED", "was killed by SIGKILL (as the out-of-memory killer does)"),
    ],
    ids=["crash", "oom-kill"],
)
def test_a_worker_dying_mid_trial_takes_only_its_trial(  # type: ignore[no-untyped-def]
    mlflow_server,
    housing_file: Path,
    stoppable_space: Path,
    tmp_path: Path,
    experiment: str,
    signum: int,
    status: str,
    reason: str,
) -> None:
    client = MlflowClient(mlflow_server.uri)
    runs = tmp_path / "runs"
    seed = _seed_sampling_epochs(stoppable_space, [2, 100, 2])
    arguments = _arguments(housing_file, stoppable_space, seed, mlflow_server.uri, experiment)
    with running_sweep(arguments, _environment(runs), tmp_path) as sweep:
        run_id, epochs_seen = _running_trial_with_an_epoch(client, experiment, 2, sweep)
        worker = _run_owner(runs, run_id)
        assert is_sweep_worker(worker) and parent_of(worker) == sweep.pid
        logged = _kill_and_read_run_log(sweep, worker, signum, runs / run_id)
        assert sweep.wait(SWEEP_TIMEOUT_S) == 0, sweep.output()
        assert sweep.live_workers() == []

    parent, trials = _runs(client, experiment)
    assert sorted(trials) == [1, 2, 3]
    assert all(r.info.status != "RUNNING" for r in [parent, *trials.values()])
    assert parent.info.status == "FINISHED"
    assert parent.data.metrics["trials_completed"] == 2
    assert parent.data.metrics["trials_failed"] == 1
    dead = trials[2]
    assert dead.info.status == status
    assert dead.data.tags[tags.ERROR].startswith(
        f"sweep worker 1 (pid {worker}) {reason} while running this trial; "
        "last lines of trial-2.log:\n"  # where a native crash's last words went
    )
    # what the trial logged before its worker died is on the server, each point once
    assert len(logged["val_mae"]) >= epochs_seen
    _assert_delivered(client, run_id, logged)
    for index in (1, 3):
        assert trials[index].info.status == "FINISHED"
        assert trials[index].data.tags[tags.TRIAL_STATUS] == "completed"
        assert len(_curve(client, trials[index].info.run_id)) == 2
    # trial-3 ran in a new worker; the dead one and its replacement are both gone
    assert _trial_logs(client, parent.info.run_id) == {
        "trial-1.log",
        "trial-2.log",
        "trial-3.log",
        "worker-1.log",
        "worker-2.log",
    }
    assert len(sweep.workers) == 2 and worker in sweep.workers
    assert sweep.live_workers() == []


# --- Ctrl-C ---------------------------------------------------------------------------------------


def test_ctrl_c_stops_the_sweep_and_ends_each_running_trial_killed(  # type: ignore[no-untyped-def]
    mlflow_server,
    housing_file: Path,
    stoppable_space: Path,
    tmp_path: Path,
    experiment: str,
) -> None:
    client = MlflowClient(mlflow_server.uri)
    seed = _seed_sampling_epochs(stoppable_space, [2, 100, 100])
    arguments = _arguments(housing_file, stoppable_space, seed, mlflow_server.uri, experiment)
    arguments += ["--max-concurrent", "2"]
    with running_sweep(arguments, _environment(tmp_path / "runs"), tmp_path) as sweep:
        # trial-3 starts once trial-1 (2 epochs) is done: then two trials train at once
        seen = dict(
            _running_trial_with_an_epoch(client, experiment, index, sweep) for index in (2, 3)
        )
        assert len(sweep.workers) == 2
        os.kill(sweep.pid, signal.SIGINT)  # what Ctrl-C sends to the foreground process
        assert sweep.wait(INTERRUPT_TIMEOUT_S) != 0, sweep.output()
        assert sweep.live_workers() == []

    parent, trials = _runs(client, experiment)
    assert parent.info.status == "KILLED"
    assert sorted(trials) == [1, 2, 3]
    assert trials[1].info.status == "FINISHED"
    for index in (2, 3):
        run = trials[index]
        assert run.info.status == "KILLED"
        assert "the sweep was interrupted; trial stopped" in run.data.tags[tags.ERROR]
        steps = [step for step, _ in _curve(client, run.info.run_id)]
        assert steps == list(range(1, len(steps) + 1))
        assert len(steps) >= seen[run.info.run_id]
        assert len(steps) < 100


# --- a trial that raises ----------------------------------------------------------------------


def test_a_failed_trial_leaves_its_worker_running_the_next(  # type: ignore[no-untyped-def]
    mlflow_server, housing_file: Path, tmp_path: Path, experiment: str
) -> None:
    data = tmp_path / "housing.csv"
    good = housing_file.read_bytes()
    data.write_bytes(good)
    spec = search_space.load(None, housing.TUNABLE)
    spec = search_space.SweepSpec(
        {**spec.parameters, "epochs": search_space.Choice((1,))}, spec.primary_metric, None, 3, 1
    )

    def break_the_data_for_trial_2_only(trial: TrialOutcome) -> None:
        if trial.index == 1:
            lines = data.read_text().splitlines()
            lines[1] = lines[1].replace(",", ",abc,", 1)
            data.write_text("\n".join(lines))
        elif trial.index == 2:
            data.write_bytes(good)

    session = TrackingSession(TrackingSettings(uri=mlflow_server.uri, experiment=experiment))
    result = run_sweep(
        SweepOptions(housing.SplitOptions(data), spec, seed=3, isolation="worker"),
        session,
        progress=break_the_data_for_trial_2_only,
    )
    client = MlflowClient(mlflow_server.uri)
    assert [t.status for t in result.trials] == ["completed", "failed", "completed"]
    parent, trials = _runs(client, experiment)
    assert [trials[i].info.status for i in (1, 2, 3)] == ["FINISHED", "FAILED", "FINISHED"]
    assert "must be numeric" in trials[2].data.tags[tags.ERROR]
    # one worker ran all three: the exception ended only its trial
    assert _trial_logs(client, parent.info.run_id) == {
        "trial-1.log",
        "trial-2.log",
        "trial-3.log",
        "worker-1.log",
    }

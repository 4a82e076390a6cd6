"""How the sweep tells a trial's end: the words for a dead process, which deaths count as
stopped from outside (KILLED) rather than crashed (FAILED), and warm workers driven through
their protocol by a stand-in worker (`tests/support/fake_sweep_worker.py`): trials in turn in
one worker, a worker dying before it is ready, mid-trial or idle, one retiring after its trial,
and their replacements."""

from __future__ import annotations

import os
import signal
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.support.fake_sweep_worker import LAST_WORDS, STARTUP_ERROR
from tests.support.sweep_process import is_dead

from tracking_demo.server.processes import group_alive
from tracking_demo.sweep.executors import (
    TrialExit,
    TrialLaunch,
    WarmWorkers,
    WorkerError,
    describe_death,
    killed_by_signal,
)

FAKE_WORKER = Path(__file__).parent.parent / "support" / "fake_sweep_worker.py"
TIMEOUT_S = 30.0


@pytest.mark.parametrize(
    ("code", "words"),
    [
        (3, "exited with code 3"),
        (-signal.SIGKILL, "was killed by SIGKILL (as the out-of-memory killer does)"),
        (-signal.SIGSEGV, "was killed by SIGSEGV (a crash in native code)"),
        (-signal.SIGABRT, "was killed by SIGABRT (an abort in native code)"),
        (-signal.SIGTERM, "was killed by SIGTERM"),
        (-200, "was killed by signal 200"),
    ],
)
def test_a_dead_process_is_described_by_its_exit_code_or_signal(code: int, words: str) -> None:
    assert describe_death("sweep worker 2", 12, code) == f"sweep worker 2 (pid 12) {words}"


@pytest.mark.parametrize(
    ("code", "stopped"),
    [
        (-signal.SIGKILL, True),
        (-signal.SIGTERM, True),
        (-signal.SIGINT, True),
        (-signal.SIGSEGV, False),
        (-signal.SIGABRT, False),
        (1, False),
        (130, False),  # a worker's trial interrupted by the sweep reports its own exit code
    ],
)
def test_only_a_kill_from_outside_counts_as_stopped(code: int, stopped: bool) -> None:
    assert killed_by_signal(code) is stopped


@pytest.fixture
def pool(tmp_path: Path) -> Iterator[WarmWorkers]:
    workers = WarmWorkers(
        1, dict(os.environ), tmp_path / "logs", [sys.executable, str(FAKE_WORKER), "serve"]
    )
    try:
        yield workers
    finally:
        workers.stop()


def _launch(tmp_path: Path, index: int, *command: str) -> TrialLaunch:
    return TrialLaunch(index, command, {}, tmp_path / f"trial-{index}.log")


def _exits(pool: WarmWorkers, count: int) -> list[TrialExit]:
    ended: list[TrialExit] = []
    deadline = time.monotonic() + TIMEOUT_S
    while len(ended) < count:
        assert time.monotonic() < deadline, f"only {ended} ended within {TIMEOUT_S:g}s"
        ended += pool.wait(0.2)
    return ended


def test_one_worker_runs_trials_in_turn_and_ends_with_its_input(
    pool: WarmWorkers, tmp_path: Path
) -> None:
    pool.start_all()
    pool.ready()
    [worker] = pool.workers
    pool.start(_launch(tmp_path, 1, "exit", "0"))
    assert _exits(pool, 1) == [TrialExit(1, 0)]
    pool.start(_launch(tmp_path, 2, "exit", "2"))
    assert _exits(pool, 1) == [TrialExit(2, 2)]
    assert pool.workers == [worker] and pool.started == 1 and worker.trials_run == 2
    pool.close()
    assert worker.process.returncode == 0
    assert not group_alive(worker.process.pid)


def test_a_worker_that_fails_to_start_is_an_error_naming_its_log(tmp_path: Path) -> None:
    pool = WarmWorkers(
        1, dict(os.environ), tmp_path / "logs", [sys.executable, str(FAKE_WORKER), "broken"]
    )
    pool.start_all()
    pid = pool.workers[0].process.pid
    try:
        with pytest.raises(WorkerError) as raised:
            pool.ready(timeout=TIMEOUT_S)
    finally:
        pool.stop()
    assert str(raised.value) == (
        f"sweep worker 1 (pid {pid}) exited with code 3; last lines of worker-1.log:\n"
        + STARTUP_ERROR
    )


def test_a_worker_dying_mid_trial_ends_that_trial_and_a_new_one_runs_the_next(
    pool: WarmWorkers, tmp_path: Path
) -> None:
    pool.start_all()
    pool.ready()
    [first] = pool.workers
    pool.start(_launch(tmp_path, 1, "die"))
    [ended] = _exits(pool, 1)
    assert (ended.index, ended.code) == (1, -signal.SIGKILL)
    assert ended.death == (
        f"sweep worker 1 (pid {first.process.pid}) was killed by SIGKILL (as the out-of-memory "
        f"killer does) while running this trial; last lines of trial-1.log:\n{LAST_WORDS}"
    )
    assert first not in pool.workers
    pool.start(_launch(tmp_path, 2, "exit", "0"))
    assert _exits(pool, 1) == [TrialExit(2, 0)]
    assert pool.started == 2
    assert (tmp_path / "logs" / "worker-2.log").is_file()


def test_a_retiring_worker_gets_no_more_trials_and_a_new_one_runs_the_next(
    pool: WarmWorkers, tmp_path: Path
) -> None:
    pool.start_all()
    pool.ready()
    [retiring] = pool.workers
    pool.start(_launch(tmp_path, 1, "retire", "0"))
    assert _exits(pool, 1) == [TrialExit(1, 0)]  # its trial completed: no death to report
    pool.start(_launch(tmp_path, 2, "exit", "0"))  # sent at once, before it has ended
    assert _exits(pool, 1) == [TrialExit(2, 0)]
    assert retiring.process.wait(TIMEOUT_S) == 0
    assert retiring not in pool.workers and pool.started == 2


def test_a_worker_that_died_idle_is_not_given_the_next_trial(
    pool: WarmWorkers, tmp_path: Path
) -> None:
    pool.start_all()
    pool.ready()
    [idle] = pool.workers
    os.kill(idle.process.pid, signal.SIGKILL)  # the out-of-memory killer picks an idle worker
    deadline = time.monotonic() + TIMEOUT_S
    while not is_dead(idle.process.pid):
        assert time.monotonic() < deadline
        time.sleep(0.01)
    pool.start(_launch(tmp_path, 1, "exit", "0"))
    assert _exits(pool, 1) == [TrialExit(1, 0)]
    assert idle not in pool.workers and pool.started == 2


def test_stopping_the_pool_stops_each_worker_group_mid_trial(
    pool: WarmWorkers, tmp_path: Path
) -> None:
    pool.start_all()
    pool.ready()
    [worker] = pool.workers
    pool.start(_launch(tmp_path, 1, "hang"))  # its trial runs a child process in its group
    deadline = time.monotonic() + TIMEOUT_S
    while not (tmp_path / "trial-1.log").is_file():
        assert time.monotonic() < deadline
        time.sleep(0.01)
    pool.stop()
    assert worker.process.poll() is not None
    assert not group_alive(worker.process.pid)
    assert pool.workers == []

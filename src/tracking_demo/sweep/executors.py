"""How the sweep runs its trials: each in a fresh process, or one after another in warm workers.

Both run the same command, `tracking-demo train housing-mlp ...` with the sampled options (what
a HyperDrive or v2 sweep trial runs), into the nested run the parent created, with its output in
the trial's log, and report each trial's end the same way (`TrialExit`): the runner, the policy
and what is recorded do not depend on which one ran it.

- `FreshProcesses` (`--isolation process`): a new process per trial. Nothing is shared, and each
  trial pays the start-up: the interpreter, TensorFlow's import (about 6-10 s), MLflow.
- `WarmWorkers` (`--isolation worker`, the default): `max_concurrent` long-lived processes
  (`tracking-demo sweep worker`), each importing TensorFlow once, then running trials in turn
  from its stdin, with a clean Keras state, its own seed and its run's durable logger. A trial
  that raises ends its run FAILED and the worker goes on; a worker that dies (a crash, the
  out-of-memory killer) takes only its trial with it and is replaced at the next trial.

Each process (trial or worker) leads its own process group, so stopping the sweep stops the
whole of each group, and a terminal's Ctrl-C reaches only the sweep, which then stops them.
"""

from __future__ import annotations

import contextlib
import json
import os
import selectors
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from tracking_demo.errors import TrackingDemoError
from tracking_demo.server.processes import log_tail, start_group, stop_process_group

ISOLATIONS = ("worker", "process")
# How long a stopped trial or worker gets to end its run itself (delivering what it logged)
# before its group is killed.
STOP_TIMEOUT_S = 10.0
# How long a worker gets to finish its start-up (TensorFlow's import) before the sweep fails.
READY_TIMEOUT_S = 300.0
WORKER_LOG_LINES = 10
WORKER_COMMAND = (sys.executable, "-m", "tracking_demo", "sweep", "worker")


@dataclass(frozen=True)
class TrialLaunch:
    """One trial to run: `tracking-demo ARGUMENTS` with VARIABLES (its run) set."""

    index: int
    arguments: Sequence[str]
    variables: Mapping[str, str]
    log: Path


@dataclass(frozen=True)
class TrialExit:
    """How a trial's command ended: its exit code, and how its process died when it did."""

    index: int
    code: int
    death: str | None = None  # "the worker process (pid 12) was killed by SIGKILL ..."


class TrialRunner(Protocol):
    """What the sweep needs from a way of running trials."""

    def ready(self) -> None:
        """Return once trials can start without waiting on start-up."""

    def start(self, launch: TrialLaunch) -> None:
        """Start the trial now (the sweep keeps at most `max_concurrent` running)."""

    def wait(self, timeout: float) -> list[TrialExit]:
        """The trials that ended, waiting up to `timeout` seconds for one."""

    def stop(self) -> None:
        """The sweep is interrupted: stop every running trial's process group."""

    def close(self) -> None:
        """The sweep is done: let every process end."""


def describe_death(what: str, pid: int, code: int) -> str:
    """Why a process ended without reporting, in words a user can act on."""
    if code >= 0:
        return f"{what} (pid {pid}) exited with code {code}"
    try:
        name = signal.Signals(-code).name
    except ValueError:
        name = f"signal {-code}"
    cause = {
        "SIGKILL": " (as the out-of-memory killer does)",
        "SIGSEGV": " (a crash in native code)",
        "SIGABRT": " (an abort in native code)",
    }.get(name, "")
    return f"{what} (pid {pid}) was killed by {name}{cause}"


def killed_by_signal(code: int) -> bool:
    """A process stopped from outside (SIGKILL, SIGTERM, SIGINT) rather than one that crashed."""
    return code in (-signal.SIGKILL, -signal.SIGTERM, -signal.SIGINT)


# --- a fresh process per trial -------------------------------------------------------------------


class FreshProcesses:
    """`--isolation process`: each trial is `python -m tracking_demo ARGUMENTS`, as on Azure ML."""

    def __init__(self, environment: Mapping[str, str]) -> None:
        self.environment = dict(environment)
        self.running: dict[int, subprocess.Popen[bytes]] = {}

    def ready(self) -> None:
        """Nothing to wait for: each trial starts its own process."""

    def start(self, launch: TrialLaunch) -> None:
        self.running[launch.index] = start_group(
            [sys.executable, "-m", "tracking_demo", *launch.arguments],
            output=launch.log,
            env={**self.environment, **launch.variables},
        )

    def wait(self, timeout: float) -> list[TrialExit]:
        deadline = time.monotonic() + timeout
        while True:
            ended = [
                self._exit(index, process)
                for index, process in list(self.running.items())
                if process.poll() is not None
            ]
            if ended or time.monotonic() >= deadline:
                return ended
            time.sleep(0.05)

    def _exit(self, index: int, process: subprocess.Popen[bytes]) -> TrialExit:
        del self.running[index]
        code = process.returncode
        death = describe_death("the trial process", process.pid, code) if code < 0 else None
        return TrialExit(index, code, death)

    def stop(self) -> None:
        _stop_all(list(self.running.values()))

    def close(self) -> None:
        self.stop()


# --- warm workers ------------------------------------------------------------------------------


@dataclass
class _Worker:
    number: int
    process: subprocess.Popen[bytes]
    log: Path
    ready: bool = False
    trial: int | None = None  # the index of the trial it runs
    trial_log: Path | None = None  # where that trial's output (the worker's fds 1, 2) goes
    retiring: bool = False  # it said it ends after its trial (it grew too much)
    buffer: bytes = b""
    trials_run: int = 0
    started: float = field(default_factory=time.perf_counter)


class WorkerError(TrackingDemoError):
    """A worker could not start (a broken environment), or spoke out of turn (a bug)."""


class WarmWorkers:
    """`--isolation worker`: long-lived workers running trials one after another.

    A worker is `python -m tracking_demo sweep worker`. It reports `{"ready": pid}` on stdout
    once its imports are done, reads one trial per line on stdin (`TrialLaunch` as JSON), and
    reports `{"index": N, "code": C, "retiring": R}` when the trial's command returns; R true
    means it ends now (its memory grew too much, `worker.GROWTH_LIMIT_MIB`) and gets no more.
    """

    def __init__(
        self,
        size: int,
        environment: Mapping[str, str],
        logs: Path,
        command: Sequence[str] = WORKER_COMMAND,  # another only in tests: a stand-in worker
    ) -> None:
        self.size = size
        self.environment = dict(environment)
        self.logs = logs
        self.command = list(command)
        self.workers: list[_Worker] = []
        self.started = 0
        self.startup_s: list[float] = []  # each worker's time from start to ready
        self.selector = selectors.DefaultSelector()
        self._ended: list[TrialExit] = []

    # -- the pool

    def start_all(self) -> None:
        """Start the pool's workers now, so their imports overlap the sweep's own set-up."""
        while len(self.workers) < self.size:
            self._spawn()

    def ready(self, timeout: float = READY_TIMEOUT_S) -> None:
        """Block until every worker has finished its start-up (trial time is then trial time)."""
        deadline = time.monotonic() + timeout
        while not all(w.ready for w in self.workers):
            if time.monotonic() >= deadline:
                raise WorkerError(f"sweep workers were not ready within {timeout:g}s")
            self._read(min(0.5, deadline - time.monotonic()))
            for worker in list(self.workers):
                if not worker.ready and worker.process.poll() is not None:
                    raise WorkerError(self._death(worker) + self._log_note(worker.log))

    def _spawn(self) -> _Worker:
        self.started += 1
        self.logs.mkdir(parents=True, exist_ok=True)
        log = self.logs / f"worker-{self.started}.log"
        process = start_group(
            self.command,
            output=subprocess.PIPE,
            errors=log,
            env=self.environment,
            stdin=subprocess.PIPE,
        )
        worker = _Worker(self.started, process, log)
        assert process.stdout is not None
        os.set_blocking(process.stdout.fileno(), False)
        self.selector.register(process.stdout, selectors.EVENT_READ, worker)
        self.workers.append(worker)
        return worker

    # -- trials

    def start(self, launch: TrialLaunch) -> None:
        # an idle worker that died since it last spoke is left to `wait` to retire
        idle = (
            w
            for w in self.workers
            if w.trial is None and not w.retiring and w.process.poll() is None
        )
        worker = next(idle, None) or self._spawn()
        worker.trial, worker.trial_log = launch.index, launch.log
        message = {
            "index": launch.index,
            "arguments": list(launch.arguments),
            "variables": dict(launch.variables),
            "log": str(launch.log),
        }
        assert worker.process.stdin is not None
        try:
            worker.process.stdin.write((json.dumps(message) + "\n").encode())
            worker.process.stdin.flush()
        except BrokenPipeError:  # it died since it last spoke: `wait` reports the trial
            pass

    def wait(self, timeout: float) -> list[TrialExit]:
        self._read(timeout)
        for worker in list(self.workers):
            if worker.process.poll() is not None:
                self._retire(worker)
        ended, self._ended = self._ended, []
        return ended

    def _read(self, timeout: float) -> None:
        for key, _ in self.selector.select(max(0.0, timeout)):
            worker: _Worker = key.data
            try:
                chunk = os.read(key.fd, 65536)
            except BlockingIOError:
                continue
            if not chunk:  # the worker closed its stdout: it is ending
                self.selector.unregister(key.fileobj)
                worker.process.wait()
                continue
            worker.buffer += chunk
            *lines, worker.buffer = worker.buffer.split(b"\n")
            for line in lines:
                self._handle(worker, json.loads(line))

    def _handle(self, worker: _Worker, message: dict[str, int]) -> None:
        if "ready" in message:
            worker.ready = True
            self.startup_s.append(time.perf_counter() - worker.started)
        elif worker.trial == message.get("index"):
            self._ended.append(TrialExit(message["index"], int(message["code"])))
            worker.trial = None
            worker.trials_run += 1
            worker.retiring = bool(message.get("retiring"))
        else:
            raise WorkerError(f"sweep worker {worker.number} reported {message}")

    def _retire(self, worker: _Worker) -> None:
        """A worker ended: its trial (if any) ended with it; the next trial starts a new one."""
        self._read(0)  # its last report, if it wrote one before ending
        with contextlib.suppress(KeyError, ValueError):
            self.selector.unregister(worker.process.stdout)  # type: ignore[arg-type]
        self.workers.remove(worker)
        if worker.trial is not None:
            # A native crash's last words went where the worker's output was: the trial's log.
            log = worker.trial_log or worker.log
            death = self._death(worker) + " while running this trial" + self._log_note(log)
            self._ended.append(TrialExit(worker.trial, worker.process.returncode, death))

    def _death(self, worker: _Worker) -> str:
        return describe_death(
            f"sweep worker {worker.number}", worker.process.pid, worker.process.returncode
        )

    def _log_note(self, log: Path) -> str:
        tail = log_tail(log, WORKER_LOG_LINES).strip() if log.is_file() else ""
        return f"; last lines of {log.name}:\n{tail}" if tail else ""

    def stop(self) -> None:
        _stop_all([w.process for w in self.workers])
        self._forget()

    def close(self) -> None:
        """Idle workers end at the end of their input; one still busy is stopped."""
        for worker in self.workers:
            with contextlib.suppress(OSError):
                assert worker.process.stdin is not None
                worker.process.stdin.close()
        deadline = time.monotonic() + STOP_TIMEOUT_S
        for worker in self.workers:
            with contextlib.suppress(subprocess.TimeoutExpired):
                worker.process.wait(max(0.1, deadline - time.monotonic()))
        self.stop()

    def _forget(self) -> None:
        for worker in self.workers:
            for pipe in (worker.process.stdin, worker.process.stdout):
                with contextlib.suppress(OSError, KeyError, ValueError):
                    if pipe is worker.process.stdout:
                        self.selector.unregister(pipe)  # type: ignore[arg-type]
                    pipe.close()  # type: ignore[union-attr]
        self.workers = []


def _stop_all(processes: Sequence[subprocess.Popen[bytes]]) -> None:
    """SIGTERM every group at once (each trial ends its run in parallel), then wait for each
    and SIGKILL what is left after `STOP_TIMEOUT_S`."""
    for process in processes:
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
    for process in processes:
        stop_process_group(process.pid, STOP_TIMEOUT_S, child=process)

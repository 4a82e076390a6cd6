"""Inside a warm sweep worker: import once, then run trial after trial as the trial process would.

The parent (`executors.WarmWorkers`) sends one trial per line on stdin and reads reports on the
worker's original stdout, which is kept aside for them: while a trial runs, stdout and stderr
(file descriptors 1 and 2, so native TensorFlow output too) go to that trial's log, as they
would for a trial process. Between trials they go to the worker's own log.

What a fresh process gives a trial for free is restored by hand: the trial's variables (its run)
are set and then put back, and Keras's global state (layer names, the graph, random seeds) is
cleared after each trial; the trial seeds itself as the command always did. With that,
a trial's per-epoch `val_mae` equals the fresh process's on the same backend: bit for bit in
every run measured, within 1e-6 as tests/integration/test_sweep_workers.py asserts.

Not everything a trial leaves behind can be cleared: TensorFlow keeps each traced gradient
function in a process-wide registry (about 6 MiB per housing trial, measured). A worker whose
resident memory has grown by more than `GROWTH_LIMIT_MIB` (or
`$TRACKING_DEMO_WORKER_MAX_GROWTH_MIB`) since it was ready therefore ends after its trial, and
the sweep starts a fresh one for the next: memory stays bounded at the cost of one start-up
per about 180 housing trials.

SIGTERM (the sweep stopping) raises `TrialInterrupted`, a KeyboardInterrupt, in the running
trial: its run ends KILLED with everything it logged delivered, and the worker exits. Later
SIGTERMs are ignored so they cannot break that ending; SIGKILL still ends it.
"""

from __future__ import annotations

import contextlib
import gc
import json
import os
import signal
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from types import FrameType
from typing import IO, Any

from tracking_demo.errors import ConfigError

RunCommand = Callable[[Sequence[str]], int]
INTERRUPTED_EXIT = 130
GROWTH_LIMIT_MIB = 1024.0
GROWTH_LIMIT_VARIABLE = "TRACKING_DEMO_WORKER_MAX_GROWTH_MIB"


class TrialInterrupted(KeyboardInterrupt):
    """The sweep stopped this worker mid-trial."""

    def __str__(self) -> str:
        return "the sweep was interrupted; trial stopped"


_interrupted = False


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    global _interrupted
    _interrupted = True
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    raise TrialInterrupted


def serve(run_command: RunCommand, warm_up: Callable[[], None]) -> int:
    """The worker's life: warm up, say ready, run each trial read from stdin until it ends."""
    reports = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # until a trial runs, anything printed goes to the worker's log
    signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        limit = growth_limit_mib(os.environ)
        warm_up()
        # What the imports created lives as long as the worker: the collections after each
        # trial skip it (about 0.5 s a trial on 2 cores, measured), as pre-forking servers do.
        gc.collect()
        gc.freeze()
        ready_mib = resident_mib()
        _report(reports, {"ready": os.getpid()})
        for line in sys.stdin:
            trial = json.loads(line)
            code = run_trial(run_command, trial)
            grown = resident_mib() - ready_mib
            retiring = grown > limit  # said with the report: no trial is sent after
            _report(reports, {"index": trial["index"], "code": code, "retiring": retiring})
            if _interrupted:
                return INTERRUPTED_EXIT
            if retiring:
                print(f"worker ends: it grew {grown:.0f} MiB since it was ready", file=sys.stderr)
                return 0
    except TrialInterrupted:  # stopped while idle or between trials
        return INTERRUPTED_EXIT
    return 0


def run_trial(run_command: RunCommand, trial: Mapping[str, Any]) -> int:
    """One trial's command, with its output in its log and its variables set, in a clean state."""
    with (
        output_to(trial["log"]),
        _variables(trial["variables"]),
        _clean_keras_state(),
    ):
        try:
            return run_command(trial["arguments"])
        except TrialInterrupted:
            return INTERRUPTED_EXIT


def growth_limit_mib(environ: Mapping[str, str]) -> float:
    """How much a worker may grow before it is replaced; the sweep checks it before starting."""
    text = environ.get(GROWTH_LIMIT_VARIABLE, "").strip()
    if not text:
        return GROWTH_LIMIT_MIB
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value > 0 or value == float("inf"):
        raise ConfigError(
            f"${GROWTH_LIMIT_VARIABLE} is {text!r}: expected a positive number of MiB "
            f"(default {GROWTH_LIMIT_MIB:g})"
        )
    return value


def resident_mib() -> float:
    """This process's resident memory now (Linux), else its peak: what a trial left behind."""
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except OSError:
        import resource

        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return peak / 2**20 if sys.platform == "darwin" else peak / 2**10


def _report(stream: IO[str], message: Mapping[str, int]) -> None:
    stream.write(json.dumps(message) + "\n")
    stream.flush()


@contextlib.contextmanager
def output_to(path: str | os.PathLike[str]) -> Iterator[None]:
    """File descriptors 1 and 2 (Python's output and native libraries' alike) appended to
    `path` for the block, then back."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    log = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        os.dup2(log, 1)
        os.dup2(log, 2)
        yield
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for fd in (log, *saved):
            os.close(fd)


@contextlib.contextmanager
def _variables(variables: Mapping[str, str]) -> Iterator[None]:
    before = {name: os.environ.get(name) for name in variables}
    os.environ.update(variables)
    try:
        yield
    finally:
        for name, value in before.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@contextlib.contextmanager
def _clean_keras_state() -> Iterator[None]:
    """Keras's globals cleared after the trial (its model and graph freed, layer names and
    seeds reset), so the next trial starts as in a fresh process. The first trial needs no
    clearing: warming up builds no model."""
    import keras

    try:
        yield
    finally:
        keras.backend.clear_session()  # with a garbage collection (`free_memory=True`)

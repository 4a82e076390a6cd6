"""`tracking-demo sweep housing-mlp` as a user starts it in a terminal, for the worker tests.

The sweep is its own session and process group (as a terminal's foreground job is), so a test can
send it what Ctrl-C sends, or pause it, without touching anything else. While it runs, its warm
workers (its children running `sweep worker`; each leads its own group) are recorded, so a test
can tell whether any of them outlived the sweep, and the clean-up can stop them even when the
sweep itself was killed. Linux only: processes are read from /proc.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from tests.support.interrupts import with_default_sigint

from tracking_demo.server.processes import group_alive, stop_process_group

WATCH_INTERVAL_S = 0.1
# A sweep stops its workers within 10 s of SIGTERMing them, then SIGKILLs them.
STOP_TIMEOUT_S = 30.0


def parent_of(pid: int) -> int | None:
    """The parent pid of a live process, None once it is gone."""
    stat = _stat(pid)
    return None if stat is None else int(stat[1])


def is_dead(pid: int) -> bool:
    """Gone, or a zombie its parent has not reaped yet: it will run no more code."""
    stat = _stat(pid)
    return stat is None or stat[0] in ("Z", "X")


def command_line(pid: int) -> list[str]:
    with contextlib.suppress(OSError):
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")[:-1]
    return []


def _stat(pid: int) -> list[str] | None:
    """The fields of /proc/PID/stat after the command name: state, parent pid, ..."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text[text.rindex(")") + 2 :].split()


def is_sweep_worker(pid: int) -> bool:
    return command_line(pid)[-3:] == ["tracking_demo", "sweep", "worker"]


def _children(pid: int) -> list[int]:
    children = []
    for entry in os.listdir("/proc"):
        if entry.isdigit() and parent_of(int(entry)) == pid:
            children.append(int(entry))
    return children


@dataclass
class SweepProcess:
    """One running `tracking-demo sweep housing-mlp`, its output in `log`."""

    process: subprocess.Popen[bytes]
    log: Path
    workers: set[int] = field(default_factory=set)  # every worker pid seen while it ran
    _done: threading.Event = field(default_factory=threading.Event)

    @property
    def pid(self) -> int:
        return self.process.pid

    def watch(self) -> None:
        """Record the sweep's worker children until it ends (run in a thread)."""
        while not self._done.is_set() and self.process.poll() is None:
            self.workers.update(p for p in _children(self.pid) if is_sweep_worker(p))
            time.sleep(WATCH_INTERVAL_S)

    def wait(self, timeout: float) -> int:
        """Its exit code; the test fails with its output if it runs past `timeout`."""
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(
                f"the sweep did not end within {timeout:g}s; its output:\n{self.output()}"
            ) from None

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.is_file() else ""

    def live_workers(self) -> list[int]:
        """The recorded workers whose process group still has a process."""
        return sorted(pid for pid in self.workers if group_alive(pid))

    def stop(self) -> None:
        """Leave nothing running: the sweep (Ctrl-C first, so it stops its workers itself),
        its group, then every worker group seen."""
        self._done.set()
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGCONT)  # a test may have paused it
                os.kill(self.pid, signal.SIGINT)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(STOP_TIMEOUT_S)
        stop_process_group(self.pid, 5.0, child=self.process)
        for pid in self.workers:
            if group_alive(pid) and is_sweep_worker(pid):
                stop_process_group(pid, 10.0)


@contextmanager
def running_sweep(
    arguments: Sequence[str], env: dict[str, str], cwd: Path
) -> Iterator[SweepProcess]:
    """`python -m tracking_demo sweep housing-mlp ARGUMENTS` in its own session in `cwd` (its
    output in `cwd/sweep.log`), watched; on leaving the block (also on failure) it and every
    worker it started are stopped."""
    log = cwd / "sweep.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "tracking_demo", "sweep", "housing-mlp", *arguments],
            stdout=output,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            cwd=cwd,
            start_new_session=True,
            preexec_fn=with_default_sigint,  # the Ctrl-C test sends SIGINT
        )
    sweep = SweepProcess(process, log)
    watcher = threading.Thread(target=sweep.watch, daemon=True)
    watcher.start()
    try:
        yield sweep
    finally:
        sweep.stop()
        watcher.join(timeout=10)

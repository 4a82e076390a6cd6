"""Commands run as their own process group: started, awaited over HTTP, stopped whole.

A server (uvicorn and its workers, `tracking-demo serve`) or a sweep trial may fork; signalling
its group reaches every child, where signalling the leader alone would orphan them. The local
MLflow server, the sweep's trials, `jobs.deploy local` and the tests' endpoints share this.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from tracking_demo.errors import ServerError

LOOPBACK = "127.0.0.1"
PROBE_INTERVAL_S = 0.2
PROBE_TIMEOUT_S = 2.0
LOG_TAIL_LINES = 15
# How long a group that failed to answer gets to end before SIGKILL: one that exited has
# only orphaned workers left; a silent one may still be starting up.
EXITED_STOP_S = 5.0
SILENT_STOP_S = 10.0


def start_group(
    command: Sequence[str],
    *,
    output: Path | int | None = None,
    errors: Path | int | None = subprocess.STDOUT,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    stdin: int = subprocess.DEVNULL,
) -> subprocess.Popen[bytes]:
    """Start `command` as the leader of a new session and process group, stdin closed unless
    `stdin` is `subprocess.PIPE` (a sweep worker reads its trials there).

    Its stdout is appended to `output` (a file; `subprocess.PIPE`; inherited when None); its
    stderr follows `errors`: into stdout (`subprocess.STDOUT`, the default), appended to a
    file, `subprocess.PIPE`, or inherited (None)."""
    with contextlib.ExitStack() as files:
        stdout = files.enter_context(output.open("ab")) if isinstance(output, Path) else output
        stderr = files.enter_context(errors.open("ab")) if isinstance(errors, Path) else errors
        return subprocess.Popen(
            list(command),
            stdout=stdout,
            stderr=stderr,
            stdin=stdin,
            start_new_session=True,
            env=env,
            cwd=cwd,
        )


def answers(
    url: str, timeout: float = PROBE_TIMEOUT_S, auth: tuple[str, str] | None = None
) -> bool:
    """True when `GET url` answers 200 (a health or readiness route); `auth`: basic auth."""
    import requests  # here, not at the top: `tracking-demo server status` starts without it

    try:
        response = requests.get(url, timeout=timeout, auth=auth)
    except requests.RequestException:
        return False
    return response.status_code == 200


def log_tail(path: Path, lines: int = LOG_TAIL_LINES) -> str:
    """The last lines of a process's log: what a start-up error usually ends with."""
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def wait_answering(
    process: subprocess.Popen[bytes],
    url: str,
    timeout: float,
    *,
    name: str,
    log: Path | None = None,
    log_lines: int = LOG_TAIL_LINES,
    error: Callable[[str], Exception] = ServerError,
) -> None:
    """Wait until `GET url` answers 200.

    A process that exits first, or stays silent past `timeout`, is stopped with its group and
    reported as `error`, with the last lines of `log` (where its output went; None: to ours)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        code = process.poll()
        if code is not None:
            stop_process_group(process.pid, EXITED_STOP_S, process)
            raise error(
                f"{name} exited with code {code} before answering {url}"
                + _output_note(log, log_lines)
            )
        if answers(url):
            return
        time.sleep(PROBE_INTERVAL_S)
    stop_process_group(process.pid, SILENT_STOP_S, process)
    raise error(f"{name} did not answer {url} within {timeout:g}s" + _output_note(log, log_lines))


def _output_note(log: Path | None, lines: int) -> str:
    if log is None:
        return " (its errors are above)"
    return f"; last lines of {log}:\n{log_tail(log, lines)}"


def group_alive(pgid: int) -> bool:
    """True while any process of the group exists (zombies included)."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def stop_process_group(
    pgid: int, timeout: float, child: subprocess.Popen[bytes] | None = None
) -> bool:
    """SIGTERM the group, wait, then SIGKILL what is left; False when SIGKILL was needed.

    `child`, the group's leader when we started it, is reaped while waiting: its zombie would
    keep the group alive. A group that survives SIGKILL is a ServerError."""

    def gone_within(seconds: float) -> bool:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if child is not None:
                child.poll()
            if not group_alive(pgid):
                return True
            time.sleep(0.1)
        return False

    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGTERM)
    if gone_within(timeout):
        return True
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGKILL)
    if not gone_within(5.0):
        raise ServerError(f"processes of group {pgid} survived SIGKILL")
    return False


def find_free_port(host: str = LOOPBACK) -> int:
    """A port the OS reports free right now (for tests and parallel servers)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def port_is_free(host: str, port: int) -> bool:
    """Free to listen on, as uvicorn binds (SO_REUSEADDR: a restart after a crash is allowed)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True

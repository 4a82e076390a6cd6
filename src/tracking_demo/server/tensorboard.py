"""TensorBoard on a folder of event files: its own process group on loopback.

TensorBoard starts a data server of its own (a child process), so it runs as a group and
stops as one (`processes.py`), like the local MLflow server.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from tracking_demo.errors import ServerError
from tracking_demo.server.processes import (
    LOOPBACK,
    find_free_port,
    port_is_free,
    start_group,
    stop_process_group,
    wait_answering,
)

START_TIMEOUT_S = 120.0  # it imports TensorFlow when present: seconds on a cold disk
STOP_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class TensorBoard:
    """A started TensorBoard: its group's leader, where it answers, where its output goes."""

    process: subprocess.Popen[bytes]
    url: str
    log: Path

    def stop(self) -> None:
        stop_process_group(self.process.pid, STOP_TIMEOUT_S, self.process)


def start_tensorboard(
    logdir: Path,
    log: Path,
    port: int | None = None,
    reload_interval_s: float = 5.0,
    timeout_s: float = START_TIMEOUT_S,
) -> TensorBoard:
    """Serve `logdir` on 127.0.0.1 (`port`, else a free one) once it answers HTTP."""
    if importlib.util.find_spec("tensorboard") is None:
        raise ServerError("tensorboard is not installed; it comes with tracking-demo's install")
    if port is None:
        port = find_free_port(LOOPBACK)
    elif not port_is_free(LOOPBACK, port):
        raise ServerError(f"--port {port}: {LOOPBACK}:{port} is in use; pick another or omit it")
    command = [
        sys.executable,
        "-m",
        "tensorboard.main",
        "--logdir",
        str(logdir),
        "--host",
        LOOPBACK,
        "--port",
        str(port),
        "--reload_interval",
        f"{max(1.0, reload_interval_s):g}",
    ]
    log.parent.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": os.environ.get("TF_CPP_MIN_LOG_LEVEL", "2")}
    process = start_group(command, output=log, env=env)
    url = f"http://{LOOPBACK}:{port}/"
    wait_answering(process, url, timeout_s, name="TensorBoard", log=log)
    return TensorBoard(process, url, log)

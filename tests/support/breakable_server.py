"""A real local MLflow server that a test may kill, freeze, restart or stop.

Tests that break a server get their own (a free loopback port, its own sqlite and artifact
folder), so the session's shared server stays healthy for the rest of the suite.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

from tracking_demo.server.local import LocalServer
from tracking_demo.server.processes import find_free_port, group_alive


class BreakableServer:
    """The server as `tracking-demo server start` runs it, with the faults a test needs."""

    def __init__(self, data_dir: Path, azure_surface: bool = False) -> None:
        self.local = LocalServer(data_dir, port=find_free_port(), azure_surface=azure_surface)
        self.pid = self.local.start(timeout=120).pid

    @property
    def uri(self) -> str:
        return self.local.uri

    @property
    def up(self) -> bool:
        return group_alive(self.pid)

    def kill(self) -> None:
        """SIGKILL to the whole process group, as a crash or an OOM kill would do."""
        os.killpg(self.pid, signal.SIGKILL)
        self.local.stop(timeout=10)

    def restart(self) -> None:
        self.pid = self.local.start(timeout=120).pid

    def freeze(self) -> None:
        """Stopped processes still accept TCP connections (the kernel does) but never answer."""
        os.killpg(self.pid, signal.SIGSTOP)

    def thaw(self) -> None:
        os.killpg(self.pid, signal.SIGCONT)

    def close(self) -> None:
        if group_alive(self.pid):
            os.killpg(self.pid, signal.SIGCONT)
        self.local.stop(timeout=20)
        assert not group_alive(self.pid)

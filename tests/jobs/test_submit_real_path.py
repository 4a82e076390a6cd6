"""The v1 submit path (`--sdk v1`) past the dry-run, with the workspace faked at the SDK's edge
(v2's: test_v2_submit.py).

No Azure endpoint is reachable here, so the workspace, the cluster and the run are small
stand-ins; everything else is real: the ScriptRunConfig handed to `Experiment.submit`, the
environment registration rule, and the registered-model lookup through MLflow on a real local
server (playing the workspace's tracking server).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import azureml.core
import pytest
from click.testing import CliRunner, Result
from mlflow.tracking import MlflowClient

from jobs import submit as submit_module
from tracking_demo.server.local import LocalServer


@dataclass
class FakeRun:
    id: str
    status: str = "Completed"
    waited: bool = False

    def get_portal_url(self) -> str:
        return f"https://ml.azure.com/runs/{self.id}"

    def wait_for_completion(self, show_output: bool, raise_on_error: bool) -> None:
        self.waited = True

    def get_status(self) -> str:
        return self.status


@dataclass
class FakeWorld:
    """What the SDK calls saw, and what they answer."""

    tracking_uri: str
    run: FakeRun
    vm_size: str = "STANDARD_D2_V3"
    known_environments: set[tuple[str, str]] = field(default_factory=set)
    registered: list[tuple[str, str]] = field(default_factory=list)
    submitted: list[Any] = field(default_factory=list)
    datasets: list[tuple[str, Any]] = field(default_factory=list)


@pytest.fixture
def world(monkeypatch: pytest.MonkeyPatch, mlflow_server: LocalServer) -> FakeWorld:
    state = FakeWorld(tracking_uri=mlflow_server.uri, run=FakeRun("job-1"))

    class Workspace:
        def get_mlflow_tracking_uri(self) -> str:
            return state.tracking_uri

    class ComputeTarget:
        def __init__(self, workspace: Any, name: str) -> None:
            self.name, self.vm_size = name, state.vm_size

    def get_environment(workspace: Any, name: str, version: str) -> Any:
        if (name, version) not in state.known_environments:
            raise RuntimeError("not found")  # the SDK raises its own exception here
        return type("Env", (), {"name": name, "version": version})()

    def register(self: Any, workspace: Any) -> Any:
        state.registered.append((self.name, self.version))
        return self

    class Named:
        def __init__(self, name: str) -> None:
            self.name = name

        def as_download(self) -> str:
            return f"<download {self.name}>"

        def as_mount(self) -> str:
            return f"<mount {self.name}>"

    class Dataset:
        @staticmethod
        def get_by_name(workspace: Any, name: str, version: Any) -> Any:
            state.datasets.append((name, version))
            return type("Ds", (), {"as_named_input": lambda self, input_name: Named(input_name)})()

    class Experiment:
        def __init__(self, workspace: Any, name: str) -> None:
            self.name = name

        def submit(self, config: Any) -> FakeRun:
            state.submitted.append((self.name, config))
            return state.run

    monkeypatch.setattr(submit_module, "load_workspace", lambda ref, environ=None: Workspace())
    monkeypatch.setattr("azureml.core.compute.ComputeTarget", ComputeTarget)
    monkeypatch.setattr(azureml.core.Environment, "get", staticmethod(get_environment))
    monkeypatch.setattr(azureml.core.Environment, "register", register)
    monkeypatch.setattr(azureml.core, "Dataset", Dataset)
    monkeypatch.setattr(azureml.core, "Experiment", Experiment)
    return state


def invoke(root: Path, *args: str) -> Result:
    return CliRunner().invoke(submit_module.main, ["--source", str(root), "--sdk", "v1", *args])


def registered_run(server: LocalServer, name: str) -> str:
    """A finished run with a version registered under `name`, as a finished job leaves it."""
    client = MlflowClient(server.uri, registry_uri=server.uri)  # not a process-wide registry
    experiment = client.get_experiment_by_name("fake-jobs")
    experiment_id = (
        experiment.experiment_id if experiment else client.create_experiment("fake-jobs")
    )
    run = client.create_run(experiment_id)
    client.set_terminated(run.info.run_id)
    if not client.search_registered_models(f"name = '{name}'"):
        client.create_registered_model(name)
    client.create_model_version(name, f"runs:/{run.info.run_id}/model", run_id=run.info.run_id)
    return run.info.run_id


@pytest.mark.integration
def test_wait_writes_the_registered_model_for_the_pipeline(
    pytestconfig: pytest.Config, world: FakeWorld, mlflow_server: LocalServer, tmp_path: Path
) -> None:
    world.run = FakeRun(registered_run(mlflow_server, "moons-job-model"))
    info_file = tmp_path / "out" / "model.json"
    result = invoke(
        pytestconfig.rootpath,
        "moons",
        "--dataset",
        "moons:3",
        "--register-as",
        "moons-job-model",
        "--experiment",
        "nightly",
        "--wait",
        "--model-info-out",
        str(info_file),
    )
    assert result.exit_code == 0, result.output
    experiment, config = world.submitted[0]
    assert experiment == "nightly"
    assert config.command[:6] == ["python", "-m", "tracking_demo", "train", "moons", "--data"]
    assert config.command[6] == "<download data>"
    assert config.run_config.environment_variables["PYTHONPATH"] == "src"
    assert world.datasets == [("moons", 3)]
    assert world.run.waited
    assert [name for name, _ in world.registered] == ["tracking-demo-cpu"]
    info = json.loads(info_file.read_text())
    assert info == {
        "name": "moons-job-model",
        "version": "1",
        "run_id": world.run.id,
        "job_id": world.run.id,
    }
    assert f"https://ml.azure.com/runs/{world.run.id}" in result.output


@pytest.mark.integration
def test_an_unchanged_environment_is_reused_not_registered_again(
    pytestconfig: pytest.Config, world: FakeWorld
) -> None:
    spec = json.loads(invoke(pytestconfig.rootpath, "moons", "--dry-run").stdout)
    world.known_environments.add((spec["environment"]["name"], spec["environment"]["version"]))
    result = invoke(pytestconfig.rootpath, "moons", "--dataset", "moons")
    assert result.exit_code == 0, result.output
    assert world.registered == []
    assert "reused" in result.output
    assert not world.run.waited, "without --wait the submitter returns after submitting"


@pytest.mark.integration
def test_a_failed_job_exits_non_zero_with_its_status(
    pytestconfig: pytest.Config, world: FakeWorld
) -> None:
    world.run = FakeRun("job-failed", status="Failed")
    result = invoke(pytestconfig.rootpath, "moons", "--dataset", "moons", "--wait")
    assert result.exit_code == 1
    assert "job job-failed ended Failed" in result.output


@pytest.mark.integration
def test_a_job_that_registered_nothing_fails_the_pipeline(
    pytestconfig: pytest.Config, world: FakeWorld, mlflow_server: LocalServer
) -> None:
    world.run = FakeRun(registered_run(mlflow_server, "some-other-model"))
    result = invoke(
        pytestconfig.rootpath, "moons", "--dataset", "moons", "--register-as", "wanted", "--wait"
    )
    assert result.exit_code == 1
    assert "registered no version of model 'wanted'" in result.output


@pytest.mark.integration
def test_gpu_job_on_a_cpu_cluster_is_refused_before_submitting(
    pytestconfig: pytest.Config, world: FakeWorld
) -> None:
    result = invoke(
        pytestconfig.rootpath,
        "mnist-cnn",
        "--gpu",
        "--environment",
        "image",
        "--image",
        "myacr.azurecr.io/tracking-demo:gpu-1",
        "--compute",
        "cpu-cluster",
        "--dataset",
        "mnist",
    )
    assert result.exit_code == 1
    assert "has the CPU VM size STANDARD_D2_V3" in result.output
    assert world.submitted == []

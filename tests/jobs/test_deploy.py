"""`python -m jobs.deploy aci` (SDK v1), `delete --sdk v1` and `local`: user errors, the dry-run
spec, the deploy path with the workspace faked at the SDK's edge, the entry script's error
answers, and `local` against a real MLflow server. The managed online endpoint is
tests/jobs/test_deploy_endpoint.py."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import types
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import azureml.core
import azureml.core.webservice
import pytest
import requests
from azureml.exceptions import WebserviceException
from click.testing import CliRunner, Result
from jobs_cli import ROOT, assert_refused, run_module
from mlflow.tracking import MlflowClient
from tests.support.inference_server import serving_environment
from tests.support.interrupts import with_default_sigint

from jobs import environments, score_entry, serving_lock, serving_stage, snapshot
from jobs.deploy import aci as aci_module
from jobs.deploy import names
from jobs.deploy.cli import main
from tracking_demo.server.local import LocalServer
from tracking_demo.server.processes import find_free_port, group_alive
from tracking_demo.serving.payload import RequestError
from tracking_demo.tasks.moons import MoonsOptions, train

SECRET_KEYS = ("primary-key-never-printed-unasked", "secondary-key-never-printed-unasked")
SMALL_GRID = {"n_estimators": [10], "max_depth": [5]}


def invoke(*args: str, env: dict[str, str] | None = None) -> Result:
    """`python -m jobs.deploy aci ...`, the SDK v1 web service."""
    return CliRunner().invoke(main, ["aci", "--source", str(ROOT), *args], env=env or {})


def invoke_command(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), env={})


def pip_packages(spec: dict[str, Any]) -> list[str]:
    dependencies = spec["environment"]["python"]["condaDependencies"]["dependencies"]
    return next(item["pip"] for item in dependencies if isinstance(item, dict))


# --- user errors and the dry-run -----------------------------------------------------------


def test_help_names_the_ways_to_pick_a_model() -> None:
    result = invoke("--help")
    assert result.exit_code == 0, result.output
    for option in ("--best-by", "--service-name", "--dry-run", "--show-keys"):
        assert option in result.output
    result = invoke_command("local", "--help")
    assert result.exit_code == 0, result.output
    for option in ("--best-by", "--check", "--port", "--tracking-uri"):
        assert option in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "give MODEL"),
        (["moons-rf"], "model 'moons-rf' names no version: give NAME:VERSION"),
        (["moons@@x"], "model reference 'moons@@x' is not NAME:VERSION"),
        (["runs:/abc/model"], "is not a registered model version"),
        (["moons-rf:1", "--best-by", "accuracy"], "give the bare model NAME, not 'moons-rf:1'"),
        (["moons-rf:1", "--mode", "min"], "--mode needs --best-by"),
        (["moons-rf:1", "--service-name", "Moons_RF"], "service name 'Moons_RF' is not valid"),
        (["moons-rf:1", "--service-name", "ab"], "service name 'ab' is not valid"),
        (["moons-rf:1", "--service-name", "a" * 33], "is not valid"),
        (["moons-rf:1", "--service-name", "svc-"], "is not valid"),
        (["moons-rf:1", "--environment", "image"], "--environment image needs --image"),
        (
            ["moons-rf:1", "--environment", "image", "--image", "myacr.azurecr.io/td"],
            "has no tag",
        ),
        (["moons-rf:1", "--image", "myacr.azurecr.io/td:1"], "--image is only used with"),
        (["moons-rf:1", "--tag", "team"], "--tag 'team' is not KEY=VALUE"),
        (["moons-rf:1", "--no-auth", "--show-keys"], "--show-keys with --no-auth"),
    ],
)
@pytest.mark.usefixtures("no_network")
def test_bad_input_is_one_line_before_any_login(args: list[str], message: str) -> None:
    """Without --dry-run too: every one of these is refused before the workspace is needed."""
    assert_refused(invoke(*args), message)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["delete", "--sdk", "v1"], "--sdk v1 needs --service-name"),
        (["delete", "--sdk", "v1", "moons-rf", "--service-name", "svc"], "not ENDPOINT"),
        (["delete", "--sdk", "v1", "--service-name", "Svc_1"], "service name 'Svc_1' is not valid"),
        (["delete", "--service-name", "svc"], "--service-name names an ACI service"),
        (["local"], "give MODEL"),
        (["local", "moons-rf"], "model 'moons-rf' names no version"),
    ],
)
@pytest.mark.usefixtures("no_network")
def test_delete_and_local_refuse_bad_input_before_any_login(args: list[str], message: str) -> None:
    assert_refused(invoke_command(*args), message)


@pytest.mark.parametrize("option", ["--check", "--tracking-uri=http://x", "--delete", "--local"])
def test_aci_has_no_local_options(option: str) -> None:
    """What used to be flags of one command are other subcommands now: click says so (exit 2)."""
    result = invoke("moons-rf:1", option)
    assert result.exit_code == 2, result.output
    assert "No such option" in result.output


@pytest.mark.usefixtures("no_network")
def test_a_busy_local_port_is_refused_before_the_registry(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = invoke_command("local", "moons-rf:1", "--port", str(port))
    assert_refused(result, f"port {port} on 127.0.0.1 is in use")


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    result = invoke(
        "moons-rf:3",
        "--service-name",
        "moons-svc",
        "--cpu-cores",
        "0.5",
        "--memory-gb",
        "2",
        "--tag",
        "team=ml",
        "--tag",
        "stage=test",
        "--description",
        "two moons",
        "--dry-run",
    )
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_dry_run_shows_the_entry_script_and_the_aci_configuration(spec: dict[str, Any]) -> None:
    assert spec["action"] == "deploy"
    assert spec["service_name"] == "moons-svc"
    assert spec["model"] == {"ref": "moons-rf:3", "name": "moons-rf", "version": "3"}
    assert spec["inference_config"]["entry_script"] == "jobs/score_entry.py"
    assert spec["inference_config"]["source_directory"] == str(ROOT)
    assert spec["deployment_config"] == {
        "compute_type": "ACI",
        "cpu_cores": 0.5,
        "memory_gb": 2.0,
        "auth_enabled": True,
        "tags": {"team": "ml", "stage": "test"},
        "description": "two moons",
    }
    assert spec["overwrite"] is False and spec["wait"] is True and spec["show_keys"] is False
    assert spec["snapshot"]["within_limits"] is True


def test_dry_run_environment_is_the_serving_lock(spec: dict[str, Any]) -> None:
    """The scoring container's own lock (what models load plus the inference server), pinned
    as the lock pins it and versioned by its hash, the same version managed endpoints use."""
    packages = pip_packages(spec)
    assert packages == serving_lock.pinned_requirements(ROOT)
    names_pinned = {line.split("==")[0] for line in packages}
    assert {"mlflow", "numpy", "scikit-learn", "skops", "tensorflow", "keras"} <= names_pinned
    assert environments.SERVING_PACKAGE in names_pinned
    assert (
        not {"azureml-core", "azureml-dataprep", "azureml-defaults"} & names_pinned
    ), "azureml-defaults (via azureml-dataset-runtime) does not resolve with the lock's numpy"
    environment = spec["environment"]
    assert environment["name"] == "tracking-demo-serving-cpu"
    assert environment["version"] == serving_lock.lock_hash(ROOT)
    assert spec["inference_config"]["environment"] == (
        f"tracking-demo-serving-cpu:{environment['version']}"
    )


def test_serving_environment_leaves_the_training_one_as_it_was() -> None:
    lock = ["mlflow==1.0", "azureml-core==1.61.0"]
    training = environments.curated_environment(lock, False, "download")
    serving = environments.serving_environment(ROOT)
    assert training.name == "tracking-demo-cpu"
    assert list(training.python.conda_dependencies.pip_packages) == lock
    assert serving.name == "tracking-demo-serving-cpu"
    assert serving.version != training.version


def test_dry_run_shows_a_best_by_model_as_asked_not_resolved() -> None:
    result = invoke("MNIST_CNN", "--best-by", "val_accuracy", "--no-auth", "--dry-run")
    assert result.exit_code == 0, result.output
    spec = json.loads(result.stdout)
    assert spec["model"] == {
        "ref": "MNIST_CNN",
        "name": "MNIST_CNN",
        "best_by": "val_accuracy",
        "mode": "max",
    }
    assert spec["service_name"] == "mnist-cnn", "derived from the model name"
    assert spec["deployment_config"]["auth_enabled"] is False


def test_dry_run_with_the_custom_image() -> None:
    result = invoke(
        "moons-rf@champion",
        "--environment",
        "image",
        "--image",
        "myacr.azurecr.io/tracking-demo:7",
        "--dry-run",
    )
    assert result.exit_code == 0, result.output
    spec = json.loads(result.stdout)
    assert spec["model"]["alias"] == "champion"
    assert spec["environment"]["docker"]["baseImage"] == "myacr.azurecr.io/tracking-demo:7"
    assert spec["environment"]["python"]["userManagedDependencies"] is True
    assert any(environments.SERVING_PACKAGE in note for note in spec["note"])


def test_delete_dry_run_names_the_service() -> None:
    result = invoke_command("delete", "--sdk", "v1", "--service-name", "moons-svc", "--dry-run")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["action"] == "delete"


def test_uploaded_source_is_the_job_snapshot_plus_the_entry_script(tmp_path: Path) -> None:
    source = serving_stage.stage_source(snapshot.take(ROOT), tmp_path)
    assert source.name == serving_stage.UPLOAD_NAME
    assert (source / "jobs" / "score_entry.py").read_text() == Path(
        score_entry.__file__
    ).read_text()
    assert (source / "src" / "tracking_demo" / "serving" / "score.py").is_file()
    assert not (source / "tests").exists() and not (source / ".venv").exists()
    assert not (source / "jobs" / "deploy").exists(), "only the entry script of jobs/"


@pytest.mark.parametrize(
    ("model_name", "expected"),
    [("moons-rf", "moons-rf"), ("MNIST_CNN", "mnist-cnn"), ("7up", "model-7up"), ("x", "x-svc")],
)
def test_default_service_names_follow_azure_rules(model_name: str, expected: str) -> None:
    name = names.default_name(model_name)
    assert name == expected
    assert names.check_service_name(name) == name


def test_a_long_model_name_gives_a_service_name_of_32_characters() -> None:
    name = names.default_name("A_Very_Long_Model_Name-" * 3)
    assert name == "a-very-long-model-name-a-very-lo"
    assert names.check_service_name(name) == name


# --- the entry script Azure ML runs --------------------------------------------------------


class FakeAMLResponse:
    """Like the inference server's AMLResponse (a Flask response): status, body, headers."""

    def __init__(
        self,
        message: Any,
        status_code: int,
        response_headers: dict[str, str] | None = None,
        json_str: bool = False,
    ) -> None:
        self.body = json.dumps(message) if json_str else message
        self.status_code = status_code
        self.headers = dict(response_headers or {})

    def json(self) -> Any:
        return json.loads(self.body)


SERVER_RESPONSE_MODULES = (
    "azureml_inference_server_http.api.aml_response",  # the package (1.5.1)
    "azureml.contrib.services.aml_response",  # the alias it installs while it runs
)


@pytest.fixture(params=SERVER_RESPONSE_MODULES)
def aml_response(monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> None:
    """The AMLResponse azureml-inference-server-http provides, under either import path."""
    for name in SERVER_RESPONSE_MODULES:
        monkeypatch.setitem(sys.modules, name, None)
    module = types.ModuleType(request.param)
    module.AMLResponse = FakeAMLResponse  # type: ignore[attr-defined]
    parts = request.param.split(".")
    for depth in range(1, len(parts)):
        parent = ".".join(parts[:depth])
        existing = sys.modules.get(parent)
        monkeypatch.setitem(sys.modules, parent, existing or types.ModuleType(parent))
    monkeypatch.setitem(sys.modules, module.__name__, module)


def raw_request(
    body: bytes = b'{"data": [[0, 1]]}',
    method: str = "POST",
    content_type: str | None = "application/json",
    query: str = "",
) -> Any:
    """What `@rawhttp` hands `run()`: a werkzeug request (Flask's, which MLflow installs too)."""
    from werkzeug.test import EnvironBuilder

    headers = {"Content-Type": content_type} if content_type else {}
    builder = EnvironBuilder(
        path="/score", method=method, data=body, headers=headers, query_string=query
    )
    return builder.get_request()


def refuse(*_: Any) -> Any:
    raise RequestError(422, '"data" is empty', "at least one example")


def test_entry_script_turns_a_client_error_into_its_status(
    monkeypatch: pytest.MonkeyPatch, aml_response: None
) -> None:
    monkeypatch.setattr(score_entry.score, "run", refuse)
    response = score_entry.run(raw_request(b'{"data": []}'))
    assert isinstance(response, FakeAMLResponse)
    assert response.status_code == 422
    assert response.headers["Content-Type"] == "application/json"
    assert response.json() == {
        "error": '"data" is empty',
        "status": 422,
        "expected": "at least one example",
    }, "one JSON object, not a JSON string holding one"


def test_entry_script_without_the_inference_server_returns_the_error_body(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(score_entry.score, "run", refuse)
    for name in SERVER_RESPONSE_MODULES:
        monkeypatch.setitem(sys.modules, name, None)
    assert score_entry.run("{}") == {
        "error": '"data" is empty',
        "status": 422,
        "expected": "at least one example",
    }


def test_entry_script_passes_the_body_and_the_query_flag_through(
    monkeypatch: pytest.MonkeyPatch, aml_response: None
) -> None:
    calls: list[Any] = []
    monkeypatch.setattr(score_entry.score, "init", lambda: calls.append("init"))
    monkeypatch.setattr(
        score_entry.score, "run", lambda raw, flag: calls.append((raw, flag)) or [1, 0]
    )
    score_entry.init()
    response = score_entry.run(
        raw_request(b'{"data": [[0, 1], [1, 0]]}', query="probabilities=true")
    )
    assert (response.status_code, response.body) == (200, b"[1,0]")
    assert calls == ["init", (b'{"data": [[0, 1], [1, 0]]}', True)]


@pytest.mark.parametrize(
    ("request_fields", "status", "expected"),
    [
        ({"method": "GET", "body": b""}, 405, "POST /score with a JSON body"),
        ({"content_type": "text/plain"}, 415, "Content-Type: application/json"),
        ({"content_type": None}, 415, "Content-Type: application/json"),
        ({"body": b"[" + b"0," * 600_000 + b"0]"}, 413, "at most 1048576 bytes"),
        ({"query": "probabilities=maybe"}, 422, "?probabilities=true or false"),
    ],
)
def test_entry_script_answers_the_http_rules_of_tracking_demo_serve(
    monkeypatch: pytest.MonkeyPatch,
    aml_response: None,
    request_fields: dict[str, Any],
    status: int,
    expected: str,
) -> None:
    """The same statuses and bodies as `tracking-demo serve` (serving.http_contract), before
    the model is asked anything."""
    monkeypatch.setenv("TRACKING_DEMO_MAX_BODY_MB", "1")
    monkeypatch.setattr(score_entry.score, "init", lambda: None)
    monkeypatch.setattr(score_entry.score, "run", lambda *_: pytest.fail("the model was asked"))
    score_entry.init()
    response = score_entry.run(raw_request(**request_fields))
    assert response.status_code == status
    assert response.json()["expected"] == expected
    if status == 405:
        assert response.headers["Allow"] == "POST"


def test_entry_script_answers_an_unexpected_failure_without_its_traceback(
    monkeypatch: pytest.MonkeyPatch, aml_response: None, capsys: pytest.CaptureFixture[str]
) -> None:
    def broken(*_: Any) -> Any:
        raise KeyError("a secret detail")

    monkeypatch.setattr(score_entry.score, "run", broken)
    response = score_entry.run(raw_request())
    assert response.status_code == 500
    assert "secret" not in response.body.decode()
    assert "KeyError: 'a secret detail'" in capsys.readouterr().err, "the log has it"


# --- the deploy path, with the workspace faked at the SDK's edge ----------------------------


@dataclass
class FakeService:
    name: str
    state: str = "Healthy"
    wait_error: str | None = None
    waited: bool = False
    keys_asked: bool = False
    deleted: bool = False
    scoring_uri: str = "http://svc.azurecontainer.io/score"
    swagger_uri: str = "http://svc.azurecontainer.io/swagger.json"

    def wait_for_deployment(self, show_output: bool = False) -> None:
        self.waited = True
        if self.wait_error:
            raise WebserviceException(self.wait_error)

    def get_logs(self) -> str:
        return "Traceback in init(): no MLflow model under /var/azureml-app/azureml-models"

    def get_keys(self) -> tuple[str, str]:
        self.keys_asked = True
        return SECRET_KEYS

    def delete(self) -> None:
        self.deleted = True


@dataclass
class FakeWorkspace:
    tracking_uri: str = "http://unused"
    models: list[tuple[str, int]] = field(default_factory=list)
    deployed: list[dict[str, Any]] = field(default_factory=list)
    service: FakeService = field(default_factory=lambda: FakeService("svc"))
    webservices: list[str] = field(default_factory=list)

    def get_mlflow_tracking_uri(self) -> str:
        return self.tracking_uri


@pytest.fixture
def workspace(monkeypatch: pytest.MonkeyPatch) -> FakeWorkspace:
    state = FakeWorkspace()

    class Model:
        def __init__(self, ws: Any, name: str, version: int) -> None:
            assert ws is state
            self.name, self.version = name, version
            state.models.append((name, version))

        @staticmethod
        def deploy(
            ws: Any,
            name: str,
            models: list[Any],
            inference_config: Any,
            deployment_config: Any,
            overwrite: bool = False,
        ) -> FakeService:
            source = Path(inference_config.source_directory)
            state.deployed.append(
                {
                    "name": name,
                    "models": [(m.name, m.version) for m in models],
                    "entry_script": inference_config.entry_script,
                    "entry_script_uploaded": (source / inference_config.entry_script).is_file(),
                    "score_uploaded": (source / "src/tracking_demo/serving/score.py").is_file(),
                    "environment": inference_config.environment.name,
                    "cpu": deployment_config.cpu_cores,
                    "memory": deployment_config.memory_gb,
                    "auth": deployment_config.auth_enabled,
                    "tags": deployment_config.tags,
                    "overwrite": overwrite,
                }
            )
            state.service.name = name
            return state.service

    class Webservice:
        def __init__(self, ws: Any, name: str) -> None:
            assert ws is state
            state.webservices.append(name)
            state.service.name = name

        def delete(self) -> None:
            state.service.delete()

    monkeypatch.setattr(aci_module, "load_workspace", lambda ref, environ=None: state)
    monkeypatch.setattr(azureml.core, "Model", Model)
    monkeypatch.setattr(azureml.core.webservice, "Webservice", Webservice)
    return state


@pytest.mark.usefixtures("no_network")
def test_deploy_sends_the_version_the_entry_script_and_the_aci_config(
    workspace: FakeWorkspace,
) -> None:
    result = invoke("Moons_RF:3", "--overwrite", "--tag", "team=ml", "--cpu-cores", "2")
    assert result.exit_code == 0, result.output
    assert workspace.models == [("Moons_RF", 3)]
    (deployed,) = workspace.deployed
    assert deployed == {
        "name": "moons-rf",
        "models": [("Moons_RF", 3)],
        "entry_script": "jobs/score_entry.py",
        "entry_script_uploaded": True,
        "score_uploaded": True,
        "environment": "tracking-demo-serving-cpu",
        "cpu": 2.0,
        "memory": 1.0,
        "auth": True,
        "tags": {"team": "ml"},
        "overwrite": True,
    }
    assert workspace.service.waited
    answer = json.loads(result.stdout)
    assert answer["state"] == "Healthy"
    assert answer["scoring_uri"] == workspace.service.scoring_uri
    assert "keys" not in answer and not workspace.service.keys_asked
    assert not any(key in result.output for key in SECRET_KEYS)


@pytest.mark.usefixtures("no_network")
def test_deploy_without_overwrite_or_wait(workspace: FakeWorkspace) -> None:
    result = invoke("moons-rf:1", "--no-wait", "--no-auth", "--service-name", "moons-a")
    assert result.exit_code == 0, result.output
    assert workspace.deployed[0]["overwrite"] is False
    assert workspace.deployed[0]["auth"] is False
    assert not workspace.service.waited


@pytest.mark.usefixtures("no_network")
def test_keys_are_printed_only_when_asked(workspace: FakeWorkspace) -> None:
    result = invoke("moons-rf:1", "--show-keys")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["keys"] == {
        "primary": SECRET_KEYS[0],
        "secondary": SECRET_KEYS[1],
    }


@pytest.mark.usefixtures("no_network")
@pytest.mark.parametrize(
    ("state", "wait_error"),
    [
        ("Unhealthy", "Service deployment polling reached non-successful terminal state"),
        ("Transitioning", None),
    ],
)
def test_a_failed_deployment_prints_the_service_logs_and_exits_1(
    workspace: FakeWorkspace, state: str, wait_error: str | None
) -> None:
    workspace.service = FakeService("svc", state=state, wait_error=wait_error)
    result = invoke("moons-rf:1", "--show-keys")
    assert result.exit_code == 1, result.output
    assert "no MLflow model under /var/azureml-app/azureml-models" in result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith(f"error: service 'moons-rf' ended {state}"), last
    if wait_error:
        assert wait_error in last
    assert not workspace.service.keys_asked
    assert not any(key in result.output for key in SECRET_KEYS)


@pytest.mark.usefixtures("no_network")
def test_delete_removes_the_named_service(workspace: FakeWorkspace) -> None:
    result = invoke_command("delete", "--sdk", "v1", "--service-name", "moons-svc")
    assert result.exit_code == 0, result.output
    assert workspace.webservices == ["moons-svc"]
    assert workspace.service.deleted
    assert workspace.deployed == []


@pytest.mark.integration
def test_best_by_deploys_the_best_version_in_the_workspace_registry(
    workspace: FakeWorkspace, mlflow_server: LocalServer
) -> None:
    """The workspace's MLflow registry is played by the real local server."""
    workspace.tracking_uri = mlflow_server.uri
    client = MlflowClient(mlflow_server.uri, registry_uri=mlflow_server.uri)
    name = "deploy-best-by"
    experiment_id = client.create_experiment("deploy-best-by")
    run_id = client.create_run(experiment_id).info.run_id
    client.set_terminated(run_id)
    client.create_registered_model(name)
    for accuracy in ("0.91", "0.97", "0.93"):
        client.create_model_version(
            name, f"runs:/{run_id}/model", run_id=run_id, tags={"accuracy": accuracy}
        )
    result = invoke(name, "--best-by", "accuracy", "--service-name", "best-svc")
    assert result.exit_code == 0, result.output
    assert workspace.models == [(name, 2)]
    assert "best version of deploy-best-by by accuracy (max): 2" in result.stderr
    result = invoke(name, "--best-by", "accuracy", "--mode", "min", "--service-name", "best-svc")
    assert result.exit_code == 0, result.output
    assert workspace.models[-1] == (name, 1)


# --- --local: the model as the container sees it, served here ------------------------------


def _endpoint_pids(port: int) -> list[int]:
    """Azure's inference server (azmlinfsrv, gunicorn and its worker) on `port`, whoever started
    them (Linux /proc)."""
    pids = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        with contextlib.suppress(OSError):
            parts = cmdline.read_bytes().split(b"\0")
            server = any(b"azureml_inference_server_http" in part for part in parts)
            if server and str(port).encode() in parts:
                pids.append(int(cmdline.parent.name))
    return pids


@contextlib.contextmanager
def no_endpoint_left(port: int) -> Iterator[None]:
    """Whatever happens in the test, no server on `port` outlives it (and that is checked)."""
    try:
        yield
    finally:
        left = _endpoint_pids(port)
        for pid in left:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)
        assert not left, f"local inference server processes {left} outlived the deploy command"


@pytest.fixture(scope="module")
def moons_version(
    mlflow_server: LocalServer, moons_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[str, str]:
    """A small moons model, registered; its write-ahead logs stay out of the working tree. The
    serving venv is built first (once per lock), so the deploy command finds it."""
    from tracking_demo.tracking.session import TrackingSession
    from tracking_demo.tracking.settings import TrackingSettings

    serving_environment()
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TRACKING_DEMO_RUNS_DIR", str(tmp_path_factory.mktemp("deploy-runs")))
        session = TrackingSession(
            TrackingSettings(uri=mlflow_server.uri, experiment="deploy-local")
        )
        options = MoonsOptions(moons_dir, grid=SMALL_GRID, cv_folds=2, register_as="moons-deploy")
        result = train(options, session)
    assert result.registered_version is not None
    return "moons-deploy", str(result.registered_version)


@pytest.mark.integration
@pytest.mark.slow
@pytest.mark.azure_server
def test_local_check_serves_the_registered_model_under_azmlinfsrv_and_stops(
    monkeypatch: pytest.MonkeyPatch, mlflow_server: LocalServer, moons_version: tuple[str, str]
) -> None:
    name, version = moons_version
    port = find_free_port()
    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_server.uri)
    with no_endpoint_left(port):
        finished = run_module(
            "deploy", "local", f"{name}:{version}", "--check", "--port", str(port)
        )
    assert finished.returncode == 0, finished.stderr
    answer = json.loads(finished.stdout)
    assert answer["model"] == f"{name}:{version}"
    assert answer["scoring_uri"] == f"http://127.0.0.1:{port}/score"
    (row,) = answer["request"]["data"]
    assert set(row) == {"x1", "x2"}, "one example of the model's own input_example"
    assert isinstance(answer["response"], list) and len(answer["response"]) == 1
    assert answer["response"][0] in (0, 1)
    assert "AZUREML_MODEL_DIR=" in finished.stderr
    assert f"azureml-models/{name}/{version}" in finished.stderr
    assert not group_alive(answer["server_pid"])


@pytest.mark.integration
@pytest.mark.slow
@pytest.mark.azure_server
def test_local_serves_under_azmlinfsrv_until_interrupted(
    mlflow_server: LocalServer, moons_version: tuple[str, str], tmp_path: Path
) -> None:
    name, _ = moons_version
    port = find_free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("AZURE_")}
    env["MLFLOW_TRACKING_URI"] = mlflow_server.uri
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    errors = tmp_path / "stderr.txt"
    with no_endpoint_left(port), errors.open("w") as stderr:
        process = subprocess.Popen(
            [
                *(sys.executable, "-m", "jobs.deploy", "local", name, "--best-by", "accuracy"),
                *("--port", str(port)),
            ],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
            preexec_fn=with_default_sigint,  # the test ends it with SIGINT
        )
        try:
            assert process.stdout is not None
            uri_line = process.stdout.readline()
            auth_line = process.stdout.readline()
            assert uri_line.startswith(f"Scoring URI: http://127.0.0.1:{port}/score"), uri_line
            assert "azmlinfsrv" in uri_line
            assert auth_line.startswith("Authentication: none here"), auth_line
            url = f"http://127.0.0.1:{port}/score"
            scored = requests.post(url, json={"data": [[1.0, -0.4]]}, timeout=30)
            assert scored.status_code == 200 and scored.json()[0] in (0, 1)
            assert scored.headers["x-ms-server-version"].startswith("azmlinfsrv/")
            time.sleep(0.2)
            assert process.poll() is None, "keeps serving until Ctrl-C"
            process.send_signal(signal.SIGINT)
            assert process.wait(timeout=60) == 0, errors.read_text()
            assert "POST /score 200" in errors.read_text(), "the server's log is shown as it serves"
        finally:
            if process.poll() is None:
                process.kill()
                process.wait(timeout=10)
    with pytest.raises(requests.ConnectionError):
        requests.get(f"http://127.0.0.1:{port}/", timeout=5)

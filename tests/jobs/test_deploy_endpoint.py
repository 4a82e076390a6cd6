"""`python -m jobs.deploy endpoint|delete|keys` on managed online endpoints (SDK v2): bad input
refused before any login, the dry-run's two YAML documents loaded back with azure-ai-ml's own
loaders, and the deploy path with MLClient faked at its edge (`jobs.v2.client.ml_client`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import yaml
from azure.ai.ml import load_online_deployment, load_online_endpoint
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from click.testing import CliRunner, Result
from jobs_cli import ROOT, assert_refused, offline, pip_packages

from jobs import serving_lock, snapshot
from jobs.deploy import names
from jobs.deploy.cli import main
from jobs.v2 import client, online_endpoint
from jobs.v2.environment import CPU_BASE_IMAGE

SECRET_KEYS = ("primary-endpoint-key-never-printed", "secondary-endpoint-key-never-printed")
IMAGE = "myacr.azurecr.io/tracking-demo:7"


def invoke(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), env={})


def endpoint_args(*args: str) -> list[str]:
    return ["endpoint", "--source", str(ROOT), *args]


@dataclass(frozen=True)
class Emitted:
    """A dry run with `--emit DIR`: stdout, the folder, and azure-ai-ml's reading of the files."""

    stdout: str
    folder: Path

    def documents(self) -> list[dict[str, Any]]:
        return list(yaml.safe_load_all(self.stdout))

    def headers(self) -> list[list[str]]:
        return [
            [line[2:] for line in part.splitlines() if line.startswith("# ")]
            for part in self.stdout.split("\n---\n")
        ]

    def endpoint(self) -> Any:
        return load_online_endpoint(self.folder / "endpoint.yml")

    def deployment(self) -> Any:
        return load_online_deployment(self.folder / "deployment.yml")


def emitted(folder: Path, *args: str) -> Emitted:
    result = invoke(*endpoint_args(*args, "--dry-run", "--emit", str(folder)))
    assert result.exit_code == 0, result.output
    return Emitted(result.stdout, folder)


@pytest.fixture(scope="module")
def moons(tmp_path_factory: pytest.TempPathFactory) -> Emitted:
    with offline():
        return emitted(
            tmp_path_factory.mktemp("endpoint") / "out",
            "moons-rf:3",
            "--instance-type",
            "Standard_F4s_v2",
            "--instance-count",
            "2",
            "--tag",
            "team=ml",
        )


# --- bad input: one line, before any login -------------------------------------------------


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (endpoint_args(), "give MODEL"),
        (endpoint_args("moons-rf"), "model 'moons-rf' names no version"),
        (endpoint_args("moons-rf:1", "--mode", "min"), "--mode needs --best-by"),
        (endpoint_args("moons-rf:1", "--best-by", "acc"), "give the bare model NAME"),
        (endpoint_args("moons-rf:1", "--endpoint-name", "9lives"), "endpoint name '9lives'"),
        (endpoint_args("moons-rf:1", "--endpoint-name", "ab"), "is not valid"),
        (endpoint_args("moons-rf:1", "--endpoint-name", "a" * 33), "is not valid"),
        (endpoint_args("moons-rf:1", "--endpoint-name", "end-"), "is not valid"),
        (endpoint_args("moons-rf:1", "--deployment-name", "v3"), "deployment name 'v3'"),
        (endpoint_args("moons-rf:1", "--environment", "image"), "needs --image"),
        (endpoint_args("moons-rf:1", "--image", IMAGE), "--image is only used with"),
        (endpoint_args("moons-rf:1", "--tag", "team"), "--tag 'team' is not KEY=VALUE"),
        (endpoint_args("moons-rf:1", "--emit", "out"), "--emit DIR writes the dry-run's YAML"),
        (["delete"], "give ENDPOINT"),
        (["delete", "bad_name"], "endpoint name 'bad_name' is not valid"),
        (["delete", "moons-rf", "--deployment", "x"], "deployment name 'x' is not valid"),
        (["keys", "moons-rf"], "keys are printed only when asked"),
        (["keys", "Bad_Name", "--show-keys"], "endpoint name 'Bad_Name' is not valid"),
    ],
)
@pytest.mark.usefixtures("no_network")
def test_bad_input_is_one_line_before_any_login(args: list[str], message: str) -> None:
    assert_refused(invoke(*args), message)


@pytest.mark.usefixtures("no_network")
def test_keys_without_show_keys_says_how() -> None:
    result = invoke("keys", "moons-rf")
    assert "python -m jobs.deploy keys moons-rf --show-keys" in result.stderr
    assert "az ml online-endpoint get-credentials --name moons-rf" in result.stderr


def test_the_default_instance_type_is_a_managed_sku() -> None:
    assert online_endpoint.DEFAULT_INSTANCE_TYPE in online_endpoint.MANAGED_INSTANCE_TYPES


@pytest.mark.usefixtures("no_network")
def test_an_unknown_instance_type_is_a_warning_not_a_refusal(tmp_path: Path) -> None:
    result = invoke(
        *endpoint_args("moons-rf:1", "--instance-type", "Standard_Fancy_v9", "--dry-run")
    )
    assert result.exit_code == 0, result.output
    assert result.stderr.startswith("warning: --instance-type Standard_Fancy_v9 is not in")
    assert yaml.safe_load(result.stdout.split("\n---\n")[1])["instance_type"] == (
        "Standard_Fancy_v9"
    )


@pytest.mark.parametrize(
    ("endpoint", "version", "expected"),
    [
        ("moons-rf", "3", "moons-rf-3"),
        ("a" * 32, "12", "a" * 29 + "-12"),
        ("abc-" + "d" * 28, "4", "abc-" + "d" * 26 + "-4"),
    ],
)
def test_deployment_names_carry_the_version_within_azure_rules(
    endpoint: str, version: str, expected: str
) -> None:
    assert names.deployment_name(endpoint, version) == expected


# --- the dry run: YAML that azure-ai-ml loads back -----------------------------------------


def test_endpoint_yaml_loads_back_with_key_auth(moons: Emitted) -> None:
    endpoint = moons.endpoint()
    assert endpoint.name == "moons-rf", "derived from the model name"
    assert endpoint.auth_mode == "key"
    endpoint._to_rest_online_endpoint("westeurope")
    assert moons.stdout.startswith("# az ml online-endpoint create --file endpoint.yml")
    assert (moons.folder / "endpoint.yml").read_text() == moons.stdout.split("---\n")[0]


def test_deployment_yaml_loads_back_with_the_scoring_script_and_sizes(moons: Emitted) -> None:
    deployment = moons.deployment()
    assert deployment.name == "moons-rf-3"
    assert deployment.endpoint_name == "moons-rf"
    assert deployment.model == "moons-rf:3", "azureml:moons-rf:3, as the loader reads it"
    assert deployment.code_configuration.scoring_script == "jobs/score_entry.py"
    assert deployment.instance_type == "Standard_F4s_v2"
    assert deployment.instance_count == 2
    assert deployment.tags == {"model": "moons-rf:3", "team": "ml"}
    assert deployment.liveness_probe.initial_delay >= 120, "TensorFlow loads before it answers"
    deployment._to_rest_object("westeurope")


def test_deployment_environment_is_the_serving_lock(moons: Emitted) -> None:
    deployment = moons.deployment()
    assert pip_packages(deployment) == serving_lock.pinned_requirements(ROOT)
    assert deployment.environment.image == CPU_BASE_IMAGE
    assert "python=3.11" in deployment.environment.conda_file["dependencies"]
    written = moons.documents()[1]["environment"]
    assert "name" not in written and "version" not in written, "anonymous: Azure ML hashes it"
    line = next(line for line in moons.headers()[1] if line.startswith("environment:"))
    assert f"registers it as tracking-demo-serving:{serving_lock.lock_hash(ROOT)}" in line


def test_emit_writes_the_staged_code_beside_the_yaml(moons: Emitted) -> None:
    code = moons.documents()[1]["code_configuration"]["code"]
    assert code == "tracking-demo", "relative to deployment.yml"
    staged = moons.folder / code
    assert (staged / "jobs" / "score_entry.py").is_file()
    assert (staged / "src" / "tracking_demo" / "serving" / "score.py").is_file()
    files = {p.relative_to(staged).as_posix() for p in staged.rglob("*") if p.is_file()}
    taken = {Path(path).as_posix() for path in snapshot.take(ROOT).files}
    assert files == {*taken, "jobs/score_entry.py"}
    assert (moons.folder / "deployment.yml").read_text() == moons.stdout.split("---\n", 1)[1]


def test_emit_again_replaces_its_own_code_but_not_a_stranger(tmp_path: Path) -> None:
    with offline():
        emitted(tmp_path, "moons-rf:1")
        emitted(tmp_path, "moons-rf:2")
    assert load_online_deployment(tmp_path / "deployment.yml").model == "moons-rf:2"
    stranger = tmp_path / "other"
    (stranger / "tracking-demo").mkdir(parents=True)
    result = invoke(*endpoint_args("moons-rf:1", "--dry-run", "--emit", str(stranger)))
    assert_refused(result, "is not an upload folder this command wrote")


@pytest.mark.usefixtures("no_network")
def test_a_version_chosen_at_deploy_time_is_said_not_invented(tmp_path: Path) -> None:
    result = invoke(
        *endpoint_args(
            "mnist-cnn", "--best-by", "val_accuracy", "--dry-run", "--emit", str(tmp_path)
        )
    )
    assert result.exit_code == 0, result.output
    deployment = load_online_deployment(tmp_path / "deployment.yml")
    assert deployment.model == "mnist-cnn:VERSION"
    assert deployment.name == "mnist-cnn-version", "the loader lowercases names"
    header = [line for line in result.stdout.splitlines() if line.startswith("# model:")]
    assert "resolved at deploy time" in header[0] and "val_accuracy" in header[0]


@pytest.mark.usefixtures("no_network")
def test_dry_run_with_the_custom_image(tmp_path: Path) -> None:
    result = invoke(
        *endpoint_args(
            "moons-rf@champion",
            "--environment",
            "image",
            "--image",
            IMAGE,
            "--dry-run",
            "--emit",
            str(tmp_path),
        )
    )
    assert result.exit_code == 0, result.output
    deployment = load_online_deployment(tmp_path / "deployment.yml")
    assert deployment.environment.image == IMAGE
    assert deployment.environment.conda_file is None
    assert "azureml-inference-server-http" in result.stdout


@pytest.mark.usefixtures("no_network")
def test_delete_dry_run_names_the_endpoint_and_deployment() -> None:
    result = invoke("delete", "moons-rf", "--deployment", "moons-rf-3", "--dry-run")
    assert result.exit_code == 0, result.output
    spec = yaml.safe_load(result.stdout)
    assert (spec["action"], spec["endpoint"], spec["deployment"]) == (
        "delete",
        "moons-rf",
        "moons-rf-3",
    )


# --- the deploy path, MLClient faked at its edge -------------------------------------------


class Poller:
    def __init__(self, result: Any = None, error: Exception | None = None) -> None:
        self._result, self._error = result, error

    def result(self) -> Any:
        if self._error is not None:
            raise self._error
        return self._result


@dataclass
class FakeWorkspace:
    """What the fake MLClient holds and what it was asked to do."""

    endpoints: dict[str, Any] = field(default_factory=dict)
    deployments: dict[str, dict[str, Any]] = field(default_factory=dict)
    environments: set[tuple[str, str]] = field(default_factory=set)
    calls: list[str] = field(default_factory=list)
    sent: list[Any] = field(default_factory=list)
    fail_deployment: bool = False
    mlflow_tracking_uri: str = "http://unused"

    def endpoint(self, name: str, traffic: dict[str, int]) -> None:
        self.endpoints[name] = SimpleNamespace(
            name=name,
            auth_mode="key",
            traffic=dict(traffic),
            scoring_uri=f"https://{name}.westeurope.inference.ml.azure.com/score",
        )
        self.deployments[name] = {deployment: {} for deployment in traffic}


class FakeMLClient:
    """The operations `online_deploy` uses, with Azure's answers (and refusals)."""

    def __init__(self, state: FakeWorkspace) -> None:
        self.state = state
        self.workspace_name = "ws-1"
        self.online_endpoints = SimpleNamespace(
            get=self._get_endpoint,
            begin_create_or_update=self._update_endpoint,
            begin_delete=self._delete_endpoint,
            get_keys=self._keys,
        )
        self.online_deployments = SimpleNamespace(
            begin_create_or_update=self._create_deployment,
            get=self._get_deployment,
            get_logs=self._logs,
            begin_delete=self._delete_deployment,
        )
        self.environments = SimpleNamespace(get=self._get_env, create_or_update=self._put_env)
        self.workspaces = SimpleNamespace(
            get=lambda name: SimpleNamespace(mlflow_tracking_uri=state.mlflow_tracking_uri)
        )

    def _get_endpoint(self, name: str) -> Any:
        if name not in self.state.endpoints:
            raise ResourceNotFoundError(f"endpoint {name} not found")
        found = dict(vars(self.state.endpoints[name]))
        found["traffic"] = dict(found["traffic"])  # a fresh copy, as a GET gives
        return SimpleNamespace(**found)

    def _update_endpoint(self, endpoint: Any) -> Poller:
        if endpoint.name not in self.state.endpoints:
            self.state.calls.append(f"create endpoint {endpoint.name} auth={endpoint.auth_mode}")
            self.state.endpoint(endpoint.name, {})
        else:
            traffic = dict(endpoint.traffic)
            self.state.calls.append(f"traffic {endpoint.name} {traffic}")
            self.state.endpoints[endpoint.name].traffic = traffic
        return Poller(self.state.endpoints[endpoint.name])

    def _delete_endpoint(self, name: str) -> Poller:
        self.state.calls.append(f"delete endpoint {name}")
        return Poller()

    def _keys(self, name: str) -> Any:
        self.state.calls.append(f"keys {name}")
        return SimpleNamespace(primary_key=SECRET_KEYS[0], secondary_key=SECRET_KEYS[1])

    def _create_deployment(self, deployment: Any) -> Poller:
        code = Path(deployment.code_configuration.code)
        self.state.sent.append(
            {
                "deployment": deployment,
                "entry_script_uploaded": (
                    code / deployment.code_configuration.scoring_script
                ).is_file(),
            }
        )
        self.state.calls.append(f"create deployment {deployment.endpoint_name}/{deployment.name}")
        self.state.deployments[deployment.endpoint_name][deployment.name] = {}
        if self.state.fail_deployment:
            return Poller(
                error=HttpResponseError(
                    "Deployment failed: ResourceNotReady: User container has crashed or "
                    "terminated\nmore detail"
                )
            )
        return Poller(SimpleNamespace(name=deployment.name, provisioning_state="Succeeded"))

    def _get_deployment(self, name: str, endpoint_name: str) -> Any:
        return SimpleNamespace(name=name, provisioning_state="Failed")

    def _logs(self, name: str, endpoint_name: str, lines: int) -> str:
        self.state.calls.append(f"logs {endpoint_name}/{name}")
        return "Traceback in init(): no MLflow model under /var/azureml-app/azureml-models"

    def _delete_deployment(self, name: str, endpoint_name: str) -> Poller:
        traffic = self.state.endpoints[endpoint_name].traffic
        if traffic.get(name):
            raise HttpResponseError(f"deployment {name} still takes {traffic[name]}% of traffic")
        self.state.calls.append(f"delete deployment {endpoint_name}/{name}")
        self.state.deployments[endpoint_name].pop(name, None)
        return Poller()

    def _get_env(self, name: str, version: str) -> Any:
        if (name, version) not in self.state.environments:
            raise ResourceNotFoundError(f"environment {name}:{version} not found")
        return SimpleNamespace(name=name, version=version)

    def _put_env(self, environment: Any) -> Any:
        self.state.calls.append(f"register environment {environment.name}:{environment.version}")
        self.state.environments.add((environment.name, environment.version))
        return environment


@pytest.fixture
def fake_ml(monkeypatch: pytest.MonkeyPatch) -> FakeWorkspace:
    state = FakeWorkspace()
    monkeypatch.setattr(client, "ml_client", lambda ref, environ=None: FakeMLClient(state))
    return state


@pytest.fixture
def workspace(fake_ml: FakeWorkspace, no_network: None) -> FakeWorkspace:
    return fake_ml


SERVING_ENVIRONMENT = f"tracking-demo-serving:{serving_lock.lock_hash(ROOT)}"


def test_a_missing_endpoint_is_created_with_key_auth_and_gets_all_traffic(
    workspace: FakeWorkspace,
) -> None:
    result = invoke(*endpoint_args("moons-rf:3"))
    assert result.exit_code == 0, result.output
    assert workspace.calls == [
        "create endpoint moons-rf auth=key",
        f"register environment {SERVING_ENVIRONMENT}",
        "create deployment moons-rf/moons-rf-3",
        "traffic moons-rf {'moons-rf-3': 100}",
    ]
    (sent,) = workspace.sent
    deployment = sent["deployment"]
    assert sent["entry_script_uploaded"], "the staged folder holds jobs/score_entry.py"
    assert deployment.code_configuration.scoring_script == "jobs/score_entry.py"
    assert deployment.model == "azureml:moons-rf:3"
    assert deployment.environment == f"azureml:{SERVING_ENVIRONMENT}"
    assert (deployment.instance_type, deployment.instance_count) == ("Standard_DS3_v2", 1)
    answer = yaml.safe_load(result.stdout)
    assert answer["scoring_uri"] == "https://moons-rf.westeurope.inference.ml.azure.com/score"
    assert answer["traffic"] == {"moons-rf-3": 100}
    assert "keys" not in answer
    assert not any(key in result.output for key in SECRET_KEYS)


def test_an_existing_endpoint_is_reused_and_the_previous_deployment_deleted(
    workspace: FakeWorkspace,
) -> None:
    workspace.endpoint("moons-rf", {"moons-rf-2": 100, "moons-rf-1": 0})
    workspace.environments.add(tuple(SERVING_ENVIRONMENT.split(":")))  # type: ignore[arg-type]
    result = invoke(*endpoint_args("moons-rf:3"))
    assert result.exit_code == 0, result.output
    assert workspace.calls == [
        "create deployment moons-rf/moons-rf-3",
        "traffic moons-rf {'moons-rf-3': 100}",
        "delete deployment moons-rf/moons-rf-2",
    ], "reused the endpoint and the environment; only the one that served goes"
    assert f"environment {SERVING_ENVIRONMENT} reused" in result.stderr
    assert set(workspace.deployments["moons-rf"]) == {"moons-rf-1", "moons-rf-3"}
    assert yaml.safe_load(result.stdout)["deleted"] == ["moons-rf-2"]


def test_keep_previous_leaves_the_old_deployment_without_traffic(
    workspace: FakeWorkspace,
) -> None:
    workspace.endpoint("moons-rf", {"moons-rf-2": 100})
    result = invoke(*endpoint_args("moons-rf:3", "--keep-previous"))
    assert result.exit_code == 0, result.output
    assert not any(call.startswith("delete") for call in workspace.calls)
    assert workspace.endpoints["moons-rf"].traffic == {"moons-rf-3": 100}
    assert set(workspace.deployments["moons-rf"]) == {"moons-rf-2", "moons-rf-3"}


def test_a_failed_deployment_prints_its_logs_and_leaves_traffic_as_it_was(
    workspace: FakeWorkspace,
) -> None:
    workspace.endpoint("moons-rf", {"moons-rf-2": 100})
    workspace.fail_deployment = True
    result = invoke(*endpoint_args("moons-rf:3", "--show-keys"))
    assert result.exit_code == 1, result.output
    assert "no MLflow model under /var/azureml-app/azureml-models" in result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith(
        "error: deployment 'moons-rf-3' on endpoint 'moons-rf' ended Failed"
    ), last
    assert "User container has crashed" in last and "traffic unchanged (moons-rf-2=100)" in last
    assert "python -m jobs.deploy delete moons-rf --deployment moons-rf-3" in last
    assert workspace.endpoints["moons-rf"].traffic == {"moons-rf-2": 100}
    assert not any(c.startswith(("traffic", "delete", "keys")) for c in workspace.calls)
    assert not any(key in result.output for key in SECRET_KEYS)


def test_keys_are_printed_only_with_show_keys(workspace: FakeWorkspace) -> None:
    result = invoke(*endpoint_args("moons-rf:3", "--show-keys"))
    assert result.exit_code == 0, result.output
    assert yaml.safe_load(result.stdout)["keys"] == {
        "primary": SECRET_KEYS[0],
        "secondary": SECRET_KEYS[1],
    }
    workspace.calls.clear()
    result = invoke("keys", "moons-rf", "--show-keys")
    assert result.exit_code == 0, result.output
    answer = yaml.safe_load(result.stdout)
    assert answer["keys"]["primary"] == SECRET_KEYS[0]
    assert answer["scoring_uri"].endswith("/score")


def test_the_custom_image_is_sent_as_it_is(workspace: FakeWorkspace) -> None:
    result = invoke(*endpoint_args("moons-rf:3", "--environment", "image", "--image", IMAGE))
    assert result.exit_code == 0, result.output
    assert not any(call.startswith("register environment") for call in workspace.calls)
    assert workspace.sent[0]["deployment"].environment.image == IMAGE


def test_delete_removes_a_deployment_or_the_whole_endpoint(workspace: FakeWorkspace) -> None:
    workspace.endpoint("moons-rf", {"moons-rf-3": 100, "moons-rf-2": 0})
    result = invoke("delete", "moons-rf", "--deployment", "moons-rf-2")
    assert result.exit_code == 0, result.output
    result = invoke("delete", "moons-rf", "--deployment", "moons-rf-3")
    assert result.exit_code == 1, result.output
    assert result.stderr == "Azure ML error: deployment moons-rf-3 still takes 100% of traffic\n"
    result = invoke("delete", "moons-rf")
    assert result.exit_code == 0, result.output
    assert workspace.calls == ["delete deployment moons-rf/moons-rf-2", "delete endpoint moons-rf"]


@pytest.mark.integration
def test_best_by_deploys_the_best_version_in_the_workspace_registry(
    fake_ml: FakeWorkspace, mlflow_server: Any
) -> None:
    """The workspace's MLflow registry is played by the real local server (on loopback)."""
    from mlflow.tracking import MlflowClient

    workspace = fake_ml
    workspace.mlflow_tracking_uri = mlflow_server.uri
    registry = MlflowClient(mlflow_server.uri, registry_uri=mlflow_server.uri)
    name = "endpoint-best-by"
    run_id = registry.create_run(registry.create_experiment(name)).info.run_id
    registry.set_terminated(run_id)
    registry.create_registered_model(name)
    for accuracy in ("0.91", "0.97", "0.93"):
        registry.create_model_version(
            name, f"runs:/{run_id}/model", run_id=run_id, tags={"accuracy": accuracy}
        )
    result = invoke(*endpoint_args(name, "--best-by", "accuracy"))
    assert result.exit_code == 0, result.output
    assert workspace.sent[-1]["deployment"].model == f"azureml:{name}:2"
    assert workspace.sent[-1]["deployment"].name == f"{name}-2"
    assert "best version of endpoint-best-by by accuracy (max): 2" in result.stderr

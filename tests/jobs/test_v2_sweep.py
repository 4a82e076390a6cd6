"""`python -m jobs.sweep` on SDK v2 (the default): the sweep file as a SweepJob.

The dry-run's YAML is read back with azure-ai-ml's own `load_job` and built into its REST body,
offline; the real submit runs against a fake `MLClient` (jobs.v2.client.ml_client) and, for the
best trial, a real MLflow server holding the sweep's child runs.
"""

from __future__ import annotations

import json
import math
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from click.testing import CliRunner, Result
from jobs_cli import ROOT, assert_refused
from mlflow.tracking import MlflowClient

from jobs import spec as spec_module
from jobs.sweep import main
from jobs.v2 import best_trial
from jobs.v2 import client as client_module
from jobs.v2.sweep import DEFAULT_TIMEOUT_SECONDS
from tracking_demo.server.local import LocalServer
from tracking_demo.sweep import space as search_space
from tracking_demo.sweep.space import PrimaryMetric
from tracking_demo.tasks.catalog import HOUSING_MLP
from tracking_demo.tasks.housing import TUNABLE

MLP_TASK = HOUSING_MLP.name
IMAGE = ("--environment", "image", "--image", "myacr.azurecr.io/tracking-demo:1234")
SAMPLED = re.compile(r"\$\{\{search_space\.(\w+)\}\}")
CHOICE_ONLY_SLACK_AMOUNT = """
parameters:
  batch_size: {choice: [16, 32]}
  epochs: {choice: [3, 6, 9]}
primary_metric: {name: val_mae, goal: minimize}
early_termination:
  policy: bandit
  slack_amount: 0.25
  evaluation_interval: 3
  delay_evaluation: 1
max_trials: 6
max_concurrent: 3
"""


@pytest.fixture(scope="module")
def root(pytestconfig: pytest.Config) -> Path:
    return pytestconfig.rootpath


def invoke(root: Path, *args: str, env: dict[str, str] | None = None) -> Result:
    """No `--sdk`: v2 is the default. Submitter options first; after `--`, every trial's."""
    return CliRunner().invoke(main, ["--source", str(root), *args], env=env or {})


def write_sweep(tmp_path: Path, text: str, name: str = "sweep.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


@dataclass
class Emitted:
    stdout: str
    path: Path

    @property
    def header(self) -> list[str]:
        return [line for line in self.stdout.splitlines() if line.startswith("# ")]

    def job(self) -> Any:
        """The file as `az ml job create --file` reads it, and its REST body, offline."""
        from azure.ai.ml import load_job

        job = load_job(self.path)
        job._to_rest_object()
        return job


def dry_run(root: Path, tmp_path: Path, *args: str) -> Emitted:
    path = tmp_path / "yaml" / "sweep.yml"
    result = invoke(root, "--dry-run", "--emit", str(path), *args)
    assert result.exit_code == 0, result.output
    assert result.stdout == path.read_text(), "--emit writes what the dry-run prints"
    return Emitted(result.stdout, path)


@pytest.fixture(scope="module")
def default_sweep(root: Path, tmp_path_factory: pytest.TempPathFactory) -> Emitted:
    """The packaged file, the curated environment, a dataset version: what most users run."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("socket.socket.connect", _refuse)
        return dry_run(root, tmp_path_factory.mktemp("default"), "--dataset", "housing:2")


def _refuse(*args: Any, **kwargs: Any) -> None:
    raise AssertionError("the dry-run tried to reach the network")


# --- the dry-run: YAML that `az ml job create --file` accepts --------------------------------


def test_the_dry_run_prints_only_a_sweep_jobs_yaml_with_its_context(
    default_sweep: Emitted, root: Path
) -> None:
    body = [line for line in default_sweep.stdout.splitlines() if not line.startswith("#")]
    assert body[0].startswith("$schema: ") and body[0].endswith("sweepJob.schema.json")
    header = "\n".join(default_sweep.header)
    assert "# workspace: unresolved (no workspace config.json" in header
    assert "# auth: auto (DefaultAzureCredential: az login, managed identity, then a browser)" in (
        header
    )
    snapshot_line = next(line for line in default_sweep.header if line.startswith("# snapshot: "))
    assert "within limits: True" in snapshot_line
    assert "# data: declared uri_folder here" in header
    space = search_space.DEFAULT_SPACE_RESOURCE
    assert f"/{space}" in next(line for line in default_sweep.header if line.startswith("# space"))
    assert type(default_sweep.job()).__name__ == "SweepJob"


def test_the_default_file_becomes_the_sweep_jobs_space_policy_objective_and_limits(
    default_sweep: Emitted,
) -> None:
    job = default_sweep.job()
    assert {name: (d.type, d.values) for name, d in job.search_space.items()} == {
        "batch_size": ("choice", [25, 50, 100]),
        "epochs": ("choice", [5, 10, 15]),
        "first_layer_units": ("choice", [2, 4, 6, 8, 10]),
        "second_layer_units": ("choice", [2, 4, 6, 8, 10]),
    }
    assert job.sampling_algorithm == "random"
    policy = job.early_termination
    assert (policy.type, policy.slack_factor, policy.slack_amount) == ("bandit", 0.1, 0)
    assert (policy.evaluation_interval, policy.delay_evaluation) == (2, 0)
    assert (job.objective.primary_metric, job.objective.goal) == ("val_mae", "minimize")
    assert (job.limits.max_total_trials, job.limits.max_concurrent_trials) == (8, 4)
    assert job.limits.timeout == DEFAULT_TIMEOUT_SECONDS == 7 * 24 * 3600


def test_the_trial_is_the_single_jobs_command_with_the_sampled_options(
    default_sweep: Emitted, root: Path
) -> None:
    job = default_sweep.job()
    trial = job.trial
    prefix = f"python -m tracking_demo train {MLP_TASK} --data ${{{{inputs.data}}}} "
    assert trial.command.startswith(prefix)
    assert trial.command.removeprefix(prefix) == (
        "--batch-size ${{search_space.batch_size}} --epochs ${{search_space.epochs}} "
        "--first-layer-units ${{search_space.first_layer_units}} "
        "--second-layer-units ${{search_space.second_layer_units}}"
    )
    assert trial.environment_variables["PYTHONPATH"] == "src"
    assert trial.resources["shm_size"] == "2g"
    assert (default_sweep.path.parent / trial.code).resolve() == root.resolve()
    data = job.inputs["data"]
    assert (data.type, data.path, data.mode) == ("uri_folder", "housing:2", "download")
    assert (job.compute, job.experiment_name) == ("cpu-cluster", "tracking-demo")
    assert job.display_name == f"{MLP_TASK}-sweep"


def test_the_curated_environment_is_inline_and_anonymous(default_sweep: Emitted) -> None:
    environment = default_sweep.job().trial.environment
    assert environment._is_anonymous
    assert environment.image.startswith("mcr.microsoft.com/azureml/")
    dependencies = environment.conda_file["dependencies"]
    assert "python=3.11" in dependencies
    assert any(line.startswith("mlflow==") for line in dependencies[-1]["pip"])
    line = next(line for line in default_sweep.header if line.startswith("# environment"))
    assert "inline and anonymous" in line and "registers it as tracking-demo-cpu:" in line
    written = default_sweep.stdout.split("\n  environment:\n", 1)[1].split("\n  ", 1)[0]
    assert written.startswith("    image: "), "no made-up name, version or tags for the inline one"


def test_a_sampled_trial_command_parses_as_the_task(default_sweep: Emitted) -> None:
    """What each trial runs is `tracking-demo train housing-mlp` with valid options."""
    job = default_sweep.job()
    draw = search_space.sample(search_space.load(None, TUNABLE).parameters, 1, 0)[0]
    command = SAMPLED.sub(lambda match: str(draw[match.group(1)]), job.trial.command)
    arguments = command.replace("${{inputs.data}}", "DATA").split()[3:]
    assert arguments[:3] == ["train", MLP_TASK, "--data"]
    task = spec_module.known_tasks()[MLP_TASK]
    context = task.make_context(MLP_TASK, arguments[2:], resilient_parsing=False)
    assert {name: context.params[name] for name in draw} == draw
    assert set(SAMPLED.findall(job.trial.command)) == set(job.search_space)


@pytest.mark.usefixtures("no_network")
def test_loguniform_bounds_are_exponents_of_the_files_bounds(root: Path, tmp_path: Path) -> None:
    path = write_sweep(
        tmp_path,
        "parameters:\n  batch_size: {choice: [32]}\n  learning_rate: {loguniform: [0.0001, 0.1]}\n",
    )
    rate = dry_run(root, tmp_path, *IMAGE, "--space", str(path)).job().search_space
    learning_rate = rate["learning_rate"]
    assert learning_rate.type == "loguniform"
    assert learning_rate.min_value == pytest.approx(math.log(0.0001))
    assert learning_rate.max_value == pytest.approx(math.log(0.1))
    bounds = (math.exp(learning_rate.min_value), math.exp(learning_rate.max_value))
    assert bounds == (pytest.approx(0.0001), pytest.approx(0.1))


@pytest.mark.usefixtures("no_network")
def test_uniform_bounds_pass_unchanged(root: Path, tmp_path: Path) -> None:
    path = write_sweep(tmp_path, "parameters:\n  learning_rate: {uniform: [0.001, 0.01]}\n")
    emitted = dry_run(root, tmp_path, *IMAGE, "--space", str(path))
    job = emitted.job()
    rate = job.search_space["learning_rate"]
    assert (rate.type, rate.min_value, rate.max_value) == ("uniform", 0.001, 0.01)
    assert job.trial.command.endswith("--learning-rate ${{search_space.learning_rate}}")
    assert f"# space: {path}" in emitted.header
    assert job.tags["sweep_space"] == "sweep.yaml"


@pytest.mark.usefixtures("no_network")
def test_max_trials_and_concurrency_override_the_file(root: Path, tmp_path: Path) -> None:
    job = dry_run(root, tmp_path, *IMAGE, "--max-trials", "20", "--max-concurrent", "2").job()
    assert (job.limits.max_total_trials, job.limits.max_concurrent_trials) == (20, 2)
    assert job.early_termination.type == "bandit"


@pytest.mark.usefixtures("no_network")
def test_no_early_termination_sends_no_policy(root: Path, tmp_path: Path) -> None:
    emitted = dry_run(root, tmp_path, *IMAGE, "--no-early-termination")
    assert "early_termination" not in emitted.stdout
    job = emitted.job()
    assert job.early_termination is None
    assert job.objective.primary_metric == "val_mae"


@pytest.mark.usefixtures("no_network")
def test_a_choice_only_file_with_a_slack_amount(root: Path, tmp_path: Path) -> None:
    path = write_sweep(tmp_path, CHOICE_ONLY_SLACK_AMOUNT)
    job = dry_run(root, tmp_path, *IMAGE, "--space", str(path)).job()
    assert {name: d.values for name, d in job.search_space.items()} == {
        "batch_size": [16, 32],
        "epochs": [3, 6, 9],
    }
    policy = job.early_termination
    assert (policy.slack_amount, policy.slack_factor) == (0.25, 0)
    assert (policy.evaluation_interval, policy.delay_evaluation) == (3, 1)
    assert (job.limits.max_total_trials, job.limits.max_concurrent_trials) == (6, 3)


@pytest.mark.usefixtures("no_network")
def test_fixed_options_and_the_image_reach_every_trial(root: Path, tmp_path: Path) -> None:
    emitted = dry_run(
        root, tmp_path, *IMAGE, "--compute", "big", "--experiment", "sweeps", "--data-mode",
        "mount", "--dataset", "housing", "--", "--validation-split", "0.2", "--seed", "7",
    )  # fmt: skip
    job = emitted.job()
    assert job.trial.command.startswith(
        f"tracking-demo train {MLP_TASK} --data ${{{{inputs.data}}}} "
        "--validation-split 0.2 --seed 7 --batch-size ${{search_space.batch_size}}"
    )
    assert job.trial.environment.image == "myacr.azurecr.io/tracking-demo:1234"
    assert "PYTHONPATH" not in job.trial.environment_variables
    assert (job.compute, job.experiment_name) == ("big", "sweeps")
    assert (job.inputs["data"].path, job.inputs["data"].mode) == ("housing@latest", "ro_mount")
    assert "# environment: the custom image as it is (nothing is registered)" in emitted.header


@pytest.mark.usefixtures("no_network")
def test_register_as_is_a_tag_and_a_note_in_the_dry_run(root: Path, tmp_path: Path) -> None:
    emitted = dry_run(root, tmp_path, *IMAGE, "--register-as", "housing-best")
    assert emitted.job().tags["register_as"] == "housing-best"
    assert any(line.startswith("# register_as: housing-best") for line in emitted.header)


@pytest.mark.usefixtures("no_network")
def test_the_dry_run_without_emit_writes_code_relative_to_the_cwd(
    root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = invoke(root, "--dry-run", *IMAGE)
    assert result.exit_code == 0, result.output
    (code,) = [line.split(": ", 1)[1] for line in result.stdout.splitlines() if "  code: " in line]
    assert (tmp_path / code).resolve() == root.resolve()
    assert "wrote" not in result.output


def test_the_workspace_and_service_principal_show_in_the_header(
    root: Path, tmp_path: Path, config: Path, no_network: None
) -> None:
    variables = {"AZURE_CLIENT_ID": "app-1", "AZURE_TENANT_ID": "t-1", "AZURE_CLIENT_SECRET": "s3"}
    result = invoke(root, "--dry-run", "--workspace-config", str(config), *IMAGE, env=variables)
    assert result.exit_code == 0, result.output
    assert f"# workspace: ws-1 (resource group rg-1, subscription sub-1, from {config})" in (
        result.stdout.splitlines()
    )
    assert "# auth: service-principal (tenant t-1, client_id app-1, client_secret ***)" in (
        result.stdout.splitlines()
    )
    assert "s3" not in result.output


# --- bad input: one line, exit 1, before any network (as v1) ---------------------------------

BAD_SPACES = [
    ("parameters:\n  epochs: {normal: [5, 1]}\n", "unknown distribution 'normal'"),
    ("parameters:\n  epochs: {choice: []}\n", "choice has no values"),
    ("parameters:\n  epochs: {uniform: [1, 5]}\n", "takes whole numbers; use choice"),
    ("parameters:\n  dropout: {choice: [0.1]}\n", "not a tunable parameter"),
    (
        "parameters:\n  epochs: {choice: [1]}\nearly_termination: {slack_factor: 0.1, "
        "slack_amount: 1}\n",
        "exactly one of slack_factor, slack_amount",
    ),
    ("parameters:\n  epochs: {choice: [1]}\nprimary_metric: {name: x, goal: up}\n", "goal"),
]


@pytest.mark.parametrize("sdk", ["v2", "v1"])
@pytest.mark.parametrize(("text", "message"), BAD_SPACES)
@pytest.mark.usefixtures("no_network")
def test_a_bad_sweep_file_is_refused(
    root: Path, tmp_path: Path, sdk: str, text: str, message: str
) -> None:
    path = write_sweep(tmp_path, text)
    assert_refused(invoke(root, "--sdk", sdk, "--dry-run", "--space", str(path)), message)
    assert_refused(invoke(root, "--sdk", sdk, "--wait", "--space", str(path)), message)


BAD_OPTIONS = [
    (("--dry-run", "--space", "nope.yaml"), "sweep file not found"),
    (("--dry-run", "--max-trials", "0"), "--max-trials must be at least 1"),
    (("--dry-run", "--max-concurrent", "-1"), "--max-concurrent must be at least 1"),
    (("--register-as", "housing"), "--register-as needs --wait"),
    (("--dry-run", "--", "--epochs", "3"), "task option '--epochs' is tuned by the sweep"),
    (("--dry-run", "--", "--batch-size=64"), "task option '--batch-size' is tuned"),
    (("--dry-run", "--", "--no-such-option", "1"), "No such option '--no-such-option'"),
    (("--dry-run", "--", "--register-as", "x"), "is set by the submitter"),
    (("--dry-run", "--environment", "image"), "--environment image needs --image"),
    (("--dry-run", "--dataset", "housing:0"), "is not NAME or NAME:VERSION"),
    (("--emit", "x.yml"), "--emit FILE writes the CLI v2 YAML"),
]


@pytest.mark.parametrize("sdk", ["v2", "v1"])
@pytest.mark.parametrize(("args", "message"), BAD_OPTIONS)
@pytest.mark.usefixtures("no_network")
def test_a_bad_option_is_refused(root: Path, sdk: str, args: tuple[str, ...], message: str) -> None:
    assert_refused(invoke(root, "--sdk", sdk, *args), message)


@pytest.mark.usefixtures("no_network")
def test_emit_needs_sdk_v2(root: Path) -> None:
    result = invoke(root, "--sdk", "v1", "--dry-run", "--emit", "x.yml", *IMAGE)
    assert_refused(result, "--emit FILE writes the CLI v2 YAML: it needs --dry-run and --sdk v2")


@pytest.mark.usefixtures("no_network")
def test_a_registry_password_is_refused_on_v2(root: Path) -> None:
    result = invoke(root, "--dry-run", *IMAGE, env={"TRACKING_DEMO_REGISTRY_PASSWORD": "hunter2"})
    assert_refused(result, "SDK v2 takes no registry password per environment")
    assert "hunter2" not in result.output


@pytest.mark.usefixtures("no_network")
def test_a_service_principal_without_its_variables_is_refused(root: Path) -> None:
    result = invoke(root, "--dry-run", "--auth", "service-principal", *IMAGE)
    assert_refused(result, "--auth service-principal needs the environment variables")


def test_help_option_errors_and_v1_never_import_azure_ai_ml(root: Path) -> None:
    """`import azure.ai.ml` costs seconds: only a v2 action may pay for it."""
    script = (
        "import sys\n"
        "from click.testing import CliRunner\n"
        "from jobs.sweep import main\n"
        "runner = CliRunner()\n"
        "assert runner.invoke(main, ['--help']).exit_code == 0\n"
        "assert runner.invoke(main, ['--max-trials', '0', '--dry-run']).exit_code == 1\n"
        "assert runner.invoke(main, ['--emit', 'x.yml']).exit_code == 1\n"
        f"args = ['--source', {str(root)!r}, '--sdk', 'v1', '--dry-run', *{list(IMAGE)!r}]\n"
        "result = runner.invoke(main, args)\n"
        "assert result.exit_code == 0, result.output\n"
        "print(sorted(name for name in sys.modules if name.startswith('azure.ai.ml')))\n"
    )
    finished = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert finished.returncode == 0, finished.stderr
    assert finished.stdout.strip() == "[]"


# --- the best trial ------------------------------------------------------------------------


def test_the_best_trial_follows_the_goal_and_ignores_trials_without_the_metric() -> None:
    trials = [
        best_trial.Trial("a", {"val_mae": 0.5}),
        best_trial.Trial("b", {"val_mae": 0.3}),
        best_trial.Trial("c", {"loss": 0.1}),
        best_trial.Trial("d", {"val_mae": float("nan")}),
    ]
    lowest = best_trial.best_of(trials, PrimaryMetric("val_mae", "minimize"))
    highest = best_trial.best_of(trials, PrimaryMetric("val_mae", "maximize"))
    assert (lowest and lowest.run_id, highest and highest.run_id) == ("b", "a")
    assert best_trial.best_of(trials[2:], PrimaryMetric("val_mae")) is None


# --- the real submit, with MLClient faked at its edge ----------------------------------------


def not_found(what: str) -> Exception:
    from azure.core.exceptions import ResourceNotFoundError

    return ResourceNotFoundError(f"{what} not found")


@dataclass
class FakeJob:
    name: str
    status: str = "Completed"
    experiment_name: str | None = None

    @property
    def studio_url(self) -> str:
        return f"https://ml.azure.com/runs/{self.name}"


@dataclass
class FakeWorkspaceAsset:
    mlflow_tracking_uri: str


@dataclass
class FakeMLClient:
    """What the submitter asks of MLClient, recorded; the answers a test sets."""

    tracking_uri: str = "file:///nowhere"
    sweep_name: str = "sweep-1"
    status: str = "Completed"
    compute_size: str | None = "STANDARD_D2_V3"
    environments_known: set[tuple[str, str]] = field(default_factory=set)
    data_known: bool = True
    data_type: str = "uri_folder"
    data_latest: str = "7"
    stream_raises: bool = False
    workspace_name: str = "ws-1"
    calls: list[tuple[str, Any]] = field(default_factory=list)
    created: list[Any] = field(default_factory=list)

    def __post_init__(self) -> None:
        fake = self

        class Environments:
            def get(self, name: str, version: str) -> Any:
                fake.calls.append(("environments.get", (name, version)))
                if (name, version) not in fake.environments_known:
                    raise not_found(f"environment {name}:{version}")
                return object()

            def create_or_update(self, environment: Any) -> Any:
                fake.calls.append(("environments.create_or_update", environment))
                return environment

        class Compute:
            def get(self, name: str) -> Any:
                fake.calls.append(("compute.get", name))
                if fake.compute_size is None:
                    raise not_found(f"compute {name}")
                return type("AmlCompute", (), {"size": fake.compute_size})()

        class Data:
            def get(self, name: str, version: str | None = None, label: str | None = None) -> Any:
                fake.calls.append(("data.get", (name, version, label)))
                if not fake.data_known:
                    raise not_found(f"data {name}")
                return SimpleNamespace(version=version or fake.data_latest, type=fake.data_type)

        class Jobs:
            def create_or_update(self, job: Any) -> FakeJob:
                fake.created.append(job)
                return FakeJob(fake.sweep_name, experiment_name=job.experiment_name)

            def stream(self, name: str) -> None:
                fake.calls.append(("jobs.stream", name))
                print(f"streaming {name}")  # the SDK writes the logs to stdout
                if fake.stream_raises:
                    from azure.ai.ml.exceptions import JobException

                    raise JobException(message="failed", no_personal_data_message="failed")

            def get(self, name: str) -> FakeJob:
                fake.calls.append(("jobs.get", name))
                return FakeJob(name, fake.status if name == fake.sweep_name else "Completed")

        class Workspaces:
            def get(self, name: str) -> FakeWorkspaceAsset:
                fake.calls.append(("workspaces.get", name))
                return FakeWorkspaceAsset(fake.tracking_uri)

        self.environments = Environments()
        self.compute = Compute()
        self.data = Data()
        self.jobs = Jobs()
        self.workspaces = Workspaces()

    def called(self, name: str) -> list[Any]:
        return [argument for call, argument in self.calls if call == name]


@pytest.fixture
def ml_client(monkeypatch: pytest.MonkeyPatch) -> FakeMLClient:
    fake = FakeMLClient()
    monkeypatch.setattr(client_module, "ml_client", lambda ref, environ=None: fake)
    return fake


@pytest.mark.usefixtures("no_network")
def test_a_submit_registers_the_curated_environment_and_creates_the_sweep_job(
    root: Path, ml_client: FakeMLClient
) -> None:
    result = invoke(root, "--dataset", "housing:3", "--max-trials", "5")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {
        "sweep_id": "sweep-1",
        "portal_url": "https://ml.azure.com/runs/sweep-1",
    }
    ((name, version),) = ml_client.called("environments.get")
    (registered,) = ml_client.called("environments.create_or_update")
    assert (registered.name, registered.version) == (name, version)
    assert name == "tracking-demo-cpu"
    assert f"environment {name}:{version} registered" in result.stderr
    assert ml_client.called("compute.get") == ["cpu-cluster"]
    assert ml_client.called("data.get") == [("housing", "3", None)]
    (job,) = ml_client.created
    assert type(job).__name__ == "SweepJob"
    assert job.trial.environment == f"azureml:{name}:{version}"
    assert job.limits.max_total_trials == 5
    assert ml_client.called("jobs.stream") == [], "no --wait, no streaming"


@pytest.mark.usefixtures("no_network")
def test_a_registered_environment_is_reused(root: Path, ml_client: FakeMLClient) -> None:
    first = invoke(root)
    assert first.exit_code == 0, first.output
    ml_client.environments_known.update(ml_client.called("environments.get"))
    ml_client.calls.clear()
    again = invoke(root)
    assert again.exit_code == 0, again.output
    assert ml_client.called("environments.create_or_update") == []
    assert "reused" in again.stderr
    assert ml_client.called("data.get") == [], "no --dataset, no data asset to check"


@pytest.mark.usefixtures("no_network")
def test_an_image_sweep_registers_nothing(root: Path, ml_client: FakeMLClient) -> None:
    result = invoke(root, *IMAGE, "--dataset", "housing")
    assert result.exit_code == 0, result.output
    assert ml_client.called("environments.get") == []
    assert ml_client.called("data.get") == [("housing", None, "latest")]
    (job,) = ml_client.created
    assert job.trial.environment.image == IMAGE[-1]
    assert job.inputs["data"].path == "azureml:housing:7", "latest, pinned to the version found"


@pytest.mark.parametrize(
    ("data_type", "data_mode", "mode"),
    [
        ("uri_folder", "mount", "ro_mount"),
        ("uri_file", "download", "download"),
        ("mltable", "download", "eval_download"),
        ("mltable", "mount", "eval_mount"),
    ],
)
@pytest.mark.usefixtures("no_network")
def test_every_trial_reads_the_data_asset_as_its_own_type(
    root: Path, ml_client: FakeMLClient, data_type: str, data_mode: str, mode: str
) -> None:
    """housing.csv alone (uri_file) is what the housing task reads, as its folder is; an
    MLTable is evaluated into a folder."""
    ml_client.data_type = data_type
    result = invoke(root, *IMAGE, "--dataset", "housing:2", "--data-mode", data_mode)
    assert result.exit_code == 0, result.output
    (job,) = ml_client.created
    data = job.inputs["data"]
    assert (data.type, data.mode, data.path) == (data_type, mode, "azureml:housing:2")
    job._to_rest_object()


@pytest.mark.parametrize(
    ("setup", "args", "message"),
    [
        ({"compute_size": "STANDARD_D2_V3"}, ("--gpu",), "--gpu but compute 'gpu-cluster' has"),
        ({"compute_size": None}, (), "compute 'cpu-cluster' does not exist"),
        ({"data_known": False}, ("--dataset", "housing:9"), "data asset 'housing:9' does not"),
    ],
)
@pytest.mark.usefixtures("no_network")
def test_a_submit_checks_the_workspace_before_creating_anything(
    root: Path, ml_client: FakeMLClient, setup: dict[str, Any], args: tuple[str, ...], message: str
) -> None:
    for key, value in setup.items():
        setattr(ml_client, key, value)
    assert_refused(invoke(root, *IMAGE, *args), message)
    assert ml_client.created == []


def assert_failed(result: Result, message: str) -> None:
    """Past the submit, stderr has its progress; the failure is its last line, and nothing
    reaches stdout, where the result's JSON would be."""
    assert result.exit_code == 1, result.output
    assert result.stderr.strip().splitlines()[-1] == f"error: {message}"
    assert result.stdout == ""


@pytest.mark.parametrize("stream_raises", [False, True])
@pytest.mark.usefixtures("no_network")
def test_a_failed_sweep_exits_non_zero_with_its_status(
    root: Path, ml_client: FakeMLClient, stream_raises: bool
) -> None:
    ml_client.status, ml_client.stream_raises = "Failed", stream_raises
    result = invoke(root, *IMAGE, "--wait")
    reason = " (failed)" if stream_raises else ""  # the SDK's message, when it raised one
    assert_failed(result, f"sweep sweep-1 ended Failed: https://ml.azure.com/runs/sweep-1{reason}")
    assert ml_client.called("workspaces.get") == [], "a failed sweep has no best trial"


def trial_run(
    server: LocalServer,
    experiment: str,
    parent: str,
    metrics: dict[str, list[float]],
    status: str = "FINISHED",
    model_dir: Path | None = None,
) -> str:
    """A trial's MLflow run as Azure ML keeps it: a child of the sweep job's run."""
    client = MlflowClient(server.uri)
    found = client.get_experiment_by_name(experiment)
    experiment_id = found.experiment_id if found else client.create_experiment(experiment)
    run = client.create_run(experiment_id, tags={"mlflow.parentRunId": parent})
    for name, values in metrics.items():
        for step, value in enumerate(values):
            client.log_metric(run.info.run_id, name, value, step=step)
    if model_dir is not None:
        model_dir.mkdir()
        (model_dir / "MLmodel").write_text("flavors: {}\n")
        client.log_artifacts(run.info.run_id, str(model_dir), "model")
    if status != "RUNNING":
        client.set_terminated(run.info.run_id, status)
    return run.info.run_id


@pytest.mark.integration
def test_wait_prints_the_best_finished_trial_and_registers_its_model(
    root: Path, ml_client: FakeMLClient, mlflow_server: LocalServer, tmp_path: Path
) -> None:
    experiment, sweep = "v2-sweeps-best", "sweep-best-1"
    ml_client.tracking_uri, ml_client.sweep_name = mlflow_server.uri, sweep
    best = trial_run(
        mlflow_server, experiment, sweep, {"val_mae": [0.61, 0.48], "test_mae": [47123.456]},
        model_dir=tmp_path / "model",
    )  # fmt: skip
    trial_run(mlflow_server, experiment, sweep, {"val_mae": [0.9, 0.7]})
    trial_run(mlflow_server, experiment, sweep, {"val_mae": [0.1]}, status="FAILED")
    trial_run(mlflow_server, experiment, sweep, {"val_mae": [0.2]}, status="KILLED")
    trial_run(mlflow_server, experiment, sweep, {"val_mae": [0.05]}, status="RUNNING")
    trial_run(mlflow_server, experiment, "another-sweep", {"val_mae": [0.01]})

    result = invoke(
        root, *IMAGE, "--experiment", experiment, "--wait", "--register-as", "v2-sweep-best"
    )
    assert result.exit_code == 0, result.output
    assert f"streaming {sweep}" in result.stderr, "the logs go to stderr"
    out = json.loads(result.stdout)
    assert out["status"] == "Completed"
    assert out["best"]["run_id"] == out["best"]["mlflow_run_id"] == best
    assert out["best"]["portal_url"] == f"https://ml.azure.com/runs/{best}"
    assert out["best"]["primary_metric"] == {"name": "val_mae", "value": 0.48}
    assert out["best"]["metrics"] == {"test_mae": 47123.456, "val_mae": 0.48}
    assert out["model"] == {
        "name": "v2-sweep-best",
        "version": "1",
        "run_id": best,
        "sweep_id": sweep,
    }
    assert ml_client.called("workspaces.get") == ["ws-1"]
    registry = MlflowClient(mlflow_server.uri, registry_uri=mlflow_server.uri)
    version = registry.get_model_version("v2-sweep-best", "1")
    assert version.run_id == best
    assert version.tags["sweep_run_id"] == sweep
    assert version.tags["test_mae"] == "47123.5"


@pytest.mark.integration
def test_a_maximizing_sweep_picks_the_highest_trial(
    root: Path, ml_client: FakeMLClient, mlflow_server: LocalServer, tmp_path: Path
) -> None:
    experiment, sweep = "v2-sweeps-max", "sweep-max-1"
    ml_client.tracking_uri, ml_client.sweep_name = mlflow_server.uri, sweep
    low = trial_run(mlflow_server, experiment, sweep, {"val_r2": [0.5]})
    high = trial_run(mlflow_server, experiment, sweep, {"val_r2": [0.2, 0.8]})
    path = write_sweep(
        tmp_path,
        "parameters:\n  epochs: {choice: [1, 2]}\nprimary_metric: {name: val_r2, goal: maximize}\n",
    )
    result = invoke(root, *IMAGE, "--space", str(path), "--experiment", experiment, "--wait")
    assert result.exit_code == 0, result.output
    best = json.loads(result.stdout)["best"]
    assert (best["run_id"], best["primary_metric"]["value"]) == (high, 0.8)
    assert low != high
    assert "model" not in json.loads(result.stdout)


@pytest.mark.integration
def test_a_sweep_without_a_finished_trial_fails(
    root: Path, ml_client: FakeMLClient, mlflow_server: LocalServer
) -> None:
    experiment, sweep = "v2-sweeps-none", "sweep-none-1"
    ml_client.tracking_uri, ml_client.sweep_name = mlflow_server.uri, sweep
    trial_run(mlflow_server, experiment, sweep, {"val_mae": [0.3]}, status="FAILED")
    result = invoke(root, *IMAGE, "--experiment", experiment, "--wait")
    assert_failed(result, f"sweep {sweep} completed but no finished trial reported 'val_mae'")

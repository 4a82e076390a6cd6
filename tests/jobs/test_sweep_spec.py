"""`python -m jobs.sweep`: the housing sweep as a HyperDrive run, from the real SDK objects.

The sweep file is the one the local sweep (`tracking-demo sweep housing-mlp`) reads; the
agreement test maps the HyperDrive objects back and compares them with what the local sweep
loads from the same file.
"""

from __future__ import annotations

import json
import math
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import azureml.core
import pytest
from click.testing import CliRunner, Result
from jobs_cli import assert_module_help, assert_refused, module_spec, run_module, spec_of
from mlflow.tracking import MlflowClient

from jobs import snapshot
from jobs import spec as spec_module
from jobs import submit as submit_module
from jobs.sweep import TRIAL_SCRIPT, main
from tracking_demo.errors import ConfigError
from tracking_demo.server.local import LocalServer
from tracking_demo.sweep import space as search_space
from tracking_demo.sweep.space import (
    BanditPolicy,
    Choice,
    LogUniform,
    PrimaryMetric,
    SweepSpec,
    Uniform,
    cli_flag,
)
from tracking_demo.tasks.catalog import HOUSING_MLP
from tracking_demo.tasks.housing import TUNABLE

MLP_TASK = HOUSING_MLP.name

IMAGE = ("--environment", "image", "--image", "myacr.azurecr.io/tracking-demo:1234")
CUSTOM_SWEEP = """
parameters:
  batch_size: {choice: [16, 32]}
  epochs: {choice: [3, 6, 9]}
  first_layer_units: {choice: [8, 16]}
  second_layer_units: {choice: [4]}
  learning_rate: {loguniform: [0.0001, 0.05]}
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


def invoke(root: Path, *args: str, sdk: str = "v1") -> Result:
    """Submitter options first: everything after `--` belongs to every trial. These tests read
    the v1 (HyperDrive) spec; tests/jobs/test_v2_sweep.py reads the v2 SweepJob."""
    return CliRunner().invoke(main, ["--source", str(root), "--sdk", sdk, *args], env={})


def dry_run(root: Path, *args: str) -> dict[str, Any]:
    return spec_of(invoke(root, "--dry-run", *args))


def write_sweep(tmp_path: Path, text: str, name: str = "sweep.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


@pytest.fixture(scope="module")
def default_spec(root: Path) -> dict[str, Any]:
    return dry_run(root, "--dataset", "housing:2")


def test_default_file_is_the_tutorials_hyperdrive_config(default_spec: dict[str, Any]) -> None:
    hyperdrive = default_spec["hyperdrive"]
    assert hyperdrive["hyperparameter_sampling"] == {
        "name": "RANDOM",
        "parameter_space": {
            "--batch-size": ["choice", [[25, 50, 100]]],
            "--epochs": ["choice", [[5, 10, 15]]],
            "--first-layer-units": ["choice", [[2, 4, 6, 8, 10]]],
            "--second-layer-units": ["choice", [[2, 4, 6, 8, 10]]],
        },
    }
    assert hyperdrive["policy"] == {
        "name": "Bandit",
        "properties": {"slack_factor": 0.1, "evaluation_interval": 2, "delay_evaluation": 0},
    }
    assert hyperdrive["primary_metric_name"] == "val_mae"
    assert hyperdrive["primary_metric_goal"] == "MINIMIZE"
    assert (hyperdrive["max_total_runs"], hyperdrive["max_concurrent_runs"]) == (8, 4)


def test_dry_run_names_the_file_it_read_and_its_spec(default_spec: dict[str, Any]) -> None:
    space = default_spec["space"]
    assert Path(space["file"]).name == "housing_sweep.yaml"
    assert Path(space["file"]).is_file()
    assert space["spec"] == search_space.load(None, TUNABLE).describe()


def test_trial_is_a_script_with_arguments_that_hyperdrive_can_extend(
    default_spec: dict[str, Any], root: Path
) -> None:
    trial = default_spec["trial"]
    assert trial["script"] == TRIAL_SCRIPT
    assert trial["command"] is None, "a command would drop the sampled arguments"
    assert trial["arguments"] == ["train", MLP_TASK, "--data", "<dataset housing:2 as download>"]
    assert trial["environment_variables"]["PYTHONPATH"] == "src"
    assert default_spec["compute"] == "cpu-cluster"
    assert default_spec["environment"]["name"] == "tracking-demo-cpu"
    assert default_spec["dataset"]["name"] == "housing"
    assert TRIAL_SCRIPT in {str(path) for path in snapshot.take(root).files}
    assert default_spec["trial_command"][:2] == ["python", TRIAL_SCRIPT]
    assert default_spec["trial_command"][-8:] == [
        "--batch-size",
        "<sampled>",
        "--epochs",
        "<sampled>",
        "--first-layer-units",
        "<sampled>",
        "--second-layer-units",
        "<sampled>",
    ]


def test_the_trial_command_with_sampled_values_parses_as_the_task(
    default_spec: dict[str, Any],
) -> None:
    """What a trial runs is `tracking-demo train housing-mlp` with the sampled options set."""
    example = default_spec["trial_command_example"]
    assert example[2:4] == ["train", MLP_TASK]
    task = spec_module.known_tasks()[MLP_TASK]
    context = task.make_context(MLP_TASK, example[4:], resilient_parsing=False)
    sampled = dict(zip(example[6::2], example[7::2], strict=True))
    space = default_spec["hyperdrive"]["hyperparameter_sampling"]["parameter_space"]
    assert set(sampled) == set(space)
    for flag, value in sampled.items():
        name = flag[2:].replace("-", "_")
        assert context.params[name] == int(value)
        assert int(value) in space[flag][1][0]


def test_the_trial_scripts_folder_shadows_no_standard_module(root: Path) -> None:
    """Python puts the script's folder first on sys.path: its modules must not hide stdlib's."""
    folder = root / Path(TRIAL_SCRIPT).parent
    names = {path.stem for path in folder.iterdir() if path.suffix == ".py" or path.is_dir()}
    assert "cli" in names
    assert not names & set(sys.stdlib_module_names)


def test_max_trials_and_concurrency_override_the_file(root: Path) -> None:
    spec = dry_run(root, *IMAGE, "--max-trials", "20", "--max-concurrent", "2")
    assert spec["hyperdrive"]["max_total_runs"] == 20
    assert spec["hyperdrive"]["max_concurrent_runs"] == 2
    assert (spec["space"]["spec"]["max_trials"], spec["space"]["spec"]["max_concurrent"]) == (20, 2)
    assert spec["hyperdrive"]["policy"]["name"] == "Bandit"


def test_no_early_termination_sends_no_termination_policy(root: Path) -> None:
    spec = dry_run(root, *IMAGE, "--no-early-termination")
    assert spec["hyperdrive"]["policy"] == {"name": "Default"}  # NoTerminationPolicy
    assert spec["space"]["spec"]["early_termination"] == {"policy": "none"}
    assert spec["hyperdrive"]["primary_metric_name"] == "val_mae"


def test_loguniform_bounds_become_hyperdrives_exponents(root: Path, tmp_path: Path) -> None:
    path = write_sweep(
        tmp_path,
        "parameters:\n  batch_size: {choice: [32]}\n  learning_rate: {loguniform: [0.0001, 0.1]}\n",
    )
    space = dry_run(root, *IMAGE, "--space", str(path))["hyperdrive"]["hyperparameter_sampling"]
    kind, (low, high) = space["parameter_space"]["--learning-rate"]
    assert kind == "loguniform"
    assert low == pytest.approx(math.log(0.0001)) and high == pytest.approx(math.log(0.1))
    assert (math.exp(low), math.exp(high)) == (pytest.approx(0.0001), pytest.approx(0.1))
    assert space["parameter_space"]["--batch-size"] == ["choice", [[32]]]


def test_uniform_bounds_pass_unchanged(root: Path, tmp_path: Path) -> None:
    path = write_sweep(tmp_path, "parameters:\n  learning_rate: {uniform: [0.001, 0.01]}\n")
    spec = dry_run(root, *IMAGE, "--space", str(path))
    space = spec["hyperdrive"]["hyperparameter_sampling"]["parameter_space"]
    assert space == {"--learning-rate": ["uniform", [0.001, 0.01]]}
    assert spec["space"]["file"] == str(path)
    assert spec["trial_command"][-2:] == ["--learning-rate", "<sampled>"]


def test_fixed_task_options_reach_every_trial(root: Path) -> None:
    spec = dry_run(root, *IMAGE, "--", "--validation-split", "0.2", "--seed", "7")
    assert spec["trial"]["arguments"][-4:] == ["--validation-split", "0.2", "--seed", "7"]
    assert spec["trial_command"][0] == "/opt/venv/bin/python"
    assert spec["environment"]["docker"]["baseImage"] == "myacr.azurecr.io/tracking-demo:1234"
    assert "PYTHONPATH" not in spec["trial"]["environment_variables"]


def test_slack_amount_policy(root: Path, tmp_path: Path) -> None:
    path = write_sweep(tmp_path, CUSTOM_SWEEP)
    policy = dry_run(root, *IMAGE, "--space", str(path))["hyperdrive"]["policy"]
    assert policy == {
        "name": "Bandit",
        "properties": {"slack_amount": 0.25, "evaluation_interval": 3, "delay_evaluation": 1},
    }


# --- the agreement: one file, one space, one policy, one metric -----------------------------


def local_view_of(hyperdrive: dict[str, Any]) -> SweepSpec:
    """The HyperDrive spec mapped back into the local sweep's terms."""
    parameters: dict[str, search_space.Distribution] = {}
    for flag, (kind, arguments) in hyperdrive["hyperparameter_sampling"]["parameter_space"].items():
        name = flag.removeprefix("--").replace("-", "_")
        if kind == "choice":
            parameters[name] = Choice(tuple(arguments[0]))
        elif kind == "uniform":
            parameters[name] = Uniform(*arguments)
        elif kind == "loguniform":
            parameters[name] = LogUniform(math.exp(arguments[0]), math.exp(arguments[1]))
        else:
            raise AssertionError(f"unexpected HyperDrive distribution {kind}")
    policy = None
    if hyperdrive["policy"]["name"] == "Bandit":
        properties = hyperdrive["policy"]["properties"]
        policy = BanditPolicy(
            slack_factor=properties.get("slack_factor"),
            slack_amount=properties.get("slack_amount"),
            evaluation_interval=properties["evaluation_interval"],
            delay_evaluation=properties["delay_evaluation"],
        )
    else:
        assert hyperdrive["policy"] == {"name": "Default"}
    return SweepSpec(
        parameters=parameters,
        primary_metric=PrimaryMetric(
            hyperdrive["primary_metric_name"], hyperdrive["primary_metric_goal"].lower()
        ),
        policy=policy,
        max_trials=hyperdrive["max_total_runs"],
        max_concurrent=hyperdrive["max_concurrent_runs"],
    )


def local_view_of_sweep_job(job: Any) -> SweepSpec:
    """The v2 SweepJob (as `load_job` reads the emitted YAML) mapped back into the local
    sweep's terms; each parameter must reach the trial command as its task option."""
    from azure.ai.ml.sweep import SweepJob

    assert isinstance(job, SweepJob)
    parameters: dict[str, search_space.Distribution] = {}
    for name, distribution in job.search_space.items():
        assert f"{cli_flag(name)} ${{{{search_space.{name}}}}}" in job.trial.command, name
        if distribution.type == "choice":
            parameters[name] = Choice(tuple(distribution.values))
        elif distribution.type == "uniform":
            parameters[name] = Uniform(distribution.min_value, distribution.max_value)
        elif distribution.type == "loguniform":
            low, high = distribution.min_value, distribution.max_value
            parameters[name] = LogUniform(math.exp(low), math.exp(high))
        else:
            raise AssertionError(f"unexpected v2 distribution {distribution.type}")
    policy = None
    if job.early_termination is not None:
        bandit = job.early_termination
        assert bandit.type == "bandit"
        policy = BanditPolicy(
            slack_factor=bandit.slack_factor or None,  # the SDK leaves the unset one at 0
            slack_amount=bandit.slack_amount or None,
            evaluation_interval=bandit.evaluation_interval,
            delay_evaluation=bandit.delay_evaluation,
        )
    return SweepSpec(
        parameters=parameters,
        primary_metric=PrimaryMetric(job.objective.primary_metric, job.objective.goal),
        policy=policy,
        max_trials=job.limits.max_total_trials,
        max_concurrent=job.limits.max_concurrent_trials,
    )


def assert_same_sweep(azure: SweepSpec, local: SweepSpec) -> None:
    """Space (names, kinds, values or bounds), policy, metric and goal, trial budget."""
    assert set(azure.parameters) == set(local.parameters)
    for name, distribution in local.parameters.items():
        mapped = azure.parameters[name]
        assert type(mapped) is type(distribution), name
        if isinstance(distribution, Choice):
            assert mapped == distribution
        else:
            assert isinstance(mapped, Uniform | LogUniform)
            assert (mapped.low, mapped.high) == (
                pytest.approx(distribution.low),
                pytest.approx(distribution.high),
            )
    assert azure.policy == local.policy
    assert azure.primary_metric == local.primary_metric
    assert (azure.max_trials, azure.max_concurrent) == (local.max_trials, local.max_concurrent)


def emitted_sweep_job(path: Path) -> Any:
    from azure.ai.ml import load_job

    return load_job(path)


MAXIMIZING_SWEEP = """
parameters:
  batch_size: {choice: [8, 64]}
  learning_rate: {uniform: [0.001, 0.02]}
primary_metric: {name: val_r2, goal: maximize}
max_trials: 3
max_concurrent: 1
"""
SLACK_FACTOR_LOGUNIFORM_SWEEP = """
parameters:
  epochs: {choice: [2, 4]}
  learning_rate: {loguniform: [0.00001, 0.3]}
early_termination: {policy: bandit, slack_factor: 0.2, delay_evaluation: 5}
"""


@pytest.mark.parametrize(
    "text", [None, CUSTOM_SWEEP, MAXIMIZING_SWEEP, SLACK_FACTOR_LOGUNIFORM_SWEEP]
)
@pytest.mark.usefixtures("no_network")
def test_local_sweep_hyperdrive_and_sweep_job_agree(
    root: Path, tmp_path: Path, text: str | None
) -> None:
    """Three readers of one file: the local sweep, v1's HyperDrive and v2's SweepJob."""
    space = () if text is None else ("--space", str(write_sweep(tmp_path, text)))
    local = search_space.load(Path(space[1]) if space else None, TUNABLE)
    hyperdrive = local_view_of(dry_run(root, *IMAGE, *space)["hyperdrive"])
    emitted = tmp_path / "sweep.yml"
    result = invoke(root, "--dry-run", "--emit", str(emitted), *IMAGE, *space, sdk="v2")
    assert result.exit_code == 0, result.output
    sweep_job = local_view_of_sweep_job(emitted_sweep_job(emitted))

    assert_same_sweep(hyperdrive, local)
    assert_same_sweep(sweep_job, local)


@pytest.mark.slow
def test_local_sweep_and_azure_spec_read_one_file_and_agree(tmp_path: Path) -> None:
    """The issue's check, run as a user runs it: the local sweep, HyperDrive (v1) and the
    SweepJob (v2) agree on space, policy and metric."""
    path = write_sweep(tmp_path, CUSTOM_SWEEP)
    local = search_space.load(path, TUNABLE)  # what `tracking-demo sweep housing-mlp` uses
    spec = module_spec("sweep", "--sdk", "v1", "--dry-run", "--space", str(path), *IMAGE)
    emitted = tmp_path / "sweep.yml"
    module_spec_v2 = run_module(
        "sweep", "--dry-run", "--emit", str(emitted), "--space", str(path), *IMAGE
    )
    assert module_spec_v2.returncode == 0, module_spec_v2.stderr

    assert_same_sweep(local_view_of(spec["hyperdrive"]), local)
    assert_same_sweep(local_view_of_sweep_job(emitted_sweep_job(emitted)), local)
    assert spec["space"] == {"file": str(path), "spec": local.describe()}
    assert f"# space: {path}" in module_spec_v2.stdout.splitlines()


@pytest.mark.slow
def test_module_help() -> None:
    assert_module_help(
        "sweep",
        "Usage: python -m jobs.sweep",
        *("--space", "--max-trials", "--no-early-termination", "--register-as", "--sdk", "--emit"),
    )


# --- bad input: one line, exit 1, before any network ----------------------------------------


def test_unknown_distribution_is_refused(root: Path, tmp_path: Path) -> None:
    path = write_sweep(tmp_path, "parameters:\n  epochs: {normal: [5, 1]}\n")
    assert_refused(invoke(root, "--dry-run", "--space", str(path)), "unknown distribution 'normal'")


def test_empty_choice_is_refused(root: Path, tmp_path: Path) -> None:
    path = write_sweep(tmp_path, "parameters:\n  epochs: {choice: []}\n")
    assert_refused(invoke(root, "--dry-run", "--space", str(path)), "choice has no values")


def test_a_tuned_option_given_as_a_fixed_option_is_refused(root: Path) -> None:
    result = invoke(root, "--dry-run", "--", "--epochs", "3")
    assert_refused(result, "task option '--epochs' is tuned by the sweep")


def test_a_tuned_option_given_with_equals_is_refused(root: Path) -> None:
    result = invoke(root, "--dry-run", "--", "--batch-size=64")
    assert_refused(result, "task option '--batch-size' is tuned by the sweep")


def test_a_missing_sweep_file_is_refused(root: Path, tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"
    assert_refused(invoke(root, "--dry-run", "--space", str(missing)), "sweep file not found")


def test_a_parameter_the_task_lacks_is_refused() -> None:
    spec = SweepSpec(parameters={"dropout": Choice((0.1, 0.2))}, source="s.yaml")
    with pytest.raises(ConfigError, match="has no option --dropout"):
        spec_module.check_tuned_flags(spec, ())


def test_a_zero_budget_is_refused(root: Path) -> None:
    assert_refused(
        invoke(root, "--dry-run", "--max-trials", "0"), "--max-trials must be at least 1"
    )


def test_register_as_needs_wait(root: Path) -> None:
    assert_refused(invoke(root, "--register-as", "housing"), "--register-as needs --wait")


def test_an_unknown_fixed_option_is_refused(root: Path) -> None:
    result = invoke(root, "--dry-run", "--", "--no-such-option", "1")
    assert_refused(result, "No such option '--no-such-option'")


def test_a_reserved_fixed_option_is_refused(root: Path) -> None:
    result = invoke(root, "--dry-run", "--", "--register-as", "x")
    assert_refused(result, "task option '--register-as' is set by the submitter")


# --- the whole local sweep as one job (jobs.submit --command sweep) -------------------------


def test_submit_runs_the_local_sweep_as_one_job(root: Path) -> None:
    result = CliRunner().invoke(
        submit_module.main,
        [
            *("--source", str(root), MLP_TASK, "--command", "sweep", "--dataset", "housing"),
            *("--sdk", "v1"),
            *("--register-as", "housing", *IMAGE, "--dry-run", "--", "--max-trials", "4"),
        ],
        env={},
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["command"] == [
        "tracking-demo",
        "sweep",
        MLP_TASK,
        "--data",
        "<dataset housing:latest as download>",
        "--max-trials",
        "4",
        "--register-as",
        "housing",
    ]


def test_submit_refuses_an_unknown_sweep_task(root: Path) -> None:
    result = CliRunner().invoke(
        submit_module.main, ["--source", str(root), "moons", "--command", "sweep", "--dry-run"]
    )
    assert_refused(result, "unknown sweep task 'moons' (expected one of: housing-mlp")


def test_submit_refuses_a_local_check_of_a_sweep(root: Path) -> None:
    result = CliRunner().invoke(
        submit_module.main, ["--source", str(root), MLP_TASK, "--command", "sweep", "--local"]
    )
    assert_refused(result, "--local checks one training run")


@pytest.mark.integration
def test_a_sweep_jobs_model_may_come_from_a_child_trial_run(mlflow_server: LocalServer) -> None:
    """The local sweep registers the best trial's run, a child of the job's run."""
    client = MlflowClient(mlflow_server.uri, registry_uri=mlflow_server.uri)
    experiment_id = client.create_experiment("one-job-sweeps")
    parent = client.create_run(experiment_id).info.run_id
    trial = client.create_run(experiment_id, tags={"mlflow.parentRunId": parent}).info.run_id
    client.create_registered_model("one-job-sweep")
    client.create_model_version("one-job-sweep", f"runs:/{trial}/model", run_id=trial)

    info = spec_module.registered_model(
        mlflow_server.uri, parent, "one-job-sweep", include_children=True
    )
    assert info == {"name": "one-job-sweep", "version": "1", "run_id": trial}
    with pytest.raises(spec_module.JobFailedError, match="registered no version"):
        spec_module.registered_model(mlflow_server.uri, parent, "one-job-sweep")


# --- the real submit path, with the workspace faked at the SDK's edge -----------------------


@dataclass
class FakeTrial:
    id: str
    metrics: dict[str, Any]

    def get_metrics(self) -> dict[str, Any]:
        return self.metrics

    def get_portal_url(self) -> str:
        return f"https://ml.azure.com/runs/{self.id}"


@dataclass
class FakeSweepRun:
    id: str
    best: FakeTrial | None
    status: str = "Completed"
    asked: list[dict[str, bool]] = field(default_factory=list)

    def get_portal_url(self) -> str:
        return f"https://ml.azure.com/runs/{self.id}"

    def wait_for_completion(self, show_output: bool, raise_on_error: bool) -> None:
        return None

    def get_status(self) -> str:
        return self.status

    def get_best_run_by_primary_metric(self, **kwargs: bool) -> FakeTrial | None:
        self.asked.append(kwargs)
        return self.best


@dataclass
class FakeWorkspace:
    tracking_uri: str
    run: FakeSweepRun
    submitted: list[Any] = field(default_factory=list)
    datasets: list[tuple[str, Any]] = field(default_factory=list)

    def get_mlflow_tracking_uri(self) -> str:
        return self.tracking_uri


@pytest.fixture
def workspace(monkeypatch: pytest.MonkeyPatch, mlflow_server: LocalServer) -> FakeWorkspace:
    state = FakeWorkspace(mlflow_server.uri, FakeSweepRun("sweep-1", None))
    # Registering points MLflow's process-wide URIs at the workspace; the autouse
    # `mlflow_uris_restored` fixture puts them back after the test.

    class ComputeTarget:
        def __init__(self, workspace: Any, name: str) -> None:
            self.vm_size = "STANDARD_D2_V3"

    class Experiment:
        def __init__(self, workspace: Any, name: str) -> None:
            self.name = name

        def submit(self, config: Any) -> FakeSweepRun:
            state.submitted.append((self.name, config))
            return state.run

    class Named:
        def __init__(self, input_name: str) -> None:
            self.input_name = input_name

        def as_download(self) -> str:
            return f"<download {self.input_name}>"

    class Dataset:
        @staticmethod
        def get_by_name(workspace: Any, name: str, version: Any) -> Any:
            state.datasets.append((name, version))
            return type("Ds", (), {"as_named_input": lambda self, input_name: Named(input_name)})()

    monkeypatch.setattr(submit_module, "load_workspace", lambda ref, environ=None: state)
    monkeypatch.setattr("azureml.core.compute.ComputeTarget", ComputeTarget)
    monkeypatch.setattr(azureml.core, "Experiment", Experiment)
    monkeypatch.setattr(azureml.core, "Dataset", Dataset)
    return state


def trained_run(server: LocalServer, tmp_path: Path) -> str:
    """A finished trial's run with a `model/` folder, as `train housing-mlp` leaves it."""
    client = MlflowClient(server.uri)
    experiment = client.get_experiment_by_name("fake-sweeps")
    experiment_id = (
        experiment.experiment_id if experiment else client.create_experiment("fake-sweeps")
    )
    run = client.create_run(experiment_id)
    model = tmp_path / "model"
    model.mkdir()
    (model / "MLmodel").write_text("flavors: {}\n")
    client.log_artifacts(run.info.run_id, str(model), "model")
    client.set_terminated(run.info.run_id)
    return run.info.run_id


@pytest.mark.integration
def test_wait_prints_the_best_trial_and_registers_its_model(
    root: Path, workspace: FakeWorkspace, mlflow_server: LocalServer, tmp_path: Path
) -> None:
    run_id = trained_run(mlflow_server, tmp_path)
    metrics = {"val_mae": [0.61, 0.52, 0.48], "test_mae": 47123.456, "test_rmse": 65000.0}
    workspace.run = FakeSweepRun("sweep-1", FakeTrial(run_id, metrics))
    result = invoke(
        root,
        *IMAGE,
        "--dataset",
        "housing:3",
        "--experiment",
        "sweeps",
        "--wait",
        "--register-as",
        "housing-sweep-best",
    )
    assert result.exit_code == 0, result.output
    experiment, config = workspace.submitted[0]
    assert experiment == "sweeps"
    assert type(config).__name__ == "HyperDriveConfig"
    assert config.run_config.script == TRIAL_SCRIPT
    assert config.run_config.arguments == ["train", MLP_TASK, "--data", "<download data>"]
    assert not config.run_config.command
    assert workspace.datasets == [("housing", 3)]
    assert workspace.run.asked == [{"include_failed": False, "include_canceled": False}]
    out = json.loads(result.stdout)
    assert out["best"]["mlflow_run_id"] == run_id
    assert out["best"]["primary_metric"] == {"name": "val_mae", "value": 0.48}
    assert out["model"] == {
        "name": "housing-sweep-best",
        "version": "1",
        "run_id": run_id,
        "sweep_id": "sweep-1",
    }
    version = MlflowClient(mlflow_server.uri, registry_uri=mlflow_server.uri).get_model_version(
        "housing-sweep-best", "1"
    )
    assert version.run_id == run_id
    assert version.tags["sweep_run_id"] == "sweep-1"
    assert version.tags["test_mae"] == "47123.5"


@pytest.mark.integration
def test_a_sweep_without_a_finished_trial_fails(root: Path, workspace: FakeWorkspace) -> None:
    result = invoke(root, *IMAGE, "--wait")
    assert result.exit_code == 1
    assert "sweep sweep-1 completed but no finished trial reported 'val_mae'" in result.output


@pytest.mark.integration
def test_a_failed_sweep_exits_non_zero_with_its_status(
    root: Path, workspace: FakeWorkspace
) -> None:
    workspace.run = FakeSweepRun("sweep-2", None, status="Failed")
    result = invoke(root, *IMAGE, "--wait")
    assert result.exit_code == 1
    assert "sweep sweep-2 ended Failed" in result.output
    assert workspace.run.asked == [], "a failed sweep has no best trial to ask for"

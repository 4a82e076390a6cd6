"""`python -m jobs.submit` on SDK v2 (the default): the dry-run's CLI v2 YAML, loaded back with
azure-ai-ml's own loader; the snapshot azure-ai-ml would upload; the submit path with MLClient
faked at its edge; and `--local` with the variables a v2 job gets."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import yaml
from azure.ai.ml import load_job
from azure.core.exceptions import ResourceNotFoundError
from click.testing import CliRunner, Result
from jobs_cli import ROOT, assert_refused, offline, pip_packages
from mlflow.tracking import MlflowClient

from jobs import environments, local_job, snapshot
from jobs.spec import JOB_VARIABLES, JobTarget, make_request
from jobs.submit import main
from jobs.v2 import client
from jobs.v2.environment import CPU_BASE_IMAGE, GPU_BASE_IMAGE
from tracking_demo.server.local import LocalServer

SECRET = "s3cr3t-never-printed"
IMAGE = "myacr.azurecr.io/tracking-demo:1234"
IMAGE_ARGS = ("--environment", "image", "--image", IMAGE)


def invoke(*args: str, env: dict[str, str] | None = None) -> Result:
    """Submitter options first: everything after `--` belongs to the task."""
    return CliRunner().invoke(main, ["--source", str(ROOT), *args], env=env or {})


@dataclass(frozen=True)
class DryRun:
    """A v2 dry run with `--emit`: what it printed, the file, and azure-ai-ml's reading of it."""

    stdout: str
    stderr: str
    path: Path

    @property
    def data(self) -> dict[str, Any]:
        loaded: dict[str, Any] = yaml.safe_load(self.stdout)
        return loaded

    @property
    def header(self) -> list[str]:
        return [line[2:] for line in self.stdout.splitlines() if line.startswith("# ")]

    def job(self) -> Any:
        return load_job(self.path)


def dry_run_in(folder: Path, *args: str, env: dict[str, str] | None = None) -> DryRun:
    path = folder / "emitted" / "job.yml"
    result = invoke("--dry-run", "--emit", str(path), *args, env=env)
    assert result.exit_code == 0, result.output
    return DryRun(result.stdout, result.stderr, path)


@pytest.fixture(scope="module")
def curated_cpu(tmp_path_factory: pytest.TempPathFactory) -> DryRun:
    with offline():
        return dry_run_in(
            tmp_path_factory.mktemp("cpu"),
            "moons",
            "--dataset",
            "moons:2",
            "--register-as",
            "moons-rf",
        )


@pytest.fixture(scope="module")
def curated_gpu(tmp_path_factory: pytest.TempPathFactory) -> DryRun:
    with offline():
        return dry_run_in(
            tmp_path_factory.mktemp("gpu"),
            "mnist-cnn",
            "--gpu",
            "--dataset",
            "mnist",
            "--",
            "--epochs",
            "3",
        )


@pytest.fixture(scope="module")
def image_job(tmp_path_factory: pytest.TempPathFactory) -> DryRun:
    with offline():
        return dry_run_in(
            tmp_path_factory.mktemp("image"),
            "moons",
            *IMAGE_ARGS,
            "--dataset",
            "moons",
            "--compute",
            "train-01",
        )


# --- the dry run: CLI v2 YAML that azure-ai-ml loads back -----------------------------------


def test_curated_job_loads_back_as_the_command_job(curated_cpu: DryRun) -> None:
    job = curated_cpu.job()
    assert job.type == "command"
    assert job.command == (
        "python -m tracking_demo train moons --data ${{inputs.data}} --register-as moons-rf"
    )
    assert job.inputs["data"].type == "uri_folder"
    assert job.inputs["data"].path.endswith("moons:2")
    assert job.inputs["data"].mode == "download"
    assert job.compute == "cpu-cluster"
    assert job.experiment_name == "tracking-demo"
    assert dict(job.environment_variables) == {**JOB_VARIABLES, "PYTHONPATH": "src"}
    job._to_rest_object()  # the body `az ml job create` sends builds, offline


def test_curated_environment_is_the_lock_inline_and_anonymous(curated_cpu: DryRun) -> None:
    job = curated_cpu.job()
    packages = pip_packages(job)
    assert packages == environments.locked_requirements(ROOT, gpu=False)
    assert job.environment.image == CPU_BASE_IMAGE
    assert "python=3.11" in job.environment.conda_file["dependencies"]
    written = curated_cpu.data["environment"]
    assert "name" not in written and "version" not in written, "anonymous: Azure ML hashes it"
    version = environments.environment_version(packages, CPU_BASE_IMAGE)
    registers = [line for line in curated_cpu.header if line.startswith("environment:")]
    assert registers and registers[0].endswith(f"registers it as tracking-demo-cpu:{version}")


def test_emit_writes_what_it_prints_with_code_relative_to_the_file(curated_cpu: DryRun) -> None:
    assert curated_cpu.path.read_text() == curated_cpu.stdout
    code = curated_cpu.data["code"]
    assert not Path(code).is_absolute()
    assert (curated_cpu.path.parent / code).resolve() == ROOT
    assert f"wrote {curated_cpu.path}" in curated_cpu.stderr


def test_header_says_where_who_and_what_is_uploaded(curated_cpu: DryRun) -> None:
    header = curated_cpu.header
    assert header[0] == (
        "az ml job create --file job.yml  (`python -m jobs.submit` without --dry-run submits "
        "the same job)"
    )
    assert any(line.startswith("workspace: unresolved (") for line in header)
    assert "auth: auto (DefaultAzureCredential: az login, managed identity, then a browser)" in (
        header
    )
    taken = snapshot.take(ROOT)
    snapshot_line = next(line for line in header if line.startswith("snapshot: "))
    assert snapshot_line.startswith(f"snapshot: {len(taken.files)} files, ")
    assert "within limits: True" in snapshot_line


def test_gpu_job_gets_the_gpu_image_lock_and_cluster(curated_gpu: DryRun) -> None:
    job = curated_gpu.job()
    names = {line.split("==")[0] for line in pip_packages(job)}
    assert {"nvidia-cudnn-cu12", "nvidia-cublas-cu12", "tensorflow"} <= names
    assert job.environment.image == GPU_BASE_IMAGE
    assert job.compute == "gpu-cluster"
    assert job.command.endswith("--data ${{inputs.data}} --epochs 3"), "task options pass through"
    assert any("registers it as tracking-demo-gpu:" in line for line in curated_gpu.header)
    job._to_rest_object()


def test_image_job_runs_the_image_as_it_is(image_job: DryRun) -> None:
    job = image_job.job()
    assert job.command.startswith("tracking-demo train moons --data ${{inputs.data}}")
    assert job.environment.image == IMAGE
    assert job.environment.conda_file is None
    assert "PYTHONPATH" not in job.environment_variables
    assert job.compute == "train-01"
    assert job.inputs["data"].path.endswith("moons@latest")
    assert "environment: the custom image as it is (nothing is registered)" in image_job.header
    job._to_rest_object()


@pytest.mark.usefixtures("no_network")
def test_mount_mode_is_a_read_only_mount_with_fuse(tmp_path: Path) -> None:
    job = dry_run_in(tmp_path, "moons", "--dataset", "moons", "--data-mode", "mount").job()
    assert job.inputs["data"].mode == "ro_mount"
    assert any(line.startswith("fusepy") for line in pip_packages(job))
    job._to_rest_object()


@pytest.mark.usefixtures("no_network")
def test_without_a_dataset_the_job_reads_its_working_folder(tmp_path: Path) -> None:
    job = dry_run_in(tmp_path, "moons", *IMAGE_ARGS).job()
    assert job.command == "tracking-demo train moons --data ."
    assert not job.inputs
    job._to_rest_object()


@pytest.mark.usefixtures("no_network")
def test_the_whole_local_sweep_runs_as_one_command_job(tmp_path: Path) -> None:
    job = dry_run_in(
        tmp_path,
        "housing-mlp",
        "--command",
        "sweep",
        "--dataset",
        "housing",
        "--register-as",
        "housing",
        *IMAGE_ARGS,
        "--",
        "--max-trials",
        "4",
    ).job()
    assert job.command == (
        "tracking-demo sweep housing-mlp --data ${{inputs.data}} --max-trials 4 "
        "--register-as housing"
    )
    job._to_rest_object()


@pytest.mark.usefixtures("no_network")
def test_workspace_and_service_principal_show_without_the_secret(
    tmp_path: Path, config: Path
) -> None:
    env = {"AZURE_CLIENT_ID": "app-1", "AZURE_TENANT_ID": "tenant-1", "AZURE_CLIENT_SECRET": SECRET}
    run = dry_run_in(tmp_path, "moons", *IMAGE_ARGS, "--workspace-config", str(config), env=env)
    assert SECRET not in run.stdout + run.stderr
    assert f"workspace: ws-1 (resource group rg-1, subscription sub-1, from {config})" in (
        run.header
    )
    assert (
        "auth: service-principal (tenant tenant-1, client_id app-1, client_secret ***)"
        in run.header
    )


def test_done_when_the_default_dry_run_is_a_command_job_and_v1_its_json(tmp_path: Path) -> None:
    """The issue's example, as a user runs it: no --sdk is v2; --sdk v1 is today's spec."""
    args = ["moons", "--dataset", "moons", "--register-as", "moons-rf", "--dry-run"]
    v2 = run_module(*args)
    assert v2.returncode == 0, v2.stderr
    (tmp_path / "job.yml").write_text(v2.stdout)  # `code: .`, relative to the repository
    job = load_job(tmp_path / "job.yml", relative_origin=str(ROOT))
    assert job.type == "command"
    assert job.command.startswith("python -m tracking_demo train moons --data ${{inputs.data}}")
    assert job.inputs["data"].path.endswith("moons@latest")
    assert job.environment.image == CPU_BASE_IMAGE
    v1 = run_module(*args, "--sdk", "v1")
    assert v1.returncode == 0, v1.stderr
    spec = json.loads(v1.stdout)
    assert spec["environment"]["name"] == "tracking-demo-cpu"
    assert spec["register_as"] == "moons-rf"


# --- bad input: one line, exit 1, before any network, for v2 as for v1 ----------------------

REFUSED_BY_BOTH = [
    (["no-such-task"], "unknown task 'no-such-task' (expected one of: housing-baseline"),
    (["moons", "--environment", "image"], "--environment image needs --image"),
    (["moons", "--environment", "image", "--image", "myacr.azurecr.io/td"], "has no tag"),
    (["moons", "--environment", "image", "--image", "Bad Image:1"], "is not an image reference"),
    (["moons", "--image", "myacr.azurecr.io/td:1"], "--image is only used with"),
    (["moons", "--", "--no-such-option"], "No such option '--no-such-option'"),
    (["moons", "--", "--data", "elsewhere"], "task option '--data' is set by the submitter"),
    (["moons", "--dataset", "moons:latest-ish"], "is not NAME or NAME:VERSION"),
    (["moons", "--local"], "--dry-run and --local"),
    (["moons", "--model-info-out", "m.json"], "--model-info-out needs --wait"),
    (["moons", "--wait", "--model-info-out", "m.json"], "--model-info-out needs --register-as"),
    (["moons", "--command", "sweep"], "unknown sweep task 'moons'"),
    (["moons", "--auth", "service-principal"], "--auth service-principal needs"),
]


@pytest.mark.usefixtures("no_network")
@pytest.mark.parametrize("sdk", ["v2", "v1"])
@pytest.mark.parametrize(("args", "message"), REFUSED_BY_BOTH)
def test_the_dry_run_refuses_what_v1_refuses(sdk: str, args: list[str], message: str) -> None:
    assert_refused(invoke("--sdk", sdk, "--dry-run", *args), message)


@pytest.mark.usefixtures("no_network")
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["moons", "--emit", "job.yml"], "--emit FILE writes the CLI v2 YAML: it needs --dry-run"),
        (["moons", "--dry-run", "--sdk", "v1", "--emit", "job.yml"], "and --sdk v2"),
        (["moons", "--emit", "job.yml", "--wait"], "it needs --dry-run and --sdk v2"),
    ],
)
def test_emit_needs_the_v2_dry_run(args: list[str], message: str) -> None:
    assert_refused(invoke(*args), message)


@pytest.mark.usefixtures("no_network")
@pytest.mark.parametrize(
    "variable",
    [environments.REGISTRY_USERNAME_VARIABLE, environments.REGISTRY_PASSWORD_VARIABLE],
)
def test_registry_credentials_are_refused_with_a_v2_image_environment(variable: str) -> None:
    result = invoke("moons", *IMAGE_ARGS, "--dry-run", env={variable: SECRET})
    assert_refused(result, variable, "SDK v2 takes no registry password", "--sdk v1")
    assert SECRET not in result.output


# --- azure.ai.ml is loaded only when the v2 path needs it ------------------------------------

PROBE = """
import atexit, runpy, sys
atexit.register(lambda: print("azure.ai.ml loaded:", "azure.ai.ml" in sys.modules, file=sys.stderr))
sys.argv = ["jobs.submit", *sys.argv[1:]]
runpy.run_module("jobs.submit", run_name="__main__", alter_sys=True)
"""


def run_module(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AZURE_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return subprocess.run(
        [sys.executable, "-c", PROBE, *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize(
    ("args", "loaded"),
    [
        (["--help"], False),
        (["moons", *IMAGE_ARGS, "--sdk", "v1", "--dry-run"], False),
        (["moons", "--emit", "job.yml"], False),
        (["no-such-task", "--dry-run"], False),
        (["moons", *IMAGE_ARGS, "--dry-run"], True),
    ],
)
def test_azure_ai_ml_is_imported_only_for_the_v2_path(args: list[str], loaded: bool) -> None:
    finished = run_module(*args)
    assert f"azure.ai.ml loaded: {loaded}" in finished.stderr, finished.stderr


# --- the snapshot azure-ai-ml uploads --------------------------------------------------------


def uploaded_by_azure_ai_ml(root: Path) -> set[str]:
    """The files `ml_client.jobs.create_or_update` uploads as the job's code: a `Code` asset of
    the folder (its ignore file: `.amlignore`, else `.gitignore`), walked as it uploads."""
    from azure.ai.ml._utils._asset_utils import get_upload_files_from_folder
    from azure.ai.ml.entities._assets import Code

    code = Code(path=str(root))
    return {
        destination
        for _, destination in get_upload_files_from_folder(root, ignore_file=code._ignore_file)
    }


def test_azure_ai_ml_uploads_exactly_the_snapshot_of_this_repository() -> None:
    assert uploaded_by_azure_ai_ml(ROOT) == {path.as_posix() for path in snapshot.take(ROOT).files}


def test_the_one_difference_azure_ai_ml_follows_symlinks(tmp_path: Path) -> None:
    """.amlignore applies alike; a symlink is uploaded as its target's content by azure-ai-ml,
    and left out of `snapshot.take` (and so of `--local`'s copy)."""
    (tmp_path / ".amlignore").write_text("ignored/\n*.log\n")
    (tmp_path / "keep.py").write_text("print('kept')\n")
    (tmp_path / "ignored").mkdir()
    (tmp_path / "ignored" / "secret.txt").write_text("no\n")
    (tmp_path / "run.log").write_text("no\n")
    (tmp_path / "linked.py").symlink_to(tmp_path / "keep.py")
    taken = {path.as_posix() for path in snapshot.take(tmp_path).files}
    assert taken == {".amlignore", "keep.py"}
    assert uploaded_by_azure_ai_ml(tmp_path) == taken | {"linked.py"}


# --- the submit path, MLClient faked at its edge ----------------------------------------------


@dataclass
class FakeWorkspace:
    """What the MLClient calls saw, and what they answer."""

    tracking_uri: str = "http://127.0.0.1:1"
    compute_sizes: dict[str, str] = field(
        default_factory=lambda: {"cpu-cluster": "STANDARD_D2_V3", "gpu-cluster": "Standard_NC6"}
    )
    environments: set[tuple[str, str]] = field(default_factory=set)
    registered: list[tuple[str, str]] = field(default_factory=list)
    data: dict[str, str] = field(default_factory=lambda: {"moons": "3"})
    data_types: dict[str, str] = field(default_factory=dict)  # uri_folder unless set
    data_asked: list[tuple[str, str | None, str | None]] = field(default_factory=list)
    created: list[Any] = field(default_factory=list)
    job_name: str = "job-1"
    status: str = "Completed"
    stream_error: Exception | None = None
    streamed: list[str] = field(default_factory=list)

    @property
    def studio_url(self) -> str:
        return f"https://ml.azure.com/runs/{self.job_name}"


def not_found(what: str) -> ResourceNotFoundError:
    return ResourceNotFoundError(f"{what} not found")


class FakeMLClient:
    """Only the MLClient surface jobs.v2.submit uses, answering from a FakeWorkspace."""

    workspace_name = "ws-1"

    def __init__(self, state: FakeWorkspace) -> None:
        self.environments = SimpleNamespace(
            get=lambda name, version: self._environment(state, name, version),
            create_or_update=lambda env: self._register(state, env),
        )
        self.compute = SimpleNamespace(get=lambda name: self._compute(state, name))
        self.data = SimpleNamespace(
            get=lambda name, version=None, label=None: self._data(state, name, version, label)
        )
        self.jobs = SimpleNamespace(
            create_or_update=lambda job: self._create(state, job),
            stream=lambda name: self._stream(state, name),
            get=lambda name: SimpleNamespace(name=name, status=state.status),
        )
        self.workspaces = SimpleNamespace(
            get=lambda name: SimpleNamespace(name=name, mlflow_tracking_uri=state.tracking_uri)
        )

    @staticmethod
    def _environment(state: FakeWorkspace, name: str, version: str) -> Any:
        from azure.ai.ml.entities import Environment

        if (name, version) not in state.environments:
            raise not_found(f"environment {name}:{version}")
        return Environment(name=name, version=version, image=CPU_BASE_IMAGE)

    @staticmethod
    def _register(state: FakeWorkspace, environment: Any) -> Any:
        state.registered.append((environment.name, environment.version))
        return environment

    @staticmethod
    def _compute(state: FakeWorkspace, name: str) -> Any:
        if name not in state.compute_sizes:
            raise not_found(f"compute {name}")
        return SimpleNamespace(name=name, size=state.compute_sizes[name])

    @staticmethod
    def _data(state: FakeWorkspace, name: str, version: str | None, label: str | None) -> Any:
        state.data_asked.append((name, version, label))
        newest = state.data.get(name)
        if newest is None or (version is not None and int(version) > int(newest)):
            raise not_found(f"data {name}")
        data_type = state.data_types.get(name, "uri_folder")
        return SimpleNamespace(name=name, version=version or newest, type=data_type)

    @staticmethod
    def _create(state: FakeWorkspace, job: Any) -> Any:
        state.created.append(job)
        return SimpleNamespace(name=state.job_name, studio_url=state.studio_url, status="Queued")

    @staticmethod
    def _stream(state: FakeWorkspace, name: str) -> None:
        state.streamed.append(name)
        if state.stream_error is not None:
            raise state.stream_error


@pytest.fixture
def workspace(monkeypatch: pytest.MonkeyPatch, config: Path) -> FakeWorkspace:
    state = FakeWorkspace()
    monkeypatch.setattr(client, "ml_client", lambda ref, environ=None: FakeMLClient(state))
    return state


def submit(config: Path, *args: str) -> Result:
    return invoke("--workspace-config", str(config), *args)


def error_line(result: Result) -> str:
    """The last stderr line: the one-line error after what the submit reported on the way."""
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    line = result.stderr.strip().splitlines()[-1]
    assert line.startswith("error: "), result.stderr
    return line


@pytest.mark.usefixtures("no_network")
def test_a_new_lock_registers_its_environment_and_submits_the_job(
    workspace: FakeWorkspace, config: Path
) -> None:
    result = submit(config, "moons", "--dataset", "moons", "--register-as", "moons-rf")
    assert result.exit_code == 0, result.output
    assert [name for name, _ in workspace.registered] == ["tracking-demo-cpu"]
    assert "registered (its image is built on first use" in result.stderr
    (job,) = workspace.created
    name, version = workspace.registered[0]
    assert job.environment == f"azureml:{name}:{version}", "the registered version, by name"
    assert job.command.startswith("python -m tracking_demo train moons --data ${{inputs.data}}")
    assert job.inputs["data"].path == "azureml:moons:3", "latest, pinned to the version found"
    assert workspace.data_asked == [("moons", None, "latest")]
    assert Path(job.code).resolve() == ROOT
    assert json.loads(result.stdout) == {"job_id": "job-1", "portal_url": workspace.studio_url}
    assert f"submitted job-1: {workspace.studio_url}" in result.stderr
    assert workspace.streamed == [], "without --wait the submitter returns after submitting"


@pytest.mark.usefixtures("no_network")
def test_an_unchanged_lock_reuses_the_registered_environment(
    workspace: FakeWorkspace, config: Path, tmp_path: Path
) -> None:
    printed = dry_run_in(tmp_path, "moons")
    label = next(line for line in printed.header if line.startswith("environment:"))
    name, version = label.rsplit(" ", 1)[1].split(":")
    workspace.environments.add((name, version))
    result = submit(config, "moons", "--dataset", "moons:2")
    assert result.exit_code == 0, result.output
    assert workspace.registered == []
    assert f"environment {name}:{version} reused" in result.stderr
    assert workspace.created[0].environment == f"azureml:{name}:{version}"
    assert workspace.created[0].inputs["data"].path == "azureml:moons:2"
    assert workspace.data_asked == [("moons", "2", None)]


@pytest.mark.usefixtures("no_network")
def test_an_image_job_registers_nothing(workspace: FakeWorkspace, config: Path) -> None:
    result = submit(config, "moons", *IMAGE_ARGS)
    assert result.exit_code == 0, result.output
    assert workspace.registered == []
    assert workspace.created[0].environment.image == IMAGE
    assert "environment" not in result.stderr


@pytest.mark.usefixtures("no_network")
def test_a_gpu_job_on_a_cpu_cluster_is_refused_before_anything_is_created(
    workspace: FakeWorkspace, config: Path
) -> None:
    result = submit(config, "mnist-cnn", "--gpu", "--compute", "cpu-cluster", *IMAGE_ARGS)
    line = error_line(result)
    assert "--gpu but compute 'cpu-cluster' has the CPU VM size STANDARD_D2_V3" in line
    assert workspace.created == [] and workspace.registered == []


@pytest.mark.usefixtures("no_network")
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--dataset", "nowhere"], "data asset 'nowhere:latest' does not exist in the workspace"),
        (["--dataset", "moons:9"], "data asset 'moons:9' does not exist"),
        (["--compute", "missing"], "compute 'missing' does not exist in the workspace"),
    ],
)
def test_a_missing_data_asset_or_cluster_is_one_line(
    workspace: FakeWorkspace, config: Path, args: list[str], message: str
) -> None:
    assert message in error_line(submit(config, "moons", *IMAGE_ARGS, *args))
    assert workspace.created == []


@pytest.mark.usefixtures("no_network")
@pytest.mark.parametrize(
    ("data_type", "data_mode", "mode"),
    [
        ("uri_folder", "download", "download"),
        ("uri_folder", "mount", "ro_mount"),
        ("mltable", "download", "eval_download"),
        ("mltable", "mount", "eval_mount"),
    ],
)
def test_the_data_input_is_declared_with_the_assets_own_type(
    workspace: FakeWorkspace, config: Path, data_type: str, data_mode: str, mode: str
) -> None:
    """A folder is read as it is; an MLTable (several web files) is evaluated, so the files it
    lists land in the input folder the task reads as `--data DIR`."""
    workspace.data_types["moons"] = data_type
    result = submit(config, "moons", *IMAGE_ARGS, "--dataset", "moons", "--data-mode", data_mode)
    assert result.exit_code == 0, result.output
    (job,) = workspace.created
    data = job.inputs["data"]
    assert (data.type, data.mode, data.path) == (data_type, mode, "azureml:moons:3")
    assert f"data asset moons:3 ({data_type}, {mode})" in result.stderr
    job._to_rest_object()


@pytest.mark.usefixtures("no_network")
def test_a_uri_file_asset_is_one_file_a_housing_task_reads(
    workspace: FakeWorkspace, config: Path
) -> None:
    workspace.data, workspace.data_types = {"housing-csv": "1"}, {"housing-csv": "uri_file"}
    result = submit(config, "housing-baseline", *IMAGE_ARGS, "--dataset", "housing-csv")
    assert result.exit_code == 0, result.output
    (job,) = workspace.created
    data = job.inputs["data"]
    assert (data.type, data.mode, data.path) == ("uri_file", "download", "azureml:housing-csv:1")
    assert job.command.startswith("tracking-demo train housing-baseline --data ${{inputs.data}}")
    job._to_rest_object()


@pytest.mark.usefixtures("no_network")
def test_a_uri_file_asset_is_refused_for_a_task_that_reads_a_folder(
    workspace: FakeWorkspace, config: Path
) -> None:
    workspace.data_types["moons"] = "uri_file"
    line = error_line(submit(config, "moons", "--dataset", "moons"))
    assert line == (
        "error: data asset 'moons:3' is a uri_file (one file), but task 'moons' reads --data as "
        "a folder of files: register the folder, or the files' URLs as an mltable, with "
        "`python -m jobs.dataset`"
    )
    assert workspace.created == [] and workspace.registered == [], "refused before any write"


@pytest.mark.usefixtures("no_network")
def test_the_dry_run_says_the_submit_declares_the_assets_own_type(
    curated_cpu: DryRun, image_job: DryRun, tmp_path: Path
) -> None:
    (line,) = [line for line in curated_cpu.header if line.startswith("data: ")]
    assert line.startswith("data: declared uri_folder here (a dry-run does not look the asset up)")
    assert "mltable (eval_download / eval_mount" in line
    assert curated_cpu.job().inputs["data"].type == "uri_folder"
    without_data = dry_run_in(tmp_path, "moons", *IMAGE_ARGS)
    assert not any(line.startswith("data: ") for line in without_data.header)


@pytest.mark.usefixtures("no_network")
def test_a_failed_job_exits_1_with_its_status_and_studio_url(
    workspace: FakeWorkspace, config: Path
) -> None:
    workspace.status = "Failed"
    line = error_line(submit(config, "moons", *IMAGE_ARGS, "--wait"))
    assert line == f"error: job job-1 ended Failed: {workspace.studio_url}"
    assert workspace.streamed == ["job-1"]


@pytest.mark.usefixtures("no_network")
def test_a_stream_that_raises_for_a_failed_job_is_a_failed_job_not_a_traceback(
    workspace: FakeWorkspace, config: Path
) -> None:
    from azure.ai.ml.exceptions import ErrorCategory, ErrorTarget, JobException

    workspace.status = "Failed"
    workspace.stream_error = JobException(
        message='Exception : \n {"error": {"code": "UserError", "message": "exit code 1"}} ',
        no_personal_data_message="Exception raised on failed job.",
        target=ErrorTarget.JOB,
        error_category=ErrorCategory.SYSTEM_ERROR,
    )
    line = error_line(submit(config, "moons", *IMAGE_ARGS, "--wait"))
    assert line.startswith(f"error: job job-1 ended Failed: {workspace.studio_url} (")
    assert "exit code 1" in line


def registered_run(server: LocalServer, name: str) -> str:
    """A finished run with a version registered under `name`, as a finished job leaves it."""
    mlflow = MlflowClient(server.uri, registry_uri=server.uri)
    found = mlflow.get_experiment_by_name("fake-v2-jobs")
    experiment_id = found.experiment_id if found else mlflow.create_experiment("fake-v2-jobs")
    run = mlflow.create_run(experiment_id)
    mlflow.set_terminated(run.info.run_id)
    if not mlflow.search_registered_models(f"name = '{name}'"):
        mlflow.create_registered_model(name)
    mlflow.create_model_version(name, f"runs:/{run.info.run_id}/model", run_id=run.info.run_id)
    return run.info.run_id


@pytest.mark.integration
def test_completed_job_writes_the_model_it_registered(
    workspace: FakeWorkspace, config: Path, mlflow_server: LocalServer, tmp_path: Path
) -> None:
    workspace.tracking_uri = mlflow_server.uri
    workspace.job_name = registered_run(mlflow_server, "moons-v2-model")  # job name = run id
    info_file = tmp_path / "out" / "model.json"
    result = submit(
        config,
        "moons",
        *IMAGE_ARGS,
        "--register-as",
        "moons-v2-model",
        "--wait",
        "--model-info-out",
        str(info_file),
    )
    assert result.exit_code == 0, result.output
    expected = {
        "name": "moons-v2-model",
        "version": "1",
        "run_id": workspace.job_name,
        "job_id": workspace.job_name,
    }
    assert json.loads(info_file.read_text()) == expected
    printed = json.loads(result.stdout)
    assert printed["status"] == "Completed"
    assert printed["model"] == expected


@pytest.mark.integration
def test_a_completed_job_that_registered_nothing_fails(
    workspace: FakeWorkspace, config: Path, mlflow_server: LocalServer
) -> None:
    workspace.tracking_uri = mlflow_server.uri
    workspace.job_name = registered_run(mlflow_server, "another-v2-model")
    line = error_line(submit(config, "moons", *IMAGE_ARGS, "--register-as", "wanted", "--wait"))
    assert "registered no version of model 'wanted'" in line


# --- --local: the v2 command line with a v2 job's variables ----------------------------------


def test_local_v2_job_gets_the_v2_variables_and_v1_keeps_its_own() -> None:
    request = make_request("moons", (), JobTarget(dataset="moons"), None)
    run = local_job.JobRun("http://127.0.0.1:5000", "run-1", "7", "tracking-demo")
    v2 = local_job.job_environment(request, run, {"HOME": "/home/u", "SECRET": "x"}, "v2")
    assert {name: v2[name] for name in local_job.V2_JOB_VARIABLES} == {
        "MLFLOW_TRACKING_URI": "http://127.0.0.1:5000",
        "MLFLOW_RUN_ID": "run-1",
        "MLFLOW_EXPERIMENT_ID": "7",
        "MLFLOW_EXPERIMENT_NAME": "tracking-demo",
        "AZUREML_RUN_ID": "run-1",
    }
    assert "MLFLOW_TRACKING_TOKEN" not in v2 and "SECRET" not in v2
    assert v2["PYTHONPATH"] == "src"
    v1 = local_job.job_environment(request, run, {}, "v1")
    assert set(local_job.V1_JOB_VARIABLES) <= set(v1)
    assert "MLFLOW_EXPERIMENT_ID" not in v1


def test_local_v2_command_is_the_yaml_line_with_the_data_folder(tmp_path: Path) -> None:
    request = make_request("moons", ("--cv", "2"), JobTarget(dataset="moons"), "m")
    mount = tmp_path / "mnt dir" / "data"
    assert local_job.v2_command_line(request, mount) == (
        f"python -m tracking_demo train moons --data '{mount}' --cv 2 --register-as m"
    )
    without_dataset = make_request("moons", (), JobTarget(), None)
    assert local_job.v2_command_line(without_dataset, mount).endswith(
        f"--data '{mount}'"
    ), "--data DIR stands in for the data input with or without --dataset"


@pytest.mark.integration
@pytest.mark.slow
def test_local_v2_job_finishes_the_run_azure_would_create(
    azure_surface_server: LocalServer, moons_dir: Path
) -> None:
    result = invoke(
        "--local",
        "--data",
        str(moons_dir),
        "--tracking-uri",
        azure_surface_server.uri,
        "moons",
        "--experiment",
        "local-v2-job",
        "--",
        "--cv",
        "2",
    )
    assert result.exit_code == 0, result.output
    printed = json.loads(result.stdout)
    assert printed["sdk"] == "v2"
    assert printed["command"].startswith("python -m tracking_demo train moons --data ")
    assert "${{" not in printed["command"] and printed["command"].endswith("--cv 2")
    mlflow = MlflowClient(azure_surface_server.uri)
    run = mlflow.get_run(printed["run_id"])
    assert run.info.status == "FINISHED"
    assert run.data.tags["tracking_demo.job"] == "local", "the pre-created run, not a new one"
    assert mlflow.get_experiment(run.info.experiment_id).name == "local-v2-job"
    assert run.data.params["cv_folds"] == "2"

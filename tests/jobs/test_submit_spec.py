"""`python -m jobs.submit --sdk v1 --dry-run`: the job spec from the real azureml-core objects,
offline (v2's YAML: test_v2_submit.py)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from jobs_cli import spec_of

from jobs import environments, snapshot
from jobs.submit import main

SECRET = "s3cr3t-registry-password-never-printed"


@pytest.fixture(scope="module")
def root(pytestconfig: pytest.Config) -> Path:
    return pytestconfig.rootpath


def invoke(root: Path, *args: str, env: dict[str, str] | None = None) -> Result:
    """Submitter options first: everything after `--` belongs to the task."""
    return CliRunner().invoke(main, ["--source", str(root), "--sdk", "v1", *args], env=env or {})


def dry_run(root: Path, *args: str, env: dict[str, str] | None = None) -> dict[str, Any]:
    return spec_of(invoke(root, "--dry-run", *args, env=env))


def pip_packages(spec: dict[str, Any]) -> list[str]:
    dependencies = spec["environment"]["python"]["condaDependencies"]["dependencies"]
    return next(item["pip"] for item in dependencies if isinstance(item, dict))


@pytest.fixture(scope="module")
def curated_cpu(root: Path) -> dict[str, Any]:
    return dry_run(root, "moons", "--dataset", "moons:2", "--register-as", "moons-rf")


@pytest.fixture(scope="module")
def curated_gpu(root: Path) -> dict[str, Any]:
    return dry_run(root, "mnist-cnn", "--gpu", "--dataset", "mnist", "--", "--epochs", "3")


def test_curated_cpu_job_runs_the_train_command_from_the_snapshot(
    curated_cpu: dict[str, Any],
) -> None:
    assert curated_cpu["command"] == [
        "python",
        "-m",
        "tracking_demo",
        "train",
        "moons",
        "--data",
        "<dataset moons:2 as download>",
        "--register-as",
        "moons-rf",
    ]
    assert curated_cpu["environment_variables"]["PYTHONPATH"] == "src"
    assert curated_cpu["compute"] == "cpu-cluster"
    assert curated_cpu["dataset"] == {
        "name": "moons",
        "version": "2",
        "mode": "download",
        "input_name": "data",
    }
    assert curated_cpu["docker"]["use_docker"] is True


def test_curated_environment_is_the_lock_pinned_and_versioned_by_its_hash(
    curated_cpu: dict[str, Any],
) -> None:
    environment = curated_cpu["environment"]
    packages = pip_packages(curated_cpu)
    names = {line.split("==")[0] for line in packages}
    assert environment["name"] == "tracking-demo-cpu"
    assert {"mlflow", "azureml-mlflow", "tensorflow", "scikit-learn", "azureml-dataprep"} <= names
    assert all("==" in line for line in packages), "every package pinned to the lock"
    assert not any(name.startswith("nvidia-") for name in names)
    assert "python=3.11" in environment["python"]["condaDependencies"]["dependencies"]
    assert environment["python"]["condaDependencies"]["channels"] == ["conda-forge"]
    assert environment["python"]["userManagedDependencies"] is False
    base = environment["docker"]["baseImage"]
    assert base.startswith("mcr.microsoft.com/azureml/") and "cuda" not in base
    assert environment["version"] == environments.environment_version(packages, base)


def test_an_unchanged_lock_gives_the_same_environment_version(
    root: Path, curated_cpu: dict[str, Any]
) -> None:
    again = dry_run(root, "moons", "--dataset", "moons")
    assert again["environment"]["version"] == curated_cpu["environment"]["version"]
    packages = pip_packages(curated_cpu)
    base = curated_cpu["environment"]["docker"]["baseImage"]
    changed = [line.replace("mlflow==", "mlflow==0.") for line in packages]
    assert environments.environment_version(changed, base) != curated_cpu["environment"]["version"]


def test_curated_gpu_variant_adds_cuda_and_a_gpu_base(
    curated_gpu: dict[str, Any], curated_cpu: dict[str, Any]
) -> None:
    names = {line.split("==")[0] for line in pip_packages(curated_gpu)}
    assert curated_gpu["environment"]["name"] == "tracking-demo-gpu"
    assert {"nvidia-cudnn-cu12", "nvidia-cublas-cu12", "tensorflow"} <= names
    assert "cuda" in curated_gpu["environment"]["docker"]["baseImage"]
    assert curated_gpu["environment"]["version"] != curated_cpu["environment"]["version"]
    assert curated_gpu["compute"] == "gpu-cluster"
    assert curated_gpu["command"][-2:] == ["--epochs", "3"], "task options pass through"


def test_mount_mode_adds_fuse_support_to_the_curated_environment(root: Path) -> None:
    spec = dry_run(root, "moons", "--dataset", "moons", "--data-mode", "mount")
    assert spec["dataset"]["mode"] == "mount"
    assert any(line.startswith("fusepy") for line in pip_packages(spec))


def test_image_job_uses_the_custom_image_as_is(root: Path) -> None:
    spec = dry_run(
        root,
        "moons",
        "--environment",
        "image",
        "--image",
        "myacr.azurecr.io/tracking-demo:1234",
        "--dataset",
        "moons",
        "--compute",
        "train-cluster",
    )
    environment = spec["environment"]
    assert spec["command"][:4] == ["tracking-demo", "train", "moons", "--data"]
    assert "PYTHONPATH" not in spec["environment_variables"]
    assert environment["docker"]["baseImage"] == "myacr.azurecr.io/tracking-demo:1234"
    assert environment["python"]["userManagedDependencies"] is True
    assert environment["python"]["interpreterPath"] == "/opt/venv/bin/python"
    assert environment["docker"]["baseImageRegistry"]["password"] is None
    assert spec["compute"] == "train-cluster"


def test_private_registry_credentials_reach_the_spec_masked(root: Path) -> None:
    env = {
        environments.REGISTRY_USERNAME_VARIABLE: "puller",
        environments.REGISTRY_PASSWORD_VARIABLE: SECRET,
    }
    result = invoke(
        root,
        "mnist-cnn",
        "--gpu",
        "--environment",
        "image",
        "--image",
        "registry.example.com:5000/team/tracking-demo:gpu-7",
        "--dry-run",
        env=env,
    )
    assert result.exit_code == 0, result.output
    assert SECRET not in result.output
    spec = json.loads(result.stdout)
    assert spec["environment"]["name"] == "tracking-demo-image-gpu"
    assert spec["compute"] == "gpu-cluster"
    registry = spec["environment"]["docker"]["baseImageRegistry"]
    assert registry == {
        "address": "registry.example.com:5000",
        "username": "puller",
        "password": "***",
        "registryIdentity": None,
    }


def test_service_principal_secret_is_never_printed(root: Path, tmp_path: Path) -> None:
    config = tmp_path / "config.json"
    config.write_text(
        json.dumps({"subscription_id": "sub-1", "resource_group": "rg-1", "workspace_name": "ws-1"})
    )
    env = {"AZURE_CLIENT_ID": "app-1", "AZURE_TENANT_ID": "tenant-1", "AZURE_CLIENT_SECRET": SECRET}
    result = invoke(root, "moons", "--workspace-config", str(config), "--dry-run", env=env)
    assert result.exit_code == 0, result.output
    assert SECRET not in result.output
    spec = json.loads(result.stdout)
    assert spec["workspace"]["workspace_name"] == "ws-1"
    assert spec["auth"] == {
        "kind": "service-principal",
        "tenant": "tenant-1",
        "client_id": "app-1",
        "client_secret": "***",
    }


def test_snapshot_is_small_and_holds_the_package(root: Path, curated_cpu: dict[str, Any]) -> None:
    taken = snapshot.take(root)
    files = {str(path) for path in taken.files}
    assert "src/tracking_demo/cli/main.py" in files
    assert not any(
        path.startswith((".venv/", "tests/", ".tracking/", "data/", ".git/")) for path in files
    )
    assert curated_cpu["snapshot"]["files"] == len(taken.files)
    assert curated_cpu["snapshot"]["megabytes"] < 5
    assert curated_cpu["snapshot"]["ignore_file"].endswith(".amlignore")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["no-such-task"], "unknown task 'no-such-task' (expected one of: housing-baseline"),
        (["moons", "--environment", "image"], "--environment image needs --image"),
        (
            ["moons", "--environment", "image", "--image", "myacr.azurecr.io/tracking-demo"],
            "has no tag",
        ),
        (
            ["moons", "--environment", "image", "--image", "Bad Image:1"],
            "is not an image reference",
        ),
        (["moons", "--image", "myacr.azurecr.io/td:1"], "--image is only used with"),
        (["moons", "--", "--no-such-option"], "No such option '--no-such-option'"),
        (["moons", "--", "--data", "elsewhere"], "task option '--data' is set by the submitter"),
        (["moons", "--dataset", "moons:latest-ish"], "is not NAME or NAME:VERSION"),
        (["moons", "--local"], "--dry-run and --local"),
        (["moons", "--model-info-out", "m.json"], "--model-info-out needs --wait"),
        (
            ["moons", "--wait", "--model-info-out", "m.json"],
            "--model-info-out needs --register-as NAME",
        ),
    ],
)
def test_bad_input_is_one_line_before_any_network(
    root: Path, args: list[str], message: str
) -> None:
    result = invoke(root, "--dry-run", *args)
    assert result.exit_code == 1, result.output
    assert message in result.output
    assert "Traceback" not in result.output


def test_half_set_registry_credentials_are_refused(root: Path) -> None:
    env = {environments.REGISTRY_USERNAME_VARIABLE: "puller"}
    result = invoke(
        root, "moons", "--environment", "image", "--image", "a.io/b:1", "--dry-run", env=env
    )
    assert result.exit_code == 1
    assert environments.REGISTRY_PASSWORD_VARIABLE in result.output


def test_dry_run_as_a_user_runs_it(root: Path) -> None:
    finished = subprocess.run(
        [
            sys.executable,
            "-m",
            "jobs.submit",
            "moons",
            "--sdk",
            "v1",
            "--environment",
            "image",
            "--image",
            "myacr.azurecr.io/tracking-demo:1",
            "--dry-run",
        ],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert finished.returncode == 0, finished.stderr
    assert json.loads(finished.stdout)["environment_kind"] == "image"

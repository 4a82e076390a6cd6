"""`python -m jobs.compute`: the cluster spec from the real AmlCompute configuration, offline."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from jobs_cli import assert_module_help, assert_refused, module_spec, spec_of

from jobs import compute

SECRET = "fake-secret-value-7f3a"


pytestmark = pytest.mark.usefixtures("no_network")


def invoke(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(compute.main, list(args), env=env)


def dry_run(config: Path, *args: str, env: dict[str, str] | None = None) -> dict[str, Any]:
    return spec_of(
        invoke("--sdk", "v1", "--dry-run", "--workspace-config", str(config), *args, env=env)
    )


@pytest.mark.parametrize(
    "size",
    [
        "Standard_NC4as_T4_v3",
        "STANDARD_NC6",
        "standard_nd40rs_v2",
        "Standard_NV12s_v3",
        "NC24ads_A100_v4",
    ],
)
def test_n_series_sizes_are_gpu_sizes(size: str) -> None:
    assert compute.is_gpu_vm_size(size)


@pytest.mark.parametrize(
    "size",
    ["STANDARD_D2_V3", "Standard_E4s_v3", "standard_f8s_v2", "Standard_B2s", "Standard_NP10s"],
)
def test_other_sizes_are_cpu_sizes(size: str) -> None:
    assert not compute.is_gpu_vm_size(size)


def test_gpu_defaults_pick_a_gpu_size_and_name() -> None:
    request = compute.cluster_request(gpu=True)
    assert (request.name, request.vm_size) == ("gpu-cluster", "Standard_NC4as_T4_v3")
    assert compute.is_gpu_vm_size(request.vm_size)


def test_dry_run_cpu_defaults(config: Path) -> None:
    spec = dry_run(config)
    assert spec["action"] == "get-or-create"
    assert spec["name"] == "cpu-cluster"
    assert spec["gpu"] is False
    assert spec["gpu_vm_size"] is False
    assert spec["provisioning_configuration"] == {
        "type": "AmlComputeProvisioningConfiguration",
        "vm_size": "STANDARD_D2_V3",
        "vm_priority": "dedicated",
        "min_nodes": 0,
        "max_nodes": 4,
        "idle_seconds_before_scaledown": 1800,
    }
    assert spec["workspace"]["workspace_name"] == "ws-1"
    assert spec["workspace"]["config_file"] == str(config.resolve())
    assert spec["auth"] == {"kind": "interactive"}


def test_dry_run_gpu_low_priority(config: Path) -> None:
    spec = dry_run(
        config, "--gpu", "--low-priority", "--min-nodes", "1", "--max-nodes", "2",
        "--idle-seconds", "600",
    )  # fmt: skip
    assert spec["name"] == "gpu-cluster"
    assert spec["gpu"] is True
    settings = spec["provisioning_configuration"]
    assert settings["vm_size"] == "Standard_NC4as_T4_v3"
    assert settings["vm_priority"] == "lowpriority"
    assert (settings["min_nodes"], settings["max_nodes"]) == (1, 2)
    assert settings["idle_seconds_before_scaledown"] == 600


def test_dry_run_names_a_gpu_size_given_without_gpu(config: Path) -> None:
    spec = dry_run(config, "--vm-size", "Standard_NC6s_v3", "--name", "big")
    assert spec["gpu"] is False
    assert spec["gpu_vm_size"] is True
    assert any("Standard_NC6s_v3 is a GPU size" in note for note in spec["note"])


def test_dry_run_delete(config: Path) -> None:
    spec = dry_run(config, "--delete", "--name", "old-cluster")
    assert spec["action"] == "delete"
    assert spec["name"] == "old-cluster"
    assert "provisioning_configuration" not in spec


def test_dry_run_without_config_says_what_is_missing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = invoke("--sdk", "v1", "--dry-run")
    assert result.exit_code == 0, result.output
    spec = json.loads(result.stdout)
    assert "no workspace config.json" in spec["workspace"]["unresolved"]
    assert spec["provisioning_configuration"]["vm_size"] == "STANDARD_D2_V3"


def test_service_principal_secret_is_never_printed(config: Path) -> None:
    env = {
        "AZURE_CLIENT_ID": "client-1",
        "AZURE_TENANT_ID": "tenant-1",
        "AZURE_CLIENT_SECRET": SECRET,
    }
    result = invoke("--sdk", "v1", "--dry-run", "--workspace-config", str(config), env=env)
    assert result.exit_code == 0, result.output
    assert SECRET not in result.output
    auth = json.loads(result.stdout)["auth"]
    assert auth == {
        "kind": "service-principal",
        "tenant": "tenant-1",
        "client_id": "client-1",
        "client_secret": "***",
    }


def test_min_nodes_above_max_nodes_is_refused() -> None:
    assert_refused(
        invoke("--min-nodes", "5", "--max-nodes", "2"),
        "--min-nodes 5 is above --max-nodes 2",
        "expected min nodes <= max nodes",
    )


def test_negative_min_nodes_is_refused() -> None:
    assert_refused(invoke("--min-nodes", "-1"), "--min-nodes is -1", "expected 0 or more")


def test_negative_idle_seconds_is_refused() -> None:
    assert_refused(invoke("--idle-seconds", "-30"), "--idle-seconds is -30", "expected 0 or more")


def test_zero_max_nodes_is_refused() -> None:
    assert_refused(invoke("--max-nodes", "0"), "--max-nodes is 0", "expected 1 or more")


def test_gpu_with_a_cpu_size_is_refused() -> None:
    assert_refused(
        invoke("--gpu", "--vm-size", "standard_d4_v3"),
        "--gpu with --vm-size 'standard_d4_v3', a CPU size",
        "expected an N-series GPU size",
    )


def test_malformed_vm_size_is_refused() -> None:
    assert_refused(invoke("--vm-size", "D2 v3"), "--vm-size 'D2 v3'", "expected a name such as")


def test_invalid_cluster_name_is_refused() -> None:
    assert_refused(
        invoke("--name", "my_cluster"), "--name 'my_cluster'", "expected 2-24 letters, digits"
    )


@pytest.mark.slow
def test_module_help() -> None:
    assert_module_help(
        "compute",
        "Usage: python -m jobs.compute",
        *("--gpu", "--vm-size", "--min-nodes", "--idle-seconds", "--delete", "--dry-run"),
    )


@pytest.mark.slow
def test_module_dry_run_gpu(config: Path) -> None:
    spec = module_spec(
        "compute", "--sdk", "v1", "--dry-run", "--gpu", "--workspace-config", str(config)
    )
    assert spec["provisioning_configuration"]["vm_size"] == "Standard_NC4as_T4_v3"
    assert spec["workspace"]["resource_group"] == "rg-1"

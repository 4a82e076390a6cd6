"""`python -m jobs.workspace`: which workspace, which login, and the exact create call, offline."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from jobs_cli import assert_module_help, assert_refused, module_spec, spec_of

from jobs import workspace

SECRET = "fake-secret-value-91c2"
SUBSCRIPTION = "12345678-1234-1234-1234-123456789abc"
IDENTITY = {"subscription_id": "sub-1", "resource_group": "rg-1", "workspace_name": "ws-1"}


@pytest.fixture(autouse=True)
def offline(no_network: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """The workspace submitter holds its own reference to the login as well."""

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the workspace submitter tried to reach the network")

    monkeypatch.setattr(workspace, "authentication", refuse)


def invoke(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(workspace.main, list(args), env=env)


def create_args(tmp_path: Path, **changes: str) -> list[str]:
    options = {
        "--subscription": SUBSCRIPTION,
        "--resource-group": "rg-new",
        "--workspace-name": "tracking-ws",
        "--location": "westeurope",
        "--config-dir": str(tmp_path),
        **changes,
    }
    return ["--create", *(part for pair in options.items() for part in pair if pair[1])]


def test_dry_run_finds_config_like_from_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / ".azureml" / "config.json"
    config.parent.mkdir()
    config.write_text(json.dumps(IDENTITY))
    nested = tmp_path / "project" / "src"
    nested.mkdir(parents=True)
    monkeypatch.chdir(nested)
    spec = spec_of(invoke("--dry-run"))
    assert spec["action"] == "show"
    assert spec["workspace"] == {**IDENTITY, "config_file": str(config.resolve())}
    assert spec["auth"] == {"kind": "interactive"}


def test_dry_run_options_override_the_config(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text(json.dumps(IDENTITY))
    spec = spec_of(
        invoke(
            "--dry-run", "--workspace-config", str(tmp_path), "--subscription", "sub-2",
            "--tenant", "tenant-9", "--auth", "cli",
        )
    )  # fmt: skip
    assert spec["workspace"]["subscription_id"] == "sub-2"
    assert spec["workspace"]["workspace_name"] == "ws-1"
    assert spec["auth"] == {"kind": "cli", "tenant": "tenant-9"}


def test_dry_run_create_shows_the_exact_create_call(tmp_path: Path) -> None:
    spec = spec_of(
        invoke("--sdk", "v1", "--dry-run", *create_args(tmp_path), "--create-resource-group")
    )
    assert spec["action"] == "create"
    assert spec["create"] == {
        "name": "tracking-ws",
        "subscription_id": SUBSCRIPTION,
        "resource_group": "rg-new",
        "location": "westeurope",
        "create_resource_group": True,
        "exist_ok": True,
        "show_output": True,
    }
    assert spec["config_file"] == str(tmp_path.resolve() / ".azureml" / "config.json")
    assert "Workspace.create" in spec["note"]
    assert not (tmp_path / ".azureml").exists()


def test_secret_is_never_printed(tmp_path: Path) -> None:
    env = {
        "AZURE_CLIENT_ID": "client-1",
        "AZURE_TENANT_ID": "tenant-1",
        "AZURE_CLIENT_SECRET": SECRET,
    }
    (tmp_path / "config.json").write_text(json.dumps(IDENTITY))
    shown = invoke("--dry-run", "--workspace-config", str(tmp_path), env=env)
    created = invoke("--sdk", "v1", "--dry-run", *create_args(tmp_path / "new"), env=env)
    for result in (shown, created):
        assert SECRET not in result.output
        assert spec_of(result)["auth"] == {
            "kind": "service-principal",
            "tenant": "tenant-1",
            "client_id": "client-1",
            "client_secret": "***",
        }


def test_missing_config_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert_refused(invoke(), "no workspace config.json in", "--workspace-config PATH")


def test_config_without_workspace_name_is_refused(tmp_path: Path) -> None:
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"subscription_id": "s", "resource_group": "r"}))
    assert_refused(invoke("--workspace-config", str(config)), f"'{config}' lacks workspace_name")


def test_create_without_location_is_refused(tmp_path: Path) -> None:
    assert_refused(
        invoke(*create_args(tmp_path, **{"--location": ""})), "--create needs --location"
    )


def test_create_with_a_subscription_name_is_refused(tmp_path: Path) -> None:
    assert_refused(
        invoke(*create_args(tmp_path, **{"--subscription": "My Subscription"})),
        "--subscription 'My Subscription' is not a subscription id",
        "expected a GUID",
    )


def test_create_with_an_invalid_workspace_name_is_refused(tmp_path: Path) -> None:
    assert_refused(
        invoke(*create_args(tmp_path, **{"--workspace-name": "my workspace"})),
        "--workspace-name 'my workspace'",
        "expected 3-33 letters, digits, hyphens or underscores",
    )


def test_create_with_a_display_location_is_refused(tmp_path: Path) -> None:
    assert_refused(
        invoke(*create_args(tmp_path, **{"--location": "West Europe"})),
        "--location 'West Europe' is not an Azure region name",
        "e.g. westeurope",
    )


def test_create_with_workspace_config_is_refused(tmp_path: Path) -> None:
    assert_refused(
        invoke(*create_args(tmp_path), "--workspace-config", str(tmp_path)),
        "--create takes --subscription",
        "not --workspace-config",
    )


def test_create_over_another_workspace_config_is_refused(tmp_path: Path) -> None:
    existing = tmp_path / ".azureml" / "config.json"
    existing.parent.mkdir()
    existing.write_text(json.dumps(IDENTITY))
    assert_refused(
        invoke(*create_args(tmp_path)),
        f"'{existing}' already describes another workspace",
        "--config-dir",
    )


def test_location_without_create_is_refused(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text(json.dumps(IDENTITY))
    assert_refused(
        invoke("--workspace-config", str(tmp_path), "--location", "westeurope"),
        "--location given without --create",
    )


def test_service_principal_without_its_variables_is_refused(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text(json.dumps(IDENTITY))
    assert_refused(
        invoke("--dry-run", "--workspace-config", str(tmp_path), "--auth", "service-principal"),
        "--auth service-principal needs the environment variables AZURE_CLIENT_ID",
    )


@pytest.mark.slow
def test_module_help() -> None:
    assert_module_help(
        "workspace",
        "Usage: python -m jobs.workspace",
        *("--create", "--location", "--subscription", "--tenant", "--auth", "--dry-run"),
    )


@pytest.mark.slow
def test_module_dry_run_from_a_project_folder(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text(json.dumps(IDENTITY))
    spec = module_spec("workspace", "--dry-run", cwd=tmp_path)
    assert spec["workspace"]["config_file"] == str((tmp_path / "config.json").resolve())
    assert spec["workspace"]["workspace_name"] == "ws-1"

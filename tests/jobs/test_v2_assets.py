"""`jobs.compute`, `jobs.dataset`, `jobs.workspace` on SDK v2: the dry-run YAML is what
azure-ai-ml's own loaders read back (and turn into a REST body), and the real paths make the
MLClient calls a user relies on (reuse, create and wait, delete), against a fake MLClient."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import yaml
from azure.ai.ml import load_compute, load_data, load_workspace
from azure.ai.ml.entities._data.mltable_metadata import MLTableMetadata
from azure.core.exceptions import ResourceNotFoundError
from click.testing import CliRunner, Result
from jobs_cli import ROOT, assert_refused, spec_of

from jobs import compute, dataset, workspace
from jobs.v2 import client
from jobs.v2 import workspace as workspace_v2

pytestmark = pytest.mark.usefixtures("no_network")

SUBSCRIPTION = "12345678-1234-1234-1234-123456789abc"
URLS = ("https://example.org/data/train.csv", "https://example.org/data/test.csv")


class Poller:
    """What `begin_*` returns: the result only once waited for."""

    def __init__(self, value: Any, waits: list[str], what: str) -> None:
        self.value, self.waits, self.what = value, waits, what

    def result(self) -> Any:
        self.waits.append(self.what)
        return self.value


class FakeCompute:
    def __init__(self, existing: dict[str, Any]) -> None:
        self.existing = existing
        self.created: list[Any] = []
        self.deleted: list[str] = []
        self.waits: list[str] = []

    def get(self, name: str) -> Any:
        if name not in self.existing:
            raise ResourceNotFoundError(f"compute {name} not found")
        return self.existing[name]

    def begin_create_or_update(self, entity: Any) -> Poller:
        self.created.append(entity)
        made = SimpleNamespace(name=entity.name, provisioning_state="Succeeded")
        return Poller(made, self.waits, f"create {entity.name}")

    def begin_delete(self, name: str) -> Poller:
        self.deleted.append(name)
        return Poller(None, self.waits, f"delete {name}")


class FakeData:
    def __init__(self, versions: list[Any]) -> None:
        self.versions = versions
        self.created: list[tuple[Any, str | None]] = []

    def list(self, name: str) -> list[Any]:
        return [asset for asset in self.versions if asset.name == name]

    def create_or_update(self, entity: Any) -> Any:
        mltable = Path(entity.path, "MLTable")
        self.created.append((entity, mltable.read_text() if mltable.is_file() else None))
        return SimpleNamespace(name=entity.name, version="4", type=entity.type, tags=entity.tags)


class FakeWorkspaces:
    def __init__(self, existing: dict[str, Any]) -> None:
        self.existing = existing
        self.created: list[Any] = []
        self.waits: list[str] = []

    def get(self, name: str) -> Any:
        if name not in self.existing:
            raise ResourceNotFoundError(f"workspace {name} not found")
        return self.existing[name]

    def begin_create(self, entity: Any) -> Poller:
        self.created.append(entity)
        made = found_workspace(entity.name, entity.location, entity.resource_group)
        return Poller(made, self.waits, f"create {entity.name}")


def fake_client(**operations: Any) -> SimpleNamespace:
    return SimpleNamespace(workspace_name="ws-1", **operations)


def use_client(monkeypatch: pytest.MonkeyPatch, fake: Any) -> list[Any]:
    """`ml_client(ref)` returns FAKE; the refs it was asked for are recorded."""
    refs: list[Any] = []

    def ml_client(ref: Any, environ: Any = None) -> Any:
        refs.append(ref)
        return fake

    monkeypatch.setattr(client, "ml_client", ml_client)
    return refs


def found_workspace(name: str, location: str, group: str) -> SimpleNamespace:
    arm_id = (
        f"/subscriptions/{SUBSCRIPTION}/resourceGroups/{group}/providers/"
        f"Microsoft.MachineLearningServices/workspaces/{name}"
    )
    return SimpleNamespace(
        name=name,
        location=location,
        resource_group=group,
        id=arm_id,
        mlflow_tracking_uri=f"azureml://{location}.api.azureml.ms/mlflow/v1.0{arm_id}",
    )


def yaml_of(result: Result) -> dict[str, Any]:
    """The dry-run printed YAML only: comments, then a mapping with its schema first."""
    assert result.exit_code == 0, result.output
    data: dict[str, Any] = yaml.safe_load(result.stdout)
    assert next(iter(data)) == "$schema"
    return data


def emitted(runner_result: Result, path: Path) -> Path:
    """--emit wrote exactly what stdout shows."""
    assert runner_result.exit_code == 0, runner_result.output
    assert path.read_text() == runner_result.stdout
    return path


# jobs.compute


def invoke_compute(*args: str) -> Result:
    return CliRunner().invoke(compute.main, list(args))


def test_compute_dry_run_is_the_amlcompute_yaml(config: Path, tmp_path: Path) -> None:
    target = tmp_path / "out" / "cluster.yml"
    result = invoke_compute(
        "--dry-run", "--workspace-config", str(config), "--idle-seconds", "600",
        "--max-nodes", "2", "--emit", str(target),
    )  # fmt: skip
    assert f"# workspace: ws-1 (resource group rg-1, subscription sub-1, from {config})\n" in (
        result.stdout
    )
    assert "# auth: auto (DefaultAzureCredential: " in result.stdout, "the v2 login, by kind"
    assert yaml_of(result)["$schema"].endswith("amlCompute.schema.json")
    cluster = load_compute(emitted(result, target))
    assert (cluster.name, cluster.type, cluster.size) == (
        "cpu-cluster",
        "amlcompute",
        "STANDARD_D2_V3",
    )
    assert (cluster.min_instances, cluster.max_instances) == (0, 2)
    assert cluster.idle_time_before_scale_down == 600
    assert cluster.tier == "dedicated"
    cluster._to_rest_object()


def test_compute_dry_run_gpu_low_priority(config: Path, tmp_path: Path) -> None:
    target = tmp_path / "gpu.yml"
    result = invoke_compute(
        "--dry-run", "--gpu", "--low-priority", "--min-nodes", "1",
        "--workspace-config", str(config), "--emit", str(target),
    )  # fmt: skip
    cluster = load_compute(emitted(result, target))
    assert (cluster.name, cluster.size) == ("gpu-cluster", "Standard_NC4as_T4_v3")
    assert cluster.tier == "low_priority"
    assert cluster.min_instances == 1


def test_compute_dry_run_delete_names_the_cluster(config: Path) -> None:
    spec = spec_of(
        invoke_compute("--dry-run", "--delete", "--name", "old", "--workspace-config", str(config))
    )
    assert (spec["action"], spec["name"]) == ("delete", "old")
    assert "begin_delete" in spec["note"]


def test_compute_emit_refusals(tmp_path: Path) -> None:
    target = str(tmp_path / "c.yml")
    assert_refused(invoke_compute("--emit", target), "--emit FILE", "needs --dry-run and --sdk v2")
    assert_refused(
        invoke_compute("--dry-run", "--sdk", "v1", "--emit", target), "needs --dry-run and --sdk v2"
    )
    assert_refused(
        invoke_compute("--dry-run", "--delete", "--emit", target), "--delete has none to write"
    )
    assert not Path(target).exists()


def test_compute_gpu_with_cpu_size_is_refused_on_v2() -> None:
    assert_refused(
        invoke_compute("--sdk", "v2", "--dry-run", "--gpu", "--vm-size", "Standard_D4_v3"),
        "a CPU size",
    )


def test_compute_creates_a_missing_cluster_and_waits(
    config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    operations = FakeCompute({})
    refs = use_client(monkeypatch, fake_client(compute=operations))
    result = invoke_compute(
        "--workspace-config", str(config), "--low-priority", "--name", "train-1"
    )
    assert result.exit_code == 0, result.output
    assert refs[0].config == config
    (entity,) = operations.created
    assert (entity.name, entity.size, entity.tier) == ("train-1", "STANDARD_D2_V3", "low_priority")
    assert operations.waits == ["create train-1"]
    assert "creating cluster train-1" in result.stdout
    assert "cluster train-1: Succeeded" in result.stdout


def test_compute_reuses_an_existing_cluster(config: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    existing = SimpleNamespace(
        name="gpu-cluster",
        type="amlcompute",
        size="Standard_NC6s_v3",
        provisioning_state="Succeeded",
    )
    operations = FakeCompute({"gpu-cluster": existing})
    use_client(monkeypatch, fake_client(compute=operations))
    result = invoke_compute("--workspace-config", str(config), "--gpu")
    assert result.exit_code == 0, result.output
    assert operations.created == []
    assert "using existing cluster gpu-cluster (Standard_NC6s_v3)" in result.stdout


def test_compute_refuses_to_reuse_a_cpu_cluster_for_gpu(
    config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    existing = SimpleNamespace(name="gpu-cluster", type="amlcompute", size="STANDARD_D2_V3")
    use_client(monkeypatch, fake_client(compute=FakeCompute({"gpu-cluster": existing})))
    assert_refused(
        invoke_compute("--workspace-config", str(config), "--gpu"),
        "exists with the CPU size STANDARD_D2_V3",
    )


def test_compute_refuses_to_reuse_another_kind_of_compute(
    config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    existing = SimpleNamespace(name="cpu-cluster", type="computeinstance", size="STANDARD_D2_V3")
    use_client(monkeypatch, fake_client(compute=FakeCompute({"cpu-cluster": existing})))
    assert_refused(
        invoke_compute("--workspace-config", str(config)),
        "exists but is a computeinstance, not an AmlCompute cluster",
    )


def test_compute_delete_waits_until_it_is_gone(
    config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    existing = SimpleNamespace(name="old", type="amlcompute", size="STANDARD_D2_V3")
    operations = FakeCompute({"old": existing})
    use_client(monkeypatch, fake_client(compute=operations))
    result = invoke_compute("--workspace-config", str(config), "--delete", "--name", "old")
    assert result.exit_code == 0, result.output
    assert operations.deleted == ["old"]
    assert operations.waits == ["delete old"]
    assert "deleted cluster old" in result.stdout


def test_compute_delete_of_a_missing_cluster_is_one_line(
    config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_client(monkeypatch, fake_client(compute=FakeCompute({})))
    assert_refused(
        invoke_compute("--workspace-config", str(config), "--delete", "--name", "gone"),
        "no compute named 'gone' in workspace ws-1",
    )


# jobs.dataset


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    data = tmp_path / "moons"
    (data / "split").mkdir(parents=True)
    (data / "train.csv").write_text("x1,x2,y\n0.1,0.2,0\n")
    (data / "split" / "test.csv").write_text("x1,x2,y\n0.3,0.4,1\n")
    return data


def invoke_dataset(*args: str) -> Result:
    return CliRunner().invoke(dataset.main, list(args))


def test_dataset_dry_run_folder_is_a_uri_folder_relative_to_the_yaml(
    config: Path, folder: Path, tmp_path: Path
) -> None:
    target = tmp_path / "assets" / "moons.yml"
    result = invoke_dataset(
        "--dry-run", str(folder), "--name", "moons", "--workspace-config", str(config),
        "--emit", str(target),
    )  # fmt: skip
    content = dataset.folder_content(folder)
    assert yaml_of(result)["path"] == "../moons"
    asset = load_data(emitted(result, target))
    assert (asset.name, asset.type, asset.version) == ("moons", "uri_folder", None)
    assert Path(asset.path).resolve() == folder.resolve()
    assert asset.tags == {
        "content_sha256": content.sha256,
        "source": "folder",
        "files": "2",
        "bytes": str(content.total_bytes),
    }
    asset._to_rest_object()


def test_dataset_dry_run_one_url_is_a_uri_file(config: Path) -> None:
    result = invoke_dataset(
        "--dry-run", "--name", "web", "--from-url", URLS[0], "--workspace-config", str(config)
    )
    data = yaml_of(result)
    assert (data["type"], data["path"]) == ("uri_file", URLS[0])
    assert data["tags"]["urls_sha256"] == dataset.urls_sha256(URLS[:1])


def test_dataset_dry_run_several_urls_is_an_mltable_written_beside_the_yaml(
    config: Path, tmp_path: Path
) -> None:
    target = tmp_path / "mnist.yml"
    result = invoke_dataset(
        "--dry-run", "--name", "mnist", "--mnist-urls", "--workspace-config", str(config),
        "--emit", str(target),
    )  # fmt: skip
    urls = dataset.published_mnist_urls()
    asset = load_data(emitted(result, target))
    assert (asset.type, Path(asset.path)) == ("mltable", tmp_path / "mnist-mltable")
    assert asset.tags == {"urls_sha256": dataset.urls_sha256(urls), "source": "urls"}
    table = MLTableMetadata.load(tmp_path / "mnist-mltable" / "MLTable")
    assert table.referenced_uris() == list(urls)
    asset._to_rest_object()


def test_dataset_dry_run_without_emit_writes_nothing(
    config: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = invoke_dataset(
        "--dry-run", "--name", "web", "--from-url", URLS[0], "--from-url", URLS[1],
        "--workspace-config", str(config),
    )  # fmt: skip
    assert yaml_of(result)["path"] == "web-mltable"
    assert not (tmp_path / "web-mltable").exists()


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (("missing-folder",), ("does not exist", "expected a folder of files")),
        (("--from-url", "ftp://host/f.gz"), ("is not an http(s) URL",)),
        (("--target-path", "x"), ("--target-path is a --sdk v1 option",)),
    ],
)
def test_dataset_bad_input_is_refused_on_v2(
    args: tuple[str, ...], fragments: tuple[str, ...]
) -> None:
    assert_refused(invoke_dataset("--sdk", "v2", "--name", "m", *args), *fragments)


def test_dataset_empty_folder_and_both_sources_are_refused_on_v2(
    folder: Path, tmp_path: Path
) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    assert_refused(invoke_dataset("--sdk", "v2", str(empty), "--name", "m"), "is empty")
    assert_refused(
        invoke_dataset("--sdk", "v2", str(folder), "--name", "m", "--from-url", URLS[0]),
        "give a FOLDER or --from-url, not both",
    )


def version(number: str, tags: dict[str, str], age_days: int) -> SimpleNamespace:
    created = datetime(2026, 1, 1) - timedelta(days=age_days)
    return SimpleNamespace(
        name="moons", version=number, type="uri_folder", tags=tags,
        creation_context=SimpleNamespace(created_at=created),
    )  # fmt: skip


def test_dataset_unchanged_folder_keeps_the_latest_version(
    config: Path, folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sha = dataset.folder_content(folder).sha256
    operations = FakeData(
        [version("2", {"content_sha256": "old"}, 5), version("3", {"content_sha256": sha}, 1)]
    )
    use_client(monkeypatch, fake_client(data=operations))
    result = invoke_dataset(str(folder), "--name", "moons", "--workspace-config", str(config))
    assert result.exit_code == 0, result.output
    assert operations.created == []
    assert "data asset moons: unchanged, kept version 3" in result.stdout


def test_dataset_changed_folder_registers_a_new_version(
    config: Path, folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sha = dataset.folder_content(folder).sha256
    # The content matches an older version: reverting a folder still makes it the latest.
    operations = FakeData(
        [version("2", {"content_sha256": sha}, 5), version("3", {"content_sha256": "new"}, 1)]
    )
    use_client(monkeypatch, fake_client(data=operations))
    result = invoke_dataset(str(folder), "--name", "moons", "--workspace-config", str(config))
    assert result.exit_code == 0, result.output
    ((entity, _),) = operations.created
    assert (entity.name, entity.type, entity.version) == ("moons", "uri_folder", None)
    assert Path(entity.path) == folder.resolve()
    assert entity.tags["content_sha256"] == sha
    assert "data asset moons: registered version 4 (uri_folder)" in result.stdout


def test_dataset_new_urls_register_an_mltable_listing_them(
    config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    operations = FakeData([])
    use_client(monkeypatch, fake_client(data=operations))
    result = invoke_dataset(
        "--name", "web", "--from-url", URLS[0], "--from-url", URLS[1],
        "--workspace-config", str(config),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    ((entity, mltable),) = operations.created
    assert entity.type == "mltable"
    assert yaml.safe_load(mltable) == {"paths": [{"file": url} for url in URLS]}
    assert not Path(entity.path).exists()  # a scratch folder, gone after the upload


# jobs.workspace


def invoke_workspace(*args: str) -> Result:
    return CliRunner().invoke(workspace.main, list(args))


def create_args(tmp_path: Path) -> list[str]:
    return [
        "--create", "--subscription", SUBSCRIPTION, "--resource-group", "rg-new",
        "--workspace-name", "tracking-ws", "--location", "westeurope",
        "--config-dir", str(tmp_path),
    ]  # fmt: skip


def test_workspace_create_dry_run_is_the_workspace_yaml(tmp_path: Path) -> None:
    target = tmp_path / "ws.yml"
    result = invoke_workspace(
        "--dry-run", *create_args(tmp_path), "--display-name", "Tracking demo",
        "--description", "MLflow runs", "--emit", str(target),
    )  # fmt: skip
    assert f"# config file: {tmp_path.resolve() / '.azureml' / 'config.json'}" in result.stdout
    assert "az group create --name rg-new" in result.stdout
    ws = load_workspace(emitted(result, target))
    assert (ws.name, ws.location, ws.resource_group) == ("tracking-ws", "westeurope", "rg-new")
    assert (ws.display_name, ws.description) == ("Tracking demo", "MLflow runs")
    ws._to_rest_object()
    assert not (tmp_path / ".azureml").exists()


def test_workspace_show_dry_run_is_the_lookup_as_json(config: Path) -> None:
    spec = spec_of(invoke_workspace("--dry-run", "--workspace-config", str(config)))
    assert spec["action"] == "show"
    assert spec["workspace"]["workspace_name"] == "ws-1"
    assert "MLClient.workspaces.get" in spec["note"]


def test_workspace_v2_refusals(tmp_path: Path, config: Path) -> None:
    assert_refused(
        invoke_workspace(*create_args(tmp_path), "--create-resource-group"),
        "SDK v2 cannot create resource groups",
        "az group create",
    )
    assert_refused(
        invoke_workspace("--sdk", "v1", *create_args(tmp_path), "--display-name", "x"),
        "--display-name: --sdk v2 options",
    )
    assert_refused(
        invoke_workspace("--workspace-config", str(config), "--description", "x"),
        "--description given without --create",
    )
    assert_refused(
        invoke_workspace("--dry-run", "--workspace-config", str(config), "--emit", "ws.yml"),
        "showing has none",
    )


def use_group_client(monkeypatch: pytest.MonkeyPatch, operations: FakeWorkspaces) -> None:
    monkeypatch.setattr(
        workspace_v2,
        "resource_group_client",
        lambda request, ref: fake_client(workspaces=operations),
    )


def test_workspace_create_creates_waits_and_writes_the_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    operations = FakeWorkspaces({})
    use_group_client(monkeypatch, operations)
    result = invoke_workspace(*create_args(tmp_path), "--display-name", "Tracking demo")
    assert result.exit_code == 0, result.output
    (entity,) = operations.created
    assert (entity.name, entity.display_name) == ("tracking-ws", "Tracking demo")
    assert operations.waits == ["create tracking-ws"]
    written = json.loads((tmp_path / ".azureml" / "config.json").read_text())
    assert written == {
        "subscription_id": SUBSCRIPTION,
        "resource_group": "rg-new",
        "workspace_name": "tracking-ws",
    }
    assert "tracking URI:    azureml://westeurope.api.azureml.ms/mlflow" in result.stdout
    assert "studio:          https://ml.azure.com/?wsid=/subscriptions/" in result.stdout


def test_workspace_create_reuses_an_existing_workspace(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    operations = FakeWorkspaces(
        {"tracking-ws": found_workspace("tracking-ws", "westeurope", "rg-new")}
    )
    use_group_client(monkeypatch, operations)
    result = invoke_workspace(*create_args(tmp_path))
    assert result.exit_code == 0, result.output
    assert operations.created == []
    assert "using existing workspace tracking-ws" in result.stdout
    assert (tmp_path / ".azureml" / "config.json").is_file()


def test_workspace_show_reads_it_from_the_service(
    config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    found = found_workspace("ws-1", "northeurope", "rg-1")
    use_client(monkeypatch, fake_client(workspaces=FakeWorkspaces({"ws-1": found})))
    result = invoke_workspace("--workspace-config", str(config))
    assert result.exit_code == 0, result.output
    assert "location:        northeurope" in result.stdout
    assert f"studio:          https://ml.azure.com/?wsid={found.id}" in result.stdout


def test_help_and_bad_options_load_no_azure_sdk() -> None:
    """`import azure.ai.ml` costs seconds: help and refusals must not pay it."""
    script = (
        "import sys\n"
        "from jobs import compute, dataset, workspace\n"
        "for main, args in ((compute.main, ['--help']), (compute.main, ['--max-nodes', '0']),\n"
        "                   (dataset.main, ['--name', 'bad name']),\n"
        "                   (workspace.main, ['--create', '--location', 'West Europe'])):\n"
        "    try:\n"
        "        main(args, standalone_mode=False)\n"
        "    except BaseException:\n"
        "        pass\n"
        "print(sorted(m for m in sys.modules if m.startswith(('azure', 'jobs.v2'))))\n"
    )
    finished = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "src")])},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert finished.returncode == 0, finished.stderr
    assert finished.stdout.strip().splitlines()[-1] == "[]"

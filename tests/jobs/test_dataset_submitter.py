"""`python -m jobs.dataset`: content hash, upload path, tags and the version rule, offline."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from click.testing import CliRunner, Result
from jobs_cli import assert_module_help, assert_refused, module_spec, spec_of

from jobs import dataset

SECRET = "fake-secret-value-4d8e"
URLS = ("https://example.org/data/train.csv", "https://example.org/data/test.csv")


pytestmark = pytest.mark.usefixtures("no_network")


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """Two small files, one in a subfolder, as a data set folder has them."""
    data = tmp_path / "moons"
    (data / "split").mkdir(parents=True)
    (data / "train.csv").write_text("x1,x2,y\n0.1,0.2,0\n")
    (data / "split" / "test.csv").write_text("x1,x2,y\n0.3,0.4,1\n")
    return data


def invoke(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(dataset.main, list(args), env=env)


def dry_run(config: Path, *args: str, env: dict[str, str] | None = None) -> dict[str, Any]:
    return spec_of(
        invoke("--sdk", "v1", "--dry-run", "--workspace-config", str(config), *args, env=env)
    )


def test_hash_is_the_same_for_the_same_files_elsewhere(folder: Path, tmp_path: Path) -> None:
    copy = tmp_path / "copy"
    (copy / "split").mkdir(parents=True)
    for name in ("train.csv", "split/test.csv"):
        (copy / name).write_bytes((folder / name).read_bytes())
    assert dataset.folder_content(copy).sha256 == dataset.folder_content(folder).sha256


def test_hash_changes_with_a_byte(folder: Path) -> None:
    before = dataset.folder_content(folder).sha256
    (folder / "train.csv").write_text("x1,x2,y\n0.1,0.2,1\n")
    assert dataset.folder_content(folder).sha256 != before


def test_hash_changes_with_a_rename(folder: Path) -> None:
    before = dataset.folder_content(folder).sha256
    (folder / "train.csv").rename(folder / "train2.csv")
    assert dataset.folder_content(folder).sha256 != before


def test_dry_run_folder(config: Path, folder: Path) -> None:
    content = dataset.folder_content(folder)
    spec = dry_run(config, str(folder), "--name", "moons")
    assert spec["source"] == "folder"
    assert spec["folder"] == str(folder.resolve())
    assert (spec["files"], spec["bytes"]) == (2, content.total_bytes)
    assert spec["content_sha256"] == content.sha256
    assert spec["datastore"] == "workspace default"
    assert spec["target_path"] == "datasets/moons"
    assert spec["upload_path"] == f"datasets/moons/{content.sha256[:16]}"
    assert spec["tags"] == {
        "content_sha256": content.sha256,
        "source": "folder",
        "files": "2",
        "bytes": str(content.total_bytes),
    }
    assert spec["file_dataset"]["built_offline"] is False
    assert "upload_directory" in spec["file_dataset"]["reason"]
    assert spec["dataprep_available"] is True
    assert spec["workspace"]["workspace_name"] == "ws-1"


def test_dry_run_target_path(config: Path, folder: Path) -> None:
    spec = dry_run(config, str(folder), "--name", "moons", "--target-path", "/team/moons/")
    assert spec["target_path"] == "team/moons"
    assert spec["upload_path"].startswith("team/moons/")


def test_dry_run_urls_builds_the_file_dataset(config: Path) -> None:
    spec = dry_run(config, "--name", "web", "--from-url", URLS[0], "--from-url", URLS[1])
    assert spec["source"] == "urls"
    assert spec["urls"] == list(URLS)
    assert spec["file_dataset"] == {
        "built_offline": True,
        "class": "FileDataset",
        "paths": list(URLS),
    }
    assert spec["tags"] == {"urls_sha256": dataset.urls_sha256(URLS), "source": "urls"}
    assert "upload_path" not in spec


def test_dry_run_mnist_urls(config: Path) -> None:
    spec = dry_run(config, "--name", "mnist", "--mnist-urls")
    names = [url.rsplit("/", 1)[1] for url in spec["urls"]]
    assert names == [
        "train-images-idx3-ubyte.gz",
        "train-labels-idx1-ubyte.gz",
        "t10k-images-idx3-ubyte.gz",
        "t10k-labels-idx1-ubyte.gz",
    ]
    assert all(url.startswith("https://") for url in spec["urls"])


def test_secret_is_never_printed(config: Path, folder: Path) -> None:
    env = {
        "AZURE_CLIENT_ID": "client-1",
        "AZURE_TENANT_ID": "tenant-1",
        "AZURE_CLIENT_SECRET": SECRET,
    }
    result = invoke(
        "--sdk", "v1", "--dry-run", "--workspace-config", str(config), str(folder), "--name", "m",
        env=env,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert SECRET not in result.output
    assert json.loads(result.stdout)["auth"]["client_secret"] == "***"


def without_dataprep(monkeypatch: pytest.MonkeyPatch) -> None:
    """What an arm64 machine sees: the package cannot be imported."""
    monkeypatch.setitem(sys.modules, "azureml.dataprep", None)


def test_dry_run_without_dataprep_says_so(config: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    without_dataprep(monkeypatch)
    spec = dry_run(config, "--name", "web", "--from-url", URLS[0])
    assert spec["dataprep_available"] is False
    assert spec["file_dataset"]["built_offline"] is False
    assert "x86_64" in spec["file_dataset"]["reason"]


def test_without_dataprep_a_real_run_stops_in_one_line(
    config: Path, folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    without_dataprep(monkeypatch)
    assert_refused(
        invoke("--sdk", "v1", "--workspace-config", str(config), str(folder), "--name", "moons"),
        "needs azureml-dataprep, which is published only for x86_64",
        "run this step on an x86_64 machine or an Azure ML compute instance",
    )


class FakeDataset:
    def __init__(self, version: int, tags: dict[str, str] | None = None) -> None:
        self.version = version
        self.tags = tags or {}
        self.registered: dict[str, Any] = {}

    def register(self, workspace: Any, **kwargs: Any) -> FakeDataset:
        self.registered = kwargs
        return FakeDataset(self.version + 1, kwargs["tags"])


def test_unchanged_content_keeps_the_latest_version(
    folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    request = dataset.dataset_request("moons", folder)
    latest = FakeDataset(3, {"content_sha256": dataset.folder_content(folder).sha256})
    monkeypatch.setattr(dataset, "latest_version", lambda workspace, name: latest)
    kept, new = dataset.register(SimpleNamespace(), request)
    assert (kept.version, new) == (3, False)


def test_changed_content_uploads_under_its_hash_and_registers(
    folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from azureml.data.dataset_factory import FileDatasetFactory

    request = dataset.dataset_request("moons", folder)
    uploads: list[dict[str, Any]] = []
    uploaded = FakeDataset(3)

    def upload_directory(**kwargs: Any) -> FakeDataset:
        uploads.append(kwargs)
        return uploaded

    monkeypatch.setattr(dataset, "latest_version", lambda workspace, name: FakeDataset(3))
    monkeypatch.setattr(FileDatasetFactory, "upload_directory", staticmethod(upload_directory))
    workspace = SimpleNamespace(get_default_datastore=lambda: "default-store")
    registered, new = dataset.register(workspace, request)
    assert (registered.version, new) == (4, True)
    assert uploads == [
        {
            "src_dir": str(folder.resolve()),
            "target": ("default-store", request.upload_path),
            "overwrite": False,
            "show_progress": True,
        }
    ]
    assert uploaded.registered == {
        "name": "moons",
        "tags": request.tags,
        "create_new_version": True,
    }


def test_missing_folder_is_refused(config: Path, tmp_path: Path) -> None:
    missing = tmp_path / "nope"
    assert_refused(
        invoke("--workspace-config", str(config), str(missing), "--name", "m"),
        f"dataset folder '{missing.resolve()}' does not exist",
        "expected a folder of files",
    )


def test_file_instead_of_folder_is_refused(config: Path, folder: Path) -> None:
    file = folder / "train.csv"
    assert_refused(
        invoke("--workspace-config", str(config), str(file), "--name", "m"),
        f"dataset folder '{file.resolve()}' is a file",
        "expected a folder of files",
    )


def test_empty_folder_is_refused(config: Path, tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    (empty / "sub").mkdir(parents=True)
    assert_refused(
        invoke("--workspace-config", str(config), str(empty), "--name", "m"),
        f"dataset folder '{empty.resolve()}' is empty",
        "expected at least one file",
    )


def test_non_http_url_is_refused(config: Path) -> None:
    assert_refused(
        invoke("--workspace-config", str(config), "--name", "m", "--from-url", "ftp://host/f.gz"),
        "--from-url 'ftp://host/f.gz' is not an http(s) URL",
    )


def test_folder_and_urls_together_are_refused(config: Path, folder: Path) -> None:
    assert_refused(
        invoke(
            "--workspace-config", str(config), str(folder), "--name", "m", "--from-url", URLS[0]
        ),
        "give a FOLDER or --from-url, not both",
    )


def test_nothing_to_register_is_refused(config: Path) -> None:
    assert_refused(
        invoke("--workspace-config", str(config), "--name", "m"),
        "nothing to register (expected a FOLDER or --from-url URL)",
    )


def test_invalid_dataset_name_is_refused(config: Path, folder: Path) -> None:
    assert_refused(
        invoke("--workspace-config", str(config), str(folder), "--name", "my data"),
        "--name 'my data' is not a valid dataset name",
    )


def test_target_path_leaving_the_datastore_folder_is_refused(config: Path, folder: Path) -> None:
    assert_refused(
        invoke(
            "--sdk",
            "v1",
            "--workspace-config",
            str(config),
            str(folder),
            "--name",
            "m",
            "--target-path",
            "../x",
        ),  # fmt: skip
        "--target-path '../x' is not a datastore folder",
    )


@pytest.mark.slow
def test_module_help() -> None:
    assert_module_help(
        "dataset",
        "Usage: python -m jobs.dataset [OPTIONS] [FOLDER]",
        *("--name", "--target-path", "--from-url", "--dry-run"),
    )


@pytest.mark.slow
def test_module_dry_run_folder(config: Path, folder: Path) -> None:
    spec = module_spec(
        "dataset", "--sdk", "v1", "--dry-run", str(folder), "--name", "moons",
        "--workspace-config", str(config),
    )  # fmt: skip
    assert spec["content_sha256"] == dataset.folder_content(folder).sha256
    assert spec["files"] == 2

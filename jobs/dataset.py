"""Register training data as a FileDataset: `python -m jobs.dataset FOLDER --name NAME`.

A folder goes to the workspace's default datastore under a path that contains its content hash,
so an older version's files are never overwritten, and a new dataset version is registered only
when that hash differs from the latest version's tag. `--from-url` registers web files instead.
"""

from __future__ import annotations

import hashlib
import importlib
import os
import platform
import re
import sys
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import click

from jobs.common import (
    WorkspaceRef,
    check_emit,
    command,
    describe_auth,
    emit_option,
    load_workspace,
    print_spec,
    sdk_option,
    workspace_options,
    workspace_or_reason,
)
from tracking_demo.errors import ConfigError, DataError

CONTENT_TAG = "content_sha256"
URLS_TAG = "urls_sha256"
DATASET_NAME = re.compile(r"^[A-Za-z0-9][\w.-]{0,254}$")
HASH_IN_PATH = 16
CHUNK = 1 << 20


@dataclass(frozen=True)
class FolderContent:
    """What identifies a folder's content: its files' relative paths and bytes."""

    folder: Path
    files: int
    total_bytes: int
    sha256: str


@dataclass(frozen=True)
class DatasetRequest:
    """One dataset to register, from a folder or from URLs, checked before any login."""

    name: str
    target_path: str
    content: FolderContent | None = None
    urls: tuple[str, ...] = ()

    @property
    def source(self) -> str:
        return "folder" if self.content else "urls"

    @property
    def version_tag(self) -> tuple[str, str]:
        """The tag whose value changes exactly when a new version is due."""
        if self.content:
            return CONTENT_TAG, self.content.sha256
        return URLS_TAG, urls_sha256(self.urls)

    @property
    def upload_path(self) -> str | None:
        """Where the folder lands on the datastore: one subfolder per content."""
        if not self.content:
            return None
        return f"{self.target_path}/{self.content.sha256[:HASH_IN_PATH]}"

    @property
    def tags(self) -> dict[str, str]:
        key, value = self.version_tag
        tags = {key: value, "source": self.source}
        if self.content:
            tags["files"] = str(self.content.files)
            tags["bytes"] = str(self.content.total_bytes)
        return tags


def folder_files(folder: Path) -> list[Path]:
    """Every file an upload would send, in a stable order, after checking the folder is usable."""
    if not folder.exists():
        raise DataError(f"dataset folder '{folder}' does not exist (expected a folder of files)")
    if not folder.is_dir():
        raise DataError(f"dataset folder '{folder}' is a file (expected a folder of files)")
    files = sorted(
        (path for path in folder.rglob("*") if path.is_file()),
        key=lambda path: path.relative_to(folder).as_posix(),
    )
    if not files:
        raise DataError(f"dataset folder '{folder}' is empty (expected at least one file)")
    return files


def folder_content(folder: Path) -> FolderContent:
    """sha256 over each file's relative path, size and bytes: renames and edits both count."""
    folder = folder.resolve()
    files = folder_files(folder)
    digest = hashlib.sha256()
    total = 0
    for path in files:
        size = path.stat().st_size
        total += size
        digest.update(f"{path.relative_to(folder).as_posix()}\0{size}\0".encode())
        with path.open("rb") as stream:
            while chunk := stream.read(CHUNK):
                digest.update(chunk)
    return FolderContent(folder, len(files), total, digest.hexdigest())


def check_urls(urls: Iterable[str]) -> tuple[str, ...]:
    """Web files only: the SDK reads http(s) URLs; anything else belongs on a datastore."""
    checked = []
    for url in urls:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ConfigError(
                f"--from-url '{url}' is not an http(s) URL (expected e.g. "
                "https://host/path/file.gz)"
            )
        checked.append(url)
    return tuple(checked)


def urls_sha256(urls: Sequence[str]) -> str:
    """The URL list's identity: the same list registered again is the same version."""
    return hashlib.sha256("\n".join(urls).encode()).hexdigest()


def published_mnist_urls() -> tuple[str, ...]:
    """The four published MNIST files, from the mirror the training data module trusts first."""
    from tracking_demo.data import mnist

    return tuple(mnist.MIRRORS[0] + remote.name for remote in mnist.REMOTE_FILES)


def target_path_for(name: str, target_path: str | None) -> str:
    """A relative datastore path; `datasets/NAME` unless given."""
    path = (target_path if target_path is not None else f"datasets/{name}").strip().strip("/")
    if not path or "\\" in path or ".." in path.split("/"):
        raise ConfigError(
            f"--target-path '{target_path}' is not a datastore folder (expected a relative "
            "path such as datasets/moons, without '..')"
        )
    return path


def dataset_request(
    name: str,
    folder: Path | None = None,
    urls: Sequence[str] = (),
    target_path: str | None = None,
) -> DatasetRequest:
    """A folder or URLs (not both), a valid name, and content that is really there."""
    if not DATASET_NAME.match(name):
        raise ConfigError(
            f"--name '{name}' is not a valid dataset name (expected letters, digits, '-', '_' "
            "or '.', starting with a letter or digit)"
        )
    if folder is not None and urls:
        raise ConfigError("give a FOLDER or --from-url, not both")
    if folder is None and not urls:
        raise ConfigError("nothing to register (expected a FOLDER or --from-url URL)")
    if folder is not None:
        return DatasetRequest(name, target_path_for(name, target_path), folder_content(folder))
    return DatasetRequest(name, target_path_for(name, target_path), urls=check_urls(urls))


def dataprep_problem() -> str | None:
    """Why datasets cannot be built here, or None; azureml-dataprep exists only for x86_64."""
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", "pkg_resources is deprecated", UserWarning)
            importlib.import_module("azureml.dataprep")
    except ImportError:
        return (
            "registering a dataset needs azureml-dataprep, which is published only for x86_64 "
            f"(this machine is {platform.machine() or 'unknown'}): run this step on an x86_64 "
            "machine or an Azure ML compute instance"
        )
    return None


def url_dataset(urls: Sequence[str], validate: bool, telemetry: bool = True) -> Any:
    """The SDK's FileDataset over web files; `validate=False` reads none of them.

    Building it starts azureml-dataprep's native engine, which sends usage telemetry unless the
    process is in HBI (high business impact) mode; `telemetry=False` sets that mode, so a
    dry-run stays offline.
    """
    from azureml.core import Dataset

    if not telemetry:
        from azureml.dataprep.api import _rslex_executor

        _rslex_executor.HBI_MODE = True
    return Dataset.File.from_files(path=list(urls), validate=validate)


def offline_dataset(request: DatasetRequest, problem: str | None) -> dict[str, Any]:
    """Build the FileDataset offline where the SDK allows it, or say why it cannot be."""
    if problem:
        return {"built_offline": False, "reason": problem}
    if request.content:
        return {
            "built_offline": False,
            "reason": "Dataset.File.from_files takes http(s) URLs or datastore paths only; the "
            "datastore is the workspace's default, so Dataset.File.upload_directory builds this "
            "FileDataset on a real run",
        }
    dataset = url_dataset(request.urls, validate=False, telemetry=False)
    return {"built_offline": True, "class": type(dataset).__name__, "paths": list(request.urls)}


def dry_run_spec(
    request: DatasetRequest, ref: WorkspaceRef, environ: Mapping[str, str]
) -> dict[str, Any]:
    """What a real run would upload and register, computed here without a workspace."""
    problem = dataprep_problem()
    key, _ = request.version_tag
    spec: dict[str, Any] = {"name": request.name, "source": request.source}
    if request.content:
        spec.update(
            {
                "folder": str(request.content.folder),
                "files": request.content.files,
                "bytes": request.content.total_bytes,
                "content_sha256": request.content.sha256,
                "datastore": "workspace default",
                "target_path": request.target_path,
                "upload_path": request.upload_path,
            }
        )
    else:
        spec["urls"] = list(request.urls)
    spec.update(
        {
            "tags": request.tags,
            "new_version": f"only when the latest registered version's '{key}' tag differs",
            "file_dataset": offline_dataset(request, problem),
            "dataprep_available": problem is None,
            "workspace": workspace_or_reason(ref),
            "auth": describe_auth(ref, environ),
            "note": "Dataset.get_by_name(workspace, name) and register(...) need the workspace; "
            "the version check and registration happen on a real run.",
        }
    )
    return spec


def latest_version(workspace: Any, name: str) -> Any:
    """The latest registered version, or None when the name is new."""
    from azureml.core import Dataset
    from azureml.exceptions import UserErrorException

    try:
        return Dataset.get_by_name(workspace, name)
    except UserErrorException as error:
        if "Cannot find dataset" in str(error):
            return None
        raise


def register(workspace: Any, request: DatasetRequest) -> tuple[Any, bool]:
    """The dataset's version for this content, registered only when it is new; (dataset, new)."""
    from azureml.core import Dataset

    key, value = request.version_tag
    latest = latest_version(workspace, request.name)
    if latest is not None and (latest.tags or {}).get(key) == value:
        return latest, False
    if request.content:
        dataset = Dataset.File.upload_directory(
            src_dir=str(request.content.folder),
            target=(workspace.get_default_datastore(), request.upload_path),
            overwrite=False,
            show_progress=True,
        )
    else:
        dataset = url_dataset(request.urls, validate=True)
    registered = dataset.register(
        workspace, name=request.name, tags=request.tags, create_new_version=True
    )
    return registered, True


@command
@click.argument("folder", required=False, type=click.Path(path_type=Path))
@click.option("--name", required=True, help="Dataset name in the workspace.")
@click.option(
    "--target-path",
    help="Datastore folder for the upload [default: datasets/NAME]; each content gets a "
    "subfolder named after its hash.",
)
@click.option(
    "--from-url",
    "urls",
    multiple=True,
    metavar="URL",
    help="Register this web file instead of a folder (repeatable).",
)
@click.option("--mnist-urls", is_flag=True, help="Add the four published MNIST files as URLs.")
@click.option(
    "--dry-run",
    is_flag=True,
    help="Print the data asset YAML (v2; JSON with --sdk v1); no login, no network.",
)
@sdk_option
@emit_option
@workspace_options
def main(
    folder: Path | None,
    name: str,
    target_path: str | None,
    urls: tuple[str, ...],
    mnist_urls: bool,
    dry_run: bool,
    sdk: str,
    emit: Path | None,
    ref: WorkspaceRef,
    debug: bool,
) -> None:
    """Upload FOLDER and register it as data asset NAME (v2) or FileDataset NAME (v1).

    With --from-url, register web files instead. A new version is registered only when the
    content (or the URL list) changed.
    """
    check_emit(sdk, dry_run, emit)
    if sdk == "v2" and target_path is not None:
        raise ConfigError(
            "--target-path is a --sdk v1 option (v2 uploads a folder to the workspace blob "
            "store under LocalUpload/<content hash>/)"
        )
    all_urls = (*urls, *(published_mnist_urls() if mnist_urls else ()))
    request = dataset_request(name, folder, all_urls, target_path)
    if sdk == "v2":
        run_v2(request, dry_run, emit, ref)
        return
    if dry_run:
        print_spec(dry_run_spec(request, ref, os.environ))
        return
    problem = dataprep_problem()
    if problem:
        raise ConfigError(problem)
    dataset, new = register(load_workspace(ref), request)
    state = "registered" if new else "unchanged, kept"
    click.echo(f"dataset {request.name}: {state} version {dataset.version}")


def run_v2(request: DatasetRequest, dry_run: bool, emit: Path | None, ref: WorkspaceRef) -> None:
    """SDK v2: the YAML on a dry run, else the MLClient calls; azure-ai-ml loads only here."""
    from jobs.v2 import dataset as dataset_v2

    if dry_run:
        from jobs.v2 import dry_run as dry_run_v2
        from jobs.v2 import render

        header = dry_run_v2.workspace_header(ref, os.environ)
        render.emit(dataset_v2.data_yaml(request, header, emit), emit)
        return
    from jobs.v2 import client

    asset, new = dataset_v2.register(client.ml_client(ref), request)
    dataset_v2.report(request, asset, new)


if __name__ == "__main__":
    main(prog_name="python -m jobs.dataset", args=sys.argv[1:])

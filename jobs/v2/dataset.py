"""The training data as a v2 data asset: the YAML `az ml data create --file` accepts, and the
register-only-when-changed call of `MLClient.data`.

Versions are what v1 registers: Azure ML numbers them (1, 2, ...), and the content's sha256 (or
the URL list's) is a tag. A new version is created only when the latest version's tag differs,
so `--dataset NAME` (latest) and `--dataset NAME:3` in the submitters mean what they meant with
v1. Using the hash itself as the version would make reverting a folder "reuse" an old version
that `@latest` no longer points to, and the job spec reads integer versions only.

Which asset type, from what:
- a folder: `uri_folder`; `create_or_update` uploads it to the workspace's blob store under
  `LocalUpload/<hash>/`, skipping files already there. Jobs mount or download it as a folder.
- one web file: `uri_file` over the URL, which Azure ML reads as it is.
- several web files: `mltable`, a small folder whose `MLTable` file lists each URL under
  `paths: - file: URL`. A `uri_folder` over their common https prefix is refused by nothing
  offline but fails in the job, since a plain web server cannot list a folder; several
  `uri_file` assets would need one job input each. An MLTable is the one v2 asset that names
  several web files, and a job input of type `mltable` in mode `eval_download` (or
  `eval_mount`) places the files it lists in the input folder.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import click
import yaml

from jobs.dataset import DatasetRequest
from jobs.v2 import render

MLTABLE_FILE = "MLTable"


def asset_type(request: DatasetRequest) -> str:
    if request.content:
        return "uri_folder"
    return "uri_file" if len(request.urls) == 1 else "mltable"


def mltable_folder_name(request: DatasetRequest) -> str:
    """Where the MLTable of several URLs is written, next to the YAML that points at it."""
    return f"{request.name}-mltable"


def mltable_content(urls: Sequence[str]) -> dict[str, Any]:
    """One `file:` path per web file, in the given order, checked by the SDK's MLTable schema
    (its `_to_dict` loses the paths, so the plain dict is what gets written)."""
    from azure.ai.ml.entities._data.mltable_metadata import MLTableMetadata

    content: dict[str, Any] = {"paths": [{"file": url} for url in urls]}
    MLTableMetadata._load(content, None)
    return content


def write_mltable(urls: Sequence[str], folder: Path) -> Path:
    """FOLDER/MLTable, the file an `mltable` asset's path points to; the folder is created."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / MLTABLE_FILE
    path.write_text(yaml.safe_dump(mltable_content(urls), sort_keys=False))
    return path


def asset_path(request: DatasetRequest, base: Path) -> str:
    """The folder, the one URL, or the MLTable folder under BASE."""
    if request.content:
        return str(request.content.folder)
    if len(request.urls) == 1:
        return request.urls[0]
    return str(base / mltable_folder_name(request))


def description(request: DatasetRequest) -> str:
    if request.content:
        return (
            f"folder of {request.content.files} file(s), {request.content.total_bytes} bytes, "
            f"content sha256 {request.content.sha256}"
        )
    return f"{len(request.urls)} web file(s)"


def data_asset(request: DatasetRequest, base: Path) -> Any:
    """The entity `create_or_update` sends; no version, so Azure ML gives the next number."""
    from azure.ai.ml.entities import Data

    return Data(
        name=request.name,
        path=asset_path(request, base),
        type=asset_type(request),
        description=description(request),
        tags=request.tags,
    )


def dry_run_notes(request: DatasetRequest) -> list[str]:
    key, _ = request.version_tag
    notes = [
        f"a real run registers a new version only when the latest version's '{key}' tag "
        "differs; `az ml data create --file` adds a version every time"
    ]
    if request.content:
        notes.append(
            f"folder: {request.content.folder}, uploaded to the workspace blob store under "
            "LocalUpload/<hash>/"
        )
    if asset_type(request) == "mltable":
        notes.append(
            f"the MLTable listing the URLs is the folder {mltable_folder_name(request)}/ next to "
            "this file (--emit FILE writes it); jobs read it as an mltable input in mode "
            "eval_download"
        )
    return notes


def data_yaml(request: DatasetRequest, header: Iterable[str], emit: Path | None) -> str:
    """The data asset YAML, `path:` relative to the emitted file's folder (or the cwd); with
    several URLs and `--emit`, the MLTable folder is written beside it."""
    base = render.emit_base(emit)
    entity = data_asset(request, base)
    render.check_rest(entity, f"data asset '{request.name}'")
    if emit is not None and asset_type(request) == "mltable":
        write_mltable(request.urls, base / mltable_folder_name(request))
    data = render.entity_dict(entity)
    render.relative_paths(data, base)
    notes = [*header, *(f"note: {note}" for note in dry_run_notes(request))]
    return render.to_yaml(data, "data", notes)


def latest_version(client: Any, name: str) -> Any:
    """The newest version (what `NAME@latest` resolves to), or None when the name is new."""
    from azure.core.exceptions import ResourceNotFoundError

    try:
        versions = list(client.data.list(name=name))
    except ResourceNotFoundError:
        return None
    if not versions:
        return None
    return max(versions, key=lambda asset: asset.creation_context.created_at)


def register(client: Any, request: DatasetRequest) -> tuple[Any, bool]:
    """The asset's version for this content, created only when it is new; (asset, new)."""
    key, value = request.version_tag
    latest = latest_version(client, request.name)
    if latest is not None and (latest.tags or {}).get(key) == value:
        return latest, False
    if asset_type(request) != "mltable":
        return client.data.create_or_update(data_asset(request, Path.cwd())), True
    with tempfile.TemporaryDirectory() as scratch:
        base = Path(scratch)
        write_mltable(request.urls, base / mltable_folder_name(request))
        return client.data.create_or_update(data_asset(request, base)), True


def report(request: DatasetRequest, asset: Any, new: bool) -> None:
    state = "registered" if new else "unchanged, kept"
    click.echo(f"data asset {request.name}: {state} version {asset.version} ({asset.type})")

"""CLI v2 YAML from azure-ai-ml entities: what `az ml job create --file` (or `az ml compute
create`, `az ml data create`) accepts, printed by `--dry-run` and written by `--emit FILE`.

The entities serialize offline through underscore APIs (`_to_dict`, `_to_rest_object`), as
azure-ai-ml's own unit tests use them; the lock pins the minor version and
tests/jobs/test_v2_render.py keeps a test on each.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import click
import yaml

from tracking_demo.errors import ConfigError

SCHEMAS = {
    "command": "https://azuremlschemas.azureedge.net/latest/commandJob.schema.json",
    "sweep": "https://azuremlschemas.azureedge.net/latest/sweepJob.schema.json",
    "automl": "https://azuremlschemas.azureedge.net/latest/autoMLJob.schema.json",
    "amlcompute": "https://azuremlschemas.azureedge.net/latest/amlCompute.schema.json",
    "data": "https://azuremlschemas.azureedge.net/latest/data.schema.json",
    "workspace": "https://azuremlschemas.azureedge.net/latest/workspace.schema.json",
}


def plain(value: Any) -> Any:
    """OrderedDicts, tuples and paths as the plain types YAML writes without tags."""
    if isinstance(value, Mapping):
        return {str(key): plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [plain(item) for item in value]
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    return value


def entity_dict(entity: Any) -> dict[str, Any]:
    """The entity as its YAML schema writes it, with empty sections left out."""
    data = plain(entity._to_dict())
    return {key: value for key, value in data.items() if value not in ({}, [], None)}


def relative_paths(
    data: dict[str, Any], base: Path, keys: Sequence[str] = ("code", "path")
) -> None:
    """Local paths (`code`, a data asset's `path`) relative to the YAML's folder, as `az ml`
    resolves them; `azureml:` and web references stay as they are."""
    for key in keys:
        value = data.get(key)
        if isinstance(value, str) and "://" not in value and not value.startswith("azureml:"):
            data[key] = os.path.relpath(Path(value).resolve(), base.resolve())


def to_yaml(data: Mapping[str, Any], kind: str, header: Sequence[str] = ()) -> str:
    """`$schema` first (editors validate against it), then the fields; `header` as comments."""
    comments = "".join(f"# {line}\n" for line in header)
    body = yaml.safe_dump(
        {"$schema": SCHEMAS[kind], **data}, sort_keys=False, default_flow_style=False, width=100
    )
    return comments + body


def check_rest(entity: Any, what: str) -> None:
    """The REST body builds: it catches what the YAML schema does not (e.g. `${{inputs.x}}` with
    no input x), still offline."""
    try:
        entity._to_rest_object()
    except Exception as error:  # the SDK raises its own validation types
        first = (str(error).strip() or type(error).__name__).splitlines()[0]
        raise ConfigError(f"{what} would be refused by Azure ML: {first}") from error


def emit(text: str, path: Path | None) -> None:
    """The YAML on stdout, nothing else there; with `--emit FILE` also written to FILE."""
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        click.echo(f"wrote {path}", err=True)
    click.echo(text, nl=False)


def emit_base(path: Path | None) -> Path:
    """Where relative paths in the YAML start: the emitted file's folder, else the cwd."""
    return (path.parent if path is not None else Path.cwd()).resolve()

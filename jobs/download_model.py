"""Fetch a registered model: `python -m jobs.download_model NAME:VERSION --out DIR`.

The workspace's registry speaks MLflow, so this is `tracking-demo models download` pointed at
the workspace's tracking URI: one code path (`tracking_demo.registry.download`), whichever
registry holds the model.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click
import mlflow

from jobs.common import (
    WorkspaceRef,
    command,
    describe_auth,
    print_spec,
    resolve_workspace,
    sdk_option,
    workspace_options,
    workspace_tracking_uri,
)
from tracking_demo import registry
from tracking_demo.errors import ConfigError


@command
@click.argument("model_ref", metavar="REF")
@click.option(
    "--out",
    type=click.Path(path_type=Path, file_okay=False),
    required=True,
    help="Folder to write the MLflow model folder into.",
)
@click.option(
    "--tracking-uri",
    help="Use this MLflow server's registry instead of the workspace's (e.g. a local server).",
)
@click.option("--dry-run", is_flag=True, help="Print what would be fetched; no network.")
@sdk_option
@workspace_options
def main(
    model_ref: str,
    out: Path,
    tracking_uri: str | None,
    dry_run: bool,
    sdk: str,
    ref: WorkspaceRef,
    debug: bool,
) -> None:
    """Download REF (NAME:VERSION, NAME@ALIAS or models:/...) as an MLflow model folder."""
    model_uri = registry.model_uri_from_ref(model_ref)
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--out '{out}' exists and is not a folder")
    if dry_run:
        spec: dict[str, object] = {
            "model": model_ref,
            "model_uri": model_uri,
            "out": str(out.resolve()),
        }
        if tracking_uri:
            spec["tracking_uri"] = tracking_uri
        else:
            spec["workspace"] = resolve_workspace(ref)
            spec["auth"] = describe_auth(ref, os.environ)
            spec["tracking_uri"] = "the workspace's MLflow tracking URI (read from the workspace)"
        print_spec(spec)
        return
    uri = tracking_uri or workspace_tracking_uri(sdk, ref)
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    path = registry.download(model_ref, out)
    click.echo(f"downloaded {model_ref} to {path} (load it with mlflow.pyfunc.load_model)")


if __name__ == "__main__":
    main(prog_name="python -m jobs.download_model", args=sys.argv[1:])

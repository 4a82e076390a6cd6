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
    command,
    describe_auth,
    load_workspace,
    print_spec,
    resolve_workspace,
    workspace_options,
    workspace_ref,
)
from tracking_demo import registry
from tracking_demo.errors import ConfigError


@command
@click.argument("ref")
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
@workspace_options
def main(
    ref: str,
    out: Path,
    tracking_uri: str | None,
    dry_run: bool,
    workspace_config: Path | None,
    subscription: str | None,
    resource_group: str | None,
    workspace_name: str | None,
    tenant: str | None,
    auth: str,
    debug: bool,
) -> None:
    """Download REF (NAME:VERSION, NAME@ALIAS or models:/...) as an MLflow model folder."""
    model_uri = registry.model_uri_from_ref(ref)
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--out '{out}' exists and is not a folder")
    ws_ref = workspace_ref(
        workspace_config, subscription, resource_group, workspace_name, tenant, auth
    )
    if dry_run:
        spec: dict[str, object] = {"model": ref, "model_uri": model_uri, "out": str(out.resolve())}
        if tracking_uri:
            spec["tracking_uri"] = tracking_uri
        else:
            spec["workspace"] = resolve_workspace(ws_ref)
            spec["auth"] = describe_auth(ws_ref, os.environ)
            spec["tracking_uri"] = "the workspace's MLflow tracking URI (read from the workspace)"
        print_spec(spec)
        return
    uri = tracking_uri or load_workspace(ws_ref).get_mlflow_tracking_uri()
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    path = registry.download(ref, out)
    click.echo(f"downloaded {ref} to {path} (load it with mlflow.pyfunc.load_model)")


if __name__ == "__main__":
    main(prog_name="python -m jobs.download_model", args=sys.argv[1:])

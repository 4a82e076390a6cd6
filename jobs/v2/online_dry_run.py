"""`jobs.deploy endpoint --dry-run`: the endpoint's and the deployment's YAML, two documents on
stdout; with `--emit DIR`, endpoint.yml, deployment.yml and the staged upload folder, with
relative paths, so `az ml online-endpoint create` / `az ml online-deployment create` run on them.

A version picked by alias or best-by is resolved at deploy time, in the workspace's MLflow
registry: the YAML cannot name it, so it says VERSION (which no workspace has: `az ml` fails on
it rather than deploying a wrong version) and a header line says what to put there.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from jobs import environments, snapshot
from jobs.common import WorkspaceRef
from jobs.deploy import names
from jobs.serving_stage import ENTRY_SCRIPT, UPLOAD_NAME, stage_source
from jobs.v2 import dry_run
from jobs.v2 import online_endpoint as online
from tracking_demo.errors import ConfigError

ENDPOINT_FILE = "endpoint.yml"
DEPLOYMENT_FILE = "deployment.yml"
CHECK_LOCATION = "westeurope"  # the REST body needs a region; any one checks the shape


@dataclass(frozen=True)
class Documents:
    endpoint: str
    deployment: str

    def text(self) -> str:
        return f"{self.endpoint}---\n{self.deployment}"


def build_environment(
    request: online.EndpointRequest, root: Path, environ: Mapping[str, str]
) -> Any:
    """The serving environment (the lock, named and hash-versioned) or the custom image."""
    from jobs.v2 import environment

    if request.environment == "image":
        return environment.image_environment(request.image, environ)
    return environment.serving_environment(root)


def version_of(request: online.EndpointRequest) -> str:
    return request.target.version or online.VERSION_PLACEHOLDER


def deployment_name(request: online.EndpointRequest, version: str) -> str:
    return request.deployment_name or names.deployment_name(request.endpoint_name, version)


def check_rest(endpoint: Any, deployment: Any) -> None:
    """The REST bodies build, offline: what the YAML schema does not check (names, say)."""
    try:
        endpoint._to_rest_online_endpoint(CHECK_LOCATION)
        deployment._to_rest_object(CHECK_LOCATION)
    except Exception as error:  # the SDK raises its own validation types
        first = (str(error).strip() or type(error).__name__).splitlines()[0]
        raise ConfigError(f"the deployment would be refused by Azure ML: {first}") from error


def stage_emitted_code(taken: snapshot.Snapshot, folder: Path) -> Path:
    """DIR/tracking-demo: replaced when an earlier --emit wrote it, else never overwritten."""
    code = folder / UPLOAD_NAME
    if code.exists():
        if not (code / ENTRY_SCRIPT).is_file():
            raise ConfigError(
                f"--emit: '{code}' exists and is not an upload folder this command wrote: "
                "choose another DIR"
            )
        shutil.rmtree(code)
    return stage_source(taken, folder)


def model_line(request: online.EndpointRequest) -> str:
    target = request.target
    if target.version:
        return (
            f"model: azureml:{target.name}:{target.version}, mounted at AZUREML_MODEL_DIR "
            f"(azureml-models/{target.name}/{target.version}), where score.init() loads it"
        )
    how = (
        f"the version with the best '{target.best_by}' ({target.mode})"
        if target.best_by
        else f"the version under alias '{target.alias}'"
    )
    return (
        f"model: {target.ref}{' --best-by ' + target.best_by if target.best_by else ''} is "
        f"resolved at deploy time ({how}, in the workspace's MLflow registry); this file says "
        f"{online.VERSION_PLACEHOLDER}: put that version number in `model` and `name` before "
        "`az ml online-deployment create`, or deploy without --dry-run"
    )


def environment_line(request: online.EndpointRequest, environment: Any) -> str:
    if request.environment == "image":
        return (
            "environment: the custom image as it is; it must contain "
            f"{environments.SERVING_PACKAGE} (Azure ML's inference server) and the packages "
            "models load"
        )
    return (
        "environment: serving/requirements.lock inline and anonymous (Azure ML content-hashes "
        "it: an unchanged lock reuses the built image); the SDK path registers it as "
        f"{environment.name}:{environment.version} (the lock's hash) and reuses it"
    )


def endpoint_header(
    request: online.EndpointRequest, ref: WorkspaceRef, environ: Mapping[str, str]
) -> list[str]:
    name = request.endpoint_name
    return [
        f"az ml online-endpoint create --file {ENDPOINT_FILE}  (`python -m jobs.deploy "
        "endpoint` without --dry-run creates it when missing and reuses it otherwise)",
        *dry_run.workspace_header(ref, environ),
        f"auth_mode key: `python -m jobs.deploy keys {name} --show-keys` or `az ml "
        f"online-endpoint get-credentials --name {name}` prints the keys",
    ]


def deployment_header(
    request: online.EndpointRequest, root: Path, environment: Any, name: str
) -> list[str]:
    keep = "keeps" if request.keep_previous else "deletes"
    return [
        f"az ml online-deployment create --file {DEPLOYMENT_FILE} --all-traffic  (the SDK path "
        f"waits for it, then moves 100% of traffic to '{name}' and {keep} the deployment that "
        "served before; a failed one prints its logs and leaves traffic as it was)",
        model_line(request),
        environment_line(request, environment),
        dry_run.snapshot_line(root),
        f"code: the snapshot plus {ENTRY_SCRIPT}, staged as '{UPLOAD_NAME}' beside this file "
        "(`--emit DIR` writes it)",
        f"instance_type: {request.instance_type} (Azure ML's managed SKU list: "
        f"{request.instance_type in online.MANAGED_INSTANCE_TYPES}), instance_count: "
        f"{request.instance_count}; probes wait {online.LIVENESS_DELAY_S} s (liveness) and "
        f"{online.READINESS_DELAY_S} s (readiness) for TensorFlow and the model to load",
    ]


def documents(
    request: online.EndpointRequest,
    ref: WorkspaceRef,
    root: Path,
    environ: Mapping[str, str],
    emit_dir: Path | None,
) -> Documents:
    """Both YAML documents; with `emit_dir`, the files and the staged code written there."""
    taken = snapshot.take(root)
    environment = build_environment(request, root, environ)
    version = version_of(request)
    name = deployment_name(request, version)
    endpoint = online.endpoint_entity(request)
    inline = online.inline_environment(environment)
    with tempfile.TemporaryDirectory(prefix="tracking-demo-deploy-") as scratch:
        folder = emit_dir.resolve() if emit_dir is not None else Path(scratch)
        if emit_dir is not None:
            folder.mkdir(parents=True, exist_ok=True)
            code = stage_emitted_code(taken, folder)
        else:
            code = folder / UPLOAD_NAME
        deployment = online.deployment_entity(request, name, version, code, inline)
        check_rest(endpoint, deployment)
        deployment_data = online.yaml_data(deployment, folder)
    result = Documents(
        online.to_yaml(
            online.yaml_data(endpoint), "endpoint", endpoint_header(request, ref, environ)
        ),
        online.to_yaml(
            deployment_data, "deployment", deployment_header(request, root, environment, name)
        ),
    )
    if emit_dir is not None:
        for file_name, text in (
            (ENDPOINT_FILE, result.endpoint),
            (DEPLOYMENT_FILE, result.deployment),
        ):
            (emit_dir / file_name).write_text(text)
            click.echo(f"wrote {emit_dir / file_name}", err=True)
        click.echo(f"wrote {emit_dir / UPLOAD_NAME}/", err=True)
    return result

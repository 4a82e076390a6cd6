"""`python -m jobs.deploy aci MODEL`: a registered model as an Azure Container Instances web
service, through SDK v1 (azureml-core), for workspaces not yet on managed online endpoints.

The service runs the scoring script the managed endpoint runs (serving/score.py, through
jobs/score_entry.py) in the environment built from the scoring container's own lock.
`--dry-run` prints the SDK objects a deploy would send, without a workspace.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click

from jobs import environments, snapshot
from jobs.common import WorkspaceRef, describe_auth, load_workspace, workspace_or_reason
from jobs.deploy_local import DeployFailedError
from jobs.deploy_target import ModelTarget, mlflow_client, resolve_version
from jobs.serving_stage import ENTRY_SCRIPT, UPLOAD_NAME, stage_source

COMPUTE_TYPE = "ACI"


@dataclass(frozen=True)
class DeployRequest:
    """Everything a deploy needs to know, checked before the first network call."""

    target: ModelTarget
    service_name: str
    cpu_cores: float = 1.0
    memory_gb: float = 1.0
    auth: bool = True
    tags: Mapping[str, str] = field(default_factory=dict)
    description: str | None = None
    overwrite: bool = False
    environment: str = "curated"
    image: environments.ImageRef | None = None
    wait: bool = True
    show_keys: bool = False


def build_environment(request: DeployRequest, root: Path, environ: Mapping[str, str]) -> Any:
    """The image's environment: the scoring container's lock, or the custom image."""
    if request.environment == "image":
        assert request.image is not None
        return environments.image_environment(request.image, False, environ)
    return environments.serving_environment(root)


def inference_config(environment: Any, source: Path) -> Any:
    from azureml.core.model import InferenceConfig

    return InferenceConfig(
        entry_script=ENTRY_SCRIPT, source_directory=str(source), environment=environment
    )


def deployment_config(request: DeployRequest) -> Any:
    from azureml.core.webservice import AciWebservice

    return AciWebservice.deploy_configuration(
        cpu_cores=request.cpu_cores,
        memory_gb=request.memory_gb,
        auth_enabled=request.auth,
        tags=dict(request.tags) or None,
        description=request.description,
    )


def dry_run_spec(
    request: DeployRequest, ref: WorkspaceRef, root: Path, environ: Mapping[str, str]
) -> dict[str, Any]:
    """What a deploy would send, from the real SDK objects, without a workspace or network."""
    taken = snapshot.take(root)
    environment = build_environment(request, root, environ)
    aci = deployment_config(request)
    with tempfile.TemporaryDirectory(prefix="tracking-demo-deploy-") as scratch:
        config = inference_config(environment, stage_source(taken, Path(scratch)))
        entry_script = config.entry_script
    notes = [
        "The model is resolved at deploy time: "
        + (
            f"the version of '{request.target.name}' with the best '{request.target.best_by}' "
            "in the workspace's MLflow registry"
            if request.target.best_by
            else "Model(workspace, name, version) from the workspace's registry"
        )
        + f"; Azure ML mounts it at AZUREML_MODEL_DIR=azureml-models/{request.target.name}/"
        "VERSION, where score.init() loads it.",
        f"The snapshot is uploaded as '{UPLOAD_NAME}' with {ENTRY_SCRIPT} added.",
    ]
    if request.environment == "image":
        notes.append(
            f"The image must contain {environments.SERVING_PACKAGE} (Azure ML's inference "
            "server); the curated environment (serving/requirements.lock) pins it beside the "
            "packages models load."
        )
    return {
        "action": "deploy",
        "service_name": request.service_name,
        "model": request.target.describe(),
        "compute_type": COMPUTE_TYPE,
        "inference_config": {
            "entry_script": entry_script,
            "source_directory": str(taken.root),
            "uploaded_as": UPLOAD_NAME,
            "environment": f"{environment.name}:{environment.version}",
        },
        "deployment_config": {
            "compute_type": COMPUTE_TYPE,
            "cpu_cores": aci.cpu_cores,
            "memory_gb": aci.memory_gb,
            "auth_enabled": aci.auth_enabled,
            "tags": aci.tags or {},
            "description": aci.description,
        },
        "overwrite": request.overwrite,
        "wait": request.wait,
        "show_keys": request.show_keys,
        "environment_kind": request.environment,
        "environment": environments.environment_spec(environment),
        "snapshot": taken.summary(),
        "workspace": workspace_or_reason(ref),
        "auth": describe_auth(ref, environ),
        "note": notes,
    }


def azure_model(workspace: Any, target: ModelTarget) -> Any:
    """The workspace's registered model; alias and best-by go through its MLflow registry."""
    from azureml.core import Model

    version = target.version
    if version is None:
        version = resolve_version(mlflow_client(workspace.get_mlflow_tracking_uri()), target)
    return Model(workspace, name=target.name, version=int(version))


def deploy(
    request: DeployRequest, ref: WorkspaceRef, root: Path, environ: Mapping[str, str] = os.environ
) -> dict[str, Any]:
    """Deploy to ACI; with `wait`, a service that does not become Healthy prints its logs."""
    from azureml.core import Model
    from azureml.exceptions import WebserviceException

    taken = snapshot.take_within_limits(root)
    environment = build_environment(request, root, environ)
    workspace = load_workspace(ref, environ)
    model = azure_model(workspace, request.target)
    model_ref = f"{model.name}:{model.version}"
    click.echo(f"deploying {model_ref} as service '{request.service_name}'", err=True)
    with tempfile.TemporaryDirectory(prefix="tracking-demo-deploy-") as scratch:
        config = inference_config(environment, stage_source(taken, Path(scratch)))
        service = Model.deploy(
            workspace,
            request.service_name,
            [model],
            config,
            deployment_config(request),
            overwrite=request.overwrite,
        )
    result: dict[str, Any] = {"service_name": request.service_name, "model": model_ref}
    if request.wait:
        failure = None
        try:
            service.wait_for_deployment(show_output=True)
        except WebserviceException as error:
            failure = str(getattr(error, "message", "") or error).strip().splitlines()[0]
        state = getattr(service, "state", None)
        if failure or state != "Healthy":
            click.echo(f"service '{request.service_name}' logs:", err=True)
            click.echo(_logs(service), err=True)
            raise DeployFailedError(
                f"service '{request.service_name}' ended {state}"
                + (f": {failure}" if failure else "")
            )
    result["state"] = getattr(service, "state", None)
    result["scoring_uri"] = getattr(service, "scoring_uri", None)
    result["swagger_uri"] = getattr(service, "swagger_uri", None)
    result["auth_enabled"] = request.auth
    click.echo(
        f"service '{request.service_name}': {result['state']} at {result['scoring_uri']}", err=True
    )
    if request.show_keys:
        primary, secondary = service.get_keys()
        result["keys"] = {"primary": primary, "secondary": secondary}
    return result


def _logs(service: Any) -> str:
    try:
        return str(service.get_logs())
    except Exception as error:  # a service that failed before its container has no logs
        return f"(no logs: {str(error).strip().splitlines()[0] if str(error).strip() else error})"


def delete_service(
    name: str, ref: WorkspaceRef, environ: Mapping[str, str] = os.environ
) -> dict[str, str]:
    from azureml.core.webservice import Webservice

    workspace = load_workspace(ref, environ)
    Webservice(workspace, name).delete()
    click.echo(f"service '{name}' deleted", err=True)
    return {"deleted": name}

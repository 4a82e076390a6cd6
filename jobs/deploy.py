"""Deploy a registered model as an Azure ML web service: `python -m jobs.deploy MODEL [options]`.

The service runs the scoring script the local endpoint runs (serving/score.py, through
jobs/score_entry.py) on Azure Container Instances. `--dry-run` prints the SDK objects a deploy
would send, without a workspace; `--local` serves the same model here the way the container
would see it (`AZUREML_MODEL_DIR`, the same `init()`/`run()`), from an MLflow server's registry.
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click

from jobs import environments, snapshot
from jobs.common import (
    WorkspaceRef,
    command,
    describe_auth,
    load_workspace,
    local_tracking_uri_option,
    print_spec,
    source_option,
    workspace_options,
    workspace_or_reason,
)
from jobs.deploy_local import DEFAULT_PORT, LOCAL_HOST, DeployFailedError, run_local
from jobs.deploy_target import ModelTarget, mlflow_client, parse_target, resolve_version
from jobs.serving_stage import ENTRY_SCRIPT, UPLOAD_NAME, stage_source
from tracking_demo.errors import ConfigError
from tracking_demo.server.processes import port_is_free

COMPUTE_TYPE = "ACI"
# Azure's own rule (webservice_name_validation), checked here before any login.
_SERVICE_NAME = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")


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


def default_service_name(model_name: str) -> str:
    """The model's name made into a service name: lowercase, dashes, a letter first, 3-32 long."""
    text = re.sub(r"[^a-z0-9]+", "-", model_name.lower()).strip("-")
    if not text[:1].isalpha():
        text = f"model-{text}"
    text = text[:32].rstrip("-")
    return text if len(text) >= 3 else f"{text}-svc"


def check_service_name(name: str, derived_from: str | None = None) -> str:
    if len(name) < 3 or len(name) > 32 or not _SERVICE_NAME.match(name):
        origin = (
            f" (derived from model '{derived_from}': pass --service-name)" if derived_from else ""
        )
        raise ConfigError(
            f"service name '{name}' is not valid{origin}: use 3-32 lowercase letters, digits and "
            "dashes, starting with a letter and ending with a letter or digit"
        )
    return name


def parse_tags(pairs: tuple[str, ...]) -> dict[str, str]:
    tags: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--tag '{pair}' is not KEY=VALUE")
        tags[key.strip()] = value
    return tags


def build_environment(request: DeployRequest, root: Path, environ: Mapping[str, str]) -> Any:
    """The image's environment: the lock plus the inference server, or the custom image."""
    if request.environment == "image":
        assert request.image is not None
        return environments.image_environment(request.image, False, environ)
    requirements = environments.locked_requirements(root, False, environ)
    return environments.curated_environment(requirements, False, "download", serving=True)


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
            "server); the curated environment pins it beside the packages models load."
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


@command
@click.argument("model", required=False)
@click.option(
    "--best-by",
    metavar="METRIC",
    help="With a bare NAME: deploy the version with the best METRIC (version tag or run metric).",
)
@click.option(
    "--mode",
    type=click.Choice(["max", "min"]),
    help="With --best-by: whether larger or smaller METRIC is better [default: max].",
)
@click.option(
    "--service-name",
    help="Web service name: 3-32 lowercase letters, digits, dashes [default: from the model name].",
)
@click.option(
    "--cpu-cores", type=click.FloatRange(min=0, min_open=True), default=1.0, show_default=True
)
@click.option(
    "--memory-gb", type=click.FloatRange(min=0, min_open=True), default=1.0, show_default=True
)
@click.option("--no-auth", is_flag=True, help="Serve without keys (auth is on by default).")
@click.option("--tag", "tags", multiple=True, metavar="KEY=VALUE", help="Service tag (repeatable).")
@click.option("--description", help="Service description.")
@click.option("--overwrite", is_flag=True, help="Replace a service of the same name.")
@click.option(
    "--environment",
    type=click.Choice(["curated", "image"]),
    default="curated",
    show_default=True,
    help="curated: the lock's pins of what models load plus Azure ML's inference server, "
    "built by Azure ML; "
    "image: the custom image (--image).",
)
@click.option("--image", help="REGISTRY/NAME:TAG of the custom image (--environment image).")
@click.option(
    "--wait/--no-wait",
    default=True,
    show_default=True,
    help="Wait for the deployment; a failed one prints the service's logs and exits 1.",
)
@click.option("--show-keys", is_flag=True, help="Print the service's auth keys (never otherwise).")
@click.option("--delete", is_flag=True, help="Delete the service named by --service-name.")
@click.option(
    "--dry-run", is_flag=True, help="Print the deploy spec as JSON; no workspace, no network."
)
@click.option(
    "--local",
    is_flag=True,
    help="Serve the model here as the container does (Azure's inference server around the "
    "entry script, AZUREML_MODEL_DIR), from the registry at --tracking-uri; until Ctrl-C, or "
    "once with --check.",
)
@click.option(
    "--port",
    type=click.IntRange(1, 65535),
    default=DEFAULT_PORT,
    show_default=True,
    help="--local: the port to serve on.",
)
@click.option(
    "--check",
    is_flag=True,
    help="--local: post the model's own input example to /score, print the answer, stop.",
)
@local_tracking_uri_option
@source_option
@workspace_options
def main(
    model: str | None,
    best_by: str | None,
    mode: str | None,
    service_name: str | None,
    cpu_cores: float,
    memory_gb: float,
    no_auth: bool,
    tags: tuple[str, ...],
    description: str | None,
    overwrite: bool,
    environment: str,
    image: str | None,
    wait: bool,
    show_keys: bool,
    delete: bool,
    dry_run: bool,
    local: bool,
    port: int,
    check: bool,
    tracking_uri: str | None,
    source: Path,
    ref: WorkspaceRef,
    debug: bool,
) -> None:
    """Deploy MODEL (NAME:VERSION, NAME@ALIAS, or NAME with --best-by) as a web service.

    \b
      python -m jobs.deploy moons-rf:3 --dry-run
      python -m jobs.deploy mnist-cnn --best-by val_accuracy --service-name mnist-svc
      python -m jobs.deploy moons-rf@champion --local --port 8001
      python -m jobs.deploy --delete --service-name mnist-svc
    """
    if dry_run and local:
        raise ConfigError(
            "--dry-run and --local are two different ways to check a deploy: pick one"
        )
    if check and not local:
        raise ConfigError("--check is for --local (it posts an example to the local endpoint)")
    if tracking_uri and not local:
        raise ConfigError(
            "--tracking-uri is for --local; a deploy resolves the model in the workspace's registry"
        )
    if local and no_auth:
        raise ConfigError(
            "--no-auth is for a service; --local has no key (Azure's container checks none)"
        )
    if show_keys and no_auth:
        raise ConfigError("--show-keys with --no-auth: a service without auth has no keys")
    image_ref = environments.environment_image(environment, image)
    if delete:
        if local:
            raise ConfigError("--delete removes a service in the workspace; it has no --local")
        if model:
            raise ConfigError("--delete takes no MODEL: name the service with --service-name")
        if not service_name:
            raise ConfigError("--delete needs --service-name NAME (the service to remove)")
        check_service_name(service_name)
        if dry_run:
            print_spec(
                {
                    "action": "delete",
                    "service_name": service_name,
                    "workspace": workspace_or_reason(ref),
                    "auth": describe_auth(ref, os.environ),
                }
            )
            return
        print_spec(delete_service(service_name, ref))
        return
    if not model:
        raise ConfigError("give MODEL (NAME:VERSION, NAME@ALIAS, or NAME with --best-by METRIC)")
    target = parse_target(model, best_by, mode)
    name = service_name or default_service_name(target.name)
    check_service_name(name, None if service_name else target.name)
    request = DeployRequest(
        target=target,
        service_name=name,
        cpu_cores=cpu_cores,
        memory_gb=memory_gb,
        auth=not no_auth,
        tags=parse_tags(tags),
        description=description,
        overwrite=overwrite,
        environment=environment,
        image=image_ref,
        wait=wait,
        show_keys=show_keys,
    )
    if dry_run:
        print_spec(dry_run_spec(request, ref, source, os.environ))
        return
    if local:
        if not port_is_free(LOCAL_HOST, port):
            raise ConfigError(f"port {port} on {LOCAL_HOST} is in use: choose another with --port")
        result = run_local(target, tracking_uri=tracking_uri, port=port, check=check)
        if result is not None:
            print_spec(result)
        return
    print_spec(deploy(request, ref, source))


if __name__ == "__main__":
    main(prog_name="python -m jobs.deploy", args=sys.argv[1:])

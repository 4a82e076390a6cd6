"""Deploy a registered model as an Azure ML web service: `python -m jobs.deploy MODEL [options]`.

The service runs the scoring script the local endpoint runs (serving/score.py, through
jobs/score_entry.py) on Azure Container Instances. `--dry-run` prints the SDK objects a deploy
would send, without a workspace; `--local` serves the same model here the way the container
would see it (`AZUREML_MODEL_DIR`, the same `init()`/`run()`), from an MLflow server's registry.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Literal

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
from tracking_demo.errors import ConfigError, TrackingDemoError
from tracking_demo.server.processes import (
    port_is_free,
    start_group,
    stop_process_group,
    wait_answering,
)

ENTRY_SCRIPT = "jobs/score_entry.py"
# The uploaded source folder's name: Azure ML puts it at /var/azureml-app/<name>.
UPLOAD_NAME = "tracking-demo"
COMPUTE_TYPE = "ACI"
LOCAL_HOST = "127.0.0.1"
DEFAULT_PORT = 8000
READY_TIMEOUT_S = 180.0
STOP_TIMEOUT_S = 15.0
# Azure's own rule (webservice_name_validation), checked here before any login.
_SERVICE_NAME = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
_NAME = re.compile(r"^[^:@/]+$")


class DeployFailedError(TrackingDemoError):
    """The service (or the local endpoint) did not come up, or answered the check wrongly."""


@dataclass(frozen=True)
class ModelTarget:
    """Which registered version to deploy: by number, by alias, or the best by a metric."""

    ref: str
    name: str
    version: str | None = None
    alias: str | None = None
    best_by: str | None = None
    mode: str = "max"

    def describe(self) -> dict[str, str]:
        described = {"ref": self.ref, "name": self.name}
        for key in ("version", "alias", "best_by"):
            value = getattr(self, key)
            if value is not None:
                described[key] = value
        if self.best_by:
            described["mode"] = self.mode
        return described


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


def parse_target(model: str, best_by: str | None, mode: str | None) -> ModelTarget:
    """NAME:VERSION, NAME@ALIAS, models:/ URIs, or a bare NAME with --best-by METRIC."""
    text = model.strip()
    if mode is not None and not best_by:
        raise ConfigError("--mode needs --best-by METRIC (it says which way the metric is better)")
    if best_by:
        if not _NAME.match(text):
            raise ConfigError(
                f"--best-by picks the version itself: give the bare model NAME, not '{model}'"
            )
        return ModelTarget(text, text, best_by=best_by, mode=mode or "max")
    if _NAME.match(text):
        raise ConfigError(
            f"model '{model}' names no version: give NAME:VERSION, NAME@champion, or "
            "NAME --best-by METRIC"
        )
    from tracking_demo import registry

    ref = registry.parse_version_uri(registry.model_uri_from_ref(text))
    if ref is None:
        raise ConfigError(
            f"model '{model}' is not a registered model version (NAME:VERSION, NAME@ALIAS or "
            "models:/NAME/VERSION): a web service deploys from the registry"
        )
    return ModelTarget(text, ref.name, version=ref.version, alias=ref.alias)


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


def stage_source(taken: snapshot.Snapshot, scratch: Path) -> Path:
    """The folder Azure ML uploads: the snapshot jobs upload, plus the entry script (`.amlignore`
    leaves jobs/ out of job snapshots, and the deploy takes the script from this package)."""
    source = snapshot.copy_to(taken, scratch / UPLOAD_NAME)
    entry = source / ENTRY_SCRIPT
    entry.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(Path(__file__).with_name(Path(ENTRY_SCRIPT).name), entry)
    return source


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


def _mlflow_client(tracking_uri: str) -> Any:
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)


def resolve_version(client: Any, target: ModelTarget) -> str:
    """The version number behind the target, from an MLflow registry (local or the workspace's)."""
    from tracking_demo import registry

    if target.best_by:
        mode: Literal["max", "min"] = "min" if target.mode == "min" else "max"
        best = registry.rank_versions(client, target.name, target.best_by, mode).best
        click.echo(
            f"best version of {target.name} by {target.best_by} ({target.mode}): "
            f"{best.version.version} ({best.value:g}, {best.source})",
            err=True,
        )
        return str(best.version.version)
    uri = (
        f"models:/{target.name}/{target.version}"
        if target.version
        else f"models:/{target.name}@{target.alias}"
    )
    version = registry.resolve_version(client, uri)
    if version is None:
        raise ConfigError(f"no model version at {uri}")
    return str(version.version)


def azure_model(workspace: Any, target: ModelTarget) -> Any:
    """The workspace's registered model; alias and best-by go through its MLflow registry."""
    from azureml.core import Model

    version = target.version
    if version is None:
        version = resolve_version(_mlflow_client(workspace.get_mlflow_tracking_uri()), target)
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


# --- --local: the container's view of the model, served here ------------------------------


class LocalEndpoint:
    """`tracking-demo serve` in its own process group, as the container runs the entry script."""

    def __init__(self, model_dir: Path, port: int, key: str | None, log: Path) -> None:
        self.port = port
        self.key = key
        self.log = log
        self.uri = f"http://{LOCAL_HOST}:{port}"
        self.process: subprocess.Popen[bytes] | None = None
        self.model_dir = model_dir

    def command(self) -> list[str]:
        auth = [] if self.key else ["--no-auth"]
        return [
            sys.executable,
            "-m",
            "tracking_demo",
            "serve",
            "--host",
            LOCAL_HOST,
            "--port",
            str(self.port),
            *auth,
        ]

    def start(self, environ: Mapping[str, str]) -> None:
        from tracking_demo.cli.serving import KEY_VARIABLE

        env = dict(environ)
        env["AZUREML_MODEL_DIR"] = str(self.model_dir)
        env.pop(KEY_VARIABLE, None)
        if self.key:
            env[KEY_VARIABLE] = self.key  # serve's --key, kept off the process list
        self.process = start_group(self.command(), output=self.log, errors=subprocess.PIPE, env=env)
        assert self.process.stderr is not None
        threading.Thread(
            target=_forward_log, args=(self.process.stderr,), name="endpoint-log", daemon=True
        ).start()

    def wait_ready(self, timeout: float = READY_TIMEOUT_S) -> None:
        """Wait for `/ready`; why it failed is in its stderr, which `_forward_log` copies."""
        assert self.process is not None
        wait_answering(
            self.process,
            f"{self.uri}/ready",
            timeout,
            name="the local endpoint",
            error=DeployFailedError,
        )

    def score(self, payload: Any) -> tuple[int, Any]:
        import requests

        headers = {"Authorization": f"Bearer {self.key}"} if self.key else {}
        response = requests.post(f"{self.uri}/score", json=payload, headers=headers, timeout=60)
        try:
            return response.status_code, response.json()
        except ValueError:
            return response.status_code, response.text

    def stop(self) -> None:
        """SIGTERM the whole group, then SIGKILL what is left; reap the child."""
        if self.process is not None:
            stop_process_group(self.process.pid, STOP_TIMEOUT_S, self.process)


def _forward_log(stream: IO[bytes]) -> None:
    """The endpoint's stderr (errors, access log) to ours, without the /ready polls."""
    for line in stream:
        with contextlib.suppress(ValueError, AttributeError):
            if json.loads(line).get("path") == "/ready":
                continue
        sys.stderr.write(line.decode(errors="replace"))
        sys.stderr.flush()


@contextlib.contextmanager
def _sigterm_as_exit() -> Iterator[None]:
    """A SIGTERM to this process stops the endpoint too (it runs in its own session)."""
    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))
        try:
            yield
        finally:
            signal.signal(signal.SIGTERM, previous)
    else:
        yield


def example_payload(model_path: Path) -> dict[str, Any]:
    """One example from the model's own `input_example`, as the tutorials' `{"data": [...]}`."""
    import numpy as np
    import pandas as pd
    from mlflow.models import Model

    # MLflow annotates fewer return types than it gives (a list, say): checked here at run time.
    example: Any = Model.load(str(model_path)).load_input_example(str(model_path))
    if isinstance(example, pd.DataFrame):
        return {"data": json.loads(example.head(1).to_json(orient="records"))}
    if isinstance(example, np.ndarray):
        return {"data": example[:1].tolist()}
    if isinstance(example, list) and example:
        return {"data": example[:1]}
    raise ConfigError(
        f"the model at {model_path} has no input example to check the endpoint with "
        f"(found {type(example).__name__})"
    )


def run_local(
    target: ModelTarget,
    tracking_uri: str | None,
    port: int,
    auth: bool,
    check: bool,
    environ: Mapping[str, str] = os.environ,
) -> dict[str, Any] | None:
    """Download the version as Azure lays it out, serve it, then check it or serve until Ctrl-C."""
    import mlflow

    from tracking_demo import registry
    from tracking_demo.serving.model import find_model_dir
    from tracking_demo.tracking.settings import resolve_tracking_uri

    uri = resolve_tracking_uri(tracking_uri, environ)
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    version = resolve_version(_mlflow_client(uri), target)
    model_ref = f"{target.name}:{version}"
    with tempfile.TemporaryDirectory(prefix="tracking-demo-deploy-") as scratch:
        model_dir = Path(scratch) / "azureml-models" / target.name / version
        registry.download(model_ref, model_dir / "model")
        click.echo(f"{model_ref} downloaded to AZUREML_MODEL_DIR={model_dir}", err=True)
        key = secrets.token_urlsafe(24) if auth else None
        endpoint = LocalEndpoint(model_dir, port, key, Path(scratch) / "serve.log")
        with _sigterm_as_exit():
            try:
                endpoint.start(environ)
                endpoint.wait_ready()
                scoring_uri = f"{endpoint.uri}/score"
                if check:
                    payload = example_payload(find_model_dir(model_dir))
                    status, answer = endpoint.score(payload)
                    if status != 200:
                        raise DeployFailedError(
                            f"POST {scoring_uri} answered {status}: {json.dumps(answer)[:300]}"
                        )
                    assert endpoint.process is not None
                    return {
                        "model": model_ref,
                        "scoring_uri": scoring_uri,
                        "request": payload,
                        "response": answer,
                        "server_pid": endpoint.process.pid,
                    }
                click.echo(f"Scoring URI: {scoring_uri}   (model {model_ref})")
                click.echo(f"Key: {key}" if key else "Authentication: off (--no-auth)")
                click.echo("Serving until Ctrl-C.", err=True)
                assert endpoint.process is not None
                code = endpoint.process.wait()
                raise DeployFailedError(f"the local endpoint exited {code}")
            except KeyboardInterrupt:
                click.echo("stopping the local endpoint", err=True)
                return None
            finally:
                endpoint.stop()


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
    help="Serve the model here as the container would (AZUREML_MODEL_DIR, the same entry "
    "point), from the registry at --tracking-uri; until Ctrl-C, or once with --check.",
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
        result = run_local(target, tracking_uri, port, request.auth, check)
        if result is not None:
            print_spec(result)
        return
    print_spec(deploy(request, ref, source))


if __name__ == "__main__":
    main(prog_name="python -m jobs.deploy", args=sys.argv[1:])

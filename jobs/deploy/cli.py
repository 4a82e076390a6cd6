"""`python -m jobs.deploy SUBCOMMAND`: only wiring. Every option is checked here, before any
login (one line each); the work is in `jobs.v2.online_*` (managed online endpoints),
`jobs.deploy.aci` (SDK v1) and `jobs.deploy_local`."""

from __future__ import annotations

import os
from pathlib import Path

import click

from jobs import environments
from jobs.common import (
    WorkspaceRef,
    command,
    describe_auth,
    local_tracking_uri_option,
    print_spec,
    source_option,
    workspace_options,
    workspace_or_reason,
)
from jobs.deploy import names
from jobs.deploy.options import model_options, parse_tags, require_model, service_options
from jobs.deploy_local import DEFAULT_PORT, LOCAL_HOST
from jobs.deploy_target import parse_target
from tracking_demo.errors import ConfigError


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Serve a registered model version on Azure ML, or here as Azure's container would.

    MODEL is NAME:VERSION, NAME@ALIAS (e.g. moons-rf@champion), or NAME with --best-by METRIC.

    \b
        python -m jobs.deploy endpoint moons-rf:3 --dry-run
        python -m jobs.deploy endpoint moons-rf@champion --instance-type Standard_DS3_v2
        python -m jobs.deploy keys moons-rf --show-keys
        python -m jobs.deploy delete moons-rf
        python -m jobs.deploy local moons-rf@champion --check
        python -m jobs.deploy aci moons-rf:3 --service-name moons-svc   (SDK v1)
    """


@command
@model_options
@click.option(
    "--endpoint-name",
    help="Managed online endpoint: 3-32 letters, digits, dashes [default: from the model name].",
)
@click.option(
    "--deployment-name",
    help="The deployment [default: ENDPOINT-VERSION, one per model version].",
)
@click.option(
    "--instance-type",
    default=None,
    help="VM size from Azure ML's managed online endpoints SKU list " "[default: Standard_DS3_v2].",
)
@click.option("--instance-count", type=click.IntRange(min=1), default=1, show_default=True)
@click.option(
    "--keep-previous",
    is_flag=True,
    help="Keep the deployment that served before (with 0% traffic) instead of deleting it.",
)
@click.option("--show-keys", is_flag=True, help="Print the endpoint's keys (never otherwise).")
@service_options
@click.option(
    "--dry-run",
    is_flag=True,
    help="Print the endpoint and deployment YAML (az ml ... create --file); no workspace.",
)
@click.option(
    "--emit",
    type=click.Path(path_type=Path, file_okay=False),
    metavar="DIR",
    help="With --dry-run: write endpoint.yml, deployment.yml and the staged code folder to DIR.",
)
@source_option
@workspace_options
def endpoint(
    model: str | None,
    best_by: str | None,
    mode: str | None,
    endpoint_name: str | None,
    deployment_name: str | None,
    instance_type: str | None,
    instance_count: int,
    keep_previous: bool,
    show_keys: bool,
    tags: tuple[str, ...],
    description: str | None,
    environment: str,
    image: str | None,
    dry_run: bool,
    emit: Path | None,
    source: Path,
    ref: WorkspaceRef,
    debug: bool,
) -> None:
    """Deploy MODEL to a managed online endpoint (SDK v2, key auth), blue/green.

    The endpoint is created when missing; the new deployment is waited for, then gets 100% of
    the traffic and the previous one is deleted (--keep-previous keeps it). A failed deployment
    prints its logs and exits 1, traffic untouched.
    """
    from jobs.v2 import online_endpoint as online

    target = parse_target(require_model(model), best_by, mode)
    if emit is not None and not dry_run:
        raise ConfigError("--emit DIR writes the dry-run's YAML: it needs --dry-run")
    name = endpoint_name or names.default_name(target.name)
    names.check_online_name(
        name, "endpoint", "--endpoint-name", None if endpoint_name else target.name
    )
    if deployment_name:
        names.check_online_name(deployment_name, "deployment", "--deployment-name")
    request = online.EndpointRequest(
        target=target,
        endpoint_name=name,
        deployment_name=deployment_name,
        instance_type=online.check_instance_type(instance_type or online.DEFAULT_INSTANCE_TYPE),
        instance_count=instance_count,
        environment=environment,
        image=environments.environment_image(environment, image),
        keep_previous=keep_previous,
        show_keys=show_keys,
        tags=parse_tags(tags),
        description=description,
    )
    if dry_run:
        from jobs.v2 import online_dry_run

        click.echo(
            online_dry_run.documents(request, ref, source, os.environ, emit).text(), nl=False
        )
        return
    from jobs.v2 import online_deploy

    print_spec(online_deploy.deploy(request, ref, source, os.environ))


@command
@model_options
@click.option(
    "--port",
    type=click.IntRange(1, 65535),
    default=DEFAULT_PORT,
    show_default=True,
    help="The port to serve on.",
)
@click.option(
    "--check",
    is_flag=True,
    help="Post the model's own input example to /score, print the answer, stop.",
)
@local_tracking_uri_option
def local(
    model: str | None,
    best_by: str | None,
    mode: str | None,
    port: int,
    check: bool,
    tracking_uri: str | None,
    debug: bool,
) -> None:
    """Serve MODEL here as the container would (AZUREML_MODEL_DIR, the same entry point), from
    the registry at --tracking-uri; until Ctrl-C, or once with --check."""
    from jobs.deploy_local import run_local
    from tracking_demo.server.processes import port_is_free

    target = parse_target(require_model(model), best_by, mode)
    if not port_is_free(LOCAL_HOST, port):
        raise ConfigError(f"port {port} on {LOCAL_HOST} is in use: choose another with --port")
    result = run_local(target, tracking_uri=tracking_uri, port=port, check=check)
    if result is not None:
        print_spec(result)


@command
@click.argument("endpoint_name", metavar="ENDPOINT", required=False)
@click.option("--deployment", help="Delete only this deployment of ENDPOINT.")
@click.option(
    "--sdk",
    type=click.Choice(["v2", "v1"]),
    default="v2",
    show_default=True,
    help="v2: a managed online endpoint; v1: an ACI web service (--service-name).",
)
@click.option("--service-name", help="--sdk v1: the ACI web service to delete.")
@click.option("--dry-run", is_flag=True, help="Print what would be deleted; no workspace.")
@workspace_options
def delete(
    endpoint_name: str | None,
    deployment: str | None,
    sdk: str,
    service_name: str | None,
    dry_run: bool,
    ref: WorkspaceRef,
    debug: bool,
) -> None:
    """Delete ENDPOINT and its deployments, or one --deployment; --sdk v1 an ACI service."""
    if sdk == "v1":
        if endpoint_name or deployment:
            raise ConfigError(
                "--sdk v1 deletes an ACI web service: name it with --service-name, not ENDPOINT "
                "or --deployment"
            )
        if not service_name:
            raise ConfigError("--sdk v1 needs --service-name NAME (the service to remove)")
        spec = {"action": "delete", "service_name": names.check_service_name(service_name)}
    else:
        if service_name:
            raise ConfigError("--service-name names an ACI service: it needs --sdk v1")
        if not endpoint_name:
            raise ConfigError("give ENDPOINT (the managed online endpoint to delete)")
        names.check_online_name(endpoint_name, "endpoint", "ENDPOINT")
        if deployment:
            names.check_online_name(deployment, "deployment", "--deployment")
        spec = {"action": "delete", "endpoint": endpoint_name}
        if deployment:
            spec["deployment"] = deployment
    if dry_run:
        print_spec(
            {**spec, "workspace": workspace_or_reason(ref), "auth": describe_auth(ref, os.environ)}
        )
        return
    if sdk == "v1":
        from jobs.deploy import aci

        assert service_name is not None
        print_spec(aci.delete_service(service_name, ref))
        return
    from jobs.v2 import online_deploy

    assert endpoint_name is not None
    print_spec(online_deploy.delete(endpoint_name, deployment, ref, os.environ))


@command
@click.argument("endpoint_name", metavar="ENDPOINT")
@click.option("--show-keys", is_flag=True, help="Print the keys (the only way they are printed).")
@workspace_options
def keys(endpoint_name: str, show_keys: bool, ref: WorkspaceRef, debug: bool) -> None:
    """Print ENDPOINT's scoring URI and keys (with --show-keys)."""
    names.check_online_name(endpoint_name, "endpoint", "ENDPOINT")
    if not show_keys:
        raise ConfigError(
            f"keys are printed only when asked: `python -m jobs.deploy keys {endpoint_name} "
            f"--show-keys` (or `az ml online-endpoint get-credentials --name {endpoint_name}`)"
        )
    from jobs.v2 import online_deploy

    print_spec(online_deploy.keys(endpoint_name, ref, os.environ))


@command
@model_options
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
@click.option("--overwrite", is_flag=True, help="Replace a service of the same name.")
@service_options
@click.option(
    "--wait/--no-wait",
    default=True,
    show_default=True,
    help="Wait for the deployment; a failed one prints the service's logs and exits 1.",
)
@click.option("--show-keys", is_flag=True, help="Print the service's auth keys (never otherwise).")
@click.option(
    "--dry-run", is_flag=True, help="Print the deploy spec as JSON; no workspace, no network."
)
@source_option
@workspace_options
def aci(
    model: str | None,
    best_by: str | None,
    mode: str | None,
    service_name: str | None,
    cpu_cores: float,
    memory_gb: float,
    no_auth: bool,
    overwrite: bool,
    tags: tuple[str, ...],
    description: str | None,
    environment: str,
    image: str | None,
    wait: bool,
    show_keys: bool,
    dry_run: bool,
    source: Path,
    ref: WorkspaceRef,
    debug: bool,
) -> None:
    """Deploy MODEL as an Azure Container Instances web service (SDK v1, azureml-core).

    ACI deploys through SDK v1 are deprecated by Microsoft: `endpoint` is the replacement.
    """
    from jobs.deploy import aci as aci_deploy

    if show_keys and no_auth:
        raise ConfigError("--show-keys with --no-auth: a service without auth has no keys")
    image_ref = environments.environment_image(environment, image)
    target = parse_target(require_model(model), best_by, mode)
    name = service_name or names.default_name(target.name)
    names.check_service_name(name, None if service_name else target.name)
    request = aci_deploy.DeployRequest(
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
        print_spec(aci_deploy.dry_run_spec(request, ref, source, os.environ))
        return
    print_spec(aci_deploy.deploy(request, ref, source))


for _subcommand in (endpoint, local, delete, keys, aci):
    main.add_command(_subcommand)

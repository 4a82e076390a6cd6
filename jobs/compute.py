"""Get or create the AmlCompute cluster jobs run on: `python -m jobs.compute [--gpu] [--delete]`.

A cluster with `--min-nodes 0` scales down to nothing when idle, so it costs nothing between
jobs; `--delete` removes it entirely. Every option is checked here, before the SDK logs in.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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
from tracking_demo.errors import ConfigError

CPU_CLUSTER = "cpu-cluster"
GPU_CLUSTER = "gpu-cluster"
CPU_VM_SIZE = "STANDARD_D2_V3"
GPU_VM_SIZE = "Standard_NC4as_T4_v3"
GPU_SERIES = re.compile(r"^(standard_)?n[cdv][a-z]*\d", re.IGNORECASE)
VM_SIZE_SHAPE = re.compile(r"^[A-Za-z][A-Za-z0-9_]*\d[A-Za-z0-9_]*$")
CLUSTER_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9-]{0,22}[A-Za-z0-9]$")


def is_gpu_vm_size(size: str) -> bool:
    """Azure's GPU sizes are the N-series (NC, ND, NV), with or without the `Standard_` prefix."""
    return bool(GPU_SERIES.match(size.strip()))


@dataclass(frozen=True)
class ClusterRequest:
    """A cluster as the user asked for it, already checked."""

    name: str
    vm_size: str
    gpu: bool
    min_nodes: int
    max_nodes: int
    idle_seconds: int
    low_priority: bool

    @property
    def vm_priority(self) -> str:
        return "lowpriority" if self.low_priority else "dedicated"


def check_cluster_name(name: str) -> str:
    """Azure accepts letters, digits and hyphens, starting with a letter; say so before login."""
    if not CLUSTER_NAME.match(name):
        raise ConfigError(
            f"--name '{name}' is not a valid cluster name (expected 2-24 letters, digits or "
            "hyphens, starting with a letter and ending with a letter or digit)"
        )
    return name


def cluster_request(
    name: str | None = None,
    vm_size: str | None = None,
    gpu: bool = False,
    min_nodes: int = 0,
    max_nodes: int = 4,
    idle_seconds: int = 1800,
    low_priority: bool = False,
) -> ClusterRequest:
    """Fill the CPU or GPU defaults and refuse what Azure would refuse (or bill for nothing)."""
    name = check_cluster_name(name or (GPU_CLUSTER if gpu else CPU_CLUSTER))
    vm_size = (vm_size or (GPU_VM_SIZE if gpu else CPU_VM_SIZE)).strip()
    if not VM_SIZE_SHAPE.match(vm_size):
        raise ConfigError(
            f"--vm-size '{vm_size}' is not an Azure VM size (expected a name such as "
            f"{CPU_VM_SIZE} or {GPU_VM_SIZE})"
        )
    if gpu and not is_gpu_vm_size(vm_size):
        raise ConfigError(
            f"--gpu with --vm-size '{vm_size}', a CPU size (expected an N-series GPU size: "
            f"Standard_NC*, Standard_ND* or Standard_NV*, e.g. {GPU_VM_SIZE})"
        )
    for option, value in (("--min-nodes", min_nodes), ("--idle-seconds", idle_seconds)):
        if value < 0:
            raise ConfigError(f"{option} is {value} (expected 0 or more)")
    if max_nodes < 1:
        raise ConfigError(f"--max-nodes is {max_nodes} (expected 1 or more: a job needs a node)")
    if min_nodes > max_nodes:
        raise ConfigError(
            f"--min-nodes {min_nodes} is above --max-nodes {max_nodes} "
            "(expected min nodes <= max nodes)"
        )
    return ClusterRequest(name, vm_size, gpu, min_nodes, max_nodes, idle_seconds, low_priority)


def provisioning_configuration(request: ClusterRequest) -> Any:
    """The SDK's own configuration object: it is what `ComputeTarget.create` sends."""
    from azureml.core.compute import AmlCompute

    return AmlCompute.provisioning_configuration(
        vm_size=request.vm_size,
        vm_priority=request.vm_priority,
        min_nodes=request.min_nodes,
        max_nodes=request.max_nodes,
        idle_seconds_before_scaledown=request.idle_seconds,
    )


def configuration_fields(config: Any) -> dict[str, Any]:
    """The fields of a provisioning configuration, read back from the SDK object itself."""
    scale = config.scale_settings
    return {
        "type": type(config).__name__,
        "vm_size": config.vm_size,
        "vm_priority": config.vm_priority,
        "min_nodes": scale.minimum_node_count,
        "max_nodes": scale.maximum_node_count,
        "idle_seconds_before_scaledown": scale.idle_seconds_before_scaledown,
    }


def dry_run_spec(
    request: ClusterRequest, ref: WorkspaceRef, environ: Mapping[str, str], delete: bool = False
) -> dict[str, Any]:
    """What a real run would do, from the real provisioning configuration, without a workspace."""
    spec: dict[str, Any] = {
        "action": "delete" if delete else "get-or-create",
        "name": request.name,
        "workspace": workspace_or_reason(ref),
        "auth": describe_auth(ref, environ),
    }
    if delete:
        spec["note"] = "ComputeTarget(workspace, name).delete() needs the workspace; nothing built."
        return spec
    spec["gpu"] = request.gpu
    spec["gpu_vm_size"] = is_gpu_vm_size(request.vm_size)
    spec["provisioning_configuration"] = configuration_fields(provisioning_configuration(request))
    spec["wait"] = "wait_for_completion(show_output=True)"
    notes = [
        "An existing cluster of this name is used as it is; the other options apply only when "
        "it is created."
    ]
    if spec["gpu_vm_size"] and not request.gpu:
        notes.append(
            f"{request.vm_size} is a GPU size; pass --gpu so jobs on it get the GPU environment."
        )
    spec["note"] = notes
    return spec


def get_or_create(workspace: Any, request: ClusterRequest) -> Any:
    """The named cluster, created from the request only when the workspace has none."""
    from azureml.core.compute import AmlCompute, ComputeTarget
    from azureml.exceptions import ComputeTargetException

    try:
        cluster = ComputeTarget(workspace=workspace, name=request.name)
    except ComputeTargetException as error:
        if "ComputeTargetNotFound" not in str(error):
            raise
        click.echo(
            f"creating cluster {request.name} ({request.vm_size}, {request.vm_priority}, "
            f"{request.min_nodes}-{request.max_nodes} nodes)"
        )
        cluster = ComputeTarget.create(workspace, request.name, provisioning_configuration(request))
    else:
        if not isinstance(cluster, AmlCompute):
            raise ConfigError(
                f"compute '{request.name}' exists but is a {type(cluster).__name__}, not an "
                "AmlCompute cluster (choose another --name)"
            )
        if request.gpu and not is_gpu_vm_size(cluster.vm_size):
            raise ConfigError(
                f"cluster '{request.name}' exists with the CPU size {cluster.vm_size} "
                "(expected a GPU size for --gpu: choose another --name or --delete it first)"
            )
        click.echo(
            f"using existing cluster {request.name} ({cluster.vm_size}); the other options "
            "apply only when a cluster is created"
        )
    cluster.wait_for_completion(show_output=True)
    return cluster


def delete_cluster(workspace: Any, name: str) -> None:
    """Remove the cluster and wait until Azure has, so the bill stops when this returns."""
    from azureml.core.compute import ComputeTarget
    from azureml.exceptions import ComputeTargetException

    try:
        cluster = ComputeTarget(workspace=workspace, name=name)
    except ComputeTargetException as error:
        if "ComputeTargetNotFound" not in str(error):
            raise
        raise ConfigError(f"no compute named '{name}' in workspace {workspace.name}") from error
    cluster.delete()
    cluster.wait_for_completion(show_output=True, is_delete_operation=True)


@command
@click.option("--name", help=f"Cluster name [default: {CPU_CLUSTER}, {GPU_CLUSTER} with --gpu].")
@click.option(
    "--vm-size",
    help=f"Azure VM size [default: {CPU_VM_SIZE}, {GPU_VM_SIZE} with --gpu].",
)
@click.option("--gpu", is_flag=True, help="A GPU cluster (an N-series VM size).")
@click.option(
    "--min-nodes",
    type=int,
    default=0,
    show_default=True,
    help="Nodes kept even when idle (billed).",
)
@click.option(
    "--max-nodes", type=int, default=4, show_default=True, help="Most nodes it scales up to."
)
@click.option(
    "--idle-seconds",
    type=int,
    default=1800,
    show_default=True,
    help="Idle seconds before a node is released.",
)
@click.option("--low-priority", is_flag=True, help="Low-priority VMs: cheaper, can be preempted.")
@click.option("--delete", is_flag=True, help="Delete the cluster instead (clusters cost money).")
@click.option(
    "--dry-run",
    is_flag=True,
    help="Print the cluster YAML (v2; JSON with --delete or --sdk v1); no login, no network.",
)
@sdk_option
@emit_option
@workspace_options
def main(
    name: str | None,
    vm_size: str | None,
    gpu: bool,
    min_nodes: int,
    max_nodes: int,
    idle_seconds: int,
    low_priority: bool,
    delete: bool,
    dry_run: bool,
    sdk: str,
    emit: Path | None,
    ref: WorkspaceRef,
    debug: bool,
) -> None:
    """Get or create an AmlCompute cluster and wait until it is ready, or --delete it."""
    check_emit(sdk, dry_run, emit)
    if emit is not None and delete:
        raise ConfigError("--emit FILE writes the cluster YAML: --delete has none to write")
    request = cluster_request(name, vm_size, gpu, min_nodes, max_nodes, idle_seconds, low_priority)
    if sdk == "v2":
        run_v2(request, delete, dry_run, emit, ref)
        return
    if dry_run:
        print_spec(dry_run_spec(request, ref, os.environ, delete))
        return
    workspace = load_workspace(ref)
    if delete:
        delete_cluster(workspace, request.name)
        click.echo(f"deleted cluster {request.name}")
        return
    cluster = get_or_create(workspace, request)
    click.echo(f"cluster {cluster.name}: {cluster.provisioning_state}")


def delete_spec_v2(name: str, ref: WorkspaceRef, environ: Mapping[str, str]) -> dict[str, Any]:
    """A delete creates nothing, so there is no YAML: the JSON names what would be removed."""
    return {
        "action": "delete",
        "name": name,
        "workspace": workspace_or_reason(ref),
        "auth": describe_auth(ref, environ),
        "note": "MLClient.compute.begin_delete(name).result() needs the workspace; az ml "
        "compute delete --name NAME does the same.",
    }


def run_v2(
    request: ClusterRequest, delete: bool, dry_run: bool, emit: Path | None, ref: WorkspaceRef
) -> None:
    """SDK v2: the YAML on a dry run, else the MLClient calls; azure-ai-ml loads only here."""
    if dry_run and delete:
        print_spec(delete_spec_v2(request.name, ref, os.environ))
        return
    if dry_run:
        from jobs.v2 import compute as compute_v2
        from jobs.v2 import dry_run as dry_run_v2
        from jobs.v2 import render

        header = dry_run_v2.workspace_header(ref, os.environ)
        render.emit(compute_v2.compute_yaml(request, header), emit)
        return
    from jobs.v2 import client
    from jobs.v2 import compute as compute_v2

    ml_client = client.ml_client(ref)
    if delete:
        compute_v2.delete(ml_client, request.name, ml_client.workspace_name)
        click.echo(f"deleted cluster {request.name}")
        return
    cluster, _ = compute_v2.get_or_create(ml_client, request)
    click.echo(f"cluster {cluster.name}: {cluster.provisioning_state}")


if __name__ == "__main__":
    main(prog_name="python -m jobs.compute", args=sys.argv[1:])

"""The cluster as a v2 `AmlCompute`: the YAML `az ml compute create --file` accepts, and the
get-or-create and delete calls of `MLClient.compute`.

The request is the one `jobs.compute` checked for v1 (name, VM size, GPU size, node counts), so
both SDKs refuse the same input before any login.
"""

from __future__ import annotations

from typing import Any

import click

from jobs.compute import ClusterRequest, is_gpu_vm_size
from jobs.v2 import render
from tracking_demo.errors import ConfigError

# v1's vm_priority as v2 calls it.
TIERS = {"dedicated": "dedicated", "lowpriority": "low_priority"}


def aml_compute(request: ClusterRequest) -> Any:
    """The entity `begin_create_or_update` sends; idle seconds become the scale-down delay."""
    from azure.ai.ml.entities import AmlCompute

    return AmlCompute(
        name=request.name,
        size=request.vm_size,
        tier=TIERS[request.vm_priority],
        min_instances=request.min_nodes,
        max_instances=request.max_nodes,
        idle_time_before_scale_down=request.idle_seconds,
    )


def dry_run_notes(request: ClusterRequest) -> list[str]:
    notes = [
        "a real run reuses an existing cluster of this name as it is; these settings apply only "
        "when it is created"
    ]
    if is_gpu_vm_size(request.vm_size) and not request.gpu:
        notes.append(
            f"{request.vm_size} is a GPU size; pass --gpu so jobs on it get the GPU environment"
        )
    return notes


def compute_yaml(request: ClusterRequest, header: list[str]) -> str:
    """The cluster YAML, checked to build its REST body (offline) before it is shown."""
    entity = aml_compute(request)
    render.check_rest(entity, f"cluster '{request.name}'")
    notes = [*header, *(f"note: {note}" for note in dry_run_notes(request))]
    return render.to_yaml(render.entity_dict(entity), "amlcompute", notes)


def not_found_error() -> type[Exception]:
    from azure.core.exceptions import ResourceNotFoundError

    return ResourceNotFoundError


def existing_compute(client: Any, name: str) -> Any:
    """The workspace's compute of that name, or None."""
    try:
        return client.compute.get(name)
    except not_found_error():
        return None


def check_reusable(compute: Any, request: ClusterRequest) -> None:
    """An existing compute is reused only when it can run what the request asked for."""
    kind = getattr(compute, "type", None)
    if kind != "amlcompute":
        raise ConfigError(
            f"compute '{request.name}' exists but is a {kind or type(compute).__name__}, not an "
            "AmlCompute cluster (choose another --name)"
        )
    size = str(getattr(compute, "size", "") or "")
    if request.gpu and not is_gpu_vm_size(size):
        raise ConfigError(
            f"cluster '{request.name}' exists with the CPU size {size} "
            "(expected a GPU size for --gpu: choose another --name or --delete it first)"
        )


def get_or_create(client: Any, request: ClusterRequest) -> tuple[Any, bool]:
    """The named cluster, created (and waited for) only when the workspace has none;
    (cluster, created)."""
    compute = existing_compute(client, request.name)
    if compute is not None:
        check_reusable(compute, request)
        click.echo(
            f"using existing cluster {request.name} ({compute.size}); the other options apply "
            "only when a cluster is created"
        )
        return compute, False
    click.echo(
        f"creating cluster {request.name} ({request.vm_size}, {TIERS[request.vm_priority]}, "
        f"{request.min_nodes}-{request.max_nodes} nodes)"
    )
    return client.compute.begin_create_or_update(aml_compute(request)).result(), True


def delete(client: Any, name: str, workspace: str) -> None:
    """Remove the cluster and wait until Azure has, so the bill stops when this returns."""
    if existing_compute(client, name) is None:
        raise ConfigError(f"no compute named '{name}' in workspace {workspace}")
    client.compute.begin_delete(name).result()

"""A managed online endpoint and one deployment of a model version, as azure-ai-ml entities, and
as the YAML `az ml online-endpoint create --file` / `az ml online-deployment create --file` take.

The deployment runs the project's scoring script (`jobs/score_entry.py` in the staged upload
folder), not MLflow's no-code deployment: that scoring image is Azure's, and it broke for users
in 2026 for lack of `azureml-ai-monitoring`; this one is the container `jobs.deploy local` and
the Azure-server test run. Building the entities is offline; `online_deploy` sends them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click

from jobs.deploy_target import ModelTarget
from jobs.serving_stage import ENTRY_SCRIPT, UPLOAD_NAME

KEY_AUTH = "key"
DEFAULT_INSTANCE_TYPE = "Standard_DS3_v2"
# Azure ML's "Managed online endpoints SKU list" (learn.microsoft.com, reference-managed-online-
# endpoints-vm-sku-list): the VM sizes a managed deployment accepts. Azure adds sizes and a region
# may lack one, so a size missing here is a warning, not a refusal; Azure has the last word.
MANAGED_INSTANCE_TYPES = frozenset(
    {
        *(f"Standard_DS{n}_v2" for n in (1, 2, 3, 4, 5)),
        *(f"Standard_F{n}s_v2" for n in (2, 4, 8, 16, 32, 48, 64, 72)),
        *(f"Standard_FX{n}mds" for n in (4, 12, 24, 36, 48)),
        *(f"Standard_E{n}s_v3" for n in (2, 4, 8, 16, 32, 48, 64)),
        *(f"Standard_D{n}a_v4" for n in (2, 4, 8, 16, 32, 48, 64, 96)),
        *(f"Standard_D{n}as_v4" for n in (2, 4, 8, 16, 32, 48, 64, 96)),
        *(f"Standard_E{n}a_v4" for n in (2, 4, 8, 16, 32, 48, 64, 96)),
        *(f"Standard_E{n}as_v4" for n in (2, 4, 8, 16, 32, 48, 64, 96)),
        "Standard_NC4as_T4_v3",
        "Standard_NC8as_T4_v3",
        "Standard_NC16as_T4_v3",
        "Standard_NC64as_T4_v3",
        "Standard_NC6s_v3",
        "Standard_NC12s_v3",
        "Standard_NC24s_v3",
        "Standard_NC24ads_A100_v4",
        "Standard_NC48ads_A100_v4",
        "Standard_NC96ads_A100_v4",
        "Standard_ND40rs_v2",
        "Standard_ND96asr_v4",
        "Standard_ND96amsr_A100_v4",
    }
)
# The container loads TensorFlow and the model in init() before Azure's server answers: Azure's
# default probes (10 s delay, 30 failures 10 s apart) can restart it mid-load on a small VM.
LIVENESS_DELAY_S = 300
READINESS_DELAY_S = 60
PROBE_PERIOD_S = 10
PROBE_TIMEOUT_S = 10
PROBE_FAILURES = 30
REQUEST_TIMEOUT_MS = 60_000  # the whole MNIST test set in one request fits; Azure's default is 5 s
SCHEMAS = {
    "endpoint": "https://azuremlschemas.azureedge.net/latest/managedOnlineEndpoint.schema.json",
    "deployment": "https://azuremlschemas.azureedge.net/latest/managedOnlineDeployment.schema.json",
}
# What the YAML names when the version is only known at deploy time (alias, best-by).
VERSION_PLACEHOLDER = "VERSION"


@dataclass(frozen=True)
class EndpointRequest:
    """A deploy to a managed online endpoint, checked before the first network call."""

    target: ModelTarget
    endpoint_name: str
    deployment_name: str | None = None
    instance_type: str = DEFAULT_INSTANCE_TYPE
    instance_count: int = 1
    environment: str = "curated"
    image: Any = None
    keep_previous: bool = False
    show_keys: bool = False
    tags: Mapping[str, str] = field(default_factory=dict)
    description: str | None = None


def check_instance_type(instance_type: str) -> str:
    """A size outside the documented list is probably a typo, or newer than this list: warn in
    one line and let Azure decide (it refuses an unknown size before creating anything)."""
    if instance_type not in MANAGED_INSTANCE_TYPES:
        click.echo(
            f"warning: --instance-type {instance_type} is not in Azure ML's managed online "
            f"endpoints SKU list as this project knows it (e.g. {DEFAULT_INSTANCE_TYPE}); "
            "Azure ML will refuse it if it is not a valid size",
            err=True,
        )
    return instance_type


def endpoint_entity(request: EndpointRequest) -> Any:
    """Key auth: `tracking-demo predict --key` and ACI services work the same way."""
    from azure.ai.ml.entities import ManagedOnlineEndpoint

    return ManagedOnlineEndpoint(
        name=request.endpoint_name,
        auth_mode=KEY_AUTH,
        description=request.description or f"tracking-demo: {request.target.name}",
        tags=dict(request.tags) or None,
    )


def probe() -> Any:
    from azure.ai.ml.entities import ProbeSettings

    return ProbeSettings(
        initial_delay=READINESS_DELAY_S,
        period=PROBE_PERIOD_S,
        timeout=PROBE_TIMEOUT_S,
        failure_threshold=PROBE_FAILURES,
        success_threshold=1,
    )


def deployment_entity(
    request: EndpointRequest, name: str, version: str, code: Path | str, environment: Any
) -> Any:
    """One deployment of NAME:VERSION: the staged upload folder with the entry script, the
    serving environment (a registered reference, an inline one, or the custom image)."""
    from azure.ai.ml.entities import (
        CodeConfiguration,
        ManagedOnlineDeployment,
        OnlineRequestSettings,
    )

    liveness = probe()
    liveness.initial_delay = LIVENESS_DELAY_S
    return ManagedOnlineDeployment(
        name=name,
        endpoint_name=request.endpoint_name,
        model=f"azureml:{request.target.name}:{version}",
        code_configuration=CodeConfiguration(code=str(code), scoring_script=ENTRY_SCRIPT),
        environment=environment,
        instance_type=request.instance_type,
        instance_count=request.instance_count,
        liveness_probe=liveness,
        readiness_probe=probe(),
        request_settings=OnlineRequestSettings(request_timeout_ms=REQUEST_TIMEOUT_MS),
        tags={"model": f"{request.target.name}:{version}", **request.tags},
        description=request.description,
    )


def inline_environment(environment: Any) -> Any:
    """The YAML's environment: image and conda file without a name, as `jobs.submit` writes
    it; Azure ML content-hashes an anonymous environment, so nothing needs registering first."""
    from azure.ai.ml.entities import Environment

    if environment.conda_file is None:
        return Environment(image=environment.image)
    return Environment(image=environment.image, conda_file=environment.conda_file)


def yaml_data(entity: Any, base: Path | None = None) -> dict[str, Any]:
    """The entity as its YAML schema writes it, empty sections out, `code` relative to `base`."""
    from jobs.v2 import dry_run, render

    data: dict[str, Any] = dry_run._without_empty(render.entity_dict(entity))
    environment = data.get("environment")
    if isinstance(environment, dict):
        for key in dry_run.ANONYMOUS_FIELDS:
            environment.pop(key, None)
    code = data.get("code_configuration", {})
    if base is not None and isinstance(code.get("code"), str):
        render.relative_paths(code, base, keys=("code",))
    return data


def to_yaml(data: Mapping[str, Any], kind: str, header: Sequence[str]) -> str:
    """`$schema` first, the header as comments (one line each: a newline would end a comment)."""
    import yaml

    comments = "".join(f"# {' '.join(line.split())}\n" for line in header)
    body = yaml.safe_dump(
        {"$schema": SCHEMAS[kind], **data}, sort_keys=False, default_flow_style=False, width=100
    )
    return comments + body


def upload_folder_name() -> str:
    """The staged code's folder, beside the YAML files `--emit DIR` writes."""
    return UPLOAD_NAME

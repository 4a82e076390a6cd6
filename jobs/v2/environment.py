"""The job's environment as a v2 `Environment`: built by Azure ML from the lock (curated), or the
custom image the pipeline pushed.

Curated: a base image plus a conda file with Python and the lock's pins, versioned by their hash
(`environments.environment_version`), so an unchanged lock reuses the image Azure ML built.
Image: `Environment(image=...)`; v2 has no per-environment registry password, so a private
registry is the workspace's own, an attached one, or one the workspace's identity may pull from
(AcrPull): docs/azure/jobs.md, "Pulling from a private registry".
Serving: the scoring container's own lock (`serving/requirements.lock`), versioned by its hash.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from jobs import environments, serving_lock
from jobs.environments import ImageRef
from tracking_demo.errors import ConfigError

# Azure ML's own base images (the ones SDK v1 defaults to), without the date tag: the v2
# curated environments pin the tag Azure ML publishes as current when the image is built.
CPU_BASE_IMAGE = "mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu22.04"
GPU_BASE_IMAGE = "mcr.microsoft.com/azureml/openmpi4.1.0-cuda11.8-cudnn8-ubuntu22.04"
# A managed online deployment's environment: named apart from the v1 one, whose conda file the
# SDK writes differently (one name and version is one content).
SERVING_ENVIRONMENT_NAME = f"{environments.ENVIRONMENT_NAME}-serving"


def base_image(gpu: bool) -> str:
    return GPU_BASE_IMAGE if gpu else CPU_BASE_IMAGE


def conda_file(packages: list[str]) -> dict[str, Any]:
    """Python from conda-forge (no commercial-use terms), everything else pinned by pip."""
    return {
        "name": environments.ENVIRONMENT_NAME,
        "channels": ["conda-forge"],
        "dependencies": [f"python={environments.PYTHON_VERSION}", "pip", {"pip": packages}],
    }


def curated_environment(requirements: list[str], gpu: bool, data_mode: str) -> Any:
    """The lock's pins on Azure ML's base image, named and versioned like the v1 environment."""
    from azure.ai.ml.entities import Environment

    packages = [*requirements, *(environments.MOUNT_REQUIREMENTS if data_mode == "mount" else ())]
    image = base_image(gpu)
    return Environment(
        name=f"{environments.ENVIRONMENT_NAME}-{'gpu' if gpu else 'cpu'}",
        version=environments.environment_version(packages, image),
        image=image,
        conda_file=conda_file(packages),
        description="tracking-demo's locked dependencies (poetry.lock), versioned by their hash",
    )


def serving_environment(root: Path) -> Any:
    """A managed online deployment's environment: the scoring container's own lock
    (`serving/requirements.lock`, the inference server included) on Azure ML's CPU base image,
    versioned by the lock's hash, so an unchanged lock reuses the image Azure ML built."""
    from azure.ai.ml.entities import Environment

    return Environment(
        name=SERVING_ENVIRONMENT_NAME,
        version=serving_lock.lock_hash(root),
        image=CPU_BASE_IMAGE,
        conda_file=conda_file(serving_lock.pinned_requirements(root)),
        description="tracking-demo's scoring container (serving/requirements.lock), versioned "
        "by the lock's hash",
    )


def image_environment(image: ImageRef, environ: Mapping[str, str]) -> Any:
    """The custom image as it is: Azure ML installs nothing into it."""
    from azure.ai.ml.entities import Environment

    for variable in (
        environments.REGISTRY_USERNAME_VARIABLE,
        environments.REGISTRY_PASSWORD_VARIABLE,
    ):
        if environ.get(variable):
            raise ConfigError(
                f"{variable} is set, but SDK v2 takes no registry password per environment: "
                "attach the registry to the workspace or grant the workspace's identity AcrPull "
                "on it (docs/azure/jobs.md: Pulling from a private registry), or use --sdk v1"
            )
    return Environment(image=image.reference)


def reference(environment: Any) -> str:
    """`azureml:NAME:VERSION`, how a job names a registered environment."""
    return f"azureml:{environment.name}:{environment.version}"

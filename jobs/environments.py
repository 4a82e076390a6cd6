"""The two environments a job can run in: built from poetry.lock ("curated"), or the custom image.

Azure ML builds a conda/pip environment into an image the first time a new environment version
is used (10-30 minutes). The version here is a hash of everything that goes into that build
(the exported lock, Python, base image), so an unchanged lock reuses the built image and any
change to the lock gets a new version instead of silently running stale dependencies.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tracking_demo.errors import ConfigError

PYTHON_VERSION = "3.11"
ENVIRONMENT_NAME = "tracking-demo"
IMAGE_INTERPRETER = "/opt/venv/bin/python"
REGISTRY_USERNAME_VARIABLE = "TRACKING_DEMO_REGISTRY_USERNAME"
REGISTRY_PASSWORD_VARIABLE = "TRACKING_DEMO_REGISTRY_PASSWORD"
# Dataset mounts go through FUSE; downloads do not need it.
MOUNT_REQUIREMENTS = ("fusepy>=3.0.1,<4",)
# A web service's image runs Azure ML's inference HTTP server; its packages come from the
# scoring container's own lock (`serving/requirements.lock`, jobs.serving_lock).
SERVING_PACKAGE = "azureml-inference-server-http"
SERVING_ENVIRONMENT_NAME = f"{ENVIRONMENT_NAME}-serving-cpu"
_REGISTRY = re.compile(
    r"^(localhost|[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+)(:[0-9]+)?$|^localhost:[0-9]+$"
)
_NAME_COMPONENT = re.compile(r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$")
_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")


@dataclass(frozen=True)
class ImageRef:
    """REGISTRY/NAME:TAG (or @sha256:...), split so the registry can get its credentials."""

    reference: str
    registry: str | None
    tag: str | None
    digest: str | None


def environment_image(environment: str, image: str | None) -> ImageRef | None:
    """`--environment` and `--image` together: the image is needed with, and only with, `image`."""
    if environment == "image" and not image:
        raise ConfigError("--environment image needs --image REGISTRY/NAME:TAG")
    if environment == "curated" and image:
        raise ConfigError("--image is only used with --environment image")
    return parse_image(image) if image else None


def parse_image(reference: str) -> ImageRef:
    """An image a job can pin: a tag or a digest is required, `latest` drifts but is allowed."""
    text = reference.strip()
    expected = "expected REGISTRY/NAME:TAG, e.g. myacr.azurecr.io/tracking-demo:1234"
    name, _, digest = text.partition("@")
    components = name.split("/")
    last, _, tag = components[-1].partition(":")
    registry = components[0] if len(components) > 1 and _REGISTRY.match(components[0]) else None
    path = [*components[1 if registry else 0 : -1], last]
    valid = (
        all(_NAME_COMPONENT.match(part) for part in path)
        and (not tag or _TAG.match(tag))
        and (not digest or _DIGEST.match(digest))
    )
    if not valid:
        raise ConfigError(f"--image '{reference}' is not an image reference ({expected})")
    if not tag and not digest:
        raise ConfigError(
            f"--image '{reference}' has no tag: give REGISTRY/NAME:TAG (or @sha256:DIGEST) so "
            "the job runs the image you built, not whatever 'latest' is then"
        )
    return ImageRef(text, registry, tag or None, digest or None)


def find_poetry(root: Path, environ: Mapping[str, str]) -> str:
    """Poetry as scripts/setup.sh installs it, `$POETRY`, or the one on PATH."""
    for candidate in (environ.get("POETRY"), root / ".tools/poetry/bin/poetry"):
        if candidate and Path(candidate).is_file():
            return str(candidate)
    on_path = shutil.which("poetry")
    if on_path:
        return on_path
    raise ConfigError(
        "Poetry is needed to export poetry.lock for the curated environment: run "
        "`bash scripts/setup.sh` (installs it in .tools/poetry) or set POETRY"
    )


def locked_requirements(
    root: Path, gpu: bool, environ: Mapping[str, str] = os.environ
) -> list[str]:
    """The lock's main dependencies (and the gpu extra) as pinned requirement lines."""
    lock = root / "poetry.lock"
    if not lock.is_file():
        raise ConfigError(f"'{lock}' does not exist: the curated environment is built from it")
    command = [
        find_poetry(root, environ),
        "export",
        "--only",
        "main",
        "--without-hashes",
        "--format",
        "requirements.txt",
    ]
    if gpu:
        command += ["--extras", "gpu"]
    result = subprocess.run(
        command, cwd=root, capture_output=True, text=True, timeout=120, check=False
    )
    if result.returncode != 0:
        raise ConfigError(f"poetry export failed in {root}: {result.stderr.strip()[-400:]}")
    return [
        line.strip()
        for line in result.stdout.splitlines()
        if line.strip() and not line.lstrip().startswith(("#", "-"))
    ]


def environment_version(requirements: list[str], base_image: str) -> str:
    """Same inputs, same version: what lets Azure ML reuse the image it already built."""
    digest = hashlib.sha256()
    for part in (PYTHON_VERSION, base_image, *requirements):
        digest.update(part.encode())
        digest.update(b"\n")
    return digest.hexdigest()[:16]


def curated_environment(requirements: list[str], gpu: bool, data_mode: str) -> Any:
    """An Azure ML-built environment: its base image, Python pinned, the locked packages."""
    from azureml.core.environment import DEFAULT_CPU_IMAGE, DEFAULT_GPU_IMAGE

    packages = [*requirements, *(MOUNT_REQUIREMENTS if data_mode == "mount" else ())]
    base_image = DEFAULT_GPU_IMAGE if gpu else DEFAULT_CPU_IMAGE
    name = f"{ENVIRONMENT_NAME}-{'gpu' if gpu else 'cpu'}"
    return _conda_environment(name, environment_version(packages, base_image), packages, base_image)


def serving_environment(root: Path) -> Any:
    """A web service's environment (ACI, SDK v1): the scoring container's own lock on Azure ML's
    CPU base image, versioned by the lock's hash, the version managed online endpoints use too.
    It cannot be cut from poetry.lock: the inference server needs an older opentelemetry."""
    from azureml.core.environment import DEFAULT_CPU_IMAGE

    from jobs import serving_lock

    packages = serving_lock.pinned_requirements(root)
    return _conda_environment(
        SERVING_ENVIRONMENT_NAME, serving_lock.lock_hash(root), packages, DEFAULT_CPU_IMAGE
    )


def _conda_environment(name: str, version: str, packages: list[str], base_image: str) -> Any:
    """Python pinned, the packages by pip, conda-forge only, on `base_image`."""
    from azureml.core import Environment
    from azureml.core.conda_dependencies import CondaDependencies

    environment = Environment(name)
    environment.version = version
    environment.environment_variables.clear()  # the SDK's EXAMPLE_ENV_VAR; jobs set theirs
    dependencies = CondaDependencies.create(
        python_version=PYTHON_VERSION, pip_packages=packages, pin_sdk_version=False
    )
    for option in list(dependencies.pip_options):
        dependencies.remove_pip_option(option)  # the SDK adds its own index: use the default
    dependencies.remove_channel("anaconda")  # conda-forge alone: no commercial-use terms
    environment.python.conda_dependencies = dependencies
    environment.docker.base_image = base_image
    return environment


def image_environment(image: ImageRef, gpu: bool, environ: Mapping[str, str] = os.environ) -> Any:
    """The custom image with user-managed dependencies: Azure ML installs nothing into it.

    A private registry other than the workspace's own needs credentials: they come from
    environment variables and go only into the SDK object, never into output.
    """
    from azureml.core import Environment

    environment = Environment(f"{ENVIRONMENT_NAME}-image-{'gpu' if gpu else 'cpu'}")
    environment.environment_variables.clear()  # the SDK's EXAMPLE_ENV_VAR; jobs set theirs
    environment.docker.base_image = image.reference
    environment.python.user_managed_dependencies = True
    environment.python.interpreter_path = IMAGE_INTERPRETER
    username = environ.get(REGISTRY_USERNAME_VARIABLE)
    password = environ.get(REGISTRY_PASSWORD_VARIABLE)
    if bool(username) != bool(password):
        raise ConfigError(
            f"set both {REGISTRY_USERNAME_VARIABLE} and {REGISTRY_PASSWORD_VARIABLE} for a "
            "private registry, or neither (the workspace's own registry needs none)"
        )
    if username and password:
        if image.registry is None:
            raise ConfigError(
                f"registry credentials are set but --image '{image.reference}' names no "
                "registry (expected REGISTRY/NAME:TAG)"
            )
        registry = environment.docker.base_image_registry
        registry.address = image.registry
        registry.username = username
        registry.password = password
    return environment


def environment_spec(environment: Any) -> dict[str, Any]:
    """The environment as the SDK serializes it for the service, with the password masked."""
    from azureml.core import Environment

    spec = Environment._serialize_to_dict(environment)
    registry = spec.get("docker", {}).get("baseImageRegistry") or {}
    if registry.get("password"):
        registry["password"] = "***"
    for unused in ("spark", "databricks", "r"):
        spec.pop(unused, None)
    return spec

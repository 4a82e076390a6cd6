"""The training image itself: built from the Dockerfile, it runs a job the way Azure ML does.

Builds the CPU image with docker/build.sh (buildah, over the debootstrapped bookworm base) and
runs `tracking-demo train moons` inside it against a real MLflow server on the host loopback,
then asserts through MlflowClient what the job leaves behind (docker/check_job.py). Needs root,
buildah and debootstrap (scripts/test.sh installs them as root); without them it fails, since a
skip would pass CI with an image nobody built. From scratch it takes about 6 minutes on two
cores; with the layers cached, about 2 minutes.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from tests.support.server import running_server

from tracking_demo.server.local import LocalServer

pytestmark = [pytest.mark.image, pytest.mark.slow, pytest.mark.timeout(2400)]

TAG = "localhost/tracking-demo:image-test"
BUILD_TIMEOUT = 2100


def _require_build_tools() -> None:
    tools = ("buildah", "debootstrap")
    problems = [f"'{tool}' is missing" for tool in tools if not shutil.which(tool)]
    if os.geteuid() != 0:
        problems.append("it needs root (debootstrap, buildah's chroot isolation)")
    if problems:
        pytest.fail(
            f"image test cannot build the image: {'; '.join(problems)}. As root, "
            "`bash docker/install-tools.sh` installs buildah and debootstrap (scripts/test.sh "
            "runs it); or deselect this test with -m 'not image'",
            pytrace=False,
        )


def _buildah_env() -> dict[str, str]:
    """The storage settings docker/build.sh and docker/run.sh use, for direct buildah calls."""
    env = {**os.environ, "BUILDAH_ISOLATION": os.environ.get("BUILDAH_ISOLATION", "chroot")}
    if "STORAGE_DRIVER" not in env:
        probe = subprocess.run(["buildah", "info"], capture_output=True, timeout=60, env=env)
        if probe.returncode != 0:
            env["STORAGE_DRIVER"] = "vfs"
    return env


def _buildah(*args: str) -> str:
    result = subprocess.run(
        ["buildah", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=_buildah_env(),
        check=False,
    )
    assert result.returncode == 0, f"buildah {' '.join(args)}: {result.stderr.strip()}"
    return result.stdout


def _containers_of(image: str) -> list[str]:
    containers = json.loads(_buildah("containers", "--json") or "null") or []  # none: "null"
    return [c["id"] for c in containers if c.get("imagename") == image]


@pytest.fixture(scope="module")
def check_job(pytestconfig: pytest.Config) -> ModuleType:
    """docker/check_job.py, the same check `bash docker/build.sh --check` runs."""
    path = pytestconfig.rootpath / "docker" / "check_job.py"
    spec = importlib.util.spec_from_file_location("check_job", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def image(pytestconfig: pytest.Config) -> Iterator[str]:
    """The CPU image, built (or, with its layers cached, rebuilt in seconds) by docker/build.sh.

    Afterwards no container of it may be left: docker/run.sh removes each one it starts, and
    any left by an interrupted run are removed here before the assertion fails the test.
    """
    _require_build_tools()
    root = pytestconfig.rootpath
    started = time.monotonic()
    try:
        result = subprocess.run(
            ["bash", str(root / "docker" / "build.sh"), "--tag", TAG],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=BUILD_TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"docker/build.sh did not finish within {BUILD_TIMEOUT}s", pytrace=False)
    if result.returncode != 0:
        tail = "\n".join((result.stdout + result.stderr).splitlines()[-40:])
        pytest.fail(f"docker/build.sh --tag {TAG} exited {result.returncode}:\n{tail}")
    pytestconfig.stash[BUILD_SECONDS] = round(time.monotonic() - started, 1)
    # The scripts' own timing and size lines, for the JUnit report.
    pytestconfig.stash[BUILD_LINES] = [
        line for line in result.stderr.splitlines() if line.startswith(("build:", "base-image:"))
    ]
    yield TAG
    left = _containers_of(TAG)
    for container in left:
        _buildah("rm", container)
    assert not left, f"containers of {TAG} were left behind (removed now): {left}"


BUILD_SECONDS = pytest.StashKey[float]()
BUILD_LINES = pytest.StashKey[list[str]]()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[LocalServer]:
    """A real MLflow server for this test alone; its whole process group must be gone after."""
    with running_server(tmp_path / "server") as server:
        yield server


def _run(root: Path, image: str, *command: str) -> str:
    result = subprocess.run(
        ["bash", str(root / "docker" / "run.sh"), image, "--", *command],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, f"{' '.join(command)} in {image}: {result.stderr.strip()}"
    return result.stdout.strip()


def test_a_training_job_in_the_image_leaves_a_finished_registered_run(
    pytestconfig: pytest.Config,
    image: str,
    check_job: ModuleType,
    server: LocalServer,
    tmp_path: Path,
    record_testsuite_property: Any,
) -> None:
    workdir = tmp_path / "job"
    workdir.mkdir()
    try:
        runner = pytestconfig.rootpath / "docker" / "run.sh"
        summary = check_job.check(image, runner, workdir, server)
    except check_job.CheckFailed as error:
        pytest.fail(f"the job in {image} did not leave a complete run: {error}", pytrace=False)
    assert summary["status"] == "FINISHED"
    assert summary["model"] == f"{check_job.MODEL_NAME}:1"
    assert summary["version"] == "tracking-demo, version 0.1.0"
    # In the JUnit report, so CI's build time and image size can be read without its log.
    record_testsuite_property("image_build_seconds", pytestconfig.stash.get(BUILD_SECONDS, ""))
    record_testsuite_property(
        "image_build_log", " | ".join(pytestconfig.stash.get(BUILD_LINES, []))
    )
    record_testsuite_property("image_job_seconds", summary["job_seconds"])


def test_the_image_is_the_cpu_variant_with_the_job_entrypoint(
    pytestconfig: pytest.Config, image: str
) -> None:
    config = json.loads(_buildah("inspect", "--type", "image", image))["OCIv1"]["config"]
    assert config["Entrypoint"] == ["/usr/local/bin/job-entrypoint"]
    assert config["Cmd"] == ["--help"]
    assert config["User"] == "1000:1000", "jobs run as the non-root user trainer"
    assert config["Labels"]["io.github.tracking-demo.variant"] == "cpu"
    assert not any(env.startswith("NVIDIA_") for env in config["Env"])

    root = pytestconfig.rootpath
    assert _run(root, image, "job-entrypoint", "--version") == "tracking-demo, version 0.1.0"
    assert "Usage: tracking-demo" in _run(root, image, "job-entrypoint")
    # Any other command runs as given: what a platform that keeps the entrypoint relies on.
    python = "import sys, tensorflow; print(sys.version_info[:2], tensorflow.__version__ > '2')"
    assert _run(root, image, "job-entrypoint", "python", "-c", python) == "(3, 11) True"
    assert _run(root, image, "job-entrypoint", "id", "-u") == "1000"

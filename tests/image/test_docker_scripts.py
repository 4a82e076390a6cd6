"""docker/: the daemonless build helpers parse, and refuse bad use with a usage line."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest


@pytest.fixture(scope="module")
def docker_dir(pytestconfig: pytest.Config) -> Path:
    return pytestconfig.rootpath / "docker"


def _bash(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", *map(str, args)], capture_output=True, text=True, timeout=30, check=False
    )


@pytest.mark.parametrize("script", ["base-image.sh", "build.sh", "run.sh"])
def test_script_parses(docker_dir: Path, script: str) -> None:
    result = _bash("-n", docker_dir / script)
    assert (result.returncode, result.stderr) == (0, "")


def test_run_without_a_command_prints_usage(docker_dir: Path) -> None:
    result = _bash(docker_dir / "run.sh", "localhost/tracking-demo:dev")
    assert result.returncode == 2
    assert "docker/run.sh IMAGE [buildah run options] -- COMMAND" in result.stderr


def test_build_rejects_an_unknown_option(docker_dir: Path) -> None:
    result = _bash(docker_dir / "build.sh", "--push")
    assert (result.returncode, result.stderr.strip()) == (
        2,
        "build: unknown option '--push' (see --help)",
    )


def test_build_help_names_the_check(docker_dir: Path) -> None:
    result = _bash(docker_dir / "build.sh", "--help")
    assert result.returncode == 0
    assert "bash docker/build.sh --check" in result.stdout

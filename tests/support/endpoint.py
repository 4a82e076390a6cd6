"""Start `tracking-demo serve` as a user would (its own process group) and always tear it down."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tracking_demo.cli.serving import KEY_VARIABLE as SERVING_KEY_VARIABLE
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

    def command_lines(self) -> list[str]:
        """What `ps` shows for every process of the endpoint's group."""
        return group_command_lines(self.process.pid)

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"} if self.key else {}


def group_command_lines(pgid: int) -> list[str]:
    """The command line of every live process in group `pgid`, as /proc (and `ps`) shows it."""
    lines = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            if os.getpgid(int(proc.name)) != pgid:
                continue
            lines.append((proc / "cmdline").read_bytes().replace(b"\0", b" ").decode())
        except (OSError, ProcessLookupError):
            continue
    return lines


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
    key_file: Path | None = None,
) -> Iterator[RunningEndpoint]:
    """`tracking-demo serve ARGS --port FREE` until the block ends, with KEY in
    `$TRACKING_DEMO_SERVING_KEY` (as the help advises: never on the command line), in `key_file`
    (`--key-file`), or `--no-auth` when KEY is None; `generate_key` gives none, so serve makes a
    key (read it from `output()`)."""
    port = find_free_port()
    given = not generate_key and key is not None
    auth = [] if generate_key or given else ["--no-auth"]
    key_env: dict[str, str] = {}
    if given and key_file is not None:
        key_file.write_text(f"{key}\n")
        auth = ["--key-file", str(key_file)]
    elif given and key is not None:
        key_env = {SERVING_KEY_VARIABLE: key}
    stdout, stderr = tmp_path / f"serve-{port}.out", tmp_path / f"serve-{port}.err"
    process = start_group(
        [sys.executable, "-m", "tracking_demo", "serve", *args, "--port", str(port), *auth],
        output=stdout,
        errors=stderr,
        env=serve_env({**(env or {}), **key_env}),
        cwd=tmp_path,
    )
    endpoint = RunningEndpoint(f"http://127.0.0.1:{port}/score", key, process, stdout, stderr)
    try:
        if ready:
            wait_ready(endpoint)
        yield endpoint
    finally:
        stop(process)

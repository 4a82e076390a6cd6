"""`jobs.deploy --local`: the registered model served here as the container would see it.

The version is downloaded from an MLflow registry into Azure ML's layout (`serving_stage`), then
served by `tracking-demo serve` in its own process group with `AZUREML_MODEL_DIR` set, the same
`init()`/`run()` the entry script calls; `--check` posts the model's own input example once.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import IO, Any

import click

from jobs import serving_stage
from jobs.deploy_target import ModelTarget, mlflow_client, resolve_version
from tracking_demo.errors import TrackingDemoError
from tracking_demo.server.processes import start_group, stop_process_group, wait_answering

LOCAL_HOST = "127.0.0.1"
DEFAULT_PORT = 8000
READY_TIMEOUT_S = 180.0
STOP_TIMEOUT_S = 15.0


class DeployFailedError(TrackingDemoError):
    """The service (or the local endpoint) did not come up, or answered the check wrongly."""


class LocalEndpoint:
    """`tracking-demo serve` in its own process group, as the container runs the entry script."""

    def __init__(self, model_dir: Path, port: int, key: str | None, log: Path) -> None:
        self.port = port
        self.key = key
        self.log = log
        self.uri = f"http://{LOCAL_HOST}:{port}"
        self.process: subprocess.Popen[bytes] | None = None
        self.model_dir = model_dir

    def command(self) -> list[str]:
        auth = [] if self.key else ["--no-auth"]
        return [
            sys.executable,
            "-m",
            "tracking_demo",
            "serve",
            "--host",
            LOCAL_HOST,
            "--port",
            str(self.port),
            *auth,
        ]

    def start(self, environ: Mapping[str, str]) -> None:
        from tracking_demo.cli.serving import KEY_VARIABLE

        env = dict(environ)
        env["AZUREML_MODEL_DIR"] = str(self.model_dir)
        env.pop(KEY_VARIABLE, None)
        if self.key:
            env[KEY_VARIABLE] = self.key  # serve's --key, kept off the process list
        self.process = start_group(self.command(), output=self.log, errors=subprocess.PIPE, env=env)
        assert self.process.stderr is not None
        threading.Thread(
            target=_forward_log, args=(self.process.stderr,), name="endpoint-log", daemon=True
        ).start()

    def wait_ready(self, timeout: float = READY_TIMEOUT_S) -> None:
        """Wait for `/ready`; why it failed is in its stderr, which `_forward_log` copies."""
        assert self.process is not None
        wait_answering(
            self.process,
            f"{self.uri}/ready",
            timeout,
            name="the local endpoint",
            error=DeployFailedError,
        )

    def score(self, payload: Any) -> tuple[int, Any]:
        import requests

        headers = {"Authorization": f"Bearer {self.key}"} if self.key else {}
        response = requests.post(f"{self.uri}/score", json=payload, headers=headers, timeout=60)
        try:
            return response.status_code, response.json()
        except ValueError:
            return response.status_code, response.text

    def stop(self) -> None:
        """SIGTERM the whole group, then SIGKILL what is left; reap the child."""
        if self.process is not None:
            stop_process_group(self.process.pid, STOP_TIMEOUT_S, self.process)


def _forward_log(stream: IO[bytes]) -> None:
    """The endpoint's stderr (errors, access log) to ours, without the /ready polls."""
    for line in stream:
        with contextlib.suppress(ValueError, AttributeError):
            if json.loads(line).get("path") == "/ready":
                continue
        sys.stderr.write(line.decode(errors="replace"))
        sys.stderr.flush()


@contextlib.contextmanager
def _sigterm_as_exit() -> Iterator[None]:
    """A SIGTERM to this process stops the endpoint too (it runs in its own session)."""
    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))
        try:
            yield
        finally:
            signal.signal(signal.SIGTERM, previous)
    else:
        yield


def run_local(
    target: ModelTarget,
    tracking_uri: str | None,
    port: int,
    auth: bool,
    check: bool,
    environ: Mapping[str, str] = os.environ,
) -> dict[str, Any] | None:
    """Download the version as Azure lays it out, serve it, then check it or serve until Ctrl-C."""
    import mlflow

    from tracking_demo.serving.model import find_model_dir
    from tracking_demo.tracking.settings import resolve_tracking_uri

    uri = resolve_tracking_uri(tracking_uri, environ)
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    version = resolve_version(mlflow_client(uri), target)
    model_ref = f"{target.name}:{version}"
    with tempfile.TemporaryDirectory(prefix="tracking-demo-deploy-") as scratch:
        model_dir = serving_stage.stage_model(target.name, version, Path(scratch))
        click.echo(f"{model_ref} downloaded to AZUREML_MODEL_DIR={model_dir}", err=True)
        key = secrets.token_urlsafe(24) if auth else None
        endpoint = LocalEndpoint(model_dir, port, key, Path(scratch) / "serve.log")
        with _sigterm_as_exit():
            try:
                endpoint.start(environ)
                endpoint.wait_ready()
                scoring_uri = f"{endpoint.uri}/score"
                if check:
                    payload = serving_stage.example_payload(find_model_dir(model_dir))
                    status, answer = endpoint.score(payload)
                    if status != 200:
                        raise DeployFailedError(
                            f"POST {scoring_uri} answered {status}: {json.dumps(answer)[:300]}"
                        )
                    assert endpoint.process is not None
                    return {
                        "model": model_ref,
                        "scoring_uri": scoring_uri,
                        "request": payload,
                        "response": answer,
                        "server_pid": endpoint.process.pid,
                    }
                click.echo(f"Scoring URI: {scoring_uri}   (model {model_ref})")
                click.echo(f"Key: {key}" if key else "Authentication: off (--no-auth)")
                click.echo("Serving until Ctrl-C.", err=True)
                assert endpoint.process is not None
                code = endpoint.process.wait()
                raise DeployFailedError(f"the local endpoint exited {code}")
            except KeyboardInterrupt:
                click.echo("stopping the local endpoint", err=True)
                return None
            finally:
                endpoint.stop()

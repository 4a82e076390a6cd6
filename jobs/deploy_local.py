"""`jobs.deploy local`: the registered model served here as a scoring container serves it.

The version is downloaded from an MLflow registry into Azure ML's layout (`serving_stage`) and
served by Azure's own inference server (`azmlinfsrv`, from the serving lock's venv:
`jobs.inference_server`) around the entry script in the upload folder `jobs.deploy` sends, in its
own process group; `--check` posts the model's own input example once. There is no key: Azure's
container checks none (a managed endpoint checks keys at its gateway), so it listens on loopback
only. `tracking-demo serve` stays the fast local server, with keys.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import click

from jobs import inference_server, serving_stage, snapshot
from jobs.deploy_target import ModelTarget, mlflow_client, resolve_version
from tracking_demo.errors import TrackingDemoError
from tracking_demo.server.processes import LOOPBACK

LOCAL_HOST = LOOPBACK
DEFAULT_PORT = 8000
# The repository these submitters live in: its snapshot is the upload folder, its .tools/ the
# serving venv's cache.
ROOT = Path(__file__).resolve().parents[1]
FOLLOW_INTERVAL_S = 0.2


class DeployFailedError(TrackingDemoError):
    """The service (or the local endpoint) did not come up, or answered the check wrongly."""


def _score(uri: str, payload: Any) -> tuple[int, Any]:
    import requests

    response = requests.post(uri, json=payload, timeout=60)
    try:
        return response.status_code, response.json()
    except ValueError:
        return response.status_code, response.text


def _follow(log: Path, done: threading.Event) -> None:
    """The server's log (its start-up, each request) to our stderr while it serves."""
    while not log.exists():
        if done.wait(FOLLOW_INTERVAL_S):
            return
    with log.open(errors="replace") as lines:
        while not done.is_set():
            line = lines.readline()
            if line:
                sys.stderr.write(line)
                sys.stderr.flush()
            else:
                time.sleep(FOLLOW_INTERVAL_S)


@contextlib.contextmanager
def _sigterm_as_exit() -> Iterator[None]:
    """A SIGTERM to this process stops the server too (it runs in its own session)."""
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
    check: bool,
    environ: Mapping[str, str] = os.environ,
) -> dict[str, Any] | None:
    """Download the version as Azure lays it out, serve it under azmlinfsrv, then check it (the
    answer is returned) or serve until Ctrl-C (None)."""
    import mlflow

    from tracking_demo.serving.model import find_model_dir
    from tracking_demo.tracking.settings import resolve_tracking_uri

    uri = resolve_tracking_uri(tracking_uri, environ)
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    version = resolve_version(mlflow_client(uri), target)
    model_ref = f"{target.name}:{version}"
    environment = inference_server.ensure_environment(ROOT, environ)
    with tempfile.TemporaryDirectory(prefix="tracking-demo-deploy-") as scratch_dir:
        scratch = Path(scratch_dir)
        model_dir = serving_stage.stage_model(target.name, version, scratch)
        click.echo(f"{model_ref} downloaded to AZUREML_MODEL_DIR={model_dir}", err=True)
        source = serving_stage.stage_source(snapshot.take(ROOT), scratch)
        server = inference_server.InferenceServer(
            environment, source, model_dir, scratch / "azmlinfsrv.log", port=port, environ=environ
        )
        done = threading.Event()
        with _sigterm_as_exit():
            try:
                if not check:
                    threading.Thread(
                        target=_follow, args=(server.log, done), name="azmlinfsrv-log", daemon=True
                    ).start()
                server.start()
                assert server.process is not None
                if check:
                    payload = serving_stage.example_payload(find_model_dir(model_dir))
                    status, answer = _score(server.scoring_uri, payload)
                    if status != 200:
                        raise DeployFailedError(
                            f"POST {server.scoring_uri} answered {status}: "
                            f"{json.dumps(answer)[:300]}"
                        )
                    return {
                        "model": model_ref,
                        "scoring_uri": server.scoring_uri,
                        "request": payload,
                        "response": answer,
                        "server_pid": server.process.pid,
                    }
                click.echo(f"Scoring URI: {server.scoring_uri}   (model {model_ref}, azmlinfsrv)")
                click.echo(
                    "Authentication: none here (a managed endpoint checks keys at its gateway)"
                )
                click.echo("Serving until Ctrl-C.", err=True)
                code = server.process.wait()
                raise DeployFailedError(f"azmlinfsrv exited {code}")
            except KeyboardInterrupt:
                click.echo("stopping the local inference server", err=True)
                return None
            finally:
                done.set()
                server.stop()

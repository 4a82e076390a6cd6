"""Azure's inference server here: what the serving environment costs, and how it serves.

Run: .venv/bin/python benchmarks/azure_server.py [--requests 300] [--no-cold]

Measured, in one run:
- the serving environment's install (`jobs.inference_server.ensure_environment`): cold, into a
  fresh folder holding only a copy of `serving/requirements.lock` (pip's own download cache and
  any local wheel folder pip is configured with still count: a first install on a bare machine
  downloads more), and cached (the stamp is found; nothing runs). `--no-cold` skips the cold one
  (about 3 GB of disk for a few minutes);
- per model (the moons forest of the tutorial's grid; the MNIST CNN, one epoch on the offline
  4,000-digit sample), trained against a throw-away local MLflow server, registered, and staged
  as `jobs.deploy` stages it: `init()` as the entry script reports it under azmlinfsrv, and the
  time from starting each server to its first answer (`GET /` for azmlinfsrv, `/ready` for
  `tracking-demo serve`);
- request latency of one example, `{"data": [...]}` as the tutorials send it, the same body to
  both servers at once running side by side: `--requests` sequential requests per server in
  rounds that alternate the order, after 20 warm-up requests. Each server gets one
  `requests.Session`: serve keeps the connection alive, azmlinfsrv's gunicorn sync worker closes
  it after every answer, as it does in the container.

Printed: a Markdown table of the figures. On a 2-core machine the client, both servers and
TensorFlow share the cores: compare the columns, not the figures across machines.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import re
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import requests

from jobs import inference_server, serving_lock, serving_stage, snapshot
from tracking_demo.server.local import LocalServer
from tracking_demo.server.processes import (
    find_free_port,
    start_group,
    stop_process_group,
    wait_answering,
)

ROOT = Path(__file__).resolve().parents[1]
WARM_UP = 20
ROUNDS = 5
INIT_LINE = re.compile(r"init\(\) loaded the model in ([0-9.]+)s")


@dataclass
class ModelFigures:
    name: str
    init_s: float
    azure_ready_s: float
    serve_ready_s: float
    azure_ms: list[float]
    serve_ms: list[float]


def timed_install(root: Path) -> float:
    started = time.perf_counter()
    inference_server.ensure_environment(root)
    return time.perf_counter() - started


def cold_install_s() -> float:
    """Into a fresh folder holding only the lock; removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="azsrv-cold-") as scratch:
        root = Path(scratch)
        (root / serving_lock.LOCK).parent.mkdir(parents=True)
        shutil.copy2(ROOT / serving_lock.LOCK, root / serving_lock.LOCK)
        return timed_install(root)


def register_models(server: LocalServer, scratch: Path) -> dict[str, tuple[str, str, Any]]:
    """NAME -> (registered name, version, one example as a JSON-ready list)."""
    from tracking_demo.data import mnist
    from tracking_demo.data.moons import MoonsSpec, write
    from tracking_demo.tasks.mnist import NetworkOptions, train_network
    from tracking_demo.tasks.moons import MoonsOptions, train
    from tracking_demo.tracking.session import TrackingSession
    from tracking_demo.tracking.settings import TrackingSettings

    session = TrackingSession(TrackingSettings(uri=server.uri, experiment="azure-server-bench"))
    moons_dir, mnist_dir = scratch / "moons", scratch / "mnist"
    write(MoonsSpec(), moons_dir)
    mnist.write_sample(mnist_dir)
    moons = train(MoonsOptions(moons_dir, register_as="bench-moons"), session)
    cnn = train_network(
        NetworkOptions(mnist_dir, epochs=1, verbose=0, tensorboard=False, register_as="bench-cnn"),
        session,
    )
    digit = np.round(np.random.default_rng(0).random(784), 3).tolist()
    return {
        "moons forest": ("bench-moons", str(moons.registered_version), [[0.5, -0.2]]),
        "MNIST CNN": ("bench-cnn", str(cnn.registered_version), [digit]),
    }


@contextlib.contextmanager
def tracking_demo_serve(model_path: Path, log: Path) -> Iterator[tuple[str, float]]:
    """`tracking-demo serve MODEL --no-auth` on a free port: (scoring URI, seconds to /ready)."""
    port = find_free_port()
    started = time.perf_counter()
    command = [sys.executable, "-m", "tracking_demo", "serve", str(model_path)]
    process = start_group([*command, "--port", str(port), "--no-auth"], output=log)
    try:
        uri = f"http://127.0.0.1:{port}"
        wait_answering(process, f"{uri}/ready", 300, name="tracking-demo serve", log=log)
        yield f"{uri}/score", time.perf_counter() - started
    finally:
        stop_process_group(process.pid, 15, process)


def latencies(uris: dict[str, str], body: bytes, count: int) -> dict[str, list[float]]:
    """Milliseconds per request, the servers taking turns in alternating order."""
    sessions = {name: requests.Session() for name in uris}
    headers = {"Content-Type": "application/json"}
    for name, uri in uris.items():
        for _ in range(WARM_UP):
            sessions[name].post(uri, data=body, headers=headers, timeout=60).raise_for_status()
    found: dict[str, list[float]] = {name: [] for name in uris}
    order = list(uris)
    for round_index in range(ROUNDS):
        for name in order if round_index % 2 == 0 else reversed(order):
            for _ in range(count // ROUNDS):
                started = time.perf_counter()
                answer = sessions[name].post(uris[name], data=body, headers=headers, timeout=60)
                found[name].append((time.perf_counter() - started) * 1000)
                if answer.status_code != 200:
                    raise RuntimeError(f"{name} answered {answer.status_code}: {answer.text}")
    return found


def measure_model(
    label: str,
    model: tuple[str, str, Any],
    environment: Path,
    source: Path,
    scratch: Path,
    count: int,
) -> ModelFigures:
    name, version, example = model
    model_dir = serving_stage.stage_model(name, version, scratch / label.replace(" ", "-"))
    model_path = next(p.parent for p in model_dir.rglob("MLmodel"))
    log = scratch / f"{name}-azmlinfsrv.log"
    started = time.perf_counter()
    with inference_server.InferenceServer(environment, source, model_dir, log) as azure:
        azure_ready = time.perf_counter() - started
        init = INIT_LINE.search(azure.log_text())
        with tracking_demo_serve(model_path, scratch / f"{name}-serve.log") as (uri, serve_ready):
            body = json.dumps({"data": example}).encode()
            found = latencies({"azure": azure.scoring_uri, "serve": uri}, body, count)
    return ModelFigures(
        label,
        float(init.group(1)) if init else float("nan"),
        azure_ready,
        serve_ready,
        found["azure"],
        found["serve"],
    )


def percentile(values: list[float], fraction: float) -> float:
    return float(np.percentile(values, fraction * 100))


def report(cold: float | None, cached: float, figures: list[ModelFigures], count: int) -> str:
    lines = [
        "| measure | azmlinfsrv 1.5.1 + entry script | tracking-demo serve |",
        "|---|---|---|",
        f"| serving venv install, cold (fresh folder) | "
        f"{'skipped' if cold is None else f'{cold:.0f} s'} | - |",
        f"| serving venv install, cached | {cached * 1000:.1f} ms | - |",
    ]
    for model in figures:
        lines += [
            f"| {model.name}: init() | {model.init_s:.2f} s | - |",
            f"| {model.name}: start to first answer | {model.azure_ready_s:.1f} s | "
            f"{model.serve_ready_s:.1f} s |",
            f"| {model.name}: latency p50 / p95 ({count} requests, 1 example) | "
            f"{percentile(model.azure_ms, 0.5):.1f} / {percentile(model.azure_ms, 0.95):.1f} ms | "
            f"{percentile(model.serve_ms, 0.5):.1f} / {percentile(model.serve_ms, 0.95):.1f} ms |",
        ]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=300, help="per server and model")
    parser.add_argument("--no-cold", action="store_true", help="skip the cold install")
    args = parser.parse_args()
    cold = None if args.no_cold else cold_install_s()
    environment = inference_server.ensure_environment(ROOT)
    cached = timed_install(ROOT)
    with tempfile.TemporaryDirectory(prefix="azsrv-bench-") as tmp:
        scratch = Path(tmp)
        server = LocalServer(scratch / "mlflow", port=find_free_port())
        server.start(timeout=120)
        try:
            import mlflow

            mlflow.set_tracking_uri(server.uri)
            mlflow.set_registry_uri(server.uri)
            with contextlib.redirect_stdout(sys.stderr):  # MLflow's run links
                models = register_models(server, scratch)
            source = serving_stage.stage_source(snapshot.take(ROOT), scratch)
            figures = [
                measure_model(label, model, environment, source, scratch, args.requests)
                for label, model in models.items()
            ]
        finally:
            server.stop(timeout=20)
    print(report(cold, cached, figures, args.requests))
    return 0


if __name__ == "__main__":
    sys.exit(main())

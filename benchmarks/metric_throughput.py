"""Epoch metrics per second into a real local server: the project's Keras callback vs per call.

Run: .venv/bin/python benchmarks/metric_throughput.py [--epochs 4000] [--per-call-epochs 80]

One temporary local server (`LocalServer`, as `tracking-demo server start` runs it). Both paths
log the same five metrics per epoch: loss, accuracy, val_loss, val_accuracy as Keras hands them
to callbacks, and the `epoch_time_s` that `EpochMetricsLogger` adds.
  batched   `EpochMetricsLogger(session.log_metrics)` driven directly (`on_epoch_begin` and
            `on_epoch_end`, as Keras calls them) inside a `TrackingSession` run: timed from the
            first call until `run_logger.flush()` returns, i.e. until the server acknowledged
            every point; the training thread's time inside the calls is reported apart.
  per-call  `mlflow.log_metric(key, value, step=epoch)`, the fluent API inside
            `mlflow.start_run()`: one synchronous request per point, hence a smaller sample.
            As in durable_logging.py it runs in a fresh Python process, with the environment
            this benchmark was started with, so MLflow's HTTP settings are a user's defaults
            (`TrackingSession` sets MLFLOW_HTTP_REQUEST_TIMEOUT and _MAX_RETRIES in its process).
  per-call, plain mlflow server
            the same per-call loop against MLflow's own `mlflow server` (its app, 4 workers,
            sqlite's default journal; `durable_logging._start("mlflow-default")`): what a user
            without this project's server tuning gets.
Every run is then read back with `MlflowClient.get_metric_history`: every key must hold
exactly one point per epoch. Printed: points, seconds, points/s, the ratio batched / per-call
on the same server (goal >= 100x) and against the plain server, and the training thread's
microseconds per epoch.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # EpochMetricsLogger imports keras
# Offline, MLflow's telemetry thread can break requests (see server_latency.py); keep it off.
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "true")  # "View run ..." lines
# The per-call child gets this, not what `TrackingSession` later adds to os.environ.
USER_ENVIRONMENT = dict(os.environ)

KERAS_LOGS = ("loss", "accuracy", "val_loss", "val_accuracy")
KEYS = (*KERAS_LOGS, "epoch_time_s")
GOAL_RATIO = 100.0


def _logs(epoch: int) -> dict[str, float]:
    """What Keras hands `on_epoch_end` for `epoch` (counted from 1): plausible, distinct values."""
    return {
        "loss": 1.0 / epoch,
        "accuracy": 1.0 - 1.0 / (epoch + 1),
        "val_loss": 1.1 / epoch,
        "val_accuracy": 1.0 - 1.1 / (epoch + 1),
    }


def batched(uri: str, epochs: int, wal_root: Path) -> dict[str, float | str]:
    from tracking_demo.tasks.epoch_logging import EpochMetricsLogger
    from tracking_demo.tracking.session import TrackingSession
    from tracking_demo.tracking.settings import TrackingSettings

    settings = TrackingSettings(uri=uri, experiment="throughput-batched", wal_root=wal_root)
    session = TrackingSession(settings)
    with session.run(tags={"benchmark": "metric_throughput"}) as run:
        callback = EpochMetricsLogger(session.log_metrics)
        in_calls = 0.0
        started = time.perf_counter()
        for epoch in range(epochs):
            logs = _logs(epoch + 1)
            entered = time.perf_counter()
            callback.on_epoch_begin(epoch)
            callback.on_epoch_end(epoch, logs)
            in_calls += time.perf_counter() - entered
        if not session.run_logger.flush(600):
            raise RuntimeError("the server did not acknowledge every point within 600 s")
        seconds = time.perf_counter() - started
    return {"run_id": run.run_id, "seconds": seconds, "in_calls_s": in_calls}


def per_call(uri: str, epochs: int) -> dict[str, float | str]:
    """Runs in the child process: one `mlflow.log_metric` request per point."""
    import mlflow

    mlflow.set_tracking_uri(uri)
    mlflow.set_experiment("throughput-per-call")
    with mlflow.start_run(tags={"benchmark": "metric_throughput"}) as run:
        started = time.perf_counter()
        for epoch in range(1, epochs + 1):
            entered = time.perf_counter()
            for key, value in _logs(epoch).items():
                mlflow.log_metric(key, value, step=epoch)
            mlflow.log_metric("epoch_time_s", time.perf_counter() - entered, step=epoch)
        seconds = time.perf_counter() - started
    return {"run_id": run.info.run_id, "seconds": seconds, "in_calls_s": seconds}


def _per_call_child(uri: str, epochs: int) -> dict[str, float | str]:
    from durable_logging import json_child

    args = ["--child", "--uri", uri, "--per-call-epochs", str(epochs)]
    return json_child(__file__, args, USER_ENVIRONMENT)


def verify(uri: str, run_id: str, epochs: int) -> int:
    """Every key holds one point per epoch, steps 1..epochs; returns the points stored."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient(uri)
    stored = 0
    for key in KEYS:
        steps = sorted(point.step for point in client.get_metric_history(run_id, key))
        assert steps == list(range(1, epochs + 1)), f"run {run_id}: {key} has {len(steps)} points"
        stored += len(steps)
    return stored


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=4000, help="batched path: epochs of 5")
    parser.add_argument("--per-call-epochs", type=int, default=80, help="per-call path: epochs")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--uri", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(per_call(args.uri, args.per_call_epochs)))
        return
    # SIGTERM ends through `finally`, so the server does not outlive the benchmark.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    import mlflow

    from tracking_demo.server.local import LocalServer
    from tracking_demo.server.processes import find_free_port

    plain = "per-call, plain mlflow server"
    epochs = {"batched": args.epochs, "per-call": args.per_call_epochs, plain: args.per_call_epochs}
    print(
        f"mlflow {mlflow.__version__}, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.2f}; "
        f"{len(KEYS)} metrics an epoch: {', '.join(KEYS)}",
        flush=True,
    )
    results: dict[str, dict[str, float | str]] = {}
    with tempfile.TemporaryDirectory(prefix="metric-throughput-") as tmp:
        server = LocalServer(Path(tmp) / "server", port=find_free_port())
        server.start(timeout=120)
        try:
            results["per-call"] = _per_call_child(server.uri, epochs["per-call"])
            results["batched"] = batched(server.uri, epochs["batched"], Path(tmp) / "wal")
            stored = {
                name: verify(server.uri, str(r["run_id"]), epochs[name])
                for name, r in results.items()
            }
        finally:
            server.stop(timeout=20)
        from durable_logging import _start

        plain_server = _start("mlflow-default", Path(tmp) / "plain-server")
        try:
            results[plain] = _per_call_child(plain_server.uri, epochs[plain])
            stored[plain] = verify(plain_server.uri, str(results[plain]["run_id"]), epochs[plain])
        finally:
            plain_server.stop(timeout=20)

    rates = {name: stored[name] / float(r["seconds"]) for name, r in results.items()}
    header = (
        f"{'path':<29} {'epochs':>7} {'points':>7} {'stored':>7} {'seconds':>8} "
        f"{'points/s':>9} {'x per-call':>10} {'thread us/epoch':>16}"
    )
    print(f"\n{header}\n{'-' * len(header)}")
    for name in ("batched", "per-call", plain):
        r = results[name]
        points = epochs[name] * len(KEYS)
        print(
            f"{name:<29} {epochs[name]:>7} {points:>7} {stored[name]:>7} "
            f"{float(r['seconds']):>8.2f} {rates[name]:>9.0f} "
            f"{rates[name] / rates['per-call']:>10.1f} "
            f"{float(r['in_calls_s']) / epochs[name] * 1e6:>16.1f}"
        )
    ratio = rates["batched"] / rates["per-call"]
    verdict = "met" if ratio >= GOAL_RATIO else "NOT met"
    print(
        f"\nbatched: the training thread spent {float(results['batched']['in_calls_s']):.3f}s "
        f"in the callback; seconds = first call -> all acknowledged"
    )
    print(f"batched / per-call, same server = {ratio:.0f}x (goal >= {GOAL_RATIO:.0f}x): {verdict}")
    print(f"batched / per-call on a plain mlflow server = {rates['batched'] / rates[plain]:.0f}x")


if __name__ == "__main__":
    main()

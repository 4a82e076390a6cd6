"""Metric logging throughput and outage behaviour, every variant against the same servers.

Variants, each in a fresh Python process so MLflow's async queue and HTTP sessions start cold:
  per-call       `mlflow.log_metric` once per point (a sample: 20k would take minutes)
  async          `mlflow.log_metric(..., synchronous=False)`, unbuffered (a sample, as above)
  async-buffered the same with MLFLOW_ASYNC_LOGGING_BUFFERING_SECONDS=1
  log-batch      `MlflowClient.log_batch` in chunks of 1000 (the ceiling for any client)
  project        tracking_demo's logger: write-ahead log + background batched sender
Then the project's logger with the server killed and restarted mid-stream, and with a longer
outage: points lost, duplicates, and seconds from the server's return to fully acknowledged.

    .venv/bin/python benchmarks/durable_logging.py [--points 20000] [--outage-seconds 60]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

VARIANTS = ("per-call", "async", "async-buffered", "log-batch", "project")
# One request per point: 20k would take minutes, so these two log a sample and report its rate.
SAMPLED = {"per-call": 400, "async": 1000}


def _measure(variant: str, uri: str, points: int) -> dict[str, float]:
    """Runs inside the child process: log `points` points one way, return timings."""
    import mlflow
    from mlflow.entities import Metric
    from mlflow.tracking import MlflowClient

    mlflow.set_tracking_uri(uri)
    mlflow.set_experiment(f"bench-{variant}")
    if variant == "project":
        from tracking_demo.tracking.session import TrackingSession
        from tracking_demo.tracking.settings import TrackingSettings

        session = TrackingSession(TrackingSettings(uri=uri, experiment=f"bench-{variant}"))
        with session.run() as run:
            log = session.run_logger.log_metric
            started = time.perf_counter()
            for i in range(points):
                log("m", float(i), i)
            appended = time.perf_counter()
            assert session.run_logger.flush(600)
            done = time.perf_counter()
        run_id = run.run_id
    else:
        client = MlflowClient(uri)
        with mlflow.start_run() as active:
            run_id = active.info.run_id
            points = min(points, SAMPLED.get(variant, points))
            started = time.perf_counter()
            if variant == "log-batch":
                for start in range(0, points, 1000):
                    now = int(time.time() * 1000)
                    batch = [Metric("m", float(i), now, i) for i in range(start, start + 1000)]
                    client.log_batch(run_id, metrics=batch[: points - start])
            else:
                synchronous = variant == "per-call"
                for i in range(points):
                    mlflow.log_metric("m", float(i), step=i, synchronous=synchronous)
            appended = time.perf_counter()
            if variant.startswith("async"):
                mlflow.flush_async_logging()
            done = time.perf_counter()
    stored = len(MlflowClient(uri).get_metric_history(run_id, "m"))
    return {
        "points": points,
        "stored": stored,
        "points_per_s": points / (done - started),
        "call_us": (appended - started) / points * 1e6,
    }


def json_child(script: str, args: list[str], env: dict[str, str]) -> dict[str, Any]:
    """Run `script ARGS` in a fresh Python with `env`; its last stdout line is a JSON result."""
    out = subprocess.run(
        [sys.executable, script, *args],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=1800,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def _child(variant: str, uri: str, points: int) -> dict[str, float]:
    env = dict(os.environ)
    if variant == "async-buffered":
        env["MLFLOW_ASYNC_LOGGING_BUFFERING_SECONDS"] = "1"
    return json_child(__file__, ["--child", variant, "--uri", uri, "--points", str(points)], env)


def _outage(server, points: int, rate: float, down_s: float) -> dict[str, float]:  # type: ignore[no-untyped-def]
    """Log at `rate` points/s; kill the server a third of the way in, restart after `down_s`."""
    from mlflow.tracking import MlflowClient

    from tracking_demo.tracking.session import TrackingSession
    from tracking_demo.tracking.settings import TrackingSettings

    session = TrackingSession(TrackingSettings(uri=server.uri, experiment="bench-outage"))
    returned: dict[str, float] = {}

    def chaos() -> None:
        time.sleep(points / rate / 3)
        os.killpg(server.read_state().pid, signal.SIGKILL)
        server.stop(timeout=10)
        time.sleep(down_s)
        server.start(timeout=120)
        returned["at"] = time.perf_counter()

    thread = threading.Thread(target=chaos)
    with session.run() as run:
        thread.start()
        pause = 1.0 / rate
        for i in range(points):
            session.run_logger.log_metric("m", float(i), i)
            if i % 100 == 99:
                time.sleep(pause * 100)
        thread.join()
        assert session.run_logger.flush(600)
        acked = time.perf_counter()
    history = MlflowClient(server.uri).get_metric_history(run.run_id, "m")
    steps = [p.step for p in history]
    return {
        "lost": points - len(set(steps)),
        "duplicates": len(steps) - len(set(steps)),
        "return_to_acked_s": acked - returned["at"],
    }


def _start(kind: str, data_dir: Path):  # type: ignore[no-untyped-def]
    """`project-server` is LocalServer as shipped; `mlflow-default` is plain `mlflow server`."""
    from tracking_demo.server.local import LocalServer
    from tracking_demo.server.processes import find_free_port

    class PlainMlflowServer(LocalServer):
        def command(self) -> list[str]:
            return self.mlflow_cli_command()  # MLflow's own command and app

        def prepare_database(self) -> None:
            """sqlite's default rollback journal."""

    if kind == "mlflow-default":
        server = PlainMlflowServer(data_dir, port=find_free_port(), workers=4)
    else:
        server = LocalServer(data_dir, port=find_free_port())
    server.start(timeout=120)
    return server


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=20_000)
    parser.add_argument("--outage-seconds", type=float, default=60.0)
    parser.add_argument("--child", choices=VARIANTS, help=argparse.SUPPRESS)
    parser.add_argument("--uri", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(_measure(args.child, args.uri, args.points)))
        return

    with tempfile.TemporaryDirectory() as tmp:
        results: dict[tuple[str, str], dict[str, float]] = {}
        for kind in ("mlflow-default", "project-server"):
            server = _start(kind, Path(tmp) / kind)
            try:
                for variant in VARIANTS:
                    results[kind, variant] = _child(variant, server.uri, args.points)
            finally:
                server.stop()
        sampled = ", ".join(f"{v} on {n}" for v, n in SAMPLED.items())
        print(f"{args.points} points of one metric ({sampled} points: their rate is per point)")
        print(
            f"{'server':<15} {'variant':<15} {'points/s':>9} {'x per-call':>10} "
            f"{'x log-batch':>11} {'us/call':>8} {'stored':>7}"
        )
        for (kind, variant), r in results.items():
            per_call = results[kind, "per-call"]["points_per_s"]
            batch = results[kind, "log-batch"]["points_per_s"]
            print(
                f"{kind:<15} {variant:<15} {r['points_per_s']:>9.0f} "
                f"{r['points_per_s'] / per_call:>10.1f} {r['points_per_s'] / batch:>11.2f} "
                f"{r['call_us']:>8.1f} {int(r['stored']):>7}"
            )
        for kind in ("mlflow-default", "project-server"):
            buffered = results[kind, "async-buffered"]["points_per_s"]
            ratio = results[kind, "project"]["points_per_s"] / buffered
            print(f"{kind}: project logger / MLflow async buffered = {ratio:.2f}x")

        print("\nproject logger through outages (project server, 2,000 points/s)")
        for label, down_s in (
            ("kill + restart", 0.0),
            (f"{args.outage_seconds:.0f}s outage", args.outage_seconds),
        ):
            server = _start("project-server", Path(tmp) / f"outage-{down_s}")
            try:
                r = _outage(server, args.points, rate=2000.0, down_s=down_s)
            finally:
                server.stop()
            print(
                f"{label:<16} lost {r['lost']}, duplicates {r['duplicates']}, "
                f"server back -> all acknowledged in {r['return_to_acked_s']:.2f}s"
            )


if __name__ == "__main__":
    main()

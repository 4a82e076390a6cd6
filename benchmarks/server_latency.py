"""Per-request latency of the local MLflow server in several configurations, side by side.

Run: .venv/bin/python benchmarks/server_latency.py [--calls 300] [--repeats 3]

Each candidate is started in turn (fresh data folder, free loopback port); then every repeat
measures each running server with one `MlflowClient`, in an order that alternates between
repeats, so that load from other work on the machine falls on every candidate alike; all
servers are stopped at the end, also on errors and SIGTERM. Printed: per-call `log_metric` latency
(median and p95 of `--calls` calls after a warm-up), calls per second, and `log_batch` points
per second (1000 metrics a batch), each the median over the repeats, with ratios against
MLflow's own default (`mlflow server`, 4 uvicorn workers).

Candidates without code of their own run `mlflow server` itself. Two need code inside the server
process: uvicorn serves them `server_latency:app` (this folder on the server's PYTHONPATH), as
`tracking-demo server start` serves its own app, configured by the environment variables below:

- `install_sqlite_synchronous(level)`: SQLAlchemy `connect` listener that runs
  `PRAGMA synchronous=<level>` on every new sqlite connection (per connection, not persistent).
- `install_tcp_nodelay()`: diagnostic only. With `--workers N > 1` uvicorn binds the listening
  socket itself with `proto=0`, so asyncio never sets TCP_NODELAY on accepted connections
  (uvicorn issue Kludex/uvicorn#3149); each keep-alive request then waits for the client's
  delayed ACK (~40 ms). The patch shows that this, not the worker count, is the cost.

The project adopted WAL with `synchronous=NORMAL` in `tracking_demo.server.app`.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import socket
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tracking_demo.server.local import LocalServer
from tracking_demo.server.processes import find_free_port

SYNCHRONOUS_ENV = "SERVER_LATENCY_SQLITE_SYNCHRONOUS"
NODELAY_ENV = "SERVER_LATENCY_TCP_NODELAY"
BATCH_SIZE = 1000


# --- code that runs inside the server process ---------------------------------------------


def install_sqlite_synchronous(level: str = "NORMAL") -> None:
    """Set `PRAGMA synchronous=<level>` on every sqlite connection SQLAlchemy opens.

    In WAL mode, NORMAL skips the fsync at each commit (the WAL is synced at checkpoints): a
    power loss or OS crash can lose the last commits, never corrupt the database; a crash of
    the server process loses nothing.
    """
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    @event.listens_for(Engine, "connect")
    def _set_synchronous(dbapi_connection: Any, _record: Any) -> None:
        if isinstance(dbapi_connection, sqlite3.Connection):
            dbapi_connection.execute(f"PRAGMA synchronous={level}")


def install_tcp_nodelay() -> None:
    """Diagnostic: let asyncio set TCP_NODELAY although uvicorn's bound socket says `proto=0`."""
    import asyncio.base_events

    def _set_nodelay(sock: socket.socket) -> None:
        if sock.family in (socket.AF_INET, socket.AF_INET6) and sock.type == socket.SOCK_STREAM:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    asyncio.base_events._set_nodelay = _set_nodelay  # type: ignore[attr-defined]


def __getattr__(name: str) -> Any:
    """`server_latency:app`: MLflow's ASGI app after the tuning the environment asks for."""
    if name != "app":
        raise AttributeError(name)
    if level := os.environ.get(SYNCHRONOUS_ENV):
        install_sqlite_synchronous(level)
    if os.environ.get(NODELAY_ENV):
        install_tcp_nodelay()
    from mlflow.server.fastapi_app import app

    from tracking_demo.server.app import initialize_stores

    initialize_stores()  # as `mlflow server` does before it starts uvicorn
    return app


# --- the benchmark -------------------------------------------------------------------------


@dataclass(frozen=True)
class Candidate:
    name: str
    workers: int
    wal: bool = False
    synchronous: str | None = None
    tcp_nodelay: bool = False

    @property
    def in_server_code(self) -> bool:
        return self.synchronous is not None or self.tcp_nodelay


CANDIDATES = [
    Candidate("mlflow default (4 workers)", workers=4),
    Candidate("4 workers + TCP_NODELAY patch", workers=4, tcp_nodelay=True),
    Candidate("1 worker (LocalServer today)", workers=1),
    Candidate("1 worker + WAL", workers=1, wal=True),
    Candidate("1 worker + WAL + sync=NORMAL", workers=1, wal=True, synchronous="NORMAL"),
]
BASELINE = CANDIDATES[0].name


@dataclass
class Figures:
    median_ms: list[float] = field(default_factory=list)
    p95_ms: list[float] = field(default_factory=list)
    calls_per_s: list[float] = field(default_factory=list)
    batch_points_per_s: list[float] = field(default_factory=list)


@contextlib.contextmanager
def _environment(extra: dict[str, str]) -> Iterator[None]:
    """`LocalServer.start` hands `os.environ` to the server; set `extra` around it."""
    saved = {key: os.environ.get(key) for key in extra}
    os.environ.update(extra)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


class CandidateServer(LocalServer):
    """`LocalServer` with the candidate's worker count, and our app when it needs server code."""

    def __init__(self, candidate: Candidate, data_dir: Path, port: int) -> None:
        super().__init__(data_dir, port=port, workers=candidate.workers)
        self.candidate = candidate

    @property
    def app(self) -> str:
        return "server_latency:app"

    def prepare_database(self) -> None:
        """The candidate's journal mode is set by `start_candidate`, not by LocalServer."""

    def command(self) -> list[str]:
        if self.candidate.in_server_code:
            return super().command()  # uvicorn serving `server_latency:app`
        return self.mlflow_cli_command()  # MLflow's own command and app


def _journal_mode(db_path: Path) -> str:
    with contextlib.closing(sqlite3.connect(db_path)) as connection:
        return str(connection.execute("PRAGMA journal_mode").fetchone()[0])


def _measure(uri: str, calls: int, batches: int) -> tuple[float, float, float, float]:
    from mlflow import MlflowClient
    from mlflow.entities import Metric

    client = MlflowClient(tracking_uri=uri)
    experiment_id = client.create_experiment(f"latency-{time.time_ns()}")
    run_id = client.create_run(experiment_id).info.run_id
    for step in range(30):  # warm-up: connection, sqlite pages, lazy imports on both sides
        client.log_metric(run_id, "warm_up", float(step), step=step)
    durations = []
    for step in range(calls):
        started = time.perf_counter()
        client.log_metric(run_id, "latency", float(step), step=step)
        durations.append(time.perf_counter() - started)
    durations.sort()
    p95 = durations[min(len(durations) - 1, round(0.95 * (len(durations) - 1)))]
    timestamp = int(time.time() * 1000)
    started = time.perf_counter()
    for batch in range(batches):
        metrics = [
            Metric("batch", float(i), timestamp, batch * BATCH_SIZE + i) for i in range(BATCH_SIZE)
        ]
        client.log_batch(run_id, metrics=metrics)
    batch_rate = batches * BATCH_SIZE / (time.perf_counter() - started)
    return statistics.median(durations) * 1e3, p95 * 1e3, calls / sum(durations), batch_rate


def start_candidate(candidate: Candidate, root: Path) -> CandidateServer:
    """Start `candidate` on a free loopback port with its own data folder; wait for /health."""
    data_dir = Path(tempfile.mkdtemp(prefix="server-", dir=root))
    if candidate.wal:  # persistent in the database file: every later connection uses WAL
        with contextlib.closing(sqlite3.connect(data_dir / "mlflow.db")) as connection:
            connection.execute("PRAGMA journal_mode=WAL")
    env: dict[str, str] = {}
    if candidate.in_server_code:
        here = str(Path(__file__).resolve().parent)
        env["PYTHONPATH"] = os.pathsep.join([here, os.environ.get("PYTHONPATH", "")])
        env[SYNCHRONOUS_ENV] = candidate.synchronous or ""
        env[NODELAY_ENV] = "1" if candidate.tcp_nodelay else ""
    server = CandidateServer(candidate, data_dir, find_free_port())
    with _environment(env):
        server.start()
    expected = "wal" if candidate.wal else "delete"
    if (mode := _journal_mode(data_dir / "mlflow.db")) != expected:
        server.stop()
        raise RuntimeError(f"{candidate.name}: journal_mode is {mode}, expected {expected}")
    return server


def _stop_all(servers: list[CandidateServer]) -> None:
    for server in servers:
        try:
            server.stop()
        except Exception as error:  # keep stopping the others
            print(f"could not stop {server.candidate.name}: {error}", file=sys.stderr)


def _table(results: dict[str, Figures]) -> str:
    base = results[BASELINE]
    base_median = statistics.median(base.median_ms)
    base_batch = statistics.median(base.batch_points_per_s)
    header = (
        f"{'configuration':32} {'median ms':>10} {'(spread)':>15} {'p95 ms':>8} "
        f"{'calls/s':>8} {'speed-up':>9} {'batch pts/s':>12} {'vs default':>11}"
    )
    lines = [header, "-" * len(header)]
    for name, figures in results.items():
        median = statistics.median(figures.median_ms)
        batch = statistics.median(figures.batch_points_per_s)
        spread = f"{min(figures.median_ms):.1f}-{max(figures.median_ms):.1f}"
        lines.append(
            f"{name:32} {median:10.2f} {spread:>15} {statistics.median(figures.p95_ms):8.2f} "
            f"{statistics.median(figures.calls_per_s):8.1f} {base_median / median:8.2f}x "
            f"{batch:12.0f} {batch / base_batch:10.2f}x"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=300, help="timed log_metric calls per run")
    parser.add_argument("--repeats", type=int, default=3, help="runs of every configuration")
    parser.add_argument("--batches", type=int, default=5, help=f"log_batch calls of {BATCH_SIZE}")
    args = parser.parse_args()
    # SIGTERM ends the loop through `finally`, so no server outlives the benchmark.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    # Offline, MLflow's telemetry thread removes `_MLFLOW_TELEMETRY_SESSION_ID` from os.environ
    # while requests iterates it (KeyError, seen here); it also keeps that thread off the clock.
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")

    import mlflow
    import uvicorn

    print(
        f"mlflow {mlflow.__version__}, uvicorn {uvicorn.__version__}, sqlite "
        f"{sqlite3.sqlite_version}, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.2f}; "
        f"{args.calls} calls x {args.repeats} repeats",
        flush=True,
    )
    results = {candidate.name: Figures() for candidate in CANDIDATES}
    servers: list[CandidateServer] = []
    with tempfile.TemporaryDirectory(prefix="server-latency-") as tmp:
        root = Path(tmp)
        try:
            for candidate in CANDIDATES:
                servers.append(start_candidate(candidate, root))
            # All servers run while the rounds alternate between them, so a burst of other
            # work on the machine hits every candidate rather than one.
            for repeat in range(args.repeats):
                for server in servers if repeat % 2 == 0 else servers[::-1]:
                    name = server.candidate.name
                    median, p95, rate, batch = _measure(server.uri, args.calls, args.batches)
                    figures = results[name]
                    figures.median_ms.append(median)
                    figures.p95_ms.append(p95)
                    figures.calls_per_s.append(rate)
                    figures.batch_points_per_s.append(batch)
                    print(
                        f"  repeat {repeat + 1}: {name:32} median {median:6.2f} ms, "
                        f"p95 {p95:6.2f} ms, batch {batch:6.0f} pts/s",
                        flush=True,
                    )
        finally:
            _stop_all(servers)
    print(f"\nload at end {os.getloadavg()[0]:.2f}; medians over repeats, spread = min-max\n")
    print(_table(results))


if __name__ == "__main__":
    main()

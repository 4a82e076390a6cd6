"""The app the local server runs: MLflow's own, with sqlite tuned for per-request latency.

MLflow's sqlite store commits once per request; sqlite's defaults (rollback journal, fsync on
every commit) make that the largest part of a per-call `log_metric`. The server module puts the
database in WAL mode before starting it (persistent in the file) and every connection uses
`synchronous=NORMAL`: commits no longer wait for fsync, WAL is synced at checkpoints. A crash
of the server process loses nothing; a power loss or OS crash can lose the last commits but
never corrupts the database (figures: benchmarks/server_latency.py, README "Local server").
Registered as the `tracking-demo` entry point of `mlflow.app`; imported only by the server.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine


def _synchronous_normal(dbapi_connection: Any, _record: Any) -> None:
    if isinstance(dbapi_connection, sqlite3.Connection):
        dbapi_connection.execute("PRAGMA synchronous=NORMAL")


def tune_sqlite_connections() -> None:
    """Every sqlite connection SQLAlchemy opens in this process skips fsync per commit."""
    if not event.contains(Engine, "connect", _synchronous_normal):
        event.listen(Engine, "connect", _synchronous_normal)


def _build_app() -> Any:
    from mlflow.server.fastapi_app import app as mlflow_app

    tune_sqlite_connections()
    return mlflow_app


app = _build_app()

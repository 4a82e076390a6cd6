"""The app the local server runs: MLflow's own, with sqlite tuned for per-request latency.

MLflow's sqlite store commits once per request; sqlite's defaults (rollback journal, fsync on
every commit) make that the largest part of a per-call `log_metric`. The server module puts the
database in WAL mode before starting it (persistent in the file) and every connection uses
`synchronous=NORMAL`: commits no longer wait for fsync, WAL is synced at checkpoints. A crash
of the server process loses nothing; a power loss or OS crash can lose the last commits but
never corrupts the database (figures: benchmarks/server_latency.py, README "Local server").
Served by `tracking-demo server start` (uvicorn imports it); also the `tracking-demo` entry point
of `mlflow.app`, for `mlflow server --app-name tracking-demo`.
"""

from __future__ import annotations

import fcntl
import functools
import os
import sqlite3
from pathlib import Path
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


def initialize_stores() -> None:
    """Create or upgrade the database before serving, as `mlflow server` does before it starts
    uvicorn. Workers of one server take turns (an exclusive lock beside the database), so a
    fresh database is migrated once."""
    from mlflow.server.constants import BACKEND_STORE_URI_ENV_VAR
    from mlflow.server.handlers import initialize_backend_stores

    backend = os.environ.get(BACKEND_STORE_URI_ENV_VAR, "")
    if not backend.startswith("sqlite:///"):
        initialize_backend_stores()
        return
    lock_path = Path(backend.removeprefix("sqlite:///") + ".init-lock")
    with lock_path.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        initialize_backend_stores()


@functools.cache
def serving_app() -> Any:
    """MLflow's app, tuned, over an initialized database: built when uvicorn asks for `app`,
    so importing this module (tests, `azure_surface`) touches no database."""
    from mlflow.server.fastapi_app import app as mlflow_app

    tune_sqlite_connections()
    initialize_stores()
    return mlflow_app


def __getattr__(name: str) -> Any:
    if name == "app":
        return serving_app()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

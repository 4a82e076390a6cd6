"""The app the local server runs: MLflow's own, with sqlite tuned for per-request latency.

MLflow's sqlite store commits once per request; sqlite's defaults (rollback journal, fsync on
every commit) make that the largest part of a per-call `log_metric`. The server module puts the
database in WAL mode before starting it (persistent in the file) and every connection uses
`synchronous=NORMAL`: commits no longer wait for fsync, WAL is synced at checkpoints. A crash
of the server process loses nothing; a power loss or OS crash can lose the last commits but
never corrupts the database (figures: benchmarks/server_latency.py, docs/benchmarks.md).
With `$MLFLOW_AUTH_CONFIG_PATH` set (`server start --auth`, or a host off loopback) the app is
MLflow's basic-auth app over the same Flask app, its admin set from the environment first
(`ensure_admin`). Served by `tracking-demo server start` (uvicorn imports it); also the
`tracking-demo` entry point of `mlflow.app`, for `mlflow server --app-name tracking-demo`.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import logging
import os
import sqlite3
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine

from tracking_demo.server.auth import (
    ADMIN_PASSWORD_VARIABLE,
    ADMIN_USERNAME_VARIABLE,
    AUTH_CONFIG_VARIABLE,
)

logger = logging.getLogger(__name__)


def _synchronous_normal(dbapi_connection: Any, _record: Any) -> None:
    if isinstance(dbapi_connection, sqlite3.Connection):
        dbapi_connection.execute("PRAGMA synchronous=NORMAL")


def tune_sqlite_connections() -> None:
    """Every sqlite connection SQLAlchemy opens in this process skips fsync per commit."""
    if not event.contains(Engine, "connect", _synchronous_normal):
        event.listen(Engine, "connect", _synchronous_normal)


@contextlib.contextmanager
def _workers_take_turns() -> Any:
    """An exclusive lock beside the sqlite database, so the workers of one server set it up one
    after the other (no lock for another backend)."""
    from mlflow.server.constants import BACKEND_STORE_URI_ENV_VAR

    backend = os.environ.get(BACKEND_STORE_URI_ENV_VAR, "")
    if not backend.startswith("sqlite:///"):
        yield
        return
    lock_path = Path(backend.removeprefix("sqlite:///") + ".init-lock")
    with lock_path.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def initialize_stores() -> None:
    """Create or upgrade the database before serving, as `mlflow server` does before it starts
    uvicorn. Workers of one server take turns, so a fresh database is migrated once."""
    from mlflow.server.handlers import initialize_backend_stores

    with _workers_take_turns():
        initialize_backend_stores()


def ensure_admin(database_uri: str, username: str, password: str) -> str:
    """The admin of the users' database has `password`: created on the first start, its password
    replaced when the server is started with another one (the environment or file it was started
    with is the one truth; MLflow itself only ever creates the admin). Returns what was done."""
    from mlflow.server.auth.sqlalchemy_store import SqlAlchemyStore

    store = SqlAlchemyStore()
    store.init_db(database_uri)
    try:
        if not store.has_user(username):
            store.create_user(username, password, is_admin=True)
            _owner_only(database_uri)
            return "created"
        changed = "unchanged"
        if not store.authenticate_user(username, password):
            store.update_user(username, password=password)
            changed = "password updated"
        if not store.get_user(username).is_admin:
            store.update_user(username, is_admin=True)
            changed = "made admin"
        return changed
    finally:
        store.engine.dispose()


def _owner_only(database_uri: str) -> None:
    """The users' database holds password hashes: readable by the server's owner alone."""
    if database_uri.startswith("sqlite:///"):
        with contextlib.suppress(OSError):
            os.chmod(database_uri.removeprefix("sqlite:///"), 0o600)


def authenticated_app(flask_app: Any) -> Any:
    """MLflow's basic-auth app (`mlflow server --app-name basic-auth`) over `flask_app`, its admin
    set first from `$TRACKING_DEMO_ADMIN_USERNAME/PASSWORD`, which are then dropped from this
    process's environment so nothing it starts inherits them."""
    from mlflow.server.auth.config import read_auth_config

    config = read_auth_config()
    username = os.environ.pop(ADMIN_USERNAME_VARIABLE, config.admin_username)
    password = os.environ.pop(ADMIN_PASSWORD_VARIABLE, None)
    if username != config.admin_username:
        raise RuntimeError(
            f"${AUTH_CONFIG_VARIABLE} names admin '{config.admin_username}', "
            f"the server was started for '{username}'"
        )
    with _workers_take_turns():
        # Without the variable (`mlflow server --app-name tracking-demo` with an ini of one's
        # own), MLflow creates the admin from the ini as it always does.
        done = (
            "from the ini"
            if password is None
            else ensure_admin(config.database_uri, username, password)
        )
        from mlflow.server.auth import create_app

        app = create_app(flask_app)
    logger.info("basic authentication on; admin '%s' %s", username, done)
    return app


@functools.cache
def serving_app() -> Any:
    """MLflow's app, tuned, over an initialized database: built when uvicorn asks for `app`,
    so importing this module (tests, `azure_surface`) touches no database."""
    tune_sqlite_connections()
    initialize_stores()
    if os.environ.get(AUTH_CONFIG_VARIABLE):
        from mlflow.server import app as flask_app

        return authenticated_app(flask_app)
    from mlflow.server.fastapi_app import app as mlflow_app

    return mlflow_app


def __getattr__(name: str) -> Any:
    if name == "app":
        return serving_app()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

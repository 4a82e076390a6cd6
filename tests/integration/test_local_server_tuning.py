"""The local server is tuned for per-request latency: sqlite in WAL mode, no fsync per commit."""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Engine

from tracking_demo.server import app as server_app
from tracking_demo.server.local import TUNED_APP

pytestmark = pytest.mark.integration


def test_server_database_is_in_wal_mode(mlflow_server) -> None:
    db_path = Path(mlflow_server.data_dir) / "mlflow.db"
    with contextlib.closing(sqlite3.connect(db_path)) as connection:
        assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert mlflow_server.command()[-1] == TUNED_APP


def test_server_app_connections_skip_fsync_per_commit(tmp_path: Path) -> None:
    server_app.tune_sqlite_connections()
    try:
        engine = create_engine(f"sqlite:///{tmp_path / 'x.db'}")
        with engine.connect() as connection:
            # 1 = NORMAL; sqlite's default is 2 = FULL (fsync at every commit)
            assert connection.execute(text("PRAGMA synchronous")).scalar() == 1
        engine.dispose()
    finally:
        event.remove(Engine, "connect", server_app._synchronous_normal)
    engine = create_engine(f"sqlite:///{tmp_path / 'y.db'}")
    with engine.connect() as connection:
        assert connection.execute(text("PRAGMA synchronous")).scalar() == 2
    engine.dispose()

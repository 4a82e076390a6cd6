"""The local MLflow server: one background process group with sqlite and local artifacts.

The server is MLflow's own app under uvicorn, started as `mlflow server` starts it: uvicorn
with MLflow's log configuration and the environment variables that tell the app where its
stores are. Starting uvicorn directly, rather than through the `mlflow server` command, spares
an interpreter that imports all of MLflow's command line only to launch uvicorn: the server
answers about 3 s sooner (benchmarks/foundation_timings.py). The app (`server_app`) creates or
upgrades the database as `mlflow server` does before it serves. uvicorn's workers are child
processes, so the server runs in its own session and the whole group is signalled at once.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import logging
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from tracking_demo.errors import ServerError
from tracking_demo.server.auth import (
    ADMIN_PASSWORD_VARIABLE,
    ADMIN_USERNAME_VARIABLE,
    AUTH_CONFIG_VARIABLE,
    AdminCredentials,
    client_credentials,
    require_auth_support,
    server_environment,
)
from tracking_demo.server.processes import (
    LOOPBACK,
    PROBE_TIMEOUT_S,
    answers,
    group_alive,
    port_is_free,
    start_group,
    stop_process_group,
    wait_answering,
)

logger = logging.getLogger(__name__)

DEFAULT_HOST = LOOPBACK
DEFAULT_PORT = 5000
DEFAULT_DATA_DIR = Path(".tracking")
STATE_FILE = "server.json"
LOG_FILE = "server.log"
AZURE_SURFACE_APP = "tracking_demo.server.azure_surface:app"
TUNED_APP = "tracking_demo.server.app:app"
# What `mlflow server` hands the uvicorn it starts (mlflow.server._run_server); the names are
# mlflow.server.constants' (tests/unit/test_server_launch.py checks that they still are).
BACKEND_STORE_VARIABLE = "_MLFLOW_SERVER_FILE_STORE"
REGISTRY_STORE_VARIABLE = "_MLFLOW_SERVER_REGISTRY_STORE"
ARTIFACT_ROOT_VARIABLE = "_MLFLOW_SERVER_ARTIFACT_ROOT"
SERVE_ARTIFACTS_VARIABLE = "_MLFLOW_SERVER_SERVE_ARTIFACTS"
ARTIFACTS_DESTINATION_VARIABLE = "_MLFLOW_SERVER_ARTIFACT_DESTINATION"
SERVER_KIND_VARIABLE = "_MLFLOW_SGI_NAME"
SERVED_ARTIFACTS_ROOT = "mlflow-artifacts:/"


@dataclass(frozen=True)
class ServerState:
    """What `start` records so that `status` and `stop` work from another process."""

    pid: int
    host: str
    port: int
    data_dir: str
    azure_surface: bool = False
    auth: bool = False

    @property
    def uri(self) -> str:
        return f"http://{self.host}:{self.port}"


def is_healthy(uri: str, timeout: float = PROBE_TIMEOUT_S) -> bool:
    """True when an MLflow server answers `GET /health` at `uri` (unauthenticated in MLflow's
    basic-auth app; the client's credentials are sent all the same, as MLflow's client would)."""
    return answers(f"{uri.rstrip('/')}/health", timeout, auth=client_credentials())


def mlflow_package_dir() -> Path:
    """Where MLflow is installed, found without importing it (seconds)."""
    spec = importlib.util.find_spec("mlflow")
    if spec is None or not spec.submodule_search_locations:
        raise ServerError("MLflow is not installed in this environment")
    return Path(next(iter(spec.submodule_search_locations)))


def use_wal_journal(db_path: Path) -> None:
    """Switch the database file to WAL mode (creates the file if it does not exist yet)."""
    db_path.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.closing(sqlite3.connect(db_path)) as connection:
        connection.execute("PRAGMA journal_mode=WAL")


def _ensure_writable(data_dir: Path) -> None:
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=data_dir, prefix=".write-check-"):
            pass
    except OSError as error:
        raise ServerError(
            f"data folder '{data_dir}' cannot be written ({error.strerror or error}); "
            "choose another one with --data-dir"
        ) from error


class LocalServer:
    """Start, inspect and stop the MLflow server that keeps its data under `data_dir`."""

    def __init__(
        self,
        data_dir: Path = DEFAULT_DATA_DIR,
        host: str = DEFAULT_HOST,
        port: int = DEFAULT_PORT,
        workers: int = 1,
        azure_surface: bool = False,
        admin: AdminCredentials | None = None,
    ) -> None:
        self.data_dir = Path(data_dir).absolute()
        self.host = host
        self.port = port
        self.workers = workers
        self.azure_surface = azure_surface
        self.admin = admin
        self._process: subprocess.Popen[bytes] | None = None
        self._launched_at = 0.0

    @property
    def uri(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def state_path(self) -> Path:
        return self.data_dir / STATE_FILE

    @property
    def log_path(self) -> Path:
        return self.data_dir / LOG_FILE

    def read_state(self) -> ServerState | None:
        """The recorded server of this data folder, if its process group is still alive."""
        try:
            raw = json.loads(self.state_path.read_text())
            state = ServerState(**raw)
        except FileNotFoundError:
            return None
        except (ValueError, TypeError) as error:
            raise ServerError(f"state file '{self.state_path}' is unreadable: {error}") from error
        return state if group_alive(state.pid) else None

    @property
    def app(self) -> str:
        """The ASGI app uvicorn serves: MLflow's, tuned, or refusing what Azure ML's lacks."""
        return AZURE_SURFACE_APP if self.azure_surface else TUNED_APP

    def command(self) -> list[str]:
        """uvicorn as `mlflow server` runs it (MLflow's log format, the given workers)."""
        return [
            sys.executable,
            "-m",
            "uvicorn",
            "--log-config",
            str(mlflow_package_dir() / "server" / "uvicorn_log_config.yaml"),
            "--host",
            self.host,
            "--port",
            str(self.port),
            "--workers",
            str(self.workers),
            self.app,
        ]

    def mlflow_cli_command(self) -> list[str]:
        """The same server through MLflow's own `mlflow server` command (for comparisons)."""
        return [
            sys.executable,
            *("-m", "mlflow", "server"),
            *("--backend-store-uri", self.environment()[BACKEND_STORE_VARIABLE]),
            *("--artifacts-destination", str(self.data_dir / "artifacts")),
            *("--host", self.host, "--port", str(self.port), "--workers", str(self.workers)),
        ]

    def environment(self) -> dict[str, str]:
        """Where the app keeps runs and models (sqlite) and the artifacts it serves."""
        db_uri = f"sqlite:///{self.data_dir / 'mlflow.db'}"
        return {
            BACKEND_STORE_VARIABLE: db_uri,
            REGISTRY_STORE_VARIABLE: db_uri,
            ARTIFACT_ROOT_VARIABLE: SERVED_ARTIFACTS_ROOT,
            SERVE_ARTIFACTS_VARIABLE: "true",
            ARTIFACTS_DESTINATION_VARIABLE: str(self.data_dir / "artifacts"),
            SERVER_KIND_VARIABLE: "uvicorn",
        }

    def auth_environment(self) -> dict[str, str]:
        """MLflow's basic-auth app and its admin (server/auth.py); nothing without an admin. The
        password travels in the environment, never in the command line `ps` shows."""
        if self.admin is None:
            return {}
        return server_environment(self.data_dir, self.admin, os.environ)

    def prepare_database(self) -> None:
        """WAL journal: with the app's `synchronous=NORMAL`, commits skip the fsync."""
        use_wal_journal(self.data_dir / "mlflow.db")

    def start(self, timeout: float = 90.0) -> ServerState:
        """Start in the background and wait for `/health`; reuse this folder's running server."""
        state = self.launch()
        self.wait_healthy(timeout)
        return state

    def launch(self) -> ServerState:
        """Start the process group and return at once (the server answers seconds later), so a
        caller can prepare its own work meanwhile; `wait_healthy` then waits for `/health`.
        A healthy server of this folder is reused."""
        _ensure_writable(self.data_dir)
        if self.admin is not None:
            require_auth_support()
        running = self.read_state()
        if running is not None and is_healthy(running.uri):
            if running.auth != (self.admin is not None):
                raise ServerError(
                    f"the server of {self.data_dir} already runs at {running.uri} "
                    f"{'with' if running.auth else 'without'} authentication; stop it first "
                    "with `tracking-demo server stop`"
                )
            logger.info("server for %s already running at %s", self.data_dir, running.uri)
            return running
        if not port_is_free(self.host, self.port):
            what = "another MLflow server" if is_healthy(self.uri) else "another program"
            raise ServerError(
                f"port {self.port} on {self.host} is already used by {what}; "
                "choose another with --port"
                + (f" or use it with --tracking-uri {self.uri}" if what.endswith("server") else "")
            )
        self.prepare_database()
        env = {**os.environ, **self.environment(), **self.auth_environment()}
        if self.admin is None:  # a user's own MLflow ini must not turn auth on unasked
            for name in (AUTH_CONFIG_VARIABLE, ADMIN_USERNAME_VARIABLE, ADMIN_PASSWORD_VARIABLE):
                env.pop(name, None)
        # MLflow's job runner (GenAI scoring, trace archival) is not started: it would add eight
        # processes and ~500 MiB that tracking does not use; the app is told so too.
        env.setdefault("MLFLOW_SERVER_ENABLE_JOB_EXECUTION", "false")
        self._process = start_group(
            self.command(), output=self.log_path, env=env, cwd=self.data_dir
        )
        state = ServerState(
            pid=self._process.pid,
            host=self.host,
            port=self.port,
            data_dir=str(self.data_dir),
            azure_surface=self.azure_surface,
            auth=self.admin is not None,
        )
        self.state_path.write_text(json.dumps(asdict(state), indent=2))
        self._launched_at = time.monotonic()
        return state

    def wait_healthy(self, timeout: float = 90.0) -> None:
        """Wait for the server `launch` started to answer `/health` (at once when it reused a
        running one); one that exits or stays silent is stopped with its group and reported
        with the last lines of its log."""
        if self._process is None:
            return
        wait_answering(
            self._process,
            f"{self.uri}/health",
            timeout,
            name="the MLflow server",
            log=self.log_path,
        )
        logger.info(
            "server healthy at %s after %.1fs", self.uri, time.monotonic() - self._launched_at
        )

    def stop(self, timeout: float = 20.0) -> bool:
        """End the whole process group; False when no server of this folder was running."""
        state = self.read_state()
        if state is None:
            self.state_path.unlink(missing_ok=True)
            return False
        self._stop_group(state.pid, timeout)
        self.state_path.unlink(missing_ok=True)
        return True

    def _stop_group(self, pgid: int, timeout: float) -> None:
        child = self._process if self._process is not None and self._process.pid == pgid else None
        if not stop_process_group(pgid, timeout, child):
            logger.warning("server group %d ignored SIGTERM for %.0fs; killed", pgid, timeout)

"""Authentication of the local server: when it is needed, where the admin password comes from,
and the variables that turn on MLflow's own basic-auth app.

A server bound to anything but loopback serves runs and the registry to the network, so it
starts only with MLflow's basic auth or an explicit `--insecure-no-auth`. The admin password
comes from `$TRACKING_DEMO_ADMIN_PASSWORD` or a file the CLI reads, never from the command line
(`ps` shows that to every user) and is never written anywhere: MLflow reads the admin password
only from the `basic_auth.ini` it is pointed at, so the ini written here holds a random
placeholder, and the app (`server.app`) creates or updates the admin from the environment
before MLflow's `create_app` runs (which then finds the admin and leaves it alone). This module
imports no MLflow: `server start` decides before anything heavy is loaded.
"""

from __future__ import annotations

import importlib.util
import ipaddress
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from tracking_demo.errors import CREDENTIAL_VARIABLES, ConfigError, ServerError

ADMIN_PASSWORD_VARIABLE = "TRACKING_DEMO_ADMIN_PASSWORD"
ADMIN_USERNAME_VARIABLE = "TRACKING_DEMO_ADMIN_USERNAME"
# MLflow's names (mlflow.environment_variables; tests/unit/test_server_auth.py checks them).
AUTH_CONFIG_VARIABLE = "MLFLOW_AUTH_CONFIG_PATH"
SECRET_KEY_VARIABLE = "MLFLOW_FLASK_SERVER_SECRET_KEY"
CLIENT_USERNAME_VARIABLE, CLIENT_PASSWORD_VARIABLE = CREDENTIAL_VARIABLES
AUTH_CONFIG_FILE = "basic_auth.ini"
AUTH_DATABASE_FILE = "basic_auth.db"
DEFAULT_ADMIN_USERNAME = "admin"
# MLflow refuses shorter passwords (mlflow.utils.validation._validate_password).
MIN_PASSWORD_LENGTH = 12


def is_loopback(host: str) -> bool:
    """True when a server bound to `host` is reachable from this machine only: `localhost`,
    127.0.0.0/8 or ::1. Any other name or address (0.0.0.0, ::, a LAN address, a host name)
    may be reached from the network."""
    name = host.strip().strip("[]").lower()
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class AdminCredentials:
    """The admin the server is started with; the password never shows in a repr or a log."""

    username: str
    password: str = field(repr=False)


def checked_password(password: str, source: str) -> str:
    """`password` if MLflow will accept it as the admin's, else a ConfigError naming `source`."""
    if not password.strip():
        raise ConfigError(f"{source}: the admin password is empty")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ConfigError(
            f"{source}: the admin password must have at least {MIN_PASSWORD_LENGTH} characters "
            "(MLflow's rule)"
        )
    return password


def resolve_credentials(
    host: str,
    *,
    auth: bool,
    insecure_no_auth: bool,
    password_from_file: str | None,
    username: str,
    environ: Mapping[str, str],
) -> AdminCredentials | None:
    """The admin to start the server with, or None for a server without authentication.

    Authentication is on with `--auth` or `--admin-password-file`; a host that is not loopback
    needs it, or an explicit `--insecure-no-auth`. Refused: one line naming both ways out."""
    wanted = auth or password_from_file is not None
    if wanted and insecure_no_auth:
        raise ConfigError("--insecure-no-auth cannot be combined with --auth/--admin-password-file")
    if not wanted:
        if not is_loopback(host) and not insecure_no_auth:
            raise ServerError(
                f"--host {host} would serve runs and models to the network without "
                f"authentication; turn it on with --auth (admin password in "
                f"${ADMIN_PASSWORD_VARIABLE} or --admin-password-file PATH), or accept the risk "
                "with --insecure-no-auth"
            )
        return None
    if not username.strip() or ":" in username:
        raise ConfigError(f"--admin-username '{username}': expected a name without ':'")
    if password_from_file is not None:
        return AdminCredentials(
            username, checked_password(password_from_file, "--admin-password-file")
        )
    from_env = environ.get(ADMIN_PASSWORD_VARIABLE)
    if from_env is None:
        raise ConfigError(
            f"authentication needs the admin password in ${ADMIN_PASSWORD_VARIABLE} or in a file "
            "named by --admin-password-file (never on the command line, where ps shows it)"
        )
    return AdminCredentials(username, checked_password(from_env, f"${ADMIN_PASSWORD_VARIABLE}"))


def insecure_warning(host: str) -> str:
    return (
        f"warning: the MLflow server on {host} has NO authentication (--insecure-no-auth): "
        "anyone who reaches the port can write runs and register or delete models"
    )


def write_auth_config(data_dir: Path, username: str) -> Path:
    """MLflow's `basic_auth.ini` for this folder: the users' database beside the runs' one, the
    admin's name, and a random placeholder where MLflow expects the admin password (never the
    real one: the app sets that from the environment). Written 0600 all the same."""
    path = data_dir / AUTH_CONFIG_FILE
    text = (
        "# Written by tracking-demo server start. The admin password is not here: it is set\n"
        f"# from ${ADMIN_PASSWORD_VARIABLE} or --admin-password-file at each start.\n"
        "[mlflow]\n"
        "default_permission = READ\n"
        f"database_uri = sqlite:///{data_dir / AUTH_DATABASE_FILE}\n"
        f"admin_username = {username}\n"
        f"admin_password = unused-{secrets.token_urlsafe(24)}\n"
        "authorization_function = mlflow.server.auth:authenticate_request_basic_auth\n"
    )
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.chmod(path, 0o600)
    return path


def server_environment(
    data_dir: Path, credentials: AdminCredentials, environ: Mapping[str, str]
) -> dict[str, str]:
    """What the server's processes need to serve MLflow's basic-auth app: its ini, the Flask
    secret key every worker shares (kept if the user set one), the admin to create or update."""
    return {
        AUTH_CONFIG_VARIABLE: str(write_auth_config(data_dir, credentials.username)),
        SECRET_KEY_VARIABLE: environ.get(SECRET_KEY_VARIABLE) or secrets.token_hex(32),
        ADMIN_USERNAME_VARIABLE: credentials.username,
        ADMIN_PASSWORD_VARIABLE: credentials.password,
    }


def require_auth_support() -> None:
    """MLflow's basic-auth app needs its `auth` extra (Flask-WTF); without it the server would
    die at start-up with a traceback in its log. Found without importing anything."""
    if importlib.util.find_spec("flask_wtf") is None:
        raise ServerError(
            "authentication needs MLflow's auth extra (Flask-WTF), which is not installed in "
            "this environment: install mlflow[auth]"
        )


def client_credentials(environ: Mapping[str, str] = os.environ) -> tuple[str, str] | None:
    """The basic-auth pair MLflow's own client sends (`MLFLOW_TRACKING_USERNAME/PASSWORD`), for
    the project's own requests to the tracking server."""
    username = environ.get(CLIENT_USERNAME_VARIABLE)
    password = environ.get(CLIENT_PASSWORD_VARIABLE)
    return (username, password) if username and password else None

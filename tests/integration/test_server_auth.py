"""`tracking-demo server start` off loopback needs MLflow's basic auth (or an explicit
`--insecure-no-auth`); with auth on, clients pass MLflow's own variables, and the admin password
shows in no log and no process's command line. Real servers on free loopback ports."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from hypothesis import given
from hypothesis import strategies as st
from mlflow.tracking import MlflowClient
from tests.support.cli import run_cli
from tests.support.endpoint import group_command_lines

from tracking_demo.cli.secret_files import secret_from_bytes
from tracking_demo.errors import ConfigError, ServerError, TrackingIncompleteError
from tracking_demo.server.auth import (
    ADMIN_PASSWORD_VARIABLE,
    AUTH_CONFIG_VARIABLE,
    CLIENT_PASSWORD_VARIABLE,
    CLIENT_USERNAME_VARIABLE,
    SECRET_KEY_VARIABLE,
    is_loopback,
    resolve_credentials,
)
from tracking_demo.server.local import LocalServer
from tracking_demo.server.processes import find_free_port
from tracking_demo.tracking.logger import LoggerOptions
from tracking_demo.tracking.session import TrackingSession
from tracking_demo.tracking.settings import TrackingSettings

PASSWORD = "first-admin-password-9f3c"
NEW_PASSWORD = "second-admin-password-7d1e"
REFUSAL = "would serve runs and models to the network without authentication"
SEARCH = "/api/2.0/mlflow/experiments/search?max_results=5"


def test_variable_names_are_mlflows() -> None:
    from mlflow.environment_variables import (
        MLFLOW_AUTH_CONFIG_PATH,
        MLFLOW_FLASK_SERVER_SECRET_KEY,
        MLFLOW_TRACKING_PASSWORD,
        MLFLOW_TRACKING_USERNAME,
    )

    assert MLFLOW_AUTH_CONFIG_PATH.name == AUTH_CONFIG_VARIABLE
    assert MLFLOW_FLASK_SERVER_SECRET_KEY.name == SECRET_KEY_VARIABLE
    assert MLFLOW_TRACKING_USERNAME.name == CLIENT_USERNAME_VARIABLE
    assert MLFLOW_TRACKING_PASSWORD.name == CLIENT_PASSWORD_VARIABLE


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.8.9.10", True),
        ("localhost", True),
        ("LOCALHOST", True),
        ("::1", True),
        ("[::1]", True),
        ("0.0.0.0", False),
        ("::", False),
        ("192.168.1.20", False),
        ("myhost.example", False),
        ("", False),
    ],
)
def test_only_loopback_is_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def _resolve(host: str, environ: dict[str, str] | None = None, **flags: object):  # type: ignore[no-untyped-def]
    options: dict[str, object] = {
        "auth": False,
        "insecure_no_auth": False,
        "password_from_file": None,
        "username": "admin",
    }
    return resolve_credentials(host, environ=environ or {}, **{**options, **flags})  # type: ignore[arg-type]


def test_off_loopback_without_auth_is_refused_naming_both_ways_out() -> None:
    with pytest.raises(ServerError) as refused:
        _resolve("0.0.0.0")
    line = str(refused.value)
    assert "\n" not in line
    assert "--auth" in line and "--insecure-no-auth" in line and ADMIN_PASSWORD_VARIABLE in line


def test_auth_takes_the_password_from_the_variable_or_the_file_only() -> None:
    assert _resolve("127.0.0.1") is None
    assert _resolve("0.0.0.0", insecure_no_auth=True) is None
    with pytest.raises(ConfigError, match=ADMIN_PASSWORD_VARIABLE):
        _resolve("0.0.0.0", auth=True)
    admin = _resolve("0.0.0.0", {ADMIN_PASSWORD_VARIABLE: PASSWORD}, auth=True)
    assert admin is not None and admin.password == PASSWORD
    assert PASSWORD not in repr(admin)
    from_file = _resolve("127.0.0.1", password_from_file=NEW_PASSWORD)
    assert from_file is not None and from_file.password == NEW_PASSWORD
    with pytest.raises(ConfigError, match="at least 12 characters"):
        _resolve("127.0.0.1", {ADMIN_PASSWORD_VARIABLE: "short"}, auth=True)
    with pytest.raises(ConfigError, match="cannot be combined"):
        _resolve("0.0.0.0", auth=True, insecure_no_auth=True)


@given(st.binary(max_size=64))
def test_any_password_file_is_a_secret_or_one_line_naming_the_file(raw: bytes) -> None:
    try:
        secret = secret_from_bytes(raw, "--admin-password-file pw.txt")
    except ConfigError as error:
        assert str(error).startswith("--admin-password-file pw.txt: expected ")
        assert "\n" not in str(error)
    else:
        assert secret.strip() and "\n" not in secret and "\r" not in secret
        assert raw.decode("utf-8") in (secret, secret + "\n", secret + "\r\n")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b"", "the file is empty"),
        (b" \t\n", "the file is empty"),
        (b"\xff\xfe password", "expected UTF-8 text"),
        (b"one\ntwo\n", "expected one line"),
    ],
)
def test_bad_password_files_are_one_line(raw: bytes, expected: str) -> None:
    with pytest.raises(ConfigError, match=expected):
        secret_from_bytes(raw, "--admin-password-file pw.txt")


# --- real servers ----------------------------------------------------------------------------


def _start(data_dir: Path, port: int, *args: str, env: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    return run_cli(
        *("server", "start", "--data-dir", str(data_dir), "--port", str(port), *args), env=env
    )


def _stop(data_dir: Path) -> None:
    run_cli("server", "stop", "--data-dir", str(data_dir))


def test_off_loopback_start_without_auth_fails_with_the_line(tmp_path: Path) -> None:
    result = _start(tmp_path, find_free_port(), "--host", "0.0.0.0")
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1 and REFUSAL in result.stderr
    assert not (tmp_path / "server.json").exists()


@pytest.mark.integration
@pytest.mark.slow
def test_insecure_no_auth_warns_at_every_start(tmp_path: Path) -> None:
    port = find_free_port("0.0.0.0")
    try:
        for _ in range(2):  # the second start reuses the running server and warns again
            result = _start(tmp_path, port, "--host", "0.0.0.0", "--insecure-no-auth")
            assert result.returncode == 0, result.stderr
            assert "NO authentication (--insecure-no-auth)" in result.stderr
        assert requests.get(f"http://127.0.0.1:{port}{SEARCH}", timeout=10).status_code == 200
    finally:
        _stop(tmp_path)


@pytest.fixture(scope="module")
def auth_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str]]:
    """`server start --auth` on a free loopback port, the password from the variable."""
    data_dir = tmp_path_factory.mktemp("auth-server")
    port = find_free_port()
    started = _start(data_dir, port, "--auth", env={ADMIN_PASSWORD_VARIABLE: PASSWORD})
    assert started.returncode == 0, started.stderr
    assert PASSWORD not in started.stdout + started.stderr
    try:
        yield data_dir, f"http://127.0.0.1:{port}"
    finally:
        _stop(data_dir)


def _credentials(password: str = PASSWORD) -> dict[str, str]:
    return {CLIENT_USERNAME_VARIABLE: "admin", CLIENT_PASSWORD_VARIABLE: password}


@pytest.mark.integration
@pytest.mark.slow
def test_requests_need_the_admins_password(auth_server: tuple[Path, str]) -> None:
    data_dir, uri = auth_server
    assert requests.get(f"{uri}{SEARCH}", timeout=10).status_code == 401
    assert (
        requests.get(
            f"{uri}{SEARCH}", auth=("admin", "wrong-password-1234"), timeout=10
        ).status_code
        == 401
    )
    assert requests.get(f"{uri}{SEARCH}", auth=("admin", PASSWORD), timeout=10).status_code == 200
    assert requests.get(f"{uri}/health", timeout=10).status_code == 200  # for status and probes
    status = run_cli("server", "status", "--data-dir", str(data_dir))
    assert status.returncode == 0 and "healthy, basic auth" in status.stdout
    assert oct((data_dir / "basic_auth.ini").stat().st_mode & 0o777) == "0o600"
    assert PASSWORD not in (data_dir / "basic_auth.ini").read_text()


@pytest.mark.integration
@pytest.mark.slow
def test_training_with_mlflows_variables_lands_and_without_them_is_one_line(
    auth_server: tuple[Path, str], moons_dir: Path
) -> None:
    data_dir, uri = auth_server
    train = ("train", "moons", "--data", str(moons_dir), "--tracking-uri", uri)
    small = ("--grid", "n_estimators=10", "--grid", "max_depth=3", "--cv", "2")
    refused = run_cli(*train, *small)
    assert refused.returncode == 1
    assert refused.stderr.strip().splitlines() == [refused.stderr.strip()]
    assert "HTTP 401" in refused.stderr
    assert "MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD" in refused.stderr
    wrong = run_cli(*train, *small, env=_credentials("wrong-password-1234"))
    assert wrong.returncode == 1 and "refused the password of" in wrong.stderr

    trained = run_cli(*train, *small, "--experiment", "auth", env=_credentials())
    assert trained.returncode == 0, trained.stderr
    found = requests.post(
        f"{uri}/api/2.0/mlflow/runs/search",
        json={"experiment_ids": [_experiment_id(uri, "auth")]},
        auth=("admin", PASSWORD),
        timeout=10,
    ).json()["runs"]
    assert len(found) == 1 and found[0]["info"]["status"] == "FINISHED"
    metrics = {m["key"] for m in found[0]["data"]["metrics"]}
    assert "test_accuracy" in metrics

    outputs = refused.stdout + refused.stderr + wrong.stdout + trained.stdout + trained.stderr
    assert PASSWORD not in outputs
    for path in data_dir.rglob("*"):
        if path.is_file() and path.suffix not in (".db", ".db-wal", ".db-shm"):
            assert PASSWORD.encode() not in path.read_bytes(), f"the password is in {path}"
    pid = int((data_dir / "server.json").read_text().split('"pid": ')[1].split(",")[0])
    lines = group_command_lines(os.getpgid(pid))
    assert lines and all(PASSWORD not in line for line in lines)


def _experiment_id(uri: str, name: str) -> str:
    answer = requests.get(
        f"{uri}/api/2.0/mlflow/experiments/get-by-name",
        params={"experiment_name": name},
        auth=("admin", PASSWORD),
        timeout=10,
    )
    return str(answer.json()["experiment"]["experiment_id"])


@pytest.mark.integration
@pytest.mark.slow
def test_a_new_password_at_the_next_start_replaces_the_old(tmp_path: Path) -> None:
    port = find_free_port()
    first = _start(tmp_path, port, "--auth", env={ADMIN_PASSWORD_VARIABLE: PASSWORD})
    assert first.returncode == 0, first.stderr
    _stop(tmp_path)
    password_file = tmp_path / "admin-password"
    password_file.write_text(f"{NEW_PASSWORD}\n")
    try:
        again = _start(tmp_path, port, "--admin-password-file", str(password_file))
        assert again.returncode == 0, again.stderr
        search = f"http://127.0.0.1:{port}{SEARCH}"
        assert requests.get(search, auth=("admin", PASSWORD), timeout=10).status_code == 401
        assert requests.get(search, auth=("admin", NEW_PASSWORD), timeout=10).status_code == 200
        plain = _start(tmp_path, port)
        assert plain.returncode == 1 and "already runs" in plain.stderr
    finally:
        _stop(tmp_path)
    assert LocalServer(tmp_path).read_state() is None


@pytest.mark.integration
@pytest.mark.slow
def test_credentials_refused_mid_run_keep_every_record_for_sync(
    auth_server: tuple[Path, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A password changed while a run logs: nothing is acknowledged as refused, the records stay
    in the run's log, and `sync` with the right variables delivers each point once."""
    _, uri = auth_server
    monkeypatch.setenv(CLIENT_USERNAME_VARIABLE, "admin")
    monkeypatch.setenv(CLIENT_PASSWORD_VARIABLE, PASSWORD)
    session = TrackingSession(
        TrackingSettings(uri=uri, experiment="auth-mid-run", wal_root=tmp_path / "runs"),
        logger_options=LoggerOptions(fsync_interval_s=0.2, flush_timeout_s=5),
    )
    with (
        pytest.raises(TrackingIncompleteError, match="tracking-demo sync"),
        session.run() as run,
    ):
        for step in range(5):
            session.log_metric("loss", 1.0 / (step + 1), step)
        session.run_logger.flush(10)
        monkeypatch.setenv(CLIENT_PASSWORD_VARIABLE, "wrong-password-1234")
        for step in range(5, 10):
            session.log_metric("loss", 1.0 / (step + 1), step)
    run_dir = tmp_path / "runs" / run.run_id
    assert (run_dir / "wal.log").exists(), "the refused records are kept"

    refused = run_cli("sync", str(run_dir), env=_credentials("wrong-password-1234"))
    assert refused.returncode == 1
    assert "MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD" in refused.stderr
    assert run_dir.exists(), "a refused sync keeps the folder"
    synced = run_cli("sync", str(run_dir), env=_credentials())
    assert synced.returncode == 0, synced.stderr
    monkeypatch.setenv(CLIENT_PASSWORD_VARIABLE, PASSWORD)
    client = MlflowClient(uri)
    assert [p.step for p in client.get_metric_history(run.run_id, "loss")] == list(range(10))
    assert client.get_run(run.run_id).info.status == "FINISHED"

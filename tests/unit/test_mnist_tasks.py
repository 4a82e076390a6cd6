"""MNIST task steps that need no server: architectures, the epoch callback, options, splits."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tracking_demo.errors import ConfigError
from tracking_demo.tasks.epoch_logging import EpochMetricsLogger
from tracking_demo.tasks.mnist import (
    NetworkOptions,
    fit_logreg,
    split_validation,
    validate_network_options,
)
from tracking_demo.tasks.models.mnist import build, build_cnn, build_lenet


def _layer_config(model, kind: str) -> list[dict]:  # type: ignore[no-untyped-def]
    return [layer.get_config() for layer in model.layers if type(layer).__name__ == kind]


def test_cnn_is_the_tutorial_architecture() -> None:
    model = build_cnn()
    convs = _layer_config(model, "Conv2D")
    assert [(c["filters"], tuple(c["kernel_size"])) for c in convs] == [
        (64, (3, 3)),
        (64, (3, 3)),
        (128, (3, 3)),
        (128, (3, 3)),
        (256, (3, 3)),
    ]
    assert len(_layer_config(model, "MaxPooling2D")) == 3
    assert len(_layer_config(model, "BatchNormalization")) == 3
    assert [d["units"] for d in _layer_config(model, "Dense")] == [512, 10]
    assert model.input_shape == (None, 784)
    assert model.output_shape == (None, 10)


def test_lenet_is_lenet5_with_tanh() -> None:
    model = build_lenet()
    convs = _layer_config(model, "Conv2D")
    assert [(c["filters"], tuple(c["kernel_size"]), c["activation"]) for c in convs] == [
        (6, (5, 5), "tanh"),
        (16, (5, 5), "tanh"),
    ]
    dense = _layer_config(model, "Dense")
    assert [(d["units"], d["activation"]) for d in dense] == [
        (120, "tanh"),
        (84, "tanh"),
        (10, "softmax"),
    ]


def test_compiled_model_outputs_probabilities_for_784_pixels() -> None:
    model = build("lenet", learning_rate=1e-3)
    probabilities = model.predict(np.random.default_rng(0).random((3, 784)), verbose=0)
    assert probabilities.shape == (3, 10)
    assert probabilities.sum(axis=1) == pytest.approx(np.ones(3), abs=1e-5)
    assert model.optimizer.learning_rate.numpy() == pytest.approx(1e-3)


def test_epoch_callback_logs_numbers_with_one_based_steps() -> None:
    logged: list[tuple[dict[str, float], int]] = []
    callback = EpochMetricsLogger(lambda metrics, step: logged.append((dict(metrics), step)))
    for epoch, loss in enumerate([0.9, 0.5]):
        callback.on_epoch_begin(epoch)
        callback.on_epoch_end(
            epoch, {"loss": np.float32(loss), "val_accuracy": 0.5 + epoch / 10, "note": "x"}
        )
    assert [step for _, step in logged] == [1, 2]
    first = logged[0][0]
    assert set(first) == {"loss", "val_accuracy", "epoch_time_s"}
    assert first["loss"] == pytest.approx(0.9)
    assert first["epoch_time_s"] >= 0
    assert callback.history["loss"] == pytest.approx([0.9, 0.5])
    assert callback.history["val_accuracy"] == pytest.approx([0.5, 0.6])


def test_epoch_callback_keeps_nan_of_a_diverged_epoch() -> None:
    logged: list[dict[str, float]] = []
    callback = EpochMetricsLogger(lambda metrics, step: logged.append(dict(metrics)))
    callback.on_epoch_begin(0)
    callback.on_epoch_end(0, {"loss": float("nan")})
    assert np.isnan(logged[0]["loss"])


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"architecture": "resnet"}, "--arch 'resnet' is not one of cnn, lenet"),
        ({"validation_fraction": 0.0}, "--validation-split 0.0 must be above 0"),
        ({"validation_fraction": 0.6}, "--validation-split 0.6 must be above 0 and below 0.5"),
        ({"epochs": 0}, "epochs must be at least 1"),
    ],
)
def test_bad_network_options_are_config_errors(changes: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        validate_network_options(NetworkOptions(Path("data"), **changes))


def test_network_defaults_follow_each_tutorial() -> None:
    cnn, lenet = NetworkOptions(Path("d")), NetworkOptions(Path("d"), architecture="lenet")
    assert (cnn.resolved_batch_size, cnn.resolved_epochs) == (128, 12)
    assert (lenet.resolved_batch_size, lenet.resolved_epochs) == (10, 10)
    assert NetworkOptions(Path("d"), batch_size=7).resolved_batch_size == 7


def test_validation_split_is_stratified_seeded_and_disjoint() -> None:
    rng = np.random.default_rng(1)
    x = rng.random((1000, 784)).astype(np.float32)
    y = np.repeat(np.arange(10), 100)
    x_fit, y_fit, x_val, y_val = split_validation(x, y, 0.1, seed=3)
    assert (len(x_fit), len(x_val)) == (900, 100)
    assert np.bincount(y_val).tolist() == [10] * 10
    fit_rows = {row.tobytes() for row in x_fit}
    assert not any(row.tobytes() in fit_rows for row in x_val)
    again = split_validation(x, y, 0.1, seed=3)
    assert np.array_equal(again[2], x_val)


def test_logreg_reports_whether_lbfgs_converged() -> None:
    rng = np.random.default_rng(0)
    x = rng.random((200, 20))
    y = (x[:, 0] > 0.5).astype(int)
    _, converged = fit_logreg(x, y, max_iter=1000, c=1.0, seed=0)
    _, cut_short = fit_logreg(x, y, max_iter=1, c=1.0, seed=0)
    assert converged and not cut_short

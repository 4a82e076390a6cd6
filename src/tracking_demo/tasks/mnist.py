"""MNIST: logistic regression, the deep CNN and LeNet, each inside one MLflow run.

Every model takes the same input (784 pixels scaled to [0, 1], `data.mnist.scaled_pixels`), so
one signature, one scoring script and one client serve all of them.
"""

from __future__ import annotations

import importlib.util
import logging
import tempfile
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from mlflow.data.numpy_dataset import from_numpy
from mlflow.models import infer_signature
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, log_loss
from sklearn.model_selection import train_test_split

from tracking_demo import registry
from tracking_demo.data import mnist as mnist_data
from tracking_demo.errors import ConfigError
from tracking_demo.tasks import catalog, model_requirements
from tracking_demo.tasks.figures import Curve, confusion_matrix_figure, training_curves_figure
from tracking_demo.tasks.options import NETWORK_DEFAULTS, LogregOptions, NetworkOptions
from tracking_demo.tasks.recording import ModelToLog, Outcome, TaskResult, run_task
from tracking_demo.tracking import tags
from tracking_demo.tracking.session import TrackingSession, local_file_source
from tracking_demo.tracking.values import seconds

if TYPE_CHECKING:
    from tracking_demo.tasks.epoch_logging import LogMetrics
    from tracking_demo.tasks.tensorboard_logging import UploadFile

logger = logging.getLogger(__name__)

INPUT_EXAMPLE_ROWS = 2
# The networks' training curves: Keras' loss (sparse categorical cross-entropy, in nats) and
# accuracy (the share of images classified right).
CNN_CURVES = (
    Curve("loss", "loss: cross-entropy (nats)"),
    Curve("accuracy", "accuracy (share correct)"),
)


@dataclass(frozen=True)
class MnistArrays:
    """Scaled features and labels of each split, and the files they came from."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    files: mnist_data.MnistFiles


def validate_network_options(options: NetworkOptions) -> None:
    """Checked before a run exists: a typo must not leave a FAILED run behind."""
    if options.architecture not in NETWORK_DEFAULTS:
        raise ConfigError(
            f"--arch '{options.architecture}' is not one of {', '.join(NETWORK_DEFAULTS)}"
        )
    if not 0.0 < options.validation_fraction < 0.5:
        raise ConfigError(
            f"--validation-split {options.validation_fraction} must be above 0 and below 0.5"
        )
    for name, value in (("batch size", options.batch_size), ("epochs", options.epochs)):
        if value is not None and value < 1:
            raise ConfigError(f"{name} must be at least 1, got {value}")


def load_arrays(data_dir: Path) -> MnistArrays:
    data = mnist_data.load(data_dir)
    return MnistArrays(
        mnist_data.scaled_pixels(data.x_train),
        data.y_train.astype(np.int64),
        mnist_data.scaled_pixels(data.x_test),
        data.y_test.astype(np.int64),
        data.files,
    )


def _log_inputs(session: TrackingSession, arrays: MnistArrays) -> None:
    splits = [
        (arrays.x_train, arrays.y_train, arrays.files.train_images, "training"),
        (arrays.x_test, arrays.y_test, arrays.files.test_images, "testing"),
    ]
    for features, targets, path, context in splits:
        dataset = from_numpy(
            features, targets=targets, source=local_file_source(path), name=f"mnist-{context}"
        )
        session.log_input(dataset, context=context)


def _data_params(arrays: MnistArrays) -> dict[str, Any]:
    return {
        "n_train": len(arrays.x_train),
        "n_test": len(arrays.x_test),
        "data_dir": str(arrays.files.train_images.parent),
    }


def _registration_tags(kind: str, n_train: int, metrics: dict[str, float]) -> dict[str, str]:
    """What the MNIST tutorial tags (data, model) plus the kind and the deciding metrics."""
    tags = {"data": "mnist", "model": "classification", "model_kind": kind}
    tags["n_train"] = str(n_train)
    tags.update({name: registry.format_metric_tag(value) for name, value in metrics.items()})
    return tags


# --- logistic regression ------------------------------------------------------------------


def fit_logreg(
    x: np.ndarray, y: np.ndarray, max_iter: int, c: float, seed: int
) -> tuple[LogisticRegression, bool]:
    """The tutorial's multinomial logistic regression; also says whether lbfgs converged."""
    model = LogisticRegression(max_iter=max_iter, C=c, random_state=seed)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        model.fit(x, y)
    converged = not any(issubclass(w.category, ConvergenceWarning) for w in caught)
    return model, converged


def train_logreg(options: LogregOptions, session: TrackingSession) -> TaskResult:
    """Scaled pixels into LogisticRegression; test accuracy, confusion matrix, the model."""
    if options.max_iter < 1 or options.c <= 0:
        raise ConfigError("--max-iter must be at least 1 and --c above 0")
    asked = {"model_kind": "logreg", "max_iter": options.max_iter, "C": options.c}
    return run_task(
        session,
        catalog.MNIST_LOGREG,
        lambda session: _logreg_steps(options, session),
        params={**asked, "seed": options.seed},
        register_as=options.register_as,
    )


def _logreg_steps(options: LogregOptions, session: TrackingSession) -> Outcome:
    import mlflow.sklearn

    arrays = load_arrays(options.data_dir)
    _log_inputs(session, arrays)
    started = time.perf_counter()
    model, converged = fit_logreg(
        arrays.x_train, arrays.y_train, options.max_iter, options.c, options.seed
    )
    training_time = seconds(time.perf_counter() - started)
    predicted = model.predict(arrays.x_test)
    accuracy = float(accuracy_score(arrays.y_test, predicted))
    example = arrays.x_test[:INPUT_EXAMPLE_ROWS]
    signature = infer_signature(example, model.predict(example))
    return Outcome(
        params=_data_params(arrays),
        metrics={
            "test_accuracy": accuracy,
            "training_time_s": training_time,
            "n_iter": float(model.n_iter_.max()),
        },
        tags={tags.CONVERGED: str(converged).lower()},
        figures={
            "confusion_matrix.png": confusion_matrix_figure(
                arrays.y_test, predicted, f"Logistic regression, accuracy {accuracy:.4f}"
            )
        },
        model=ModelToLog(
            lambda path: mlflow.sklearn.save_model(
                model,
                str(path),
                signature=signature,
                input_example=example,
                pip_requirements=model_requirements.sklearn_model(),
            ),
            _registration_tags("logreg", len(arrays.x_train), {"test_accuracy": accuracy}),
        ),
    )


# --- the Keras networks -------------------------------------------------------------------


def split_validation(
    x: np.ndarray, y: np.ndarray, fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Validation comes out of the training files, stratified: the test set stays unseen.

    (The tutorial validated on the test set, which makes early stopping pick on test data.)
    """
    x_fit, x_val, y_fit, y_val = train_test_split(
        x, y, test_size=fraction, random_state=seed, stratify=y
    )
    return x_fit, y_fit, x_val, y_val


def _tensorboard_callback(log_dir: Path, upload: UploadFile) -> Any | None:
    """Keras writes TensorBoard events through TensorFlow's summary API; without it, skip.

    The event files go to the run at every epoch's end (`tasks/tensorboard_logging.py`), so
    `tracking-demo tensorboard RUN` shows the run while it trains."""
    if not all(importlib.util.find_spec(name) for name in ("tensorflow", "tensorboard")):
        logger.warning("TensorBoard logs need tensorflow and tensorboard installed; skipping them")
        return None
    from tracking_demo.tasks.tensorboard_logging import UploadingTensorBoard

    return UploadingTensorBoard(log_dir, upload, write_graph=True, update_freq="epoch")


@dataclass(frozen=True)
class FittedNetwork:
    """A trained network with the best epoch's weights, and what the epochs logged."""

    model: Any
    history: dict[str, list[float]]
    best_epoch: int
    best_val_accuracy: float
    training_time_s: float
    tensorboard_dir: Path | None


def fit_network(
    options: NetworkOptions,
    fit: tuple[np.ndarray, np.ndarray],
    validation: tuple[np.ndarray, np.ndarray],
    log_metrics: LogMetrics,
    tensorboard_dir: Path,
    upload_event_file: UploadFile,
) -> FittedNetwork:
    """Seeded build and fit; each epoch's metrics go to `log_metrics` and its TensorBoard event
    files to `upload_event_file` as the epoch ends."""
    import keras

    from tracking_demo.tasks.epoch_logging import EpochMetricsLogger
    from tracking_demo.tasks.models.mnist import build

    keras.utils.set_random_seed(options.seed)
    model = build(options.architecture, options.learning_rate)  # type: ignore[arg-type]
    epoch_logger = EpochMetricsLogger(log_metrics)
    early_stopping = keras.callbacks.EarlyStopping(
        monitor="val_accuracy", mode="max", patience=options.patience, restore_best_weights=True
    )
    callbacks: list[Any] = [epoch_logger, early_stopping]
    tensorboard = (
        _tensorboard_callback(tensorboard_dir, upload_event_file) if options.tensorboard else None
    )
    if tensorboard is not None:
        callbacks.append(tensorboard)
    started = time.perf_counter()
    model.fit(
        *fit,
        batch_size=options.resolved_batch_size,
        epochs=options.resolved_epochs,
        validation_data=validation,
        callbacks=callbacks,
        verbose=options.verbose,
    )
    training_time = seconds(time.perf_counter() - started)
    wrote_tensorboard = tensorboard is not None and tensorboard_dir.is_dir()
    return FittedNetwork(
        model=model,
        history=epoch_logger.history,
        best_epoch=early_stopping.best_epoch + 1,
        best_val_accuracy=float(early_stopping.best),
        training_time_s=training_time,
        tensorboard_dir=tensorboard_dir if wrote_tensorboard else None,
    )


def train_network(options: NetworkOptions, session: TrackingSession) -> TaskResult:
    """The CNN or LeNet with per-epoch metrics, early stopping, TensorBoard and the model."""
    validate_network_options(options)
    asked = {
        "model_kind": options.architecture,
        "batch_size": options.resolved_batch_size,
        "epochs": options.resolved_epochs,
        "learning_rate": options.learning_rate,
        "optimizer": "adam",
        "early_stopping_monitor": "val_accuracy",
        "early_stopping_patience": options.patience,
        "restore_best_weights": True,
        "validation_fraction": options.validation_fraction,
        "seed": options.seed,
    }
    return run_task(
        session,
        catalog.MNIST_CNN,
        lambda session: _network_steps(options, session),
        params=asked,
        register_as=options.register_as,
        run_prefix=f"mnist-{options.architecture}",
    )


def _network_steps(options: NetworkOptions, session: TrackingSession) -> Outcome:
    import keras

    arch = options.architecture
    arrays = load_arrays(options.data_dir)
    x_fit, y_fit, x_val, y_val = split_validation(
        arrays.x_train, arrays.y_train, options.validation_fraction, options.seed
    )
    _log_inputs(session, arrays)
    with tempfile.TemporaryDirectory(prefix="tensorboard-") as tb_root:
        # The event files reach the run as each epoch ends, the last changes when `fit` ends.
        fitted = fit_network(
            options,
            (x_fit, y_fit),
            (x_val, y_val),
            session.log_metrics,
            Path(tb_root) / "logs",
            session.log_artifact,
        )
    model, history, best_epoch = fitted.model, fitted.history, fitted.best_epoch
    probabilities = model.predict(arrays.x_test, batch_size=1024, verbose=0)
    predicted = probabilities.argmax(axis=1)
    test_accuracy = float(accuracy_score(arrays.y_test, predicted))
    test_loss = float(log_loss(arrays.y_test, probabilities, labels=list(range(10))))
    example = arrays.x_test[:INPUT_EXAMPLE_ROWS]
    signature = infer_signature(example, probabilities[:INPUT_EXAMPLE_ROWS])
    deciding = {"test_accuracy": test_accuracy, "best_val_accuracy": fitted.best_val_accuracy}
    return Outcome(
        params={
            "n_validation": len(x_val),
            "keras_backend": keras.backend.backend(),
            **_data_params(arrays),
        },
        metrics={
            "test_accuracy": test_accuracy,
            "test_loss": test_loss,
            "best_val_accuracy": fitted.best_val_accuracy,
            "best_epoch": float(best_epoch),
            "epochs_trained": float(len(history.get("loss", []))),
            "training_time_s": fitted.training_time_s,
        },
        figures={
            "training_curves.png": training_curves_figure(history, CNN_CURVES, best_epoch),
            "confusion_matrix.png": confusion_matrix_figure(
                arrays.y_test, predicted, f"{arch}, test accuracy {test_accuracy:.4f}"
            ),
        },
        model=ModelToLog(
            lambda path: _save_keras_model(model, path, signature, example),
            _registration_tags(arch, len(arrays.x_train), deciding),
        ),
        history=history,
    )


def _save_keras_model(model: Any, path: Path, signature: Any, example: np.ndarray) -> None:
    """`mlflow.keras.save_model` writes the input example before it creates the folder."""
    import mlflow.keras

    path.mkdir(parents=True)
    mlflow.keras.save_model(
        model,
        str(path),
        signature=signature,
        input_example=example,
        pip_requirements=model_requirements.keras_model(),
    )

"""Tiny real models of each kind the tasks log, saved as the tasks save them, for serving tests.

Fitted by the tasks' own steps on small data (the moons forest by `fit_grid_search`, the MNIST
logistic regression by `fit_logreg`, the housing MLP by `fit_mlp`; the CNN is the task's
architecture, untrained: serving must answer what the model predicts, whatever it learnt), with
the signatures and input examples the tasks write. Built once per test session.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import joblib
import mlflow
import numpy as np
import pandas as pd
import pytest
from mlflow.models import infer_signature

from tracking_demo.tasks import model_requirements

KINDS = ("moons", "logreg", "cnn", "housing")


@dataclass(frozen=True)
class ServedModels:
    """Model folders by kind, and rows each one scores (a frame for columns, an array for
    tensors) with the predictions its own flavor gives for them."""

    root: Path
    rows: dict[str, Any]

    def path(self, kind: str) -> Path:
        return self.root / kind


def _moons(root: Path) -> pd.DataFrame:
    from tracking_demo.data.moons import MoonsSpec, load, write
    from tracking_demo.tasks.moons import SKOPS_TRUSTED_TYPES, fit_grid_search

    data_dir = root / "moons-data"
    data_dir.mkdir()
    write(MoonsSpec(), data_dir)
    data = load(data_dir)
    with joblib.parallel_config(backend="threading"):  # not seconds of worker processes
        search = fit_grid_search(
            data.x_train, data.y_train, {"n_estimators": [10], "max_depth": [5]}, 2, 42
        )
    model, example = search.best_estimator_, data.x_test.head(5)
    mlflow.sklearn.save_model(
        model,
        str(root / "moons"),
        signature=infer_signature(example, model.predict(example)),
        input_example=example,
        skops_trusted_types=SKOPS_TRUSTED_TYPES,
        pip_requirements=model_requirements.sklearn_model(),
    )
    return data.x_test.head(6).reset_index(drop=True)


def _pixels(rows: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).random((rows, 784), dtype=np.float32)


def _logreg(root: Path) -> np.ndarray:
    from tracking_demo.tasks.mnist import fit_logreg

    x = _pixels(100, 0)
    y = np.arange(100) % 10
    model, _ = fit_logreg(x, y, max_iter=20, c=1.0, seed=0)
    example = x[:2]
    mlflow.sklearn.save_model(
        model,
        str(root / "logreg"),
        signature=infer_signature(example, model.predict(example)),
        input_example=example,
        pip_requirements=model_requirements.sklearn_model(),
    )
    return _pixels(4, 1)


def _cnn(root: Path) -> np.ndarray:
    from tracking_demo.tasks.mnist import _save_keras_model
    from tracking_demo.tasks.models.mnist import build

    model = build("cnn", learning_rate=1e-3)
    example = _pixels(2, 2)
    signature = infer_signature(example, model.predict(example, verbose=0))
    _save_keras_model(model, root / "cnn", signature, example)
    return _pixels(4, 3)


def _housing(root: Path) -> pd.DataFrame:
    from tracking_demo.data import housing as housing_data
    from tracking_demo.tasks import housing
    from tracking_demo.tasks.models import housing as housing_model
    from tracking_demo.tasks.options import MlpOptions, SplitOptions

    data_file = housing_data.write(housing_data.HousingSpec(n_rows=300), root)
    split = housing_data.load(data_file)
    fitted = housing.fit_mlp(
        MlpOptions(SplitOptions(data_file), epochs=1, verbose=0), split, lambda *_: None, []
    )

    def predict(frame: pd.DataFrame) -> np.ndarray:
        rows = fitted.features.transform(frame)
        return np.asarray(fitted.network.predict_on_batch(rows)).reshape(-1)

    example, signature = housing._signature(split, predict)
    housing_model.save(root / "housing", fitted.features, fitted.network, signature, example)
    rows = split.x_test.head(5).reset_index(drop=True)
    rows.loc[1, housing_data.IMPUTED] = np.nan  # the one nullable column, null on one row
    return rows


BUILDERS = {"moons": _moons, "logreg": _logreg, "cnn": _cnn, "housing": _housing}


def served_models(factory: pytest.TempPathFactory) -> ServedModels:
    """Every kind, built on first use in the session (seconds, most of it importing Keras)."""
    return _build(factory.getbasetemp())


@functools.cache
def _build(session_root: Path) -> ServedModels:
    root = session_root / "served-models"
    root.mkdir()
    return ServedModels(root, {kind: build(root) for kind, build in BUILDERS.items()})


def expected_predictions(path: Path, rows: Any) -> list[Any]:
    """What the saved model predicts for `rows` through its own flavor, as MLflow loads it."""
    flavors = mlflow.models.Model.load(str(path)).flavors
    if "sklearn" in flavors:
        return mlflow.sklearn.load_model(str(path)).predict(rows).tolist()
    if "keras" in flavors:
        model = mlflow.keras.load_model(str(path))
        return model.predict(rows, verbose=0).argmax(axis=1).tolist()
    return np.asarray(mlflow.pyfunc.load_model(str(path)).predict(rows)).reshape(-1).tolist()

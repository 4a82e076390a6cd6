"""Load an MLflow model for scoring through its native flavor, so classifiers give labels and,
on request, class probabilities (the generic pyfunc wrapper exposes neither for every flavor)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeAlias

import mlflow
import numpy as np
import pandas as pd
from mlflow.exceptions import MlflowException
from mlflow.models import Model

from tracking_demo.errors import ConfigError, DataError
from tracking_demo.serving.payload import InputSpec

log = logging.getLogger(__name__)

Features: TypeAlias = np.ndarray | pd.DataFrame


def find_model_dir(root: Path) -> Path:
    """The folder holding `MLmodel`: `root` itself or the one folder below it that does (Azure ML
    mounts a registered model at `AZUREML_MODEL_DIR/<artifact path>`)."""
    if (root / "MLmodel").is_file():
        return root
    found = sorted(root.rglob("MLmodel"), key=lambda p: (len(p.parts), str(p)))
    if not found:
        raise ConfigError(f"no MLflow model (an MLmodel file) under {root}")
    shallowest = [p for p in found if len(p.parts) == len(found[0].parts)]
    if len(shallowest) > 1:
        raise ConfigError(
            f"several MLflow models under {root}: "
            f"{', '.join(str(p.parent) for p in shallowest)}; point at one of them"
        )
    return found[0].parent


class ModelOutputError(DataError):
    """The model answered NaN or infinity for some rows: rows it cannot score (inputs far
    outside what it learnt from), not an answer to pass on, since JSON has no NaN."""


def finite(values: np.ndarray, what: str) -> np.ndarray:
    """`values` when every number is finite, else `ModelOutputError` naming the first row."""
    if values.dtype.kind in "fc":
        bad = ~np.isfinite(values)
        if bad.any():
            position = np.argwhere(bad)[0]
            raise ModelOutputError(
                f"the model's {what} for row {int(position[0])} is {values[tuple(position)]}; "
                "its inputs are probably far outside the range it was trained on"
            )
    return values


@dataclass
class LoadedModel:
    """A model ready to score: `predict` gives labels (classifiers) or values (regressors)."""

    source: str
    path: Path
    flavor: str
    run_id: str | None
    spec: InputSpec
    classes: list[Any] | None
    _predict: Callable[[Features], np.ndarray]
    _probabilities: Callable[[Features], np.ndarray] | None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def is_classifier(self) -> bool:
        return self._probabilities is not None

    def predict(self, features: Features) -> np.ndarray:
        with self._lock:
            return finite(np.asarray(self._predict(features)), "prediction")

    def probabilities(self, features: Features) -> np.ndarray:
        if self._probabilities is None:
            raise TypeError("this model is a regressor; it has no class probabilities")
        with self._lock:
            return finite(np.asarray(self._probabilities(features)), "class probabilities")

    def describe(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "flavor": self.flavor,
            "run_id": self.run_id,
            "task": "classification" if self.is_classifier else "regression",
            "classes": self.classes,
            "input": self.spec.describe(),
        }


def load(source: str | Path) -> LoadedModel:
    """Load a local model folder or any MLflow model URI (downloaded first)."""
    path = Path(source)
    if not path.exists():
        try:
            uri = _pinned(str(source))
            path = Path(mlflow.artifacts.download_artifacts(artifact_uri=uri))
        except MlflowException as error:
            raise ConfigError(f"cannot fetch the model '{source}': {error.message}") from error
        except OSError as error:
            raise ConfigError(f"cannot fetch the model '{source}': {error}") from error
    path = find_model_dir(path)
    meta = Model.load(str(path))
    try:
        spec = InputSpec.from_signature(meta.signature)
    except ValueError as error:
        raise ConfigError(f"{path}: {error}") from error
    if "sklearn" in meta.flavors:
        loaded = _sklearn(str(source), path, meta, spec)
    elif "keras" in meta.flavors:
        loaded = _keras(str(source), path, meta, spec)
    else:
        loaded = _pyfunc(str(source), path, meta, spec)
    _warm_up(loaded)
    return loaded


def _pinned(uri: str) -> str:
    """`models:/NAME@ALIAS` → `models:/NAME/VERSION` through the registry's own lookup, which
    also reads the version tag standing in for an alias where the server has none (Azure ML)."""
    from mlflow.tracking import MlflowClient

    from tracking_demo import registry

    return registry.pinned_uri(MlflowClient(), uri) if "@" in uri else uri


def _sklearn(source: str, path: Path, meta: Model, spec: InputSpec) -> LoadedModel:
    import mlflow.sklearn

    estimator = mlflow.sklearn.load_model(str(path))
    proba = getattr(estimator, "predict_proba", None) if hasattr(estimator, "classes_") else None
    classes = [_plain(c) for c in estimator.classes_] if proba is not None else None
    return LoadedModel(
        source, path, "sklearn", meta.run_id, spec, classes, estimator.predict, proba
    )


def _keras(source: str, path: Path, meta: Model, spec: InputSpec) -> LoadedModel:
    """A Keras model with a softmax head of k > 1 units is a classifier over 0..k-1."""
    import mlflow.keras

    model = mlflow.keras.load_model(str(path))
    units = int(np.prod(model.output_shape[1:]))

    def raw(features: Features) -> np.ndarray:
        return np.asarray(model.predict_on_batch(np.asarray(features)))

    if units > 1:
        return LoadedModel(
            source,
            path,
            "keras",
            meta.run_id,
            spec,
            list(range(units)),
            lambda x: finite(raw(x), "output").argmax(axis=1),
            raw,
        )
    return LoadedModel(
        source, path, "keras", meta.run_id, spec, None, lambda x: raw(x).reshape(-1), None
    )


def _pyfunc(source: str, path: Path, meta: Model, spec: InputSpec) -> LoadedModel:
    """Any other flavor scores through pyfunc, as a model whose outputs are returned as they are."""
    model = mlflow.pyfunc.load_model(str(path))
    flavor = next((f for f in meta.flavors if f != "python_function"), "python_function")

    def predict(features: Features) -> np.ndarray:
        result = model.predict(features)
        return np.asarray(result.to_numpy() if hasattr(result, "to_numpy") else result)

    return LoadedModel(source, path, flavor, meta.run_id, spec, None, predict, None)


def example_features(spec: InputSpec, rows: int = 1) -> Features:
    """Zeros shaped like `rows` examples: used to warm the model up before the first request."""
    if spec.kind == "tensor":
        return np.zeros((rows, *spec.feature_shape), dtype=spec.tensor_dtype)
    return pd.DataFrame(
        {c.name: np.zeros(rows, dtype=c.dtype) if c.numeric else [""] * rows for c in spec.columns}
    )


def _warm_up(model: LoadedModel) -> None:
    """Trace the model's predict function now, not on the first client's request."""
    if any(not c.numeric for c in model.spec.columns):
        return
    try:
        model.predict(example_features(model.spec))
    except Exception as error:  # a model that cannot score zeros may still score real rows
        log.warning("warm-up prediction failed: %s", error)


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value

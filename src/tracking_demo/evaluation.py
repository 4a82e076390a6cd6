"""Held-out examples per model kind, shaped as the scorer takes them, and the metric that judges
predictions on them. The client and the promotion step both read test data through here."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from sklearn.metrics import accuracy_score, mean_absolute_error, root_mean_squared_error

from tracking_demo.errors import ConfigError

Mode = Literal["max", "min"]


@dataclass(frozen=True)
class Metric:
    name: str
    mode: Mode
    compute: Callable[[np.ndarray, np.ndarray], float]


METRICS: dict[str, Metric] = {
    "accuracy": Metric("accuracy", "max", lambda y, p: float(accuracy_score(y, p))),
    "mae": Metric("mae", "min", lambda y, p: float(mean_absolute_error(y, p))),
    "rmse": Metric("rmse", "min", lambda y, p: float(root_mean_squared_error(y, p))),
}


def metric(name: str) -> Metric:
    """`accuracy`, `mae`, `rmse`; also as the runs name them on the test set (`test_mae`)."""
    key = name.lower().removeprefix("test_")
    if key not in METRICS:
        raise ConfigError(f"unknown metric '{name}': expected one of {', '.join(METRICS)}")
    return METRICS[key]


@dataclass(frozen=True)
class Examples:
    """Test features (rows in the model's input form), their targets, and how to judge them."""

    kind: str
    features: np.ndarray | pd.DataFrame
    targets: np.ndarray
    metric: Metric
    run_metric: str  # what a training run logged for this metric on these rows
    source: Path

    def __len__(self) -> int:
        return len(self.targets)

    def rows(self, indices: np.ndarray) -> list[Any]:
        """JSON-ready rows: lists of numbers in the model's feature order."""
        if isinstance(self.features, pd.DataFrame):
            rows = self.features.iloc[indices].astype(object)
            return rows.where(rows.notna(), None).to_numpy().tolist()  # missing → JSON null
        return self.features[indices].tolist()


def _mnist(data_dir: Path) -> Examples:
    from tracking_demo.data import mnist

    data = mnist.load(data_dir)
    return Examples(
        "mnist",
        mnist.scaled_pixels(data.x_test),
        data.y_test.astype(np.int64),
        METRICS["accuracy"],
        "test_accuracy",
        data.files.test_images,
    )


def _moons(data_dir: Path) -> Examples:
    from tracking_demo.data import moons

    data = moons.load(data_dir)
    return Examples(
        "moons", data.x_test, data.y_test, METRICS["accuracy"], "test_accuracy", data.test_path
    )


def housing(data: Path, test_fraction: float = 0.2, seed: int = 42) -> Examples:
    """The housing test rows of the split the tasks use by default (or the one given)."""
    from tracking_demo.data import housing as housing_data

    split = housing_data.load(data, test_fraction, seed)
    return Examples("housing", split.x_test, split.y_test, METRICS["mae"], "test_mae", split.path)


LOADERS: dict[str, Callable[[Path], Examples]] = {
    "mnist": _mnist,
    "moons": _moons,
    "housing": housing,
}

# Where each task's data lands when made the documented way (quickstart, docs/getting-started.md).
DEFAULT_DATA_DIRS: dict[str, Path] = {
    "mnist": Path("data/mnist"),
    "moons": Path(".tracking/datasets/moons"),
    "housing": Path("data/housing"),
}


def load(kind: str, data_dir: Path | None = None) -> Examples:
    if kind not in LOADERS:
        raise ConfigError(f"unknown model kind '{kind}': expected one of {', '.join(LOADERS)}")
    return LOADERS[kind](data_dir or DEFAULT_DATA_DIRS[kind])

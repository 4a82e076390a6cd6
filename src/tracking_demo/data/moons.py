"""The noisy two-moons data set: generated with scikit-learn, stored as train/test CSV."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.datasets import make_moons

from tracking_demo.data.csv_table import LabelledSplit, read_numeric_csv, require_dir
from tracking_demo.errors import ConfigError, DataError

FEATURES = ("x1", "x2")
LABEL = "label"
COLUMNS = (*FEATURES, LABEL)
TRAIN_FILE = "train.csv"
TEST_FILE = "test.csv"


@dataclass(frozen=True)
class MoonsSpec:
    """How the data set is generated; the defaults give the tutorial's picture."""

    n_train: int = 1000
    n_test: int = 200
    noise: float = 0.2
    seed: int = 42

    def validate(self) -> None:
        if self.n_train < 10 or self.n_test < 10:
            raise ConfigError("moons needs at least 10 train and 10 test samples")
        if not 0.0 <= self.noise <= 1.0:
            raise ConfigError(f"noise must be between 0 and 1, got {self.noise}")


@dataclass(frozen=True)
class MoonsData(LabelledSplit):
    train_path: Path
    test_path: Path

    feature_columns = FEATURES
    target_column = LABEL
    target_dtype = np.int64


def generate(spec: MoonsSpec) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Train and test frames drawn from one seeded sample, so they share the distribution."""
    spec.validate()
    x, y = make_moons(
        n_samples=spec.n_train + spec.n_test, noise=spec.noise, random_state=spec.seed
    )
    frame = pd.DataFrame({"x1": x[:, 0], "x2": x[:, 1], LABEL: y.astype(int)})
    return frame.iloc[: spec.n_train].reset_index(drop=True), frame.iloc[
        spec.n_train :
    ].reset_index(drop=True)


def write(spec: MoonsSpec, out_dir: Path) -> tuple[Path, Path]:
    """Write `train.csv` and `test.csv` (columns x1,x2,label) under `out_dir`."""
    train, test = generate(spec)
    out_dir.mkdir(parents=True, exist_ok=True)
    train_path, test_path = out_dir / TRAIN_FILE, out_dir / TEST_FILE
    train.to_csv(train_path, index=False)
    test.to_csv(test_path, index=False)
    return train_path, test_path


def _read_split(path: Path) -> pd.DataFrame:
    frame = read_numeric_csv(path, COLUMNS)
    labels = frame[LABEL]
    if not (labels == labels.round()).all():
        raise DataError(f"{path}: column '{LABEL}' must hold integer class labels")
    frame[LABEL] = labels.astype(np.int64)
    return frame


def load(data_dir: Path) -> MoonsData:
    """Read and validate both splits; training needs two classes to learn a boundary."""
    require_dir(data_dir)
    train_path, test_path = data_dir / TRAIN_FILE, data_dir / TEST_FILE
    train, test = _read_split(train_path), _read_split(test_path)
    if train[LABEL].nunique() < 2:
        only = train[LABEL].iloc[0]
        raise DataError(
            f"{train_path}: column '{LABEL}' has a single class ({only}); "
            "a classifier needs at least two"
        )
    return MoonsData(train=train, test=test, train_path=train_path, test_path=test_path)

"""The options of every training task, with their defaults, written once.

Importable without the tasks' own dependencies (MLflow, scikit-learn, TensorFlow): the commands
read their defaults from these dataclasses when `--help` runs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from tracking_demo.errors import ConfigError

GridValue = int | float | str | None
DEFAULT_GRID: dict[str, list[GridValue]] = {
    "n_estimators": [10, 25, 100],
    "criterion": ["gini", "entropy"],
    "max_depth": [2, 5, 10, None],
}
# The tutorials' settings: the AmlCompute CNN trains 12 epochs of 128, LeNet 10 epochs of 10.
NETWORK_DEFAULTS: dict[str, tuple[int, int]] = {"cnn": (128, 12), "lenet": (10, 10)}


@dataclass(frozen=True)
class MoonsOptions:
    data_dir: Path
    grid: Mapping[str, Sequence[GridValue]] = field(default_factory=lambda: dict(DEFAULT_GRID))
    cv_folds: int = 5
    seed: int = 42
    register_as: str | None = None


@dataclass(frozen=True)
class LogregOptions:
    data_dir: Path
    max_iter: int = 1000
    c: float = 1.0
    seed: int = 42
    register_as: str | None = None


@dataclass(frozen=True)
class NetworkOptions:
    data_dir: Path
    architecture: str = "cnn"
    batch_size: int | None = None  # None: the architecture's tutorial default
    epochs: int | None = None
    learning_rate: float = 1e-3
    patience: int = 5
    validation_fraction: float = 0.1
    seed: int = 42
    tensorboard: bool = True
    verbose: int = 2
    register_as: str | None = None

    @property
    def resolved_batch_size(self) -> int:
        return self.batch_size or NETWORK_DEFAULTS[self.architecture][0]

    @property
    def resolved_epochs(self) -> int:
        return self.epochs or NETWORK_DEFAULTS[self.architecture][1]


@dataclass(frozen=True)
class SplitOptions:
    data: Path
    test_fraction: float = 0.2
    seed: int = 42


@dataclass(frozen=True)
class MlpOptions:
    """The tutorial's network; the defaults are its best trial (batch 25, 10 epochs, 4 and 4)."""

    split: SplitOptions
    batch_size: int = 25
    epochs: int = 10
    first_layer_units: int = 4
    second_layer_units: int = 4
    learning_rate: float = 1e-3
    validation_fraction: float = 0.1
    verbose: int = 2
    register_as: str | None = None

    def validate(self) -> None:
        for name in ("batch_size", "epochs", "first_layer_units", "second_layer_units"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name.replace('_', ' ')} must be at least 1")
        if not self.learning_rate > 0:
            raise ConfigError(f"learning rate must be above 0, got {self.learning_rate}")
        if not 0.0 < self.validation_fraction < 0.5:
            raise ConfigError(
                f"validation fraction must be above 0 and below 0.5, got {self.validation_fraction}"
            )


@dataclass(frozen=True)
class BaselineOptions:
    split: SplitOptions
    max_iter: int = 200
    learning_rate: float = 0.1
    max_leaf_nodes: int = 31
    register_as: str | None = None

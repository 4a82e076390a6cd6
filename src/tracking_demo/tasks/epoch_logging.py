"""A Keras callback that hands each epoch's metrics to the run's logger.

The callback only appends (a few microseconds); the run's logger writes the points to its
write-ahead log and sends them with `log_batch` from a background thread (docs/architecture.md,
rule 4), so training never waits on the tracking server. MLflow's own
`mlflow.keras.MlflowCallback` would send one synchronous request per epoch through the fluent
API instead.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

import keras

from tracking_demo.tracking.values import seconds

LogMetrics = Callable[[Mapping[str, float], int], None]


class EpochMetricsLogger(keras.callbacks.Callback):
    """Logs every numeric value Keras reports at an epoch's end, plus `epoch_time_s`.

    The step is the epoch number counted from 1, as Keras prints it. `history` keeps what was
    logged, so the task can draw the curves without reading them back from the server.
    """

    def __init__(self, log_metrics: LogMetrics) -> None:
        super().__init__()
        self._log_metrics = log_metrics
        self._epoch_started = 0.0
        self.history: dict[str, list[float]] = {}

    def on_epoch_begin(self, epoch: int, logs: Mapping[str, Any] | None = None) -> None:
        self._epoch_started = time.perf_counter()

    def on_epoch_end(self, epoch: int, logs: Mapping[str, Any] | None = None) -> None:
        metrics = {"epoch_time_s": seconds(time.perf_counter() - self._epoch_started)}
        for name, value in (logs or {}).items():
            number = _as_float(value)
            if number is not None:
                metrics[name] = number
        for name, value in metrics.items():
            self.history.setdefault(name, []).append(value)
        self._log_metrics(metrics, epoch + 1)


def _as_float(value: Any) -> float | None:
    """Keras hands numpy, JAX or TensorFlow scalars by backend; NaN stays (a diverged run)."""
    try:
        return float(value)
    except (TypeError, ValueError):
        return None

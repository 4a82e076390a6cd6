"""Figures the tasks log: training curves and confusion matrices (matplotlib, no pyplot state).

Every figure here and in the tasks is built under `literal_text`: titles, labels and legends
carry user text and dollar amounts, and matplotlib would read a pair of `$` signs as math
markup ("test MAE $39,340, RMSE $51,393" came out garbled, in italics).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import ParamSpec

import matplotlib
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator
from sklearn.metrics import ConfusionMatrixDisplay

P = ParamSpec("P")

STOP_COLOR = "#b2182b"


@contextmanager
def literal_text() -> Iterator[None]:
    """Text created inside renders as written: `$` is a dollar sign, whatever matplotlibrc says
    (no math markup, no LaTeX)."""
    with matplotlib.rc_context({"text.parse_math": False, "text.usetex": False}):
        yield


def built_with_literal_text(build: Callable[P, Figure]) -> Callable[P, Figure]:
    """A figure function whose titles, labels and legends are all `literal_text`."""

    @functools.wraps(build)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> Figure:
        with literal_text():
            return build(*args, **kwargs)

    return wrapper


def integer_epochs(axes: Axes) -> None:
    """Epochs are whole numbers: no tick at epoch 1.5, and a run stopped after its first epoch
    gets the one tick 1 (matplotlib falls back to fractions below two integers by default)."""
    axes.xaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))


@dataclass(frozen=True)
class Curve:
    """One panel of training curves: the Keras metric, its axis label with the unit, and the
    unit's size (values are divided by it, so a loss in dollars² reads as (k$)²)."""

    metric: str
    label: str
    scale: float = 1.0


@built_with_literal_text
def training_curves_figure(
    history: Mapping[str, Sequence[float]],
    metrics: Sequence[str | Curve] = ("loss", "accuracy"),
    best_epoch: int | None = None,
    stopped_at: int | None = None,
) -> Figure:
    """One panel per metric, training and `val_` curves by epoch (from 1), the best epoch and the
    epoch the sweep's policy stopped the run at marked."""
    curves = [m if isinstance(m, Curve) else Curve(m, m) for m in metrics]
    figure = Figure(figsize=(5 * len(curves), 4))
    axes_list = figure.subplots(1, len(curves), squeeze=False)[0]
    for axes, curve in zip(axes_list, curves, strict=True):
        for name, style in ((curve.metric, "-o"), (f"val_{curve.metric}", "--s")):
            values = history.get(name)
            if values:
                epochs = np.arange(1, len(values) + 1)
                shown = np.asarray(values, dtype=np.float64) / curve.scale
                axes.plot(epochs, shown, style, markersize=3, label=name)
        if best_epoch is not None:
            axes.axvline(best_epoch, color="grey", linestyle=":", label=f"best epoch {best_epoch}")
        if stopped_at is not None:
            axes.axvline(
                stopped_at,
                color=STOP_COLOR,
                linestyle="--",
                label=f"stopped by policy at epoch {stopped_at}",
            )
        axes.set(xlabel="epoch", ylabel=curve.label, title=curve.metric)
        integer_epochs(axes)
        axes.legend()
    figure.tight_layout()
    return figure


@built_with_literal_text
def confusion_matrix_figure(y_true: np.ndarray, y_pred: np.ndarray, title: str) -> Figure:
    """Counts per (true, predicted) digit; the diagonal is what the model gets right."""
    figure = Figure(figsize=(7, 6))
    axes = figure.subplots()
    ConfusionMatrixDisplay.from_predictions(
        y_true, y_pred, ax=axes, colorbar=False, cmap="Blues", values_format="d"
    )
    axes.set(title=title, xlabel="predicted digit", ylabel="true digit")
    figure.tight_layout()
    return figure

"""Figures the tasks log: training curves and confusion matrices (matplotlib, no pyplot state)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.figure import Figure
from sklearn.metrics import ConfusionMatrixDisplay


def training_curves_figure(
    history: Mapping[str, Sequence[float]],
    metrics: Sequence[str] = ("loss", "accuracy"),
    best_epoch: int | None = None,
    stopped_at: int | None = None,
) -> Figure:
    """One panel per metric, training and `val_` curves by epoch (from 1), best epoch marked,
    and the epoch a sweep's policy stopped the run at, so its curves say they were cut short."""
    figure = Figure(figsize=(5 * len(metrics), 4))
    axes_list = figure.subplots(1, len(metrics), squeeze=False)[0]
    for axes, metric in zip(axes_list, metrics, strict=True):
        for name, style in ((metric, "-o"), (f"val_{metric}", "--s")):
            values = history.get(name)
            if values:
                epochs = np.arange(1, len(values) + 1)
                axes.plot(epochs, values, style, markersize=3, label=name)
        if best_epoch is not None:
            axes.axvline(best_epoch, color="grey", linestyle=":", label=f"best epoch {best_epoch}")
        if stopped_at is not None:
            axes.axvline(
                stopped_at,
                color="#b2182b",
                linestyle="--",
                label=f"stopped by policy at epoch {stopped_at}",
            )
        axes.set(xlabel="epoch", ylabel=metric, title=metric)
        axes.legend()
    figure.tight_layout()
    return figure


def confusion_matrix_figure(y_true: np.ndarray, y_pred: np.ndarray, title: str) -> Figure:
    """Counts per (true, predicted) digit; the diagonal is what the model gets right."""
    figure = Figure(figsize=(7, 6))
    axes = figure.subplots()
    ConfusionMatrixDisplay.from_predictions(
        y_true, y_pred, ax=axes, colorbar=False, cmap="Blues", values_format="d"
    )
    axes.set_title(title)
    figure.tight_layout()
    return figure

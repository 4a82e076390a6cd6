"""Two moons: RandomForest grid search, test accuracy, decision boundary, the model."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

import mlflow
import mlflow.sklearn
import numpy as np
import pandas as pd

# The model's format (MLflow's default for sklearn). Imported with the task rather than inside
# the save: a second and a half that quickstart spends while its server boots, not after fitting.
import skops.io  # noqa: F401
from matplotlib.figure import Figure
from mlflow.data.pandas_dataset import from_pandas
from mlflow.models import infer_signature
from sklearn.ensemble import RandomForestClassifier
from sklearn.metrics import accuracy_score
from sklearn.model_selection import GridSearchCV

from tracking_demo import registry
from tracking_demo.data import moons as moons_data
from tracking_demo.errors import ConfigError
from tracking_demo.tasks import catalog, model_requirements
from tracking_demo.tasks.figures import built_with_literal_text
from tracking_demo.tasks.options import DEFAULT_GRID, GridValue, MoonsOptions
from tracking_demo.tasks.recording import ModelToLog, Outcome, TaskResult, run_task
from tracking_demo.tracking.session import TrackingSession, local_file_source

logger = logging.getLogger(__name__)

# skops (MLflow's safe default format) loads only types it is told to trust; a forest's trees
# are scikit-learn's own node storage, which we create ourselves.
SKOPS_TRUSTED_TYPES = ["sklearn.tree._tree.Tree"]


def validate_grid(grid: Mapping[str, Sequence[GridValue]]) -> None:
    """Every key must be a RandomForestClassifier parameter with at least one value."""
    known = RandomForestClassifier().get_params()
    for name, values in grid.items():
        if name not in known:
            raise ConfigError(
                f"grid parameter '{name}' is not a RandomForestClassifier parameter "
                f"(known: {', '.join(sorted(known))})"
            )
        if len(values) == 0:
            raise ConfigError(f"grid parameter '{name}' has no values")


def grid_params(grid: Mapping[str, Sequence[GridValue]]) -> dict[str, str]:
    """The searched space as params `gridsearch/<name>`, values as the tutorial prints them."""
    return {f"gridsearch/{name}": str(list(values)) for name, values in grid.items()}


def selected_params(best: Mapping[str, Any]) -> dict[str, str]:
    """The chosen values as params `selected/<name>`."""
    return {f"selected/{name}": str(value) for name, value in sorted(best.items())}


def fit_grid_search(
    x: pd.DataFrame,
    y: np.ndarray,
    grid: Mapping[str, Sequence[GridValue]],
    cv_folds: int,
    seed: int,
) -> GridSearchCV:
    search = GridSearchCV(
        RandomForestClassifier(random_state=seed),
        param_grid={name: list(values) for name, values in grid.items()},
        cv=cv_folds,
        n_jobs=-1,
    )
    search.fit(x, y)
    return search


@built_with_literal_text
def decision_boundary_figure(
    model: Any, train: pd.DataFrame, test: pd.DataFrame, resolution: int = 200
) -> Figure:
    """Class-1 probability over the plane, with train (dots) and test (crosses) on top."""
    features = list(moons_data.FEATURES)
    both = pd.concat([train, test])
    x_min, y_min = both[features].min().to_numpy() - 0.5
    x_max, y_max = both[features].max().to_numpy() + 0.5
    xx, yy = np.meshgrid(
        np.linspace(x_min, x_max, resolution), np.linspace(y_min, y_max, resolution)
    )
    plane = pd.DataFrame({features[0]: xx.ravel(), features[1]: yy.ravel()})
    proba = model.predict_proba(plane)[:, 1].reshape(xx.shape)

    figure = Figure(figsize=(7, 5.5))
    axes = figure.subplots()
    contour = axes.contourf(xx, yy, proba, levels=20, cmap="RdBu_r", alpha=0.6)
    figure.colorbar(contour, ax=axes, label="P(label = 1)")
    class_colors = ("#1f4e9c", "#b2182b")
    for split, frame, marker, size in (("train", train, "o", 12), ("test", test, "X", 40)):
        for label, color in enumerate(class_colors):
            points = frame[frame[moons_data.LABEL] == label]
            axes.scatter(
                points[features[0]],
                points[features[1]],
                color=color,
                marker=marker,
                s=size,
                edgecolors="white" if split == "train" else "black",
                linewidths=0.4,
                label=f"{split}, label {label}",
            )
    axes.set(xlabel=features[0], ylabel=features[1], title="RandomForest decision boundary")
    axes.legend(loc="lower left")
    figure.tight_layout()
    return figure


def _log_inputs(data: moons_data.MoonsData, session: TrackingSession) -> None:
    for frame, path, context in (
        (data.train, data.train_path, "training"),
        (data.test, data.test_path, "testing"),
    ):
        dataset = from_pandas(
            frame,
            source=local_file_source(path),
            targets=moons_data.LABEL,
            name=f"moons-{context}",
        )
        session.log_input(dataset, context=context)


def train(options: MoonsOptions, session: TrackingSession) -> TaskResult:
    """Run the grid search inside one MLflow run; a failure leaves the run FAILED."""
    validate_grid(options.grid)
    return run_task(
        session,
        catalog.MOONS,
        lambda session: _steps(options, session),
        params={**grid_params(options.grid), "cv_folds": options.cv_folds, "seed": options.seed},
        register_as=options.register_as,
    )


def _steps(options: MoonsOptions, session: TrackingSession) -> Outcome:
    data = moons_data.load(options.data_dir)
    _log_inputs(data, session)
    search = fit_grid_search(
        data.x_train, data.y_train, options.grid, options.cv_folds, options.seed
    )
    model = search.best_estimator_
    accuracy = float(accuracy_score(data.y_test, model.predict(data.x_test)))
    example = data.x_test.head(5)
    signature = infer_signature(example, model.predict(example))
    return Outcome(
        params=selected_params(search.best_params_),
        metrics={"test_accuracy": accuracy, "cv_best_score": float(search.best_score_)},
        figures={"decision_boundary.png": decision_boundary_figure(model, data.train, data.test)},
        model=ModelToLog(
            lambda path: mlflow.sklearn.save_model(
                model,
                str(path),
                signature=signature,
                input_example=example,
                skops_trusted_types=SKOPS_TRUSTED_TYPES,
                pip_requirements=model_requirements.sklearn_model(),
            ),
            {"test_accuracy": registry.format_metric_tag(accuracy)},
        ),
        selected=dict(search.best_params_),
    )


def _parse_value(text: str) -> GridValue:
    text = text.strip()
    if text.lower() == "none":
        return None
    for convert in (int, float):
        try:
            return convert(text)
        except ValueError:
            continue
    return text


def parse_grid_overrides(items: Sequence[str]) -> dict[str, list[GridValue]]:
    """`NAME=V1,V2` items (ints, floats, `None`, strings) replacing those keys of the grid."""
    grid: dict[str, list[GridValue]] = dict(DEFAULT_GRID)
    for item in items:
        name, sep, values = item.partition("=")
        if not sep or not name.strip() or not values.strip():
            raise ConfigError(f"--grid '{item}' is not NAME=VALUE[,VALUE...]")
        grid[name.strip()] = [_parse_value(v) for v in values.split(",") if v.strip()]
    validate_grid(grid)
    return grid

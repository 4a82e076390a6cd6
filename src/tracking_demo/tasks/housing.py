"""California housing: the Keras MLP and the gradient-boosting baseline, each one MLflow run.

Both read the same seeded split of `housing.csv`, clean it with the same `HousingFeatures`
(fitted on training rows) saved inside the model, and report the test MAE and RMSE in dollars
(`test_mae`, `test_rmse`) beside the MAE of always predicting the training mean
(`test_mae_mean_predictor`), so "good" has a yardstick.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import StrMethodFormatter
from mlflow.data.pandas_dataset import from_pandas
from mlflow.models import ModelSignature, infer_signature
from mlflow.types import ColSpec, Schema
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.metrics import mean_absolute_error, root_mean_squared_error
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline

from tracking_demo import registry
from tracking_demo.data import housing as housing_data
from tracking_demo.tasks import catalog, model_requirements
from tracking_demo.tasks.figures import Curve, built_with_literal_text, training_curves_figure
from tracking_demo.tasks.options import BaselineOptions, MlpOptions, SplitOptions
from tracking_demo.tasks.recording import ModelToLog, Outcome, TaskResult, run_task
from tracking_demo.tracking import tags
from tracking_demo.tracking.session import TrackingSession, local_file_source
from tracking_demo.tracking.values import seconds

logger = logging.getLogger(__name__)

# What a sweep may tune: the `train housing-mlp` options, by parameter name and value type.
TUNABLE: dict[str, type] = {
    "batch_size": int,
    "epochs": int,
    "first_layer_units": int,
    "second_layer_units": int,
    "learning_rate": float,
}
INPUT_EXAMPLE_ROWS = 3
# skops loads only types it is told to trust: our cleaning step and the boosting's predictors.
SKOPS_TRUSTED_TYPES = [
    "numpy.dtype",
    "tracking_demo.data.housing.HousingFeatures",
    "sklearn._loss.link.IdentityLink",
    "sklearn._loss.link.Interval",
    "sklearn._loss.loss.HalfSquaredError",
    "sklearn.ensemble._hist_gradient_boosting.binning._BinMapper",
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
]


# --- pure steps -------------------------------------------------------------------------------


def test_metrics(y_true: np.ndarray, y_pred: np.ndarray, y_train: np.ndarray) -> dict[str, float]:
    """MAE and RMSE in dollars, and the MAE of predicting the training mean for every block."""
    mean_prediction = np.full_like(y_true, float(np.mean(y_train)))
    return {
        "test_mae": float(mean_absolute_error(y_true, y_pred)),
        "test_rmse": float(root_mean_squared_error(y_true, y_pred)),
        "test_mae_mean_predictor": float(mean_absolute_error(y_true, mean_prediction)),
    }


# The training curves: Keras' loss is the MSE of prices in dollars (about 1e10), shown in
# thousands of dollars squared; MAE in thousands of dollars.
MLP_CURVES = (
    Curve("loss", "loss: MSE ((k$)²)", scale=1e6),
    Curve("mae", "MAE (k$)", scale=1e3),
)


def mlp_curves_figure(
    history: Mapping[str, Sequence[float]], stopped_at: int | None = None
) -> Figure:
    """The MLP's loss and MAE by epoch, in thousands of dollars; where the sweep's policy
    stopped the trial, marked."""
    return training_curves_figure(history, MLP_CURVES, stopped_at=stopped_at)


def evaluation_title(label: str, metrics: Mapping[str, float]) -> str:
    """The figure's title: the model and its test errors in whole dollars."""
    return f"{label}: test MAE ${metrics['test_mae']:,.0f}, RMSE ${metrics['test_rmse']:,.0f}"


@built_with_literal_text
def predicted_vs_actual_figure(y_true: np.ndarray, y_pred: np.ndarray, title: str) -> Figure:
    """Each test block's prediction against its value; the diagonal is a perfect model."""
    figure = Figure(figsize=(6, 6))
    axes = figure.subplots()
    axes.scatter(y_true, y_pred, s=4, alpha=0.35, color="#1f4e9c", edgecolors="none")
    low = float(min(y_true.min(), y_pred.min()))
    high = float(max(y_true.max(), y_pred.max()))
    axes.plot([low, high], [low, high], color="#b2182b", linewidth=1, label="perfect prediction")
    axes.set(
        xlabel="actual median_house_value ($)",
        ylabel="predicted median_house_value ($)",
        title=title,
        xlim=(low, high),
        ylim=(low, high),
    )
    for axis in (axes.xaxis, axes.yaxis):
        axis.set_major_formatter(StrMethodFormatter("{x:,.0f}"))
    axes.legend(loc="upper left")
    figure.tight_layout()
    return figure


def fit_baseline(x: pd.DataFrame, y: np.ndarray, options: BaselineOptions) -> Pipeline:
    model = Pipeline(
        [
            ("features", housing_data.HousingFeatures()),
            (
                "boosting",
                HistGradientBoostingRegressor(
                    max_iter=options.max_iter,
                    learning_rate=options.learning_rate,
                    max_leaf_nodes=options.max_leaf_nodes,
                    random_state=options.split.seed,
                ),
            ),
        ]
    )
    return model.fit(x, y)


# --- logging shared by both tasks -----------------------------------------------------------


def _load_split(options: SplitOptions) -> housing_data.HousingSplit:
    return housing_data.load(options.data, options.test_fraction, options.seed)


def _log_inputs(session: TrackingSession, split: housing_data.HousingSplit) -> None:
    for frame, context in ((split.train, "training"), (split.test, "testing")):
        dataset = from_pandas(
            frame,
            source=local_file_source(split.path),
            targets=housing_data.TARGET,
            name=f"housing-{context}",
        )
        session.log_input(dataset, context=context)


def _split_params(split: housing_data.HousingSplit) -> dict[str, Any]:
    return {
        "data_file": str(split.path.absolute()),
        "split/test_fraction": split.test_fraction,
        "split/seed": split.seed,
        "n_train": len(split.train),
        "n_test": len(split.test),
        f"n_missing_{housing_data.IMPUTED}": int(split.train[housing_data.IMPUTED].isna().sum()),
    }


def _evaluation(
    split: housing_data.HousingSplit, predict: Callable[[pd.DataFrame], np.ndarray], label: str
) -> tuple[dict[str, float], Figure]:
    """The test metrics in dollars and the predicted-against-actual figure."""
    predicted = np.asarray(predict(split.x_test), dtype=np.float64).reshape(-1)
    metrics = test_metrics(split.y_test, predicted, split.y_train)
    title = evaluation_title(label, metrics)
    return metrics, predicted_vs_actual_figure(split.y_test, predicted, title)


def _signature(split: housing_data.HousingSplit, predict: Callable[[pd.DataFrame], Any]) -> Any:
    """The raw columns in, dollars out; `total_bedrooms` may be null (the model imputes it)."""
    example = split.x_test.dropna().head(INPUT_EXAMPLE_ROWS)
    inferred = infer_signature(example, np.asarray(predict(example), dtype=np.float64))
    inputs = Schema(
        [
            ColSpec(c.type, c.name, required=c.name != housing_data.IMPUTED)
            for c in inferred.inputs.inputs
        ]
    )
    return example, ModelSignature(inputs, inferred.outputs)


def registration_tags(
    task: str, metrics: Mapping[str, Any], extra: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The tags every housing model version carries (task sweep and Azure sweep included)."""
    tags = {"task": task, "data": "california-housing", "model": "regression", **(extra or {})}
    for name in ("test_mae", "test_rmse"):
        if isinstance(metrics.get(name), int | float):
            tags[name] = registry.format_metric_tag(metrics[name])
    return tags


# --- the baseline -----------------------------------------------------------------------------


def train_baseline(options: BaselineOptions, session: TrackingSession) -> TaskResult:
    """HistGradientBoostingRegressor standing in for the tutorial's AutoML (LightGBM) model."""
    asked = {
        "model_kind": "hist_gradient_boosting",
        "max_iter": options.max_iter,
        "learning_rate": options.learning_rate,
        "max_leaf_nodes": options.max_leaf_nodes,
        "seed": options.split.seed,
    }
    return run_task(
        session,
        catalog.HOUSING_BASELINE,
        lambda session: _baseline_steps(options, session),
        params=asked,
        register_as=options.register_as,
    )


def _baseline_steps(options: BaselineOptions, session: TrackingSession) -> Outcome:
    import mlflow.sklearn

    split = _load_split(options.split)
    _log_inputs(session, split)
    started = time.perf_counter()
    model = fit_baseline(split.x_train, split.y_train, options)
    training_time = seconds(time.perf_counter() - started)
    metrics, figure = _evaluation(split, model.predict, "Gradient boosting")
    metrics["training_time_s"] = training_time
    metrics["n_iter"] = float(model.named_steps["boosting"].n_iter_)
    example, signature = _signature(split, model.predict)
    return Outcome(
        params={**_split_params(split), **model.named_steps["features"].cleaning_params()},
        metrics=metrics,
        figures={"predicted_vs_actual.png": figure},
        model=ModelToLog(
            lambda path: mlflow.sklearn.save_model(
                model,
                str(path),
                signature=signature,
                input_example=example,
                skops_trusted_types=SKOPS_TRUSTED_TYPES,
                pip_requirements=model_requirements.sklearn_model(),
            ),
            registration_tags(catalog.HOUSING_BASELINE.name, metrics),
        ),
    )


# --- the MLP ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class FittedMlp:
    features: housing_data.HousingFeatures
    network: Any
    history: dict[str, list[float]]
    training_time_s: float
    n_validation: int


def fit_mlp(
    options: MlpOptions,
    split: housing_data.HousingSplit,
    log_metrics: Callable[[Mapping[str, float], int], None],
    callbacks: list[Any],
) -> FittedMlp:
    """Clean (fitted on the training part only), build seeded, fit with per-epoch logging."""
    import keras

    from tracking_demo.tasks.epoch_logging import EpochMetricsLogger
    from tracking_demo.tasks.models.housing import build_network

    x_fit, x_val, y_fit, y_val = train_test_split(
        split.x_train,
        split.y_train,
        test_size=options.validation_fraction,
        random_state=options.split.seed,
    )
    features = housing_data.HousingFeatures().fit(x_fit)
    keras.utils.set_random_seed(options.split.seed)
    network = build_network(
        features.n_features_out_,
        options.first_layer_units,
        options.second_layer_units,
        options.learning_rate,
        float(np.mean(y_fit)),
        float(np.std(y_fit)),
    )
    epoch_logger = EpochMetricsLogger(log_metrics)
    started = time.perf_counter()
    network.fit(
        features.transform(x_fit),
        y_fit.astype(np.float32),
        batch_size=options.batch_size,
        epochs=options.epochs,
        validation_data=(features.transform(x_val), y_val.astype(np.float32)),
        callbacks=[epoch_logger, *callbacks],
        verbose=options.verbose,
    )
    return FittedMlp(
        features,
        network,
        epoch_logger.history,
        seconds(time.perf_counter() - started),
        len(x_val),
    )


def train_mlp(
    options: MlpOptions, session: TrackingSession, trial: Any | None = None
) -> TaskResult:
    """The tutorial's two-hidden-layer Keras MLP. As a sweep trial (`trial`: a BanditCallback),
    a trial the policy stops ends KILLED with the reason as its description, its per-epoch
    metrics and a `terminated` tag, and no model."""
    options.validate()
    asked = {
        "model_kind": "keras_mlp",
        "batch_size": options.batch_size,
        "epochs": options.epochs,
        "first_layer_units": options.first_layer_units,
        "second_layer_units": options.second_layer_units,
        "learning_rate": options.learning_rate,
        "optimizer": "adam",
        "loss_function": "mse",
        "validation_fraction": options.validation_fraction,
        "seed": options.split.seed,
    }
    return run_task(
        session,
        catalog.HOUSING_MLP,
        lambda session: _mlp_steps(options, session, trial),
        params=asked,
        register_as=options.register_as,
    )


def _mlp_steps(options: MlpOptions, session: TrackingSession, trial: Any | None) -> Outcome:
    import keras

    from tracking_demo.tasks.models import housing as housing_model

    split = _load_split(options.split)
    _log_inputs(session, split)
    fitted = fit_mlp(options, split, session.log_metrics, [trial] if trial else [])
    params = {
        "n_validation": fitted.n_validation,
        "keras_backend": keras.backend.backend(),
        **_split_params(split),
        **fitted.features.cleaning_params(),
    }
    history = fitted.history
    summary = {
        "epochs_trained": float(len(history.get("loss", []))),
        "final_val_mae": history.get("val_mae", [float("nan")])[-1],
        "training_time_s": fitted.training_time_s,
    }
    trial_tags = _trial_tags(trial) if trial is not None else {}
    terminated_at = trial.terminated_at if trial is not None else None
    figures = {"training_curves.png": mlp_curves_figure(history, stopped_at=terminated_at)}
    if trial is not None and terminated_at is not None:
        return Outcome(
            params,
            summary,
            trial_tags,
            figures,
            history=history,
            terminated_at=terminated_at,
            stop_reason=str(trial.description),
        )

    def predict(frame: pd.DataFrame) -> np.ndarray:
        rows = fitted.features.transform(frame)
        return np.asarray(fitted.network.predict_on_batch(rows)).reshape(-1)

    test, predicted_figure = _evaluation(split, predict, "Keras MLP")
    metrics = {**summary, **test}
    example, signature = _signature(split, predict)
    return Outcome(
        params,
        metrics,
        trial_tags,
        {**figures, "predicted_vs_actual.png": predicted_figure},
        ModelToLog(
            lambda path: housing_model.save(
                path, fitted.features, fitted.network, signature, example
            ),
            registration_tags(catalog.HOUSING_MLP.name, metrics),
        ),
        history=history,
    )


def _trial_tags(trial: Any) -> dict[str, str]:
    if trial.terminated_at is None:
        return {tags.TRIAL_STATUS: "completed"}
    return {
        tags.TRIAL_STATUS: "terminated",
        tags.TERMINATED_AT_EPOCH: str(trial.terminated_at),
        tags.TERMINATION_REASON: str(trial.reason),
    }

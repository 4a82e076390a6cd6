"""The AutoML job's best model, read and registered through MLflow on the workspace's server.

AutoML names the winner on the parent run (the job's MLflow run, named like the job): the tag
`automl_best_child_run_id` holds the best trial's run id. That trial keeps its MLflow model
under `outputs/mlflow-model` (MLmodel, model.pkl, conda.yaml), which is what `--register-as`
registers, through MLflow's registry as the project registers every model, so `tracking-demo
compare` finds it beside the MLP and the baseline.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from jobs.automl_spec import PRIMARY_METRIC, TASK, AutoMLRequest
from jobs.spec import JobFailedError, register_run_model
from tracking_demo.registry import format_metric_tag
from tracking_demo.tasks.housing import registration_tags

BEST_CHILD_TAG = "automl_best_child_run_id"
MODEL_PATH = "outputs/mlflow-model"
SOURCE = "azureml-automl"
# AutoML's regression metrics as the housing tasks name theirs (in dollars), but `validation_`:
# AutoML measures them on its validation rows, not on the test rows the tasks hold out.
METRIC_NAMES = {
    "mean_absolute_error": "validation_mae",
    "root_mean_squared_error": "validation_rmse",
}


@dataclass(frozen=True)
class BestTrial:
    """The winning trial: its run, its name in the studio, its algorithm and metrics."""

    run_id: str
    name: str
    metrics: dict[str, float] = field(default_factory=dict)
    algorithm: str | None = None

    @property
    def model_uri(self) -> str:
        return f"runs:/{self.run_id}/{MODEL_PATH}"

    @property
    def primary_metric(self) -> float | None:
        return self.metrics.get(PRIMARY_METRIC)

    def describe(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "name": self.name,
            "algorithm": self.algorithm,
            "primary_metric": {"name": PRIMARY_METRIC, "value": self.primary_metric},
            "metrics": dict(sorted(self.metrics.items())),
            "model_uri": self.model_uri,
        }


def best_trial(tracking_uri: str, job_name: str) -> BestTrial:
    """The trial AutoML picked, from the tag on the job's own run."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=tracking_uri)
    parent = client.get_run(job_name)
    best_id = parent.data.tags.get(BEST_CHILD_TAG)
    if not best_id:
        raise JobFailedError(
            f"AutoML job {job_name} completed but its run has no '{BEST_CHILD_TAG}' tag "
            "(no trial finished within the limits?)"
        )
    best = client.get_run(best_id)
    metrics = {
        name: float(value)
        for name, value in best.data.metrics.items()
        if isinstance(value, int | float) and not math.isnan(value)
    }
    return BestTrial(
        run_id=best_id,
        name=best.info.run_name or best_id,
        metrics=metrics,
        algorithm=best.data.tags.get("run_algorithm") or best.data.params.get("run_algorithm"),
    )


def version_tags(request: AutoMLRequest, job_name: str, best: BestTrial) -> dict[str, str]:
    """The housing tags every model version carries, and where this one came from: AutoML,
    its job, its metric, its validation MAE/RMSE (named so, not to pass for test figures)."""
    extra = {
        "source": SOURCE,
        "automl_job": job_name,
        "automl_best_run": best.run_id,
        "training_data": str(request.training),
        "primary_metric": PRIMARY_METRIC,
    }
    if best.primary_metric is not None:
        extra[PRIMARY_METRIC] = format_metric_tag(best.primary_metric)
    if best.algorithm:
        extra["algorithm"] = best.algorithm
    for automl_name, name in METRIC_NAMES.items():
        if automl_name in best.metrics:
            extra[name] = format_metric_tag(best.metrics[automl_name])
    if request.split is not None:
        extra["split/test_fraction"] = str(request.split.test_fraction)
        extra["split/seed"] = str(request.split.seed)
    return registration_tags(TASK, {}, extra)


def register_best(
    tracking_uri: str, best: BestTrial, name: str, tags: Mapping[str, str]
) -> dict[str, str]:
    """Register the best trial's MLflow model once (a rerun finds the same version)."""
    return register_run_model(tracking_uri, best.model_uri, name, tags)

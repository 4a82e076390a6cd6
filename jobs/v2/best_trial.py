"""The best trial of a finished v2 sweep, read through MLflow on the workspace's tracking URI.

SDK v2 has no `get_best_run_by_primary_metric`: the trials are the sweep job's MLflow child runs
(tag `mlflow.parentRunId` = the sweep job's name), each logging the primary metric itself. Only
trials that finished count (MLflow status FINISHED, Azure ML's Completed), as v1 asks HyperDrive
for (no failed, no canceled trials); a metric logged per epoch counts with its last value, as v1
reports it and as Azure ML's MLflow returns it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from tracking_demo.sweep.space import PrimaryMetric

PARENT_TAG = "mlflow.parentRunId"
FINISHED = "FINISHED"


@dataclass(frozen=True)
class Trial:
    run_id: str
    metrics: dict[str, float]


def finished_trials(tracking_uri: str, experiment: str, sweep_name: str) -> list[Trial]:
    """The sweep's child runs that finished, with their metrics (last values)."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=tracking_uri)
    found = client.get_experiment_by_name(experiment)
    if found is None:
        return []
    # Azure ML's MLflow filters by tag but not by `attributes.status`: that test is made here.
    runs = client.search_runs(
        [found.experiment_id], filter_string=f"tags.{PARENT_TAG} = '{sweep_name}'"
    )
    return [
        Trial(run.info.run_id, dict(run.data.metrics))
        for run in runs
        if run.info.status == FINISHED
    ]


def best_of(trials: list[Trial], metric: PrimaryMetric) -> Trial | None:
    """The trial with the best primary metric under its goal; trials without it do not count."""
    best: Trial | None = None
    for trial in trials:
        value = trial.metrics.get(metric.name)
        if value is None or math.isnan(value):
            continue
        if best is None or metric.better(value, best.metrics[metric.name]):
            best = trial
    return best


def best_trial(
    tracking_uri: str, experiment: str, sweep_name: str, metric: PrimaryMetric
) -> Trial | None:
    return best_of(finished_trials(tracking_uri, experiment, sweep_name), metric)


def describe(trial: Trial, metric: PrimaryMetric, url: Any) -> dict[str, Any]:
    """The best trial as v1's `jobs.sweep --wait` prints it."""
    return {
        "run_id": trial.run_id,
        "mlflow_run_id": trial.run_id,  # a v2 job's MLflow run is named by the job's name
        "portal_url": url,
        "primary_metric": {"name": metric.name, "value": trial.metrics[metric.name]},
        "metrics": dict(sorted(trial.metrics.items())),
    }

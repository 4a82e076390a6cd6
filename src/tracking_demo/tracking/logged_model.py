"""A kept MLflow model folder delivered as an MLflow 3 logged model, as `Model.log` makes one.

`mlflow.<flavor>.log_model` would save and upload in the training thread, in one go; a task
saves its model into the run's write-ahead log instead (docs/architecture.md, rules 3 and 4),
and this module does the rest of what `mlflow.models.Model.log` does in MLflow 3.15, with the
client's own logged-model API: create the model (name, source run, params, type, tags), write
its id and location into `MLmodel`, upload the folder, name it among the run's outputs, link the
run's metrics that judge it, and mark it READY. Every step is safe to repeat, so a replay by
`tracking-demo sync` finishes a model the killed process started and never makes a second one.
"""

from __future__ import annotations

from pathlib import Path

from mlflow.entities import LoggedModel, LoggedModelOutput, LoggedModelStatus, Metric
from mlflow.models import Model
from mlflow.models.model import MLMODEL_FILE_NAME
from mlflow.tracking import MlflowClient

from tracking_demo.tracking.records import ModelRecord

MODEL_STEP = 0  # the step `Model.log` links by default, and the one tasks log test metrics at


def deliver_logged_model(
    client: MlflowClient, run_id: str, local: Path, record: ModelRecord
) -> str:
    """Create (or find, on a replay) the run's logged model and complete it; returns its id."""
    from tracking_demo.registry import logged_model_of_run

    model = logged_model_of_run(client, run_id, record.name) or client.create_logged_model(
        experiment_id=client.get_run(run_id).info.experiment_id,
        name=record.name,
        source_run_id=run_id,
        params=dict(record.params),
        model_type=record.model_type,
        tags=dict(record.tags),
    )
    _write_identity(local, model, run_id)
    client.log_model_artifacts(model.model_id, str(local))
    run = client.get_run(run_id)
    outputs = run.outputs.model_outputs if run.outputs else []
    if all(output.model_id != model.model_id for output in outputs):
        client.log_outputs(run_id, [LoggedModelOutput(model.model_id, step=MODEL_STEP)])
    _link_metrics(client, run_id, model.model_id, record.linked_metrics)
    client.finalize_logged_model(model.model_id, LoggedModelStatus.READY)
    return model.model_id


def _write_identity(local: Path, model: LoggedModel, run_id: str) -> None:
    """What `Model.log` writes into MLmodel before saving: the model's id, run and location."""
    path = local / MLMODEL_FILE_NAME
    meta = Model.load(str(path))
    meta.model_id = model.model_id
    meta.model_uuid = model.model_id
    meta.run_id = run_id
    meta.artifact_path = model.artifact_location
    meta.save(str(path))


def _link_metrics(client: MlflowClient, run_id: str, model_id: str, keys: tuple[str, ...]) -> None:
    """The run's points of `keys` at the model's step, sent again with the model's id: the
    server keeps them once in the run's history and links them to the model (`Model.log`'s
    `log_model_metrics_for_step`, limited to the metrics the task says judge the model)."""
    linked = [
        Metric(
            key=point.key,
            value=point.value,
            timestamp=point.timestamp,
            step=point.step,
            run_id=run_id,
            model_id=model_id,
        )
        for key in keys
        for point in client.get_metric_history(run_id, key)
        if point.step == MODEL_STEP
    ]
    if linked:
        client.log_batch(run_id, metrics=linked)

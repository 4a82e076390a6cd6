"""The AutoML regression job as azure-ai-ml entities, and the MLClient calls that submit it.

The entity is built offline: `--dry-run` prints its YAML (`az ml job create --file` accepts it)
and a submit sends the same entity. The training data is an `mltable` data asset: the staged
MLTable folder registered under its content version (reused when that version exists), or an
existing asset, pinned to the version it resolved to so a rerun trains on the same rows.
"""

from __future__ import annotations

from typing import Any

import click

from jobs.automl_spec import (
    FEATURIZATION,
    LABEL,
    PRIMARY_METRIC,
    TASK,
    VALIDATION_DATA_SIZE,
    AssetRef,
    AutoMLRequest,
)
from jobs.mltable import StagedTable
from tracking_demo.errors import ConfigError

MLTABLE = "mltable"


def regression_job(request: AutoMLRequest) -> Any:
    """`automl.regression(...)` with the request's limits: the `RegressionJob` a submit sends."""
    from azure.ai.ml import Input, automl

    job = automl.regression(
        compute=request.compute,
        experiment_name=request.experiment,
        training_data=Input(type=MLTABLE, path=request.training.reference),
        target_column_name=LABEL,
        primary_metric=PRIMARY_METRIC,
        validation_data_size=VALIDATION_DATA_SIZE,
        display_name=TASK,
        tags=request.tags,
    )
    limits = request.limits
    job.set_limits(
        timeout_minutes=limits.timeout_minutes,
        trial_timeout_minutes=limits.trial_timeout_minutes,
        max_trials=limits.max_trials,
        max_concurrent_trials=limits.max_concurrent,
        enable_early_termination=limits.enable_early_termination,
    )
    job.set_featurization(mode=FEATURIZATION)
    return job


def data_asset(staged: StagedTable, name: str) -> Any:
    """The staged folder as an `mltable` asset, versioned by its content."""
    from azure.ai.ml.entities import Data

    return Data(
        name=name,
        version=staged.version,
        type=MLTABLE,
        path=str(staged.folder),
        tags=staged.tags,
        description=f"training rows of {staged.source.name} for AutoML (label {LABEL})",
    )


def register_training_data(ml_client: Any, staged: StagedTable, name: str) -> dict[str, Any]:
    """The asset of this content: the existing version, or a new one uploaded from the folder."""
    from azure.core.exceptions import ResourceNotFoundError

    try:
        asset = ml_client.data.get(name=name, version=staged.version)
        created = False
    except ResourceNotFoundError:
        asset = ml_client.data.create_or_update(data_asset(staged, name))
        created = True
    state = "registered" if created else "reused unchanged"
    click.echo(f"data asset {name}:{asset.version}: {state}", err=True)
    return {"name": name, "version": str(asset.version), "created": created}


def existing_training_data(ml_client: Any, ref: AssetRef) -> AssetRef:
    """`--dataset`: the asset must exist and be a table; its newest version is pinned."""
    asset = (
        ml_client.data.get(name=ref.name, version=ref.version)
        if ref.version
        else ml_client.data.get(name=ref.name, label="latest")
    )
    if str(asset.type) != MLTABLE:
        raise ConfigError(
            f"--dataset {ref}: data asset {ref.name}:{asset.version} is a {asset.type}; AutoML "
            "reads an mltable asset (give --data FOLDER with housing.csv to register one)"
        )
    return AssetRef(ref.name, str(asset.version))


def tracking_uri(ml_client: Any) -> str:
    """The workspace's MLflow server: where AutoML logs the parent run and its trials."""
    return str(ml_client.workspaces.get(ml_client.workspace_name).mlflow_tracking_uri)

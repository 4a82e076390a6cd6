"""AutoML regression on the housing data, SDK v2 only: `python -m jobs.automl [options]`.

The tutorial's AutoML run, beside the hand-built models: `--data FOLDER` stages the housing CSV's
training rows as an MLTable folder (registered as an `mltable` data asset, versioned by content)
or `--dataset NAME[:VERSION]` names an existing one; the job is `automl.regression(...)` on it.
`--dry-run` prints the job's CLI v2 YAML; `--wait` streams the job, then reports its best trial
and `--register-as NAME` registers that trial's MLflow model.

Only SDK v2: AutoML jobs in SDK v1 (azureml-train-automl) ended with it, so there is no `--sdk`.
azure-ai-ml is imported only once an action needs it: `--help` and option errors never load it.
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from jobs.automl_spec import (
    DEFAULT_ASSET,
    DEFAULT_COMPUTE,
    DEFAULT_EXPERIMENT,
    DEFAULT_MAX_CONCURRENT,
    DEFAULT_SEED,
    DEFAULT_TEST_FRACTION,
    DEFAULT_TIMEOUT_MINUTES,
    LABEL,
    PRIMARY_METRIC,
    VALIDATION_DATA_SIZE,
    AssetRef,
    AutoMLRequest,
    Limits,
    Split,
    check_asset_name,
    check_limits,
    default_concurrency,
    parse_asset,
)
from jobs.common import (
    WorkspaceRef,
    auth_kind,
    command,
    emit_option,
    print_spec,
    workspace_options,
)
from tracking_demo.errors import ConfigError

if TYPE_CHECKING:  # importing it costs pandas and scikit-learn: only once --data is staged
    from jobs.mltable import StagedTable


@contextmanager
def staged_table(data: Path, split: Split, folder: Path | None) -> Iterator[StagedTable]:
    """The MLTable folder: in `folder` (kept, beside an emitted YAML), else a temporary one."""
    from jobs import mltable

    if folder is not None:
        yield mltable.stage(data, folder, split)
        return
    with tempfile.TemporaryDirectory(prefix="automl-mltable-") as scratch:
        yield mltable.stage(data, Path(scratch) / "mltable", split)


def header(
    request: AutoMLRequest,
    ref: WorkspaceRef,
    environ: Mapping[str, str],
    staged: StagedTable | None,
    staged_at: str | None,
) -> list[str]:
    """The YAML's comments: where it would run, as whom (as every v2 dry-run says it), on which
    rows, judged how."""
    from jobs.v2 import dry_run

    lines = [
        *dry_run.workspace_header(ref, environ),
        f"label: {LABEL}; primary metric: {PRIMARY_METRIC}; validation: "
        f"{VALIDATION_DATA_SIZE:.0%} of the training rows",
    ]
    if staged is not None and request.split is not None:
        lines += [
            f"data: {staged.source}: {staged.rows} rows, {staged.training_rows} for training "
            f"(test fraction {request.split.test_fraction}, seed {request.split.seed}: the "
            "rows `tracking-demo compare` scores on stay out)",
            f"data asset {request.training} (mltable, sha256 {staged.sha256[:12]}...): a submit "
            "registers it unless that version exists",
        ]
        if staged_at is not None:
            name, version = request.training.name, request.training.version
            lines.append(
                f"register it yourself: az ml data create --name {name} --version {version} "
                f"--type mltable --path {staged_at}"
            )
    else:
        lines.append(
            f"data asset {request.training}: an existing mltable asset (a submit checks it and "
            "pins the version it finds)"
        )
    return lines


def show_job(
    request: AutoMLRequest,
    ref: WorkspaceRef,
    emit: Path | None,
    staged: StagedTable | None,
) -> None:
    """The job's YAML on stdout (and in `--emit FILE`), checked as Azure ML would build it."""
    from jobs.v2 import automl, render

    job = automl.regression_job(request)
    render.check_rest(job, "the AutoML job")
    staged_at = None
    if staged is not None and emit is not None:
        staged_at = os.path.relpath(staged.folder.resolve(), render.emit_base(emit))
    lines = header(request, ref, os.environ, staged, staged_at)
    render.emit(render.to_yaml(render.entity_dict(job), "automl", lines), emit)


def submit(
    request: AutoMLRequest,
    ref: WorkspaceRef,
    staged: StagedTable | None,
    wait: bool,
) -> dict[str, Any]:
    """Register (or reuse) the data, submit the job; with `wait`, its best trial (registered)."""
    from dataclasses import replace

    from jobs.v2 import automl, automl_best, client, prepare, render

    auth_kind(ref, os.environ)  # a missing service-principal variable fails before the login
    ml_client = client.ml_client(ref)
    if staged is not None:
        data = automl.register_training_data(ml_client, staged, request.training.name)
    else:
        pinned = automl.existing_training_data(ml_client, request.training)
        request = replace(request, training=pinned)
        data = {"name": pinned.name, "version": pinned.version, "created": False}
    job = automl.regression_job(request)
    render.check_rest(job, "the AutoML job")
    created = ml_client.jobs.create_or_update(job)
    click.echo(f"submitted AutoML job {created.name}: {created.studio_url}", err=True)
    result: dict[str, Any] = {
        "job": created.name,
        "status": created.status,
        "studio_url": created.studio_url,
        "experiment": request.experiment,
        "compute": request.compute,
        "data_asset": data,
    }
    if not wait:
        return result
    result["status"] = prepare.wait_for(ml_client, created.name, "AutoML job", created.studio_url)
    uri = automl.tracking_uri(ml_client)
    best = automl_best.best_trial(uri, created.name)
    result["best"] = best.describe()
    if request.register_as:
        tags = automl_best.version_tags(request, created.name, best)
        result["model"] = automl_best.register_best(uri, best, request.register_as, tags)
    return result


@command
@click.option(
    "--data",
    type=click.Path(path_type=Path),
    help=f"Folder with housing.csv (or the CSV): its training rows become an MLTable data "
    f"asset, checked first ('{LABEL}' numeric, every housing column).",
)
@click.option(
    "--dataset",
    metavar="NAME[:VERSION]",
    help="An existing mltable data asset instead of --data [default version: the newest].",
)
@click.option(
    "--data-asset",
    help="--data: the data asset's name; its version is the staged table's content hash "
    f"[default: {DEFAULT_ASSET}].",
)
@click.option(
    "--test-fraction",
    type=click.FloatRange(0, 0.9, min_open=True, max_open=True),
    help=f"--data: share of rows held out, never shown to AutoML, as `train housing-*` hold "
    f"them out [default: {DEFAULT_TEST_FRACTION}].",
)
@click.option("--seed", type=int, help=f"--data: seed of that split [default: {DEFAULT_SEED}].")
@click.option("--compute", default=DEFAULT_COMPUTE, show_default=True, help="CPU cluster.")
@click.option("--experiment", default=DEFAULT_EXPERIMENT, show_default=True)
@click.option(
    "--timeout-minutes",
    type=int,
    default=DEFAULT_TIMEOUT_MINUTES,
    show_default=True,
    help="The whole job's budget (the tutorial's).",
)
@click.option("--trial-timeout-minutes", type=int, help="Each trial's budget [default: none].")
@click.option("--max-trials", type=int, help="Trials in all [default: AutoML's, within the time].")
@click.option(
    "--max-concurrent",
    type=int,
    help=f"Trials at once, at most the cluster's nodes [default: {DEFAULT_MAX_CONCURRENT}, "
    "or --max-trials if fewer].",
)
@click.option(
    "--register-as", help="With --wait: register the best trial's MLflow model under this name."
)
@click.option("--wait", is_flag=True, help="Stream the job, then print the best trial's metrics.")
@click.option("--dry-run", is_flag=True, help="Print the job's CLI v2 YAML; no login, no network.")
@emit_option
@workspace_options
def main(
    data: Path | None,
    dataset: str | None,
    data_asset: str | None,
    test_fraction: float | None,
    seed: int | None,
    compute: str,
    experiment: str,
    timeout_minutes: int,
    trial_timeout_minutes: int | None,
    max_trials: int | None,
    max_concurrent: int | None,
    register_as: str | None,
    wait: bool,
    dry_run: bool,
    emit: Path | None,
    ref: WorkspaceRef,
    debug: bool,
) -> None:
    """AutoML regression of median_house_value on the housing data (Azure ML SDK v2 only).

    \b
        python -m jobs.automl --data data/housing --dry-run
        python -m jobs.automl --data data/housing --dry-run --emit automl/job.yml
        python -m jobs.automl --data data/housing --wait --register-as housing-automl
        python -m jobs.automl --dataset housing-mltable --max-trials 20 --timeout-minutes 60
    """
    if data is None and dataset is None:
        raise ConfigError(
            "give the training data: --data FOLDER (with housing.csv) or --dataset NAME[:VERSION]"
        )
    if data is not None and dataset is not None:
        raise ConfigError("--data and --dataset both name training data: give one of them")
    if dataset is not None and data_asset is not None:
        raise ConfigError(
            "--data-asset names the asset --data is registered as; --dataset is used as it is"
        )
    if dataset is not None and (test_fraction is not None or seed is not None):
        raise ConfigError(
            "--test-fraction/--seed split the --data file; an existing --dataset is used as it is"
        )
    if emit is not None and not dry_run:
        raise ConfigError("--emit FILE writes the CLI v2 YAML: it needs --dry-run")
    if register_as and not wait and not dry_run:
        raise ConfigError("--register-as needs --wait (the best trial is known once the job ends)")
    limits = check_limits(
        Limits(
            timeout_minutes,
            trial_timeout_minutes,
            max_trials,
            default_concurrency(max_trials) if max_concurrent is None else max_concurrent,
        )
    )
    if dataset is not None:
        request = AutoMLRequest(
            parse_asset(dataset), limits, compute, experiment, register_as=register_as
        )
        if dry_run:
            show_job(request, ref, emit, None)
            return
        print_spec(submit(request, ref, None, wait))
        return
    assert data is not None
    data_asset = data_asset or DEFAULT_ASSET
    check_asset_name(data_asset, "--data-asset")
    split = Split(
        DEFAULT_TEST_FRACTION if test_fraction is None else test_fraction,
        DEFAULT_SEED if seed is None else seed,
    )
    folder = emit.parent / data_asset if emit is not None else None
    with staged_table(data, split, folder) as staged:
        training = AssetRef(data_asset, staged.version)
        request = AutoMLRequest(training, limits, compute, experiment, split, register_as)
        if dry_run:
            show_job(request, ref, emit, staged)
            return
        print_spec(submit(request, ref, staged, wait))


if __name__ == "__main__":
    main(prog_name="python -m jobs.automl", args=sys.argv[1:])

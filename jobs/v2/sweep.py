"""The housing MLP sweep as an SDK v2 `SweepJob`: `python -m jobs.sweep` (`--sdk v2`, the default).

The sweep file is the one `tracking-demo sweep housing-mlp` and v1's HyperDrive read
(`spec.load_spec`), mapped field by field as v1 maps it:

- the trial is the single job's command node (`command_job.command_node`: environment, compute,
  variables, data input) with each tuned parameter appended as `--flag ${{search_space.NAME}}`
  (`first_layer_units` -> `--first-layer-units`), so Azure ML substitutes the sampled value;
- the space: `Choice(values)`, `Uniform(low, high)`, and `LogUniform(ln(low), ln(high))`: the
  file's bounds are natural units and v2's LogUniform, like HyperDrive's loguniform, draws
  `exp(uniform(min_value, max_value))` ("Minimum value of the log of the distribution");
- random sampling (the file has no seed, so none is sent, as v1 sends none);
- `BanditPolicy(slack_factor | slack_amount, evaluation_interval, delay_evaluation)`, or no
  policy (`policy: none`, `--no-early-termination`);
- the objective (primary metric, minimize/maximize) and the limits: max_total_trials,
  max_concurrent_trials and a timeout of 7 days, HyperDrive's default `max_duration_minutes`
  (10080), since the file has none.

`--dry-run` prints the SweepJob as CLI v2 YAML for `az ml job create --file`; a real submit
creates it through `MLClient` and, with `--wait`, reports (and registers) the best trial.
"""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import click

from jobs import snapshot
from jobs.common import WorkspaceRef
from jobs.spec import JobFailedError, SweepRequest, tuned_flags, version_tags
from jobs.v2 import best_trial, prepare, render
from jobs.v2 import dry_run as dry_run_lines
from jobs.v2.command_job import URI_FOLDER, command_node
from tracking_demo.errors import ConfigError
from tracking_demo.sweep import space as search_space
from tracking_demo.sweep.space import Choice, LogUniform, SweepSpec, Uniform

# The file has no time limit: a sweep gets HyperDrive's default, max_duration_minutes=10080.
DEFAULT_TIMEOUT_SECONDS = 10080 * 60
SAMPLING_ALGORITHM = "random"


def search_distribution(distribution: search_space.Distribution) -> Any:
    """The file's distribution as v2's; loguniform bounds become exponents."""
    from azure.ai.ml import sweep as v2

    if isinstance(distribution, Choice):
        return v2.Choice(values=list(distribution.values))
    if isinstance(distribution, Uniform):
        return v2.Uniform(min_value=distribution.low, max_value=distribution.high)
    if isinstance(distribution, LogUniform):
        return v2.LogUniform(
            min_value=math.log(distribution.low), max_value=math.log(distribution.high)
        )
    raise ConfigError(f"no SDK v2 distribution for {distribution!r}")


def search_space_of(spec: SweepSpec) -> dict[str, Any]:
    """Keyed by the parameter's name: the trial command reads `${{search_space.NAME}}`."""
    return {name: search_distribution(d) for name, d in spec.parameters.items()}


def early_termination(spec: SweepSpec) -> Any:
    """The file's BanditPolicy with the one slack it sets, or None: no early termination."""
    from azure.ai.ml.sweep import BanditPolicy

    policy = spec.policy
    if policy is None:
        return None
    slack: dict[str, Any] = (
        {"slack_amount": policy.slack_amount}
        if policy.slack_amount is not None
        else {"slack_factor": policy.slack_factor}
    )
    return BanditPolicy(
        evaluation_interval=policy.evaluation_interval,
        delay_evaluation=policy.delay_evaluation,
        **slack,
    )


def sampled_arguments(spec: SweepSpec) -> str:
    """`--flag ${{search_space.NAME}}` per tuned parameter: what HyperDrive appends in v1."""
    return " ".join(
        f"{flag} ${{{{search_space.{name}}}}}" for name, flag in tuned_flags(spec).items()
    )


def sweep_tags(sweep: SweepRequest) -> dict[str, str]:
    tags = {"task": sweep.job.task, "sweep_space": Path(sweep.space_file).name}
    if sweep.register_as:
        tags["register_as"] = sweep.register_as
    return tags


def sweep_node(
    sweep: SweepRequest, code: Path, environment: Any, data_type: str = URI_FOLDER
) -> Any:
    """The single job's command node, swept: what `ml_client.jobs.create_or_update` takes."""
    spec = sweep.spec
    trial = command_node(sweep.job, code, environment, data_type)
    trial.command = f"{trial.command} {sampled_arguments(spec)}"
    node = trial.sweep(
        primary_metric=spec.primary_metric.name,
        goal=spec.primary_metric.goal,
        sampling_algorithm=SAMPLING_ALGORITHM,
        search_space=search_space_of(spec),
        early_termination_policy=early_termination(spec),
        max_total_trials=spec.max_trials,
        max_concurrent_trials=spec.max_concurrent,
        timeout=DEFAULT_TIMEOUT_SECONDS,
    )
    node.display_name = f"{sweep.job.task}-sweep"
    node.tags = sweep_tags(sweep)
    return node


def sweep_job(
    sweep: SweepRequest, code: Path, environment: Any, data_type: str = URI_FOLDER
) -> Any:
    """The `SweepJob` entity, which dumps as the YAML `az ml job create` accepts (the Sweep node
    itself does not round-trip through `load_job`)."""
    return sweep_node(sweep, code, environment, data_type)._to_job()


# --- --dry-run: the YAML ---------------------------------------------------------------------


def header(
    sweep: SweepRequest,
    ref: WorkspaceRef,
    root: Path,
    environ: Mapping[str, str],
    environment: Any,
    emit_path: Path | None,
) -> list[str]:
    """The dry-run's comments: a job's (where, as whom, with what), then the sweep's own: the
    file read and what the mapping chose for it."""
    lines = [
        dry_run_lines.create_line(emit_path, "jobs.sweep", f"{sweep.job.task} sweep"),
        *dry_run_lines.job_header(sweep.job, ref, root, environment, environ),
        f"space: {sweep.space_file}",
        f"limits.timeout: {DEFAULT_TIMEOUT_SECONDS} s (the file sets none: HyperDrive's default)",
        "search_space: loguniform bounds are ln() of the file's natural-unit bounds",
    ]
    if sweep.register_as:
        lines.append(
            f"register_as: {sweep.register_as}: `python -m jobs.sweep --wait` registers the best "
            "trial's model/ once the sweep completes"
        )
    return lines


def dry_run(
    sweep: SweepRequest,
    ref: WorkspaceRef,
    root: Path,
    emit_path: Path | None,
    environ: Mapping[str, str],
) -> None:
    """Print (and with `--emit`, write) the SweepJob YAML; no workspace, no network."""
    environment = prepare.build_environment(sweep.job, root, environ)
    job = sweep_job(sweep, root, prepare.inline_environment(environment))
    render.check_rest(job, "the sweep job")
    data = dry_run_lines.job_yaml_data(job, render.emit_base(emit_path))
    lines = header(sweep, ref, root, environ, environment, emit_path)
    render.emit(render.to_yaml(data, "sweep", lines), emit_path)


# --- the real submit ---------------------------------------------------------------------------


def submit_sweep(
    sweep: SweepRequest,
    ref: WorkspaceRef,
    root: Path,
    wait: bool,
    environ: Mapping[str, str] = os.environ,
) -> dict[str, Any]:
    """Create the SweepJob; with `wait`, stream it, then report (and register) the best trial."""
    from jobs.v2 import client

    snapshot.take_within_limits(root)
    built = prepare.build_environment(sweep.job, root, environ)  # offline errors before the login
    ml_client = client.ml_client(ref, environ)
    ready = prepare.in_workspace(ml_client, sweep.job, built)
    sweep = dataclasses.replace(sweep, job=ready.request)
    job = sweep.job
    created = ml_client.jobs.create_or_update(
        sweep_job(sweep, root, ready.environment, ready.data_type)
    )
    name, url = created.name, created.studio_url
    click.echo(f"submitted {name}: {url}", err=True)
    result: dict[str, Any] = {"sweep_id": name, "portal_url": url}
    if not wait:
        return result
    result["status"] = prepare.wait_for(ml_client, name, "sweep", url)
    tracking_uri = ml_client.workspaces.get(ml_client.workspace_name).mlflow_tracking_uri
    metric = sweep.spec.primary_metric
    experiment = created.experiment_name or job.experiment
    best = best_trial.best_trial(tracking_uri, experiment, name, metric)
    if best is None:
        raise JobFailedError(
            f"sweep {name} completed but no finished trial reported '{metric.name}'"
        )
    trial_url = ml_client.jobs.get(best.run_id).studio_url
    result["best"] = best_trial.describe(best, metric, trial_url)
    if sweep.register_as:
        from jobs.sweep import register_best

        tags = version_tags(name, result["best"]["metrics"])
        result["model"] = register_best(tracking_uri, best.run_id, sweep.register_as, tags)
        result["model"]["sweep_id"] = name
    return result

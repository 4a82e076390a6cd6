"""The housing MLP sweep on Azure ML: `python -m jobs.sweep [options]`.

`--sdk v2` (the default) submits it as an SDK v2 `SweepJob` (jobs/v2/sweep.py, whose `--dry-run`
prints the YAML `az ml job create --file` accepts); `--sdk v1`, described here, as a HyperDrive
run through azureml-core.

The sweep file (`--space`, default the packaged `housing_sweep.yaml`) is the one that
`tracking-demo sweep housing-mlp` reads, parsed by the same `search_space.load`, so the local
sweep and HyperDrive cannot disagree on the space, the policy, the metric or the budget. It maps
onto azureml-train-core's HyperDriveConfig:

- `RandomParameterSampling({"--flag": choice(*values) | uniform(low, high) | loguniform(...)})`,
  keyed by the trial command's option (`first_layer_units` -> `--first-layer-units`). The
  file's `loguniform: [low, high]` is in natural units; HyperDrive's `loguniform(a, b)` draws
  `exp(uniform(a, b))`, so it gets `a = ln(low)`, `b = ln(high)`.
- `BanditPolicy(evaluation_interval, slack_factor | slack_amount, delay_evaluation)`, or
  `NoTerminationPolicy()` without a section, with `policy: none` or `--no-early-termination`.
- `primary_metric_name`/`primary_metric_goal`, `max_total_runs`, `max_concurrent_runs`.
- `run_config`: the trial, `tracking-demo train housing-mlp --data DIR [fixed options]`, built
  from jobs.submit's JobRequest, environment and ScriptRunConfig (see `trial_run_config` for
  why its form differs from a single job's).

Each trial logs into the child run Azure ML creates for it (MLflow), so HyperDrive reads the
primary metric from the same run the task logs to. `--wait` prints the best trial and
`--register-as NAME` registers that trial's model; the trials themselves register nothing.
"""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import click

from jobs import environments, snapshot, spec, submit
from jobs.common import (
    WorkspaceRef,
    check_emit,
    command,
    describe_auth,
    emit_option,
    print_spec,
    sdk_option,
    source_option,
    workspace_options,
    workspace_or_reason,
)
from jobs.spec import (
    SweepRequest,
    load_spec,
    make_sweep_request,
    space_file,
    tuned_flags,
    version_tags,
)
from tracking_demo.errors import ConfigError
from tracking_demo.sweep import space as search_space
from tracking_demo.sweep.space import Choice, LogUniform, SweepSpec, Uniform

# What a trial runs: `python -m tracking_demo` as a script file, so HyperDrive can append the
# sampled arguments (see `trial_run_config`). It is in the snapshot; its folder, which Python
# puts first on sys.path, holds no module named like one of the standard library's.
TRIAL_SCRIPT = "src/tracking_demo/__main__.py"


def hyperdrive() -> Any:
    """`azureml.train.hyperdrive`, imported after `azureml.core`: the other way round,
    azureml.core's run-type registry imports the half-initialised package and prints a failure."""
    import azureml.core
    import azureml.train.hyperdrive

    return azureml.train.hyperdrive


def hyperdrive_distribution(distribution: search_space.Distribution) -> list[Any]:
    """The file's distribution as HyperDrive's expression; loguniform bounds become exponents."""
    sdk = hyperdrive()
    if isinstance(distribution, Choice):
        return sdk.choice(*distribution.values)
    if isinstance(distribution, Uniform):
        return sdk.uniform(distribution.low, distribution.high)
    if isinstance(distribution, LogUniform):
        return sdk.loguniform(math.log(distribution.low), math.log(distribution.high))
    raise ConfigError(f"no HyperDrive expression for the distribution {distribution!r}")


def parameter_sampling(spec: SweepSpec) -> Any:
    """`RandomParameterSampling` over the trial command's options."""
    return hyperdrive().RandomParameterSampling(
        {
            tuned_flags(spec)[name]: hyperdrive_distribution(distribution)
            for name, distribution in spec.parameters.items()
        }
    )


def termination_policy(spec: SweepSpec) -> Any:
    """The file's BanditPolicy, or none when early termination is off."""
    sdk = hyperdrive()
    policy = spec.policy
    if policy is None:
        return sdk.NoTerminationPolicy()
    return sdk.BanditPolicy(
        evaluation_interval=policy.evaluation_interval,
        slack_factor=policy.slack_factor if policy.slack_amount is None else None,
        slack_amount=policy.slack_amount,
        delay_evaluation=policy.delay_evaluation,
    )


def trial_run_config(
    request: spec.JobRequest, environment: Any, root: Path, data_argument: Any
) -> Any:
    """The trial as HyperDrive needs it: `script=` + `arguments=`, not `command=`.

    The SDK substitutes nothing: it sends the ScriptRunConfig's RunConfiguration as
    `Definition.Overrides` (`HyperDriveConfig._get_platform_config_data_from_run_config`) next
    to the parameter space, and the service builds each child run from it, adding the sampled
    `--flag value` pairs to its `arguments` (the SDK's own duplicate check,
    `HyperDriveConfig._remove_duplicate_arguments`, looks for the space's parameters there).
    A ScriptRunConfig built with `command=` sends its whole command line in `command` with
    `arguments` empty, and azureml-core allows `command` or `script`/`arguments`, not both: a
    command run drops the sampled arguments (reported in microsoft/hi-ml#917), and every trial
    would train the same model. So the trial
    is jobs.submit's ScriptRunConfig (environment, compute, Docker, variables) with the
    program replaced by `TRIAL_SCRIPT` and the rest of the job's command as `arguments`;
    HyperDrive then runs `python src/tracking_demo/__main__.py train housing-mlp --data DIR
    ... --batch-size 50 ...`, which is `tracking-demo train housing-mlp ...`.
    """
    from azureml.core import ScriptRunConfig

    single_job = submit.script_run_config(request, environment, root, data_argument)
    program = spec.job_program(request)
    arguments = list(single_job.command)[len(program) :]
    return ScriptRunConfig(
        source_directory=single_job.source_directory,
        script=TRIAL_SCRIPT,
        arguments=arguments,
        run_config=single_job.run_config,
    )


def hyperdrive_config(sweep: SweepRequest, environment: Any, root: Path, data_argument: Any) -> Any:
    """The real HyperDriveConfig a submit sends (buildable offline with a placeholder)."""
    sdk = hyperdrive()
    spec = sweep.spec
    return sdk.HyperDriveConfig(
        run_config=trial_run_config(sweep.job, environment, root, data_argument),
        hyperparameter_sampling=parameter_sampling(spec),
        policy=termination_policy(spec),
        primary_metric_name=spec.primary_metric.name,
        primary_metric_goal=sdk.PrimaryMetricGoal[spec.primary_metric.goal.upper()],
        max_total_runs=spec.max_trials,
        max_concurrent_runs=spec.max_concurrent,
    )


def trial_definition(config: Any) -> dict[str, Any]:
    """The trial's run definition as the SDK sends it to HyperDrive (script, arguments,
    command, target, variables), read back from the config's own serialization."""
    from azureml._execution._commands import _serialize_run_config_to_dict
    from azureml.core.script_run_config import get_run_config_from_script_run

    run_config = hyperdrive().HyperDriveConfig._remove_duplicate_arguments(
        get_run_config_from_script_run(config.run_config), config._generator_config, False
    )
    serialized = _serialize_run_config_to_dict(run_config)
    return {
        "script": serialized["script"],
        "arguments": [str(argument) for argument in serialized["arguments"]],
        "command": serialized["command"] or None,
        "target": serialized["target"],
        "environment_variables": dict(serialized["environmentVariables"]),
    }


def dry_run_spec(
    sweep: SweepRequest, ref: WorkspaceRef, root: Path, environ: Mapping[str, str]
) -> dict[str, Any]:
    """What a submit would send, from the real SDK objects, without a workspace or network."""
    job = sweep.job
    environment = submit.build_environment(job, root, environ)
    placeholder = (
        f"<dataset {job.dataset}:{job.dataset_version} as {job.data_mode}>"
        if job.dataset
        else "<no dataset>"
    )
    config = hyperdrive_config(sweep, environment, root, placeholder)
    trial = trial_definition(config)
    interpreter = "python" if job.environment == "curated" else environments.IMAGE_INTERPRETER
    sampled = [part for flag in tuned_flags(sweep.spec).values() for part in (flag, "<sampled>")]
    example = search_space.trial_arguments(search_space.sample(sweep.spec.parameters, 1, 0)[0])
    return {
        "task": job.task,
        "experiment": job.experiment,
        "space": {"file": sweep.space_file, "spec": sweep.spec.describe()},
        "hyperdrive": {
            "hyperparameter_sampling": config._generator_config,
            "policy": config._policy_config,
            "primary_metric_name": config._primary_metric_config["name"],
            "primary_metric_goal": hyperdrive()
            .PrimaryMetricGoal[config._primary_metric_config["goal"].upper()]
            .name,
            "max_total_runs": config._max_total_runs,
            "max_concurrent_runs": config._max_concurrent_runs,
            "max_duration_minutes": config._max_duration_minutes,
        },
        "trial": trial,
        "trial_command": [interpreter, trial["script"], *trial["arguments"], *sampled],
        "trial_command_example": [interpreter, trial["script"], *trial["arguments"], *example],
        "compute": trial["target"],
        "gpu": job.gpu,
        "environment_kind": job.environment,
        "environment": environments.environment_spec(environment),
        "dataset": {
            "name": job.dataset,
            "version": job.dataset_version,
            "mode": job.data_mode,
            "input_name": spec.DATA_INPUT,
        }
        if job.dataset
        else None,
        "register_as": sweep.register_as,
        "snapshot": snapshot.take(root).summary(),
        "workspace": workspace_or_reason(ref),
        "auth": describe_auth(ref, environ),
        "note": [
            "HyperDrive appends each trial's sampled values to the trial's arguments as "
            "'--flag value'; loguniform bounds are ln() of the file's natural-unit bounds.",
            "The dataset argument is a placeholder: a DatasetConsumptionConfig needs the "
            "workspace's registered dataset, so it is built only on a real submit.",
            "The trial_command_example's values are one draw of the local sweep's sampler; "
            "HyperDrive draws its own.",
        ],
    }


def submit_sweep(
    sweep: SweepRequest,
    ref: WorkspaceRef,
    root: Path,
    wait: bool,
    environ: Mapping[str, str] = os.environ,
) -> dict[str, Any]:
    """Submit the HyperDrive run; with `wait`, stream it, then report (and register) the best."""
    workspace, environment, data_argument = submit.prepare_submit(sweep.job, ref, root, environ)
    config = hyperdrive_config(sweep, environment, root, data_argument)
    run, result = submit.run_experiment(workspace, sweep.job.experiment, config, "sweep", wait)
    if not wait:
        return result
    metric = sweep.spec.primary_metric.name
    best = run.get_best_run_by_primary_metric(include_failed=False, include_canceled=False)
    if best is None:
        raise spec.JobFailedError(
            f"sweep {run.id} completed but no finished trial reported '{metric}'"
        )
    metrics = best.get_metrics()
    result["best"] = {
        "run_id": best.id,
        "mlflow_run_id": best.id,  # Azure ML's MLflow server names a run by the job run's id
        "portal_url": best.get_portal_url(),
        "primary_metric": {"name": metric, "value": _last(metrics.get(metric))},
        "metrics": {name: _last(value) for name, value in sorted(metrics.items())},
    }
    if sweep.register_as:
        result["model"] = register_best(
            workspace.get_mlflow_tracking_uri(),
            best.id,
            sweep.register_as,
            version_tags(run.id, result["best"]["metrics"]),
        )
        result["model"]["sweep_id"] = run.id
    return result


def _last(value: Any) -> Any:
    """Run history keeps a per-epoch metric as a list; the trial's result is its last value."""
    return value[-1] if isinstance(value, list) and value else value


def register_best(
    tracking_uri: str, run_id: str, name: str, tags: Mapping[str, str]
) -> dict[str, str]:
    """Register the best trial's `model/`, with v1 and v2 alike."""
    return spec.register_run_model(tracking_uri, f"runs:/{run_id}/model", name, tags)


@command
@click.argument("task_args", nargs=-1, type=click.UNPROCESSED)
@click.option(
    "--space",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Sweep file (YAML/JSON) [default: the packaged housing_sweep.yaml, as the local sweep].",
)
@click.option("--max-trials", type=int, help="HyperDrive's max_total_runs [default: the file's].")
@click.option(
    "--max-concurrent", type=int, help="HyperDrive's max_concurrent_runs [default: the file's]."
)
@click.option(
    "--no-early-termination",
    is_flag=True,
    help="NoTerminationPolicy instead of the file's BanditPolicy.",
)
@submit.job_target_options
@click.option("--register-as", help="With --wait: register the best trial's model under this name.")
@click.option(
    "--wait", is_flag=True, help="Stream the sweep, then print the best trial and its metrics."
)
@click.option(
    "--dry-run",
    is_flag=True,
    help="v2: print the SweepJob YAML (for `az ml job create --file`); v1: the HyperDrive "
    "spec as JSON. No workspace, no network.",
)
@emit_option
@sdk_option
@source_option
@workspace_options
def main(
    task_args: tuple[str, ...],
    space: Path | None,
    max_trials: int | None,
    max_concurrent: int | None,
    no_early_termination: bool,
    target: spec.JobTarget,
    register_as: str | None,
    wait: bool,
    dry_run: bool,
    emit: Path | None,
    sdk: str,
    source: Path,
    ref: WorkspaceRef,
    debug: bool,
) -> None:
    """Run the housing MLP sweep as an Azure ML sweep job (v2) or HyperDrive run (v1); options
    after `--` go to every trial.

    \b
        python -m jobs.sweep --dataset housing --dry-run --emit sweep.yml
        python -m jobs.sweep --sdk v1 --dataset housing --dry-run
        python -m jobs.sweep --space my_sweep.yaml --max-trials 20 --dataset housing --wait
        python -m jobs.sweep --dataset housing --wait --register-as housing -- --learning-rate 0.01
    """
    check_emit(sdk, dry_run, emit)
    if register_as and not wait and not dry_run:
        raise ConfigError(
            "--register-as needs --wait (the best trial is known once the sweep ends)"
        )
    spec = load_spec(space, max_trials, max_concurrent, not no_early_termination)
    sweep = make_sweep_request(spec, space_file(space), task_args, target, register_as)
    if sdk == "v2":
        from jobs.v2 import sweep as v2_sweep

        if dry_run:
            v2_sweep.dry_run(sweep, ref, source, emit, os.environ)
            return
        print_spec(v2_sweep.submit_sweep(sweep, ref, source, wait, os.environ))
        return
    if dry_run:
        print_spec(dry_run_spec(sweep, ref, source, os.environ))
        return
    print_spec(submit_sweep(sweep, ref, source, wait))


if __name__ == "__main__":
    main(prog_name="python -m jobs.sweep", args=sys.argv[1:])

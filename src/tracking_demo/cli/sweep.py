"""`tracking-demo sweep housing-mlp`: the local hyperparameter sweep."""

from __future__ import annotations

import functools
import os
import sys
import traceback
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from tracking_demo.cli.options import TrackingOptions, session_from_options, tracking_options
from tracking_demo.cli.output import start_tensorflow
from tracking_demo.cli.task_options import (
    build_options,
    field_option,
    register_as_option,
    split_options,
)
from tracking_demo.sweep.options import SweepOptions
from tracking_demo.tasks.options import SplitOptions

if TYPE_CHECKING:
    from tracking_demo.sweep.runner import TrialOutcome

R = TypeVar("R")


@click.group()
def sweep() -> None:
    """Hyperparameter sweeps: random sampling, parallel trials, bandit early termination."""


def sweep_options(func: Callable[..., R]) -> Callable[..., R]:
    """The command receives one `options: SweepOptions`; its search space is the sweep file
    (`--space`) with the budget and policy options applied, read when the command runs."""

    @functools.wraps(func)
    def with_options(
        *args: Any,
        space: Path | None,
        max_trials: int | None,
        max_concurrent: int | None,
        early_termination: bool,
        validation_split: float | None,
        **kwargs: Any,
    ) -> R:
        from tracking_demo.sweep import space as search_space
        from tracking_demo.tasks.housing import TUNABLE

        spec = search_space.load(space, TUNABLE).with_overrides(
            max_trials, max_concurrent, early_termination
        )
        fixed = ("--validation-split", str(validation_split)) if validation_split else ()
        split = build_options(SplitOptions, kwargs)
        options = build_options(SweepOptions, kwargs, split=split, spec=spec, trial_options=fixed)
        return func(*args, options=options, **kwargs)

    return with_options


@sweep.command("housing-mlp")
@split_options
@tracking_options
@click.option(
    "--space",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Sweep file (YAML/JSON): parameters, primary metric, early termination, budget "
    "[default: the tutorial's, tracking_demo/sweep/housing_sweep.yaml; quick_sweep.yaml "
    "beside it shows a stopped trial in a minute].",
)
@click.option("--max-trials", type=click.IntRange(min=1), help="[default: the file's, 8]")
@click.option(
    "--max-concurrent",
    type=click.IntRange(min=1),
    help="Trials running at once, each in its own process [default: the file's, 4].",
)
@field_option(
    SweepOptions,
    "seed",
    "--sampling-seed",
    type=int,
    show_default=True,
    help="Seed of the random sampling.",
)
@field_option(
    SweepOptions,
    "isolation",
    "--isolation",
    type=click.Choice(["worker", "process"]),
    show_default=True,
    help="worker: max-concurrent warm worker processes import TensorFlow once and run the "
    "trials in turn, each with a clean Keras state (a crashed worker takes only its trial and "
    "is replaced); process: a fresh `train housing-mlp` process per trial, as Azure ML runs "
    "them (seconds of start-up each).",
)
@click.option(
    "--early-termination/--no-early-termination",
    default=True,
    show_default=True,
    help="Apply the file's bandit policy, or run every trial to its last epoch.",
)
@register_as_option(SweepOptions, "Register the best completed trial's model under this name.")
@click.option(
    "--validation-split",
    type=click.FloatRange(0, 0.5, min_open=True, max_open=True),
    help="Passed to every trial [default: the trial command's, 0.1].",
)
@sweep_options
def sweep_housing_mlp(options: SweepOptions, tracking: TrackingOptions) -> None:
    """Tune the housing MLP: each trial a nested run, the best one reported (and registered)."""
    from tracking_demo.data import housing as housing_data
    from tracking_demo.sweep import runner as housing_sweep
    from tracking_demo.sweep import space as search_space

    data = options.split.data
    housing_data.read(housing_data.resolve_file(data))  # bad data fails once, not in every trial
    session = session_from_options(tracking)
    # Each trial is its own process: it gets the file's absolute path.
    options = replace(options, split=replace(options.split, data=data.absolute()))
    spec = options.spec
    click.echo(
        f"sweep: up to {spec.max_trials} trials, {spec.max_concurrent} at a time, early "
        f"termination {search_space.describe_policy(spec.policy)['policy']}, "
        f"{spec.primary_metric.goal} {spec.primary_metric.name}"
    )
    result = housing_sweep.run_sweep(options, session, progress=_print_trial)
    click.echo(result.table.drop(columns=["run_id"]).to_string(index=False))
    best = result.best
    test_mae = best.metrics.get("test_mae", float("nan"))
    click.echo(
        f"best: {best.name} {best.params} final {spec.primary_metric.name} "
        f"{housing_sweep.final_value(best):,.2f}, test MAE {test_mae:,.2f}"
    )
    click.echo(
        f"terminated early: {result.terminated_share:.0%} of trials; "
        f"wall time {result.wall_time_s:.1f}s"
    )
    click.echo(f"Sweep run: {session.run_url(result.run_id)}")
    click.echo(f"Best trial run: {session.run_url(best.run_id)}")
    if result.registered_version:
        click.echo(f"Registered: models:/{result.registered_name}/{result.registered_version}")


def _print_trial(trial: TrialOutcome) -> None:
    detail = {
        "completed": lambda: f"final val_mae {trial.curve[-1]:,.2f}" if trial.curve else "",
        "terminated": lambda: f"at epoch {trial.terminated_at}",
        "failed": lambda: str(trial.error),
    }[trial.status]()
    click.echo(f"{trial.name} {trial.status} ({trial.wall_time_s:.1f}s) {trial.params} {detail}")


@sweep.command("worker", hidden=True)
def sweep_worker() -> None:
    """(Started by `sweep housing-mlp`.) A warm trial worker: imports once, then runs each
    trial read from stdin as `tracking-demo ARGUMENTS` in this process."""
    from tracking_demo.sweep import worker

    code = worker.serve(_run_in_process, _warm_up)
    # Every trial's run has ended and been delivered: skip the interpreter's teardown of
    # TensorFlow (about 1.8 s of CPU, measured), which the sweep would wait for at its end.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def _warm_up() -> None:
    """What every housing trial imports, imported once: TensorFlow and Keras, the task, MLflow's
    model flavours and the figures' Matplotlib."""
    start_tensorflow()
    import keras  # noqa: F401
    import matplotlib.figure  # noqa: F401
    import mlflow.pyfunc  # noqa: F401

    from tracking_demo.tasks import housing  # noqa: F401
    from tracking_demo.tasks.models import housing as housing_model  # noqa: F401


def _run_in_process(arguments: Sequence[str]) -> int:
    """`tracking-demo ARGUMENTS` in this process, ending as the command would: its exit code,
    its one-line errors, a traceback for a bug."""
    from tracking_demo.cli.main import cli  # here: the root group imports this module

    try:
        code = cli.main(list(arguments), prog_name="tracking-demo", standalone_mode=False)
    except click.exceptions.Abort:  # KeyboardInterrupt in the command: the sweep stopped it
        return 130
    except click.ClickException as error:
        error.show()
        return error.exit_code
    except SystemExit as error:
        return error.code if isinstance(error.code, int) else 1
    except Exception:
        traceback.print_exc()
        return 1
    return code if isinstance(code, int) else 0

"""California housing commands: the data file, the MLP and baseline, the sweep, the comparison."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from tracking_demo.cli.options import (
    print_result,
    session_from_options,
    tracking_options,
)
from tracking_demo.cli.output import start_tensorflow

# --- data ---------------------------------------------------------------------------------


@click.command("housing")
@click.option("--out", type=click.Path(path_type=Path, file_okay=False), required=True)
@click.option(
    "--from",
    "source",
    type=click.Path(path_type=Path, dir_okay=False),
    help="The public housing.csv to validate and place at OUT/housing.csv instead of generating.",
)
@click.option(
    "--rows",
    type=click.IntRange(min=50),
    default=20_640,
    show_default=True,
    help="Rows of the synthetic file (the public file's size by default).",
)
@click.option("--seed", type=int, default=42, show_default=True)
def data_housing(out: Path, source: Path | None, rows: int, seed: int) -> None:
    """OUT/housing.csv: the public file (--from, validated) or a seeded synthetic one."""
    from tracking_demo.data import housing

    if source is not None:
        path, frame = housing.copy_validated(source, out)
        click.echo(f"validated {source} and placed it at {path} ({len(frame)} rows)")
        return
    path = housing.write(housing.HousingSpec(n_rows=rows, seed=seed), out)
    click.echo(f"wrote {path} ({rows} synthetic rows, seed {seed})")


# --- training -----------------------------------------------------------------------------

housing_data_option = click.option(
    "--data",
    type=click.Path(path_type=Path),
    default=Path("data/housing"),
    show_default=True,
    help="housing.csv, or the folder holding it.",
)
split_options = [
    click.option(
        "--test-fraction",
        type=click.FloatRange(0, 0.9, min_open=True, max_open=True),
        default=0.2,
        show_default=True,
        help="Share of rows held out as the test set.",
    ),
    click.option(
        "--seed", type=int, default=42, show_default=True, help="Seed of the split and the model."
    ),
]


def _with_split(func: Any) -> Any:
    for option in reversed(split_options):
        func = option(func)
    return housing_data_option(func)


@click.command("housing-mlp")
@_with_split
@tracking_options
@click.option("--register-as", help="Register the model under this name.")
@click.option("--batch-size", type=click.IntRange(min=1), default=25, show_default=True)
@click.option("--epochs", type=click.IntRange(min=1), default=10, show_default=True)
@click.option("--first-layer-units", type=click.IntRange(min=1), default=4, show_default=True)
@click.option("--second-layer-units", type=click.IntRange(min=1), default=4, show_default=True)
@click.option(
    "--learning-rate",
    type=click.FloatRange(min=0, min_open=True),
    default=1e-3,
    show_default=True,
    help="Adam's learning rate.",
)
@click.option(
    "--validation-split",
    type=click.FloatRange(0, 0.5, min_open=True, max_open=True),
    default=0.1,
    show_default=True,
    help="Share of the training rows held out for val_mae (the sweep's metric).",
)
@click.option(
    "--sweep-board",
    type=click.Path(path_type=Path, dir_okay=False),
    hidden=True,
    help="(Set by `sweep housing-mlp`.) The sweep's shared record for early termination.",
)
@click.option("--trial", type=click.IntRange(min=0), hidden=True, help="(Set by the sweep.)")
def train_housing_mlp(
    data: Path,
    test_fraction: float,
    seed: int,
    tracking_uri: str | None,
    workspace_config: Path | None,
    experiment: str | None,
    register_as: str | None,
    batch_size: int,
    epochs: int,
    first_layer_units: int,
    second_layer_units: int,
    learning_rate: float,
    validation_split: float,
    sweep_board: Path | None,
    trial: int | None,
) -> None:
    """Keras MLP with two hidden layers on California housing (test MAE and RMSE in dollars)."""
    start_tensorflow()
    from tracking_demo.tasks import housing

    if (sweep_board is None) != (trial is None):
        raise click.UsageError("--sweep-board and --trial go together")
    options = housing.MlpOptions(
        housing.SplitOptions(data, test_fraction, seed),
        batch_size=batch_size,
        epochs=epochs,
        first_layer_units=first_layer_units,
        second_layer_units=second_layer_units,
        learning_rate=learning_rate,
        validation_fraction=validation_split,
        register_as=register_as,
    )
    options.validate()
    callback = None
    if sweep_board is not None and trial is not None:
        from tracking_demo.sweep.bandit import BanditCallback
        from tracking_demo.sweep.board import TrialBoard

        callback = BanditCallback(TrialBoard(sweep_board), trial)
    session = session_from_options(tracking_uri, workspace_config, experiment)
    result = housing.train_mlp(options, session, callback)
    if result.terminated_at is not None:
        click.echo(f"terminated early at epoch {result.terminated_at}: {callback.reason}")  # type: ignore[union-attr]
    print_result(result, session, ",.2f")


@click.command("housing-baseline")
@_with_split
@tracking_options
@click.option("--register-as", help="Register the model under this name.")
@click.option("--max-iter", type=click.IntRange(min=1), default=200, show_default=True)
@click.option(
    "--learning-rate",
    type=click.FloatRange(min=0, min_open=True),
    default=0.1,
    show_default=True,
)
@click.option("--max-leaf-nodes", type=click.IntRange(min=2), default=31, show_default=True)
def train_housing_baseline(
    data: Path,
    test_fraction: float,
    seed: int,
    tracking_uri: str | None,
    workspace_config: Path | None,
    experiment: str | None,
    register_as: str | None,
    max_iter: int,
    learning_rate: float,
    max_leaf_nodes: int,
) -> None:
    """Gradient boosting (HistGradientBoostingRegressor), standing in for the AutoML model."""
    from tracking_demo.tasks import housing

    options = housing.BaselineOptions(
        housing.SplitOptions(data, test_fraction, seed),
        max_iter=max_iter,
        learning_rate=learning_rate,
        max_leaf_nodes=max_leaf_nodes,
        register_as=register_as,
    )
    session = session_from_options(tracking_uri, workspace_config, experiment)
    print_result(housing.train_baseline(options, session), session, ",.2f")


# --- the sweep ----------------------------------------------------------------------------


@click.group()
def sweep() -> None:
    """Hyperparameter sweeps: random sampling, parallel trials, bandit early termination."""


@sweep.command("housing-mlp")
@_with_split
@tracking_options
@click.option(
    "--space",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Sweep file (YAML/JSON): parameters, primary metric, early termination, budget "
    "[default: the tutorial's, tracking_demo/tasks/housing_sweep.yaml].",
)
@click.option("--max-trials", type=click.IntRange(min=1), help="[default: the file's, 8]")
@click.option(
    "--max-concurrent",
    type=click.IntRange(min=1),
    help="Trials running at once, each its own process [default: the file's, 4].",
)
@click.option(
    "--sampling-seed", type=int, default=0, show_default=True, help="Seed of the random sampling."
)
@click.option(
    "--early-termination/--no-early-termination",
    default=True,
    show_default=True,
    help="Apply the file's bandit policy, or run every trial to its last epoch.",
)
@click.option("--register-as", help="Register the best completed trial's model under this name.")
@click.option(
    "--validation-split",
    type=click.FloatRange(0, 0.5, min_open=True, max_open=True),
    help="Passed to every trial [default: the trial command's, 0.1].",
)
def sweep_housing_mlp(
    data: Path,
    test_fraction: float,
    seed: int,
    tracking_uri: str | None,
    workspace_config: Path | None,
    experiment: str | None,
    space: Path | None,
    max_trials: int | None,
    max_concurrent: int | None,
    sampling_seed: int,
    early_termination: bool,
    register_as: str | None,
    validation_split: float | None,
) -> None:
    """Tune the housing MLP: each trial a nested run, the best one reported (and registered)."""
    from tracking_demo.data import housing as housing_data
    from tracking_demo.sweep import runner as housing_sweep
    from tracking_demo.sweep import space as search_space
    from tracking_demo.tasks import housing

    spec = search_space.load(space, housing.TUNABLE).with_overrides(
        max_trials, max_concurrent, early_termination
    )
    housing_data.read(housing_data.resolve_file(data))  # bad data fails once, not in every trial
    session = session_from_options(tracking_uri, workspace_config, experiment)
    fixed = ("--validation-split", str(validation_split)) if validation_split else ()
    options = housing_sweep.SweepOptions(
        housing.SplitOptions(data.absolute(), test_fraction, seed),
        spec,
        seed=sampling_seed,
        register_as=register_as,
        trial_options=fixed,
    )
    click.echo(
        f"sweep: up to {spec.max_trials} trials, {spec.max_concurrent} at a time, early "
        f"termination {search_space.describe_policy(spec.policy)['policy']}, "
        f"{spec.primary_metric.goal} {spec.primary_metric.name}"
    )
    result = housing_sweep.run_sweep(options, session, progress=_print_trial)
    click.echo(result.table.drop(columns=["run_id"]).to_string(index=False))
    best = result.best
    test_mae = best.metrics.get("MAE", float("nan"))
    click.echo(
        f"best: trial {best.index} {best.params} final {spec.primary_metric.name} "
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


def _print_trial(trial: Any) -> None:
    detail = {
        "completed": lambda: f"final val_mae {trial.curve[-1]:,.2f}" if trial.curve else "",
        "terminated": lambda: f"at epoch {trial.terminated_at}",
        "failed": lambda: str(trial.error),
    }[trial.status]()
    click.echo(
        f"trial {trial.index} {trial.status} ({trial.wall_time_s:.1f}s) {trial.params} {detail}"
    )


# --- comparing models ---------------------------------------------------------------------


@click.command()
@click.argument("refs", nargs=-1, required=True, metavar="RUN_OR_MODEL...")
@click.option(
    "--metric",
    type=click.Choice(["mae", "rmse", "accuracy"]),
    help="Which metric names the better model [default: mae for regression, else accuracy].",
)
@click.option(
    "--data",
    type=click.Path(path_type=Path),
    help="Test data [default: the file the models' runs were trained on].",
)
@click.option(
    "--test-fraction",
    type=click.FloatRange(0, 0.9, min_open=True, max_open=True),
    help="[default: the split the runs recorded]",
)
@click.option("--seed", type=int, help="Split seed [default: the runs' split seed].")
@click.option(
    "--model-kind",
    type=click.Choice(["housing", "moons", "mnist"]),
    help="[default: from the runs' task tags]",
)
@tracking_options
def compare(
    refs: tuple[str, ...],
    metric: str | None,
    data: Path | None,
    test_fraction: float | None,
    seed: int | None,
    model_kind: str | None,
    tracking_uri: str | None,
    workspace_config: Path | None,
    experiment: str | None,
) -> None:
    """Score runs' or registered models on the same held-out rows; name the better one.

    RUN_OR_MODEL is a run id, runs:/RUN/model, NAME:VERSION, NAME@ALIAS or models:/ URI.
    """
    start_tensorflow()  # the MLP models load Keras
    from tracking_demo.tasks.compare import compare as compare_models

    session = session_from_options(tracking_uri, workspace_config, experiment)
    result = compare_models(refs, session, data, metric, test_fraction, seed, model_kind)
    click.echo(f"{result.n_test} test rows from {result.source}")
    click.echo(result.table.drop(columns=["run_id"]).to_string(index=False))
    click.echo(f"better by {result.metric}: {result.better}")
    click.echo(f"Comparison run: {session.run_url(result.run_id)}")

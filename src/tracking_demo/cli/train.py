"""`tracking-demo train TASK`: each command builds its task's options and runs the task."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeVar

import click

from tracking_demo.cli.options import TrackingOptions, session_from_options, tracking_options
from tracking_demo.cli.output import start_tensorflow
from tracking_demo.cli.results import print_moons_summary, print_result
from tracking_demo.cli.task_options import (
    field_option,
    options_object,
    register_as_option,
    split_options,
)
from tracking_demo.tasks.options import (
    BaselineOptions,
    LogregOptions,
    MlpOptions,
    MoonsOptions,
    NetworkOptions,
    SplitOptions,
)

FC = TypeVar("FC", bound=Callable[..., Any])


@click.group()
def train() -> None:
    """Train a task inside one MLflow run (FAILED with the error recorded if it fails)."""


# --- two moons ------------------------------------------------------------------------------


@train.command("moons")
@field_option(
    MoonsOptions,
    "data_dir",
    "--data",
    "data_dir",
    type=click.Path(path_type=Path),
    required=True,
    help="Folder with train.csv and test.csv.",
)
@tracking_options
@register_as_option(MoonsOptions)
@click.option(
    "--grid",
    "grid_items",
    multiple=True,
    metavar="NAME=V1,V2",
    help="Replace one grid dimension, e.g. --grid max_depth=3,None (repeatable).",
)
@field_option(
    MoonsOptions, "cv_folds", "--cv", "cv_folds", type=click.IntRange(min=2), show_default=True
)
@field_option(MoonsOptions, "seed", "--seed", type=int, show_default=True)
@options_object(MoonsOptions)
def train_moons(
    options: MoonsOptions, tracking: TrackingOptions, grid_items: tuple[str, ...]
) -> None:
    """RandomForest grid search on two moons, with the decision boundary and the model."""
    from tracking_demo.tasks import moons

    options = replace(options, grid=moons.parse_grid_overrides(grid_items))
    session = session_from_options(tracking)
    result = moons.train(options, session)
    print_moons_summary(result, options.grid, session)


# --- MNIST ----------------------------------------------------------------------------------


def mnist_data_option(owner: type) -> Callable[[FC], FC]:
    return field_option(
        owner,
        "data_dir",
        "--data",
        "data_dir",
        type=click.Path(path_type=Path),
        required=True,
        help="Folder holding the four MNIST IDX .gz files (any subfolder; standard or short "
        "names).",
    )


@train.command("mnist-logreg")
@mnist_data_option(LogregOptions)
@tracking_options
@register_as_option(LogregOptions)
@field_option(
    LogregOptions, "max_iter", "--max-iter", type=click.IntRange(min=1), show_default=True
)
@field_option(
    LogregOptions,
    "c",
    "--c",
    "c",
    type=click.FloatRange(min=0, min_open=True),
    show_default=True,
    help="Inverse regularisation strength.",
)
@field_option(LogregOptions, "seed", "--seed", type=int, show_default=True)
@options_object(LogregOptions)
def train_mnist_logreg(options: LogregOptions, tracking: TrackingOptions) -> None:
    """Logistic regression on scaled MNIST pixels (the first tutorial: about 92%)."""
    from tracking_demo.tasks import mnist

    session = session_from_options(tracking)
    result = mnist.train_logreg(options, session)
    print_result(result, session)


@train.command("mnist-cnn")
@mnist_data_option(NetworkOptions)
@tracking_options
@register_as_option(NetworkOptions)
@field_option(
    NetworkOptions,
    "architecture",
    "--arch",
    type=click.Choice(["cnn", "lenet"]),
    show_default=True,
    help="The deep CNN of the AmlCompute tutorial, or LeNet-5.",
)
@field_option(
    NetworkOptions,
    "batch_size",
    "--batch-size",
    type=click.IntRange(min=1),
    help="[default: 128 for cnn, 10 for lenet, as in their tutorials]",
)
@field_option(
    NetworkOptions,
    "epochs",
    "--epochs",
    type=click.IntRange(min=1),
    help="[default: 12 for cnn, 10 for lenet]",
)
@field_option(
    NetworkOptions,
    "learning_rate",
    "--learning-rate",
    type=click.FloatRange(min=0, min_open=True),
    show_default=True,
)
@field_option(
    NetworkOptions,
    "patience",
    "--patience",
    type=click.IntRange(min=1),
    show_default=True,
    help="Epochs without a better val_accuracy before stopping (best weights restored).",
)
@field_option(
    NetworkOptions,
    "validation_fraction",
    "--validation-split",
    type=click.FloatRange(0, 0.5, min_open=True, max_open=True),
    show_default=True,
    help="Share of the training files held out (stratified) for validation and early stopping.",
)
@field_option(NetworkOptions, "seed", "--seed", type=int, show_default=True)
@field_option(
    NetworkOptions,
    "tensorboard",
    "--tensorboard/--no-tensorboard",
    show_default=True,
    help="Write TensorBoard logs and log them as artifacts under tensorboard/.",
)
@options_object(NetworkOptions)
def train_mnist_cnn(options: NetworkOptions, tracking: TrackingOptions) -> None:
    """A Keras CNN (or LeNet) with per-epoch metrics, early stopping and TensorBoard logs."""
    start_tensorflow()
    from tracking_demo.tasks import mnist

    session = session_from_options(tracking)
    result = mnist.train_network(options, session)
    print_result(result, session)


# --- California housing ---------------------------------------------------------------------


@train.command("housing-mlp")
@split_options
@tracking_options
@register_as_option(MlpOptions)
@field_option(
    MlpOptions, "batch_size", "--batch-size", type=click.IntRange(min=1), show_default=True
)
@field_option(MlpOptions, "epochs", "--epochs", type=click.IntRange(min=1), show_default=True)
@field_option(
    MlpOptions,
    "first_layer_units",
    "--first-layer-units",
    type=click.IntRange(min=1),
    show_default=True,
)
@field_option(
    MlpOptions,
    "second_layer_units",
    "--second-layer-units",
    type=click.IntRange(min=1),
    show_default=True,
)
@field_option(
    MlpOptions,
    "learning_rate",
    "--learning-rate",
    type=click.FloatRange(min=0, min_open=True),
    show_default=True,
    help="Adam's learning rate.",
)
@field_option(
    MlpOptions,
    "validation_fraction",
    "--validation-split",
    type=click.FloatRange(0, 0.5, min_open=True, max_open=True),
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
@options_object(MlpOptions, split=SplitOptions)
def train_housing_mlp(
    options: MlpOptions, tracking: TrackingOptions, sweep_board: Path | None, trial: int | None
) -> None:
    """Keras MLP with two hidden layers on California housing (test MAE and RMSE in dollars)."""
    start_tensorflow()
    from tracking_demo.tasks import housing

    if (sweep_board is None) != (trial is None):
        raise click.UsageError("--sweep-board and --trial go together")
    options.validate()
    callback = None
    if sweep_board is not None and trial is not None:
        from tracking_demo.sweep.bandit import BanditCallback
        from tracking_demo.sweep.board import TrialBoard

        callback = BanditCallback(TrialBoard(sweep_board), trial)
    session = session_from_options(tracking)
    result = housing.train_mlp(options, session, callback)
    if result.terminated_at is not None and callback is not None:
        click.echo(f"terminated early at epoch {result.terminated_at}: {callback.reason}")
    print_result(result, session, ",.2f")


@train.command("housing-baseline")
@split_options
@tracking_options
@register_as_option(BaselineOptions)
@field_option(
    BaselineOptions, "max_iter", "--max-iter", type=click.IntRange(min=1), show_default=True
)
@field_option(
    BaselineOptions,
    "learning_rate",
    "--learning-rate",
    type=click.FloatRange(min=0, min_open=True),
    show_default=True,
)
@field_option(
    BaselineOptions,
    "max_leaf_nodes",
    "--max-leaf-nodes",
    type=click.IntRange(min=2),
    show_default=True,
)
@options_object(BaselineOptions, split=SplitOptions)
def train_housing_baseline(options: BaselineOptions, tracking: TrackingOptions) -> None:
    """Gradient boosting (HistGradientBoostingRegressor), standing in for the AutoML model."""
    from tracking_demo.tasks import housing

    session = session_from_options(tracking)
    print_result(housing.train_baseline(options, session), session, ",.2f")

"""`tracking-demo compare`: score runs' or registered models on the same held-out rows."""

from __future__ import annotations

from pathlib import Path

import click

from tracking_demo.cli.options import TrackingOptions, session_from_options, tracking_options
from tracking_demo.cli.output import start_tensorflow


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
    tracking: TrackingOptions,
) -> None:
    """Score runs' or registered models on the same held-out rows; name the better one.

    RUN_OR_MODEL is a run id, runs:/RUN/model, NAME:VERSION, NAME@ALIAS or models:/ URI.
    """
    start_tensorflow()  # the MLP models load Keras
    from tracking_demo.tasks.compare import compare as compare_models

    session = session_from_options(tracking)
    result = compare_models(refs, session, data, metric, test_fraction, seed, model_kind)
    click.echo(f"{result.n_test} test rows from {result.source}")
    click.echo(result.table.drop(columns=["run_id"]).to_string(index=False))
    click.echo(f"better by {result.metric}: {result.better}")
    click.echo(f"Comparison run: {session.run_url(result.run_id)}")

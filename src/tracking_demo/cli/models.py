"""`tracking-demo models list|best|promote|download`: the model registry."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import click

from tracking_demo.cli.options import TrackingOptions, session_from_options, tracking_options

PROMOTION_EXPERIMENT = "model-promotion"


@click.group()
def models() -> None:
    """The model registry: list, rank, promote and download versions."""


@models.command("download")
@click.argument("ref")
@click.option("--out", type=click.Path(path_type=Path, file_okay=False), required=True)
@tracking_options
def models_download(ref: str, out: Path, tracking: TrackingOptions) -> None:
    """Download REF (NAME:VERSION, NAME@ALIAS or models:/...) as an MLflow model folder."""
    from tracking_demo import registry

    session_from_options(tracking)
    path = registry.download(ref, out)
    click.echo(f"downloaded {ref} to {path} (load it with mlflow.pyfunc.load_model)")


@models.command("best")
@click.argument("name")
@click.option(
    "--metric",
    required=True,
    help="Tag or run metric to rank by, e.g. test_accuracy or test_mae (--mode min).",
)
@click.option("--mode", type=click.Choice(["max", "min"]), default="max", show_default=True)
@click.option(
    "--download",
    "download_to",
    type=click.Path(path_type=Path, file_okay=False),
    help="Also download the best version to this folder.",
)
@tracking_options
def models_best(
    name: str, metric: str, mode: str, download_to: Path | None, tracking: TrackingOptions
) -> None:
    """Rank the versions of NAME by a metric and print the best (ties: newest version).

    The version's own tag is used when present (registration tags the deciding metrics), else
    the latest value of the metric on the version's run.
    """
    from tracking_demo import registry

    session = session_from_options(tracking)
    ranking = registry.rank_versions(session.client, name, metric, mode)  # type: ignore[arg-type]
    click.echo(f"{'version':>7}  {metric:>14}  source")
    for scored in ranking.scored:
        click.echo(f"{scored.version.version:>7}  {scored.value:>14.6f}  {scored.source}")
    if ranking.unscored:
        click.echo(f"without {metric}: versions {', '.join(ranking.unscored)}")
    best = ranking.best
    click.echo(f"best: {name}:{best.version.version} ({metric} {best.value:.6f}, {mode})")
    if download_to is not None:
        ref = f"{name}:{best.version.version}"
        path = registry.download(ref, download_to)
        click.echo(f"downloaded {ref} to {path}")


@models.command("list")
@click.argument("name")
@tracking_options
def models_list(name: str, tracking: TrackingOptions) -> None:
    """Show the versions of NAME with their aliases and tags, newest first, then the champion.

    Where the registry has no aliases (Azure ML), the champion is the version tagged
    champion=true; it shows in the aliases column either way.
    """
    from tracking_demo import registry

    session = session_from_options(tracking)
    client = session.client
    versions = registry.list_versions(client, name)
    champion = registry.champion(client, name)
    held_by = registry.held_by(client)
    click.echo(f"{'version':>7}  {'status':<8} {'aliases':<14} {'run_id':<32}  tags")
    for version in versions:
        names = set(registry.aliases_of(version, [registry.CHAMPION]))
        if champion is not None and champion.version == version.version:
            names.add(registry.CHAMPION)  # a search may leave a version's aliases out
        listed = ",".join(sorted(names)) or "-"
        tags = " ".join(f"{k}={v}" for k, v in sorted(version.tags.items())) or "-"
        click.echo(
            f"{version.version:>7}  {version.status:<8} {listed:<14} {version.run_id or '-':<32}  "
            f"{tags}"
        )
    if champion is None:
        click.echo(f"champion: none yet ({held_by}; set by `tracking-demo models promote`)")
    else:
        click.echo(f"champion: {name}:{champion.version} ({held_by})")


@models.command("promote")
@click.argument("name")
@click.option(
    "--metric",
    required=True,
    help="accuracy, mae or rmse (or test_accuracy, test_mae, test_rmse), measured again on "
    "held-out data.",
)
@click.option(
    "--mode",
    type=click.Choice(["max", "min"]),
    help="Whether higher is better [default: max for accuracy, min for errors].",
)
@click.option(
    "--min-delta",
    type=click.FloatRange(min=0),
    default=0.0,
    show_default=True,
    help="Promote only when the candidate is better by at least this much.",
)
@click.option("--candidate", help="Version to consider [default: the newest].")
@click.option(
    "--model-kind",
    type=click.Choice(["mnist", "moons", "housing"]),
    help="[default: from tags]",
)
@click.option("--data", "data_dir", type=click.Path(path_type=Path), help="Held-out data folder.")
@tracking_options
def promote(
    name: str,
    metric: str,
    mode: str | None,
    min_delta: float,
    candidate: str | None,
    model_kind: str | None,
    data_dir: Path | None,
    tracking: TrackingOptions,
) -> None:
    """Move NAME@champion to the newest version if it scores better on the same held-out data.

    The champion is the registry alias, or the version tag champion=true where the server has
    no aliases (Azure ML); the output says which. Both versions are scored by the serving code;
    the comparison is logged as a run (experiment 'model-promotion' unless --experiment).
    "Not better" is an answer: exit 0.
    """
    from tracking_demo.tasks.promotion import PromotionOptions
    from tracking_demo.tasks.promotion import promote as run_promotion

    experiment = tracking.experiment or PROMOTION_EXPERIMENT
    session = session_from_options(replace(tracking, experiment=experiment))
    options = PromotionOptions(
        name,
        metric,
        mode,  # type: ignore[arg-type]
        min_delta,
        data_dir,
        model_kind,
        candidate,
    )
    result = run_promotion(options, session)
    if result.candidate_value is not None:
        champion = (
            f"champion {name}:{result.champion} {result.champion_value:.6f}"
            if result.champion_value is not None
            else "no champion yet"
        )
        click.echo(
            f"{result.metric}: candidate {name}:{result.candidate} "
            f"{result.candidate_value:.6f}, {champion}"
        )
    if result.promoted:
        click.echo(f"promoted: {name}@champion -> version {result.candidate} ({result.reason})")
    else:
        click.echo(f"kept: {result.reason}")
    click.echo(f"champion held by: {result.held_by}")
    if result.run_id:
        click.echo(f"comparison run: {session.run_url(result.run_id)}")

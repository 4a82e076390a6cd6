"""The options the deploy subcommands share: which model version, tags, the environment."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from tracking_demo.errors import ConfigError

F = Callable[..., Any]


def model_options(func: F) -> F:
    """MODEL as NAME:VERSION, NAME@ALIAS, or NAME with --best-by METRIC [--mode]."""
    for option in (
        click.option(
            "--mode",
            type=click.Choice(["max", "min"]),
            help="With --best-by: whether larger or smaller METRIC is better [default: max].",
        ),
        click.option(
            "--best-by",
            metavar="METRIC",
            help="With a bare NAME: the version with the best METRIC (version tag or run metric).",
        ),
        click.argument("model", required=False),
    ):
        func = option(func)
    return func


def service_options(func: F) -> F:
    """Tags, description and the environment of what Azure serves."""
    for option in (
        click.option(
            "--image", help="REGISTRY/NAME:TAG of the custom image (--environment image)."
        ),
        click.option(
            "--environment",
            type=click.Choice(["curated", "image"]),
            default="curated",
            show_default=True,
            help="curated: the scoring container's lock (serving/requirements.lock: what models "
            "load plus Azure ML's inference server), built by Azure ML; image: the custom image "
            "(--image), which must contain azureml-inference-server-http.",
        ),
        click.option("--description", help="Description."),
        click.option("--tag", "tags", multiple=True, metavar="KEY=VALUE", help="Tag (repeatable)."),
    ):
        func = option(func)
    return func


def require_model(model: str | None) -> str:
    if not model:
        raise ConfigError("give MODEL (NAME:VERSION, NAME@ALIAS, or NAME with --best-by METRIC)")
    return model


def parse_tags(pairs: tuple[str, ...]) -> dict[str, str]:
    tags: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--tag '{pair}' is not KEY=VALUE")
        tags[key.strip()] = value
    return tags

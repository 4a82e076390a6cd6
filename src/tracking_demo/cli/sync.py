"""`tracking-demo sync`: finish runs whose process ended before the server had everything."""

from __future__ import annotations

import os
from pathlib import Path

import click

from tracking_demo.errors import TrackingDemoError

EXIT_SYNCED_WITH_GAPS = 3  # everything intact was delivered, but the log had damage (1: error)


@click.command()
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

    A damaged or torn record costs only itself: every intact record is delivered, each gap is
    printed on one line and tagged on the run (tracking_demo.sync.skipped), the log folder is
    kept, and the exit code is 3. Exit code 1 means a run could not be synced.
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
    failed = with_gaps = 0
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
        for rejection in report.rejections:
            click.echo(f"  refused by the server: {rejection.describe()}", err=True)
        for gap in report.gaps:
            click.echo(f"  skipped: {gap.message}", err=True)
        if report.gaps:
            with_gaps += 1
            click.echo(f"  log kept for inspection: {report.path}", err=True)
    if failed:
        raise SystemExit(1)
    if with_gaps:
        raise SystemExit(EXIT_SYNCED_WITH_GAPS)

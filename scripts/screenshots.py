"""The documentation site's pictures: MLflow UI pages by headless Chromium, and task figures.

Starts a real `tracking-demo server` on a free loopback port with its own temporary data,
trains what the pictures need through the command line a user types (the quickstart's moons
run and registered model; a LeNet on the offline MNIST sample; a small housing sweep in which
the bandit policy stops a trial), then writes every file of `MANIFEST` into `--out`
(default: the repository's docs/images): UI pages under ui/, and the PNGs the runs logged,
downloaded as they are, under figures/. PNGs there that the manifest does not name are
removed, so the folder is what this script makes.

    python scripts/screenshots.py                      # refresh docs/images
    python scripts/screenshots.py --out screens/before # before/after pictures of a change
    python scripts/screenshots.py --site-only          # only the site's own pages, from docs/

Last, it builds this documentation site and pictures two of its pages under site/ (the home
page and a task page), so a reviewer sees the site without building it.

Needs Chromium (Debian: `apt-get install chromium`); `--chromium` names another binary.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tracking_demo.tracking import tags

REPOSITORY = Path(__file__).resolve().parents[1]
DEFAULT_OUT = REPOSITORY / "docs" / "images"
UI_DIR = "ui"
FIGURES_DIR = "figures"
SITE_DIR = "site"
# Variables that would send the runs to the user's own server, workspace or run.
MACHINE_PREFIXES = ("MLFLOW_", "AZUREML_", "AZURE_", "TRACKING_DEMO_")
MOONS_MODEL = "moons-rf"
SWEEP_MODEL = "housing-sweep-best"
SWEEP_EXPERIMENT = "housing-sweep"
MNIST_EXPERIMENT = "mnist"
HOUSING_ROWS = 3000
# The package's quick sweep, changed so the pictures have curves: 5 or 6 epochs, and the policy
# first judges at the third epoch, so the lr 1e-5 trials it stops have three epochs to show.
SWEEP_EPOCHS = [5, 6]
SWEEP_DELAY_EVALUATION = 2
# Chromium reaches the server under this name (mapped to 127.0.0.1): MLflow's UI opens its
# Assistant panel, a quarter of the window, on a localhost or 127.0.0.1 page's first visit and
# a headless browser cannot close it; under another name the UI does not offer it. The server
# is told to accept the name (Host header) and its origin (the UI's POST requests).
BROWSER_HOST = "tracking-demo.test"
WINDOW = (1440, 900)
CHROMIUM_TIMEOUT_S = 120
# The UI's "Model training" sidebar (runs, models, registry) rather than the GenAI one.
MODEL_TRAINING = "workflowType=machine_learning"
# The runs table nests child runs (collapsed) only when sorted by start time; another order
# lists every run flat. A shared view cannot expand a parent (MLflow drops `runsExpanded`).
SORTED_BY_NAME = "orderByKey=tags.%60mlflow.runName%60&orderByAsc=true"
# Milliseconds of page time Chromium grants the single-page app to fetch and draw before the
# picture is taken: MLflow's UI loads its data after the first paint and its metric charts last.
# Virtual time: a page still takes seconds. Without --run-all-compositor-stages-before-draw the
# charts were still spinning in about half the pictures, whatever the budget (15 s to 120 s).
VIRTUAL_TIME_BUDGET_MS = 40000


@dataclass(frozen=True)
class Runs:
    """What the pictures show, found on the server after training."""

    moons_experiment: str
    moons_run: str
    moons_version: str
    mnist_experiment: str
    mnist_run: str
    sweep_experiment: str
    sweep_run: str
    stopped_trial: str
    finished_trial: str


@dataclass(frozen=True)
class Page:
    """A UI screenshot: its file under ui/, what it shows, its route in the hash-routed UI."""

    name: str
    shows: str
    route: Callable[[Runs], str]
    window: tuple[int, int] = WINDOW

    @property
    def file(self) -> str:
        return f"{UI_DIR}/{self.name}.png"


@dataclass(frozen=True)
class Figure:
    """A PNG a run logged, copied as it is: its file under figures/, what it shows, the run
    that logged it and the artifact's path in that run."""

    name: str
    shows: str
    run: Callable[[Runs], str]
    artifact: str

    @property
    def file(self) -> str:
        return f"{FIGURES_DIR}/{self.name}.png"


@dataclass(frozen=True)
class SitePage:
    """A page of this documentation site as built: its file under site/, what it shows, its
    path in the built site. Taken last, so it shows the pictures just made."""

    name: str
    shows: str
    path: str
    window: tuple[int, int] = (WINDOW[0], 1800)

    @property
    def file(self) -> str:
        return f"{SITE_DIR}/{self.name}.png"


def _run_page(experiment: str, run: str, tab: str = "") -> str:
    return f"/experiments/{experiment}/runs/{run}{tab}?{MODEL_TRAINING}"


PAGES: tuple[Page, ...] = (
    Page(
        "moons_run",
        "the quickstart's moons run: metrics, parameters, dataset, registered model",
        lambda r: _run_page(r.moons_experiment, r.moons_run),
    ),
    Page(
        "moons_run_metrics",
        "the moons run's model metrics tab",
        lambda r: _run_page(r.moons_experiment, r.moons_run, "/model-metrics"),
    ),
    Page(
        "moons_model_version",
        "the registered model moons-rf, version 1",
        lambda r: f"/models/{MOONS_MODEL}/versions/{r.moons_version}?{MODEL_TRAINING}",
    ),
    Page(
        "mnist_run_metrics",
        "the MNIST LeNet run's model metrics tab: a chart per metric, per epoch or final",
        lambda r: _run_page(r.mnist_experiment, r.mnist_run, "/model-metrics"),
        window=(WINDOW[0], 1720),  # all 11 charts, val_accuracy and val_loss last
    ),
    Page(
        "sweep_runs",
        "the sweep experiment's runs table: the parent, its trials nested (collapsed)",
        lambda r: f"/experiments/{r.sweep_experiment}/runs?{MODEL_TRAINING}",
    ),
    Page(
        "sweep_runs_flat",
        "the same table sorted by run name, which lists the trials flat with their status",
        lambda r: f"/experiments/{r.sweep_experiment}/runs?{MODEL_TRAINING}&{SORTED_BY_NAME}",
    ),
    Page(
        "sweep_run",
        "the sweep parent run's overview",
        lambda r: _run_page(r.sweep_experiment, r.sweep_run),
    ),
    Page(
        "sweep_stopped_trial",
        "a trial the bandit policy stopped: its overview (KILLED, terminated at an epoch)",
        lambda r: _run_page(r.sweep_experiment, r.stopped_trial),
    ),
)

FIGURES: tuple[Figure, ...] = (
    Figure(
        "moons_decision_boundary",
        "the moons forest's decision boundary with the train and test points",
        lambda r: r.moons_run,
        "decision_boundary.png",
    ),
    Figure(
        "mnist_training_curves",
        "the LeNet's loss and accuracy per epoch, training and validation, best epoch marked",
        lambda r: r.mnist_run,
        "training_curves.png",
    ),
    Figure(
        "mnist_confusion_matrix",
        "the LeNet's confusion matrix on the test digits",
        lambda r: r.mnist_run,
        "confusion_matrix.png",
    ),
    Figure(
        "housing_training_curves",
        "a completed sweep trial's loss and MAE per epoch, training and validation",
        lambda r: r.finished_trial,
        "training_curves.png",
    ),
    Figure(
        "housing_predicted_vs_actual",
        "a completed sweep trial's predicted against actual house values",
        lambda r: r.finished_trial,
        "predicted_vs_actual.png",
    ),
    Figure(
        "sweep_trials",
        "every trial's primary metric by epoch, the policy's cut-offs and where it stopped trials",
        lambda r: r.sweep_run,
        "trials.png",
    ),
    Figure(
        "sweep_stopped_trial_curves",
        "a stopped trial's curves, ending where the policy stopped it (marked)",
        lambda r: r.stopped_trial,
        "training_curves.png",
    ),
)

SITE_PAGES: tuple[SitePage, ...] = (
    SitePage(
        "home", "the site's home page: the front page, its picture and what you get", "index.html"
    ),
    SitePage(
        "task_page_sweep",
        "a task page: the housing sweep, its commands and sections",
        "tasks/sweep/index.html",
        window=(WINDOW[0], 2600),
    ),
)

# Every file the script writes, relative to --out, with what it shows.
MANIFEST: tuple[Page | Figure | SitePage, ...] = (*PAGES, *FIGURES, *SITE_PAGES)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--out",
        type=Path,
        default=DEFAULT_OUT,
        help="Folder for ui/ and figures/ [default: the repository's docs/images].",
    )
    parser.add_argument(
        "--chromium",
        default=shutil.which("chromium") or shutil.which("chromium-browser") or "chromium",
        help="Chromium binary [default: chromium on PATH].",
    )
    parser.add_argument(
        "--azure-surface",
        action="store_true",
        help="Run the server as Azure ML's surface (no logged-models API).",
    )
    parser.add_argument(
        "--keep", action="store_true", help="Keep the temporary server data and print where."
    )
    parser.add_argument(
        "--site-only",
        action="store_true",
        help="Only build the documentation site and picture its pages (no server, no runs).",
    )
    return parser.parse_args(argv)


def browser_uri(port: int) -> str:
    return f"http://{BROWSER_HOST}:{port}"


def page_url(uri: str, page: Page, runs: Runs) -> str:
    return f"{uri}/#{page.route(runs)}"


def server_environment(port: int) -> dict[str, str]:
    """What the server needs to accept Chromium's name for it (Host header and origin)."""
    return {
        "MLFLOW_SERVER_ALLOWED_HOSTS": f"{BROWSER_HOST}:{port},127.0.0.1:{port},localhost:{port}",
        "MLFLOW_SERVER_CORS_ALLOWED_ORIGINS": browser_uri(port),
    }


def child_environment(environ: Mapping[str, str], runs_dir: Path) -> dict[str, str]:
    """Ours, minus what points at the user's servers; write-ahead logs kept in `runs_dir`."""
    env = {k: v for k, v in environ.items() if not k.startswith(MACHINE_PREFIXES)}
    env["TRACKING_DEMO_RUNS_DIR"] = str(runs_dir)
    env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost"
    return env


def chromium_command(
    chromium: str, profile: Path, png: Path, url: str, window: tuple[int, int] = WINDOW
) -> list[str]:
    width, height = window
    return [
        chromium,
        *("--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"),
        *("--disable-background-networking", "--disable-component-update", "--disable-sync"),
        *("--hide-scrollbars", "--run-all-compositor-stages-before-draw"),
        f"--host-resolver-rules=MAP {BROWSER_HOST} 127.0.0.1",
        f"--user-data-dir={profile}",
        f"--window-size={width},{height}",
        f"--virtual-time-budget={VIRTUAL_TIME_BUDGET_MS}",
        f"--screenshot={png}",
        url,
    ]


def _tracking_demo(*args: str, env: Mapping[str, str], cwd: Path) -> None:
    command = [sys.executable, "-m", "tracking_demo", *args]
    print("$ tracking-demo " + " ".join(args), flush=True)
    subprocess.run(command, env=dict(env), cwd=cwd, check=True)


def train(uri: str, server_dir: Path, root: Path, env: Mapping[str, str]) -> None:
    """The runs the pictures show, made as a user makes them."""
    from tracking_demo.sweep import space as search_space

    _tracking_demo(
        "quickstart",
        *("--data-dir", str(server_dir), "--port", uri.rsplit(":", 1)[1]),
        env=env,
        cwd=root,
    )
    mnist = root / "mnist"
    _tracking_demo("data", "mnist", "--out", str(mnist), "--offline-sample", env=env, cwd=root)
    _tracking_demo(  # LeNet's own defaults: 10 short epochs on the sample, about 25 s
        *("train", "mnist-cnn", "--arch", "lenet", "--data", str(mnist)),
        *("--tracking-uri", uri, "--experiment", MNIST_EXPERIMENT),
        env=env,
        cwd=root,
    )
    space = root / "space.yaml"
    space.write_text(
        sweep_space_text(search_space.packaged_space_text(search_space.QUICK_SPACE_RESOURCE))
    )
    housing = root / "housing"
    _tracking_demo(
        "data", "housing", "--out", str(housing), "--rows", str(HOUSING_ROWS), env=env, cwd=root
    )
    _tracking_demo(
        *("sweep", "housing-mlp", "--data", str(housing), "--space", str(space)),
        *("--sampling-seed", str(_seed_starting_with_a_good_trial(space))),
        *("--tracking-uri", uri, "--experiment", SWEEP_EXPERIMENT),
        *("--register-as", SWEEP_MODEL),
        env=env,
        cwd=root,
    )


def sweep_space_text(quick: str) -> str:
    """The quick sweep's space with `SWEEP_EPOCHS` and `SWEEP_DELAY_EVALUATION`."""
    import yaml

    space = yaml.safe_load(quick)
    space["parameters"]["epochs"] = {"choice": SWEEP_EPOCHS}
    space["early_termination"]["delay_evaluation"] = SWEEP_DELAY_EVALUATION
    return str(yaml.safe_dump(space, sort_keys=False))


def _seed_starting_with_a_good_trial(space: Path) -> int:
    """A sampling seed whose first trial learns (lr 0.01), so a later slow one is stopped."""
    from tracking_demo.sweep import space as search_space
    from tracking_demo.tasks import housing

    spec = search_space.load(space, housing.TUNABLE)
    for seed in range(100):
        if search_space.sample(spec.parameters, spec.max_trials, seed)[0]["learning_rate"] == 0.01:
            return seed
    raise SystemExit("error: no sampling seed puts a lr 0.01 trial first")


def find_runs(client: Any) -> Runs:
    """The runs, trials and version just trained, looked up on the server: of the sweep, the
    best trial and the stopped trial that trained longest."""
    versions = client.search_model_versions(f"name = '{MOONS_MODEL}'")
    moons_version = max(versions, key=lambda v: int(v.version))
    moons_run = client.get_run(moons_version.run_id)
    mnist = _experiment(client, MNIST_EXPERIMENT)
    mnist_runs = client.search_runs([mnist], max_results=1)
    if not mnist_runs:
        raise SystemExit(f"error: the MNIST training left no run in '{MNIST_EXPERIMENT}'")
    sweep = _experiment(client, SWEEP_EXPERIMENT)
    runs = client.search_runs([sweep], max_results=100)
    parents = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    trials = [r for r in runs if "mlflow.parentRunId" in r.data.tags]
    stopped = sorted((r for r in trials if _was_stopped(r)), key=_epochs_before_stop)
    finished = [r for r in trials if not _was_stopped(r) and r.info.status == "FINISHED"]
    if len(parents) != 1 or not stopped or not finished:
        raise SystemExit(
            f"error: expected one sweep run with a stopped and a finished trial, found "
            f"{len(parents)} parent(s), {len(stopped)} stopped, {len(finished)} finished trial(s)"
        )
    best = parents[0].data.tags.get(tags.BEST_TRIAL_RUN_ID)
    finished_trial = best if best in {r.info.run_id for r in finished} else finished[0].info.run_id
    return Runs(
        moons_experiment=moons_run.info.experiment_id,
        moons_run=moons_run.info.run_id,
        moons_version=moons_version.version,
        mnist_experiment=mnist,
        mnist_run=mnist_runs[0].info.run_id,
        sweep_experiment=sweep,
        sweep_run=parents[0].info.run_id,
        stopped_trial=stopped[-1].info.run_id,  # the longest curve
        finished_trial=finished_trial,
    )


def _experiment(client: Any, name: str) -> str:
    experiment = client.get_experiment_by_name(name)
    if experiment is None:
        raise SystemExit(f"error: the training left no experiment '{name}'")
    return str(experiment.experiment_id)


def _was_stopped(run: Any) -> bool:
    """Stopped by the policy: tagged so, and (since issue 24) also ended KILLED."""
    return run.data.tags.get(tags.TRIAL_STATUS) == "terminated"


def _epochs_before_stop(run: Any) -> int:
    return int(run.data.tags.get(tags.TERMINATED_AT_EPOCH, 0))


def remove_unlisted(out: Path) -> list[Path]:
    """PNGs under ui/, figures/ and site/ that the manifest does not name (an older script's)."""
    listed = {out / entry.file for entry in MANIFEST}
    stale = [
        png
        for folder in (UI_DIR, FIGURES_DIR, SITE_DIR)
        for png in sorted((out / folder).glob("*.png"))
        if png not in listed
    ]
    for png in stale:
        png.unlink()
    return stale


def screenshot(
    chromium: str, profile: Path, png: Path, url: str, window: tuple[int, int], shows: str
) -> Path:
    """One page as headless Chromium draws it into `png`."""
    print(f"{png}: {shows}\n    {url}", flush=True)
    png.unlink(missing_ok=True)
    subprocess.run(
        chromium_command(chromium, profile, png, url, window),
        check=True,
        timeout=CHROMIUM_TIMEOUT_S,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    if not png.is_file():
        raise SystemExit(f"error: {chromium} wrote no screenshot for {url}")
    return png


def capture(chromium: str, uri: str, runs: Runs, out: Path, profile: Path) -> list[Path]:
    return [
        screenshot(
            chromium, profile, out / page.file, page_url(uri, page, runs), page.window, page.shows
        )
        for page in PAGES
    ]


def capture_site(chromium: str, out: Path, scratch: Path) -> list[Path]:
    """The site built as the test command builds it (strictly), pictured page by page."""
    site = scratch / "site"
    subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--quiet", "--site-dir", str(site)],
        cwd=REPOSITORY,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
        check=True,
    )
    (out / SITE_DIR).mkdir(parents=True, exist_ok=True)
    profile = scratch / "chromium-profile"
    return [
        screenshot(
            chromium, profile, out / page.file, (site / page.path).as_uri(), page.window, page.shows
        )
        for page in SITE_PAGES
    ]


def download_figures(client: Any, runs: Runs, out: Path, scratch: Path) -> list[Path]:
    """The PNGs as the runs logged them, each into its own scratch folder, then copied."""
    saved = []
    for index, figure in enumerate(FIGURES):
        run_id = figure.run(runs)
        target = scratch / str(index)
        target.mkdir(parents=True)
        local = Path(client.download_artifacts(run_id, figure.artifact, str(target)))
        png = out / figure.file
        shutil.copyfile(local, png)
        print(f"{png}: {figure.shows}\n    run {run_id}, {figure.artifact}", flush=True)
        saved.append(png)
    return saved


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if shutil.which(args.chromium) is None:
        raise SystemExit(
            f"error: --chromium '{args.chromium}' not found (apt-get install chromium)"
        )
    if args.site_only:
        with tempfile.TemporaryDirectory(prefix="tracking-demo-site-") as scratch:
            saved = capture_site(args.chromium, args.out, Path(scratch))
        print(f"{len(saved)} pictures in {args.out}")
        return 0
    from mlflow.tracking import MlflowClient

    from tracking_demo.server.local import LocalServer
    from tracking_demo.server.processes import find_free_port

    root = Path(tempfile.mkdtemp(prefix="tracking-demo-screens-"))
    port = find_free_port()
    server = LocalServer(root / "server", port=port, azure_surface=args.azure_surface)
    os.environ.update(server_environment(port))  # LocalServer passes ours to the server
    env = child_environment(os.environ, root / "runs")
    server.start(timeout=120)
    try:
        train(server.uri, server.data_dir, root, env)
        client = MlflowClient(tracking_uri=server.uri, registry_uri=server.uri)
        runs = find_runs(client)
        for folder in (UI_DIR, FIGURES_DIR):
            (args.out / folder).mkdir(parents=True, exist_ok=True)
        for png in remove_unlisted(args.out):
            print(f"removed {png}: not in the manifest", flush=True)
        saved = capture(args.chromium, browser_uri(port), runs, args.out, root / "chromium-profile")
        saved += download_figures(client, runs, args.out, root / "figures")
        saved += capture_site(args.chromium, args.out, root)
    finally:
        server.stop(timeout=20)
        if args.keep:
            print(f"server data kept in {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)
    print(f"{len(saved)} pictures in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Screenshots of what the MLflow UI shows for this project's runs, taken by headless Chromium.

Starts a real `tracking-demo server` on a free loopback port with its own temporary data,
trains what the screens need through the command line a user types (the quickstart's moons
run and registered model; a small housing sweep in which the bandit policy stops a trial),
then saves one PNG per page of `PAGES` into `--out`. Before/after pictures of a change to
what the UI shows come from running it on both commits.

    python scripts/screenshots.py --out screens/before

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

# Variables that would send the runs to the user's own server, workspace or run.
MACHINE_PREFIXES = ("MLFLOW_", "AZUREML_", "AZURE_", "TRACKING_DEMO_")
MOONS_MODEL = "moons-rf"
SWEEP_MODEL = "housing-sweep-best"
SWEEP_EXPERIMENT = "housing-sweep"
HOUSING_ROWS = 3000
# Wide enough that the page keeps its columns beside the MLflow Assistant panel, which the UI
# opens on a localhost origin's first visit (a headless browser cannot close it).
WINDOW = (1920, 1080)
CHROMIUM_TIMEOUT_S = 120
# The runs table nests child runs (collapsed) only when sorted by start time; another order
# lists every run flat. A shared view cannot expand a parent (MLflow drops `runsExpanded`).
SORTED_BY_NAME = "orderByKey=tags.%60mlflow.runName%60&orderByAsc=true"
# Milliseconds of page time Chromium grants the single-page app to fetch and draw before the
# picture is taken: MLflow's UI loads its data after the first paint.
VIRTUAL_TIME_BUDGET_MS = 15000


@dataclass(frozen=True)
class Runs:
    """What the pages show, found on the server after training."""

    moons_experiment: str
    moons_run: str
    moons_logged_model: str | None
    sweep_experiment: str
    sweep_run: str
    stopped_trial: str
    finished_trial: str
    moons_version: str


@dataclass(frozen=True)
class Page:
    """One screenshot: its file name, what it shows, and its route in MLflow's hash-routed UI."""

    file: str
    shows: str
    route: Callable[[Runs], str]


def _moons_model_route(runs: Runs) -> str:
    if runs.moons_logged_model:  # the Models tab's page, where the server has logged models
        return f"/experiments/{runs.moons_experiment}/models/{runs.moons_logged_model}"
    return f"/experiments/{runs.moons_experiment}/runs/{runs.moons_run}/artifacts/model/MLmodel"


def _artifact(experiment: str, run: str, path: str) -> str:
    return f"/experiments/{experiment}/runs/{run}/artifacts/{path}"


PAGES: tuple[Page, ...] = (
    Page(
        "moons_run.png",
        "the moons run's overview",
        lambda r: f"/experiments/{r.moons_experiment}/runs/{r.moons_run}",
    ),
    Page(
        "moons_run_metrics.png",
        "the moons run's model metrics",
        lambda r: f"/experiments/{r.moons_experiment}/runs/{r.moons_run}/model-metrics",
    ),
    Page(
        "moons_model.png", "the moons model (logged model, else its artifacts)", _moons_model_route
    ),
    Page(
        "moons_figure.png",
        "the decision boundary figure",
        lambda r: _artifact(r.moons_experiment, r.moons_run, "decision_boundary.png"),
    ),
    Page(
        "moons_model_version.png",
        "the registered moons model's version 1",
        lambda r: f"/models/{MOONS_MODEL}/versions/{r.moons_version}",
    ),
    Page(
        "sweep_runs.png",
        "the sweep experiment's runs table: the parent, its trials nested (collapsed)",
        lambda r: f"/experiments/{r.sweep_experiment}/runs",
    ),
    Page(
        "sweep_trials_table.png",
        "the same table sorted by run name, which lists the trials flat with their status",
        lambda r: f"/experiments/{r.sweep_experiment}/runs?{SORTED_BY_NAME}",
    ),
    Page(
        "sweep_run.png",
        "the sweep parent's overview",
        lambda r: f"/experiments/{r.sweep_experiment}/runs/{r.sweep_run}",
    ),
    Page(
        "sweep_trials_figure.png",
        "the sweep's trials.png",
        lambda r: _artifact(r.sweep_experiment, r.sweep_run, "trials.png"),
    ),
    Page(
        "trial_stopped_run.png",
        "a trial the policy stopped: its overview",
        lambda r: f"/experiments/{r.sweep_experiment}/runs/{r.stopped_trial}",
    ),
    Page(
        "trial_stopped_curves.png",
        "the stopped trial's training_curves.png",
        lambda r: _artifact(r.sweep_experiment, r.stopped_trial, "training_curves.png"),
    ),
    Page(
        "housing_figure.png",
        "a completed trial's predicted_vs_actual.png",
        lambda r: _artifact(r.sweep_experiment, r.finished_trial, "predicted_vs_actual.png"),
    ),
)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="Folder for the PNGs.")
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
    return parser.parse_args(argv)


def page_url(uri: str, page: Page, runs: Runs) -> str:
    return f"{uri}/#{page.route(runs)}"


def child_environment(environ: Mapping[str, str], runs_dir: Path) -> dict[str, str]:
    """Ours, minus what points at the user's servers; write-ahead logs kept in `runs_dir`."""
    env = {k: v for k, v in environ.items() if not k.startswith(MACHINE_PREFIXES)}
    env["TRACKING_DEMO_RUNS_DIR"] = str(runs_dir)
    env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost"
    return env


def chromium_command(chromium: str, profile: Path, png: Path, url: str) -> list[str]:
    width, height = WINDOW
    return [
        chromium,
        *("--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"),
        *("--disable-background-networking", "--disable-component-update", "--disable-sync"),
        "--hide-scrollbars",
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
    """The runs the pages show, made as a user makes them."""
    from tracking_demo.sweep import space as search_space

    _tracking_demo(
        "quickstart",
        *("--data-dir", str(server_dir), "--port", uri.rsplit(":", 1)[1]),
        env=env,
        cwd=root,
    )
    space = root / "space.yaml"
    space.write_text(search_space.packaged_space_text(search_space.QUICK_SPACE_RESOURCE))
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


def _seed_starting_with_a_good_trial(space: Path) -> int:
    """A sampling seed whose first trial learns (lr 0.01), so a later slow one is stopped."""
    from tracking_demo.sweep import space as search_space
    from tracking_demo.tasks import housing

    spec = search_space.load(space, housing.TUNABLE)
    for seed in range(100):
        if search_space.sample(spec.parameters, spec.max_trials, seed)[0]["learning_rate"] == 0.01:
            return seed
    raise SystemExit("error: no sampling seed puts a lr 0.01 trial first")


def find_runs(uri: str) -> Runs:
    """The runs, trials and version just trained, looked up on the server."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    versions = client.search_model_versions(f"name = '{MOONS_MODEL}'")
    moons_version = max(versions, key=lambda v: int(v.version))
    moons_run = client.get_run(moons_version.run_id)
    moons_experiment = moons_run.info.experiment_id
    logged_model = _logged_model_of(client, moons_experiment, moons_run.info.run_id)
    sweep_experiment = client.get_experiment_by_name(SWEEP_EXPERIMENT)
    if sweep_experiment is None:
        raise SystemExit(f"error: the sweep left no experiment '{SWEEP_EXPERIMENT}'")
    runs = client.search_runs([sweep_experiment.experiment_id], max_results=100)
    parents = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    trials = [r for r in runs if "mlflow.parentRunId" in r.data.tags]
    stopped = [r for r in trials if _was_stopped(r)]
    finished = [r for r in trials if not _was_stopped(r) and r.info.status == "FINISHED"]
    if len(parents) != 1 or not stopped or not finished:
        raise SystemExit(
            f"error: expected one sweep run with a stopped and a finished trial, found "
            f"{len(parents)} parent(s), {len(stopped)} stopped, {len(finished)} finished trial(s)"
        )
    return Runs(
        moons_experiment=moons_experiment,
        moons_run=moons_run.info.run_id,
        moons_logged_model=logged_model,
        sweep_experiment=sweep_experiment.experiment_id,
        sweep_run=parents[0].info.run_id,
        stopped_trial=stopped[0].info.run_id,
        finished_trial=finished[0].info.run_id,
        moons_version=moons_version.version,
    )


def _was_stopped(run: Any) -> bool:
    """Stopped by the policy: tagged so, and (since issue 24) also ended KILLED."""
    return run.data.tags.get("tracking_demo.trial_status") == "terminated"


def _logged_model_of(client: object, experiment: str, run_id: str) -> str | None:
    """The run's logged model, where the server has MLflow 3's logged-models API."""
    try:
        models = client.search_logged_models(  # type: ignore[attr-defined]
            experiment_ids=[experiment], filter_string=f"source_run_id = '{run_id}'"
        )
    except Exception:  # Azure ML's server (and --azure-surface) answers 404
        return None
    return models[0].model_id if models else None


def capture(chromium: str, uri: str, runs: Runs, out: Path, profile: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    saved = []
    for page in PAGES:
        png = out / page.file
        url = page_url(uri, page, runs)
        print(f"{png}: {page.shows}\n    {url}", flush=True)
        png.unlink(missing_ok=True)
        subprocess.run(
            chromium_command(chromium, profile, png, url),
            check=True,
            timeout=CHROMIUM_TIMEOUT_S,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        if not png.is_file():
            raise SystemExit(f"error: {chromium} wrote no screenshot for {url}")
        saved.append(png)
    return saved


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if shutil.which(args.chromium) is None:
        raise SystemExit(
            f"error: --chromium '{args.chromium}' not found (apt-get install chromium)"
        )
    from tracking_demo.server.local import LocalServer
    from tracking_demo.server.processes import find_free_port

    root = Path(tempfile.mkdtemp(prefix="tracking-demo-screens-"))
    server = LocalServer(root / "server", port=find_free_port(), azure_surface=args.azure_surface)
    env = child_environment(os.environ, root / "runs")
    server.start(timeout=120)
    try:
        train(server.uri, server.data_dir, root, env)
        runs = find_runs(server.uri)
        saved = capture(args.chromium, server.uri, runs, args.out, root / "chromium-profile")
    finally:
        server.stop(timeout=20)
        if args.keep:
            print(f"server data kept in {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)
    print(f"{len(saved)} screenshots in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

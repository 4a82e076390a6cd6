"""scripts/screenshots.py without Chromium: its options, and pages that cover what issue 24's
closing note shows (run page, sweep, model version) at routes of MLflow's hash-routed UI."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

SCRIPT = Path(__file__).parents[2] / "scripts" / "screenshots.py"


@pytest.fixture(scope="module")
def script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("screenshots", SCRIPT)
    assert spec is not None and spec.loader is not None, f"cannot load {SCRIPT}"
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def _runs(script: ModuleType, logged_model: str | None = None) -> object:
    return script.Runs(
        moons_experiment="1",
        moons_run="m" * 32,
        moons_logged_model=logged_model,
        sweep_experiment="2",
        sweep_run="s" * 32,
        stopped_trial="t" * 32,
        finished_trial="f" * 32,
        moons_version="1",
    )


def test_out_is_required_and_taken_as_a_folder(script: ModuleType) -> None:
    with pytest.raises(SystemExit):
        script.parse_args([])
    assert script.parse_args(["--out", "shots"]).out == Path("shots")


def test_every_page_is_its_own_png_at_a_route_of_the_ui(script: ModuleType) -> None:
    files = [page.file for page in script.PAGES]
    assert len(set(files)) == len(files) and all(f.endswith(".png") for f in files)
    urls = {
        p.file: script.page_url("http://127.0.0.1:5000", p, _runs(script)) for p in script.PAGES
    }
    assert urls["moons_run.png"] == f"http://127.0.0.1:5000/#/experiments/1/runs/{'m' * 32}"
    assert urls["moons_model_version.png"].endswith("/#/models/moons-rf/versions/1")
    assert urls["sweep_runs.png"].endswith("/#/experiments/2/runs")
    assert urls["trial_stopped_run.png"].endswith(f"/#/experiments/2/runs/{'t' * 32}")
    assert urls["housing_figure.png"].endswith(
        f"/runs/{'f' * 32}/artifacts/predicted_vs_actual.png"
    )


def test_the_model_page_is_the_logged_model_where_the_server_has_one(script: ModuleType) -> None:
    page = next(p for p in script.PAGES if p.file == "moons_model.png")
    assert page.route(_runs(script)).endswith("/artifacts/model/MLmodel")
    assert page.route(_runs(script, "m-abc")) == "/experiments/1/models/m-abc"


def test_chromium_runs_headless_with_its_own_profile_and_takes_the_url_last(
    script: ModuleType, tmp_path: Path
) -> None:
    command = script.chromium_command("chromium", tmp_path, tmp_path / "a.png", "http://x/#/y")
    assert "--headless" in command and f"--user-data-dir={tmp_path}" in command
    assert f"--screenshot={tmp_path / 'a.png'}" in command and command[-1] == "http://x/#/y"


def test_children_do_not_inherit_the_user_s_tracking_server(
    script: ModuleType, tmp_path: Path
) -> None:
    env = script.child_environment(
        {"MLFLOW_TRACKING_URI": "http://elsewhere", "MLFLOW_RUN_ID": "r", "PATH": "/bin"},
        tmp_path,
    )
    assert "MLFLOW_TRACKING_URI" not in env and "MLFLOW_RUN_ID" not in env
    assert env["PATH"] == "/bin" and env["TRACKING_DEMO_RUNS_DIR"] == str(tmp_path)

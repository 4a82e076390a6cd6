"""scripts/screenshots.py without Chromium: its options, the manifest of the pictures it writes
for the documentation site, the UI routes it visits and what it keeps of the user's setup; and
docs/images holds exactly what it makes (no stray or stale picture on the site, none missing)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

REPOSITORY = Path(__file__).parents[2]
SCRIPT = REPOSITORY / "scripts" / "screenshots.py"
IMAGES = REPOSITORY / "docs" / "images"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("screenshots", SCRIPT)
    assert spec is not None and spec.loader is not None, f"cannot load {SCRIPT}"
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def _runs(script: ModuleType) -> object:
    return script.Runs(
        moons_experiment="1",
        moons_run="m" * 32,
        moons_version="1",
        mnist_experiment="3",
        mnist_run="n" * 32,
        sweep_experiment="2",
        sweep_run="s" * 32,
        stopped_trial="t" * 32,
        finished_trial="f" * 32,
    )


def test_pictures_go_to_the_docs_images_unless_out_says_otherwise(script: ModuleType) -> None:
    assert script.parse_args([]).out == REPOSITORY / "docs" / "images"
    assert script.parse_args(["--out", "shots"]).out == Path("shots")


def test_the_manifest_names_each_png_once_ui_pages_and_figures_in_their_folders(
    script: ModuleType,
) -> None:
    files = [entry.file for entry in script.MANIFEST]
    assert len(set(files)) == len(files)
    assert all(entry.shows for entry in script.MANIFEST)
    assert {p.file for p in script.PAGES} == {f"ui/{p.name}.png" for p in script.PAGES}
    assert {f.file for f in script.FIGURES} == {f"figures/{f.name}.png" for f in script.FIGURES}
    assert {s.file for s in script.SITE_PAGES} == {f"site/{s.name}.png" for s in script.SITE_PAGES}


def test_the_site_pages_are_pages_the_site_builds(script: ModuleType) -> None:
    """Each is a page of mkdocs.yml's nav, at the path MkDocs writes it to (use_directory_urls)."""
    import yaml

    def sources(nav: object) -> list[str]:
        if isinstance(nav, str):
            return [nav]
        if isinstance(nav, list):
            return [s for item in nav for s in sources(item)]
        if isinstance(nav, dict):
            return [s for value in nav.values() for s in sources(value)]
        return []

    nav = sources(yaml.safe_load((REPOSITORY / "mkdocs.yml").read_text())["nav"])
    built = {
        "index.html" if page == "index.md" else page.removesuffix(".md") + "/index.html"
        for page in nav
    }
    assert {s.path for s in script.SITE_PAGES} <= built
    assert any(s.path.startswith("tasks/") for s in script.SITE_PAGES), "a task page is pictured"
    assert script.parse_args(["--site-only"]).site_only


def test_pages_are_routes_of_the_ui_in_its_model_training_view(script: ModuleType) -> None:
    urls = {
        p.name: script.page_url("http://tracking-demo.test:5000", p, _runs(script))
        for p in script.PAGES
    }
    assert urls["moons_run"] == (
        f"http://tracking-demo.test:5000/#/experiments/1/runs/{'m' * 32}"
        "?workflowType=machine_learning"
    )
    assert f"/#/experiments/3/runs/{'n' * 32}/model-metrics?" in urls["mnist_run_metrics"]
    assert "/#/models/moons-rf/versions/1?" in urls["moons_model_version"]
    assert urls["sweep_runs"].endswith("/#/experiments/2/runs?workflowType=machine_learning")
    assert "orderByKey=" in urls["sweep_runs_flat"] and "orderByKey" not in urls["sweep_runs"]
    assert f"/#/experiments/2/runs/{'t' * 32}?" in urls["sweep_stopped_trial"]
    assert all("workflowType=machine_learning" in url for url in urls.values())


def test_figures_are_the_artifacts_the_runs_logged(script: ModuleType) -> None:
    figures = {f.name: (f.run(_runs(script)), f.artifact) for f in script.FIGURES}
    assert figures["moons_decision_boundary"] == ("m" * 32, "decision_boundary.png")
    assert figures["mnist_confusion_matrix"] == ("n" * 32, "confusion_matrix.png")
    assert figures["housing_predicted_vs_actual"] == ("f" * 32, "predicted_vs_actual.png")
    assert figures["sweep_trials"] == ("s" * 32, "trials.png")
    assert figures["sweep_stopped_trial_curves"] == ("t" * 32, "training_curves.png")


def test_the_sweep_gives_stopped_trials_three_epochs_of_curves(script: ModuleType) -> None:
    from tracking_demo.sweep import space
    from tracking_demo.tasks import housing

    text = script.sweep_space_text(space.packaged_space_text(space.QUICK_SPACE_RESOURCE))
    spec = space.parse(text, "screens.yaml", housing.TUNABLE)
    quick = space.parse(
        space.packaged_space_text(space.QUICK_SPACE_RESOURCE), "quick.yaml", housing.TUNABLE
    )
    assert spec.policy is not None and not spec.policy.evaluates_at(2)
    assert spec.policy.evaluates_at(3) and spec.policy.evaluates_at(4)
    assert set(spec.parameters["epochs"].values) == {5, 6}
    assert spec.parameters["learning_rate"] == quick.parameters["learning_rate"]
    assert (spec.max_trials, spec.max_concurrent) == (quick.max_trials, quick.max_concurrent)


def test_files_the_manifest_does_not_name_are_removed_and_others_kept(
    script: ModuleType, tmp_path: Path
) -> None:
    listed = tmp_path / script.PAGES[0].file
    old = tmp_path / "ui" / "moons_figure.png"
    notes = tmp_path / "figures" / "README.txt"
    for path in (listed, old, notes):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x")
    assert script.remove_unlisted(tmp_path) == [old]
    assert listed.exists() and notes.exists() and not old.exists()


def test_chromium_reaches_the_server_by_a_name_the_server_accepts(
    script: ModuleType, tmp_path: Path
) -> None:
    url = script.browser_uri(5000) + "/#/y"
    command = script.chromium_command("chromium", tmp_path, tmp_path / "a.png", url)
    assert "--headless" in command and f"--user-data-dir={tmp_path}" in command
    assert f"--screenshot={tmp_path / 'a.png'}" in command and command[-1] == url
    assert f"--host-resolver-rules=MAP {script.BROWSER_HOST} 127.0.0.1" in command
    env = script.server_environment(5000)
    assert f"{script.BROWSER_HOST}:5000" in env["MLFLOW_SERVER_ALLOWED_HOSTS"].split(",")
    assert env["MLFLOW_SERVER_CORS_ALLOWED_ORIGINS"] == f"http://{script.BROWSER_HOST}:5000"


def test_children_do_not_inherit_the_user_s_tracking_server(
    script: ModuleType, tmp_path: Path
) -> None:
    env = script.child_environment(
        {"MLFLOW_TRACKING_URI": "http://elsewhere", "MLFLOW_RUN_ID": "r", "PATH": "/bin"},
        tmp_path,
    )
    assert "MLFLOW_TRACKING_URI" not in env and "MLFLOW_RUN_ID" not in env
    assert env["PATH"] == "/bin" and env["TRACKING_DEMO_RUNS_DIR"] == str(tmp_path)


def test_every_file_under_docs_images_is_one_the_script_makes(script: ModuleType) -> None:
    present = {p.relative_to(IMAGES).as_posix() for p in IMAGES.rglob("*") if p.is_file()}
    made = {entry.file for entry in script.MANIFEST}
    assert present - made == set(), "not made by scripts/screenshots.py"


def test_every_manifest_file_is_a_committed_png(script: ModuleType) -> None:
    made = {entry.file for entry in script.MANIFEST}
    missing = {f for f in made if not (IMAGES / f).is_file()}
    assert missing == set(), "run scripts/screenshots.py to make them"
    for file in made:
        assert (IMAGES / file).read_bytes()[:8] == PNG_SIGNATURE, file

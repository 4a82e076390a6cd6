"""Who and what made a run, as the MLflow UI shows it ("Created by", "Source", the commit), and
the run's name, checked on the real local server."""

from __future__ import annotations

import getpass
import re
import subprocess
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from tracking_demo.tracking import context
from tracking_demo.tracking.session import TrackingSession
from tracking_demo.tracking.settings import TrackingSettings

pytestmark = pytest.mark.integration
REMOTE = "https://example.com/team/tracking-demo.git"


def _git(repo: Path, *args: str) -> str:
    done = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True)
    assert done.returncode == 0, f"git {' '.join(args)} failed: {done.stderr}"
    return done.stdout.strip()


@pytest.fixture
def package_checkout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, str]:
    """The package's source as if it lay in a checkout with a remote (whatever this test
    process was installed from): a git repository holding a stand-in source file."""
    repo = tmp_path / "checkout"
    (repo / "src").mkdir(parents=True)
    source = repo / "src" / "tracking_demo.py"
    source.write_text("# the package\n")
    _git(repo, "init", "-q", "-b", "main")
    _git(repo, "remote", "add", "origin", REMOTE)
    _git(repo, "add", "src")
    _git(repo, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qm", "one")
    monkeypatch.setattr(context, "PACKAGE_SOURCE", str(source))
    return repo, _git(repo, "rev-parse", "HEAD")


def _session(server, experiment: str, run_id: str | None = None) -> TrackingSession:  # type: ignore[no-untyped-def]
    return TrackingSession(TrackingSettings(uri=server.uri, experiment=experiment, run_id=run_id))


def test_run_carries_user_source_and_commit(mlflow_server, package_checkout) -> None:  # type: ignore[no-untyped-def]
    _, commit = package_checkout
    session = _session(mlflow_server, "run-context")
    with session.run(name_prefix="moons-rf") as handle:
        pass
    run = MlflowClient(mlflow_server.uri).get_run(handle.run_id)
    tags = run.data.tags
    assert tags["mlflow.user"] == getpass.getuser()
    assert tags["mlflow.source.type"] == "LOCAL"
    assert tags["mlflow.source.name"]
    assert tags["mlflow.source.git.commit"] == commit
    assert tags["mlflow.source.git.repoURL"] == REMOTE
    assert tags["mlflow.source.git.branch"] == "main"
    assert tags["tracking_demo.version"]
    assert re.fullmatch(r"moons-rf-[0-9a-f]{4}", run.info.run_name)


def test_explicit_run_name_wins(mlflow_server) -> None:  # type: ignore[no-untyped-def]
    settings = TrackingSettings(uri=mlflow_server.uri, experiment="run-names", run_name="mine")
    with TrackingSession(settings).run(name_prefix="moons-rf") as handle:
        pass
    assert MlflowClient(mlflow_server.uri).get_run(handle.run_id).info.run_name == "mine"


def test_a_job_run_keeps_what_the_platform_set(mlflow_server, package_checkout) -> None:  # type: ignore[no-untyped-def]
    """Inside an Azure ML job the platform created the run: its user, source and name stay."""
    _, commit = package_checkout
    client = MlflowClient(mlflow_server.uri)
    experiment_id = client.create_experiment("run-context-job")
    platform = {
        "mlflow.user": "alice@contoso.com",
        "mlflow.source.name": "train.py",
        "mlflow.source.type": "JOB",
    }
    created = client.create_run(experiment_id, run_name="sharp_kiwi_job", tags=platform)
    with _session(mlflow_server, "run-context-job", created.info.run_id).run(
        name_prefix="moons-rf"
    ):
        pass
    run = client.get_run(created.info.run_id)
    assert {key: run.data.tags[key] for key in platform} == platform
    assert run.info.run_name == "sharp_kiwi_job"
    assert run.data.tags["mlflow.source.git.commit"] == commit  # what the platform left unset


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["/venv/bin/tracking-demo", "train", "moons", "--data", "d"], "tracking-demo train moons"),
        (  # python -m tracking_demo
            ["/repo/src/tracking_demo/__main__.py", "sweep", "housing-mlp"],
            "tracking-demo sweep housing-mlp",
        ),
        (["/usr/bin/pytest", "-q"], None),
        ([], None),
    ],
)
def test_source_name_is_the_command(argv: list[str], expected: str | None) -> None:
    assert context.command_name(argv) == expected


def test_installed_package_has_no_git_tags(tmp_path: Path) -> None:
    """A wheel or an Azure ML snapshot without .git: no commit rather than a wrong one."""
    source = tmp_path / "site-packages" / "tracking_demo" / "__init__.py"
    source.parent.mkdir(parents=True)
    source.write_text("")
    assert context.package_git_tags(str(source)) == {}


def test_experiments_open_on_model_training_in_the_ui(mlflow_server) -> None:  # type: ignore[no-untyped-def]
    """MLflow 3's UI shows an experiment's runs and models (not its GenAI pages) when the
    experiment is marked as model training: new experiments are, and older ones get marked."""
    client = MlflowClient(mlflow_server.uri)
    older = client.create_experiment("made-before-the-kind-tag")
    for name in ("new-experiment-kind", "made-before-the-kind-tag"):
        with _session(mlflow_server, name).run(name_prefix="moons-rf"):
            pass
        experiment = client.get_experiment_by_name(name)
        assert experiment is not None
        assert experiment.tags["mlflow.experimentKind"] == "custom_model_development"
    assert client.get_experiment_by_name("made-before-the-kind-tag").experiment_id == older  # type: ignore[union-attr]

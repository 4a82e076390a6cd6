"""A full `train moons` run against the real local MLflow server, checked through MlflowClient."""

from __future__ import annotations

import re
from pathlib import Path

import mlflow
import pytest
from mlflow.tracking import MlflowClient
from sklearn.metrics import accuracy_score
from tests.support.lock import assert_pins_the_lock

from tracking_demo import registry
from tracking_demo.data.moons import load
from tracking_demo.errors import DataError
from tracking_demo.tasks.moons import MoonsOptions, train
from tracking_demo.tasks.recording import TaskResult
from tracking_demo.tracking import tags
from tracking_demo.tracking.context import package_git_tags
from tracking_demo.tracking.session import ERROR_ARTIFACT

pytestmark = pytest.mark.integration
SMALL_GRID = {"n_estimators": [10], "max_depth": [5]}


@pytest.fixture(scope="module")
def default_run(mlflow_server, moons_dir: Path) -> TaskResult:  # type: ignore[no-untyped-def]
    """One run with the tutorial's default grid, registered; shared by the checks below."""
    from tracking_demo.tracking.session import TrackingSession
    from tracking_demo.tracking.settings import TrackingSettings

    session = TrackingSession(TrackingSettings(uri=mlflow_server.uri, experiment="moons-default"))
    return train(MoonsOptions(moons_dir, register_as="moons-default"), session)


def _client(server) -> MlflowClient:  # type: ignore[no-untyped-def]
    return MlflowClient(tracking_uri=server.uri)


def test_run_logs_exact_params_and_finishes(mlflow_server, default_run: TaskResult) -> None:
    run = _client(mlflow_server).get_run(default_run.run_id)
    assert run.info.status == "FINISHED"
    params = run.data.params
    assert {k: v for k, v in params.items() if k.startswith("gridsearch/")} == {
        "gridsearch/n_estimators": "[10, 25, 100]",
        "gridsearch/criterion": "['gini', 'entropy']",
        "gridsearch/max_depth": "[2, 5, 10, None]",
    }
    selected = {k: v for k, v in params.items() if k.startswith("selected/")}
    assert set(selected) == {"selected/n_estimators", "selected/criterion", "selected/max_depth"}
    assert selected["selected/n_estimators"] == str(default_run.selected["n_estimators"])
    assert params["cv_folds"] == "5"
    assert params["seed"] == "42"


def test_run_accuracy_and_cv_score(mlflow_server, default_run: TaskResult) -> None:
    metrics = _client(mlflow_server).get_run(default_run.run_id).data.metrics
    assert metrics["test_accuracy"] >= 0.95
    assert metrics["test_accuracy"] == pytest.approx(default_run.metrics["test_accuracy"])
    assert 0.9 <= metrics["cv_best_score"] <= 1.0


def test_run_artifacts_inputs_and_tags(mlflow_server, default_run: TaskResult) -> None:
    client = _client(mlflow_server)
    names = {a.path for a in client.list_artifacts(default_run.run_id)}
    assert "decision_boundary.png" in names
    assert "model" not in names, "the plain server keeps the model as a logged model (rule 3)"
    model_files = set(registry.run_model_files(client, default_run.run_id))
    assert {"MLmodel", "input_example.json"} <= model_files
    run = client.get_run(default_run.run_id)
    assert len(run.outputs.model_outputs) == 1
    contexts = {
        (i.dataset.name, next(t.value for t in i.tags if t.key == "mlflow.data.context"))
        for i in run.inputs.dataset_inputs
    }
    assert contexts == {("moons-training", "training"), ("moons-testing", "testing")}
    assert all(len(i.dataset.digest) >= 8 for i in run.inputs.dataset_inputs)
    assert run.data.tags["tracking_demo.version"]
    assert run.data.tags["tracking_demo.task"] == "moons"
    git = package_git_tags()
    if git:  # a source tree (CI's clone); an installed image has no .git
        assert run.data.tags["mlflow.source.git.commit"] == git["mlflow.source.git.commit"]
    assert run.data.tags["mlflow.user"]
    assert re.fullmatch(r"moons-rf-[0-9a-f]{4}", run.info.run_name)


def test_logged_model_has_signature(mlflow_server, default_run: TaskResult) -> None:
    mlflow.set_tracking_uri(mlflow_server.uri)
    info = mlflow.models.get_model_info(default_run.model_uri)
    assert [spec.name for spec in info.signature.inputs] == ["x1", "x2"]


def test_saved_model_requirements_pin_the_lock(mlflow_server, default_run: TaskResult) -> None:
    """Named, not inferred: the lock's versions of what loading the forest needs."""
    mlflow.set_tracking_uri(mlflow_server.uri)
    text = mlflow.artifacts.load_text(f"{default_run.model_uri}/requirements.txt")
    assert_pins_the_lock(text)
    assert {line.split("==")[0] for line in text.split()} >= {"mlflow", "scikit-learn", "skops"}


def test_registration_tags_version_with_test_accuracy(
    mlflow_server, default_run: TaskResult
) -> None:
    client = _client(mlflow_server)
    version = client.get_model_version("moons-default", default_run.registered_version)
    assert version.run_id == default_run.run_id
    assert float(version.tags["test_accuracy"]) == pytest.approx(
        default_run.metrics["test_accuracy"], abs=1e-4
    )
    assert version.status == "READY"


def test_downloaded_model_reproduces_logged_accuracy(
    mlflow_server, default_run: TaskResult, moons_dir: Path, tmp_path: Path
) -> None:
    mlflow.set_tracking_uri(mlflow_server.uri)
    ref = f"moons-default:{default_run.registered_version}"
    local = registry.download(ref, tmp_path / "model")
    assert (local / "MLmodel").is_file()
    model = mlflow.pyfunc.load_model(str(local))
    data = load(moons_dir)
    predictions = model.predict(data.test[["x1", "x2"]])
    assert accuracy_score(data.y_test, predictions) == pytest.approx(
        default_run.metrics["test_accuracy"]
    )


def test_list_versions_newest_first(mlflow_server, moons_dir: Path, session_for) -> None:
    session = session_for(mlflow_server)
    options = MoonsOptions(moons_dir, grid=SMALL_GRID, register_as="moons-list")
    first, second = train(options, session), train(options, session)
    versions = registry.list_versions(session.client, "moons-list")
    assert [v.version for v in versions] == [second.registered_version, first.registered_version]
    assert all("test_accuracy" in v.tags for v in versions)


@pytest.mark.parametrize(
    ("breakage", "message"),
    [
        (lambda d: (d / "train.csv").unlink(), r"train\.csv: file not found"),
        (lambda d: (d / "test.csv").write_text(""), r"test\.csv: file is empty"),
        (lambda d: (d / "train.csv").write_text("x1,y\n1,0\n"), r"missing column\(s\) 'x2'"),
        (
            lambda d: (d / "train.csv").write_text("x1,x2,label\n1,2,0\n1,oops,1\n"),
            r"column 'x2' must be numeric",
        ),
        (
            lambda d: (d / "train.csv").write_text("x1,x2,label\n1,2,0\n1,3,0\n"),
            r"single class",
        ),
    ],
    ids=["missing-csv", "empty-csv", "missing-column", "non-numeric", "single-class"],
)
def test_bad_input_ends_run_failed_with_error(
    mlflow_server, tmp_path: Path, session_for, breakage, message: str
) -> None:
    from tracking_demo.data.moons import MoonsSpec, write

    write(MoonsSpec(n_train=30, n_test=10), tmp_path)
    breakage(tmp_path)
    session = session_for(mlflow_server)
    with pytest.raises(DataError, match=message):
        train(MoonsOptions(tmp_path, grid=SMALL_GRID), session)
    experiment = session.client.get_experiment_by_name(session.settings.experiment)
    (run,) = session.client.search_runs([experiment.experiment_id])
    assert run.info.status == "FAILED"
    assert run.data.tags[tags.ERROR].startswith("DataError: ")
    assert ERROR_ARTIFACT in {a.path for a in session.client.list_artifacts(run.info.run_id)}
    assert mlflow.active_run() is None


def test_job_run_id_is_honoured(mlflow_server, moons_dir: Path) -> None:
    """Inside an Azure ML job the platform creates the run; training must log into it."""
    from tracking_demo.tracking.session import TrackingSession
    from tracking_demo.tracking.settings import resolve_settings

    client = _client(mlflow_server)
    experiment_id = client.create_experiment("job-run-id")
    created = client.create_run(experiment_id)
    settings = resolve_settings(
        None, None, {"MLFLOW_TRACKING_URI": mlflow_server.uri, "MLFLOW_RUN_ID": created.info.run_id}
    )
    result = train(MoonsOptions(moons_dir, grid=SMALL_GRID), TrackingSession(settings))
    assert result.run_id == created.info.run_id
    run = client.get_run(created.info.run_id)
    assert run.info.status == "FINISHED"
    assert run.data.params["selected/max_depth"] == "5"

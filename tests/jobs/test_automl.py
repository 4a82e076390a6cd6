"""`python -m jobs.automl`: the AutoML regression job on the housing data (SDK v2 only).

The dry-run's YAML is read back with azure-ai-ml's own loader and built into its REST body,
offline; bad input is one line before any login; past the dry-run the MLClient is faked at its
edge, while the best trial and its registration go through a real local MLflow server playing
the workspace's, with a parent run tagged as AutoML tags it and a tiny model where AutoML keeps it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
import pytest
import yaml
from azure.ai.ml import load_job
from azure.ai.ml.entities._data.mltable_metadata import MLTableMetadata
from azure.ai.ml.exceptions import JobException
from azure.core.exceptions import ResourceNotFoundError
from click.testing import CliRunner, Result
from jobs_cli import ROOT, assert_refused
from mlflow.tracking import MlflowClient
from sklearn.linear_model import LinearRegression
from sklearn.pipeline import Pipeline

from jobs import automl as automl_cli
from jobs.automl_spec import AssetRef, AutoMLRequest, Limits, Split
from jobs.v2 import automl_best
from jobs.v2 import client as v2_client
from tracking_demo.data import housing
from tracking_demo.server.local import LocalServer

pytestmark = pytest.mark.usefixtures("isolated_cwd")
ROWS = 400


@pytest.fixture
def isolated_cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No config.json of the checkout's is found by searching up from the cwd."""
    monkeypatch.chdir(tmp_path)


@pytest.fixture(scope="module")
def housing_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small seeded housing.csv, as `tracking-demo data housing --rows 400` writes it."""
    out = tmp_path_factory.mktemp("housing")
    housing.write(housing.HousingSpec(n_rows=ROWS), out)
    return out


def invoke(*args: str) -> Result:
    return CliRunner().invoke(automl_cli.main, list(args))


def dry_run(housing_dir: Path, config: Path, *args: str) -> Result:
    result = invoke(
        "--data", str(housing_dir), "--workspace-config", str(config), "--dry-run", *args
    )
    assert result.exit_code == 0, result.output
    return result


def loaded(path: Path) -> Any:
    """The YAML as `az ml job create --file` reads it, and the REST body it would send."""
    job = load_job(path)
    job._to_rest_object()
    return job


# --- the dry run ---------------------------------------------------------------------------


@pytest.mark.usefixtures("no_network")
def test_the_dry_run_prints_an_automl_regression_job_that_azure_ml_loads(
    housing_dir: Path, config: Path, tmp_path: Path
) -> None:
    emitted = tmp_path / "emit" / "job.yml"
    result = dry_run(housing_dir, config, "--emit", str(emitted), "--max-trials", "20")
    assert result.stdout == emitted.read_text()
    comments = [line for line in result.stdout.splitlines() if line.startswith("#")]
    assert f"# workspace: ws-1 (resource group rg-1, subscription sub-1, from {config})" in (
        comments
    )
    assert (
        "# auth: auto (DefaultAzureCredential: az login, managed identity, then a browser)"
        in comments
    )
    assert any(f"{ROWS} rows, {int(ROWS * 0.8)} for training" in line for line in comments)

    job = loaded(emitted)
    assert type(job).__name__ == "RegressionJob"
    assert job.type == "automl"
    assert job.task_type.value.lower() == "regression"
    assert job.target_column_name == "median_house_value"
    assert job.primary_metric.value.lower() == "normalizedrootmeansquarederror"
    assert job.validation_data_size == 0.2
    assert job.featurization.mode == "auto"
    assert job.compute == "cpu-cluster"
    assert job.experiment_name == "tracking-demo"
    limits = job.limits
    assert (limits.timeout_minutes, limits.max_trials, limits.max_concurrent_trials) == (30, 20, 4)
    assert limits.enable_early_termination is True
    assert limits.trial_timeout_minutes is None
    data = yaml.safe_load(emitted.read_text())["training_data"]
    assert data["type"] == "mltable"
    assert data["path"].startswith("azureml:housing-mltable:")
    assert job.tags["split/seed"] == "42"


@pytest.mark.usefixtures("no_network")
def test_the_staged_table_holds_the_training_rows_and_an_mltable_azure_ml_reads(
    housing_dir: Path, config: Path, tmp_path: Path
) -> None:
    emitted = tmp_path / "job.yml"
    result = dry_run(housing_dir, config, "--emit", str(emitted))
    folder = tmp_path / "housing-mltable"
    assert sorted(p.name for p in folder.iterdir()) == ["MLTable", "housing.csv"]
    metadata = MLTableMetadata.load(folder / "MLTable")
    assert metadata.referenced_uris() == ["./housing.csv"]
    assert metadata.transformations == [
        {
            "read_delimited": {
                "delimiter": ",",
                "header": "all_files_same_headers",
                "encoding": "utf8",
            }
        }
    ]
    # The rows the housing tasks train on: the ones `compare` tests on never reach AutoML.
    staged = pd.read_csv(folder / "housing.csv")
    split = housing.load(housing_dir, 0.2, 42)
    assert list(staged.columns) == list(housing.COLUMNS)
    assert staged[housing.TARGET].tolist() == split.train[housing.TARGET].tolist()
    version = yaml.safe_load(emitted.read_text())["training_data"]["path"].rsplit(":", 1)[1]
    assert (
        f"az ml data create --name housing-mltable --version {version} --type mltable "
        "--path housing-mltable" in result.stdout
    )


@pytest.mark.usefixtures("no_network")
def test_the_asset_version_follows_the_content(housing_dir: Path, config: Path) -> None:
    def version(*args: str) -> str:
        job = yaml.safe_load(dry_run(housing_dir, config, *args).stdout)
        return str(job["training_data"]["path"].rsplit(":", 1)[1])

    assert version() == version(), "the same rows must reuse the same version"
    assert version("--seed", "7") != version()
    assert version("--test-fraction", "0.3") != version()


@pytest.mark.usefixtures("no_network")
def test_an_existing_dataset_is_named_not_staged(config: Path, tmp_path: Path) -> None:
    emitted = tmp_path / "job.yml"
    for reference, path in (
        ("housing-table:7", "azureml:housing-table:7"),
        ("housing-table", "azureml:housing-table@latest"),
    ):
        result = invoke(
            "--dataset", reference, "--workspace-config", str(config), "--dry-run", "--emit",
            str(emitted), "--timeout-minutes", "60", "--trial-timeout-minutes", "10",
        )  # fmt: skip
        assert result.exit_code == 0, result.output
        assert yaml.safe_load(emitted.read_text())["training_data"]["path"] == path
        job = loaded(emitted)
        assert (job.limits.timeout_minutes, job.limits.trial_timeout_minutes) == (60, 10)
    assert not (tmp_path / "housing-mltable").exists(), "an existing asset stages nothing"


def _write(tmp_path: Path, frame: pd.DataFrame) -> Path:
    folder = tmp_path / "bad"
    folder.mkdir(exist_ok=True)
    frame.to_csv(folder / "housing.csv", index=False)
    return folder


@pytest.mark.usefixtures("no_network")
@pytest.mark.parametrize(
    ("change", "fragments"),
    [
        (
            lambda f: f.drop(columns=["median_house_value"]),
            ["missing column", "median_house_value"],
        ),
        (
            lambda f: f.assign(median_house_value=["cheap", *f["median_house_value"][1:]]),
            ["median_house_value", "must be numeric", "'cheap'"],
        ),
        (lambda f: f.head(30), ["has 30 rows", "at least 50"]),
    ],
    ids=["no-label", "text-label", "too-few-rows"],
)
def test_a_bad_csv_is_one_line_naming_the_file_and_column(
    housing_dir: Path, tmp_path: Path, change: Any, fragments: list[str]
) -> None:
    folder = _write(tmp_path, change(pd.read_csv(housing_dir / "housing.csv")))
    result = invoke("--data", str(folder), "--dry-run")
    assert_refused(result, str(folder / "housing.csv"), *fragments)


@pytest.mark.usefixtures("no_network")
@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        ([], ["--data FOLDER", "--dataset"]),
        (["--data", "D", "--dataset", "x"], ["give one of them"]),
        (["--data", "missing-folder"], ["missing-folder", "does not exist"]),
        (["--data", "D", "--timeout-minutes", "0"], ["--timeout-minutes must be at least 1"]),
        (["--data", "D", "--max-trials", "0"], ["--max-trials must be at least 1"]),
        (["--data", "D", "--max-concurrent", "-2"], ["--max-concurrent must be at least 1"]),
        (["--data", "D", "--trial-timeout-minutes", "45"], ["above --timeout-minutes 30"]),
        (["--data", "D", "--max-trials", "2", "--max-concurrent", "3"], ["above --max-trials 2"]),
        (["--data", "D", "--register-as", "m"], ["--register-as needs --wait"]),
        (["--data", "D", "--emit", "job.yml"], ["--emit FILE", "--dry-run"]),
        (["--data", "D", "--dry-run", "--data-asset", "_bad"], ["--data-asset '_bad'"]),
        (["--dataset", "a:b:c", "--dry-run"], ["--dataset 'a:b:c'"]),
        (["--dataset", "x", "--seed", "3"], ["--test-fraction/--seed"]),
        (["--dataset", "x", "--data-asset", "y"], ["--data-asset", "--dataset is used as it is"]),
        (["--data", "D", "--auth", "service-principal"], ["AZURE_CLIENT_ID"]),
    ],
)
def test_bad_options_are_one_line_before_any_login(
    housing_dir: Path, args: list[str], fragments: list[str]
) -> None:
    args = [str(housing_dir) if arg == "D" else arg for arg in args]
    assert_refused(invoke(*args), *fragments)


def test_help_and_option_errors_do_not_import_azure_ai_ml() -> None:
    """`--help` and a refused option stay fast: the SDK (seconds) is loaded only for an action."""
    probe = (
        "import runpy, sys\n"
        "sys.argv = ['jobs.automl', *sys.argv[1:]]\n"
        "try:\n"
        "    runpy.run_module('jobs.automl', run_name='__main__')\n"
        "except SystemExit as done:\n"
        "    code = done.code\n"
        "loaded = sorted(m for m in sys.modules if m.startswith(('azure', 'pandas', 'mlflow')))\n"
        "print(repr(code), loaded, file=sys.stderr)\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("AZURE_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    for args, code in ((["--help"], "0"), (["--data", "x", "--max-trials", "0"], "1")):
        finished = subprocess.run(
            [sys.executable, "-c", probe, *args],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        assert finished.stderr.strip().endswith(f"{code} []"), finished.stderr


def test_help_says_it_is_sdk_v2_only() -> None:
    result = invoke("--help")
    assert result.exit_code == 0
    assert "SDK v2 only" in " ".join(result.stdout.split())
    assert "--sdk" not in result.stdout


# --- past the dry run: the MLClient faked, MLflow real ---------------------------------------


@dataclass
class FakeAsset:
    name: str
    version: str
    type: str = "mltable"


@dataclass
class FakeJob:
    name: str
    status: str
    studio_url: str


@dataclass
class FakeClient:
    """What the MLClient calls saw, and what they answer."""

    tracking_uri: str
    job_name: str = "brave-automl-1"
    final_status: str = "Completed"
    stream_error: Exception | None = None
    assets: dict[tuple[str, str], FakeAsset] = field(default_factory=dict)
    created_assets: list[Any] = field(default_factory=list)
    uploaded: list[list[str]] = field(default_factory=list)
    submitted: list[Any] = field(default_factory=list)
    streamed: list[str] = field(default_factory=list)
    workspace_name: str = "ws-1"

    @property
    def data(self) -> FakeClient:
        return self

    @property
    def jobs(self) -> Any:
        return _Jobs(self)

    @property
    def workspaces(self) -> Any:
        state = self

        class Workspaces:
            def get(self, name: str) -> Any:
                assert name == state.workspace_name
                return type("Ws", (), {"mlflow_tracking_uri": state.tracking_uri})()

        return Workspaces()

    # ml_client.data
    def get(self, name: str, version: str | None = None, label: str | None = None) -> FakeAsset:
        if label == "latest":
            versions = [asset for (n, _), asset in self.assets.items() if n == name]
            if versions:
                return versions[-1]
        elif (name, str(version)) in self.assets:
            return self.assets[(name, str(version))]
        raise ResourceNotFoundError(f"data {name} not found")

    def create_or_update(self, asset: Any) -> FakeAsset:
        self.created_assets.append(asset)
        self.uploaded.append(sorted(p.name for p in Path(asset.path).iterdir()))
        made = FakeAsset(asset.name, asset.version, asset.type)
        self.assets[(asset.name, asset.version)] = made
        return made


@dataclass
class _Jobs:
    state: FakeClient

    def create_or_update(self, job: Any) -> FakeJob:
        self.state.submitted.append(job)
        return FakeJob(
            self.state.job_name, "Starting", f"https://ml.azure.com/runs/{self.state.job_name}"
        )

    def stream(self, name: str) -> None:
        self.state.streamed.append(name)
        if self.state.stream_error is not None:
            raise self.state.stream_error

    def get(self, name: str) -> FakeJob:
        return FakeJob(name, self.state.final_status, f"https://ml.azure.com/runs/{name}")


@pytest.fixture
def fake_client(monkeypatch: pytest.MonkeyPatch, mlflow_server: LocalServer) -> FakeClient:
    state = FakeClient(tracking_uri=mlflow_server.uri)
    monkeypatch.setattr(v2_client, "ml_client", lambda ref, environ=None: state)
    for name in ("AZURE_CLIENT_ID", "AZURE_TENANT_ID", "AZURE_CLIENT_SECRET"):
        monkeypatch.delenv(name, raising=False)
    return state


def automl_runs(server: LocalServer, housing_dir: Path, tmp_path: Path, experiment: str) -> str:
    """An AutoML parent run as AutoML leaves it: two trials, the better one named by the tag,
    each trial's MLflow model under outputs/mlflow-model. Returns the parent's id (the job)."""
    client = MlflowClient(server.uri)
    experiment_id = client.create_experiment(experiment)
    parent = client.create_run(experiment_id).info.run_id
    split = housing.load(housing_dir, 0.2, 42)
    children = []
    for index, nrmse in enumerate((0.09, 0.05)):
        child = client.create_run(
            experiment_id,
            tags={"mlflow.parentRunId": parent, "run_algorithm": f"Algo{index}"},
            run_name=f"{parent}_{index}",
        ).info.run_id
        for name, value in (
            ("normalized_root_mean_squared_error", nrmse),
            ("mean_absolute_error", 30_000.0 + index),
            ("root_mean_squared_error", 45_000.0 + index),
        ):
            client.log_metric(child, name, value)
        model = Pipeline([("features", housing.HousingFeatures()), ("linear", LinearRegression())])
        model.fit(split.x_train, split.y_train)
        saved = tmp_path / f"model-{index}"
        # AutoML pickles its models; skops would refuse the project's own transformer here.
        mlflow.sklearn.save_model(
            model, saved, serialization_format=mlflow.sklearn.SERIALIZATION_FORMAT_CLOUDPICKLE
        )
        client.log_artifacts(child, str(saved), "outputs/mlflow-model")
        client.set_terminated(child)
        children.append(child)
    client.set_tag(parent, automl_best.BEST_CHILD_TAG, children[1])
    client.set_terminated(parent)
    return parent


@pytest.mark.integration
def test_a_submit_registers_the_table_once_and_sends_the_job(
    fake_client: FakeClient, housing_dir: Path, config: Path
) -> None:
    first = invoke("--data", str(housing_dir), "--workspace-config", str(config))
    assert first.exit_code == 0, first.output
    answer = json.loads(first.stdout)
    version = answer["data_asset"]["version"]
    assert answer["data_asset"] == {"name": "housing-mltable", "version": version, "created": True}
    assert answer["job"] == fake_client.job_name and answer["status"] == "Starting"
    (asset,) = fake_client.created_assets
    assert (asset.type, asset.version) == ("mltable", version)
    assert fake_client.uploaded == [["MLTable", "housing.csv"]]
    assert not Path(asset.path).exists(), "the staging folder is temporary"
    job = fake_client.submitted[0]
    assert type(job).__name__ == "RegressionJob"
    assert job.training_data.path == f"azureml:housing-mltable:{version}"
    assert job.target_column_name == "median_house_value"
    assert fake_client.streamed == [], "without --wait the submitter returns after submitting"

    again = invoke("--data", str(housing_dir), "--workspace-config", str(config))
    assert again.exit_code == 0, again.output
    assert json.loads(again.stdout)["data_asset"]["created"] is False
    assert len(fake_client.created_assets) == 1, "unchanged rows reuse their version"
    assert "reused unchanged" in again.stderr


@pytest.mark.integration
def test_an_existing_dataset_must_be_a_table_and_is_pinned(
    fake_client: FakeClient, config: Path
) -> None:
    fake_client.assets[("housing", "2")] = FakeAsset("housing", "2", "uri_folder")
    refused = invoke("--dataset", "housing", "--workspace-config", str(config))
    assert_refused(refused, "housing:2 is a uri_folder", "mltable")
    fake_client.assets[("housing-table", "5")] = FakeAsset("housing-table", "5")
    result = invoke("--dataset", "housing-table", "--workspace-config", str(config))
    assert result.exit_code == 0, result.output
    assert fake_client.submitted[0].training_data.path == "azureml:housing-table:5"
    assert fake_client.created_assets == []


@pytest.mark.integration
def test_wait_reports_and_registers_the_best_trial(
    fake_client: FakeClient,
    mlflow_server: LocalServer,
    housing_dir: Path,
    config: Path,
    tmp_path: Path,
    request: pytest.FixtureRequest,
) -> None:
    fake_client.job_name = automl_runs(mlflow_server, housing_dir, tmp_path, request.node.name)
    name = f"automl-{request.node.name}"[:60]
    args = ["--data", str(housing_dir), "--workspace-config", str(config), "--wait"]
    result = invoke(*args, "--register-as", name)
    assert result.exit_code == 0, result.output
    answer = json.loads(result.stdout)
    assert fake_client.streamed == [fake_client.job_name]
    best = answer["best"]
    assert best["name"] == f"{fake_client.job_name}_1"
    assert best["algorithm"] == "Algo1"
    assert best["primary_metric"] == {"name": "normalized_root_mean_squared_error", "value": 0.05}
    assert best["metrics"]["mean_absolute_error"] == 30_001.0
    assert best["model_uri"] == f"runs:/{best['run_id']}/outputs/mlflow-model"
    assert answer["model"] == {"name": name, "version": "1", "run_id": best["run_id"]}

    client = MlflowClient(mlflow_server.uri, registry_uri=mlflow_server.uri)
    version = client.get_model_version(name, "1")
    assert version.tags["source"] == "azureml-automl"
    assert version.tags["automl_job"] == fake_client.job_name
    assert version.tags["normalized_root_mean_squared_error"] == "0.05"
    assert version.tags["validation_mae"] == "30001"
    assert "test_mae" not in version.tags, "AutoML's validation figures must not pass for test MAE"
    assert version.tags["data"] == "california-housing"
    local = mlflow.artifacts.download_artifacts(
        artifact_uri=version.source, tracking_uri=mlflow_server.uri, dst_path=str(tmp_path / "m")
    )
    model = mlflow.pyfunc.load_model(local)
    features = housing.load(housing_dir, 0.2, 42).x_test.head(3)
    assert len(model.predict(features)) == 3

    again = invoke(*args, "--register-as", name)
    assert again.exit_code == 0, again.output
    assert json.loads(again.stdout)["model"]["version"] == "1", "a rerun registers nothing new"


@pytest.mark.integration
def test_a_failed_job_is_one_line_with_its_status_and_error(
    fake_client: FakeClient, housing_dir: Path, config: Path
) -> None:
    fake_client.final_status = "Failed"
    body = {"code": "UserError", "message": "No trial finished\nmore detail"}
    fake_client.stream_error = JobException(  # as `jobs.stream` raises it for a failed job
        message="Exception : \n " + json.dumps(body, indent=4),
        no_personal_data_message="Exception raised on failed job.",
    )
    result = invoke("--data", str(housing_dir), "--workspace-config", str(config), "--wait")
    assert result.exit_code == 1
    *progress, last = result.stderr.strip().splitlines()
    assert not any(line.startswith("error:") for line in progress), result.stderr
    url = f"https://ml.azure.com/runs/{fake_client.job_name}"
    expected = f"error: AutoML job {fake_client.job_name} ended Failed: {url} (No trial finished)"
    assert last == expected
    assert result.stdout == ""


@pytest.mark.integration
def test_a_completed_job_without_a_best_trial_is_a_failure(
    mlflow_server: LocalServer, request: pytest.FixtureRequest
) -> None:
    client = MlflowClient(mlflow_server.uri)
    parent = client.create_run(client.create_experiment(request.node.name)).info.run_id
    with pytest.raises(Exception, match="has no 'automl_best_child_run_id' tag"):
        automl_best.best_trial(mlflow_server.uri, parent)


def test_version_tags_say_where_the_model_came_from() -> None:
    request = AutoMLRequest(AssetRef("housing-mltable", "abc"), Limits(), split=Split(0.25, 7))
    best = automl_best.BestTrial(
        "run-9", "job_9", {"normalized_root_mean_squared_error": 0.0512345, "r2_score": 0.8}
    )
    tags = automl_best.version_tags(request, "job", best)
    assert tags["task"] == "housing-automl"
    assert tags["primary_metric"] == "normalized_root_mean_squared_error"
    assert tags["normalized_root_mean_squared_error"] == "0.0512345"
    assert tags["training_data"] == "housing-mltable:abc"
    assert (tags["split/test_fraction"], tags["split/seed"]) == ("0.25", "7")
    assert "validation_mae" not in tags

"""The housing sweep against the real local server: nested trial runs (`trial-N`) with the
sampled params, terminated trials KILLED with the policy's reason and fewer epochs, the best
completed trial named, linked, reported and registered, the policy's cut-off in `trials.png`,
and a failed trial recorded FAILED while the sweep goes on."""

from __future__ import annotations

from pathlib import Path

import mlflow.pyfunc
import numpy as np
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient

from tracking_demo import registry
from tracking_demo.data import housing as housing_data
from tracking_demo.sweep import space as search_space
from tracking_demo.sweep.runner import (
    CUTOFF_LABEL,
    EVALUATIONS_FILE,
    SweepOptions,
    SweepResult,
    TrialOutcome,
    run_sweep,
    trials_figure,
)
from tracking_demo.tasks import housing
from tracking_demo.tracking import tags
from tracking_demo.tracking.session import TrackingSession
from tracking_demo.tracking.settings import TrackingSettings

pytestmark = pytest.mark.integration
REGISTERED = "housing-sweep-best-it"
# The quick sweep file: every combination once (4 trials); lr 1e-5 barely moves from the mean
# price, so once a lr 0.01 trial has reported, the bandit must stop the lr 1e-5 trials.
SPACE = search_space.packaged_space_text(search_space.QUICK_SPACE_RESOURCE)


@pytest.fixture(scope="module")
def housing_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return housing_data.write(
        housing_data.HousingSpec(n_rows=3000), tmp_path_factory.mktemp("housing")
    )


def _first_seed_starting_with_a_good_trial(spec: search_space.SweepSpec) -> int:
    for seed in range(100):
        trials = search_space.sample(spec.parameters, spec.max_trials, seed)
        if trials[0]["learning_rate"] == 0.01:
            return seed
    raise AssertionError("no seed puts a lr 0.01 trial first")


@pytest.fixture(scope="module")
def spec(tmp_path_factory: pytest.TempPathFactory) -> search_space.SweepSpec:
    path = tmp_path_factory.mktemp("space") / "space.yaml"
    path.write_text(SPACE)
    return search_space.load(path, housing.TUNABLE)


@pytest.fixture(scope="module")
def sweep(mlflow_server, housing_file: Path, spec: search_space.SweepSpec) -> SweepResult:  # type: ignore[no-untyped-def]
    options = SweepOptions(
        housing.SplitOptions(housing_file),
        spec,
        seed=_first_seed_starting_with_a_good_trial(spec),
        register_as=REGISTERED,
    )
    session = TrackingSession(TrackingSettings(uri=mlflow_server.uri, experiment="sweep-it"))
    return run_sweep(options, session)


def _client(server) -> MlflowClient:  # type: ignore[no-untyped-def]
    return MlflowClient(tracking_uri=server.uri)


def _children(client: MlflowClient, parent_id: str) -> list:  # type: ignore[type-arg]
    experiment = client.get_run(parent_id).info.experiment_id
    return client.search_runs(
        [experiment], filter_string=f"tags.mlflow.parentRunId = '{parent_id}'"
    )


def test_runs_are_named_sweep_and_trial_n_in_sampling_order(mlflow_server, sweep, spec) -> None:  # type: ignore[no-untyped-def]
    client = _client(mlflow_server)
    parent = client.get_run(sweep.run_id)
    assert parent.info.run_name == f"sweep-housing-mlp-{sweep.run_id[:6]}"
    seed = _first_seed_starting_with_a_good_trial(spec)
    sampled = search_space.sample(spec.parameters, spec.max_trials, seed)
    assert [t.index for t in sweep.trials] == [1, 2, 3, 4]
    for trial, params in zip(sweep.trials, sampled, strict=True):
        assert client.get_run(trial.run_id).info.run_name == f"trial-{trial.index}"
        assert trial.params == params
    names = {run.info.run_name for run in _children(client, sweep.run_id)}
    assert names == {"trial-1", "trial-2", "trial-3", "trial-4"}


def test_each_trial_is_a_nested_run_with_its_sampled_params(mlflow_server, sweep) -> None:  # type: ignore[no-untyped-def]
    children = _children(_client(mlflow_server), sweep.run_id)
    assert len(children) == 4
    by_id = {run.info.run_id: run for run in children}
    combinations = set()
    for trial in sweep.trials:
        params = by_id[trial.run_id].data.params
        assert float(params["learning_rate"]) == trial.params["learning_rate"]
        assert int(params["epochs"]) == trial.params["epochs"]
        assert params["batch_size"] == "50" and params["first_layer_units"] == "8"
        combinations.add((trial.params["learning_rate"], trial.params["epochs"]))
    assert len(combinations) == 4  # the whole 2x2 space, no trial repeated


def test_terminated_trials_end_killed_with_reason_and_metrics(mlflow_server, sweep) -> None:  # type: ignore[no-untyped-def]
    client = _client(mlflow_server)
    slow = [t for t in sweep.trials if t.params["learning_rate"] == 0.00001]
    assert slow and all(t.status == "terminated" for t in slow)
    for trial in sweep.trials:
        run = client.get_run(trial.run_id)
        epochs = sorted(m.step for m in client.get_metric_history(trial.run_id, "val_mae"))
        losses = sorted(m.step for m in client.get_metric_history(trial.run_id, "loss"))
        assert losses == epochs
        tag = run.data.tags[tags.TRIAL_STATUS]
        assert tags.ERROR not in run.data.tags
        if trial.params["learning_rate"] == 0.01:
            assert run.info.status == "FINISHED"
            assert tag == "completed"
            assert epochs == list(range(1, int(trial.params["epochs"]) + 1))
        else:
            assert run.info.status == "KILLED"
            assert tag == "terminated"
            stopped = int(run.data.tags[tags.TERMINATED_AT_EPOCH])
            assert trial.terminated_at == stopped
            assert epochs == list(range(1, stopped + 1))
            assert stopped < int(trial.params["epochs"])
            assert "outside the slack" in run.data.tags[tags.TERMINATION_REASON]
            description = run.data.tags["mlflow.note.content"]
            assert description.startswith(
                f"**Stopped by the sweep's early-termination policy at epoch {stopped}** "
                "(policy bandit, slack_factor 0.1, evaluation_interval 1, delay_evaluation 0): "
                "its best val_mae so far, "
            )
            assert "is above the policy's cut-off" in description
            assert run.data.metrics["epochs_trained"] == stopped
            artifacts = {a.path for a in client.list_artifacts(trial.run_id)}
            assert "training_curves.png" in artifacts
            assert registry.run_model_files(client, trial.run_id) == []
    assert sweep.terminated_share == pytest.approx(0.5)


def test_parent_reports_the_truly_best_completed_trial(mlflow_server, sweep) -> None:  # type: ignore[no-untyped-def]
    client = _client(mlflow_server)
    final = {}
    for run in _children(client, sweep.run_id):
        if run.data.tags.get(tags.TRIAL_STATUS) == "completed":
            history = client.get_metric_history(run.info.run_id, "val_mae")
            final[run.info.run_id] = max(history, key=lambda m: m.step).value
    best_id = min(final, key=final.__getitem__)
    parent = client.get_run(sweep.run_id)
    assert parent.info.status == "FINISHED"
    assert parent.data.tags["tracking_demo.best_trial_run_id"] == best_id == sweep.best.run_id
    best_name = client.get_run(best_id).info.run_name
    assert parent.data.tags["tracking_demo.best_trial"] == best_name == sweep.best.name
    link = f"[{best_name}](#/experiments/{parent.info.experiment_id}/runs/{best_id})"
    assert f"**Best trial: {link}**" in parent.data.tags["mlflow.note.content"]
    assert parent.data.tags["mlflow.note.content"].startswith(
        "Housing MLP sweep: 4 trials, 2 completed, 2 stopped by the early-termination policy, "
        "0 failed; minimize val_mae."
    )
    assert parent.data.metrics["best_final_val_mae"] == pytest.approx(final[best_id])
    assert parent.data.metrics["terminated_share"] == pytest.approx(0.5)
    assert parent.data.params["sweep/policy/slack_factor"] == "0.1"
    assert parent.data.params["best/learning_rate"] == "0.01"
    artifacts = {a.path for a in client.list_artifacts(sweep.run_id)}
    assert {"trials.csv", "trials.png", "sweep", "trial_logs"} <= artifacts


def test_sweep_run_records_how_long_its_workers_took_to_start(mlflow_server, sweep) -> None:  # type: ignore[no-untyped-def]
    # Warm workers (the default) import TensorFlow before the first trial: part of the wall time.
    metrics = _client(mlflow_server).get_run(sweep.run_id).data.metrics
    assert 0 < metrics["workers_startup_s"] < metrics["sweep_wall_time_s"]


def test_trials_png_draws_the_cut_off_the_policy_applied(  # type: ignore[no-untyped-def]
    mlflow_server, sweep, spec, tmp_path: Path
) -> None:
    client = _client(mlflow_server)
    logged = pd.read_csv(client.download_artifacts(sweep.run_id, EVALUATIONS_FILE, str(tmp_path)))
    by_trial = {t.name: t for t in sweep.trials}
    assert len(logged) == len(sweep.evaluations) > 0
    for row, evaluation in zip(logged.itertuples(), sweep.evaluations, strict=True):
        assert (row.trial, row.epoch, row.stopped) == (
            f"trial-{evaluation.trial}",
            evaluation.epoch,
            evaluation.stopped,
        )
        assert row.cutoff == pytest.approx(evaluation.leader * 1.1)  # slack_factor 0.1
        trial = by_trial[row.trial]
        # the decision the trial acted on: stopped there iff its best lay beyond the cut-off
        assert row.stopped == (row.best > row.cutoff) == (trial.terminated_at == row.epoch)
    for trial in sweep.trials:
        if trial.status == "terminated":
            assert trial.terminated_at in set(logged[logged.trial == trial.name].epoch)
    # the figure logged as trials.png: the cut-off line has one point per evaluation epoch, the
    # strictest (lowest) cut-off the policy applied there
    (axes,) = trials_figure(sweep.trials, spec.primary_metric, sweep.evaluations).axes
    (line,) = [line for line in axes.get_lines() if line.get_label() == CUTOFF_LABEL]
    strictest = logged.groupby("epoch").cutoff.min()
    assert list(line.get_xdata()) == list(strictest.index)
    assert list(line.get_ydata()) == pytest.approx(list(strictest.values))


def test_registered_best_model_predicts(mlflow_server, sweep, housing_file: Path) -> None:  # type: ignore[no-untyped-def]
    client = _client(mlflow_server)
    version = client.get_model_version(REGISTERED, sweep.registered_version)
    assert version.run_id == sweep.best.run_id
    mlflow.set_tracking_uri(mlflow_server.uri)
    model = mlflow.pyfunc.load_model(f"models:/{REGISTERED}/{sweep.registered_version}")
    split = housing_data.load(housing_file)
    predicted = np.asarray(model.predict(split.x_test)).reshape(-1)
    mae = float(np.mean(np.abs(predicted - split.y_test)))
    assert mae == pytest.approx(sweep.best.metrics["test_mae"], rel=1e-4)


def test_a_failed_trial_is_recorded_failed_and_the_sweep_goes_on(  # type: ignore[no-untyped-def]
    mlflow_server, housing_file: Path, tmp_path: Path
) -> None:
    data = tmp_path / "housing.csv"
    data.write_bytes(housing_file.read_bytes())
    spec = search_space.load(None, housing.TUNABLE).with_overrides(3, 1, early_termination=False)
    spec = search_space.SweepSpec(
        {**spec.parameters, "epochs": search_space.Choice((1,))},
        spec.primary_metric,
        None,
        3,
        1,
    )

    def break_the_data_after_the_first(trial: TrialOutcome) -> None:
        if trial.index == 1:
            text = data.read_text().splitlines()
            text[1] = text[1].replace(",", ",abc,", 1)
            data.write_text("\n".join(text))

    session = TrackingSession(TrackingSettings(uri=mlflow_server.uri, experiment="sweep-fail-it"))
    result = run_sweep(
        SweepOptions(housing.SplitOptions(data), spec, seed=3),
        session,
        progress=break_the_data_after_the_first,
    )
    client = _client(mlflow_server)
    assert [t.status for t in result.trials] == ["completed", "failed", "failed"]
    for trial in result.trials[1:]:
        run = client.get_run(trial.run_id)
        assert run.info.status == "FAILED"
        assert "must be numeric" in run.data.tags[tags.ERROR]
    assert result.best.index == 1
    assert [t.name for t in result.trials] == ["trial-1", "trial-2", "trial-3"]
    parent = client.get_run(result.run_id)
    assert parent.info.status == "FINISHED"
    assert parent.data.metrics["trials_failed"] == 2

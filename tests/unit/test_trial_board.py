from __future__ import annotations

import math
import multiprocessing
import re
import types
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tracking_demo.errors import ConfigError
from tracking_demo.sweep.board import Evaluation, TrialBoard
from tracking_demo.sweep.space import BanditPolicy, PrimaryMetric

MAE = PrimaryMetric("val_mae", "minimize")
BANDIT = BanditPolicy(slack_factor=0.1, evaluation_interval=2, delay_evaluation=0)
WRITERS = 4
REPORTS_PER_WRITER = 60

if TYPE_CHECKING:
    # Imported where used: the spawned writers import this module, and Keras takes seconds.
    from tracking_demo.sweep.bandit import BanditCallback


def test_settings_round_trip(tmp_path: Path) -> None:
    policy = BanditPolicy(slack_factor=None, slack_amount=0.5, evaluation_interval=3)
    board = TrialBoard.create(tmp_path / "board.sqlite", PrimaryMetric("acc", "maximize"), policy)
    assert TrialBoard(board.path).settings() == (PrimaryMetric("acc", "maximize"), policy)


def test_settings_round_trip_without_a_policy(tmp_path: Path) -> None:
    board = TrialBoard.create(tmp_path / "board.sqlite", MAE, None)
    assert TrialBoard(board.path).settings() == (MAE, None)


def test_missing_board_is_a_config_error(tmp_path: Path) -> None:
    missing = tmp_path / "none.sqlite"
    with pytest.raises(
        ConfigError, match=rf"{re.escape(str(missing))}: the sweep's trial board does not exist"
    ):
        TrialBoard(missing).settings()
    assert not missing.exists()


def test_best_at_looks_only_at_that_epoch(tmp_path: Path) -> None:
    board = TrialBoard.create(tmp_path / "board.sqlite", MAE, BANDIT)
    board.report(0, 1, 100.0)
    board.report(0, 2, 90.0)
    board.report(1, 1, 120.0)
    board.report(1, 2, 80.0)
    board.report(2, 3, 10.0)
    assert board.best_at(1, "minimize") == 100.0
    assert board.best_at(2, "minimize") == 80.0
    assert board.best_at(1, "maximize") == 120.0
    assert board.best_at(2, "maximize") == 90.0
    assert board.best_at(4, "minimize") is None
    assert board.reports() == {0: {1: 100.0, 2: 90.0}, 1: {1: 120.0, 2: 80.0}, 2: {3: 10.0}}


def test_a_report_replaces_the_trials_earlier_one_for_that_epoch(tmp_path: Path) -> None:
    board = TrialBoard.create(tmp_path / "board.sqlite", MAE, BANDIT)
    board.report(0, 1, 100.0)
    board.report(0, 1, 95.0)
    assert board.reports() == {0: {1: 95.0}}


def test_nan_reports_are_ignored_by_best_at(tmp_path: Path) -> None:
    board = TrialBoard.create(tmp_path / "board.sqlite", MAE, BANDIT)
    board.report(0, 1, math.nan)
    assert board.best_at(1, "minimize") is None
    board.report(1, 1, 50.0)
    assert board.best_at(1, "minimize") == 50.0


def _write_reports(path: str, trial: int) -> None:
    board = TrialBoard(Path(path))
    for epoch in range(1, REPORTS_PER_WRITER + 1):
        board.report(trial, epoch, float(trial * 1000 + epoch))


def test_concurrent_writers_all_land(tmp_path: Path) -> None:
    board = TrialBoard.create(tmp_path / "board.sqlite", MAE, BANDIT)
    context = multiprocessing.get_context("spawn")
    workers = [
        context.Process(target=_write_reports, args=(str(board.path), trial))
        for trial in range(WRITERS)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)
    assert [w.exitcode for w in workers] == [0] * WRITERS
    reports = board.reports()
    assert sorted(reports) == list(range(WRITERS))
    for trial, by_epoch in reports.items():
        assert by_epoch == {
            epoch: float(trial * 1000 + epoch) for epoch in range(1, REPORTS_PER_WRITER + 1)
        }


# --- the Keras callback, driven without training ---------------------------------------------


def _callback(board: TrialBoard, trial: int) -> BanditCallback:
    from tracking_demo.sweep.bandit import BanditCallback

    callback = BanditCallback(board, trial)
    callback.set_model(types.SimpleNamespace(stop_training=False))
    return callback


def _trial(board: TrialBoard, trial: int, values: list[float]) -> BanditCallback:
    """Run the callback as Keras would, epoch by epoch, stopping when told."""
    callback = _callback(board, trial)
    for epoch, value in enumerate(values):
        callback.on_epoch_end(epoch, {"val_mae": value, "loss": 1.0})
        if callback.model.stop_training:
            break
    return callback


@pytest.fixture
def board(tmp_path: Path) -> TrialBoard:
    return TrialBoard.create(tmp_path / "board.sqlite", MAE, BANDIT)


def test_a_trial_outside_the_slack_of_the_leader_stops(board: TrialBoard) -> None:
    leader = _trial(board, 0, [100.0, 90.0])
    assert leader.terminated_at is None and not leader.model.stop_training
    lagging = _trial(board, 1, [120.0, 115.0, 50.0])
    assert lagging.model.stop_training is True
    assert lagging.terminated_at == 2
    assert lagging.reason == (
        "val_mae 115 at epoch 2 is outside the slack of the best 90 (limit 99)"
    )
    assert board.reports()[1] == {1: 120.0, 2: 115.0}


def test_a_trial_within_the_slack_runs_on(board: TrialBoard) -> None:
    _trial(board, 0, [100.0, 90.0])
    close = _trial(board, 1, [120.0, 95.0, 93.0, 92.0])
    assert close.terminated_at is None and close.reason is None
    assert close.model.stop_training is False
    assert board.reports()[1] == {1: 120.0, 2: 95.0, 3: 93.0, 4: 92.0}


def test_the_first_trial_at_an_epoch_is_its_own_leader(board: TrialBoard) -> None:
    first = _trial(board, 0, [500.0, 400.0, 300.0, 250.0])
    assert first.terminated_at is None
    assert board.best_at(4, "minimize") == 250.0


def test_only_evaluation_epochs_are_checked(board: TrialBoard) -> None:
    _trial(board, 0, [100.0, 90.0, 10.0, 10.0])
    lagging = _trial(board, 1, [95.0, 95.0, 95.0, 95.0])
    assert lagging.terminated_at == 4
    assert lagging.reason is not None and "best 10 (limit 11)" in lagging.reason


def test_without_a_policy_no_trial_stops(tmp_path: Path) -> None:
    board = TrialBoard.create(tmp_path / "board.sqlite", MAE, None)
    _trial(board, 0, [100.0, 90.0, 80.0, 70.0])
    lagging = _trial(board, 1, [1000.0, 900.0, 800.0, 700.0])
    assert lagging.terminated_at is None and lagging.model.stop_training is False
    assert board.reports()[1] == {1: 1000.0, 2: 900.0, 3: 800.0, 4: 700.0}


def test_the_callback_keeps_the_best_so_far(board: TrialBoard) -> None:
    _trial(board, 0, [100.0, 98.0, 97.0, 96.0])
    trial = _trial(board, 1, [90.0, 200.0, 200.0, 200.0])
    assert board.reports()[1] == {1: 90.0, 2: 90.0, 3: 90.0, 4: 90.0}
    assert trial.best == 90.0
    assert trial.terminated_at is None


def test_a_missing_metric_counts_as_nan_and_stops_at_evaluation(board: TrialBoard) -> None:
    _trial(board, 0, [100.0, 90.0])
    callback = _callback(board, 1)
    callback.on_epoch_end(0, {"loss": 3.0})
    callback.on_epoch_end(1, {"loss": 2.0})
    assert callback.terminated_at == 2 and callback.model.stop_training is True


def test_maximize_goal_stops_a_trial_below_the_slack(tmp_path: Path) -> None:
    metric = PrimaryMetric("val_accuracy", "maximize")
    board = TrialBoard.create(tmp_path / "board.sqlite", metric, BANDIT)

    def run(trial: int, values: list[float]) -> BanditCallback:
        callback = _callback(board, trial)
        for epoch, value in enumerate(values):
            callback.on_epoch_end(epoch, {"val_accuracy": value})
        return callback

    assert run(0, [0.8, 0.99]).terminated_at is None
    assert run(1, [0.85, 0.91]).terminated_at is None
    assert run(2, [0.85, 0.89]).terminated_at == 2


def test_a_diverged_trial_stops_at_once(board: TrialBoard) -> None:
    _trial(board, 0, [100.0, 90.0, 80.0])
    diverged = _trial(board, 1, [95.0, 85.0, math.nan, 70.0])
    assert diverged.terminated_at == 3
    assert diverged.reason == "val_mae is NaN at epoch 3: the trial diverged"


def test_each_evaluation_is_kept_with_the_cut_off_the_policy_used(board: TrialBoard) -> None:
    _trial(board, 0, [100.0, 90.0, 80.0, 70.0])
    _trial(board, 1, [120.0, 95.0, 95.0])
    limit_2, limit_4 = BANDIT.allowed(90.0, "minimize"), BANDIT.allowed(70.0, "minimize")
    assert board.evaluations() == [  # evaluation_interval 2: epochs 2 and 4 only
        Evaluation(0, 2, 90.0, 90.0, limit_2, stopped=False),
        Evaluation(0, 4, 70.0, 70.0, limit_4, stopped=False),
        Evaluation(1, 2, 95.0, 90.0, limit_2, stopped=False),
    ]
    _trial(board, 2, [130.0, 125.0])
    assert board.evaluations()[-1] == Evaluation(2, 2, 125.0, 90.0, limit_2, stopped=True)


def test_a_stopped_trial_describes_the_policy_and_the_values_it_compared(
    board: TrialBoard,
) -> None:
    _trial(board, 0, [100.0, 90.0])
    lagging = _trial(board, 1, [120.0, 115.0, 50.0])
    assert lagging.description == (
        "**Stopped by the sweep's early-termination policy at epoch 2** (policy bandit, "
        "slack_factor 0.1, evaluation_interval 2, delay_evaluation 0): its best val_mae so far, "
        "115, is above the policy's cut-off 99, computed from the best val_mae any trial had "
        "reached by epoch 2, 90.\n\nThe run ends KILLED (Azure ML shows a trial its policy "
        "stops as Canceled); its per-epoch metrics up to the stop are kept and it saved no model."
    )
    running = _trial(board, 2, [100.0, 92.0])
    assert running.description is None

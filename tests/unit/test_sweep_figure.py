"""What the sweep's parent run shows: `trials.png` draws the cut-off the policy applied at each
evaluation epoch (from the board's record), and the description names and links the best trial."""

from __future__ import annotations

import pytest

from tracking_demo.sweep.board import Evaluation
from tracking_demo.sweep.runner import (
    CUTOFF_LABEL,
    TrialOutcome,
    policy_cutoffs,
    sweep_description,
    trials_figure,
)
from tracking_demo.sweep.space import PrimaryMetric
from tracking_demo.tasks.figures import training_curves_figure
from tracking_demo.tracking.session import RunHandle

MAE = PrimaryMetric("val_mae", "minimize")


def _trials() -> list[TrialOutcome]:
    return [
        TrialOutcome(1, "a" * 32, {"learning_rate": 0.01}, "completed", curve=[100.0, 90.0, 80.0]),
        TrialOutcome(
            2, "b" * 32, {"learning_rate": 1e-5}, "terminated", terminated_at=2, curve=[130, 125]
        ),
        TrialOutcome(3, "c" * 32, {"learning_rate": 0.001}, "completed", curve=[99.0, 95.0, 85.0]),
    ]


# Trial 3 ran beside trial 1: at epoch 2 it was evaluated before trial 1 reported 90 (cut-off
# from 95), trial 2 after it (cut-off from 90, the strictest one used at epoch 2).
EVALUATIONS = [
    Evaluation(3, 2, 95.0, 95.0, 104.5, stopped=False),
    Evaluation(1, 2, 90.0, 90.0, 99.0, stopped=False),
    Evaluation(2, 2, 125.0, 90.0, 99.0, stopped=True),
    Evaluation(1, 3, 80.0, 80.0, 88.0, stopped=False),
    Evaluation(3, 3, 85.0, 80.0, 88.0, stopped=False),
]


def _line(figure, label: str):  # type: ignore[no-untyped-def]
    (axes,) = figure.axes
    found = [line for line in axes.get_lines() if line.get_label() == label]
    assert len(found) == 1, [line.get_label() for line in axes.get_lines()]
    return found[0]


def test_the_figure_draws_the_strictest_cut_off_used_at_each_evaluation_epoch() -> None:
    figure = trials_figure(_trials(), MAE, EVALUATIONS)
    line = _line(figure, CUTOFF_LABEL)
    assert list(line.get_xdata()) == [2, 3]
    assert list(line.get_ydata()) == [99.0, 88.0]
    stops = _line(figure, "stopped: best val_mae so far beyond the cut-off")
    assert list(stops.get_xdata()) == [2] and list(stops.get_ydata()) == [125.0]
    assert _line(figure, "trial-2 (terminated at epoch 2)").get_linestyle() == "--"
    assert _line(figure, "trial-1 (completed) best").get_linewidth() == 2.5


def test_maximize_keeps_the_highest_cut_off_of_an_epoch() -> None:
    evaluations = [
        Evaluation(1, 2, 0.8, 0.8, 0.72, stopped=False),
        Evaluation(2, 2, 0.7, 0.9, 0.81, stopped=True),
    ]
    assert policy_cutoffs(evaluations, "maximize") == {2: 0.81}


def test_without_a_policy_there_is_no_cut_off_line() -> None:
    (axes,) = trials_figure(_trials(), MAE).axes
    assert CUTOFF_LABEL not in [line.get_label() for line in axes.get_lines()]


def test_the_description_links_the_best_trial_by_its_run_name() -> None:
    trials = _trials()
    text = sweep_description(trials, trials[0], MAE, RunHandle("p" * 32, "7"))
    assert text == (
        "Housing MLP sweep: 3 trials, 2 completed, 1 stopped by the early-termination policy, "
        "0 failed; minimize val_mae.\n\n"
        f"**Best trial: [trial-1](#/experiments/7/runs/{'a' * 32})**, final val_mae 80, "
        "with learning_rate 0.01."
    )


def test_the_description_of_a_sweep_without_a_completed_trial_says_so() -> None:
    text = sweep_description(_trials()[1:2], None, MAE, RunHandle("p" * 32, "7"))
    assert text.endswith("No trial completed, so there is no best trial.")


@pytest.mark.parametrize("stopped_at", [2, None])
def test_a_stopped_runs_curves_mark_the_stop(stopped_at: int | None) -> None:
    history = {"loss": [3.0, 2.0], "val_loss": [3.5, 2.5], "mae": [1.0, 0.9]}
    figure = training_curves_figure(history, ("loss", "mae"), stopped_at=stopped_at)
    for axes in figure.axes:
        marks = [
            line for line in axes.get_lines() if line.get_label().startswith("stopped by policy")
        ]
        if stopped_at is None:
            assert marks == []
        else:
            (mark,) = marks
            assert mark.get_label() == "stopped by policy at epoch 2"
            assert list(mark.get_xdata()) == [2, 2]

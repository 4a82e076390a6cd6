"""The Keras side of bandit early termination: report each epoch, stop when told (see
`trial_board` for the policy's record shared between trial processes)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import keras

from tracking_demo.sweep.board import Evaluation, TrialBoard
from tracking_demo.sweep.space import describe_policy


class BanditCallback(keras.callbacks.Callback):
    """Reports the primary metric each epoch and stops training when the policy says so."""

    def __init__(self, board: TrialBoard, trial: int) -> None:
        super().__init__()
        self.board = board
        self.trial = trial
        self.metric, self.policy = board.settings()
        self.best = math.nan
        self.terminated_at: int | None = None
        self.reason: str | None = None  # one line, for the trial's termination tag
        self.description: str | None = None  # markdown, for the trial run's description

    def on_epoch_end(self, epoch: int, logs: Mapping[str, Any] | None = None) -> None:
        report = epoch + 1
        value = float((logs or {}).get(self.metric.name, math.nan))
        if math.isnan(self.best) or (
            not math.isnan(value) and self.metric.better(value, self.best)
        ):
            self.best = value
        self.board.report(self.trial, report, self.best)
        if self.policy is not None and math.isnan(value):
            reason = f"{self.metric.name} is NaN at epoch {report}: the trial diverged"
            self._stop(report, reason, f"{reason}.")
            return
        if self.policy is None or not self.policy.evaluates_at(report):
            return
        leader = self.board.best_at(report, self.metric.goal)
        if leader is None:
            return
        limit = self.policy.allowed(leader, self.metric.goal)
        stopped = self.policy.terminates(self.best, leader, self.metric.goal)
        self.board.record(Evaluation(self.trial, report, self.best, leader, limit, stopped))
        if stopped:
            name = self.metric.name
            worse = "above" if self.metric.goal == "minimize" else "below"
            self._stop(
                report,
                f"{name} {self.best:.6g} at epoch {report} is outside the slack of "
                f"the best {leader:.6g} (limit {limit:.6g})",
                f"its best {name} so far, {self.best:.6g}, is {worse} the policy's cut-off "
                f"{limit:.6g}, computed from the best {name} any trial had reached by epoch "
                f"{report}, {leader:.6g}.",
            )

    def _stop(self, report: int, reason: str, detail: str) -> None:
        self.terminated_at = report
        self.reason = reason
        policy = ", ".join(f"{k} {v}" for k, v in describe_policy(self.policy).items())
        self.description = (
            f"**Stopped by the sweep's early-termination policy at epoch {report}** "
            f"({policy}): {detail}\n\n"
            "The run ends KILLED (Azure ML shows a trial its policy stops as Canceled); its "
            "per-epoch metrics up to the stop are kept and it saved no model."
        )
        self.model.stop_training = True

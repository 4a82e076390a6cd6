"""The sweep's shared record of trials, for bandit early termination across processes.

Trials report their primary metric each epoch to one SQLite file (concurrent writers are safe,
there is nothing to run). At each evaluation epoch a trial compares its best value so far with
the best any trial had reached by the same epoch, as HyperDrive's BanditPolicy does, and stops
itself when it falls outside the slack. Trials that start later compare against the full record
of earlier ones, so with one trial at a time the outcome is deterministic. Each evaluation is
kept as the policy made it (the leader and cut-off it used), so the sweep's figure draws the
threshold the trials were actually held to.
"""

from __future__ import annotations

import json
import sqlite3
from contextlib import closing
from dataclasses import asdict, dataclass
from pathlib import Path

from tracking_demo.errors import ConfigError
from tracking_demo.sweep.space import BanditPolicy, PrimaryMetric

BUSY_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class Evaluation:
    """One application of the policy: a trial's best so far against the cut-off at that epoch."""

    trial: int
    epoch: int
    best: float  # the trial's best value so far
    leader: float  # the best value any trial had reached by this epoch
    cutoff: float  # the worst value still within the slack of `leader`
    stopped: bool


class TrialBoard:
    """The sweep's shared record: its policy and metric, and every trial's per-epoch best."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None)

    @classmethod
    def create(cls, path: Path, metric: PrimaryMetric, policy: BanditPolicy | None) -> TrialBoard:
        board = cls(path)
        settings = {
            "metric": metric.name,
            "goal": metric.goal,
            "policy": None if policy is None else asdict(policy),
        }
        with closing(board._connect()) as db:
            db.execute("CREATE TABLE settings (body TEXT NOT NULL)")
            db.execute(
                "CREATE TABLE reports (trial INTEGER, epoch INTEGER, best REAL, "
                "PRIMARY KEY (trial, epoch))"
            )
            db.execute(
                "CREATE TABLE evaluations (trial INTEGER, epoch INTEGER, best REAL, "
                "leader REAL, cutoff REAL, stopped INTEGER)"
            )
            db.execute("INSERT INTO settings VALUES (?)", (json.dumps(settings),))
        return board

    def settings(self) -> tuple[PrimaryMetric, BanditPolicy | None]:
        if not self.path.is_file():
            raise ConfigError(f"{self.path}: the sweep's trial board does not exist")
        with closing(self._connect()) as db:
            (body,) = db.execute("SELECT body FROM settings").fetchone()
        settings = json.loads(body)
        policy = settings["policy"]
        return (
            PrimaryMetric(settings["metric"], settings["goal"]),
            None if policy is None else BanditPolicy(**policy),
        )

    def report(self, trial: int, epoch: int, best: float) -> None:
        with closing(self._connect()) as db:
            db.execute("INSERT OR REPLACE INTO reports VALUES (?, ?, ?)", (trial, epoch, best))

    def best_at(self, epoch: int, goal: str) -> float | None:
        """The best value any trial had reached by `epoch` (NaN reports are ignored)."""
        pick = "MIN" if goal == "minimize" else "MAX"
        with closing(self._connect()) as db:
            (value,) = db.execute(
                f"SELECT {pick}(best) FROM reports WHERE epoch = ? AND best = best", (epoch,)
            ).fetchone()
        return value

    def reports(self) -> dict[int, dict[int, float]]:
        with closing(self._connect()) as db:
            rows = db.execute("SELECT trial, epoch, best FROM reports").fetchall()
        table: dict[int, dict[int, float]] = {}
        for trial, epoch, best in rows:
            table.setdefault(trial, {})[epoch] = best
        return table

    def record(self, evaluation: Evaluation) -> None:
        with closing(self._connect()) as db:
            db.execute(
                "INSERT INTO evaluations VALUES (?, ?, ?, ?, ?, ?)",
                (
                    evaluation.trial,
                    evaluation.epoch,
                    evaluation.best,
                    evaluation.leader,
                    evaluation.cutoff,
                    int(evaluation.stopped),
                ),
            )

    def evaluations(self) -> list[Evaluation]:
        """Every evaluation in the order the policy made them."""
        with closing(self._connect()) as db:
            rows = db.execute(
                "SELECT trial, epoch, best, leader, cutoff, stopped FROM evaluations ORDER BY rowid"
            ).fetchall()
        return [
            Evaluation(trial, epoch, best, leader, cutoff, bool(stopped))
            for trial, epoch, best, leader, cutoff, stopped in rows
        ]

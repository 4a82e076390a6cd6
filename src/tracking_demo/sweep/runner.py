"""The housing MLP sweep: random sampling, trials in parallel processes, bandit termination.

Each trial is the very command a HyperDrive trial runs (`tracking-demo train housing-mlp` with
the sampled options) inside a nested MLflow run that the parent created (`trial-N`, N from 1 in
sampling order), run by a warm worker process or a fresh process of its own (`executors`). A
trial that crashes cannot take the sweep (or its siblings) down: its run ends FAILED (KILLED
when its process was killed), with what it logged delivered, and the sweep goes on. A trial the
policy stops ends its own run KILLED with the reason as its description. The parent run
(`sweep-housing-mlp-<id>`) logs the space, the policy, every trial's outcome (table, and a
figure with the cut-off the policy applied at each evaluation) and names and links the best
completed trial, and registers that trial's model when asked.
"""

from __future__ import annotations

import json
import logging
import math
import os
import shlex
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator
from mlflow.utils.mlflow_tags import MLFLOW_PARENT_RUN_ID, MLFLOW_RUN_NAME, MLFLOW_RUN_NOTE

from tracking_demo.errors import TrackingDemoError
from tracking_demo.sweep import executors, worker
from tracking_demo.sweep import space as search_space
from tracking_demo.sweep.board import Evaluation, TrialBoard
from tracking_demo.sweep.options import SweepOptions
from tracking_demo.tasks import catalog
from tracking_demo.tasks.figures import built_with_literal_text, integer_epochs
from tracking_demo.tasks.housing import registration_tags
from tracking_demo.tracking import tags
from tracking_demo.tracking.session import RunHandle, TrackingSession
from tracking_demo.tracking.wal import RunDir

logger = logging.getLogger(__name__)

POLL_INTERVAL_S = 0.2
# The sweep run's metric: seconds from starting the warm workers until the slowest was ready
# (TensorFlow's import), which the first trials waited for.
WORKERS_STARTUP_METRIC = "workers_startup_s"


class SweepFailedError(TrackingDemoError):
    """No trial of the sweep completed, so there is no best model to report."""


@dataclass
class TrialOutcome:
    index: int
    run_id: str
    params: dict[str, search_space.Value]
    status: str = "queued"  # completed, terminated or failed once done
    terminated_at: int | None = None
    metrics: dict[str, float] = field(default_factory=dict)
    curve: list[float] = field(default_factory=list)
    wall_time_s: float = 0.0
    error: str | None = None
    log_path: Path | None = None

    @property
    def epochs_trained(self) -> int:
        return len(self.curve)

    @property
    def name(self) -> str:
        """The trial's run name, as the UI and the sweep's table and figure show it."""
        return trial_run_name(self.index)


def trial_run_name(index: int) -> str:
    return f"trial-{index}"


def sweep_run_name(run_id: str) -> str:
    """What the parent run is, and which one: the start of its run id keeps names apart."""
    return f"sweep-{catalog.HOUSING_MLP.name}-{run_id[:6]}"


@dataclass(frozen=True)
class SweepResult:
    run_id: str
    trials: list[TrialOutcome]
    best: TrialOutcome
    table: pd.DataFrame
    wall_time_s: float
    registered_name: str | None = None
    registered_version: str | None = None
    evaluations: list[Evaluation] = field(default_factory=list)  # the policy's, in order

    @property
    def terminated_share(self) -> float:
        return sum(t.status == "terminated" for t in self.trials) / len(self.trials)


# --- the trial's command ---------------------------------------------------------------------


def trial_arguments(
    options: SweepOptions, params: Mapping[str, search_space.Value], board: Path, index: int
) -> list[str]:
    """The trial's `tracking-demo` arguments: the `train housing-mlp` a HyperDrive trial runs."""
    return [
        "train",
        catalog.HOUSING_MLP.name,
        "--data",
        str(options.split.data),
        "--test-fraction",
        str(options.split.test_fraction),
        "--seed",
        str(options.split.seed),
        *options.trial_options,
        *search_space.trial_arguments(params),
        "--sweep-board",
        str(board),
        "--trial",
        str(index),
    ]


def trial_variables(session: TrackingSession, run_id: str) -> dict[str, str]:
    """The child run to log into, as Azure ML hands a job its run."""
    return {
        "MLFLOW_TRACKING_URI": session.uri,
        "MLFLOW_RUN_ID": run_id,
        "MLFLOW_EXPERIMENT_NAME": session.settings.experiment,
        "TRACKING_DEMO_RUNS_DIR": str(session.settings.wal_root.absolute()),
    }


def trial_environment(concurrent: int, environ: Mapping[str, str]) -> dict[str, str]:
    """What every trial process or worker starts with: a fair share of the cores."""
    threads = str(max(1, (os.cpu_count() or 1) // concurrent))
    return {
        **environ,
        "TF_NUM_INTRAOP_THREADS": threads,
        "TF_NUM_INTEROP_THREADS": "1",
        "OMP_NUM_THREADS": threads,
        "MPLBACKEND": "Agg",
    }


def trial_runner(options: SweepOptions, logs: Path) -> executors.TrialRunner:
    """The sweep's way of running trials, its workers (if any) already starting."""
    environment = trial_environment(options.spec.max_concurrent, os.environ)
    if options.isolation == "process":
        return executors.FreshProcesses(environment)
    worker.growth_limit_mib(environment)  # a bad setting is one line here, not a dead worker
    workers = executors.WarmWorkers(options.spec.max_concurrent, environment, logs)
    workers.start_all()
    return workers


# --- the parent -------------------------------------------------------------------------------


Progress = Callable[[TrialOutcome], None]


def run_sweep(
    options: SweepOptions, session: TrackingSession, progress: Progress | None = None
) -> SweepResult:
    """Sample, run the trials (at most `max_concurrent` at once), then log the comparison."""
    spec = options.spec
    sampled = search_space.sample(spec.parameters, spec.max_trials, options.seed)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="sweep-") as work:
        runner = trial_runner(options, Path(work) / "logs")
        try:
            return _sweep(options, session, sampled, runner, Path(work), started, progress)
        finally:
            runner.close()


def _sweep(
    options: SweepOptions,
    session: TrackingSession,
    sampled: list[dict[str, search_space.Value]],
    runner: executors.TrialRunner,
    work: Path,
    started: float,
    progress: Progress | None,
) -> SweepResult:
    spec = options.spec
    with session.run(tags={tags.TASK: catalog.HOUSING_SWEEP.name}) as parent:
        if session.settings.run_id is None:  # a run created for us (Azure ML) keeps its name
            session.set_tags({MLFLOW_RUN_NAME: sweep_run_name(parent.run_id)})
        session.log_params(_sweep_params(options, len(sampled)))
        session.log_text(json.dumps(spec.describe(), indent=2), "sweep/space.json")
        board = TrialBoard.create(work / "board.sqlite", spec.primary_metric, spec.policy)
        runner.ready()
        if isinstance(runner, executors.WarmWorkers):  # part of the sweep's wall time
            session.log_metrics({WORKERS_STARTUP_METRIC: max(runner.startup_s)})
        trials = _run_trials(
            options,
            session,
            (parent.run_id, parent.experiment_id),
            sampled,
            board,
            runner,
            work,
            progress,
        )
        wall_time = time.perf_counter() - started
        if (work / "logs").is_dir():
            session.log_artifacts(work / "logs", "trial_logs")
        table = trials_table(trials, spec.primary_metric)
        session.log_text(table.to_csv(index=False), "trials.csv")
        evaluations = board.evaluations()
        session.log_text(evaluations_table(evaluations).to_csv(index=False), EVALUATIONS_FILE)
        figure = trials_figure(trials, spec.primary_metric, evaluations)
        session.log_figure(figure, "trials.png")
        best = best_trial(trials, spec.primary_metric)
        session.log_metrics(_summary_metrics(trials, wall_time))
        session.set_tags(
            {MLFLOW_RUN_NOTE: sweep_description(trials, best, spec.primary_metric, parent)}
        )
        if best is None:
            raise SweepFailedError(
                f"none of the {len(trials)} trials completed "
                f"({_count(trials, 'failed')} failed, {_count(trials, 'terminated')} terminated); "
                "see the trial runs' error tags and trial_logs/ on the sweep run"
            )
        session.log_params({f"best/{k}": v for k, v in best.params.items()})
        session.log_metrics({f"best_{k}": v for k, v in best.metrics.items()})
        session.set_tags({tags.BEST_TRIAL: best.name, tags.BEST_TRIAL_RUN_ID: best.run_id})
        version = None
        if options.register_as:
            version = _register_best(session, best, options.register_as)
        return SweepResult(
            parent.run_id,
            trials,
            best,
            table,
            wall_time,
            options.register_as,
            version,
            evaluations,
        )


def _sweep_params(options: SweepOptions, sampled: int) -> dict[str, Any]:
    spec = options.spec
    policy = search_space.describe_policy(spec.policy)
    return {
        "sweep/file": spec.source,
        "sweep/sampling": "random",
        "sweep/seed": options.seed,
        "sweep/max_trials": spec.max_trials,
        "sweep/max_concurrent": spec.max_concurrent,
        "sweep/isolation": options.isolation,
        "sweep/trials_sampled": sampled,
        "sweep/primary_metric": spec.primary_metric.name,
        "sweep/goal": spec.primary_metric.goal,
        **{f"sweep/policy/{k}": v for k, v in policy.items()},
        **{
            f"sweep/space/{name}": json.dumps(search_space.describe_distribution(d))
            for name, d in spec.parameters.items()
        },
        "split/test_fraction": options.split.test_fraction,
        "split/seed": options.split.seed,
        "data_file": str(options.split.data),
    }


def _run_trials(
    options: SweepOptions,
    session: TrackingSession,
    parent: tuple[str, str],
    sampled: list[dict[str, search_space.Value]],
    board: TrialBoard,
    runner: executors.TrialRunner,
    work: Path,
    progress: Progress | None,
) -> list[TrialOutcome]:
    """Keep up to `max_concurrent` trials running until every sampled trial is done."""
    concurrent = options.spec.max_concurrent
    queue = list(enumerate(sampled, start=1))
    running: dict[int, tuple[TrialOutcome, float]] = {}
    done: list[TrialOutcome] = []
    try:
        while queue or running:
            while queue and len(running) < concurrent:
                index, params = queue.pop(0)
                outcome = _create_trial_run(session, parent, index, params, work)
                # Known before it starts and until it is collected, so an interrupt at any
                # point ends its run.
                running[index] = (outcome, time.perf_counter())
                _start_trial(options, session, outcome, board, runner)
            for ended in runner.wait(POLL_INTERVAL_S):
                outcome, began = running[ended.index]
                outcome.wall_time_s = time.perf_counter() - began
                _collect(session, outcome, ended, options.spec.primary_metric.name)
                del running[ended.index]
                done.append(outcome)
                if progress is not None:
                    progress(outcome)
    except BaseException:
        runner.stop()
        for outcome, _ in running.values():
            try:
                _recover(session, outcome.run_id, INTERRUPTED, "KILLED")
            except Exception:  # the next trial's run still gets its chance
                logger.warning("could not end %s's run", outcome.name, exc_info=True)
        raise
    return sorted(done, key=lambda t: t.index)


def _create_trial_run(
    session: TrackingSession,
    parent: tuple[str, str],
    index: int,
    params: dict[str, search_space.Value],
    work: Path,
) -> TrialOutcome:
    """The trial's nested run, created by the sweep as Azure ML creates a trial's."""
    name = trial_run_name(index)
    parent_id, experiment_id = parent
    run = session.client.create_run(
        experiment_id,
        run_name=name,
        tags={
            MLFLOW_PARENT_RUN_ID: parent_id,
            MLFLOW_RUN_NAME: name,
            tags.TRIAL: str(index),
            tags.TASK: catalog.HOUSING_MLP.name,
        },
    )
    log_path = work / "logs" / f"{name}.log"
    log_path.parent.mkdir(exist_ok=True)
    return TrialOutcome(index, run.info.run_id, dict(params), "running", log_path=log_path)


def _start_trial(
    options: SweepOptions,
    session: TrackingSession,
    outcome: TrialOutcome,
    board: TrialBoard,
    runner: executors.TrialRunner,
) -> None:
    assert outcome.log_path is not None
    arguments = trial_arguments(options, outcome.params, board.path, outcome.index)
    # The log opens with the command that reproduces the trial on its own.
    outcome.log_path.write_text(f"$ tracking-demo {shlex.join(arguments)}\n")
    variables = trial_variables(session, outcome.run_id)
    runner.start(executors.TrialLaunch(outcome.index, arguments, variables, outcome.log_path))
    logger.info("started %s: %s", outcome.name, outcome.params)


INTERRUPTED = "the sweep was interrupted; trial stopped"
RECOVERY_TIMEOUT_S = 30.0
MAX_REASON_CHARS = 4000  # within every MLflow server's tag limit (5,000 before MLflow 3)


def _recover(session: TrackingSession, run_id: str, reason: str, status: str) -> None:
    """A trial's process ended without ending its run: deliver what it logged (its run log,
    as `tracking-demo sync` would), then end the run `status` with `reason` as its error.

    A run the trial ended itself (a worker stopped by SIGTERM ends its trial KILLED) is left
    as it is. If delivery fails, the run log stays for `tracking-demo sync` and the error says so.
    """
    if session.client.get_run(run_id).info.status != "RUNNING":
        return
    log = session.settings.wal_root / run_id
    if RunDir(log).wal_path.is_file():
        from tracking_demo.tracking.sync import sync_run

        try:
            sync_run(log, session.uri, timeout_s=RECOVERY_TIMEOUT_S)
        except Exception as error:  # the run still ends; its log is kept for `sync`
            logger.warning("could not deliver what %s logged: %s", run_id, error)
            reason += f"; its undelivered records are kept in {log} (tracking-demo sync)"
    session.client.set_tag(run_id, tags.ERROR, reason[:MAX_REASON_CHARS])
    session.client.set_terminated(run_id, status)


def _collect(
    session: TrackingSession, outcome: TrialOutcome, ended: executors.TrialExit, metric: str
) -> None:
    """Read what the trial logged; a trial whose process died without ending its run has what
    it logged delivered and ends KILLED (stopped from outside) or FAILED (crashed).

    Only a run the trial ended itself counts: FINISHED is a completed trial, KILLED with the
    `terminated` status tag one the policy stopped; anything else, or a non-zero exit, failed.
    """
    code = ended.code
    reason = ended.death or f"trial process exited with code {code} before ending its run"
    died = "KILLED" if executors.killed_by_signal(code) else "FAILED"
    _recover(session, outcome.run_id, reason, died)
    run = session.client.get_run(outcome.run_id)
    outcome.curve = [
        m.value
        for m in sorted(
            session.client.get_metric_history(outcome.run_id, metric), key=lambda m: m.step
        )
    ]
    outcome.metrics = {
        k: v
        for k, v in run.data.metrics.items()
        if k
        in ("final_val_mae", "test_mae", "test_rmse", "test_mae_mean_predictor", "epochs_trained")
    }
    trial_status = run.data.tags.get(tags.TRIAL_STATUS, "completed")
    if code == 0 and run.info.status == "FINISHED" and trial_status == "completed":
        outcome.status = "completed"
    elif code == 0 and run.info.status == "KILLED" and trial_status == "terminated":
        outcome.status = "terminated"
        outcome.terminated_at = int(run.data.tags[tags.TERMINATED_AT_EPOCH])
    else:
        outcome.status = "failed"
        outcome.error = ended.death or (
            run.data.tags.get(tags.ERROR) or f"exit code {code}, run ended {run.info.status}"
        )


# --- comparing the trials ---------------------------------------------------------------------


def final_value(trial: TrialOutcome) -> float:
    return trial.curve[-1] if trial.curve else math.nan


def best_trial(
    trials: Sequence[TrialOutcome], metric: search_space.PrimaryMetric
) -> TrialOutcome | None:
    """The completed trial with the best final primary metric (terminated ones never win)."""
    best = None
    for trial in trials:
        value = final_value(trial)
        if trial.status != "completed" or math.isnan(value):
            continue
        if best is None or metric.better(value, final_value(best)):
            best = trial
    return best


def trials_table(
    trials: Sequence[TrialOutcome], metric: search_space.PrimaryMetric
) -> pd.DataFrame:
    """One row per trial, best first (by the primary metric, completed trials ahead)."""
    rows = []
    for trial in trials:
        rows.append(
            {
                "trial": trial.name,
                "status": trial.status,
                **trial.params,
                "epochs_trained": trial.epochs_trained,
                "terminated_at_epoch": trial.terminated_at,
                f"final_{metric.name}": final_value(trial),
                "test_mae": trial.metrics.get("test_mae"),
                "test_rmse": trial.metrics.get("test_rmse"),
                "wall_time_s": round(trial.wall_time_s, 2),
                "run_id": trial.run_id,
            }
        )
    table = pd.DataFrame(rows)
    order = table["status"].map({"completed": 0, "terminated": 1, "failed": 2})
    sign = 1 if metric.goal == "minimize" else -1
    table = table.assign(_order=order, _value=sign * table[f"final_{metric.name}"])
    return table.sort_values(["_order", "_value"]).drop(columns=["_order", "_value"])


@built_with_literal_text
def trials_figure(
    trials: Sequence[TrialOutcome],
    metric: search_space.PrimaryMetric,
    evaluations: Sequence[Evaluation] = (),
) -> Figure:
    """Every trial's primary metric by epoch (completed solid, terminated dashed to its stop),
    and the policy's cut-off at each evaluation epoch as the board recorded it, so each stop
    can be read off: a trial whose best so far lay beyond the line that epoch was stopped."""
    figure = Figure(figsize=(9, 5))
    axes = figure.subplots()
    best = best_trial(trials, metric)
    styles = {"completed": "-", "terminated": "--", "failed": ":"}
    for trial in trials:
        if not trial.curve:
            continue
        epochs = np.arange(1, len(trial.curve) + 1)
        is_best = best is not None and trial.index == best.index
        label = f"{trial.name} ({trial.status}"
        label += f" at epoch {trial.terminated_at})" if trial.terminated_at else ")"
        axes.plot(
            epochs,
            trial.curve,
            styles.get(trial.status, "-"),
            marker="o",
            markersize=3,
            linewidth=2.5 if is_best else 1.2,
            label=label + (" best" if is_best else ""),
        )
    cutoff = policy_cutoffs(evaluations, metric.goal)
    if cutoff:
        axes.plot(
            list(cutoff),
            list(cutoff.values()),
            color="black",
            linestyle="-.",
            marker="_",
            markersize=14,
            label=CUTOFF_LABEL,
        )
    stops = [e for e in evaluations if e.stopped]
    if stops:
        axes.plot(
            [e.epoch for e in stops],
            [e.best for e in stops],
            "x",
            color="#b2182b",
            markersize=9,
            markeredgewidth=2,
            label=f"stopped: best {metric.name} so far beyond the cut-off",
        )
    axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes.set(
        xlabel="epoch",
        ylabel=metric.name,
        title=f"Sweep trials: {metric.name} by epoch ({metric.goal})",
    )
    integer_epochs(axes)
    axes.legend(fontsize="small", ncols=2)
    figure.tight_layout()
    return figure


CUTOFF_LABEL = "policy cut-off at evaluation"
EVALUATIONS_FILE = "sweep/policy_evaluations.csv"


def evaluations_table(evaluations: Sequence[Evaluation]) -> pd.DataFrame:
    """Every decision of the policy as it made it: trial, epoch, its best, leader, cut-off."""
    columns = ["trial", "epoch", "best", "leader", "cutoff", "stopped"]
    rows = [
        {
            "trial": trial_run_name(e.trial),
            "epoch": e.epoch,
            "best": e.best,
            "leader": e.leader,
            "cutoff": e.cutoff,
            "stopped": e.stopped,
        }
        for e in evaluations
    ]
    return pd.DataFrame(rows, columns=columns)


def policy_cutoffs(evaluations: Sequence[Evaluation], goal: str) -> dict[int, float]:
    """The cut-off at each evaluation epoch: the strictest one the policy applied there (trials
    evaluated earlier saw a looser one while the leader was still improving)."""
    strictest = min if goal == "minimize" else max
    by_epoch: dict[int, float] = {}
    for evaluation in evaluations:
        known = by_epoch.get(evaluation.epoch)
        by_epoch[evaluation.epoch] = (
            evaluation.cutoff if known is None else strictest(known, evaluation.cutoff)
        )
    return dict(sorted(by_epoch.items()))


def sweep_description(
    trials: Sequence[TrialOutcome],
    best: TrialOutcome | None,
    metric: search_space.PrimaryMetric,
    parent: RunHandle,
) -> str:
    """The parent run's description (markdown): what happened, and a link to the best trial's
    run page (relative, so it works wherever the UI is served)."""
    summary = (
        f"Housing MLP sweep: {len(trials)} trials, {_count(trials, 'completed')} completed, "
        f"{_count(trials, 'terminated')} stopped by the early-termination policy, "
        f"{_count(trials, 'failed')} failed; {metric.goal} {metric.name}."
    )
    if best is None:
        return summary + "\n\nNo trial completed, so there is no best trial."
    link = f"#/experiments/{parent.experiment_id}/runs/{best.run_id}"
    return (
        f"{summary}\n\n**Best trial: [{best.name}]({link})**, final {metric.name} "
        f"{final_value(best):,.6g}, with {_describe_params(best.params)}."
    )


def _describe_params(params: Mapping[str, search_space.Value]) -> str:
    return ", ".join(f"{name} {value}" for name, value in params.items())


def _count(trials: Sequence[TrialOutcome], status: str) -> int:
    return sum(t.status == status for t in trials)


def _summary_metrics(trials: Sequence[TrialOutcome], wall_time: float) -> dict[str, float]:
    planned = sum(int(t.params.get("epochs", 0) or 0) for t in trials)
    trained = sum(t.epochs_trained for t in trials)
    return {
        "trials_completed": float(_count(trials, "completed")),
        "trials_terminated": float(_count(trials, "terminated")),
        "trials_failed": float(_count(trials, "failed")),
        "terminated_share": _count(trials, "terminated") / max(1, len(trials)),
        "epochs_planned": float(planned),
        "epochs_trained": float(trained),
        "sweep_wall_time_s": wall_time,
    }


def _register_best(session: TrackingSession, best: TrialOutcome, name: str) -> str:
    from tracking_demo.registry import register_once

    sweep = {"sweep_run_id": session.run_logger.run_id}
    version_tags = registration_tags(catalog.HOUSING_MLP.name, best.metrics, sweep)
    version = register_once(session.client, f"runs:/{best.run_id}/model", name, version_tags)
    return str(version.version)

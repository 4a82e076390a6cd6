"""What early termination and warm workers save in `tracking-demo sweep housing-mlp`, same trials
every way, against the floor of one process running the trials in turn.

Run: .venv/bin/python benchmarks/sweep_early_termination.py [--rows 20640] [--max-trials 8]
     [--max-concurrent 2] [--repeats 1] [--sampling-seed 0] [--quick] [--markdown PATH]

One synthetic housing file (`tracking-demo data housing`'s generator; 20,640 rows by default,
the public file's size) and one temporary local MLflow server (`LocalServer`, as
`tracking-demo server start` runs it, stopped as a whole process group at the end, also on
errors, Ctrl-C and SIGTERM). Against them, the packaged sweep file (the tutorial's space; bandit
slack_factor 0.1, evaluation_interval 2, delay_evaluation 0) runs five ways per repeat, the same
sampled trials each time (checked; the benchmark stops otherwise), one column each:

- process+policy      `sweep housing-mlp --isolation process`: a fresh `tracking-demo train
                      housing-mlp` process per trial (as Azure ML runs them), the file's policy;
- process, no policy  the same with `--no-early-termination`: every trial to its last epoch;
- worker+policy       `sweep housing-mlp` (`--isolation worker`, the default): `max-concurrent`
                      warm workers import TensorFlow once and run the trials in turn;
- worker, no policy   the same with `--no-early-termination`;
- floor (1 process)   no isolation: the same trials one after another in THIS process, each as
                      the trial command does it (`tasks.housing.train_mlp` with the sweep's
                      board and `BanditCallback`, in its own nested run under a parent run, its
                      output in its log, Keras's state cleared around it), with the policy: what
                      a single-process tuner (Keras Tuner, a loop over `fit`) reaches, one trial
                      at a time, TensorFlow's default threads, one TensorFlow import.

The four sweeps run in-process through `runner.run_sweep`, exactly as the command builds it. A
gradient-boosting baseline run records the split's datasets in the experiment first: two trials
logging a dataset new to the experiment at the same instant race in the server's store.

The rows: the wall time (the sweep's, start-up and the workers' exit included); the start-up within
it (the sweep run's `workers_startup_s`: the slowest worker's start to ready; the floor's TensorFlow
import; a process trial pays its own inside its trial); the trials' CPU time: for the sweeps every
child process's (getrusage RUSAGE_CHILDREN around `run_sweep`: the trial processes, or the workers,
which exit and are reaped when the sweep ends, start-up included), checked against each child's CPU
read from /proc while it ran (a lower bound: the benchmark stops if getrusage counted less); for the
floor this process's (RUSAGE_SELF), its parent run included; the sweep parent's own CPU; epochs
trained of planned; trials terminated; the mean per-trial time outside `fit` (the trial's wall time
as the parent measured it, from its start to its end, minus its own `training_time_s`: process start
and imports, data, dataset logging, evaluation, figures, the model, the run's end) in seconds and as
a share; the best completed trial. Then the ratios with the issue's targets (worker+policy against
process+policy and against the floor; its time outside `fit`), policy / no policy within each
isolation, and one row per trial.

Curves: a trial is seeded like the command, so its per-epoch val_mae is the same whichever way it
runs. The benchmark compares each trial's whole curve between the two no-policy sweeps (process
against worker) and checks that every policy run's curve is a prefix of it; it prints "curves
agree" with the largest relative difference and exits 1 when one exceeds 1e-3.

`--max-concurrent` defaults to 2, not the file's 4: the sweep gives each trial
`cpu_count // max_concurrent` TensorFlow threads (at least 1), so on a 2-core machine 4 trials
would be 4 single-threaded processes on 2 cores, plus the server and this process: the trials
would time-slice and the termination order would depend on the scheduler more than on the
policy. 2 at a time is one trial per core.

How to read it: the policy saves epochs; warm workers save each trial's start-up (the interpreter,
TensorFlow's import, seconds per trial), which weighs most where trials are short, as the policy
makes them. Read worker+policy against process+policy for what the default saves, against the floor
for what isolation still costs. The floor runs one trial at a time with every core, the sweeps 2 at
a time with one core each: the per-trial table's wall and outside-fit columns show what that changes
in fit time. Which trials the policy stops depends on which trials had reported by each evaluation
epoch: with several at once the policy runs' terminations (and so epochs and the best trial) can
differ between columns and repeats, and the floor, one trial at a time, holds each trial to every
earlier one. The no-policy columns are deterministic. Compare the columns, not the absolute figures
against another machine.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import math
import os
import resource
import shlex
import signal
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Variant:
    """One way of running the sampled trials: a sweep's isolation (None: the floor), policy."""

    name: str
    short: str  # in the per-trial table
    isolation: str | None
    policy: bool


PROCESS_POLICY = Variant("process+policy", "P+", "process", True)
PROCESS_NONE = Variant("process, no policy", "P-", "process", False)
WORKER_POLICY = Variant("worker+policy", "W+", "worker", True)
WORKER_NONE = Variant("worker, no policy", "W-", "worker", False)
FLOOR = Variant("floor (1 process)", "F", None, True)
VARIANTS = (PROCESS_POLICY, PROCESS_NONE, WORKER_POLICY, WORKER_NONE, FLOOR)
EXPERIMENT = "sweep-early-termination"
QUICK_ROWS, QUICK_TRIALS = 3_000, 4
CURVE_TOLERANCE = 1e-3  # relative: the same seeded trial must give the same val_mae
# The targets for warm workers with the policy.
TARGET_VS_PROCESS, TARGET_OUTSIDE_FIT_S, TARGET_VS_FLOOR = 0.5, 1.5, 1.3
CPU_SAMPLE_INTERVAL_S = 0.2
CPU_CHECK_SLACK_S = 0.5  # getrusage may not count less than /proc showed, beyond rounding


@dataclass
class Measured:
    """One way's run: its result (a sweep's, or the floor's in the same shape) plus what this
    benchmark reads around it."""

    variant: Variant
    repeat: int
    result: Any  # runner.SweepResult
    wall_s: float
    trial_cpu_s: float
    parent_cpu_s: float  # this process's own, beside the trials' (the floor: in trial_cpu_s)
    startup_s: float  # workers' start to ready; the floor's TensorFlow import; NaN: per trial
    fit_s: dict[int, float]  # trial index -> the trial's own `training_time_s`
    reasons: dict[int, str]  # trial index -> termination reason tag
    sampled_cpu_s: float | None = None  # children's CPU read from /proc while they ran

    @property
    def epochs_trained(self) -> int:
        return sum(t.epochs_trained for t in self.result.trials)

    @property
    def epochs_planned(self) -> int:
        return sum(int(t.params.get("epochs", 0) or 0) for t in self.result.trials)

    def count(self, status: str) -> int:
        return sum(t.status == status for t in self.result.trials)

    def outside_fit_s(self, trial: Any) -> float:
        return float(trial.wall_time_s - self.fit_s.get(trial.index, math.nan))

    def outside_fit_share(self, trial: Any) -> float:
        return self.outside_fit_s(trial) / trial.wall_time_s if trial.wall_time_s else math.nan

    def _mean(self, values: list[float]) -> float:
        values = [v for v in values if not math.isnan(v)]
        return statistics.fmean(values) if values else math.nan

    @property
    def mean_outside_fit_s(self) -> float:
        return self._mean([self.outside_fit_s(t) for t in self.result.trials])

    @property
    def mean_outside_fit_share(self) -> float:
        return self._mean([self.outside_fit_share(t) for t in self.result.trials])


def children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def own_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class ChildCpuSampler:
    """Each new child process's CPU (and its reaped children's) read from /proc while it runs:
    an independent check that RUSAGE_CHILDREN counts the trial processes and the workers. A
    lower bound: the last sample is up to `CPU_SAMPLE_INTERVAL_S` before the child ended."""

    def __init__(self) -> None:
        self.existing = set(self.children())  # the server's process
        self.last: dict[int, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._tick = os.sysconf("SC_CLK_TCK")

    def __enter__(self) -> ChildCpuSampler:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def total_s(self) -> float:
        return sum(self.last.values())

    @staticmethod
    def children() -> list[int]:
        pids: list[int] = []
        for children in Path(f"/proc/{os.getpid()}/task").glob("*/children"):
            with contextlib.suppress(OSError):
                pids += [int(pid) for pid in children.read_text().split()]
        return pids

    def _run(self) -> None:
        while not self._stop.wait(CPU_SAMPLE_INTERVAL_S):
            for pid in self.children():
                if pid in self.existing:
                    continue
                with contextlib.suppress(OSError, ValueError, IndexError):
                    stat = Path(f"/proc/{pid}/stat").read_text()
                    # After "(comm)": state is field 3; utime, stime, cutime, cstime 14-17.
                    fields = stat.rsplit(")", 1)[1].split()
                    self.last[pid] = sum(int(v) for v in fields[11:15]) / self._tick


# --- the four sweeps ---------------------------------------------------------------------------


def trial_progress(trial: Any) -> None:
    stop = f" at epoch {trial.terminated_at}" if trial.terminated_at else ""
    print(
        f"    trial {trial.index} {trial.status}{stop}: {trial.epochs_trained} epochs, "
        f"{trial.wall_time_s:.1f} s",
        flush=True,
    )


def read_trials(session: Any, result: Any) -> tuple[dict[int, float], dict[int, str]]:
    """Each trial's own `training_time_s` and termination reason, from its run."""
    from tracking_demo.tracking import tags

    fit_s, reasons = {}, {}
    for trial in result.trials:
        run = session.client.get_run(trial.run_id)
        fit_s[trial.index] = run.data.metrics.get("training_time_s", math.nan)
        if reason := run.data.tags.get(tags.TERMINATION_REASON):
            reasons[trial.index] = reason
    return fit_s, reasons


def run_sweep_variant(
    variant: Variant, repeat: int, args: argparse.Namespace, data: Path, settings: Any
) -> Measured:
    from tracking_demo.sweep import runner as housing_sweep
    from tracking_demo.sweep import space as search_space
    from tracking_demo.tasks import housing
    from tracking_demo.tracking.session import TrackingSession

    assert variant.isolation is not None
    spec = search_space.load(None, housing.TUNABLE).with_overrides(
        args.max_trials, args.max_concurrent, early_termination=variant.policy
    )
    options = housing_sweep.SweepOptions(
        housing.SplitOptions(data.absolute(), 0.2, 42),
        spec,
        seed=args.sampling_seed,
        isolation=variant.isolation,
    )
    name = f"{variant.isolation}-{'policy' if variant.policy else 'no-policy'}-r{repeat + 1}"
    session = TrackingSession(replace(settings, run_name=name))
    load_before = os.getloadavg()[0]
    print(f"  repeat {repeat + 1}: {variant.name} (load {load_before:.2f}) ...", flush=True)
    cpu_before, own_before = children_cpu_s(), own_cpu_s()
    started = time.perf_counter()
    with ChildCpuSampler() as sampler:
        result = housing_sweep.run_sweep(options, session, progress=trial_progress)
    wall = time.perf_counter() - started
    trial_cpu, parent_cpu = children_cpu_s() - cpu_before, own_cpu_s() - own_before
    left = [pid for pid in sampler.children() if pid not in sampler.existing]
    if left or trial_cpu < sampler.total_s - CPU_CHECK_SLACK_S:
        raise RuntimeError(
            f"{variant.name}: getrusage counted {trial_cpu:.1f} s of the children's CPU, /proc "
            f"showed {sampler.total_s:.1f} s; still running: {left}"
        )
    fit_s, reasons = read_trials(session, result)
    metrics = session.client.get_run(result.run_id).data.metrics
    startup = metrics.get(housing_sweep.WORKERS_STARTUP_METRIC, math.nan)
    failed = [t for t in result.trials if t.status == "failed"]
    if failed:
        raise RuntimeError(
            f"{variant.name}: {len(failed)} trial(s) failed, first: trial {failed[0].index}: "
            f"{failed[0].error} (its log: trial_logs/{failed[0].name}.log on sweep run "
            f"{result.run_id})"
        )
    print(
        f"  repeat {repeat + 1}: {variant.name}: {wall:.1f} s wall (sweep's own "
        f"{result.wall_time_s:.1f} s), {sum(t.epochs_trained for t in result.trials)} epochs, "
        f"{sum(t.status == 'terminated' for t in result.trials)} terminated; children's CPU "
        f"{trial_cpu:.1f} s by getrusage, {sampler.total_s:.1f} s read from /proc while "
        f"running ({len(sampler.last)} processes); 1-min load {load_before:.2f} before, "
        f"{os.getloadavg()[0]:.2f} after",
        flush=True,
    )
    return Measured(
        variant, repeat, result, wall, trial_cpu, parent_cpu, startup, fit_s, reasons,
        sampler.total_s,
    )  # fmt: skip


# --- the floor: the same trials in this process ------------------------------------------------


def import_tensorflow() -> float:
    """What a worker imports before its first trial, imported here: the floor's one start-up
    (0 when an earlier repeat already paid it)."""
    if "tensorflow" in sys.modules:
        return 0.0
    started = time.perf_counter()
    from tracking_demo.cli.output import start_tensorflow

    start_tensorflow()
    import keras  # noqa: F401
    import mlflow.pyfunc  # noqa: F401

    from tracking_demo.tasks.models import housing as housing_model  # noqa: F401

    return time.perf_counter() - started


@dataclass
class FloorTrials:
    """The floor's parent: its run, its board and where its trials' logs go."""

    session: Any  # TrackingSession with the parent run open
    parent: Any  # RunHandle
    split: Any  # SplitOptions
    board: Any  # TrialBoard
    logs: Path
    trials: list[Any] = field(default_factory=list)


def run_floor_trial(floor: FloorTrials, index: int, params: dict[str, Any]) -> Any:
    """One trial as `train housing-mlp --sweep-board B --trial N` runs it, in this process."""
    import keras
    from mlflow.utils.mlflow_tags import MLFLOW_PARENT_RUN_ID, MLFLOW_RUN_NAME

    from tracking_demo.sweep.bandit import BanditCallback
    from tracking_demo.sweep.board import TrialBoard
    from tracking_demo.sweep.runner import TrialOutcome, trial_run_name
    from tracking_demo.sweep.worker import output_to  # a trial's output to its log, as a worker
    from tracking_demo.tasks import catalog, housing
    from tracking_demo.tasks.options import MlpOptions
    from tracking_demo.tracking import tags
    from tracking_demo.tracking.session import TrackingSession

    session, name = floor.session, trial_run_name(index)
    run = session.client.create_run(  # as the sweep's parent creates a trial's run
        floor.parent.experiment_id,
        run_name=name,
        tags={
            MLFLOW_PARENT_RUN_ID: floor.parent.run_id,
            MLFLOW_RUN_NAME: name,
            tags.TRIAL: str(index),
            tags.TASK: catalog.HOUSING_MLP.name,
        },
    )
    run_id = run.info.run_id
    log = floor.logs / f"{name}.log"
    began = time.perf_counter()
    with output_to(log):
        keras.backend.clear_session()
        try:
            trial_session = TrackingSession(replace(session.settings, run_id=run_id, run_name=None))
            callback = BanditCallback(TrialBoard(floor.board.path), index)
            housing.train_mlp(MlpOptions(floor.split, **params), trial_session, callback)
        finally:
            keras.backend.clear_session()
            gc.collect()
    outcome = TrialOutcome(index, run_id, dict(params), log_path=log)
    outcome.wall_time_s = time.perf_counter() - began
    finished = session.client.get_run(run_id)
    history = session.client.get_metric_history(run_id, floor.board.settings()[0].name)
    outcome.curve = [m.value for m in sorted(history, key=lambda m: m.step)]
    outcome.metrics = dict(finished.data.metrics)
    outcome.status = finished.data.tags.get(tags.TRIAL_STATUS, "failed")
    if outcome.status == "terminated":
        outcome.terminated_at = int(finished.data.tags[tags.TERMINATED_AT_EPOCH])
    return outcome


def run_floor(repeat: int, args: argparse.Namespace, data: Path, settings: Any) -> Measured:
    from tracking_demo.sweep import runner as housing_sweep
    from tracking_demo.sweep import space as search_space
    from tracking_demo.sweep.board import TrialBoard
    from tracking_demo.tasks import catalog, housing
    from tracking_demo.tracking import tags
    from tracking_demo.tracking.session import TrackingSession

    spec = search_space.load(None, housing.TUNABLE).with_overrides(
        args.max_trials, args.max_concurrent
    )
    sampled = search_space.sample(spec.parameters, spec.max_trials, args.sampling_seed)
    session = TrackingSession(replace(settings, run_name=f"floor-r{repeat + 1}"))
    print(f"  repeat {repeat + 1}: {FLOOR.name} (load {os.getloadavg()[0]:.2f}) ...", flush=True)
    cpu_before = own_cpu_s() + children_cpu_s()  # children: e.g. `git` for a run's context
    started = time.perf_counter()
    startup = import_tensorflow()
    with (
        tempfile.TemporaryDirectory(prefix="floor-") as work,
        session.run(tags={tags.TASK: catalog.HOUSING_SWEEP.name}) as parent,
    ):
        board = TrialBoard.create(Path(work) / "board.sqlite", spec.primary_metric, spec.policy)
        (Path(work) / "logs").mkdir()
        split = housing.SplitOptions(data.absolute(), 0.2, 42)
        floor = FloorTrials(session, parent, split, board, Path(work) / "logs")
        for index, params in enumerate(sampled, start=1):
            floor.trials.append(run_floor_trial(floor, index, params))
            trial_progress(floor.trials[-1])
        sweep_wall = time.perf_counter() - started
        # The parent's record, as a sweep's: the table, the policy's decisions, the figure.
        table = housing_sweep.trials_table(floor.trials, spec.primary_metric)
        session.log_text(table.to_csv(index=False), "trials.csv")
        evaluations = board.evaluations()
        session.log_text(
            housing_sweep.evaluations_table(evaluations).to_csv(index=False),
            housing_sweep.EVALUATIONS_FILE,
        )
        figure = housing_sweep.trials_figure(floor.trials, spec.primary_metric, evaluations)
        session.log_figure(figure, "trials.png")
        best = housing_sweep.best_trial(floor.trials, spec.primary_metric)
    wall = time.perf_counter() - started
    cpu = own_cpu_s() + children_cpu_s() - cpu_before
    if best is None or any(t.status == "failed" for t in floor.trials):
        raise RuntimeError(f"floor: a trial failed or none completed: {floor.trials}")
    result = housing_sweep.SweepResult(
        parent.run_id, floor.trials, best, table, sweep_wall, evaluations=evaluations
    )
    fit_s, reasons = read_trials(session, result)
    print(
        f"  repeat {repeat + 1}: {FLOOR.name}: {wall:.1f} s wall (TensorFlow import "
        f"{startup:.1f} s), {sum(t.epochs_trained for t in floor.trials)} epochs, "
        f"{sum(t.status == 'terminated' for t in floor.trials)} terminated; this process's CPU "
        f"{cpu:.1f} s",
        flush=True,
    )
    return Measured(FLOOR, repeat, result, wall, cpu, math.nan, startup, fit_s, reasons)


# --- checks --------------------------------------------------------------------------------------


def params_of(measured: Measured) -> list[tuple[int, dict[str, Any]]]:
    return [(t.index, dict(t.params)) for t in measured.result.trials]


def relative_difference(a: float, b: float) -> float:
    scale = max(abs(a), abs(b))
    return abs(a - b) / scale if scale else 0.0


@dataclass(frozen=True)
class CurveCheck:
    what: str
    agree: bool
    worst: float  # the largest relative difference
    worst_dollars: float


def compare_curves(what: str, runs: Measured, full: Measured, whole: bool) -> CurveCheck:
    """Each of `runs`'s val_mae curves against the same trial's in `full`: equal (`whole`) or a
    prefix of it, within `CURVE_TOLERANCE` relative."""
    reference = {t.index: t.curve for t in full.result.trials}
    agree, worst, dollars = True, 0.0, 0.0
    for trial in runs.result.trials:
        other = reference.get(trial.index, [])
        if len(trial.curve) > len(other) or (whole and len(trial.curve) != len(other)):
            agree = False
        for a, b in zip(trial.curve, other, strict=False):
            worst = max(worst, relative_difference(a, b))
            dollars = max(dollars, abs(a - b))
    return CurveCheck(what, agree and worst <= CURVE_TOLERANCE, worst, dollars)


def curve_checks(runs: dict[Variant, list[Measured]]) -> list[CurveCheck]:
    checks = []
    for repeat, full in enumerate(runs[PROCESS_NONE]):
        label = f"repeat {repeat + 1}: "
        checks.append(
            compare_curves(
                label + "worker, no policy = process, no policy (whole curves)",
                runs[WORKER_NONE][repeat],
                full,
                whole=True,
            )
        )
        for variant in (PROCESS_POLICY, WORKER_POLICY, FLOOR):
            checks.append(
                compare_curves(
                    label + f"{variant.name} is a prefix of process, no policy",
                    runs[variant][repeat],
                    full,
                    whole=False,
                )
            )
    return checks


# --- the report ------------------------------------------------------------------------------


def _median(values: list[float]) -> float:
    values = [v for v in values if not math.isnan(v)]
    return statistics.median(values) if values else math.nan


def _ratio(a: float, b: float) -> float:
    return a / b if b and not math.isnan(a) and not math.isnan(b) else math.nan


def _x(value: float) -> str:
    return "n/a" if math.isnan(value) else f"{value:.2f}x"


def _s(value: float, digits: int = 1) -> str:
    return "-" if math.isnan(value) else f"{value:.{digits}f}"


def _money(value: float | None) -> str:
    return "n/a" if value is None or math.isnan(value) else f"{value:,.0f}"


@dataclass(frozen=True)
class Summary:
    """Every figure the tables show, medians over the repeats."""

    runs: dict[Variant, list[Measured]]

    def median(self, variant: Variant, read: Any) -> float:
        return _median([float(read(m)) for m in self.runs[variant]])

    def wall(self, variant: Variant) -> float:
        return self.median(variant, lambda m: m.wall_s)

    def outside_fit(self, variant: Variant) -> float:
        return self.median(variant, lambda m: m.mean_outside_fit_s)

    def rows(self) -> list[list[str]]:
        from tracking_demo.sweep.runner import final_value

        repeats = len(self.runs[FLOOR])
        median = " (median)" if repeats > 1 else ""
        planned = self.runs[FLOOR][0].epochs_planned
        trials = len(self.runs[FLOOR][0].result.trials)

        def row(label: str, cell: Any) -> list[str]:
            return [label, *(cell(v) for v in VARIANTS)]

        def startup(v: Variant) -> str:
            if v.isolation == "process":
                return "each trial"
            return _s(self.median(v, lambda m: m.startup_s))

        def cpu_check(v: Variant) -> str:
            sampled = self.median(v, lambda m: m.sampled_cpu_s or math.nan)
            return _s(sampled) if v.isolation else "-"

        def terminated(v: Variant) -> str:
            count = self.median(v, lambda m: m.count("terminated"))
            return f"{count:g} of {trials}"

        def seconds(attribute: str) -> Any:
            return lambda v: _s(self.median(v, lambda m: getattr(m, attribute)))

        def share(v: Variant) -> str:
            return f"{self.median(v, lambda m: m.mean_outside_fit_share):.0%}"

        def epochs(v: Variant) -> str:
            return f"{self.median(v, lambda m: m.epochs_trained):g}"

        best = {v: self.runs[v][-1].result.best for v in VARIANTS}
        last = " (last repeat)" if repeats > 1 else ""
        return [
            row(f"wall time, s{median}", seconds("wall_s")),
            row("start-up within it, s", startup),
            row(f"trial CPU time, s{median}", seconds("trial_cpu_s")),
            row("trial CPU read from /proc while running, s", cpu_check),
            row("parent's own CPU, s", seconds("parent_cpu_s")),
            row(f"epochs trained of {planned}", epochs),
            row("trials terminated", terminated),
            row("per-trial time outside fit, mean s", lambda v: _s(self.outside_fit(v), 2)),
            row("time outside fit, share of trial wall time", share),
            row("best completed trial" + last, lambda v: f"trial {best[v].index}"),
            row("best trial's final val_mae, $", lambda v: _money(final_value(best[v]))),
            row("best trial's test MAE, $", lambda v: _money(best[v].metrics.get("test_mae"))),
        ]  # fmt: skip

    def ratios(self) -> list[list[str]]:
        def by(a: Variant, b: Variant, read: Any) -> float:
            return _ratio(self.median(a, read), self.median(b, read))

        def met(ok: bool) -> str:
            return "met" if ok else "missed"

        vs_process = _ratio(self.wall(WORKER_POLICY), self.wall(PROCESS_POLICY))
        outside = self.outside_fit(WORKER_POLICY)
        vs_floor = _ratio(self.wall(WORKER_POLICY), self.wall(FLOOR))
        rows = [
            ["wall: worker+policy / process+policy", _x(vs_process),
             f"<= {TARGET_VS_PROCESS}x", met(vs_process <= TARGET_VS_PROCESS)],
            ["outside fit per trial: worker+policy", f"{outside:.2f} s",
             f"< {TARGET_OUTSIDE_FIT_S} s", met(outside < TARGET_OUTSIDE_FIT_S)],
            ["wall: worker+policy / floor", _x(vs_floor),
             f"<= {TARGET_VS_FLOOR}x", met(vs_floor <= TARGET_VS_FLOOR)],
            ["wall: worker, no policy / process, no policy",
             _x(_ratio(self.wall(WORKER_NONE), self.wall(PROCESS_NONE))), "", ""],
        ]  # fmt: skip
        for policy, none in ((PROCESS_POLICY, PROCESS_NONE), (WORKER_POLICY, WORKER_NONE)):
            name = policy.isolation
            rows.append(
                [
                    f"policy / no policy, {name}: wall, CPU, epochs",
                    ", ".join(
                        _x(by(policy, none, read))
                        for read in (
                            lambda m: m.wall_s,
                            lambda m: m.trial_cpu_s,
                            lambda m: m.epochs_trained,
                        )
                    ),
                    "",
                    "",
                ]
            )
        return rows


def text_table(head: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]

    def line(cells: list[str]) -> str:
        first = f"{cells[0]:<{widths[0]}}"
        return "   ".join(
            [first, *(f"{c:>{w}}" for c, w in zip(cells[1:], widths[1:], strict=True))]
        )

    top = line(head)
    return "\n".join([top, "-" * len(top), *(line(r) for r in rows)])


def markdown_table(head: list[str], rows: list[list[str]]) -> str:
    def line(cells: list[str]) -> str:
        return "| " + " | ".join(c.strip() or " " for c in cells) + " |"

    return "\n".join([line(head), "|" + "---|" + "---:|" * (len(head) - 1), *map(line, rows)])


SUMMARY_HEAD = ["", *(v.name for v in VARIANTS)]
RATIOS_HEAD = ["ratio", "value", "target", ""]


def repeats_table(runs: dict[Variant, list[Measured]]) -> str:
    head = ["repeat, wall s (epochs)", *(v.name for v in VARIANTS)]
    rows = [
        [
            f"{repeat + 1} (first: {runs[order(repeat)[0]][repeat].variant.name})",
            *(f"{runs[v][repeat].wall_s:.1f} ({runs[v][repeat].epochs_trained})" for v in VARIANTS),
        ]
        for repeat in range(len(runs[FLOOR]))
    ]
    return text_table(head, rows)


def trials_table(runs: dict[Variant, Measured]) -> str:
    """One row per trial: its parameters, then each way's epochs, wall time and time outside
    fit (`*`: stopped by the policy)."""
    first = runs[PROCESS_NONE].result.trials
    names = list(first[0].params) if first else []
    short = {
        "batch_size": "batch",
        "epochs": "epochs",
        "first_layer_units": "units1",
        "second_layer_units": "units2",
        "learning_rate": "lr",
    }
    head = ["trial", *(short.get(n, n) for n in names)]
    for v in VARIANTS:
        head += [f"{v.short} ep", "wall", "out"]
    by_index = {v: {t.index: t for t in runs[v].result.trials} for v in VARIANTS}
    rows = []
    for trial in first:
        row = [str(trial.index), *(f"{trial.params[n]:g}" for n in names)]
        for v in VARIANTS:
            t = by_index[v][trial.index]
            stopped = "*" if t.status == "terminated" else ""
            row += [
                f"{stopped}{t.epochs_trained}",
                f"{t.wall_time_s:.1f}",
                f"{runs[v].outside_fit_s(t):.2f}",
            ]
        rows.append(row)
    return text_table(head, rows)


def order(repeat: int) -> list[Variant]:
    """The variants in the order a repeat runs them: rotated by one each repeat."""
    shift = repeat % len(VARIANTS)
    return [*VARIANTS[shift:], *VARIANTS[:shift]]


def reproducing_command(args: argparse.Namespace) -> str:
    """The command with every setting that shapes the figures spelled out (no paths)."""
    return shlex.join(
        [
            "python",
            "benchmarks/sweep_early_termination.py",
            "--rows",
            str(args.rows),
            "--max-trials",
            str(args.max_trials),
            "--max-concurrent",
            str(args.max_concurrent),
            "--repeats",
            str(args.repeats),
            "--sampling-seed",
            str(args.sampling_seed),
        ]
    )


# --- main ------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, help="synthetic housing rows [default: 20640]")
    parser.add_argument("--max-trials", type=int, help="trials sampled [default: 8]")
    parser.add_argument(
        "--max-concurrent",
        type=int,
        default=2,
        help="trials at once (default 2: one per core on a 2-core machine; see the docstring)",
    )
    parser.add_argument("--repeats", type=int, default=1, help="rounds of the five ways")
    parser.add_argument("--sampling-seed", type=int, default=0, help="the command's default, 0")
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"smoke run: {QUICK_ROWS:,} rows, {QUICK_TRIALS} trials",
    )
    parser.add_argument(
        "--markdown", type=Path, help="also write the summary as markdown tables to this file"
    )
    args = parser.parse_args()
    args.rows = args.rows or (QUICK_ROWS if args.quick else 20_640)
    args.max_trials = args.max_trials or (QUICK_TRIALS if args.quick else 8)
    if args.repeats < 1 or args.max_trials < 1 or args.max_concurrent < 1:
        parser.error("--repeats, --max-trials and --max-concurrent must be at least 1")
    # SIGTERM ends the run through `finally` (run_sweep stops its trials), so nothing outlives it.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    signal.signal(signal.SIGINT, signal.default_int_handler)  # also when started in background
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("MPLBACKEND", "Agg")

    import mlflow

    from tracking_demo.data import housing as housing_data
    from tracking_demo.server.local import LocalServer
    from tracking_demo.server.processes import find_free_port
    from tracking_demo.sweep import space as search_space
    from tracking_demo.tasks import housing
    from tracking_demo.tracking.settings import TrackingSettings

    spec = search_space.load(None, housing.TUNABLE).with_overrides(
        args.max_trials, args.max_concurrent
    )
    sampled = search_space.sample(spec.parameters, spec.max_trials, args.sampling_seed)
    threads = max(1, (os.cpu_count() or 1) // spec.max_concurrent)
    runs: dict[Variant, list[Measured]] = {variant: [] for variant in VARIANTS}
    with tempfile.TemporaryDirectory(prefix="sweep-early-termination-") as tmp:
        root = Path(tmp)
        started = time.perf_counter()
        csv = housing_data.write(housing_data.HousingSpec(n_rows=args.rows, seed=42), root / "data")
        housing_data.read(csv)  # as the command does: bad data fails once, not in every trial
        print(
            f"{os.cpu_count()} CPUs, load {os.getloadavg()[0]:.2f}; mlflow {mlflow.__version__}; "
            f"data: {args.rows:,} synthetic housing rows (seed 42, written in "
            f"{time.perf_counter() - started:.1f} s)\n"
            f"sweep file: {spec.source}; primary metric {spec.primary_metric.name} "
            f"({spec.primary_metric.goal}); policy {search_space.describe_policy(spec.policy)}\n"
            f"{len(sampled)} trials sampled (sampling seed {args.sampling_seed}); the sweeps run "
            f"{spec.max_concurrent} at a time, {threads} TF thread(s) each; the floor one at a "
            f"time in this process, TensorFlow's default threads; {args.repeats} repeat(s), "
            "the order rotating",
            flush=True,
        )
        server = LocalServer(root / "server", port=find_free_port())
        server.start(timeout=120)
        try:
            settings = TrackingSettings(
                uri=server.uri, experiment=EXPERIMENT, wal_root=root / "wal"
            )
            for repeat in range(args.repeats):
                for variant in order(repeat):
                    if variant is FLOOR:
                        measured = run_floor(repeat, args, csv.parent, settings)
                    else:
                        measured = run_sweep_variant(variant, repeat, args, csv.parent, settings)
                    if params_of(measured) != list(enumerate(sampled, start=1)):
                        raise RuntimeError(
                            f"{variant.name} ran other trials than sampled:\n"
                            f"{params_of(measured)}\nexpected {list(enumerate(sampled, 1))}"
                        )
                    runs[variant].append(measured)
        finally:
            server.stop(timeout=20)

    print(f"\nload at end {os.getloadavg()[0]:.2f}")
    print(
        f"every way ran the same {len(sampled)} sampled trials (parameters checked identical in "
        "every run); same split (test 0.2, seed 42) and model seed 42"
    )
    checks = curve_checks(runs)
    for check in checks:
        print(
            f"{check.what}: {'curves agree' if check.agree else 'CURVES DIFFER'} (largest "
            f"val_mae difference {check.worst:.2g} relative, ${check.worst_dollars:,.2f}; "
            f"tolerance {CURVE_TOLERANCE:g})"
        )
    summary = Summary(runs)
    print(
        "\nCPU: the sweeps' trial CPU is getrusage(RUSAGE_CHILDREN) around run_sweep: the trial "
        "processes, or the warm workers (they exit, and are reaped, when the sweep ends), their "
        "TensorFlow import included; checked against each child's CPU read from /proc while it "
        "ran (a lower bound). The floor's is this process's (RUSAGE_SELF), its parent run's "
        "logging included. The floor runs the trials one at a time.\n"
    )
    if args.repeats > 1:
        print(repeats_table(runs))
        print()
    print(text_table(SUMMARY_HEAD, summary.rows()))
    print()
    print(text_table(RATIOS_HEAD, summary.ratios()))
    for repeat in range(args.repeats):
        this = {v: runs[v][repeat] for v in VARIANTS}
        print(
            f"\nper trial, repeat {repeat + 1}: epochs trained (*: stopped by the policy), wall "
            "time and time outside fit in s; " + ", ".join(f"{v.short}: {v.name}" for v in VARIANTS)
        )
        print(trials_table(this))
        for v in (PROCESS_POLICY, WORKER_POLICY, FLOOR):
            for index, reason in sorted(this[v].reasons.items()):
                print(f"  {v.name}: trial {index} stopped: {reason}")
    if args.markdown:
        args.markdown.write_text(
            f"<!-- {reproducing_command(args)} -->\n"
            f"{markdown_table(SUMMARY_HEAD, summary.rows())}\n\n"
            f"{markdown_table(RATIOS_HEAD, summary.ratios())}\n"
        )
        print(f"\nmarkdown tables written to {args.markdown}")
    if not all(check.agree for check in checks):
        sys.exit(1)


if __name__ == "__main__":
    main()

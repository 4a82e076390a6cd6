"""What bandit early termination saves in `tracking-demo sweep housing-mlp`, same trials both ways.

Run: .venv/bin/python benchmarks/sweep_early_termination.py [--rows 20640] [--max-trials 8]
     [--max-concurrent 2] [--repeats 1] [--sampling-seed 0] [--quick]

One synthetic housing file (`tracking-demo data housing`'s generator; 20,640 rows by default,
the public file's size) and one temporary local MLflow server (`LocalServer`, as
`tracking-demo server start` runs it, stopped as a whole process group at the end, also on
errors, Ctrl-C and SIGTERM). Against them, the sweep of the packaged sweep file (the tutorial's
space; bandit slack_factor 0.1, evaluation_interval 2, delay_evaluation 0) runs twice per repeat,
in-process through `housing_sweep.run_sweep` exactly as the command builds it:

- with policy:    the file's bandit policy (`tracking-demo sweep housing-mlp`);
- without policy: every trial to its last epoch (`... --no-early-termination`).

Both runs use the same sampling seed, max-trials and max-concurrent, so they sample the same
trials; the benchmark checks that the sampled parameters are identical and stops otherwise.
Each trial is its own `tracking-demo train housing-mlp` process seeded like the command, so a
trial's per-epoch val_mae is the same in both runs up to where the policy stopped it (checked
and printed as "curves agree"). The order of the two runs alternates between repeats.

`--max-concurrent` defaults to 2, not the file's 4: the sweep gives each trial
`cpu_count // max_concurrent` TensorFlow threads (at least 1), so on a 2-core machine 4 trials
would be 4 single-threaded processes on 2 cores, plus the server and this process: the trials
would time-slice, their wall times would stretch with each other's and the termination order
would depend on the scheduler more than on the policy. 2 at a time is one trial per core.

Printed, side by side: the sweep's wall time; the trials' CPU time (every trial process and its
children, from getrusage); epochs trained of epochs planned (the sampled `epochs` summed);
trials terminated (count and share); the best completed trial, its final val_mae and test MAE;
the mean share of a trial's wall time spent outside `fit` (process start, imports, data, model
logging: wall time minus the trial's `training_time_s`); and the ratio with / without policy
for wall time, CPU and epochs. A ratio below 1 is what the policy saved. Then one row per trial
of the policy run: its parameters, status, the epoch it was stopped at, epochs trained and both
runs' wall time, fit time and outside-fit share.

How to read it: the policy saves epochs, not trial start-ups. With several trials at once, which
trials the policy stops depends on which trials had reported by each evaluation epoch, so the
policy run's terminations (and with them the best trial) can differ between repeats; the run
without policy is deterministic. The best trial can differ between the two columns when the
policy stopped a trial that would have finished best (terminated trials never win). On a 2-core
machine compare the columns, not the absolute figures against another machine.
"""

from __future__ import annotations

import argparse
import math
import os
import resource
import signal
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

WITH, WITHOUT = "with policy", "without policy"
VARIANTS = (WITH, WITHOUT)
EXPERIMENT = "sweep-early-termination"
QUICK_ROWS, QUICK_TRIALS = 3_000, 4


@dataclass
class Measured:
    """One sweep: the sweep's result plus what this benchmark reads around it."""

    variant: str
    repeat: int
    result: Any  # housing_sweep.SweepResult
    wall_s: float
    trial_cpu_s: float
    fit_s: dict[int, float]  # trial index -> the trial's own `training_time_s`
    reasons: dict[int, str]  # trial index -> termination reason tag

    @property
    def epochs_trained(self) -> int:
        return sum(t.epochs_trained for t in self.result.trials)

    @property
    def epochs_planned(self) -> int:
        return sum(int(t.params.get("epochs", 0) or 0) for t in self.result.trials)

    def count(self, status: str) -> int:
        return sum(t.status == status for t in self.result.trials)

    def outside_fit_share(self, trial: Any) -> float:
        fit = self.fit_s.get(trial.index, math.nan)
        return (trial.wall_time_s - fit) / trial.wall_time_s if trial.wall_time_s else math.nan

    @property
    def mean_outside_fit_share(self) -> float:
        shares = [self.outside_fit_share(t) for t in self.result.trials]
        shares = [s for s in shares if not math.isnan(s)]
        return statistics.fmean(shares) if shares else math.nan


def children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_one(
    variant: str,
    repeat: int,
    args: argparse.Namespace,
    data: Path,
    settings: Any,
) -> Measured:
    from tracking_demo.sweep import runner as housing_sweep
    from tracking_demo.sweep import space as search_space
    from tracking_demo.tasks import housing
    from tracking_demo.tracking import tags
    from tracking_demo.tracking.session import TrackingSession

    spec = search_space.load(None, housing.TUNABLE).with_overrides(
        args.max_trials, args.max_concurrent, early_termination=variant == WITH
    )
    options = housing_sweep.SweepOptions(
        housing.SplitOptions(data.absolute(), 0.2, 42), spec, seed=args.sampling_seed
    )
    name = f"{'with' if variant == WITH else 'without'}-policy-r{repeat + 1}"
    session = TrackingSession(replace(settings, run_name=name))

    def progress(trial: Any) -> None:
        stop = f" at epoch {trial.terminated_at}" if trial.terminated_at else ""
        print(
            f"    trial {trial.index} {trial.status}{stop}: {trial.epochs_trained} epochs, "
            f"{trial.wall_time_s:.1f} s",
            flush=True,
        )

    load_before = os.getloadavg()[0]
    print(f"  repeat {repeat + 1}: {variant} (load {load_before:.2f}) ...", flush=True)
    cpu_before = children_cpu_s()
    started = time.perf_counter()
    result = housing_sweep.run_sweep(options, session, progress=progress)
    wall = time.perf_counter() - started
    trial_cpu = children_cpu_s() - cpu_before
    fit_s, reasons = {}, {}
    for trial in result.trials:
        run = session.client.get_run(trial.run_id)
        fit_s[trial.index] = run.data.metrics.get("training_time_s", math.nan)
        if reason := run.data.tags.get(tags.TERMINATION_REASON):
            reasons[trial.index] = reason
    failed = [t for t in result.trials if t.status == "failed"]
    if failed:
        raise RuntimeError(
            f"{variant}: {len(failed)} trial(s) failed, first: trial {failed[0].index}: "
            f"{failed[0].error} (its log: trial_logs/{failed[0].log_path.name} on sweep run "
            f"{result.run_id})"
        )
    print(
        f"  repeat {repeat + 1}: {variant}: {wall:.1f} s wall (sweep's own {result.wall_time_s:.1f}"
        f" s), {sum(t.epochs_trained for t in result.trials)} epochs, "
        f"{sum(t.status == 'terminated' for t in result.trials)} terminated; 1-min load "
        f"{load_before:.2f} before, {os.getloadavg()[0]:.2f} after",
        flush=True,
    )
    return Measured(variant, repeat, result, wall, trial_cpu, fit_s, reasons)


def params_of(measured: Measured) -> list[tuple[int, dict[str, Any]]]:
    return [(t.index, dict(t.params)) for t in measured.result.trials]


def curves_agree(with_: Measured, without: Measured) -> tuple[bool, float]:
    """Whether each policy-run curve is a prefix of the same trial's full curve (max |diff|)."""
    full = {t.index: t.curve for t in without.result.trials}
    worst, prefix = 0.0, True
    for trial in with_.result.trials:
        other = full.get(trial.index, [])
        if len(trial.curve) > len(other):
            prefix = False
        for a, b in zip(trial.curve, other, strict=False):
            worst = max(worst, abs(a - b))
    return prefix, worst


# --- the report ------------------------------------------------------------------------------


def _median(values: list[float]) -> float:
    return statistics.median(values) if values else math.nan


def _ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}x" if b and not math.isnan(a) and not math.isnan(b) else "n/a"


def _money(value: float | None) -> str:
    return "n/a" if value is None or math.isnan(value) else f"{value:,.0f}"


def summary_table(runs: dict[str, list[Measured]], repeats: int) -> str:
    from tracking_demo.sweep.runner import final_value

    w, o = runs[WITH], runs[WITHOUT]
    median = " (median)" if repeats > 1 else ""
    wall = [_median([m.wall_s for m in r]) for r in (w, o)]
    cpu = [_median([m.trial_cpu_s for m in r]) for r in (w, o)]
    trained = [_median([m.epochs_trained for m in r]) for r in (w, o)]
    planned = w[0].epochs_planned
    terminated = [_median([m.count("terminated") for m in r]) for r in (w, o)]
    trials = len(w[0].result.trials)
    outside = [_median([m.mean_outside_fit_share for m in r]) for r in (w, o)]
    last_w, last_o = w[-1], o[-1]
    best_w, best_o = last_w.result.best, last_o.result.best
    mae_w = best_w.metrics.get("test_mae", math.nan)
    mae_o = best_o.metrics.get("test_mae", math.nan)
    rows: list[tuple[str, str, str, str]] = [
        (f"sweep wall time, s{median}", f"{wall[0]:.1f}", f"{wall[1]:.1f}",
         _ratio(wall[0], wall[1])),
        (f"trial CPU time, s{median}", f"{cpu[0]:.1f}", f"{cpu[1]:.1f}",
         _ratio(cpu[0], cpu[1])),
        ("epochs trained / planned", f"{trained[0]:g} / {planned}", f"{trained[1]:g} / {planned}",
         _ratio(trained[0], trained[1])),
        ("trials terminated", f"{terminated[0]:g} of {trials} ({terminated[0] / trials:.0%})",
         f"{terminated[1]:g} of {trials} ({terminated[1] / trials:.0%})", ""),
        ("trial wall time outside fit, mean", f"{outside[0]:.0%}", f"{outside[1]:.0%}", ""),
        ("best completed trial" + (" (last repeat)" if repeats > 1 else ""),
         f"trial {best_w.index}", f"trial {best_o.index}", ""),
        ("  its final val_mae, $", _money(final_value(best_w)), _money(final_value(best_o)),
         _ratio(final_value(best_w), final_value(best_o))),
        ("  its test MAE, $", _money(mae_w), _money(mae_o), _ratio(mae_w, mae_o)),
    ]  # fmt: skip
    head = ("", WITH, WITHOUT, "with / without")
    widths = [max(len(str(row[i])) for row in [*rows, head]) for i in range(4)]
    line = (
        f"{head[0]:<{widths[0]}}   {head[1]:>{widths[1]}}   {head[2]:>{widths[2]}}   "
        f"{head[3]:>{widths[3]}}"
    )
    out = [line, "-" * len(line)]
    for row in rows:
        out.append(
            f"{row[0]:<{widths[0]}}   {row[1]:>{widths[1]}}   {row[2]:>{widths[2]}}   "
            f"{row[3]:>{widths[3]}}"
        )
    return "\n".join(out)


def repeats_table(runs: dict[str, list[Measured]]) -> str:
    header = (
        f"{'repeat':<6} {'order':<32} {'wall with s':>11} {'without s':>9} {'ratio':>6} "
        f"{'epochs with':>11} {'without':>7} {'terminated':>10}"
    )
    out = [header, "-" * len(header)]
    for w, o in zip(runs[WITH], runs[WITHOUT], strict=True):
        order = f"{WITH} first" if w.repeat % 2 == 0 else f"{WITHOUT} first"
        out.append(
            f"{w.repeat + 1:<6} {order:<32} {w.wall_s:>11.1f} {o.wall_s:>9.1f} "
            f"{_ratio(w.wall_s, o.wall_s):>6} {w.epochs_trained:>11d} {o.epochs_trained:>7d} "
            f"{w.count('terminated'):>10d}"
        )
    return "\n".join(out)


def trials_table(with_: Measured, without: Measured) -> str:
    from tracking_demo.sweep.runner import final_value

    full = {t.index: t for t in without.result.trials}
    names = list(with_.result.trials[0].params) if with_.result.trials else []
    short = {
        "batch_size": "batch",
        "epochs": "epochs",
        "first_layer_units": "units1",
        "second_layer_units": "units2",
        "learning_rate": "lr",
    }
    param_head = " ".join(f"{short.get(n, n):>7}" for n in names)
    header = (
        f"{'trial':>5} {param_head}  {'status':<10} {'stop@':>5} {'epochs':>6} "
        f"{'val_mae $':>9} {'wall s':>6} {'fit s':>6} {'outside':>7}  |  "
        f"{'epochs':>6} {'val_mae $':>9} {'wall s':>6} {'fit s':>6} {'outside':>7}"
    )
    split = header.index("|")
    groups = f"{'':{len(param_head) + 8}}with policy (val_mae: the last epoch trained)"
    groups = f"{groups:<{split}}|  same trial without policy"
    out = [groups, header, "-" * len(header)]

    def value(v: Any) -> str:
        return f"{v:>7.2g}" if isinstance(v, float) else f"{v!s:>7}"

    def epochs(trial: Any) -> str:
        return f"{trial.epochs_trained}/{trial.params.get('epochs', '?')}"

    for trial in with_.result.trials:
        other = full[trial.index]
        stop = str(trial.terminated_at) if trial.terminated_at else "-"
        out.append(
            f"{trial.index:>5} {' '.join(value(trial.params[n]) for n in names)}  "
            f"{trial.status:<10} {stop:>5} {epochs(trial):>6} {_money(final_value(trial)):>9} "
            f"{trial.wall_time_s:>6.1f} {with_.fit_s.get(trial.index, math.nan):>6.1f} "
            f"{with_.outside_fit_share(trial):>7.0%}  |  "
            f"{epochs(other):>6} {_money(final_value(other)):>9} "
            f"{other.wall_time_s:>6.1f} {without.fit_s.get(other.index, math.nan):>6.1f} "
            f"{without.outside_fit_share(other):>7.0%}"
        )
    return "\n".join(out)


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
    parser.add_argument("--repeats", type=int, default=1, help="pairs of sweeps (order alternates)")
    parser.add_argument("--sampling-seed", type=int, default=0, help="the command's default, 0")
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"smoke run: {QUICK_ROWS:,} rows, {QUICK_TRIALS} trials",
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
    runs: dict[str, list[Measured]] = {variant: [] for variant in VARIANTS}
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
            f"{len(sampled)} trials sampled (sampling seed {args.sampling_seed}), "
            f"{spec.max_concurrent} at a time, {threads} TF thread(s) each; "
            f"{args.repeats} repeat(s), order alternating",
            flush=True,
        )
        server = LocalServer(root / "server", port=find_free_port())
        server.start(timeout=120)
        try:
            settings = TrackingSettings(
                uri=server.uri, experiment=EXPERIMENT, wal_root=root / "wal"
            )
            for repeat in range(args.repeats):
                order = VARIANTS if repeat % 2 == 0 else VARIANTS[::-1]
                for variant in order:
                    measured = run_one(variant, repeat, args, csv.parent, settings)
                    if params_of(measured) != list(enumerate(sampled)):
                        raise RuntimeError(
                            f"{variant} ran other trials than sampled:\n{params_of(measured)}\n"
                            f"expected {list(enumerate(sampled))}"
                        )
                    runs[variant].append(measured)
        finally:
            server.stop(timeout=20)

    identical = all(
        params_of(m) == params_of(runs[WITH][0]) for variant in VARIANTS for m in runs[variant]
    )
    assert identical, "the two runs sampled different trials"
    print(f"\nload at end {os.getloadavg()[0]:.2f}")
    print(
        f"both runs sampled the same {len(sampled)} trials (parameters checked identical in "
        f"every run: {identical}); same split (test 0.2, seed 42) and model seed 42"
    )
    for w, o in zip(runs[WITH], runs[WITHOUT], strict=True):
        prefix, worst = curves_agree(w, o)
        print(
            f"repeat {w.repeat + 1}: curves agree: every policy-run val_mae curve is a prefix of "
            f"the same trial's full curve: {prefix} (max |difference| ${worst:,.2f})"
        )
    print()
    if args.repeats > 1:
        print(repeats_table(runs))
        print()
    print(summary_table(runs, args.repeats))
    for w, o in zip(runs[WITH], runs[WITHOUT], strict=True):
        print(f"\nper trial, repeat {w.repeat + 1} (with policy vs the same trial without):")
        print(trials_table(w, o))
        for index, reason in sorted(w.reasons.items()):
            print(f"  trial {index} stopped: {reason}")


if __name__ == "__main__":
    main()

"""What per-epoch tracking costs a Keras training: `fit` with and without `EpochMetricsLogger`.

Run: .venv/bin/python benchmarks/mnist_callback_overhead.py [--arch cnn|lenet] [--epochs 3]
     [--batch-size N] [--repeats 3] [--data DIR]

One process, one temporary local MLflow server (running during every fit, so its idle load
falls on both variants). The same model (fresh, same seed via `keras.utils.set_random_seed`)
is fitted on the same data (the offline 4,000/1,000 sample written to a temporary folder
unless `--data` names MNIST files; validation is 10% of the training files, as `train mnist`
splits it) `--repeats` times each way:
  with     `EpochMetricsLogger(session.log_metrics)` inside a `TrackingSession` run, as
           `train_network` wires it (append to the write-ahead log, background `log_batch`)
  without  no callback at all
The order alternates between repeats (with first, then without first, ...) to cancel drift and
warm-up; one untimed fit first warms the process (TensorFlow runtime, kernels, thread pools).
Each timed fit still traces its own fresh model, equally in both variants.

Printed: every repeat's `fit` wall time each way, the median of each, and the median of the
per-repeat ratios (goal: with / without <= 1.02; each repeat's two fits run back to back, so
their ratio is what drift on a shared machine disturbs least); the process's CPU time during
`fit` (all threads, the logger's too: far less disturbed by other load than wall time); the
training thread's time inside the callback; and the time `run_logger.flush()` took after `fit`
until the server had acknowledged every point (not on the training path: reported, not counted
in `fit`; 0 when the background sender had already delivered everything).
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

# Before anything imports keras (all imports of it and of tracking_demo are inside functions).
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# Offline, MLflow's telemetry thread can break requests (see server_latency.py); keep it off.
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "true")  # "View run ..." lines

GOAL_RATIO = 1.02
VARIANTS = ("with", "without")


@dataclass
class Timing:
    fit_s: float  # wall time of `fit`
    cpu_s: float  # CPU time of this process during `fit`: all threads, the logger's included
    callback_s: float | None = None  # the training thread's time inside the callback
    flush_s: float | None = None  # after `fit`: until the server acknowledged every point


def _fit(arrays, args, callbacks: list) -> Timing:  # type: ignore[no-untyped-def]
    """A fresh, seeded model fitted once; times `fit` alone."""
    import keras

    from tracking_demo.tasks.models.mnist import build

    x_fit, y_fit, x_val, y_val = arrays
    keras.utils.set_random_seed(args.seed)
    model = build(args.arch, 1e-3)
    started, cpu_started = time.perf_counter(), time.process_time()
    model.fit(
        x_fit,
        y_fit,
        batch_size=args.batch_size,
        epochs=args.epochs,
        validation_data=(x_val, y_val),
        callbacks=callbacks,
        verbose=0,
    )
    return Timing(time.perf_counter() - started, time.process_time() - cpu_started)


def _timed_logger(log_metrics):  # type: ignore[no-untyped-def]
    """`EpochMetricsLogger` as `train_network` wires it, also adding up its time per call."""
    from tracking_demo.tasks.epoch_logging import EpochMetricsLogger

    class TimedEpochMetricsLogger(EpochMetricsLogger):
        spent_s = 0.0

        def on_epoch_begin(self, epoch, logs=None):  # type: ignore[no-untyped-def]
            started = time.perf_counter()
            super().on_epoch_begin(epoch, logs)
            self.spent_s += time.perf_counter() - started

        def on_epoch_end(self, epoch, logs=None):  # type: ignore[no-untyped-def]
            started = time.perf_counter()
            super().on_epoch_end(epoch, logs)
            self.spent_s += time.perf_counter() - started

    return TimedEpochMetricsLogger(log_metrics)


def _with_tracking(arrays, args, session) -> Timing:  # type: ignore[no-untyped-def]
    from mlflow.tracking import MlflowClient

    with session.run(tags={"benchmark": "mnist_callback_overhead"}) as run:
        callback = _timed_logger(session.log_metrics)
        timing = _fit(arrays, args, [callback])
        started = time.perf_counter()
        if not session.run_logger.flush(120):
            raise RuntimeError("the server did not acknowledge the epoch metrics within 120 s")
        timing.flush_s = time.perf_counter() - started
        timing.callback_s = callback.spent_s
    stored = MlflowClient(session.uri).get_metric_history(run.run_id, "val_accuracy")
    assert len(stored) == args.epochs, f"{len(stored)} val_accuracy points, not {args.epochs}"
    return timing


def _load(args, tmp: Path):  # type: ignore[no-untyped-def]
    from tracking_demo.data import mnist as mnist_data
    from tracking_demo.tasks.mnist import load_arrays, split_validation

    data_dir = args.data
    if data_dir is None:
        data_dir = tmp / "mnist-sample"
        mnist_data.write_sample(data_dir)
    loaded = load_arrays(data_dir)
    return split_validation(loaded.x_train, loaded.y_train, 0.1, args.seed)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arch", choices=("cnn", "lenet"), default="cnn")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, help="default: the architecture's (128 / 10)")
    parser.add_argument("--repeats", type=int, default=3, help="timed fits of each variant")
    parser.add_argument("--data", type=Path, help="MNIST files (default: the offline sample)")
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()
    # SIGTERM ends through `finally`, so the server does not outlive the benchmark.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    import keras

    from tracking_demo.server.local import LocalServer
    from tracking_demo.server.processes import find_free_port
    from tracking_demo.tasks.mnist import NETWORK_DEFAULTS
    from tracking_demo.tracking.session import TrackingSession
    from tracking_demo.tracking.settings import TrackingSettings

    args.batch_size = args.batch_size or NETWORK_DEFAULTS[args.arch][0]
    timings: dict[str, list[Timing]] = {variant: [] for variant in VARIANTS}
    orders: list[str] = []
    with tempfile.TemporaryDirectory(prefix="callback-overhead-") as tmp_name:
        tmp = Path(tmp_name)
        arrays = _load(args, tmp)
        print(
            f"keras {keras.__version__} ({keras.backend.backend()}), {os.cpu_count()} CPUs, "
            f"load {os.getloadavg()[0]:.2f}; {args.arch}, {len(arrays[0])} training digits, "
            f"{args.epochs} epochs of batch {args.batch_size}, {args.repeats} repeats",
            flush=True,
        )
        server = LocalServer(tmp / "server", port=find_free_port())
        server.start(timeout=120)
        try:
            settings = TrackingSettings(
                uri=server.uri, experiment="callback-overhead", wal_root=tmp / "wal"
            )
            session = TrackingSession(settings)
            warm_up = _fit(arrays, args, [])
            print(f"  warm-up fit (untimed): {warm_up.fit_s:.2f}s", flush=True)
            for repeat in range(args.repeats):
                order = VARIANTS if repeat % 2 == 0 else VARIANTS[::-1]
                orders.append(" then ".join(order))
                for variant in order:
                    if variant == "with":
                        timing = _with_tracking(arrays, args, session)
                    else:
                        timing = _fit(arrays, args, [])
                    timings[variant].append(timing)
                    line = f"  repeat {repeat + 1}: {variant:<7} fit {timing.fit_s:.2f}s"
                    print(line, flush=True)
        finally:
            server.stop(timeout=20)

    with_t, without_t = timings["with"], timings["without"]
    header = (
        f"{'repeat':<6} {'order':<17} {'wall w/o s':>10} {'with s':>7} {'ratio':>6} "
        f"{'cpu w/o s':>9} {'with s':>7} {'ratio':>6} {'callback ms':>11} {'flush s':>7}"
    )
    print(f"\nload at end {os.getloadavg()[0]:.2f}; the flush after fit is not in fit\n")
    print(header)
    print("-" * len(header))

    def row(label: str, order: str, without: Timing, with_: Timing) -> str:
        return (
            f"{label:<6} {order:<17} {without.fit_s:>10.2f} {with_.fit_s:>7.2f} "
            f"{with_.fit_s / without.fit_s:>6.3f} {without.cpu_s:>9.2f} {with_.cpu_s:>7.2f} "
            f"{with_.cpu_s / without.cpu_s:>6.3f} {(with_.callback_s or 0) * 1e3:>11.2f} "
            f"{with_.flush_s or 0:>7.3f}"
        )

    for index, order in enumerate(orders):
        print(row(str(index + 1), order, without_t[index], with_t[index]))

    def median(timings: list[Timing]) -> Timing:
        return Timing(
            *(
                statistics.median(getattr(t, name) or 0.0 for t in timings)
                for name in ("fit_s", "cpu_s", "callback_s", "flush_s")
            )
        )

    median_with, median_without = median(with_t), median(without_t)
    print(row("median", "", median_without, median_with))
    # Each repeat's two fits run back to back, under the same load: their ratio cancels the
    # drift that makes single wall times on a shared machine vary by a third.
    paired = statistics.median(w.fit_s / o.fit_s for w, o in zip(with_t, without_t, strict=True))
    paired_cpu = statistics.median(
        w.cpu_s / o.cpu_s for w, o in zip(with_t, without_t, strict=True)
    )
    verdict = "met" if paired <= GOAL_RATIO else "NOT met"
    print(
        f"\nfit wall time with / without, median of the paired ratios = {paired:.3f} "
        f"(goal <= {GOAL_RATIO}): {verdict}"
    )
    print(f"CPU time with / without, median of the paired ratios = {paired_cpu:.3f}")
    share = median_with.callback_s / median_with.fit_s  # type: ignore[operator]
    print(f"training thread inside the callback: {share:.4%} of fit (median)")


if __name__ == "__main__":
    main()

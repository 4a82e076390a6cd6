"""Full MNIST as `train mnist` trains it: epoch times, time to 99% val accuracy, test accuracy.

Run: .venv/bin/python benchmarks/mnist_full.py --data DIR [--arch cnn|lenet] [--epochs N]
     [--batch-size N] [--target 0.99] [--logreg]

DIR holds the four MNIST IDX files (`tracking-demo data mnist --out DIR` downloads them; any
valid MNIST files work, e.g. the offline sample, which never reaches 99%). `train_network` runs
with the architecture's defaults (CNN: 12 epochs of 128; early stopping on val_accuracy,
patience 5) unless overridden, TensorBoard off, against a temporary local MLflow server. Keras
uses whatever its backend finds: a GPU when the backend sees one, nothing to configure.

Printed: the Keras backend and its devices, every epoch (time, loss, val_accuracy), the first
epoch's time (it includes tracing and compilation) apart from the median of the others, the
time to reach `--target` validation accuracy (epoch times summed up to the first epoch at or
above it), best validation accuracy, test accuracy and epochs trained; with `--logreg` also the
logistic regression (`train mnist-logreg` defaults) with its accuracy and fit time.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path

# Before anything imports keras (all imports of it and of tracking_demo are inside functions).
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# Offline, MLflow's telemetry thread can break requests (see server_latency.py); keep it off.
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "true")  # "View run ..." lines


def devices(backend: str) -> str:
    """What the backend computes on: its GPUs when it sees any, else the CPU."""
    if backend == "tensorflow":
        import tensorflow as tf

        gpus = tf.config.list_physical_devices("GPU")
        return ", ".join(gpu.name for gpu in gpus) if gpus else "CPU (no GPU visible)"
    if backend == "jax":
        import jax

        return ", ".join(str(device) for device in jax.devices())
    if backend == "torch":
        import torch

        if torch.cuda.is_available():
            return ", ".join(
                torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())
            )
        return "CPU (no CUDA device visible)"
    return "unknown"


def time_to_target(history: dict[str, list[float]], target: float) -> tuple[float, int] | None:
    """Seconds of training (epoch times summed) until the first epoch at or above `target`."""
    elapsed = 0.0
    for epoch, (seconds, accuracy) in enumerate(
        zip(history["epoch_time_s"], history["val_accuracy"], strict=True), start=1
    ):
        elapsed += seconds
        if accuracy >= target:
            return elapsed, epoch
    return None


def _check_data(data_dir: Path) -> None:
    """One line naming the files and the command that writes them, instead of a traceback."""
    from tracking_demo.data import mnist as mnist_data
    from tracking_demo.errors import DataError

    try:
        mnist_data.find_files(data_dir)
    except DataError:
        names = ", ".join(mnist_data.STANDARD_NAMES.values())
        sys.exit(
            f"{Path(__file__).name}: no MNIST data in '{data_dir}' (expected {names}); "
            f"download them with: tracking-demo data mnist --out {data_dir}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="folder of the MNIST IDX files")
    parser.add_argument("--arch", choices=("cnn", "lenet"), default="cnn")
    parser.add_argument("--epochs", type=int, help="default: the architecture's (12 / 10)")
    parser.add_argument("--batch-size", type=int, help="default: the architecture's (128 / 10)")
    parser.add_argument("--target", type=float, default=0.99, help="validation accuracy to time")
    parser.add_argument("--logreg", action="store_true", help="also the logistic regression")
    args = parser.parse_args()
    _check_data(args.data)
    # SIGTERM ends through `finally`, so the server does not outlive the benchmark.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    import keras

    from tracking_demo.server.local import LocalServer
    from tracking_demo.server.processes import find_free_port
    from tracking_demo.tasks.mnist import (
        LogregOptions,
        NetworkOptions,
        train_logreg,
        train_network,
    )
    from tracking_demo.tracking.session import TrackingSession
    from tracking_demo.tracking.settings import TrackingSettings

    backend = keras.backend.backend()
    options = NetworkOptions(
        args.data,
        architecture=args.arch,
        epochs=args.epochs,
        batch_size=args.batch_size,
        tensorboard=False,
        verbose=0,
    )
    print(
        f"keras {keras.__version__}, backend {backend} on {devices(backend)}; {os.cpu_count()} "
        f"CPUs, load {os.getloadavg()[0]:.2f}; {args.arch}, up to {options.resolved_epochs} "
        f"epochs of batch {options.resolved_batch_size}",
        flush=True,
    )
    with tempfile.TemporaryDirectory(prefix="mnist-full-") as tmp:
        server = LocalServer(Path(tmp) / "server", port=find_free_port())
        server.start(timeout=120)
        try:
            settings = TrackingSettings(uri=server.uri, experiment="mnist-full", wal_root=Path(tmp))
            session = TrackingSession(settings)
            started = time.perf_counter()
            network = train_network(options, session)
            network_wall = time.perf_counter() - started
            params = session.client.get_run(network.run_id).data.params
            logreg, logreg_wall = None, 0.0
            if args.logreg:
                started = time.perf_counter()
                logreg = train_logreg(LogregOptions(args.data), session)
                logreg_wall = time.perf_counter() - started
        finally:
            server.stop(timeout=20)

    history, metrics = network.history, network.metrics
    print(
        f"\n{'epoch':>5} {'seconds':>8} {'loss':>8} {'accuracy':>9} {'val_loss':>9} {'val_acc':>8}"
    )
    for index, seconds in enumerate(history["epoch_time_s"]):
        print(
            f"{index + 1:>5} {seconds:>8.2f} {history['loss'][index]:>8.4f} "
            f"{history['accuracy'][index]:>9.4f} {history['val_loss'][index]:>9.4f} "
            f"{history['val_accuracy'][index]:>8.4f}"
        )
    times = history["epoch_time_s"]
    later = f"{statistics.median(times[1:]):.2f}s" if len(times) > 1 else "n/a (one epoch)"
    reached = time_to_target(history, args.target)
    to_target = (
        f"{reached[0]:.1f}s (epoch {reached[1]})"
        if reached
        else f"not reached ({len(times)} epochs)"
    )
    digits = (
        f"{params['n_train']} training ({params['n_validation']} of them validation), "
        f"{params['n_test']} test"
    )
    rows = [
        ("digits", digits),
        ("first epoch (incl. compilation)", f"{times[0]:.2f}s"),
        ("median epoch after the first", later),
        (f"time to val_accuracy >= {args.target}", to_target),
        (
            "best val_accuracy",
            f"{metrics['best_val_accuracy']:.4f} (epoch {metrics['best_epoch']:.0f})",
        ),
        ("test_accuracy (best weights)", f"{metrics['test_accuracy']:.4f}"),
        ("epochs trained", f"{metrics['epochs_trained']:.0f}"),
        (
            "fit time / train_network wall",
            f"{metrics['training_time_s']:.1f}s / {network_wall:.1f}s",
        ),
    ]
    if logreg is not None:
        rows += [
            ("logreg accuracy", f"{logreg.metrics['test_accuracy']:.4f}"),
            (
                "logreg fit time / wall",
                f"{logreg.metrics['training_time_s']:.1f}s / {logreg_wall:.1f}s",
            ),
        ]
    print()
    for label, value in rows:
        print(f"{label:<40} {value}")


if __name__ == "__main__":
    main()

"""What uploading TensorBoard event files at each epoch's end costs the training thread.

Run: .venv/bin/python benchmarks/tensorboard_upload.py [--arch cnn|lenet] [--epochs 3]
     [--batch-size N] [--data DIR]

One process, one temporary local MLflow server. The same seeded model is fitted twice on the
offline 4,000-digit sample (or `--data`), inside a `TrackingSession` run each time:
  plain      Keras's own `TensorBoard` callback (events uploaded only after `fit`, as before)
  uploading  `UploadingTensorBoard(session.log_artifact)`, as `train mnist-cnn` wires it:
             flush the summary writers and hand each grown file to the run's logger
Printed per epoch: the training thread's time inside the callback's `on_epoch_end` each way,
and how many bytes the uploading callback copied into the run's write-ahead log; then the time
`run_logger.flush()` took after `fit` until the server had everything (not on the training
path). One untimed fit warms the process first.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "true")


def _timed(base):  # type: ignore[no-untyped-def]
    """`base` with the time spent in each `on_epoch_end` recorded."""

    class Timed(base):  # type: ignore[misc, valid-type]
        def __init__(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
            super().__init__(*args, **kwargs)
            self.epoch_end_s: list[float] = []

        def on_epoch_end(self, epoch, logs=None):  # type: ignore[no-untyped-def]
            started = time.perf_counter()
            super().on_epoch_end(epoch, logs)
            self.epoch_end_s.append(time.perf_counter() - started)

    return Timed


def _fit(arrays, args, callbacks) -> None:  # type: ignore[no-untyped-def]
    import keras

    from tracking_demo.tasks.models.mnist import build

    x_fit, y_fit, x_val, y_val = arrays
    keras.utils.set_random_seed(args.seed)
    build(args.arch, 1e-3).fit(
        x_fit,
        y_fit,
        batch_size=args.batch_size,
        epochs=args.epochs,
        validation_data=(x_val, y_val),
        callbacks=callbacks,
        verbose=0,
    )


def _variant(name, arrays, args, session, tmp: Path):  # type: ignore[no-untyped-def]
    import keras

    from tracking_demo.tasks.tensorboard_logging import UploadingTensorBoard

    copied: list[int] = []

    def upload(path: Path, folder: str) -> None:
        copied.append(path.stat().st_size)
        session.log_artifact(path, folder)

    log_dir = tmp / name / "logs"
    with session.run(tags={"benchmark": "tensorboard_upload"}):
        if name == "plain":
            callback = _timed(keras.callbacks.TensorBoard)(log_dir=str(log_dir))
        else:
            callback = _timed(UploadingTensorBoard)(log_dir, upload)
        _fit(arrays, args, [callback])
        if name == "plain":
            session.log_artifacts(log_dir, "tensorboard")  # as `train` did before
        started = time.perf_counter()
        if not session.run_logger.flush(120):
            raise RuntimeError("the server did not acknowledge the run within 120 s")
        flush_s = time.perf_counter() - started
    return callback.epoch_end_s, copied, flush_s


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arch", choices=("cnn", "lenet"), default="cnn")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, help="default: the architecture's (128 / 10)")
    parser.add_argument("--data", type=Path, help="MNIST files (default: the offline sample)")
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    from tracking_demo.data import mnist as mnist_data
    from tracking_demo.server.local import LocalServer
    from tracking_demo.server.processes import find_free_port
    from tracking_demo.tasks.mnist import NETWORK_DEFAULTS, load_arrays, split_validation
    from tracking_demo.tracking.session import TrackingSession
    from tracking_demo.tracking.settings import TrackingSettings

    args.batch_size = args.batch_size or NETWORK_DEFAULTS[args.arch][0]
    with tempfile.TemporaryDirectory(prefix="tensorboard-upload-") as tmp_name:
        tmp = Path(tmp_name)
        data_dir = args.data
        if data_dir is None:
            data_dir = tmp / "mnist-sample"
            mnist_data.write_sample(data_dir)
        loaded = load_arrays(data_dir)
        arrays = split_validation(loaded.x_train, loaded.y_train, 0.1, args.seed)
        print(
            f"{args.arch}, {len(arrays[0])} training digits, {args.epochs} epochs of batch "
            f"{args.batch_size}, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.2f}",
            flush=True,
        )
        server = LocalServer(tmp / "server", port=find_free_port())
        server.start(timeout=120)
        try:
            settings = TrackingSettings(uri=server.uri, experiment="tb-upload", wal_root=tmp / "w")
            session = TrackingSession(settings)
            _fit(arrays, args, [])  # warm-up, untimed
            results = {
                name: _variant(name, arrays, args, session, tmp) for name in ("plain", "uploading")
            }
        finally:
            server.stop(timeout=20)

    (plain, _, plain_flush), (uploading, copied, uploading_flush) = results.values()
    per_epoch = len(copied) // max(1, args.epochs)
    print(f"\n{'epoch':>5} {'plain ms':>9} {'uploading ms':>12} {'copied KiB':>10}")
    for epoch, (p, u) in enumerate(zip(plain, uploading, strict=True)):
        kib = sum(copied[epoch * per_epoch : (epoch + 1) * per_epoch]) / 1024
        print(f"{epoch + 1:>5} {p * 1e3:>9.2f} {u * 1e3:>12.2f} {kib:>10.1f}")
    print(f"\nflush after fit: plain {plain_flush:.3f}s, uploading {uploading_flush:.3f}s")


if __name__ == "__main__":
    main()

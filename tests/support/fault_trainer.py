"""The trainer of the fault matrix: a real training loop run as its own process, so a test can
cut its server, kill it or fill its disk, and read its exit code and output as a user would.

SGD on two moons, `loss`, `accuracy` and `mark` (the `--mark` value, telling two trainers'
points apart) logged per epoch through a `TrackingSession`. Prints `RUN <id> <log folder>` once
the run is open, `POINT <key> <n>` once each point is logged and `STEP <n>` after each epoch.
Errors go through the CLI's own adapter: one `error: ...` line, exit 1, exactly what
`tracking-demo train` prints.
`--flush-timeout` shortens the end-of-run deadline (30 s by default) so an outage past it is
quick to test.
"""

from __future__ import annotations

import sys
import time

import click
import mlflow.sklearn
import numpy as np
from matplotlib.figure import Figure
from sklearn.datasets import make_moons
from sklearn.linear_model import SGDClassifier
from sklearn.metrics import accuracy_score, log_loss

from tracking_demo.cli.errors import OneLineErrors
from tracking_demo.tracking.logger import LoggerOptions
from tracking_demo.tracking.session import TrackingSession
from tracking_demo.tracking.settings import TrackingSettings

KEYS = ("loss", "accuracy", "mark")


@click.command(cls=OneLineErrors)
@click.argument("uri")
@click.option("--experiment", default="fault-matrix")
@click.option("--epochs", type=int, default=20, help="0: until killed")
@click.option("--pause", type=float, default=0.0, help="seconds between epochs")
@click.option("--flush-timeout", type=float, default=LoggerOptions.flush_timeout_s)
@click.option("--wait", is_flag=True, help="read a line from stdin once the run is open")
@click.option("--keep", is_flag=True, help="keep the run's log folder after a complete run")
@click.option("--mark", type=float, default=0.0)
@click.option("--text-kib", type=int, default=0, help="also log a text artifact per epoch")
@click.option("--register-as", help="end with a figure, a model and its registration")
def main(
    uri: str,
    experiment: str,
    epochs: int,
    pause: float,
    flush_timeout: float,
    wait: bool,
    keep: bool,
    mark: float,
    text_kib: int,
    register_as: str | None,
) -> None:
    session = TrackingSession(
        TrackingSettings(uri=uri, experiment=experiment, request_timeout_s=2.0),
        logger_options=LoggerOptions(flush_timeout_s=flush_timeout, keep_completed=keep),
    )
    x, y = make_moons(400, noise=0.2, random_state=0)
    model = SGDClassifier(loss="log_loss", random_state=0)
    with session.run(tags={"tracking_demo.task": "fault-matrix"}) as run:
        session.log_params({"epochs": epochs, "mark": mark})
        print(f"RUN {run.run_id} {session.run_logger.run_dir.path}", flush=True)
        if wait:
            sys.stdin.readline()
        epoch = 0
        while epochs == 0 or epoch < epochs:
            model.partial_fit(x, y, classes=np.array([0, 1]))
            metrics = {
                "loss": log_loss(y, model.predict_proba(x)),
                "accuracy": accuracy_score(y, model.predict(x)),
                "mark": mark,
            }
            for key, value in metrics.items():  # each point told once its call returned
                session.log_metric(key, value, step=epoch)
                print(f"POINT {key} {epoch}", flush=True)
            if text_kib:
                session.log_text(f"epoch {epoch}\n" * (text_kib * 128), f"epochs/{epoch}.txt")
            print(f"STEP {epoch}", flush=True)
            epoch += 1
            time.sleep(pause)
        if register_as:
            figure = Figure()
            figure.subplots().plot([1, 2, 3])
            session.log_figure(figure, "plots/curve.png")
            model_uri = session.log_model(
                lambda path: mlflow.sklearn.save_model(
                    model, str(path), pip_requirements=["scikit-learn"]
                )
            )
            session.register_model(model_uri, register_as)


if __name__ == "__main__":
    main()

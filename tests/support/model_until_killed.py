"""A trainer for the killed-with-a-model test: its model and registration stay in its log.

Prints `RUN <id> <log folder>`, waits for a line on stdin (the test stops the server first),
trains and logs a model and its registration that the server cannot take, prints `MODEL` once
both are durable, then waits to be killed.
"""

from __future__ import annotations

import sys
import time

import mlflow.sklearn
from mlflow.models import infer_signature
from sklearn.datasets import make_moons
from sklearn.linear_model import LogisticRegression

from tracking_demo.tracking.logger import LoggerOptions
from tracking_demo.tracking.session import TrackingSession
from tracking_demo.tracking.settings import TrackingSettings


def main(uri: str, experiment: str, register_as: str) -> None:
    session = TrackingSession(
        TrackingSettings(uri=uri, experiment=experiment, request_timeout_s=2.0),
        logger_options=LoggerOptions(fsync_interval_s=0.1, flush_timeout_s=1.0),
    )
    with session.run(tags={"tracking_demo.task": "killed-with-model"}) as run:
        print(f"RUN {run.run_id} {session.run_logger.run_dir.path}", flush=True)
        sys.stdin.readline()
        x, y = make_moons(200, noise=0.2, random_state=0)
        model = LogisticRegression(C=0.5).fit(x, y)
        session.log_params({"C": 0.5})
        session.log_metrics({"test_accuracy": float(model.score(x, y))})
        signature = infer_signature(x[:5], model.predict(x[:5]))
        model_uri = session.log_model(
            lambda path: mlflow.sklearn.save_model(
                model, str(path), signature=signature, pip_requirements=["scikit-learn"]
            ),
            params={"C": 0.5},
            model_type="killed",
            linked_metrics=["test_accuracy"],
        )
        assert session.register_model(model_uri, register_as) is None  # the server is away
        print("MODEL", flush=True)
        while True:
            time.sleep(1)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3])

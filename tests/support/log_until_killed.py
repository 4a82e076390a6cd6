"""A training process for the SIGKILL test: logs per-step metrics until it is killed.

Prints `RUN <id> <log folder>` once, then `STEP <n>` after each step, so the test knows what
was logged before it pulls the plug.
"""

from __future__ import annotations

import sys
import time

from tracking_demo.tracking.logger import LoggerOptions
from tracking_demo.tracking.session import TrackingSession
from tracking_demo.tracking.settings import TrackingSettings


def main(uri: str, experiment: str) -> None:
    session = TrackingSession(
        TrackingSettings(uri=uri, experiment=experiment),
        logger_options=LoggerOptions(fsync_interval_s=0.2),
    )
    with session.run(tags={"tracking_demo.task": "killed"}) as run:
        session.log_params({"lr": 0.1, "epochs": "forever"})
        print(f"RUN {run.run_id} {session.run_logger.run_dir.path}", flush=True)
        step = 0
        while True:
            session.log_metrics({"loss": 1.0 / (step + 1), "accuracy": step / (step + 1)}, step)
            print(f"STEP {step}", flush=True)
            step += 1
            time.sleep(0.02)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])

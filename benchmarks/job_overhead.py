"""What packaging a task as a job costs before any cloud is involved.

Run: .venv/bin/python benchmarks/job_overhead.py [--repeats 3]

Side by side in one run, against one local MLflow server:
- `tracking-demo train moons` as a user runs it (the baseline);
- `python -m jobs.submit moons --local`: the same command from a snapshot copy in a fresh
  process with a job's environment, plus the run created beforehand and the checks after;
- `python -m jobs.submit --dry-run` for the curated environment (includes `poetry export`) and
  for the image environment (no export).
The variants alternate within each repeat, so machine noise spreads over all of them.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tracking_demo.data.moons import MoonsSpec, write
from tracking_demo.server.local import LocalServer
from tracking_demo.server.processes import find_free_port

ROOT = Path(__file__).resolve().parent.parent


def timed(args: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(args, cwd=ROOT, env=env, check=True, capture_output=True)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    options = parser.parse_args()
    env = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true"}
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        env["TRACKING_DEMO_RUNS_DIR"] = str(root / "wal")
        data = root / "moons"
        write(MoonsSpec(), data)
        server = LocalServer(root / "server", port=find_free_port())
        server.start()
        python = sys.executable
        variants = {
            "train moons (direct)": [
                python, "-m", "tracking_demo", "train", "moons", "--data", str(data),
                "--tracking-uri", server.uri,
            ],
            "submit --local": [
                python, "-m", "jobs.submit", "moons", "--local", "--data", str(data),
                "--tracking-uri", server.uri,
            ],
            "submit --dry-run (curated)": [python, "-m", "jobs.submit", "moons", "--dry-run"],
            "submit --dry-run (image)": [
                python, "-m", "jobs.submit", "moons", "--dry-run", "--environment", "image",
                "--image", "myacr.azurecr.io/tracking-demo:1",
            ],
        }  # fmt: skip
        times: dict[str, list[float]] = {name: [] for name in variants}
        try:
            for _ in range(options.repeats):
                for name, args in variants.items():
                    times[name].append(timed(args, env))
        finally:
            server.stop()
    baseline = statistics.median(times["train moons (direct)"])
    print(f"{'variant':30} {'median s':>9} {'min s':>7} {'max s':>7} {'x direct':>9}")
    for name, values in times.items():
        median = statistics.median(values)
        print(
            f"{name:30} {median:9.2f} {min(values):7.2f} {max(values):7.2f} "
            f"{median / baseline:9.2f}"
        )


if __name__ == "__main__":
    main()

"""Run a training job inside the built image the way Azure ML runs one, and check its run.

Azure ML starts a job container with MLFLOW_TRACKING_URI, MLFLOW_EXPERIMENT_NAME and the
MLFLOW_RUN_ID of a run it created beforehand, and mounts the data. This script recreates that
on this machine: a real local MLflow server on the host loopback, a pre-created run, the moons
data mounted read-only, and `tracking-demo train moons` run by docker/run.sh (host network,
the image's non-root user). It then asserts through MlflowClient what the job must leave
behind: the same run FINISHED, its accuracy, the model artifact and the registered version.

    PYTHONPATH=. .venv/bin/python docker/check_job.py --image localhost/tracking-demo:dev
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from jobs.local_job import JobFailedError, check_job_run, create_job_run
from tracking_demo.data.moons import MoonsSpec, write
from tracking_demo.server.local import LocalServer
from tracking_demo.server.processes import find_free_port

EXPERIMENT = "image-job-check"
MODEL_NAME = "moons-rf-image"
DATA_MOUNT = "/data/moons"


class CheckFailed(Exception):
    """The job ran but did not leave what a job must leave in MLflow."""


def run_in_image(runner: Path, image: str, options: list[str], command: list[str]) -> str:
    """Run `command` in `image` via docker/run.sh; return its output, fail with its tail."""
    result = subprocess.run(
        ["bash", str(runner), image, *options, "--", *command],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    output = result.stdout + result.stderr
    if result.returncode != 0:
        tail = "\n".join(output.splitlines()[-30:])
        raise CheckFailed(f"{' '.join(command)} exited {result.returncode} in {image}:\n{tail}")
    return output


def check(image: str, runner: Path, workdir: Path, server: LocalServer) -> dict[str, object]:
    """Run the moons job in `image` against the running `server`; raise CheckFailed if the
    run it leaves is not FINISHED with its accuracy, model artifact and registered version."""
    data = workdir / "moons"
    write(MoonsSpec(), data)
    for path in (workdir, data):
        path.chmod(0o755)  # the image's user is uid 1000, not the caller
    for csv in data.iterdir():
        csv.chmod(0o644)

    version = run_in_image(runner, image, [], ["tracking-demo", "--version"]).strip()
    run_id = create_job_run(server.uri, EXPERIMENT, "moons", where="image")
    env = {
        "MLFLOW_TRACKING_URI": server.uri,
        "MLFLOW_EXPERIMENT_NAME": EXPERIMENT,
        "MLFLOW_RUN_ID": run_id,
    }
    options = ["--volume", f"{data}:{DATA_MOUNT}:ro"]
    for name, value in env.items():
        options += ["--env", f"{name}={value}"]
    started = time.monotonic()
    run_in_image(
        runner,
        image,
        options,
        ["tracking-demo", "train", "moons", "--data", DATA_MOUNT, "--register-as", MODEL_NAME],
    )
    job_seconds = time.monotonic() - started

    try:
        result = check_job_run(server.uri, run_id, MODEL_NAME)  # the same checks as --local
    except JobFailedError as error:
        raise CheckFailed(str(error)) from error
    accuracy = result["metrics"].get("test_accuracy")
    if accuracy is None or not 0.8 <= accuracy <= 1.0:
        raise CheckFailed(f"accuracy {accuracy} is missing or below 0.8")
    return {
        "image": image,
        "version": version,
        "tracking_uri": server.uri,
        "run_id": run_id,
        "status": result["status"],
        "accuracy": accuracy,
        "model": f"{MODEL_NAME}:{result['model']['version']}",
        "job_seconds": round(job_seconds, 1),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--image", default="localhost/tracking-demo:dev")
    parser.add_argument(
        "--runner",
        type=Path,
        default=Path("docker/run.sh"),
        help="the script that runs a command in the image [default: docker/run.sh]",
    )
    args = parser.parse_args()
    runner = args.runner.absolute()
    if not runner.is_file():
        print(f"check: {runner} not found (run from the repository root)", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory(prefix="image-job-") as tmp:
        server = LocalServer(Path(tmp) / "server", port=find_free_port())
        server.start(timeout=120)
        try:
            summary = check(args.image, runner, Path(tmp), server)
        except CheckFailed as error:
            print(f"check: FAILED: {error}", file=sys.stderr)
            return 1
        finally:
            server.stop(timeout=20)
    print(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    os.umask(0o022)
    sys.exit(main())

"""SDK v1 against SDK v2 in the submitters: import time and dry-run time, side by side.

Run: .venv/bin/python benchmarks/jobs_sdk.py [--repeats 5]

Each row runs in a fresh process with this interpreter, from the repository root, with a
workspace config.json in a temporary folder (nothing reaches the network):

- import:          `import azureml.core` (v1) against `import azure.ai.ml` (v2);
- submit --help:   `python -m jobs.submit --help` (neither SDK may load);
- submit dry-run:  `python -m jobs.submit moons --dataset moons --register-as moons-rf
                   --dry-run --sdk v1|v2` (v1: the JSON spec; v2: the CLI v2 YAML);
- sweep dry-run:   `python -m jobs.sweep --dataset housing --dry-run --sdk v1|v2`.

Printed: wall and CPU seconds (user + system of the child, from `RUSAGE_CHILDREN` deltas), the
median over `--repeats` after one untimed warm-up, v1 and v2 alternating in an order that flips
between repeats; and the ratio v2 / v1.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def rows(config: Path) -> dict[str, dict[str, list[str]]]:
    workspace = ["--workspace-config", str(config)]
    submit = ["-m", "jobs.submit", "moons", "--dataset", "moons", "--register-as", "moons-rf"]
    sweep = ["-m", "jobs.sweep", "--dataset", "housing"]
    return {
        "import": {"v1": ["-c", "import azureml.core"], "v2": ["-c", "import azure.ai.ml"]},
        "submit --help": {
            "v1": ["-m", "jobs.submit", "--sdk", "v1", "--help"],
            "v2": ["-m", "jobs.submit", "--help"],
        },
        "submit dry-run": {
            sdk: [*submit, *workspace, "--dry-run", "--sdk", sdk] for sdk in ("v1", "v2")
        },
        "sweep dry-run": {
            sdk: [*sweep, *workspace, "--dry-run", "--sdk", sdk] for sdk in ("v1", "v2")
        },
    }


def measure(args: list[str]) -> tuple[float, float]:
    """Wall and CPU seconds of one fresh `python ARGS`; it must succeed."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AZURE_", "MLFLOW_"))}
    env["PYTHONPATH"] = str(ROOT)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=env, check=True, capture_output=True, timeout=300
    )
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        config = Path(scratch) / "config.json"
        identity = {"subscription_id": "sub", "resource_group": "rg", "workspace_name": "ws"}
        config.write_text(json.dumps(identity))
        table = rows(config)
        figures = {name: {"v1": ([], []), "v2": ([], [])} for name in table}
        for name, variants in table.items():
            for sdk in ("v1", "v2"):
                measure(variants[sdk])  # warm-up: bytecode compiled, files cached
            for repeat in range(options.repeats):
                order = ("v1", "v2") if repeat % 2 == 0 else ("v2", "v1")
                for sdk in order:
                    wall, cpu = measure(variants[sdk])
                    figures[name][sdk][0].append(wall)
                    figures[name][sdk][1].append(cpu)
    print(f"median of {options.repeats} runs each, seconds")
    print(f"{'':<16}{'v1 wall':>9}{'v2 wall':>9}{'v2/v1':>7}{'v1 CPU':>9}{'v2 CPU':>9}{'v2/v1':>7}")
    for name, by_sdk in figures.items():
        v1_wall, v1_cpu = (statistics.median(values) for values in by_sdk["v1"])
        v2_wall, v2_cpu = (statistics.median(values) for values in by_sdk["v2"])
        print(
            f"{name:<16}{v1_wall:>9.2f}{v2_wall:>9.2f}{v2_wall / v1_wall:>7.2f}"
            f"{v1_cpu:>9.2f}{v2_cpu:>9.2f}{v2_cpu / v1_cpu:>7.2f}"
        )


if __name__ == "__main__":
    main()

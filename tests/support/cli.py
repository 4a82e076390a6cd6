"""Run the `tracking-demo` command as a user would: a fresh process, its exit code and output."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path


def run_cli(
    *args: str, env: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """Run `python -m tracking_demo ARGS` with no MLflow variable but those in `env`, in `cwd`
    or else an empty temporary folder: defaults relative to the current folder (`.tracking/`,
    `digit.png`) never land in, or read from, the repository."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    with tempfile.TemporaryDirectory(prefix="tracking-demo-cli-") as scratch:
        return subprocess.run(
            [sys.executable, "-m", "tracking_demo", *args],
            env={**clean, **(env or {})},
            cwd=cwd or scratch,
            capture_output=True,
            text=True,
            timeout=300,
        )

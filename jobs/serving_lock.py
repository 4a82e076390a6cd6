"""The scoring container's own lock: `serving/requirements.lock`, hash-pinned for Python 3.11 on
Linux x86_64.

A web service loads models with the packages they were trained with (poetry.lock's pins of
mlflow, numpy, TensorFlow, ...) beside Azure ML's inference server. The two cannot share
poetry.lock: `azureml-inference-server-http` pins an older opentelemetry than MLflow does, so the
serving environment is resolved on its own (by uv, `bash scripts/lock-serving.sh`) from
`serving/requirements.in`, which this module writes from poetry.lock's pins. Managed online
deployments, ACI services, `jobs.deploy local` and the Azure-server test all install this lock,
and its hash versions the environment Azure ML builds from it.
"""

from __future__ import annotations

import hashlib
import re
import sys
import tomllib
from pathlib import Path

from tracking_demo.errors import ConfigError

REQUIREMENTS_IN = Path("serving/requirements.in")
LOCK = Path("serving/requirements.lock")
# Azure ML's inference server: the HTTP layer of a scoring container (init()/run()).
SERVER_REQUIREMENT = "azureml-inference-server-http>=1.5,<2"
# What the entry script and the models load, pinned as poetry.lock pins them.
PINNED_FROM_POETRY_LOCK = (
    "mlflow",
    "numpy",
    "pandas",
    "scipy",
    "scikit-learn",
    "skops",
    "cloudpickle",
    "tensorflow",
    "keras",
)
_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)")


def requirements_in(root: Path) -> str:
    """`serving/requirements.in` as poetry.lock implies it (what `lock-serving.sh` writes)."""
    lock = root / "poetry.lock"
    try:
        packages = tomllib.loads(lock.read_text())["package"]
    except (OSError, tomllib.TOMLDecodeError, KeyError) as error:
        raise ConfigError(f"cannot read the pins in '{lock}': {error}") from error
    versions = {str(p["name"]).lower(): str(p["version"]) for p in packages}
    missing = [name for name in PINNED_FROM_POETRY_LOCK if name not in versions]
    if missing:
        raise ConfigError(f"'{lock}' has no {', '.join(missing)}: a scoring container pins them")
    lines = [
        "# Written by `bash scripts/lock-serving.sh` from poetry.lock; compiled by uv into",
        "# requirements.lock. Edit jobs/serving_lock.py, not this file.",
        *(f"{name}=={versions[name]}" for name in PINNED_FROM_POETRY_LOCK),
        SERVER_REQUIREMENT,
    ]
    return "\n".join(lines) + "\n"


def pinned_requirements(root: Path) -> list[str]:
    """Every `NAME==VERSION` of the lock, without hashes (for a conda file's pip section)."""
    lock = root / LOCK
    if not lock.is_file():
        raise ConfigError(f"'{lock}' does not exist: run `bash scripts/lock-serving.sh`")
    pins = [m.group(0) for line in lock.read_text().splitlines() if (m := _PIN.match(line))]
    if not pins:
        raise ConfigError(f"'{lock}' pins no package: run `bash scripts/lock-serving.sh`")
    return pins


def lock_hash(root: Path) -> str:
    """16 hex digits of the lock's content: the serving environment's version and cache key."""
    lock = root / LOCK
    if not lock.is_file():
        raise ConfigError(f"'{lock}' does not exist: run `bash scripts/lock-serving.sh`")
    return hashlib.sha256(lock.read_bytes()).hexdigest()[:16]


if __name__ == "__main__":  # `python -m jobs.serving_lock ROOT`: print requirements.in
    sys.stdout.write(requirements_in(Path(sys.argv[1] if len(sys.argv) > 1 else ".")))

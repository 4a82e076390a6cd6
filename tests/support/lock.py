"""The versions poetry.lock pins, for tests that check what the project writes against them."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def canonical(name: str) -> str:
    """PEP 503 names: `scikit_learn`, `Scikit-Learn` and `scikit-learn` are one package."""
    return re.sub(r"[-_.]+", "-", name).lower()


def locked_versions(lock: Path = ROOT / "poetry.lock") -> dict[str, str]:
    packages = tomllib.loads(lock.read_text())["package"]
    return {canonical(p["name"]): p["version"] for p in packages}


def assert_pins_the_lock(requirements: str) -> None:
    """Every line is `name==version` with the lock's version of that package."""
    locked = locked_versions()
    lines = [line.strip() for line in requirements.splitlines() if line.strip()]
    assert lines, "no requirements"
    for line in lines:
        name, sep, version = line.partition("==")
        assert sep, f"'{line}' is not pinned"
        want = locked.get(canonical(name))
        assert want is not None, f"'{name}' is not in poetry.lock"
        assert version == want, f"{line}: the lock pins {want}"

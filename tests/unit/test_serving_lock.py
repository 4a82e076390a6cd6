"""The scoring container's lock stays in step with poetry.lock: its input is what poetry.lock
implies, and every pin of the input is in the lock at that version."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from tests.support.lock import canonical

from jobs import serving_lock
from tracking_demo.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]
RELOCK = "run `bash scripts/lock-serving.sh`"


def locked() -> dict[str, str]:
    pins = serving_lock.pinned_requirements(ROOT)
    return {canonical(name): version for name, version in (pin.split("==") for pin in pins)}


def test_requirements_in_is_what_poetry_lock_implies() -> None:
    written = (ROOT / serving_lock.REQUIREMENTS_IN).read_text()
    assert written == serving_lock.requirements_in(
        ROOT
    ), f"serving/requirements.in is out of date with poetry.lock: {RELOCK}"


def test_every_pin_of_the_input_is_in_the_lock_at_its_version() -> None:
    versions = locked()
    for line in (ROOT / serving_lock.REQUIREMENTS_IN).read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        requirement = Requirement(line)
        found = versions.get(canonical(requirement.name))
        assert (
            found is not None
        ), f"{requirement.name} is not in serving/requirements.lock: {RELOCK}"
        assert requirement.specifier.contains(found, prereleases=True), (
            f"serving/requirements.lock has {requirement.name}=={found}, the input says "
            f"{requirement.specifier}: {RELOCK}"
        )


def test_every_locked_package_carries_hashes() -> None:
    text = (ROOT / serving_lock.LOCK).read_text()
    entries = re.split(r"\n(?=[A-Za-z0-9])", text.split("\n", 2)[2])
    for entry in entries:
        assert "--hash=sha256:" in entry, f"no hash for {entry.splitlines()[0]}: {RELOCK}"


def test_lock_hash_names_the_lock_content(tmp_path: Path) -> None:
    assert re.fullmatch(r"[0-9a-f]{16}", serving_lock.lock_hash(ROOT))
    (tmp_path / "serving").mkdir()
    (tmp_path / serving_lock.LOCK).write_text("numpy==2.0.0 \\\n    --hash=sha256:00\n")
    first = serving_lock.lock_hash(tmp_path)
    (tmp_path / serving_lock.LOCK).write_text("numpy==2.0.1 \\\n    --hash=sha256:00\n")
    assert serving_lock.lock_hash(tmp_path) != first


def test_a_missing_lock_names_the_script(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="lock-serving.sh"):
        serving_lock.lock_hash(tmp_path)
    with pytest.raises(ConfigError, match="lock-serving.sh"):
        serving_lock.pinned_requirements(tmp_path)

"""The serving lock's venv for the tests that run Azure's inference server: built once per lock
(minutes, cached under ~/.cache/tracking-demo/inference-server); a failed build fails the test."""

from __future__ import annotations

from pathlib import Path

import pytest

from jobs import inference_server
from tracking_demo.errors import TrackingDemoError

ROOT = Path(__file__).resolve().parents[2]


def serving_environment() -> Path:
    """The venv's folder; without python3.11 or an installable lock, the test fails saying why."""
    try:
        return inference_server.ensure_environment(ROOT)
    except TrackingDemoError as error:
        pytest.fail(f"Azure's inference server cannot run here: {error}", pytrace=False)

"""Fixtures of the submitter tests: a workspace config.json, and no way out to the network."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from jobs_cli import offline


@pytest.fixture
def config(tmp_path: Path) -> Path:
    """A workspace config.json as the portal's "Download config.json" writes it."""
    path = tmp_path / "config.json"
    identity = {"subscription_id": "sub-1", "resource_group": "rg-1", "workspace_name": "ws-1"}
    path.write_text(json.dumps(identity))
    return path


@pytest.fixture
def no_network() -> Iterator[None]:
    """No test may log in or open a connection; auth comes only from what a test sets.

    The login is the first step that needs the network, so checks made before it are offline.
    """
    with offline():
        yield

"""Fixtures of the submitter tests: a workspace config.json, and no way out to the network."""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any

import pytest

from jobs import common
from jobs.v2 import client


@pytest.fixture
def config(tmp_path: Path) -> Path:
    """A workspace config.json as the portal's "Download config.json" writes it."""
    path = tmp_path / "config.json"
    identity = {"subscription_id": "sub-1", "resource_group": "rg-1", "workspace_name": "ws-1"}
    path.write_text(json.dumps(identity))
    return path


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test may log in or open a connection; auth comes only from what a test sets.

    The login is the first step that needs the network, so checks made before it are offline.
    """

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("a submitter tried to reach the network")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setattr(common, "authentication", refuse)
    monkeypatch.setattr(client, "credential", refuse)
    for name in ("AZURE_CLIENT_ID", "AZURE_TENANT_ID", "AZURE_CLIENT_SECRET"):
        monkeypatch.delenv(name, raising=False)

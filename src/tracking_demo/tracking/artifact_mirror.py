"""A local copy of one folder of a run's artifacts, brought up to date by file size.

`tracking-demo tensorboard RUN` keeps a run's `tensorboard/` folder here while the run trains.
Reads go through the run's own artifact repository (`registry.run_artifact_repository`), never
through `MlflowClient.list_artifacts`: for a subfolder, MLflow 3.15's asks the logged-models API
first, which Azure ML's server (and `server start --azure-surface`) answers 404.

Event files are append-only: a grown file gets only its new bytes appended, in place, so a
TensorBoard that holds it open reads on; a new file appears whole (written beside, renamed).
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from tracking_demo.errors import credentials_refused

if TYPE_CHECKING:
    from mlflow.store.artifact.artifact_repo import ArtifactRepository

logger = logging.getLogger(__name__)

# A queued Azure ML job's run is SCHEDULED; either may still upload.
ACTIVE_STATUSES = frozenset({"RUNNING", "SCHEDULED"})


@dataclass(frozen=True)
class RemoteFile:
    """A file of the mirrored folder: its path below the folder and its size on the server."""

    path: str
    size: int


def list_files(repository: ArtifactRepository, folder: str) -> list[RemoteFile]:
    """Every file below `folder`, recursively; an absent folder is empty."""
    found = []
    pending = [folder]
    while pending:
        current = pending.pop()
        for info in repository.list_artifacts(current):
            if info.is_dir:
                pending.append(info.path)
            else:
                relative = PurePosixPath(info.path).relative_to(folder)
                found.append(RemoteFile(str(relative), int(info.file_size or 0)))
    return sorted(found, key=lambda remote: remote.path)


class ArtifactMirror:
    """Keeps `destination` equal to the run's artifact `folder`, fetching only what changed."""

    def __init__(self, repository: ArtifactRepository, folder: str, destination: Path) -> None:
        self.repository = repository
        self.folder = folder.strip("/")
        self.destination = destination

    def refresh(self) -> list[str]:
        """Fetch new files and files whose size changed; returns their paths below the folder."""
        self.destination.mkdir(parents=True, exist_ok=True)
        stale = [
            remote for remote in list_files(self.repository, self.folder) if self._stale(remote)
        ]
        if not stale:
            return []
        updated = []
        with tempfile.TemporaryDirectory(prefix="artifact-mirror-") as staging:
            for remote in stale:
                downloaded = Path(
                    self.repository.download_artifacts(f"{self.folder}/{remote.path}", staging)
                )
                if _place(downloaded, self.destination / remote.path, remote.size):
                    updated.append(remote.path)
        return updated

    def _stale(self, remote: RemoteFile) -> bool:
        local = self.destination / remote.path
        return not local.is_file() or local.stat().st_size != remote.size


def _place(downloaded: Path, target: Path, listed_size: int) -> bool:
    """Grown: append the new bytes in place. New or replaced by a shorter file: swap it in
    whole. A download shorter than the local copy (the server was mid-upload) waits for the
    next refresh. True when `target` changed."""
    got = downloaded.stat().st_size
    have = target.stat().st_size if target.is_file() else None
    if have is not None and got > have:
        with downloaded.open("rb") as source, target.open("ab") as sink:
            source.seek(have)
            shutil.copyfileobj(source, sink)
        return True
    if have is None or (listed_size < have and got == listed_size):
        target.parent.mkdir(parents=True, exist_ok=True)
        # Not named like an event file, so a TensorBoard scanning the folder skips it.
        partial = target.parent / f".{uuid.uuid4().hex}.partial"
        shutil.copyfile(downloaded, partial)
        os.replace(partial, target)
        return True
    return False


def follow_while_active(
    mirror: ArtifactMirror,
    run_status: Callable[[], str],
    interval_s: float,
    on_update: Callable[[list[str]], None],
    keep_going: Callable[[], bool] = lambda: True,
) -> str:
    """Refresh now, then every `interval_s` while the run is RUNNING; returns its last status.

    The status is read before each refresh, so the refresh that sees the run ended still
    fetches what it uploaded last, even when the run ended before following began. A failed
    round (the server restarting, a network blip) is reported and tried again.
    """
    import requests
    from mlflow.exceptions import MlflowException

    status = "UNKNOWN"
    while True:
        try:
            status = run_status()
            updated = mirror.refresh()
        except (MlflowException, requests.RequestException, OSError) as error:
            refused = credentials_refused(error)
            if refused is not None:  # a retry cannot change that answer
                raise refused from error
            logger.warning("could not refresh %s (%s); retrying", mirror.destination, error)
        else:
            if updated:
                on_update(updated)
            if status not in ACTIVE_STATUSES:
                return status
        if not keep_going():
            return status
        time.sleep(interval_s)

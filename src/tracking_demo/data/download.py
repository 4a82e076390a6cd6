"""Fetch files from a list of mirrors, each verified by its SHA-256 before it takes its place.

Public data sets move: the original MNIST host has refused downloads for years, so a file is
tried on every mirror in turn, and a mirror that serves the wrong bytes counts as a failure.
"""

from __future__ import annotations

import hashlib
import http.client
import logging
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol

from tracking_demo.data.atomic import atomic_write
from tracking_demo.errors import DownloadError

logger = logging.getLogger(__name__)

CHUNK_BYTES = 1 << 16
TIMEOUT_SECONDS = 60.0


@dataclass(frozen=True)
class RemoteFile:
    """A file known by name and checksum; `size` only feeds the progress bar."""

    name: str
    sha256: str
    size: int | None = None


@dataclass(frozen=True)
class Fetched:
    """Where a file now is, and whether it was downloaded (from `url`) or already there."""

    path: Path
    downloaded: bool
    url: str | None = None


class ProgressBar(Protocol):
    def update(self, n_steps: int) -> None: ...


Progress = Callable[[str, int | None], AbstractContextManager[ProgressBar]]
"""Given a file name and its size in bytes (None: unknown), a bar to advance while it arrives."""


class _NoBar:
    def update(self, n_steps: int) -> None:
        return None


def no_progress(name: str, total: int | None) -> AbstractContextManager[ProgressBar]:
    """The default: libraries print nothing, the CLI passes a real bar."""
    return nullcontext(_NoBar())


class _MirrorFailed(Exception):
    """One mirror could not provide the file; the next one is tried."""


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for chunk in iter(lambda: stream.read(CHUNK_BYTES), b""):
            digest.update(chunk)
    return digest.hexdigest()


def url_for(mirror: str, name: str) -> str:
    return f"{mirror.rstrip('/')}/{name}"


def _copy(response: BinaryIO, target: BinaryIO, bar: ProgressBar) -> str:
    """Copy the body to `target`, returning its SHA-256 computed on the way."""
    digest = hashlib.sha256()
    for chunk in iter(lambda: response.read(CHUNK_BYTES), b""):
        digest.update(chunk)
        target.write(chunk)
        bar.update(len(chunk))
    return digest.hexdigest()


def _download(url: str, remote: RemoteFile, path: Path, progress: Progress, timeout: float) -> None:
    """Download `url` to `path`, replacing it only when the checksum matches."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            length = response.headers.get("Content-Length")
            total = int(length) if length and length.isdigit() else remote.size
            with atomic_write(path) as target, progress(remote.name, total) as bar:
                found = _copy(response, target, bar)
                if found != remote.sha256:
                    raise _MirrorFailed(f"sha256 mismatch (expected {remote.sha256}, got {found})")
    except urllib.error.HTTPError as error:
        raise _MirrorFailed(f"HTTP {error.code} {error.reason}") from error
    except urllib.error.URLError as error:
        raise _MirrorFailed(str(error.reason)) from error
    except (OSError, http.client.HTTPException, ValueError) as error:
        raise _MirrorFailed(f"{type(error).__name__}: {error}") from error


def fetch(
    remote: RemoteFile,
    out_dir: Path,
    mirrors: Sequence[str],
    progress: Progress = no_progress,
    timeout: float = TIMEOUT_SECONDS,
) -> Fetched:
    """Make `out_dir/NAME` hold the file with the right checksum, downloading only if needed."""
    path = out_dir / remote.name
    if path.is_file():
        if sha256_of(path) == remote.sha256:
            logger.info("%s already present with the expected sha256", path)
            return Fetched(path, downloaded=False)
        logger.warning("%s has an unexpected sha256; downloading it again", path)
    if not mirrors:
        raise DownloadError(f"{path}: cannot download {remote.name}, no mirror given")
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise DownloadError(
            f"data folder '{out_dir}' cannot be written ({error.strerror or error})"
        ) from error
    failures = []
    for mirror in mirrors:
        url = url_for(mirror, remote.name)
        try:
            _download(url, remote, path, progress, timeout)
        except _MirrorFailed as failure:
            logger.info("%s: %s", url, failure)
            failures.append(f"{url}: {failure}")
            continue
        logger.info("downloaded %s from %s", path, url)
        return Fetched(path, downloaded=True, url=url)
    raise DownloadError(
        f"{path}: could not download {remote.name} from any mirror ({'; '.join(failures)})"
    )


def fetch_all(
    remotes: Sequence[RemoteFile],
    out_dir: Path,
    mirrors: Sequence[str],
    progress: Progress = no_progress,
    timeout: float = TIMEOUT_SECONDS,
) -> list[Fetched]:
    """Fetch each file in turn; the first that no mirror can provide stops with its reasons."""
    return [fetch(remote, out_dir, mirrors, progress, timeout) for remote in remotes]

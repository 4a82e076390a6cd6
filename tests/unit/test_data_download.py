"""Mirror downloads against a loopback HTTP server: checksums, fallback, progress, atomicity."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tracking_demo.data.download import Fetched, RemoteFile, fetch, sha256_of
from tracking_demo.errors import DownloadError
from tracking_demo.server.processes import find_free_port

if TYPE_CHECKING:
    from conftest import LoopbackMirror

PAYLOAD = bytes(range(256)) * 1000
PAYLOAD_SHA256 = hashlib.sha256(PAYLOAD).hexdigest()


def serve(mirror: LoopbackMirror, folder: str, content: bytes = PAYLOAD) -> str:
    """Put `content` as data.bin under `folder` of the mirror; return that folder's URL."""
    (mirror.root / folder).mkdir(parents=True, exist_ok=True)
    (mirror.root / folder / "data.bin").write_bytes(content)
    return f"{mirror.url}{folder}/"


REMOTE = RemoteFile("data.bin", PAYLOAD_SHA256, size=len(PAYLOAD))


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name != "data.bin")


def test_download_verifies_and_reports_progress(
    http_mirror: LoopbackMirror, tmp_path: Path
) -> None:
    url = serve(http_mirror, "good")
    seen: list[tuple[str, int | None, int]] = []

    class Bar:
        def __init__(self, name: str, total: int | None) -> None:
            self.name, self.total, self.done = name, total, 0

        def update(self, n_steps: int) -> None:
            self.done += n_steps

    @contextmanager
    def progress(name: str, total: int | None) -> Iterator[Bar]:
        bar = Bar(name, total)
        yield bar
        seen.append((bar.name, bar.total, bar.done))

    fetched = fetch(REMOTE, tmp_path / "out", [url], progress)
    assert fetched == Fetched(tmp_path / "out" / "data.bin", True, f"{url}data.bin")
    assert fetched.path.read_bytes() == PAYLOAD
    assert seen == [("data.bin", len(PAYLOAD), len(PAYLOAD))]
    assert leftovers(tmp_path / "out") == []


def test_checksum_mismatch_keeps_nothing(http_mirror: LoopbackMirror, tmp_path: Path) -> None:
    tampered = PAYLOAD[:-1] + b"\0"
    url = serve(http_mirror, "tampered", tampered)
    out = tmp_path / "out"
    with pytest.raises(DownloadError) as caught:
        fetch(REMOTE, out, [url])
    assert str(caught.value) == (
        f"{out / 'data.bin'}: could not download data.bin from any mirror ({url}data.bin: "
        f"sha256 mismatch (expected {PAYLOAD_SHA256}, "
        f"got {hashlib.sha256(tampered).hexdigest()}))"
    )
    assert list(out.iterdir()) == []


def test_next_mirror_after_a_404_or_wrong_bytes(
    http_mirror: LoopbackMirror, tmp_path: Path
) -> None:
    missing = f"{http_mirror.url}nothing-here"
    tampered = serve(http_mirror, "tampered", b"not the file")
    good = serve(http_mirror, "good")
    fetched = fetch(REMOTE, tmp_path, [missing, tampered, good])
    assert fetched.url == f"{good}data.bin"
    assert sha256_of(fetched.path) == PAYLOAD_SHA256
    assert http_mirror.requested == [
        "/nothing-here/data.bin",
        "/tampered/data.bin",
        "/good/data.bin",
    ]


def test_every_failure_is_listed_when_no_mirror_works(
    http_mirror: LoopbackMirror, tmp_path: Path
) -> None:
    refused = f"http://127.0.0.1:{find_free_port()}/"
    with pytest.raises(DownloadError) as caught:
        fetch(REMOTE, tmp_path, [refused, http_mirror.url])
    message = str(caught.value)
    assert f"{refused}data.bin: " in message and "refused" in message.lower()
    assert f"{http_mirror.url}data.bin: HTTP 404" in message


def test_present_file_with_right_checksum_is_not_downloaded(
    http_mirror: LoopbackMirror, tmp_path: Path
) -> None:
    (tmp_path / "data.bin").write_bytes(PAYLOAD)
    fetched = fetch(REMOTE, tmp_path, [serve(http_mirror, "good")])
    assert fetched == Fetched(tmp_path / "data.bin", downloaded=False)
    assert http_mirror.requested == []


def test_present_file_with_wrong_checksum_is_replaced(
    http_mirror: LoopbackMirror, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "data.bin").write_bytes(b"half a downloa")
    fetched = fetch(REMOTE, out, [serve(http_mirror, "good")])
    assert fetched.downloaded and fetched.path.read_bytes() == PAYLOAD
    assert leftovers(out) == []


def test_no_mirror_at_all(tmp_path: Path) -> None:
    with pytest.raises(DownloadError, match="cannot download data.bin, no mirror given"):
        fetch(REMOTE, tmp_path, [])


def test_unwritable_folder_is_named(http_mirror: LoopbackMirror, tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    with pytest.raises(DownloadError, match=r"data folder '.*a-file/out' cannot be written"):
        fetch(REMOTE, blocker / "out", [serve(http_mirror, "good")])
    assert http_mirror.requested == []

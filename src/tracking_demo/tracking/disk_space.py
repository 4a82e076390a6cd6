"""A full disk under the runs folder: recognised, measured and told in one line.

Everything a run logs passes through its folder under `TRACKING_DEMO_RUNS_DIR` (the log, kept
figures and artifacts, the saved model), so a full file system there must stop the training
with a line that says where, how much and what to do, never a traceback
(docs/architecture.md, rule 4).
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

DISK_FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})
# Libraries that write files themselves (h5py, shutil.copytree) sometimes keep only the text.
_DISK_FULL_TEXTS = tuple(os.strerror(number) for number in DISK_FULL_ERRNOS)


def is_disk_full(error: BaseException) -> bool:
    """Whether `error`, or an error it was raised from, says the file system is full."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, OSError) and current.errno in DISK_FULL_ERRNOS:
            return True
        if any(text in str(current) for text in _DISK_FULL_TEXTS):
            return True
        current = current.__cause__ or current.__context__
    return False


def free_bytes(path: Path) -> int | None:
    """Free space for unprivileged writers on `path`'s file system (its nearest existing folder)."""
    for candidate in (path, *path.absolute().parents):
        if candidate.exists():
            try:
                return shutil.disk_usage(candidate).free
            except OSError:
                return None
    return None


def size_of(path: Path) -> int:
    """Bytes in a file or a folder tree; what cannot be read counts 0."""
    if path.is_file():
        return path.stat().st_size
    total = 0
    for root, _, files in os.walk(path):
        for name in files:
            with contextlib.suppress(OSError):
                total += (Path(root) / name).stat().st_size
    return total


def human_bytes(count: int) -> str:
    """`0 B`, `812 B`, `4.0 KiB`, `1.2 MiB`: as `df -h` counts."""
    size = float(count)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")


@dataclass(frozen=True)
class DiskFull:
    """What could not be written under the runs folder `folder`, and how much it needed
    (`at_least`: only what was written before the disk filled is known)."""

    folder: Path
    writing: str
    needed: int | None = None
    at_least: bool = False

    def describe(self) -> str:
        free = free_bytes(self.folder)
        free_text = "free space unknown" if free is None else f"{human_bytes(free)} free"
        if self.needed:
            amount = "more than" if self.at_least else "about"
            need = f"; writing {self.writing} needed {amount} {human_bytes(self.needed)}"
        else:
            need = f"; writing {self.writing}"
        return f"no space left on the file system of {self.folder} ({free_text}{need})"

"""The source snapshot a submit uploads: which files, how big, and a copy for local runs.

Azure ML uploads the whole source folder on every submit (at most 300 MB and 2,000 files) and
leaves out what `.amlignore` names. The SDK's own ignore-file matcher decides here too, so the
size the dry-run prints is the size the service receives.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from tracking_demo.errors import ConfigError


@dataclass(frozen=True)
class Snapshot:
    root: Path
    ignore_file: Path | None
    files: tuple[Path, ...]
    total_bytes: int
    max_bytes: int
    max_files: int

    @property
    def too_large(self) -> bool:
        return self.total_bytes > self.max_bytes or len(self.files) > self.max_files

    def summary(self) -> dict[str, object]:
        return {
            "source_directory": str(self.root),
            "ignore_file": str(self.ignore_file) if self.ignore_file else None,
            "files": len(self.files),
            "bytes": self.total_bytes,
            "megabytes": round(self.total_bytes / 2**20, 2),
            "limit_megabytes": self.max_bytes // 2**20,
            "limit_files": self.max_files,
            "within_limits": not self.too_large,
        }


def take(root: Path) -> Snapshot:
    """Walk `root` as the SDK would, pruning ignored folders instead of descending into .venv."""
    from azureml._project.ignore_file import get_project_ignore_file
    from azureml._restclient.constants import SNAPSHOT_MAX_FILES, SNAPSHOT_MAX_SIZE_BYTES

    root = root.resolve()
    ignore = get_project_ignore_file(str(root))
    files: list[Path] = []
    total = 0
    for folder, subfolders, names in os.walk(root):
        here = Path(folder)
        subfolders[:] = sorted(
            name for name in subfolders if not ignore.is_file_excluded(str(here / name) + os.sep)
        )
        for name in sorted(names):
            path = here / name
            if path.is_symlink() or ignore.is_file_excluded(str(path)):
                continue
            files.append(path.relative_to(root))
            total += path.stat().st_size
    ignore_path = Path(ignore.get_path()) if ignore.exists() else None
    return Snapshot(
        root, ignore_path, tuple(files), total, SNAPSHOT_MAX_SIZE_BYTES, SNAPSHOT_MAX_FILES
    )


def take_within_limits(root: Path) -> Snapshot:
    """The snapshot a submit uploads; one over Azure ML's limits stops it before any login."""
    taken = take(root)
    if taken.too_large:
        raise ConfigError(
            f"the snapshot of {root} is {taken.summary()['megabytes']} MB in "
            f"{len(taken.files)} files, over Azure ML's limits: extend .amlignore"
        )
    return taken


def copy_to(snapshot: Snapshot, target: Path) -> Path:
    """What the compute node's working directory holds: only the snapshot's files."""
    for relative in snapshot.files:
        destination = target / relative
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(snapshot.root / relative, destination)
    return target

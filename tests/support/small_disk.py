"""A small file system of its own, so a test can fill a disk without filling the machine's."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest


@contextmanager
def small_disk(path: Path, size_kib: int) -> Iterator[Path]:
    """`path` as a fresh tmpfs of `size_kib` KiB for the duration of the block, then unmounted.

    Needs root (or CAP_SYS_ADMIN); where mounting is impossible the test fails with the reason,
    never skips: a disk-full case that silently does not run proves nothing.
    """
    path.mkdir(parents=True, exist_ok=True)
    mount = ["mount", "-t", "tmpfs", "-o", f"size={size_kib}k,mode=0755", "tmpfs", str(path)]
    mounted = subprocess.run(mount, capture_output=True, text=True, check=False)
    if mounted.returncode != 0:
        pytest.fail(
            f"cannot mount a {size_kib} KiB tmpfs on {path} (uid {os.getuid()}): "
            f"{mounted.stderr.strip() or mounted.stdout.strip()}; the disk-full tests need root "
            "or CAP_SYS_ADMIN",
            pytrace=False,
        )
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], capture_output=True, check=False)

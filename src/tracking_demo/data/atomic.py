"""Write a file so that readers see either the old one or the complete new one, never a part."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

FILE_MODE = 0o644


@contextmanager
def atomic_write(path: Path) -> Iterator[BinaryIO]:
    """Yield a temporary file beside `path`; it replaces `path` only if the block succeeds.

    The temporary file lives in the same folder so the final rename stays on one file system,
    and it is removed when the block raises (a cut download or a failed checksum leaves nothing).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    temp = Path(temp_name)
    try:
        with os.fdopen(handle, "wb") as stream:
            yield stream
        temp.chmod(FILE_MODE)
        os.replace(temp, path)
    finally:
        temp.unlink(missing_ok=True)

"""docs/images holds exactly what scripts/screenshots.py makes: every file there is in its
manifest (no stray or stale picture on the site), and every manifest file is committed."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

IMAGES = Path(__file__).parents[2] / "docs" / "images"
SCRIPT = Path(__file__).parents[2] / "scripts" / "screenshots.py"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _manifest() -> set[str]:
    spec = importlib.util.spec_from_file_location("screenshots_manifest", SCRIPT)
    assert spec is not None and spec.loader is not None, f"cannot load {SCRIPT}"
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return {entry.file for entry in module.MANIFEST}


def test_every_file_under_docs_images_is_one_the_script_makes() -> None:
    present = {p.relative_to(IMAGES).as_posix() for p in IMAGES.rglob("*") if p.is_file()}
    assert present - _manifest() == set(), "not made by scripts/screenshots.py"


def test_every_manifest_file_is_a_committed_png() -> None:
    missing = {f for f in _manifest() if not (IMAGES / f).is_file()}
    assert missing == set(), "run scripts/screenshots.py to make them"
    for file in _manifest():
        assert (IMAGES / file).read_bytes()[:8] == PNG_SIGNATURE, file

"""docs/architecture.md's tables describe the tree as it is: every path they name exists, every
subpackage and top-level module of the package is named, and so is every top-level entry of the
repository."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "src" / "tracking_demo"
DOCS = ("docs/architecture.md",)


def _table_paths(doc: str) -> set[str]:
    """Backticked repository paths in the first column of the doc's markdown tables."""
    paths: set[str] = set()
    for line in (ROOT / doc).read_text().splitlines():
        if line.startswith("| `"):
            first_cell = line.split("|")[1]
            paths.update(re.findall(r"`([^`]+)`", first_cell))
    return paths


def _package_parts() -> set[str]:
    """Subpackages (as `src/tracking_demo/NAME/`) and top-level modules (as their file path)."""
    parts = {
        f"src/tracking_demo/{p.name}/" for p in PACKAGE.iterdir() if (p / "__init__.py").is_file()
    }
    parts |= {
        f"src/tracking_demo/{p.name}"
        for p in PACKAGE.glob("*.py")
        if p.name not in ("__init__.py", "__main__.py")
    }
    return parts


@pytest.mark.parametrize("doc", DOCS)
def test_every_path_a_layout_table_names_exists(doc: str) -> None:
    path_like = re.compile(r"[\w-]+(/[\w.-]+)+/?|[\w-]+/|[\w-]+\.\w+")
    named = {p for p in _table_paths(doc) if path_like.fullmatch(p)}
    missing = sorted(p for p in named if not (ROOT / p).exists())
    assert not missing, f"{doc} names paths that do not exist: {missing}"


@pytest.mark.parametrize("doc", DOCS)
def test_every_part_of_the_package_is_in_the_layout_table(doc: str) -> None:
    named = _table_paths(doc)
    covered = {p for p in _package_parts() if any(n == p or n.startswith(p) for n in named)}
    assert covered == _package_parts(), f"{doc} leaves out {sorted(_package_parts() - covered)}"


def test_the_package_has_at_most_five_top_level_modules_beside_its_subpackages() -> None:
    modules = sorted(p.name for p in PACKAGE.glob("*.py"))
    assert len(modules) <= 5, modules


def test_every_subpackage_says_what_it_owns() -> None:
    for init in PACKAGE.rglob("__init__.py"):
        text = init.read_text().lstrip()
        assert text.startswith('"""') and len(text.split('"""')[1].strip()) > 20, init


def test_every_top_level_entry_of_the_repository_is_in_the_layout_table() -> None:
    """A new folder or file at the root gets a line saying what it is for."""
    tracked = subprocess.run(
        ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    top_level = {path.split("/")[0] + ("/" if "/" in path else "") for path in tracked}
    named = {path.split("/")[0] + ("/" if "/" in path else "") for path in _table_paths(DOCS[0])}
    assert not top_level - named, f"{DOCS[0]} leaves out {sorted(top_level - named)}"

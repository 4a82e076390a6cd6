"""The README is the front page a newcomer reads first, and the site's home page says the same."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
LINK = re.compile(r"\]\(([^)#\s]+)(#[^)\s]*)?\)")


def test_the_front_page_is_short_and_opens_with_the_two_commands_and_a_picture() -> None:
    text = README.read_text()
    assert len(text.splitlines()) <= 120
    first_block = text.split("```bash\n", 1)[1].split("```", 1)[0]
    assert "bash scripts/setup.sh && .venv/bin/tracking-demo quickstart" in first_block
    assert "bash scripts/test.sh" in first_block
    pictures = re.findall(r"!\[[^\]]+\]\(([^)]+)\)", text)
    assert pictures, "the front page shows no picture"
    assert all((ROOT / picture).is_file() for picture in pictures), pictures


def test_every_link_of_the_front_page_reaches_a_file_of_the_repository() -> None:
    targets = [m.group(1) for m in LINK.finditer(README.read_text())]
    local = [t for t in targets if "://" not in t]
    assert local, "the front page links to none of the docs"
    missing = [t for t in local if not (ROOT / t).exists()]
    assert not missing, f"README.md links to missing files: {missing}"


def test_the_site_home_page_is_the_front_page_with_links_inside_the_site() -> None:
    expected = README.read_text().replace("](docs/", "](")
    assert (
        (ROOT / "docs" / "index.md").read_text() == expected
    ), "docs/index.md differs from README.md; it is README.md with 'docs/' dropped from links"


def test_every_picture_the_screenshots_script_makes_is_shown_on_a_page() -> None:
    """docs/images holds only what scripts/screenshots.py makes; none of it is left unused."""
    pages = "\n".join(p.read_text() for p in (ROOT / "docs").rglob("*.md"))
    shown = set(re.findall(r"!\[[^\]]*\]\((?:\.\./)*(images/[^)\s]+)\)", pages))
    pictures = {
        p.relative_to(ROOT / "docs").as_posix() for p in (ROOT / "docs" / "images").rglob("*.png")
    }
    assert pictures, "docs/images holds no pictures"
    assert not pictures - shown, f"pictures no page shows: {sorted(pictures - shown)}"

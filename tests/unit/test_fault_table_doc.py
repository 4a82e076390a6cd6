"""docs/tracking.md's reliability table is the fault matrix's own: rendered from the rows that
`tests/integration/test_fault_matrix.py` asserts, verbatim between its markers."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.integration.fault_cases import CASES, between_markers, render_table, with_table

ROOT = Path(__file__).resolve().parents[2]


def test_the_tracking_page_holds_the_fault_table_verbatim() -> None:
    page = (ROOT / "docs" / "tracking.md").read_text()
    assert between_markers(page) == render_table(), (
        "docs/tracking.md's fault table differs from tests/integration/fault_cases.py; "
        "run: python scripts/fault_table.py --write"
    )


def test_every_case_is_one_row_with_every_column() -> None:
    rows = render_table().splitlines()[2:]
    assert len(rows) == len(CASES)
    header_cells = render_table().splitlines()[0].count("|")
    assert all(row.count("|") == header_cells for row in rows), "a cell holds a '|'"


def test_script_prints_the_table_and_writes_only_between_the_markers(tmp_path: Path) -> None:
    printed = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "fault_table.py")],
        capture_output=True,
        text=True,
        check=True,
    )
    assert printed.stdout == render_table() + "\n"
    text = "# intro\n<!-- fault-matrix:start -->\nold\n<!-- fault-matrix:end -->\nrest\n"
    written = with_table(text)
    assert written.startswith("# intro\n") and written.endswith("<!-- fault-matrix:end -->\nrest\n")
    assert between_markers(written) == render_table()

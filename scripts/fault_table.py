"""Print the fault matrix's table as docs/tracking.md holds it; `--write` puts it there.

The rows live in `tests/integration/fault_cases.py`, which the fault matrix's tests assert
against; `tests/unit/test_fault_table_doc.py` fails while docs/tracking.md holds another table.

    python scripts/fault_table.py            # the Markdown table
    python scripts/fault_table.py --write    # replace it between the page's markers
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.integration.fault_cases import render_table, with_table  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--write", action="store_true", help="replace the table in docs/tracking.md"
    )
    args = parser.parse_args()
    if not args.write:
        print(render_table())
        return
    page = ROOT / "docs" / "tracking.md"
    try:
        page.write_text(with_table(page.read_text()))
    except ValueError as error:
        sys.exit(f"error: {error}")
    print(f"wrote the fault table into {page}")


if __name__ == "__main__":
    main()

"""The housing CSV as an MLTable folder, the form of table AutoML reads: an `MLTable` file
beside the CSV it describes, versioned by the folder's content.

The CSV is checked here, offline, the way the housing tasks read it (`housing.read`: every
column, a numeric label, known categories), so a bad file costs one line naming the file and the
column, not a failed cloud job half an hour later. The folder holds the seeded training rows
only (see jobs/automl_spec.py for why).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from jobs.automl_spec import LABEL, Split
from jobs.dataset import HASH_IN_PATH, folder_content
from tracking_demo.errors import DataError

MLTABLE_FILE = "MLTable"
CSV_NAME = "housing.csv"
# The smallest file `tracking-demo data housing` writes; its training rows less AutoML's 20%
# validation still leave trials something to fit and to be ranked on.
MIN_ROWS = 50


@dataclass(frozen=True)
class StagedTable:
    """An MLTable folder ready to upload, and what identifies its content."""

    folder: Path
    source: Path
    rows: int
    training_rows: int
    sha256: str

    @property
    def version(self) -> str:
        """The data asset's version: the same content is the same version, registered once."""
        return self.sha256[:HASH_IN_PATH]

    @property
    def tags(self) -> dict[str, str]:
        return {
            "content_sha256": self.sha256,
            "source_file": self.source.name,
            "rows": str(self.training_rows),
            "label": LABEL,
        }


def definition(csv_name: str = CSV_NAME) -> dict[str, Any]:
    """How AutoML reads the folder: one comma-separated UTF-8 file with a header row."""
    return {
        "paths": [{"file": f"./{csv_name}"}],
        "transformations": [
            {
                "read_delimited": {
                    "delimiter": ",",
                    "header": "all_files_same_headers",
                    "encoding": "utf8",
                }
            }
        ],
    }


def write_definition(folder: Path, data: Mapping[str, Any]) -> Path:
    path = folder / MLTABLE_FILE
    path.write_text(yaml.safe_dump(dict(data), sort_keys=False, default_flow_style=False))
    return path


def stage(data: Path, folder: Path, split: Split) -> StagedTable:
    """Check `data` (the housing CSV or its folder), then write its training rows and the
    `MLTable` file into `folder`."""
    from tracking_demo.data import housing

    loaded = housing.load(data, split.test_fraction, split.seed)
    rows = len(loaded.train) + len(loaded.test)
    if rows < MIN_ROWS:
        raise DataError(
            f"{loaded.path}: has {rows} rows; AutoML needs at least {MIN_ROWS} "
            f"(`tracking-demo data housing` writes {housing.PUBLIC_ROWS:,})"
        )
    folder.mkdir(parents=True, exist_ok=True)
    strangers = sorted(p.name for p in folder.iterdir() if p.name not in (CSV_NAME, MLTABLE_FILE))
    if strangers:
        raise DataError(
            f"staging folder '{folder}' holds other files ({', '.join(strangers)}); they would "
            "be uploaded with the table (expected an empty folder)"
        )
    loaded.train.to_csv(folder / CSV_NAME, index=False, float_format="%.10g")
    write_definition(folder, definition())
    content = folder_content(folder)
    return StagedTable(folder, loaded.path, rows, len(loaded.train), content.sha256)

"""Validated CSV reading shared by the tabular data sets."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from tracking_demo.errors import DataError


def require_dir(path: Path) -> Path:
    """The data folder itself must exist before any file in it is looked for."""
    if not path.exists():
        raise DataError(f"data folder '{path}' does not exist")
    if not path.is_dir():
        raise DataError(f"data folder '{path}' is not a folder")
    return path


def read_numeric_csv(path: Path, columns: Sequence[str]) -> pd.DataFrame:
    """Read `path` and check it has rows and the named columns, all numeric and complete."""
    return read_table(path, numeric=columns)


def read_table(
    path: Path,
    numeric: Sequence[str],
    text: Sequence[str] = (),
    may_be_missing: Sequence[str] = (),
) -> pd.DataFrame:
    """Read `path` and check it has rows and the named columns, in the named kinds.

    Numeric columns must parse as numbers; only those in `may_be_missing` may have empty cells.
    Text columns must be complete. The result holds the named columns in the given order.
    """
    columns = [*numeric, *text]
    if not path.is_file():
        raise DataError(
            f"{path}: file not found (expected a CSV with columns {', '.join(columns)})"
        )
    try:
        frame = pd.read_csv(path, dtype={name: str for name in text})
    except pd.errors.EmptyDataError as error:
        raise DataError(f"{path}: file is empty (expected a header {','.join(columns)})") from error
    except (pd.errors.ParserError, UnicodeDecodeError) as error:
        raise DataError(f"{path}: not a readable CSV ({error})") from error
    missing = [name for name in columns if name not in frame.columns]
    if missing:
        raise DataError(
            f"{path}: missing column(s) {', '.join(repr(m) for m in missing)} "
            f"(found {', '.join(repr(str(c)) for c in frame.columns)})"
        )
    if frame.empty:
        raise DataError(f"{path}: has a header but no rows")
    for name in numeric:
        numeric_values = pd.to_numeric(frame[name], errors="coerce")
        bad = numeric_values.isna() & frame[name].notna()
        if bad.any():
            row = int(bad.to_numpy().argmax())
            raise DataError(
                f"{path}: column '{name}' must be numeric, found {frame[name].iloc[row]!r} "
                f"on data row {row + 1}"
            )
        if name not in may_be_missing and numeric_values.isna().any():
            row = int(numeric_values.isna().to_numpy().argmax())
            raise DataError(f"{path}: column '{name}' has an empty value on data row {row + 1}")
        frame[name] = numeric_values.astype(float)
    for name in text:
        if frame[name].isna().any():
            row = int(frame[name].isna().to_numpy().argmax())
            raise DataError(f"{path}: column '{name}' has an empty value on data row {row + 1}")
    return frame[columns]

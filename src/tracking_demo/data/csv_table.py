"""Validated CSV reading and the train/test pair shared by the tabular data sets."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np
import pandas as pd

from tracking_demo.errors import DataError


@dataclass(frozen=True)
class LabelledSplit:
    """Train and test rows of one table. Features keep their column names: the models and
    their signatures are named-column; the target comes out as the data set's dtype."""

    train: pd.DataFrame
    test: pd.DataFrame

    feature_columns: ClassVar[tuple[str, ...]]
    target_column: ClassVar[str]
    target_dtype: ClassVar[type[np.generic]]

    @property
    def x_train(self) -> pd.DataFrame:
        return self.train[list(self.feature_columns)]

    @property
    def x_test(self) -> pd.DataFrame:
        return self.test[list(self.feature_columns)]

    @property
    def y_train(self) -> np.ndarray:
        return self.train[self.target_column].to_numpy(dtype=self.target_dtype)

    @property
    def y_test(self) -> np.ndarray:
        return self.test[self.target_column].to_numpy(dtype=self.target_dtype)


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
        numeric_values = numeric_column(frame, name, str(path), "data row")
        if name not in may_be_missing and numeric_values.isna().any():
            row = first_row(numeric_values.isna())
            raise DataError(f"{path}: column '{name}' has an empty value on data row {row + 1}")
        frame[name] = numeric_values.astype(float)
    for name in text:
        if frame[name].isna().any():
            row = first_row(frame[name].isna())
            raise DataError(f"{path}: column '{name}' has an empty value on data row {row + 1}")
    return frame[columns]


def numeric_column(frame: pd.DataFrame, name: str, where: str, row_word: str) -> pd.Series:
    """The column as numbers, empty cells as NaN; a cell that is no number is a DataError
    naming the column, the value and its row (`row_word`: "data row" in a file, below its
    header; "row" in a table handed over)."""
    values = pd.to_numeric(frame[name], errors="coerce")
    bad = values.isna() & frame[name].notna()
    if bad.any():
        row = first_row(bad)
        raise DataError(
            f"{where}: column '{name}' must be numeric, found {frame[name].iloc[row]!r} "
            f"on {row_word} {row + 1}"
        )
    return values


def first_row(mask: pd.Series) -> int:
    """The position of the first True: the row an error message names."""
    return int(mask.to_numpy().argmax())

"""California housing: the public `housing.csv` schema, a seeded synthetic stand-in, the
validated reader, the seeded train/test split and the cleaning every housing model starts with.

The cleaning is a scikit-learn transformer (`HousingFeatures`) saved inside each model, so a
served model takes the raw columns, `ocean_proximity` text included, exactly as the file has them.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from tracking_demo.data.atomic import atomic_write
from tracking_demo.data.csv_table import LabelledSplit, first_row, numeric_column, read_table
from tracking_demo.errors import ConfigError, DataError

NUMERIC = (
    "longitude",
    "latitude",
    "housing_median_age",
    "total_rooms",
    "total_bedrooms",
    "population",
    "households",
    "median_income",
)
CATEGORY = "ocean_proximity"
CATEGORIES = ("<1H OCEAN", "INLAND", "ISLAND", "NEAR BAY", "NEAR OCEAN")
FEATURES = (*NUMERIC, CATEGORY)
TARGET = "median_house_value"
COLUMNS = (*NUMERIC, TARGET, CATEGORY)  # the public file's column order
IMPUTED = "total_bedrooms"  # the one column the public file leaves empty (207 of 20,640 rows)
FILE_NAME = "housing.csv"
PUBLIC_ROWS = 20_640
# The public data caps the target at this value (the 1990 census's top bracket).
TARGET_CAP = 500_001.0
TARGET_FLOOR = 14_999.0


@dataclass(frozen=True)
class HousingSpec:
    """How the synthetic file is drawn; the defaults match the public file's size and quirks."""

    n_rows: int = PUBLIC_ROWS
    seed: int = 42
    missing_fraction: float = 207 / PUBLIC_ROWS

    def validate(self) -> None:
        if self.n_rows < 50:
            raise ConfigError(f"housing needs at least 50 rows, got {self.n_rows}")
        if not 0.0 <= self.missing_fraction < 0.5:
            raise ConfigError(
                f"missing fraction must be at least 0 and below 0.5, got {self.missing_fraction}"
            )


@dataclass(frozen=True)
class HousingSplit(LabelledSplit):
    path: Path
    test_fraction: float
    seed: int

    feature_columns = FEATURES
    target_column = TARGET
    target_dtype = np.float64


# --- the synthetic file ----------------------------------------------------------------------

# Share of each category in the public file.
CATEGORY_SHARES = {
    "<1H OCEAN": 0.4426,
    "INLAND": 0.3174,
    "NEAR OCEAN": 0.1288,
    "NEAR BAY": 0.1109,
    "ISLAND": 0.0003,
}
# What location adds to a block's value, before income and housing effects.
CATEGORY_PREMIUM = {
    "<1H OCEAN": 40_000.0,
    "INLAND": -30_000.0,
    "NEAR OCEAN": 45_000.0,
    "NEAR BAY": 55_000.0,
    "ISLAND": 180_000.0,
}
CITIES = ((34.05, -118.25), (37.77, -122.42))  # Los Angeles, San Francisco


def _coast_longitude(latitude: np.ndarray) -> np.ndarray:
    """A straight-line sketch of California's coast, San Diego to the Oregon border."""
    return -117.2 - (latitude - 32.7) * 0.77


def _locations(rng: np.random.Generator, categories: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    n = len(categories)
    lat = np.empty(n)
    lon = np.empty(n)
    for category in CATEGORIES:
        mask = categories == category
        k = int(mask.sum())
        if category == "NEAR BAY":
            la, lo = rng.normal(37.8, 0.25, k), rng.normal(-122.25, 0.15, k)
        elif category == "<1H OCEAN":
            south = rng.random(k) < 0.75
            la = np.where(south, rng.normal(34.0, 0.35, k), rng.normal(37.4, 0.3, k))
            lo = np.where(south, rng.normal(-118.1, 0.35, k), rng.normal(-121.95, 0.2, k))
        elif category == "NEAR OCEAN":
            la = rng.uniform(32.6, 41.5, k)
            lo = _coast_longitude(la) + rng.normal(0.0, 0.08, k)
        elif category == "INLAND":
            la = rng.uniform(32.7, 41.8, k)
            lo = _coast_longitude(la) + rng.uniform(1.0, 4.5, k)
        else:  # ISLAND: Santa Catalina
            la, lo = rng.normal(33.38, 0.02, k), rng.normal(-118.42, 0.03, k)
        lat[mask], lon[mask] = la, lo
    return np.clip(lat, 32.54, 41.95).round(2), np.clip(lon, -124.35, -114.31).round(2)


def generate(spec: HousingSpec) -> pd.DataFrame:
    """A census-like table: value driven by income and location, with the public file's quirks
    (the five categories, empty `total_bedrooms` cells, a capped target, integer counts)."""
    spec.validate()
    rng = np.random.default_rng(spec.seed)
    n = spec.n_rows
    names = list(CATEGORY_SHARES)
    shares = np.array(list(CATEGORY_SHARES.values()))
    categories = rng.choice(names, size=n, p=shares / shares.sum())
    categories[: len(CATEGORIES)] = CATEGORIES  # every category appears, ISLAND included
    categories = rng.permutation(categories)
    lat, lon = _locations(rng, categories)

    age = np.clip(np.round(rng.normal(29, 12.5, n)), 1, 52)
    households = np.maximum(1, np.round(rng.lognormal(np.log(420), 0.6, n)))
    rooms_per_household = rng.lognormal(np.log(5.2), 0.25, n)
    total_rooms = np.maximum(households, np.round(households * rooms_per_household))
    bedroom_share = np.clip(rng.normal(0.21, 0.03, n), 0.1, 0.5)
    total_bedrooms = np.maximum(1, np.round(total_rooms * bedroom_share))
    population = np.maximum(households, np.round(households * rng.lognormal(np.log(2.9), 0.3, n)))
    income_shift = np.select(
        [categories == "INLAND", categories == "NEAR BAY"], [0.85, 1.12], default=1.0
    )
    income = np.clip(rng.lognormal(np.log(3.5), 0.45, n) * income_shift, 0.4999, 15.0001)

    distance = np.min([np.hypot(lat - a, lon - b) for a, b in CITIES], axis=0)
    value = (
        45_000.0
        + 40_000.0 * income
        + np.vectorize(CATEGORY_PREMIUM.__getitem__)(categories)
        + 70_000.0 * np.exp(-distance / 1.2)
        + 700.0 * (age - 28)
        + 8_000.0 * (rooms_per_household - 5.2)
    )
    value = value * rng.lognormal(0.0, 0.18, n)
    value = np.clip(np.round(value, -2), TARGET_FLOOR, TARGET_CAP)

    missing = rng.random(n) < spec.missing_fraction
    frame = pd.DataFrame(
        {
            "longitude": lon,
            "latitude": lat,
            "housing_median_age": age,
            "total_rooms": total_rooms,
            "total_bedrooms": np.where(missing, np.nan, total_bedrooms),
            "population": population,
            "households": households,
            "median_income": income.round(4),
            TARGET: value,
            CATEGORY: categories,
        }
    )
    return frame[list(COLUMNS)]


def write(spec: HousingSpec, out_dir: Path) -> Path:
    """Write `out_dir/housing.csv` (atomically: a reader never sees half a file)."""
    frame = generate(spec)
    path = out_dir / FILE_NAME
    with atomic_write(path) as stream:
        frame.to_csv(stream, index=False, float_format="%.10g")
    return path


def copy_validated(source: Path, out_dir: Path) -> tuple[Path, pd.DataFrame]:
    """Check `source` reads as a housing file, then place it at `out_dir/housing.csv`."""
    frame = read(source)
    path = out_dir / FILE_NAME
    if path.exists() and path.resolve() == source.resolve():
        return path, frame
    with atomic_write(path) as stream, source.open("rb") as original:
        shutil.copyfileobj(original, stream)
    return path, frame


# --- reading ---------------------------------------------------------------------------------


def resolve_file(data: Path) -> Path:
    """`--data` may name the CSV or the folder holding `housing.csv`."""
    if data.is_dir():
        return data / FILE_NAME
    if not data.exists() and not data.suffix:
        raise DataError(f"data folder '{data}' does not exist (expected {data / FILE_NAME})")
    return data


def read(path: Path) -> pd.DataFrame:
    """Read and validate a housing file: the columns, numbers, categories and a usable target."""
    frame = read_table(
        path, numeric=(*NUMERIC, TARGET), text=(CATEGORY,), may_be_missing=(IMPUTED,)
    )
    check_categories(frame[CATEGORY], str(path))
    if len(frame) < 10:
        raise DataError(f"{path}: has {len(frame)} rows; a train/test split needs at least 10")
    if frame[IMPUTED].isna().all():
        raise DataError(f"{path}: column '{IMPUTED}' is empty on every row; nothing to impute from")
    return frame


def check_categories(values: pd.Series, where: str) -> None:
    """Only the five public categories are known to the one-hot encoding."""
    unknown = ~values.isin(CATEGORIES)
    if unknown.any():
        row = first_row(unknown)
        raise DataError(
            f"{where}: column '{CATEGORY}' has unknown category {values.iloc[row]!r} on data row "
            f"{row + 1} (expected one of {', '.join(CATEGORIES)})"
        )


def load(data: Path, test_fraction: float = 0.2, seed: int = 42) -> HousingSplit:
    """The validated file, split into train and test with a seed (the same rows every time)."""
    if not 0.0 < test_fraction < 0.9:
        raise ConfigError(f"test fraction must be above 0 and below 0.9, got {test_fraction}")
    path = resolve_file(data)
    frame = read(path)
    train, test = train_test_split(frame, test_size=test_fraction, random_state=seed)
    return HousingSplit(
        train.reset_index(drop=True), test.reset_index(drop=True), path, test_fraction, seed
    )


# --- cleaning ---------------------------------------------------------------------------------


class HousingFeatures(TransformerMixin, BaseEstimator):
    """Raw housing columns → model features: median-imputed `total_bedrooms`, the numeric columns
    standardised, `ocean_proximity` one-hot over the five public categories. Fitted on training
    rows only. Rows with a missing column or an unknown category raise `DataError` naming it."""

    def fit(self, x: pd.DataFrame, y: Any = None) -> HousingFeatures:
        checked = checked_features(x, "training data")
        numeric = make_pipeline(SimpleImputer(strategy="median"), StandardScaler())
        one_hot = OneHotEncoder(categories=[list(CATEGORIES)], dtype=np.float32)
        self.columns_ = ColumnTransformer(
            [("numeric", numeric, list(NUMERIC)), ("category", one_hot, [CATEGORY])],
            sparse_threshold=0.0,
        ).fit(checked)
        self.n_features_out_ = len(NUMERIC) + len(CATEGORIES)
        return self

    def transform(self, x: pd.DataFrame) -> np.ndarray:
        checked = checked_features(x, "input")
        return np.asarray(self.columns_.transform(checked), dtype=np.float32)

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        return np.array([*NUMERIC, *(f"{CATEGORY}={c}" for c in CATEGORIES)], dtype=object)

    def cleaning_params(self) -> dict[str, str]:
        """The cleaning steps, with what was learnt from the training rows, as run params."""
        numeric = self.columns_.named_transformers_["numeric"]
        median = numeric.named_steps["simpleimputer"].statistics_[NUMERIC.index(IMPUTED)]
        return {
            "cleaning/impute": f"{IMPUTED}: median of training rows ({median:g})",
            "cleaning/one_hot": f"{CATEGORY}: {', '.join(CATEGORIES)}",
            "cleaning/scale": f"standardise {len(NUMERIC)} numeric columns (training rows)",
        }


def checked_features(x: pd.DataFrame, where: str) -> pd.DataFrame:
    """The feature columns of `x`, each present, numbers numeric, categories known."""
    if not isinstance(x, pd.DataFrame):
        raise DataError(f"{where}: expected a table with columns {', '.join(FEATURES)}")
    missing = [name for name in FEATURES if name not in x.columns]
    if missing:
        raise DataError(
            f"{where}: missing column(s) {', '.join(missing)} (expected {', '.join(FEATURES)})"
        )
    frame = x[list(FEATURES)].copy()
    for name in NUMERIC:
        values = numeric_column(frame, name, where, "row")
        if name != IMPUTED and values.isna().any():
            row = first_row(values.isna())
            raise DataError(
                f"{where}: column '{name}' is empty on row {row + 1} "
                f"(only {IMPUTED} may be missing)"
            )
        frame[name] = values.astype(np.float64)
    if frame[CATEGORY].isna().any():
        row = first_row(frame[CATEGORY].isna())
        raise DataError(f"{where}: column '{CATEGORY}' is empty on row {row + 1}")
    check_categories(frame[CATEGORY], where)
    return frame

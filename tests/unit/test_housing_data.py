import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.pipeline import make_pipeline
from threadpoolctl import threadpool_limits

from tracking_demo.data import housing
from tracking_demo.data.housing import (
    CATEGORIES,
    COLUMNS,
    FEATURES,
    NUMERIC,
    TARGET,
    TARGET_CAP,
    TARGET_FLOOR,
    HousingFeatures,
    HousingSpec,
    copy_validated,
    generate,
    load,
    read,
    resolve_file,
    write,
)
from tracking_demo.errors import ConfigError, DataError

COUNTS = ("housing_median_age", "total_rooms", "total_bedrooms", "population", "households")
EXPECTED_CATEGORIES = "expected one of <1H OCEAN, INLAND, ISLAND, NEAR BAY, NEAR OCEAN"


@pytest.fixture(scope="module")
def public_size() -> pd.DataFrame:
    return generate(HousingSpec())


@pytest.fixture
def small() -> pd.DataFrame:
    return generate(HousingSpec(n_rows=60, seed=1))


def _csv(tmp_path: Path, frame: pd.DataFrame) -> Path:
    path = tmp_path / "housing.csv"
    frame.to_csv(path, index=False)
    return path


# --- the synthetic file ----------------------------------------------------------------------


def test_columns_are_the_public_files_in_its_order(public_size: pd.DataFrame) -> None:
    assert list(public_size.columns) == [
        "longitude",
        "latitude",
        "housing_median_age",
        "total_rooms",
        "total_bedrooms",
        "population",
        "households",
        "median_income",
        "median_house_value",
        "ocean_proximity",
    ]
    assert list(COLUMNS) == list(public_size.columns)
    assert len(public_size) == 20_640


@pytest.mark.parametrize("seed", [0, 1, 2, 3, 42])
def test_every_category_appears_even_in_50_rows(seed: int) -> None:
    frame = generate(HousingSpec(n_rows=50, seed=seed))
    assert len(frame) == 50
    assert set(frame["ocean_proximity"]) == set(CATEGORIES)


def test_category_shares_resemble_the_public_file(public_size: pd.DataFrame) -> None:
    shares = public_size["ocean_proximity"].value_counts(normalize=True)
    assert shares["<1H OCEAN"] == pytest.approx(0.4426, abs=0.02)
    assert shares["INLAND"] == pytest.approx(0.3174, abs=0.02)
    assert 1 <= (public_size["ocean_proximity"] == "ISLAND").sum() <= 20


def test_missing_bedrooms_share_is_near_the_public_files(public_size: pd.DataFrame) -> None:
    missing = public_size["total_bedrooms"].isna()
    assert 207 - 60 <= missing.sum() <= 207 + 60
    assert public_size.drop(columns="total_bedrooms").notna().all().all()


def test_no_missing_cells_when_the_fraction_is_zero() -> None:
    frame = generate(HousingSpec(n_rows=500, missing_fraction=0.0))
    assert frame.notna().all().all()


def test_target_is_capped_like_the_public_file(public_size: pd.DataFrame) -> None:
    target = public_size[TARGET]
    assert target.max() == TARGET_CAP == 500_001.0
    assert (target == TARGET_CAP).sum() > 100
    assert target.min() >= TARGET_FLOOR


def test_target_is_floored(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(housing, "CATEGORY_PREMIUM", dict.fromkeys(CATEGORIES, -1_000_000.0))
    target = generate(HousingSpec(n_rows=100))[TARGET]
    assert (target == TARGET_FLOOR).all()


def test_counts_are_whole_numbers(public_size: pd.DataFrame) -> None:
    for name in COUNTS:
        values = public_size[name].dropna()
        assert (values == values.round()).all(), name
        assert values.min() >= 1, name
    assert (public_size["total_rooms"] >= public_size["households"]).all()


def test_written_counts_have_no_decimals(tmp_path: Path) -> None:
    path = write(HousingSpec(n_rows=50, seed=5), tmp_path)
    assert path == tmp_path / "housing.csv"
    lines = path.read_text().splitlines()
    assert lines[0] == ",".join(COLUMNS)
    assert len(lines) == 51
    header = lines[0].split(",")
    for line in lines[1:]:
        cells = dict(zip(header, line.split(","), strict=True))
        for name in COUNTS:
            assert "." not in cells[name], (name, line)


def test_generation_is_seeded() -> None:
    first = generate(HousingSpec(n_rows=300, seed=7))
    pd.testing.assert_frame_equal(first, generate(HousingSpec(n_rows=300, seed=7)))
    other = generate(HousingSpec(n_rows=300, seed=8))
    assert not first.equals(other)
    assert not np.allclose(first["median_income"], other["median_income"])


def test_too_few_rows_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"housing needs at least 50 rows, got 49"):
        generate(HousingSpec(n_rows=49))


def test_missing_fraction_out_of_range_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"missing fraction must be at least 0 and below 0\.5"):
        generate(HousingSpec(missing_fraction=0.5))


def test_default_data_is_learnable(tmp_path: Path) -> None:
    write(HousingSpec(n_rows=3000), tmp_path)
    split = load(tmp_path)
    model = make_pipeline(
        HousingFeatures(), HistGradientBoostingRegressor(max_iter=100, random_state=0)
    )
    with threadpool_limits(limits=1):  # OpenMP threads spin for seconds on a busy machine
        model.fit(split.x_train, split.y_train)
        mae = np.abs(model.predict(split.x_test) - split.y_test).mean()
    mean_mae = np.abs(split.y_train.mean() - split.y_test).mean()
    assert mae < 0.6 * mean_mae, (mae, mean_mae)


# --- reading and validation, one bad input per test ------------------------------------------


def test_written_file_reads_back(tmp_path: Path) -> None:
    frame = generate(HousingSpec(n_rows=80, seed=2))
    path = write(HousingSpec(n_rows=80, seed=2), tmp_path)
    back = read(path)
    pd.testing.assert_frame_equal(back, frame, check_exact=False, rtol=1e-9)


def test_missing_bedrooms_cells_are_allowed(tmp_path: Path, small: pd.DataFrame) -> None:
    small.loc[[1, 5, 7], "total_bedrooms"] = np.nan
    frame = read(_csv(tmp_path, small))
    assert len(frame) == 60
    assert frame["total_bedrooms"].isna().sum() == small["total_bedrooms"].isna().sum() >= 3


def test_missing_columns(tmp_path: Path, small: pd.DataFrame) -> None:
    path = _csv(tmp_path, small.drop(columns=["latitude", "households"]))
    with pytest.raises(
        DataError,
        match=rf"^{re.escape(str(path))}: missing column\(s\) 'latitude', 'households' \(found ",
    ):
        read(path)


def test_missing_target_column(tmp_path: Path, small: pd.DataFrame) -> None:
    path = _csv(tmp_path, small.drop(columns=[TARGET]))
    with pytest.raises(DataError, match=r"missing column\(s\) 'median_house_value'"):
        read(path)


def test_non_numeric_value(tmp_path: Path, small: pd.DataFrame) -> None:
    small["population"] = small["population"].astype(object)
    small.loc[3, "population"] = "lots"
    path = _csv(tmp_path, small)
    with pytest.raises(
        DataError,
        match=rf"^{re.escape(str(path))}: column 'population' must be numeric, found 'lots' "
        r"on data row 4$",
    ):
        read(path)


def test_non_numeric_bedrooms_are_not_taken_for_missing(
    tmp_path: Path, small: pd.DataFrame
) -> None:
    small["total_bedrooms"] = small["total_bedrooms"].astype(object)
    small.loc[0, "total_bedrooms"] = "n/a?"
    with pytest.raises(DataError, match=r"column 'total_bedrooms' must be numeric, found 'n/a\?'"):
        read(_csv(tmp_path, small))


def test_unknown_category(tmp_path: Path, small: pd.DataFrame) -> None:
    small.loc[4, "ocean_proximity"] = "MOON"
    path = _csv(tmp_path, small)
    with pytest.raises(
        DataError,
        match=rf"^{re.escape(str(path))}: column 'ocean_proximity' has unknown category 'MOON' "
        r"on data row 5 "
        rf"\({EXPECTED_CATEGORIES}\)$",
    ):
        read(path)


def test_category_in_the_wrong_case(tmp_path: Path, small: pd.DataFrame) -> None:
    small.loc[2, "ocean_proximity"] = "inland"
    with pytest.raises(DataError, match=r"unknown category 'inland' on data row 3"):
        read(_csv(tmp_path, small))


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "housing.csv"
    path.write_text("")
    with pytest.raises(
        DataError, match=rf"^{re.escape(str(path))}: file is empty \(expected a header longitude,"
    ):
        read(path)


def test_header_only_file(tmp_path: Path) -> None:
    path = tmp_path / "housing.csv"
    path.write_text(",".join(COLUMNS) + "\n")
    with pytest.raises(DataError, match=rf"^{re.escape(str(path))}: has a header but no rows$"):
        read(path)


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "housing.csv"
    with pytest.raises(
        DataError, match=rf"^{re.escape(str(path))}: file not found \(expected a CSV with columns"
    ):
        read(path)


def test_empty_cell_in_a_column_that_is_not_imputed(tmp_path: Path, small: pd.DataFrame) -> None:
    small.loc[2, "median_income"] = np.nan
    path = _csv(tmp_path, small)
    with pytest.raises(
        DataError,
        match=rf"^{re.escape(str(path))}: column 'median_income' has an empty value on data row 3$",
    ):
        read(path)


def test_empty_target_cell(tmp_path: Path, small: pd.DataFrame) -> None:
    small.loc[9, TARGET] = np.nan
    with pytest.raises(DataError, match=r"column 'median_house_value' has an empty value on data "):
        read(_csv(tmp_path, small))


def test_empty_category_cell(tmp_path: Path, small: pd.DataFrame) -> None:
    small.loc[6, "ocean_proximity"] = np.nan
    with pytest.raises(
        DataError, match=r"column 'ocean_proximity' has an empty value on data row 7$"
    ):
        read(_csv(tmp_path, small))


def test_all_bedrooms_empty(tmp_path: Path, small: pd.DataFrame) -> None:
    small["total_bedrooms"] = np.nan
    path = _csv(tmp_path, small)
    with pytest.raises(
        DataError,
        match=rf"^{re.escape(str(path))}: column 'total_bedrooms' is empty on every row; "
        r"nothing to impute from$",
    ):
        read(path)


def test_too_few_rows_to_split(tmp_path: Path, small: pd.DataFrame) -> None:
    path = _csv(tmp_path, small.head(9))
    with pytest.raises(DataError, match=r"has 9 rows; a train/test split needs at least 10"):
        read(path)


# --- the split -------------------------------------------------------------------------------


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    write(HousingSpec(n_rows=200, seed=3), tmp_path)
    return tmp_path


def test_same_seed_same_split(data_dir: Path) -> None:
    first, again = load(data_dir, seed=5), load(data_dir, seed=5)
    pd.testing.assert_frame_equal(first.train, again.train)
    pd.testing.assert_frame_equal(first.test, again.test)
    other = load(data_dir, seed=6)
    assert not first.test.equals(other.test)


def test_split_is_disjoint_and_covers_every_row(data_dir: Path) -> None:
    split = load(data_dir, test_fraction=0.25, seed=1)
    everything = read(data_dir / "housing.csv")
    assert (len(split.train), len(split.test)) == (150, 50)
    key = ["longitude", "latitude", "total_rooms", "population", TARGET]
    train_rows = set(split.train[key].itertuples(index=False))
    test_rows = set(split.test[key].itertuples(index=False))
    assert len(train_rows) == 150 and len(test_rows) == 50
    assert not train_rows & test_rows
    assert train_rows | test_rows == set(everything[key].itertuples(index=False))
    assert list(split.x_train.columns) == list(FEATURES)
    assert split.y_test.dtype == np.float64 and split.y_test.shape == (50,)
    assert (split.path, split.test_fraction, split.seed) == (data_dir / "housing.csv", 0.25, 1)


def test_test_fraction_is_respected(data_dir: Path) -> None:
    assert len(load(data_dir, test_fraction=0.1).test) == 20
    assert len(load(data_dir, test_fraction=0.5).test) == 100


def test_test_fraction_out_of_range(data_dir: Path) -> None:
    with pytest.raises(
        ConfigError, match=r"test fraction must be above 0 and below 0\.9, got 0\.9"
    ):
        load(data_dir, test_fraction=0.9)


def test_load_takes_the_file_itself(data_dir: Path) -> None:
    split = load(data_dir / "housing.csv")
    assert len(split.train) + len(split.test) == 200


def test_resolve_file_takes_a_folder(tmp_path: Path) -> None:
    assert resolve_file(tmp_path) == tmp_path / "housing.csv"


def test_resolve_file_takes_a_file(tmp_path: Path) -> None:
    path = tmp_path / "other.csv"
    assert resolve_file(path) == path


def test_resolve_file_rejects_a_missing_folder(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere"
    with pytest.raises(
        DataError,
        match=rf"^data folder '{re.escape(str(missing))}' does not exist "
        rf"\(expected {re.escape(str(missing / 'housing.csv'))}\)$",
    ):
        resolve_file(missing)


def test_load_from_a_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"data folder '.*nowhere' does not exist"):
        load(tmp_path / "nowhere")


# --- copying a public file -------------------------------------------------------------------


def test_copy_validated_places_the_file_unchanged(tmp_path: Path, small: pd.DataFrame) -> None:
    source = tmp_path / "download.csv"
    small.to_csv(source, index=False)
    out = tmp_path / "out"
    path, frame = copy_validated(source, out)
    assert path == out / "housing.csv"
    assert path.read_bytes() == source.read_bytes()
    assert len(frame) == 60


def test_copy_validated_onto_itself_keeps_the_file(tmp_path: Path, small: pd.DataFrame) -> None:
    path = _csv(tmp_path, small)
    before = path.read_bytes()
    placed, _ = copy_validated(path, tmp_path)
    assert placed == path and path.read_bytes() == before


def test_copy_validated_rejects_a_bad_file(tmp_path: Path, small: pd.DataFrame) -> None:
    small.loc[0, "ocean_proximity"] = "LAKE"
    source = tmp_path / "download.csv"
    small.to_csv(source, index=False)
    out = tmp_path / "out"
    with pytest.raises(DataError, match=r"unknown category 'LAKE' on data row 1"):
        copy_validated(source, out)
    assert not (out / "housing.csv").exists()


# --- the cleaning transformer ----------------------------------------------------------------


@pytest.fixture
def features() -> pd.DataFrame:
    frame = generate(HousingSpec(n_rows=400, seed=11))
    return frame[list(FEATURES)]


def test_imputed_bedrooms_are_the_training_median(features: pd.DataFrame) -> None:
    train = features.iloc[:200]
    other = features.iloc[200:].copy()
    other["total_bedrooms"] = other["total_bedrooms"] * 3
    other.iloc[:5, other.columns.get_loc("total_bedrooms")] = np.nan
    cleaning = HousingFeatures().fit(train)
    out = cleaning.transform(other)
    scaler = cleaning.columns_.named_transformers_["numeric"].named_steps["standardscaler"]
    column = NUMERIC.index("total_bedrooms")
    imputed = out[:5, column] * scaler.scale_[column] + scaler.mean_[column]
    median = train["total_bedrooms"].median()
    assert imputed == pytest.approx(np.full(5, median), rel=1e-5)
    assert median != pytest.approx(other["total_bedrooms"].median())
    assert (
        f"total_bedrooms: median of training rows ({median:g})"
        in (cleaning.cleaning_params()["cleaning/impute"])
    )


def test_output_is_13_float32_columns(features: pd.DataFrame) -> None:
    out = HousingFeatures().fit_transform(features)
    assert out.shape == (400, 13) and out.dtype == np.float32
    assert not np.isnan(out).any()
    assert np.abs(out[:, :8].mean(axis=0)).max() < 1e-4
    assert out[:, :8].std(axis=0) == pytest.approx(np.ones(8), abs=1e-3)
    names = list(HousingFeatures().fit(features).get_feature_names_out())
    assert names[:8] == list(NUMERIC)
    assert names[8:] == [f"ocean_proximity={c}" for c in CATEGORIES]


def test_one_hot_has_exactly_one_one_per_row(features: pd.DataFrame) -> None:
    out = HousingFeatures().fit_transform(features)
    one_hot = out[:, 8:]
    assert set(np.unique(one_hot)) == {0.0, 1.0}
    assert (one_hot.sum(axis=1) == 1).all()
    positions = one_hot.argmax(axis=1)
    assert [CATEGORIES[i] for i in positions] == list(features["ocean_proximity"])


def test_category_absent_from_training_keeps_its_column(features: pd.DataFrame) -> None:
    train = features[features["ocean_proximity"] != "ISLAND"]
    cleaning = HousingFeatures().fit(train)
    island = features.head(3).assign(ocean_proximity="ISLAND")
    out = cleaning.transform(island)
    assert out.shape == (3, 13)
    assert (out[:, 8 + CATEGORIES.index("ISLAND")] == 1.0).all()
    assert (out[:, 8:].sum(axis=1) == 1).all()


def test_unknown_category_at_transform(features: pd.DataFrame) -> None:
    cleaning = HousingFeatures().fit(features)
    rows = features.head(4).copy()
    rows.iloc[1, rows.columns.get_loc("ocean_proximity")] = "MARS"
    with pytest.raises(
        DataError,
        match=rf"^input: column 'ocean_proximity' has unknown category 'MARS' on data row 2 "
        rf"\({EXPECTED_CATEGORIES}\)$",
    ):
        cleaning.transform(rows)


def test_missing_column_at_transform(features: pd.DataFrame) -> None:
    cleaning = HousingFeatures().fit(features)
    with pytest.raises(DataError, match=r"^input: missing column\(s\) population \(expected "):
        cleaning.transform(features.drop(columns="population"))


def test_non_numeric_value_at_transform(features: pd.DataFrame) -> None:
    cleaning = HousingFeatures().fit(features)
    rows = features.head(4).astype({"median_income": object})
    rows.iloc[2, rows.columns.get_loc("median_income")] = "rich"
    with pytest.raises(
        DataError, match=r"^input: column 'median_income' must be numeric, found 'rich' on row 3$"
    ):
        cleaning.transform(rows)


def test_missing_column_at_fit(features: pd.DataFrame) -> None:
    with pytest.raises(DataError, match=r"^training data: missing column\(s\) ocean_proximity"):
        HousingFeatures().fit(features.drop(columns="ocean_proximity"))


def test_not_a_table_at_transform(features: pd.DataFrame) -> None:
    cleaning = HousingFeatures().fit(features)
    with pytest.raises(DataError, match=r"^input: expected a table with columns longitude, "):
        cleaning.transform(features.to_numpy())


def test_numbers_as_text_are_accepted_at_transform(features: pd.DataFrame) -> None:
    cleaning = HousingFeatures().fit(features)
    rows = features[features["total_bedrooms"].notna()].head(3)
    as_text = rows.astype({name: str for name in NUMERIC})
    np.testing.assert_allclose(cleaning.transform(as_text), cleaning.transform(rows), rtol=1e-6)


def test_an_empty_cell_outside_total_bedrooms_is_refused_at_prediction(
    features: pd.DataFrame,
) -> None:
    cleaning = HousingFeatures().fit(features)
    rows = features.head(3).copy()
    rows.iloc[2, rows.columns.get_loc("median_income")] = np.nan
    with pytest.raises(
        DataError, match=r"column 'median_income' is empty on row 3 \(only total_bedrooms"
    ):
        cleaning.transform(rows)

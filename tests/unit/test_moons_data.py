from pathlib import Path

import pandas as pd
import pytest

from tracking_demo.data.moons import MoonsSpec, generate, load, write
from tracking_demo.errors import ConfigError, DataError


def test_generate_is_seeded_and_sized() -> None:
    train, test = generate(MoonsSpec(n_train=50, n_test=20, seed=3))
    again, _ = generate(MoonsSpec(n_train=50, n_test=20, seed=3))
    other, _ = generate(MoonsSpec(n_train=50, n_test=20, seed=4))
    assert list(train.columns) == ["x1", "x2", "label"]
    assert (len(train), len(test)) == (50, 20)
    assert set(train["label"]) == {0, 1}
    pd.testing.assert_frame_equal(train, again)
    assert not train.equals(other)


def test_write_then_load_round_trips(tmp_path: Path) -> None:
    write(MoonsSpec(n_train=40, n_test=10, noise=0.1), tmp_path)
    data = load(tmp_path)
    assert data.x_train.shape == (40, 2)
    assert data.y_test.shape == (10,)
    assert data.train_path == tmp_path / "train.csv"


def test_noise_out_of_range_is_rejected() -> None:
    with pytest.raises(ConfigError, match="noise must be between 0 and 1"):
        generate(MoonsSpec(noise=1.5))


@pytest.fixture
def good_dir(tmp_path: Path) -> Path:
    write(MoonsSpec(n_train=20, n_test=10), tmp_path)
    return tmp_path


def test_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"data folder '.*nowhere' does not exist"):
        load(tmp_path / "nowhere")


def test_missing_csv(good_dir: Path) -> None:
    (good_dir / "test.csv").unlink()
    with pytest.raises(DataError, match=r"test\.csv: file not found"):
        load(good_dir)


def test_empty_csv(good_dir: Path) -> None:
    (good_dir / "train.csv").write_text("")
    with pytest.raises(DataError, match=r"train\.csv: file is empty"):
        load(good_dir)


def test_header_only_csv(good_dir: Path) -> None:
    (good_dir / "train.csv").write_text("x1,x2,label\n")
    with pytest.raises(DataError, match=r"train\.csv: has a header but no rows"):
        load(good_dir)


def test_missing_column(good_dir: Path) -> None:
    (good_dir / "train.csv").write_text("x1,label\n0.1,0\n0.2,1\n")
    with pytest.raises(DataError, match=r"train\.csv: missing column\(s\) 'x2'"):
        load(good_dir)


def test_non_numeric_value(good_dir: Path) -> None:
    (good_dir / "test.csv").write_text("x1,x2,label\n0.1,abc,0\n0.2,0.3,1\n")
    with pytest.raises(DataError, match=r"test\.csv: column 'x2' must be numeric, found 'abc'"):
        load(good_dir)


def test_empty_value(good_dir: Path) -> None:
    (good_dir / "train.csv").write_text("x1,x2,label\n0.1,,0\n0.2,0.3,1\n")
    with pytest.raises(
        DataError, match=r"train\.csv: column 'x2' has an empty value on data row 1"
    ):
        load(good_dir)


def test_non_integer_label(good_dir: Path) -> None:
    (good_dir / "train.csv").write_text("x1,x2,label\n0.1,0.2,0.5\n0.2,0.3,1\n")
    with pytest.raises(DataError, match=r"column 'label' must hold integer class labels"):
        load(good_dir)


def test_single_class(good_dir: Path) -> None:
    (good_dir / "train.csv").write_text("x1,x2,label\n0.1,0.2,1\n0.2,0.3,1\n")
    with pytest.raises(DataError, match=r"train\.csv: column 'label' has a single class \(1\)"):
        load(good_dir)

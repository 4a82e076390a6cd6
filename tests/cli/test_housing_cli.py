"""The housing commands' data handling and bad-input paths, as a user sees them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import mlflow
import pandas as pd
import pytest
from click.testing import CliRunner, Result
from mlflow import MlflowClient

from tracking_demo.cli.main import cli
from tracking_demo.data.housing import COLUMNS, HousingSpec, generate
from tracking_demo.server.processes import find_free_port

CATEGORIES_HINT = "(expected one of <1H OCEAN, INLAND, ISLAND, NEAR BAY, NEAR OCEAN)"


def _error_lines(result: Result) -> list[str]:
    assert "Traceback" not in result.output
    return [line for line in result.stderr.splitlines() if line.startswith("error:")]


@pytest.fixture
def frame() -> pd.DataFrame:
    return generate(HousingSpec(n_rows=60, seed=4))


@pytest.fixture
def good_file(tmp_path: Path, frame: pd.DataFrame) -> Path:
    path = tmp_path / "download.csv"
    frame.to_csv(path, index=False)
    return path


@pytest.fixture
def no_server() -> str:
    """A tracking URI nothing answers at: a command that reached for it would say so."""
    return f"http://127.0.0.1:{find_free_port()}"


@pytest.fixture
def sqlite_uri(tmp_path: Path, clean_env: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    # A sqlite store keeps artifacts in ./mlruns: run from tmp_path, not from the repository.
    monkeypatch.chdir(tmp_path)
    yield f"sqlite:///{tmp_path / 'mlflow.db'}"
    # The command set the URI process-wide (and in os.environ); later tests must not inherit it.
    mlflow.set_tracking_uri(None)


# --- data housing ----------------------------------------------------------------------------


def test_data_housing_writes_the_synthetic_file(tmp_path: Path) -> None:
    out = tmp_path / "housing"
    result = CliRunner().invoke(
        cli, ["data", "housing", "--out", str(out), "--rows", "60", "--seed", "3"]
    )
    assert result.exit_code == 0, result.output
    path = out / "housing.csv"
    assert result.stdout == f"wrote {path} (60 synthetic rows, seed 3)\n"
    lines = path.read_text().splitlines()
    assert lines[0] == ",".join(COLUMNS)
    assert len(lines) == 61
    written = pd.read_csv(path)
    expected = generate(HousingSpec(n_rows=60, seed=3))
    pd.testing.assert_frame_equal(written, expected, check_dtype=False)


def test_data_housing_rows_below_50_is_a_usage_error(tmp_path: Path) -> None:
    out = tmp_path / "housing"
    result = CliRunner().invoke(cli, ["data", "housing", "--out", str(out), "--rows", "49"])
    assert result.exit_code == 2
    assert "Invalid value for '--rows': 49 is not in the range x>=50" in result.stderr
    assert not (out / "housing.csv").exists()


def test_data_housing_from_a_valid_file_copies_it(tmp_path: Path, good_file: Path) -> None:
    out = tmp_path / "housing"
    result = CliRunner().invoke(
        cli, ["data", "housing", "--out", str(out), "--from", str(good_file)]
    )
    assert result.exit_code == 0, result.output
    placed = out / "housing.csv"
    assert result.stdout == f"validated {good_file} and placed it at {placed} (60 rows)\n"
    assert placed.read_bytes() == good_file.read_bytes()


def test_data_housing_from_a_file_with_an_unknown_category(
    tmp_path: Path, frame: pd.DataFrame
) -> None:
    frame.loc[7, "ocean_proximity"] = "LAKE"
    source = tmp_path / "download.csv"
    frame.to_csv(source, index=False)
    out = tmp_path / "housing"
    result = CliRunner().invoke(cli, ["data", "housing", "--out", str(out), "--from", str(source)])
    assert result.exit_code == 1
    assert result.stderr == (
        f"error: {source}: column 'ocean_proximity' has unknown category 'LAKE' on data row 8 "
        f"{CATEGORIES_HINT}\n"
    )
    assert not (out / "housing.csv").exists()


# --- sweep housing-mlp: bad input fails before any tracking server is reached ----------------


def _sweep(space: Path | None, data: Path, uri: str) -> Result:
    args = ["sweep", "housing-mlp", "--data", str(data), "--tracking-uri", uri]
    return CliRunner().invoke(cli, [*args, *(["--space", str(space)] if space else [])])


def test_sweep_with_an_unknown_distribution(
    tmp_path: Path, good_file: Path, no_server: str
) -> None:
    space = tmp_path / "sweep.yaml"
    space.write_text("parameters:\n  epochs: {normal: [10, 2]}\n")
    result = _sweep(space, good_file, no_server)
    assert result.exit_code == 1
    assert _error_lines(result) == [
        f"error: {space}: parameters.epochs: unknown distribution 'normal' "
        "(expected one of choice, uniform, loguniform)"
    ]
    assert result.stdout == ""


def test_sweep_with_an_empty_choice(tmp_path: Path, good_file: Path, no_server: str) -> None:
    space = tmp_path / "sweep.yaml"
    space.write_text("parameters:\n  batch_size: {choice: []}\n")
    result = _sweep(space, good_file, no_server)
    assert result.exit_code == 1
    assert _error_lines(result) == [
        f"error: {space}: parameters.batch_size: choice has no values "
        "(expected a non-empty list)"
    ]


def test_sweep_with_a_missing_sweep_file(tmp_path: Path, good_file: Path, no_server: str) -> None:
    space = tmp_path / "nope.yaml"
    result = _sweep(space, good_file, no_server)
    assert result.exit_code == 1
    assert _error_lines(result) == [f"error: {space}: sweep file not found"]


def test_sweep_with_data_missing_a_column(
    tmp_path: Path, frame: pd.DataFrame, no_server: str
) -> None:
    data = tmp_path / "housing.csv"
    frame.drop(columns=["median_income"]).to_csv(data, index=False)
    result = _sweep(None, tmp_path, no_server)
    assert result.exit_code == 1
    (line,) = _error_lines(result)
    assert line.startswith(f"error: {data}: missing column(s) 'median_income' (found 'longitude',")
    assert len(result.stderr.splitlines()) == 1


# --- train housing-* -------------------------------------------------------------------------


def test_train_baseline_with_a_non_numeric_value_fails_the_run(
    tmp_path: Path, frame: pd.DataFrame, sqlite_uri: str
) -> None:
    data = tmp_path / "bad.csv"
    frame.astype({"households": object}).assign(
        households=lambda f: f["households"].where(f.index != 11, "many")
    ).to_csv(data, index=False)
    result = CliRunner().invoke(
        cli,
        ["train", "housing-baseline", "--data", str(data), "--tracking-uri", sqlite_uri,
         "--experiment", "housing-bad"],
    )  # fmt: skip
    assert result.exit_code == 1
    message = f"{data}: column 'households' must be numeric, found 'many' on data row 12"
    assert _error_lines(result) == [f"error: {message}"]
    assert result.stdout == ""
    client = MlflowClient(tracking_uri=sqlite_uri)
    (run,) = client.search_runs([client.get_experiment_by_name("housing-bad").experiment_id])
    assert run.info.status == "FAILED"
    assert run.data.tags["tracking_demo.task"] == "housing-baseline"
    assert message in run.data.tags["tracking_demo.error"]


@pytest.mark.parametrize(
    "args", [["--sweep-board", "board.sqlite"], ["--trial", "3"]], ids=["board", "trial"]
)
def test_train_mlp_sweep_board_and_trial_go_together(
    tmp_path: Path, good_file: Path, no_server: str, args: list[str]
) -> None:
    result = CliRunner().invoke(
        cli,
        ["train", "housing-mlp", "--data", str(good_file), "--tracking-uri", no_server, *args],
    )
    assert result.exit_code == 2
    assert "Error: --sweep-board and --trial go together" in result.stderr
    assert "Traceback" not in result.output

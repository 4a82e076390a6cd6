import pytest

from tracking_demo.errors import ConfigError
from tracking_demo.tasks.moons import (
    DEFAULT_GRID,
    grid_params,
    parse_grid_overrides,
    selected_params,
)


def test_grid_params_use_tutorial_names_and_values() -> None:
    assert grid_params(DEFAULT_GRID) == {
        "gridsearch/n_estimators": "[10, 25, 100]",
        "gridsearch/criterion": "['gini', 'entropy']",
        "gridsearch/max_depth": "[2, 5, 10, None]",
    }


def test_selected_params_are_prefixed_and_sorted() -> None:
    params = selected_params({"n_estimators": 25, "max_depth": None, "criterion": "gini"})
    assert list(params) == ["selected/criterion", "selected/max_depth", "selected/n_estimators"]
    assert params["selected/max_depth"] == "None"


def test_grid_override_parses_types_and_keeps_other_keys() -> None:
    grid = parse_grid_overrides(["max_depth=3,None", "min_samples_leaf=1, 2", "max_features=sqrt"])
    assert grid["max_depth"] == [3, None]
    assert grid["min_samples_leaf"] == [1, 2]
    assert grid["max_features"] == ["sqrt"]
    assert grid["n_estimators"] == [10, 25, 100]


def test_grid_override_rejects_unknown_parameter() -> None:
    with pytest.raises(ConfigError, match="'depth' is not a RandomForestClassifier parameter"):
        parse_grid_overrides(["depth=3"])


def test_grid_override_rejects_malformed_item() -> None:
    with pytest.raises(ConfigError, match=r"--grid 'max_depth' is not NAME=VALUE"):
        parse_grid_overrides(["max_depth"])

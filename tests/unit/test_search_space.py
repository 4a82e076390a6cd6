import json
import math
import re
from pathlib import Path

import numpy as np
import pytest

from tracking_demo.errors import ConfigError
from tracking_demo.sweep.space import (
    BanditPolicy,
    Choice,
    LogUniform,
    PrimaryMetric,
    SweepSpec,
    Uniform,
    describe_policy,
    load,
    parse,
    sample,
    trial_arguments,
)
from tracking_demo.tasks.housing import TUNABLE

UNITS = (2, 4, 6, 8, 10)


def _parse(text: str) -> SweepSpec:
    return parse(text, "sweep.yaml", TUNABLE)


def test_default_file_is_the_tutorials_sweep() -> None:
    spec = load(None, TUNABLE)
    assert dict(spec.parameters) == {
        "batch_size": Choice((25, 50, 100)),
        "epochs": Choice((5, 10, 15)),
        "first_layer_units": Choice(UNITS),
        "second_layer_units": Choice(UNITS),
    }
    assert spec.primary_metric == PrimaryMetric("val_mae", "minimize")
    assert spec.policy == BanditPolicy(
        slack_factor=0.1, slack_amount=None, evaluation_interval=2, delay_evaluation=0
    )
    assert (spec.max_trials, spec.max_concurrent) == (8, 4)
    assert spec.source == "(default) housing_sweep.yaml"


def test_describe_is_json_ready() -> None:
    described = load(None, TUNABLE).describe()
    assert json.loads(json.dumps(described)) == {
        "parameters": {
            "batch_size": {"choice": [25, 50, 100]},
            "epochs": {"choice": [5, 10, 15]},
            "first_layer_units": {"choice": list(UNITS)},
            "second_layer_units": {"choice": list(UNITS)},
        },
        "primary_metric": {"name": "val_mae", "goal": "minimize"},
        "early_termination": {
            "policy": "bandit",
            "slack_factor": 0.1,
            "evaluation_interval": 2,
            "delay_evaluation": 0,
        },
        "max_trials": 8,
        "max_concurrent": 4,
    }


def test_json_file_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "sweep.json"
    document = {
        "parameters": {
            "learning_rate": {"loguniform": [0.0001, 0.1]},
            "epochs": {"choice": [3, 6]},
        },
        "primary_metric": {"name": "val_loss", "goal": "minimize"},
        "early_termination": {"policy": "bandit", "slack_amount": 0.5, "delay_evaluation": 3},
        "max_trials": 5,
        "max_concurrent": 2,
    }
    path.write_text(json.dumps(document))
    spec = load(path, TUNABLE)
    assert dict(spec.parameters) == {
        "learning_rate": LogUniform(0.0001, 0.1),
        "epochs": Choice((3, 6)),
    }
    assert spec.primary_metric == PrimaryMetric("val_loss", "minimize")
    assert spec.policy == BanditPolicy(
        slack_factor=None, slack_amount=0.5, evaluation_interval=1, delay_evaluation=3
    )
    assert (spec.max_trials, spec.max_concurrent, spec.source) == (5, 2, str(path))


def test_policy_none_turns_early_termination_off() -> None:
    spec = _parse("parameters: {epochs: {choice: [1]}}\nearly_termination: {policy: none}\n")
    assert spec.policy is None
    assert describe_policy(spec.policy) == {"policy": "none"}


def test_uniform_learning_rate_is_a_float_range() -> None:
    spec = _parse("parameters: {learning_rate: {uniform: [0.001, 0.01]}}\n")
    assert spec.parameters["learning_rate"] == Uniform(0.001, 0.01)


# --- bad sweep files, one test each ----------------------------------------------------------


def test_unknown_distribution() -> None:
    with pytest.raises(
        ConfigError,
        match=r"sweep\.yaml: parameters\.epochs: unknown distribution 'normal' "
        r"\(expected one of choice, uniform, loguniform\)",
    ):
        _parse("parameters: {epochs: {normal: [5, 1]}}\n")


def test_empty_choice() -> None:
    with pytest.raises(
        ConfigError, match=r"parameters\.batch_size: choice has no values \(expected a non-empty"
    ):
        _parse("parameters: {batch_size: {choice: []}}\n")


def test_unknown_parameter() -> None:
    with pytest.raises(
        ConfigError,
        match=r"parameters\.dropout: not a tunable parameter \(expected one of batch_size, "
        r"epochs, first_layer_units, second_layer_units, learning_rate\)",
    ):
        _parse("parameters: {dropout: {choice: [0.1, 0.2]}}\n")


def test_uniform_on_a_whole_number_parameter() -> None:
    with pytest.raises(
        ConfigError, match=r"parameters\.epochs: takes whole numbers; use choice, not uniform"
    ):
        _parse("parameters: {epochs: {uniform: [5, 15]}}\n")


def test_non_integer_choice_for_a_whole_number_parameter() -> None:
    with pytest.raises(
        ConfigError, match=r"parameters\.epochs: choice value 2\.5 is not a whole number >= 1"
    ):
        _parse("parameters: {epochs: {choice: [2, 2.5]}}\n")


def test_low_not_below_high() -> None:
    with pytest.raises(
        ConfigError,
        match=r"parameters\.learning_rate: uniform needs low < high, got \[0\.1, 0\.01\]",
    ):
        _parse("parameters: {learning_rate: {uniform: [0.1, 0.01]}}\n")


def test_equal_bounds() -> None:
    with pytest.raises(ConfigError, match=r"loguniform needs low < high, got \[0\.01, 0\.01\]"):
        _parse("parameters: {learning_rate: {loguniform: [0.01, 0.01]}}\n")


def test_loguniform_low_not_positive() -> None:
    with pytest.raises(
        ConfigError,
        match=r"parameters\.learning_rate: loguniform needs low > 0 \(natural units\), got 0\.0",
    ):
        _parse("parameters: {learning_rate: {loguniform: [0, 0.1]}}\n")


def test_bounds_not_a_pair() -> None:
    with pytest.raises(ConfigError, match=r"uniform expects \[low, high\], got \[0\.1\]"):
        _parse("parameters: {learning_rate: {uniform: [0.1]}}\n")


def test_unknown_top_level_key() -> None:
    with pytest.raises(
        ConfigError,
        match=r"sweep\.yaml: unknown key\(s\) \['max_trails'\] \(expected \['parameters'",
    ):
        _parse("parameters: {epochs: {choice: [5]}}\nmax_trails: 3\n")


def test_both_slack_factor_and_slack_amount() -> None:
    with pytest.raises(
        ConfigError, match=r"early_termination needs exactly one of slack_factor, slack_amount"
    ):
        _parse(
            "parameters: {epochs: {choice: [5]}}\n"
            "early_termination: {policy: bandit, slack_factor: 0.1, slack_amount: 0.2}\n"
        )


def test_neither_slack_factor_nor_slack_amount() -> None:
    with pytest.raises(
        ConfigError, match=r"early_termination needs exactly one of slack_factor, slack_amount"
    ):
        _parse("parameters: {epochs: {choice: [5]}}\nearly_termination: {policy: bandit}\n")


def test_negative_slack() -> None:
    with pytest.raises(
        ConfigError, match=r"early_termination\.slack_factor must be a number > 0, got -0\.1"
    ):
        _parse("parameters: {epochs: {choice: [5]}}\nearly_termination: {slack_factor: -0.1}\n")


def test_unknown_policy() -> None:
    with pytest.raises(
        ConfigError, match=r"early_termination\.policy is 'median' \(expected bandit or none\)"
    ):
        _parse("parameters: {epochs: {choice: [5]}}\nearly_termination: {policy: median}\n")


def test_bad_goal() -> None:
    with pytest.raises(
        ConfigError,
        match=r"primary_metric\.goal is 'lowest' \(expected minimize or maximize\)",
    ):
        _parse(
            "parameters: {epochs: {choice: [5]}}\nprimary_metric: {name: val_mae, goal: lowest}\n"
        )


def test_primary_metric_without_name() -> None:
    with pytest.raises(ConfigError, match=r"primary_metric must be \{name: \.\.\., goal: "):
        _parse("parameters: {epochs: {choice: [5]}}\nprimary_metric: {goal: minimize}\n")


def test_non_integer_evaluation_interval() -> None:
    with pytest.raises(
        ConfigError, match=r"early_termination\.evaluation_interval must be an integer >= 1"
    ):
        _parse(
            "parameters: {epochs: {choice: [5]}}\n"
            "early_termination: {slack_factor: 0.1, evaluation_interval: 1.5}\n"
        )


def test_negative_delay_evaluation() -> None:
    with pytest.raises(
        ConfigError, match=r"early_termination\.delay_evaluation must be an integer >= 0"
    ):
        _parse(
            "parameters: {epochs: {choice: [5]}}\n"
            "early_termination: {slack_factor: 0.1, delay_evaluation: -1}\n"
        )


def test_zero_max_trials() -> None:
    with pytest.raises(
        ConfigError, match=r"sweep\.yaml: max_trials must be an integer >= 1, got 0"
    ):
        _parse("parameters: {epochs: {choice: [5]}}\nmax_trials: 0\n")


def test_not_a_mapping() -> None:
    with pytest.raises(
        ConfigError, match=r"sweep\.yaml: expected a mapping with a 'parameters' section"
    ):
        _parse("- epochs\n- batch_size\n")


def test_invalid_yaml() -> None:
    with pytest.raises(ConfigError, match=r"sweep\.yaml: not valid YAML or JSON \("):
        _parse("parameters: {epochs: [\n")


def test_no_parameters() -> None:
    with pytest.raises(
        ConfigError, match=r"'parameters' must map parameter names to distributions"
    ):
        _parse("parameters: {}\n")


def test_missing_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"
    with pytest.raises(ConfigError, match=rf"^{re.escape(str(missing))}: sweep file not found$"):
        load(missing, TUNABLE)


# --- sampling --------------------------------------------------------------------------------


def _key(trial: dict) -> tuple:  # type: ignore[type-arg]
    return tuple(trial.values())


def test_sampling_is_seeded() -> None:
    space = load(None, TUNABLE).parameters
    first = sample(space, 8, seed=0)
    assert sample(space, 8, seed=0) == first
    assert sample(space, 8, seed=1) != first
    assert len(first) == 8


def test_samples_stay_in_the_space_without_duplicates() -> None:
    space = load(None, TUNABLE).parameters
    trials = sample(space, 200, seed=3)
    assert len(trials) == 200
    assert len({_key(t) for t in trials}) == 200
    for trial in trials:
        assert list(trial) == ["batch_size", "epochs", "first_layer_units", "second_layer_units"]
        assert trial["batch_size"] in (25, 50, 100)
        assert trial["epochs"] in (5, 10, 15)
        assert trial["first_layer_units"] in UNITS and trial["second_layer_units"] in UNITS


def test_small_discrete_space_yields_each_combination_once() -> None:
    space = {"batch_size": Choice((25, 50)), "epochs": Choice((5, 10))}
    trials = sample(space, 10, seed=7)
    assert len(trials) == 4
    assert sorted(_key(t) for t in trials) == [(25, 5), (25, 10), (50, 5), (50, 10)]


def test_repeated_choice_values_count_once() -> None:
    trials = sample({"epochs": Choice((5, 5, 10))}, 10, seed=0)
    assert sorted(t["epochs"] for t in trials) == [5, 10]


def test_loguniform_draws_stay_in_bounds_and_spread_over_decades() -> None:
    trials = sample({"learning_rate": LogUniform(1e-4, 1e-1)}, 300, seed=5)
    values = np.array([t["learning_rate"] for t in trials])
    assert all(isinstance(t["learning_rate"], float) for t in trials)
    assert values.min() >= 1e-4 and values.max() <= 1e-1
    decades = np.floor(np.log10(values)).astype(int)
    counts = {d: int((decades == d).sum()) for d in (-4, -3, -2)}
    assert all(60 <= n <= 140 for n in counts.values()), counts


def test_uniform_draws_stay_in_bounds() -> None:
    trials = sample({"learning_rate": Uniform(0.2, 0.3)}, 100, seed=5)
    values = [t["learning_rate"] for t in trials]
    assert min(values) >= 0.2 and max(values) <= 0.3
    assert max(values) - min(values) > 0.08


# --- the bandit policy -----------------------------------------------------------------------


def test_evaluates_every_second_report_without_delay() -> None:
    policy = BanditPolicy(slack_factor=0.1, evaluation_interval=2, delay_evaluation=0)
    assert [r for r in range(1, 8) if policy.evaluates_at(r)] == [2, 4, 6]


def test_evaluates_every_second_report_after_a_delay_of_three() -> None:
    policy = BanditPolicy(slack_factor=0.1, evaluation_interval=2, delay_evaluation=3)
    assert [r for r in range(1, 10) if policy.evaluates_at(r)] == [5, 7, 9]


def test_slack_factor_when_minimizing() -> None:
    policy = BanditPolicy(slack_factor=0.1)
    assert policy.allowed(100.0, "minimize") == pytest.approx(110.0)
    assert not policy.terminates(109.9, 100.0, "minimize")
    assert policy.terminates(110.1, 100.0, "minimize")
    assert not policy.terminates(90.0, 100.0, "minimize")


def test_slack_factor_when_maximizing() -> None:
    policy = BanditPolicy(slack_factor=0.1)
    assert policy.allowed(0.99, "maximize") == pytest.approx(0.9)
    assert not policy.terminates(0.91, 0.99, "maximize")
    assert policy.terminates(0.89, 0.99, "maximize")


def test_slack_amount() -> None:
    policy = BanditPolicy(slack_factor=None, slack_amount=5.0)
    assert policy.allowed(100.0, "minimize") == 105.0
    assert policy.terminates(105.5, 100.0, "minimize")
    assert not policy.terminates(104.5, 100.0, "minimize")
    assert policy.allowed(0.9, "maximize") == pytest.approx(-4.1)
    assert policy.terminates(-4.2, 0.9, "maximize")
    assert not policy.terminates(-4.0, 0.9, "maximize")


def test_nan_value_terminates() -> None:
    policy = BanditPolicy(slack_factor=0.1)
    assert policy.terminates(math.nan, 100.0, "minimize")
    assert policy.terminates(math.nan, 100.0, "maximize")


# --- overrides and trial arguments ----------------------------------------------------------


def test_command_line_values_override_the_file() -> None:
    spec = load(None, TUNABLE)
    changed = spec.with_overrides(max_trials=20, max_concurrent=2, early_termination=False)
    assert (changed.max_trials, changed.max_concurrent, changed.policy) == (20, 2, None)
    assert changed.parameters == spec.parameters
    kept = spec.with_overrides()
    assert (kept.max_trials, kept.max_concurrent, kept.policy) == (8, 4, spec.policy)


def test_override_below_one_is_rejected() -> None:
    with pytest.raises(ConfigError, match=r"--max-trials and --max-concurrent must be at least 1"):
        load(None, TUNABLE).with_overrides(max_concurrent=-1)


def test_trial_arguments_are_command_line_flags() -> None:
    params = {"first_layer_units": 4, "batch_size": 25, "learning_rate": 0.001}
    assert trial_arguments(params) == [
        "--first-layer-units",
        "4",
        "--batch-size",
        "25",
        "--learning-rate",
        "0.001",
    ]


def test_without_an_early_termination_section_there_is_no_policy() -> None:
    spec = _parse("parameters:\n  epochs: {choice: [1, 2]}\n")
    assert spec.policy is None


def test_the_evaluation_interval_defaults_to_hyperdrives_1() -> None:
    spec = _parse(
        "parameters:\n  epochs: {choice: [1, 2]}\n"
        "early_termination: {policy: bandit, slack_factor: 0.2}\n"
    )
    assert spec.policy == BanditPolicy(slack_factor=0.2, evaluation_interval=1)


@pytest.mark.parametrize("field", ["max_trials", "max_concurrent"])
def test_a_zero_override_is_refused(field: str) -> None:
    spec = _parse("parameters:\n  epochs: {choice: [1, 2]}\n")
    with pytest.raises(ConfigError, match="must be at least 1"):
        spec.with_overrides(**{field: 0})

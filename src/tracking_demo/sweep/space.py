"""The sweep file: a search space, the primary metric, the early-termination policy and the
trial budget. The local sweep and the Azure HyperDrive submitter both read it, so the two cannot
drift apart.

Distributions are written in natural units: `loguniform: [0.0001, 0.1]` means values between
1e-4 and 0.1, drawn uniformly in log space. (HyperDrive's `loguniform` takes the exponents;
`jobs.sweep` converts.)
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import numpy as np
import yaml

from tracking_demo.errors import ConfigError

Value = int | float | str
Goal = Literal["minimize", "maximize"]
DISTRIBUTIONS = ("choice", "uniform", "loguniform")
TOP_LEVEL_KEYS = (
    "parameters",
    "primary_metric",
    "early_termination",
    "max_trials",
    "max_concurrent",
)
POLICY_KEYS = ("policy", "slack_factor", "slack_amount", "evaluation_interval", "delay_evaluation")
DEFAULT_SPACE_RESOURCE = "housing_sweep.yaml"
# Four trials in about a minute on a small file, two of them stopped by the policy.
QUICK_SPACE_RESOURCE = "quick_sweep.yaml"
# Draws tried before a discrete space is declared exhausted (duplicate trials waste compute).
MAX_DRAWS_PER_TRIAL = 1000


@dataclass(frozen=True)
class Choice:
    values: tuple[Value, ...]


@dataclass(frozen=True)
class Uniform:
    low: float
    high: float


@dataclass(frozen=True)
class LogUniform:
    low: float
    high: float


Distribution = Choice | Uniform | LogUniform


@dataclass(frozen=True)
class PrimaryMetric:
    name: str = "val_mae"
    goal: Goal = "minimize"

    def better(self, a: float, b: float) -> bool:
        """Whether `a` beats `b` under this goal."""
        return a < b if self.goal == "minimize" else a > b


@dataclass(frozen=True)
class BanditPolicy:
    """HyperDrive's BanditPolicy: stop a trial whose metric falls outside the slack of the best.

    Evaluated at every `evaluation_interval`-th report of the primary metric after the first
    `delay_evaluation` reports. Exactly one of `slack_factor` / `slack_amount` is set.
    """

    slack_factor: float | None = 0.1
    slack_amount: float | None = None
    evaluation_interval: int = 1
    delay_evaluation: int = 0

    def evaluates_at(self, report: int) -> bool:
        """Whether the policy is applied after the `report`-th report (counted from 1)."""
        after_delay = report - self.delay_evaluation
        return after_delay > 0 and after_delay % self.evaluation_interval == 0

    def allowed(self, best: float, goal: Goal) -> float:
        """The worst value still within the slack of `best`."""
        if self.slack_amount is not None:
            return best + self.slack_amount if goal == "minimize" else best - self.slack_amount
        factor = 1.0 + (self.slack_factor or 0.0)
        return best * factor if goal == "minimize" else best / factor

    def terminates(self, value: float, best: float, goal: Goal) -> bool:
        if math.isnan(value):
            return True
        limit = self.allowed(best, goal)
        return value > limit if goal == "minimize" else value < limit


@dataclass(frozen=True)
class SweepSpec:
    parameters: Mapping[str, Distribution]
    primary_metric: PrimaryMetric = field(default_factory=PrimaryMetric)
    policy: BanditPolicy | None = None
    max_trials: int = 8
    max_concurrent: int = 4
    source: str = "<defaults>"

    def with_overrides(
        self,
        max_trials: int | None = None,
        max_concurrent: int | None = None,
        early_termination: bool = True,
    ) -> SweepSpec:
        """Command-line values win over the file's."""
        spec = replace(
            self,
            max_trials=self.max_trials if max_trials is None else max_trials,
            max_concurrent=self.max_concurrent if max_concurrent is None else max_concurrent,
            policy=self.policy if early_termination else None,
        )
        if spec.max_trials < 1 or spec.max_concurrent < 1:
            raise ConfigError("--max-trials and --max-concurrent must be at least 1")
        return spec

    def describe(self) -> dict[str, Any]:
        """JSON-ready: what the parent run logs and what the Azure spec is checked against."""
        return {
            "parameters": {name: describe_distribution(d) for name, d in self.parameters.items()},
            "primary_metric": {"name": self.primary_metric.name, "goal": self.primary_metric.goal},
            "early_termination": describe_policy(self.policy),
            "max_trials": self.max_trials,
            "max_concurrent": self.max_concurrent,
        }


def describe_distribution(distribution: Distribution) -> dict[str, list[Value]]:
    if isinstance(distribution, Choice):
        return {"choice": list(distribution.values)}
    name = "uniform" if isinstance(distribution, Uniform) else "loguniform"
    return {name: [distribution.low, distribution.high]}


def describe_policy(policy: BanditPolicy | None) -> dict[str, Any]:
    if policy is None:
        return {"policy": "none"}
    described: dict[str, Any] = {"policy": "bandit"}
    if policy.slack_amount is not None:
        described["slack_amount"] = policy.slack_amount
    else:
        described["slack_factor"] = policy.slack_factor
    described["evaluation_interval"] = policy.evaluation_interval
    described["delay_evaluation"] = policy.delay_evaluation
    return described


def cli_flag(name: str) -> str:
    """`first_layer_units` → `--first-layer-units`: how a trial's command takes the parameter."""
    return "--" + name.replace("_", "-")


# --- reading ---------------------------------------------------------------------------------


def packaged_space_text(resource: str = DEFAULT_SPACE_RESOURCE) -> str:
    """A sweep file shipped with the package (the tutorial's, or the quick demonstration)."""
    return resources.files("tracking_demo.sweep").joinpath(resource).read_text()


def load(path: Path | None, tunable: Mapping[str, type]) -> SweepSpec:
    """Read and validate a sweep file (YAML or JSON); None reads the packaged default."""
    if path is None:
        return parse(packaged_space_text(), f"(default) {DEFAULT_SPACE_RESOURCE}", tunable)
    if not path.is_file():
        raise ConfigError(f"{path}: sweep file not found")
    return parse(path.read_text(encoding="utf-8"), str(path), tunable)


def parse(text: str, source: str, tunable: Mapping[str, type]) -> SweepSpec:
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise ConfigError(f"{source}: not valid YAML or JSON ({error})") from error
    if not isinstance(document, dict):
        raise ConfigError(f"{source}: expected a mapping with a 'parameters' section")
    unknown = sorted(set(map(str, document)) - set(TOP_LEVEL_KEYS))
    if unknown:
        raise ConfigError(f"{source}: unknown key(s) {unknown} (expected {list(TOP_LEVEL_KEYS)})")
    parameters = document.get("parameters")
    if not isinstance(parameters, dict) or not parameters:
        raise ConfigError(f"{source}: 'parameters' must map parameter names to distributions")
    return SweepSpec(
        parameters={
            str(name): _distribution(f"{source}: parameters.{name}", str(name), body, tunable)
            for name, body in parameters.items()
        },
        primary_metric=_primary_metric(source, document.get("primary_metric")),
        policy=_policy(source, document.get("early_termination")),
        max_trials=_positive_int(source, "max_trials", document.get("max_trials", 8)),
        max_concurrent=_positive_int(source, "max_concurrent", document.get("max_concurrent", 4)),
        source=source,
    )


def _distribution(where: str, name: str, body: Any, tunable: Mapping[str, type]) -> Distribution:
    if name not in tunable:
        raise ConfigError(
            f"{where}: not a tunable parameter (expected one of {', '.join(tunable)})"
        )
    kind = tunable[name]
    if not isinstance(body, dict) or len(body) != 1:
        raise ConfigError(
            f"{where}: expected one distribution such as {{choice: [...]}}, "
            "{uniform: [low, high]} or {loguniform: [low, high]}"
        )
    ((distribution, arguments),) = body.items()
    if distribution not in DISTRIBUTIONS:
        raise ConfigError(
            f"{where}: unknown distribution '{distribution}' (expected one of "
            f"{', '.join(DISTRIBUTIONS)})"
        )
    if distribution == "choice":
        if not isinstance(arguments, list) or not arguments:
            raise ConfigError(f"{where}: choice has no values (expected a non-empty list)")
        return Choice(tuple(_typed_value(where, value, kind) for value in arguments))
    if kind is int:
        raise ConfigError(f"{where}: takes whole numbers; use choice, not {distribution}")
    if (
        not isinstance(arguments, list)
        or len(arguments) != 2
        or not all(_is_number(a) for a in arguments)
    ):
        raise ConfigError(f"{where}: {distribution} expects [low, high], got {arguments!r}")
    low, high = float(arguments[0]), float(arguments[1])
    if not low < high:
        raise ConfigError(f"{where}: {distribution} needs low < high, got [{low}, {high}]")
    if distribution == "loguniform":
        if low <= 0:
            raise ConfigError(f"{where}: loguniform needs low > 0 (natural units), got {low}")
        return LogUniform(low, high)
    return Uniform(low, high)


def _typed_value(where: str, value: Any, kind: type) -> Value:
    if kind is int:
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ConfigError(f"{where}: choice value {value!r} is not a whole number >= 1")
        return value
    if kind is float:
        if not _is_number(value) or not math.isfinite(value) or value <= 0:
            raise ConfigError(f"{where}: choice value {value!r} is not a number > 0")
        return float(value)
    return str(value)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _primary_metric(source: str, body: Any) -> PrimaryMetric:
    if body is None:
        return PrimaryMetric()
    if not isinstance(body, dict) or not isinstance(body.get("name"), str):
        raise ConfigError(
            f"{source}: primary_metric must be {{name: ..., goal: minimize|maximize}}"
        )
    goal = body.get("goal", "minimize")
    if goal not in ("minimize", "maximize"):
        raise ConfigError(
            f"{source}: primary_metric.goal is {goal!r} (expected minimize or maximize)"
        )
    return PrimaryMetric(body["name"], goal)


def _policy(source: str, body: Any) -> BanditPolicy | None:
    """No section means no early termination, and a missing interval means 1, as in
    HyperDrive (`HyperDriveConfig(policy=None)`, `BanditPolicy(evaluation_interval=1)`)."""
    if body is None:
        return None
    if not isinstance(body, dict):
        raise ConfigError(f"{source}: early_termination must be a mapping with 'policy'")
    unknown = sorted(set(map(str, body)) - set(POLICY_KEYS))
    if unknown:
        raise ConfigError(
            f"{source}: early_termination has unknown key(s) {unknown} "
            f"(expected {list(POLICY_KEYS)})"
        )
    kind = body.get("policy", "bandit")
    if kind == "none":
        return None
    if kind != "bandit":
        raise ConfigError(
            f"{source}: early_termination.policy is {kind!r} (expected bandit or none)"
        )
    factor, amount = body.get("slack_factor"), body.get("slack_amount")
    if (factor is None) == (amount is None):
        raise ConfigError(
            f"{source}: early_termination needs exactly one of slack_factor, slack_amount"
        )
    for key, value in (("slack_factor", factor), ("slack_amount", amount)):
        if value is not None and (not _is_number(value) or value <= 0):
            raise ConfigError(
                f"{source}: early_termination.{key} must be a number > 0, got {value!r}"
            )
    interval = body.get("evaluation_interval", 1)
    delay = body.get("delay_evaluation", 0)
    if isinstance(interval, bool) or not isinstance(interval, int) or interval < 1:
        raise ConfigError(
            f"{source}: early_termination.evaluation_interval must be an integer >= 1"
        )
    if isinstance(delay, bool) or not isinstance(delay, int) or delay < 0:
        raise ConfigError(f"{source}: early_termination.delay_evaluation must be an integer >= 0")
    return BanditPolicy(
        slack_factor=None if factor is None else float(factor),
        slack_amount=None if amount is None else float(amount),
        evaluation_interval=interval,
        delay_evaluation=delay,
    )


def _positive_int(source: str, key: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"{source}: {key} must be an integer >= 1, got {value!r}")
    return value


# --- sampling --------------------------------------------------------------------------------


def space_size(parameters: Mapping[str, Distribution]) -> float:
    """How many distinct trials the space holds (infinite once a parameter is continuous)."""
    size = 1.0
    for distribution in parameters.values():
        if not isinstance(distribution, Choice):
            return math.inf
        size *= len(set(distribution.values))
    return size


def sample(parameters: Mapping[str, Distribution], count: int, seed: int) -> list[dict[str, Value]]:
    """`count` seeded random draws, without repeating a combination while the space allows.

    A discrete space smaller than `count` yields every combination once and no more: a repeat
    would only spend compute on a result already known.
    """
    rng = np.random.default_rng(seed)
    wanted = int(min(count, space_size(parameters)))
    trials: list[dict[str, Value]] = []
    seen: set[tuple[Value, ...]] = set()
    draws = 0
    while len(trials) < wanted and draws < wanted * MAX_DRAWS_PER_TRIAL:
        draws += 1
        trial = {name: _draw(rng, d) for name, d in parameters.items()}
        key = tuple(trial.values())
        if key not in seen:
            seen.add(key)
            trials.append(trial)
    return trials


def _draw(rng: np.random.Generator, distribution: Distribution) -> Value:
    if isinstance(distribution, Choice):
        return distribution.values[int(rng.integers(len(distribution.values)))]
    if isinstance(distribution, Uniform):
        return float(rng.uniform(distribution.low, distribution.high))
    return float(math.exp(rng.uniform(math.log(distribution.low), math.log(distribution.high))))


def trial_arguments(params: Mapping[str, Value]) -> list[str]:
    """The trial's parameters as command-line arguments, the way HyperDrive passes them."""
    arguments: list[str] = []
    for name, value in params.items():
        arguments += [cli_flag(name), _format(value)]
    return arguments


def _format(value: Value) -> str:
    return repr(value) if isinstance(value, float) else str(value)

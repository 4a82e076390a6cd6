"""The AutoML regression job, without any SDK: what it trains on, for how long, and how it is
judged; every rule that needs no network is checked here, before a login.

The settings follow the tutorial's AutoML run on the housing data: a regression on
`median_house_value`, judged by the normalized RMSE, automatic featurization, early termination,
a 30-minute budget. Two choices differ, both so that `tracking-demo compare` is fair:

- AutoML trains on the seeded training rows only (`--test-fraction`, `--seed`: the split the
  `train housing-*` tasks make), so the rows `compare` scores every model on stay unseen.
- It validates on a random 20% of those training rows (`validation_data_size`), not on the test
  rows as the tutorial did: choosing a model on the rows it is then judged on flatters it. One
  holdout, not cross-validation: each trial is fitted once, not k times, so the 30 minutes try
  more models, and 20% of ~16,500 rows is plenty to rank them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from tracking_demo.errors import ConfigError

LABEL = "median_house_value"
PRIMARY_METRIC = "normalized_root_mean_squared_error"
VALIDATION_DATA_SIZE = 0.2
FEATURIZATION = "auto"
# The tutorial's AutoML budget (its experiment timeout); the cluster's default size (jobs.compute's
# 4 nodes) for the trials at once, as the HyperDrive sweep runs its trials.
DEFAULT_TIMEOUT_MINUTES = 30
DEFAULT_MAX_CONCURRENT = 4
DEFAULT_TEST_FRACTION = 0.2
DEFAULT_SEED = 42
DEFAULT_ASSET = "housing-mltable"
DEFAULT_COMPUTE = "cpu-cluster"
DEFAULT_EXPERIMENT = "tracking-demo"
TASK = "housing-automl"
# Azure ML asset names and versions: letters, digits, '-', '_', '.'; names start alphanumeric.
ASSET_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,254}$")
ASSET_VERSION = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,29}$")


@dataclass(frozen=True)
class Limits:
    """`set_limits`: the job's budget, the per-trial budget, the trials in all and at once."""

    timeout_minutes: int = DEFAULT_TIMEOUT_MINUTES
    trial_timeout_minutes: int | None = None
    max_trials: int | None = None
    max_concurrent: int = DEFAULT_MAX_CONCURRENT
    enable_early_termination: bool = True


@dataclass(frozen=True)
class AssetRef:
    """A registered mltable data asset; version None is the newest one."""

    name: str
    version: str | None = None

    @property
    def reference(self) -> str:
        """`azureml:NAME:VERSION`, or `azureml:NAME@latest`, as a job input names an asset."""
        if self.version is None:
            return f"azureml:{self.name}@latest"
        return f"azureml:{self.name}:{self.version}"

    def __str__(self) -> str:
        return f"{self.name}:{self.version or 'latest'}"


@dataclass(frozen=True)
class Split:
    """The rows held out for `tracking-demo compare`, as `train housing-*` hold them out."""

    test_fraction: float = DEFAULT_TEST_FRACTION
    seed: int = DEFAULT_SEED


@dataclass(frozen=True)
class AutoMLRequest:
    """Everything a submit needs, checked before the first network call."""

    training: AssetRef
    limits: Limits
    compute: str = DEFAULT_COMPUTE
    experiment: str = DEFAULT_EXPERIMENT
    split: Split | None = None  # None: an existing asset, split by whoever registered it
    register_as: str | None = None

    @property
    def tags(self) -> dict[str, str]:
        """The job's tags: what it trained and on which rows, found again in the studio."""
        tags = {"task": TASK, "training_data": str(self.training)}
        if self.split is not None:
            tags["split/test_fraction"] = str(self.split.test_fraction)
            tags["split/seed"] = str(self.split.seed)
        if self.register_as:
            tags["register_as"] = self.register_as
        return tags


def check_limits(limits: Limits) -> Limits:
    """Positive counts and minutes; a trial's budget within the job's, the trials at once
    within the trials in all (AutoML would only wait on the rest)."""
    for option, value in (
        ("--timeout-minutes", limits.timeout_minutes),
        ("--trial-timeout-minutes", limits.trial_timeout_minutes),
        ("--max-trials", limits.max_trials),
        ("--max-concurrent", limits.max_concurrent),
    ):
        if value is not None and value < 1:
            raise ConfigError(f"{option} must be at least 1, got {value}")
    if limits.trial_timeout_minutes is not None and (
        limits.trial_timeout_minutes > limits.timeout_minutes
    ):
        raise ConfigError(
            f"--trial-timeout-minutes {limits.trial_timeout_minutes} is above --timeout-minutes "
            f"{limits.timeout_minutes} (a trial must fit in the job's budget)"
        )
    if limits.max_trials is not None and limits.max_concurrent > limits.max_trials:
        raise ConfigError(
            f"--max-concurrent {limits.max_concurrent} is above --max-trials "
            f"{limits.max_trials} (expected at most as many trials at once as in all)"
        )
    return limits


def default_concurrency(max_trials: int | None) -> int:
    """The cluster's default size, or fewer when fewer trials are asked for."""
    if max_trials is None or max_trials < 1:
        return DEFAULT_MAX_CONCURRENT
    return min(DEFAULT_MAX_CONCURRENT, max_trials)


def check_asset_name(name: str, option: str) -> str:
    if not ASSET_NAME.match(name):
        raise ConfigError(
            f"{option} '{name}' is not a data asset name (letters, digits, '-', '_', '.'; "
            "starting with a letter or digit)"
        )
    return name


def parse_asset(reference: str) -> AssetRef:
    """`--dataset NAME` (the newest version) or `NAME:VERSION`."""
    name, colon, version = reference.partition(":")
    check_asset_name(name, "--dataset")
    if not colon or version == "latest":
        return AssetRef(name)
    if not ASSET_VERSION.match(version):
        raise ConfigError(f"--dataset '{reference}' is not NAME or NAME:VERSION (e.g. housing:3)")
    return AssetRef(name, version)

"""The sweep's options, importable without the sweep's dependencies (NumPy, pandas, MLflow), so
`sweep housing-mlp` reads its defaults from here when `--help` runs."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from tracking_demo.tasks.options import SplitOptions

if TYPE_CHECKING:
    from tracking_demo.sweep.space import SweepSpec


@dataclass(frozen=True)
class SweepOptions:
    split: SplitOptions
    spec: SweepSpec
    seed: int = 0  # of the random sampling
    register_as: str | None = None
    trial_options: Sequence[str] = ()  # fixed `train housing-mlp` options for every trial
    # "worker": warm workers run the trials in turn; "process": a fresh process per trial.
    isolation: str = "worker"

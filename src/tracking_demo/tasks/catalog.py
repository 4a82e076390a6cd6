"""The tasks there are: each one's name (its runs' task tag, its versions' `task` tag) and the
held-out data its models are judged on. `promote`, `compare`, the sweep and the Azure submitters
look tasks up here instead of repeating names."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Task:
    name: str
    # The kind of held-out examples (`evaluation.load`) its models are scored on; None for a task
    # that trains no model of its own.
    data_kind: str | None = None
    # What its runs are named: task and model kind, then a short random suffix (`moons-rf-3f2a`).
    run_prefix: str | None = None


MOONS = Task("moons", "moons", "moons-rf")
MNIST_LOGREG = Task("mnist-logreg", "mnist", "mnist-logreg")
MNIST_CNN = Task("mnist-cnn", "mnist", "mnist-cnn")  # LeNet runs: `mnist-lenet-...`
HOUSING_MLP = Task("housing-mlp", "housing", "housing-mlp")
HOUSING_BASELINE = Task("housing-baseline", "housing", "housing-baseline")
HOUSING_SWEEP = Task("housing-mlp-sweep")
COMPARE = Task("compare", run_prefix="compare")
PROMOTE = Task("promote", run_prefix="promote")

TASKS: dict[str, Task] = {
    task.name: task
    for task in (
        MOONS,
        MNIST_LOGREG,
        MNIST_CNN,
        HOUSING_MLP,
        HOUSING_BASELINE,
        HOUSING_SWEEP,
        COMPARE,
        PROMOTE,
    )
}


def data_kind_of(task_name: str | None) -> str | None:
    """The examples kind of the task that trained a model (from its `task` tag), if known."""
    task = TASKS.get(task_name or "")
    return task.data_kind if task else None

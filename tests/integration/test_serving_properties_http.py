"""`tracking-demo serve` over real HTTP, whatever the body: a 2xx or 4xx answer with a JSON body,
never a 5xx, and the server still answers `/health` afterwards (a moons forest as the tasks
save it, served from its folder)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.support.bodies import dumps, hostile_texts, json_bodies, mutated, valid_bodies
from tests.support.endpoint import RunningEndpoint, serving
from tests.support.served_models import served_models

pytestmark = [pytest.mark.integration, pytest.mark.slow]
EXAMPLES = settings(
    max_examples=40,
    deadline=None,
    database=None,  # nothing written into the working tree; a failure prints its example
    suppress_health_check=[HealthCheck.too_slow],
)
# The query flag too: `?probabilities=` with what a client might put there, or nothing.
QUERIES = st.one_of(
    st.just({}),
    st.fixed_dictionaries(
        {"probabilities": st.one_of(st.sampled_from(["true", "0"]), st.text(max_size=8))}
    ),
)


@pytest.fixture(scope="module")
def endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningEndpoint]:
    models = served_models(tmp_path_factory)
    with serving([str(models.path("moons"))], tmp_path_factory.mktemp("moons-endpoint")) as running:
        yield running


@pytest.fixture(scope="module")
def bodies(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    return valid_bodies(served_models(tmp_path_factory).rows["moons"])


def answers_and_keeps_serving(
    endpoint: RunningEndpoint, data: bytes, query: dict[str, str]
) -> requests.Response:
    """The property over HTTP: 2xx or 4xx, a JSON body, `/health` still 200."""
    answer = requests.post(
        endpoint.url,
        data=data,
        params=query,
        headers={"Content-Type": "application/json", **endpoint.headers()},
        timeout=30,
    )
    assert answer.status_code < 300 or 400 <= answer.status_code < 500, answer.text
    assert answer.headers["content-type"].startswith("application/json")
    json.loads(answer.content)
    assert requests.get(f"{endpoint.base}/health", timeout=5).status_code == 200
    return answer


def test_every_valid_body_answers_200(
    endpoint: RunningEndpoint, bodies: list[dict[str, Any]]
) -> None:
    for body in bodies:
        answer = answers_and_keeps_serving(endpoint, dumps(body).encode(), {})
        assert answer.status_code == 200, answer.text


@EXAMPLES
@given(body=json_bodies, query=QUERIES)
def test_any_json_value(endpoint: RunningEndpoint, body: Any, query: dict[str, str]) -> None:
    answers_and_keeps_serving(endpoint, dumps(body).encode(), query)


@EXAMPLES
@given(raw=st.one_of(st.binary(max_size=300), hostile_texts.map(str.encode)))
def test_any_bytes(endpoint: RunningEndpoint, raw: bytes) -> None:
    answers_and_keeps_serving(endpoint, raw, {})


@settings(EXAMPLES, max_examples=80)
@given(data=st.data(), query=QUERIES)
def test_mutated_valid_requests(
    endpoint: RunningEndpoint,
    bodies: list[dict[str, Any]],
    data: st.DataObject,
    query: dict[str, str],
) -> None:
    answers_and_keeps_serving(endpoint, data.draw(mutated(bodies)).encode(), query)

"""`tracking-demo predict`'s client against a managed online endpoint's edge (a local stand-in):
the key as a bearer token, `--deployment` reaching one deployment whatever the traffic split,
and each refusal of the edge as one line that says what to check."""

from __future__ import annotations

import json

import pytest
from tests.support.managed_endpoint import answering, managed_endpoint

from tracking_demo.errors import EndpointError
from tracking_demo.serving import client

BLUE = answering(lambda n: [0] * n)  # the deployment holding the traffic
GREEN = answering(lambda n: {"predictions": [1] * n})  # the new one, no traffic yet


def _refused(status: int, body: bytes) -> tuple[int, bytes]:
    return status, body


def _score(endpoint: client.Endpoint) -> list[object]:
    answer = client.post(client.http_session(endpoint), endpoint, {"data": [[0.5, 0.2]] * 3})
    return client.predictions_of(answer)


def test_the_deployment_header_reaches_a_deployment_without_traffic() -> None:
    with managed_endpoint({"blue": BLUE, "green": GREEN}, traffic="blue") as edge:
        assert _score(client.Endpoint(edge.url, key="primary-key")) == [0, 0, 0]
        green = client.Endpoint(edge.url, key="secondary-key", deployment="green")
        assert _score(green) == [1, 1, 1]
        assert edge.routed == ["blue", "green"]


@pytest.mark.parametrize("key", [None, "wrong"])
def test_a_missing_or_wrong_key_is_one_line_naming_the_key(key: str | None) -> None:
    with managed_endpoint({"blue": BLUE}, traffic="blue") as edge:
        endpoint = client.Endpoint(edge.url, key=key, retries=3, backoff_s=0.01)
        with pytest.raises(EndpointError, match=r"answered 401: .*valid key.*; check --key"):
            _score(endpoint)
        assert edge.routed == []


def test_an_unknown_deployment_is_a_404_naming_it() -> None:
    with managed_endpoint({"blue": BLUE}, traffic="blue") as edge:
        endpoint = client.Endpoint(edge.url, key="primary-key", deployment="gren", retries=3)
        with pytest.raises(
            EndpointError,
            match=r"answered 404: No valid deployments to route to.*deployment named 'gren'",
        ):
            _score(endpoint)


def test_a_container_refusal_shows_the_containers_status_and_message() -> None:
    body = json.dumps({"error": "'data' has 3 features per row", "expected": "2"}).encode()
    with managed_endpoint({"blue": lambda _: _refused(422, body)}, traffic="blue") as edge:
        endpoint = client.Endpoint(edge.url, key="primary-key", retries=3)
        with pytest.raises(
            EndpointError,
            match=r"answered 424 \(the deployment's container answered 422\): "
            r"'data' has 3 features per row \(expected: 2\)",
        ):
            _score(endpoint)


def test_model_info_is_none_where_the_endpoint_has_no_ready_route() -> None:
    with managed_endpoint({"blue": BLUE}, traffic="blue") as edge:
        endpoint = client.Endpoint(edge.url, key="primary-key", retries=0)
        assert client.model_info(client.http_session(endpoint), endpoint) is None

"""The HTTP rules both scoring servers share: which request gets which status, and the JSON."""

from __future__ import annotations

import json
import math

import pytest

from tracking_demo.errors import ConfigError
from tracking_demo.serving import http_contract
from tracking_demo.serving.payload import RequestError

LIMIT = 1000


def status_of(**request: object) -> int | None:
    """The status `check_request` refuses with, or None when it lets the request through."""
    defaults: dict[str, object] = {
        "method": "POST",
        "content_type": "application/json",
        "content_length": "10",
        "probabilities": [],
        "limit": LIMIT,
    }
    try:
        http_contract.check_request(**{**defaults, **request})  # type: ignore[arg-type]
    except RequestError as error:
        return error.status
    return None


@pytest.mark.parametrize(
    ("request_fields", "status"),
    [
        ({}, None),
        ({"content_type": "application/json; charset=utf-8"}, None),
        ({"content_type": "Application/JSON"}, None),
        ({"method": "post"}, None),
        ({"method": "GET"}, 405),
        ({"method": "PUT"}, 405),
        ({"method": "OPTIONS"}, 405),
        ({"content_type": "text/plain"}, 415),
        ({"content_type": None}, 415),
        ({"content_type": ""}, 415),
        ({"content_type": "application/jsonp"}, 415),
        ({"content_length": str(LIMIT)}, None),
        ({"content_length": str(LIMIT + 1)}, 413),
        ({"content_length": LIMIT + 1}, 413),
        ({"content_length": None}, None),
        ({"content_length": "nonsense"}, None),
        ({"probabilities": ["true"]}, None),
        ({"probabilities": ["maybe"]}, 422),
        ({"probabilities": [""]}, 422),
        ({"probabilities": ["true", "false"]}, 422),
        # the order both servers answer in: method, content type, size, query
        ({"method": "GET", "content_type": "text/plain"}, 405),
        ({"content_type": "text/plain", "content_length": str(LIMIT + 1)}, 415),
        ({"content_length": str(LIMIT + 1), "probabilities": ["maybe"]}, 413),
    ],
)
def test_each_request_gets_its_status(request_fields: dict[str, object], status: int) -> None:
    assert status_of(**request_fields) == status


@pytest.mark.parametrize(
    ("values", "flag"),
    [([], None), (["true"], True), (["TRUE"], True), (["1"], True), (["yes"], True),
     (["false"], False), (["0"], False), (["No"], False)],
)  # fmt: skip
def test_probabilities_flag_words(values: list[str], flag: bool | None) -> None:
    assert http_contract.probabilities_flag(values) is flag


def test_errors_say_what_was_expected() -> None:
    with pytest.raises(RequestError) as refused:
        http_contract.check_content_type("text/csv")
    assert refused.value.body() == {
        "error": "the content type is 'text/csv'",
        "status": 415,
        "expected": "Content-Type: application/json",
    }
    with pytest.raises(RequestError) as too_big:
        http_contract.check_size(LIMIT + 1, LIMIT)
    assert too_big.value.body()["expected"] == f"at most {LIMIT} bytes"
    with pytest.raises(RequestError) as wrong_flag:
        http_contract.probabilities_flag(["maybe"])
    assert wrong_flag.value.body() == {
        "error": "?probabilities=maybe",
        "status": 422,
        "expected": "?probabilities=true or false",
    }
    with pytest.raises(RequestError) as wrong_method:
        http_contract.check_method("GET")
    assert wrong_method.value.status == 405
    assert http_contract.allow_header() == {"Allow": "POST"}


def test_body_limit_from_the_environment_defaults_to_serves() -> None:
    assert http_contract.max_body_from_environment({}) == 10 * 1024 * 1024
    assert http_contract.max_body_from_environment({"TRACKING_DEMO_MAX_BODY_MB": "0.5"}) == 524288


@pytest.mark.parametrize("text", ["lots", "0", "-1", "nan", "0.0001"])
def test_a_bad_body_limit_is_one_line(text: str) -> None:
    with pytest.raises(ConfigError, match="TRACKING_DEMO_MAX_BODY_MB=.*at least 0.001"):
        http_contract.max_body_from_environment({"TRACKING_DEMO_MAX_BODY_MB": text})


def test_answers_are_strict_compact_json() -> None:
    assert http_contract.encode_answer({"predictions": [1, 0]}) == (200, b'{"predictions":[1,0]}')
    assert http_contract.encode_answer(["é"]) == (200, '["é"]'.encode())
    for unencodable in ([math.nan], [math.inf], {"x": object()}):
        status, body = http_contract.encode_answer(unencodable)
        assert status == 500
        assert "JSON cannot carry" in json.loads(body)["error"]


def test_internal_error_hides_the_cause() -> None:
    body = http_contract.internal_error().body()
    assert body == {
        "error": "internal error while scoring; the endpoint's log has the details",
        "status": 500,
    }

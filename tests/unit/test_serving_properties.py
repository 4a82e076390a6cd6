"""Whatever the body, `score.run` answers JSON or raises a 4xx `RequestError`: nothing else
escapes it (Azure's inference server would answer 500), for each kind of model the tasks log."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.support.bodies import dumps, hostile_texts, json_bodies, mutated, valid_bodies
from tests.support.served_models import KINDS, ServedModels, served_models

from tracking_demo.serving import score
from tracking_demo.serving.payload import RequestError

pytestmark = pytest.mark.slow
EXAMPLES = settings(
    max_examples=40,
    deadline=None,
    database=None,  # nothing written into the working tree; a failure prints its example
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
FLAGS = st.sampled_from([None, True, False])


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> ServedModels:
    return served_models(tmp_path_factory)


@pytest.fixture(scope="module", params=KINDS)
def kind(request: pytest.FixtureRequest, models: ServedModels) -> Iterator[str]:
    """Tests run grouped by model, so each is loaded once."""
    score.init(str(models.path(request.param)))
    yield request.param


def answers_or_refuses(raw: str | bytes, probabilities: bool | None) -> Any:
    """The property: a JSON-encodable answer, or a RequestError with a 4xx status and a JSON
    body; any other exception fails the test with its traceback."""
    try:
        answer = score.run(raw, probabilities)
    except RequestError as error:
        assert 400 <= error.status < 500, error.body()
        json.dumps(error.body(), ensure_ascii=False, allow_nan=False).encode("utf-8")
        return error
    json.dumps(answer, ensure_ascii=False, allow_nan=False).encode("utf-8")
    return answer


@EXAMPLES
@given(body=json_bodies, probabilities=FLAGS)
def test_any_json_value(kind: str, body: Any, probabilities: bool | None) -> None:
    answers_or_refuses(dumps(body), probabilities)


@EXAMPLES
@given(
    raw=st.one_of(st.binary(max_size=200), st.text(max_size=200), hostile_texts),
    probabilities=FLAGS,
)
def test_any_bytes_or_text(kind: str, raw: bytes | str, probabilities: bool | None) -> None:
    answers_or_refuses(raw, probabilities)


@pytest.fixture(scope="module")
def bodies(models: ServedModels, kind: str) -> list[dict[str, Any]]:
    """The valid bodies the mutations start from; each answers predictions as it is."""
    valid = valid_bodies(models.rows[kind])
    for body in valid:
        assert not isinstance(answers_or_refuses(dumps(body), None), RequestError), body
    return valid


@settings(EXAMPLES, max_examples=80)
@given(data=st.data(), probabilities=FLAGS)
def test_mutated_valid_requests(
    kind: str, bodies: list[dict[str, Any]], data: st.DataObject, probabilities: bool | None
) -> None:
    answers_or_refuses(data.draw(mutated(bodies)), probabilities)

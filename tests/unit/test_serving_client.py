"""The client's retry policy: it waits out a warming endpoint (503 + Retry-After) but never
retries a refusal (4xx), and reports what the endpoint said in one line."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest

from tracking_demo.errors import EndpointError
from tracking_demo.serving import client


class _Scripted(BaseHTTPRequestHandler):
    """Answers the statuses in `script` in order, then 200 with a bare list."""

    script: ClassVar[list[int]] = []
    seen: ClassVar[list[str]] = []

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        type(self).seen.append(self.headers.get("Authorization", ""))
        status = type(self).script.pop(0) if type(self).script else 200
        body = [1] if status == 200 else {"error": f"status {status}", "expected": "patience"}
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        if status == 503:
            self.send_header("Retry-After", "0")
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def scripted() -> Iterator[tuple[str, type[_Scripted]]]:
    handler = type("Handler", (_Scripted,), {"script": [], "seen": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/score", handler
    server.shutdown()


def test_warming_endpoint_is_retried_until_it_answers(scripted) -> None:  # type: ignore[no-untyped-def]
    url, handler = scripted
    handler.script = [503, 503, 502]
    endpoint = client.Endpoint(url, key="k", retries=4, backoff_s=0.01)
    answer = client.post(client.http_session(endpoint), endpoint, {"data": [1]})
    assert answer == [1]
    assert handler.seen == ["Bearer k"] * 4


def test_retries_are_bounded(scripted) -> None:  # type: ignore[no-untyped-def]
    url, handler = scripted
    handler.script = [503] * 10
    endpoint = client.Endpoint(url, retries=2, backoff_s=0.01)
    with pytest.raises(EndpointError, match="answered 503: status 503"):
        client.post(client.http_session(endpoint), endpoint, {"data": [1]})
    assert len(handler.seen) == 3


def test_a_refusal_is_not_retried_and_says_what_was_expected(scripted) -> None:  # type: ignore[no-untyped-def]
    url, handler = scripted
    handler.script = [422]
    endpoint = client.Endpoint(url, retries=5, backoff_s=0.01)
    with pytest.raises(EndpointError, match=r"answered 422: status 422 \(expected: patience\)"):
        client.post(client.http_session(endpoint), endpoint, {"data": [1]})
    assert len(handler.seen) == 1


def test_nothing_listening_is_one_clear_error() -> None:
    from tracking_demo.server.processes import find_free_port

    url = f"http://127.0.0.1:{find_free_port()}/score"
    endpoint = client.Endpoint(url, retries=1, backoff_s=0.01)
    with pytest.raises(EndpointError, match="cannot reach .* after 1 retries"):
        client.post(client.http_session(endpoint), endpoint, {"data": [1]})


def test_predictions_of_reads_both_protocols() -> None:
    assert client.predictions_of([1, 0]) == [1, 0]
    assert client.predictions_of({"predictions": [2.5]}) == [2.5]
    with pytest.raises(EndpointError, match="expected a list of predictions"):
        client.predictions_of({"result": 1})

"""A local stand-in for an Azure ML managed online endpoint, as a client meets it at its edge.

What it keeps from Azure: the key (primary or secondary) as `Authorization: Bearer KEY`, else
401; `azureml-model-deployment: NAME` routes to that deployment whatever the traffic split,
and an unknown NAME is a 404 with Azure's JSON message; without the header, the deployment
holding the traffic answers; a container's non-200 reaches the client as 424 with the
container's status in `ms-azureml-model-error-statuscode`. Each deployment is a callable from
the request body to (status, body): canned answers, or a proxy to a real `tracking-demo serve`.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import requests

from tracking_demo.server.processes import LOOPBACK

Deployment = Callable[[bytes], tuple[int, bytes]]
NO_ROUTE = (
    "No valid deployments to route to. Please check that the endpoint has at least one "
    "deployment with positive weight values or use a deployment specific header to route."
)


@dataclass
class StandIn:
    url: str
    keys: tuple[str, ...]
    routed: list[str] = field(default_factory=list)


def proxy_to(scoring_uri: str, key: str | None = None) -> Deployment:
    """A deployment whose container is a real endpoint (e.g. `tracking-demo serve`)."""

    def score(body: bytes) -> tuple[int, bytes]:
        headers = {"Content-Type": "application/json"}
        if key:
            headers["Authorization"] = f"Bearer {key}"
        response = requests.post(scoring_uri, data=body, headers=headers, timeout=60)
        return response.status_code, response.content

    return score


def answering(predictions: Callable[[int], list[object]]) -> Deployment:
    """A deployment that answers `{"data": rows}` with `predictions(len(rows))`."""

    def score(body: bytes) -> tuple[int, bytes]:
        rows = json.loads(body)["data"]
        return 200, json.dumps(predictions(len(rows))).encode()

    return score


def _handler(
    stand_in: StandIn, deployments: Mapping[str, Deployment], traffic: str
) -> type[BaseHTTPRequestHandler]:
    class Edge(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            if self.path.split("?", 1)[0] != "/score":
                self._answer(404, {"message": f"{self.path} is not a scoring route"})
                return
            if not self._authorized():
                self._answer(401, {"message": "Please provide a valid key or token"})
                return
            name = self.headers.get("azureml-model-deployment") or traffic
            deployment = deployments.get(name)
            if deployment is None:
                self._answer(404, {"message": NO_ROUTE})
                return
            stand_in.routed.append(name)
            status, answer = deployment(body)
            if status == 200:
                self._send(200, answer, {})
            else:
                reason = answer[:200].decode(errors="replace")
                extra = {
                    "ms-azureml-model-error-statuscode": str(status),
                    "ms-azureml-model-error-reason": reason.replace("\n", " "),
                }
                self._send(424, answer, extra)

        def do_GET(self) -> None:
            if not self._authorized():
                self._answer(401, {"message": "Please provide a valid key or token"})
            else:
                self._answer(404, {"message": f"{self.path} is not a route of this endpoint"})

        def _authorized(self) -> bool:
            scheme, _, token = self.headers.get("Authorization", "").partition(" ")
            return scheme == "Bearer" and token in stand_in.keys

        def _answer(self, status: int, body: dict[str, str]) -> None:
            self._send(status, json.dumps(body).encode(), {})

        def _send(self, status: int, body: bytes, headers: Mapping[str, str]) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    return Edge


@contextmanager
def managed_endpoint(
    deployments: Mapping[str, Deployment],
    traffic: str,
    keys: tuple[str, ...] = ("primary-key", "secondary-key"),
) -> Iterator[StandIn]:
    """The stand-in on a free loopback port until the block ends; `traffic` holds 100%."""
    stand_in = StandIn("", keys)
    server = ThreadingHTTPServer((LOOPBACK, 0), _handler(stand_in, deployments, traffic))
    stand_in.url = f"http://{LOOPBACK}:{server.server_port}/score"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield stand_in
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)

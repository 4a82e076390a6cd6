"""The local scoring endpoint: an ASGI app around `score.init()` / `score.run()`.

`POST /score` needs `Authorization: Bearer KEY` (unless auth is off), a JSON body under the size
limit, and answers what `score.run` answers; `GET /health` says the process is alive and
`GET /ready` whether the model is loaded. Every answer is JSON, errors included, and each request
is logged as one JSON line (never the key).
"""

from __future__ import annotations

import contextlib
import hmac
import json
import logging
import threading
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tracking_demo.serving import http_contract, score
from tracking_demo.serving.payload import RequestError

log = logging.getLogger(__name__)
access_log = logging.getLogger("tracking_demo.serving.access")

DEFAULT_MAX_BODY_BYTES = http_contract.max_body_bytes(http_contract.DEFAULT_MAX_BODY_MB)
# Every method reaches /score's handler, so a wrong one gets the contract's 405 (as the entry
# script answers it under Azure's server), not Starlette's.
SCORE_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


@dataclass
class EndpointSettings:
    """`key=None` turns authentication off (the CLI asks for `--no-auth` explicitly)."""

    model_source: str | None
    key: str | None
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    run_id: str | None = None


@dataclass
class ModelState:
    """Where loading stands; the loader thread writes it, requests read it."""

    status: str = "loading"
    error: str | None = None
    description: dict[str, Any] = field(default_factory=dict)
    ready_event: threading.Event = field(default_factory=threading.Event)


def _error(status: int, message: str, expected: str | None = None, **headers: str) -> Response:
    return JSONResponse(RequestError(status, message, expected).body(), status, headers=headers)


def _authorized(request: Request, key: str) -> Response | None:
    header = request.headers.get("authorization", "")
    scheme, _, given = header.partition(" ")
    if scheme.lower() != "bearer" or not given:
        return _error(
            401,
            "missing key",
            "an 'Authorization: Bearer KEY' header",
            **{"WWW-Authenticate": "Bearer"},
        )
    if not hmac.compare_digest(given.strip().encode(), key.encode()):
        return _error(
            401,
            "wrong key",
            "the key the endpoint printed at start",
            **{"WWW-Authenticate": 'Bearer error="invalid_token"'},
        )
    return None


async def _read_body(request: Request, limit: int) -> bytes:
    """The body, or 413 as soon as it passes `limit` (a chunked body declares no length)."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        http_contract.check_size(size, limit)
        chunks.append(chunk)
    return b"".join(chunks)


def _json(status: int, body: bytes, **headers: str) -> Response:
    return Response(body, status, headers=headers, media_type=http_contract.JSON_MEDIA_TYPE)


def create_app(
    settings: EndpointSettings,
    on_ready: Callable[[ModelState], None] | None = None,
    on_failure: Callable[[ModelState], None] | None = None,
) -> Starlette:
    """The app loads the model in a thread at startup, so `/health` answers while it loads."""
    state = ModelState()

    def load() -> None:
        try:
            score.init(settings.model_source)
            state.description = score.loaded().describe()
            if settings.run_id and not state.description.get("run_id"):
                state.description["run_id"] = settings.run_id
            state.status = "ready"
            if on_ready:
                on_ready(state)
        except Exception as error:
            log.error("cannot load the model: %s", error, exc_info=log.isEnabledFor(logging.DEBUG))
            state.status, state.error = "failed", str(error)
            if on_failure:
                on_failure(state)
        finally:
            state.ready_event.set()

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        threading.Thread(target=load, name="model-loader", daemon=True).start()
        yield

    async def health(_: Request) -> Response:
        return JSONResponse({"status": "alive"})

    async def ready(_: Request) -> Response:
        body: dict[str, Any] = {"status": state.status}
        if state.status == "ready":
            body["model"] = state.description
            return JSONResponse(body)
        if state.error:
            body["error"] = state.error
        return JSONResponse(body, 503, headers={"Retry-After": "1"})

    async def score_route(request: Request) -> Response:
        """The checks and answers `http_contract` gives both servers, plus the key."""
        try:
            http_contract.check_method(request.method)
        except RequestError as error:
            return _json(
                error.status, http_contract.encode_error(error), **http_contract.allow_header()
            )
        if settings.key is not None and (refused := _authorized(request, settings.key)):
            return refused
        try:
            flag = http_contract.check_request(
                request.method,
                request.headers.get("content-type"),
                request.headers.get("content-length"),
                request.query_params.getlist(http_contract.PROBABILITIES_PARAMETER),
                settings.max_body_bytes,
            )
            body = await _read_body(request, settings.max_body_bytes)
        except RequestError as error:
            return _json(error.status, http_contract.encode_error(error))
        if state.status != "ready":
            return _error(
                503,
                f"the model is {state.status}",
                "a retry once /ready answers 200",
                **{"Retry-After": "1"},
            )
        try:
            result = await run_in_threadpool(score.run, body, flag)
        except RequestError as error:
            return _json(error.status, http_contract.encode_error(error))
        return _json(*http_contract.encode_answer(result))

    async def http_error(_: Request, error: Exception) -> Response:
        assert isinstance(error, HTTPException)
        return _error(error.status_code, str(error.detail), _route_hint(error))

    async def internal_error(_: Request, error: Exception) -> Response:
        log.error("scoring failed: %r", error, exc_info=True)
        failure = http_contract.internal_error()
        return _json(failure.status, http_contract.encode_error(failure))

    app = Starlette(
        routes=[
            Route("/health", health, methods=["GET"]),
            Route("/ready", ready, methods=["GET"]),
            Route("/score", score_route, methods=SCORE_METHODS),
        ],
        exception_handlers={HTTPException: http_error, Exception: internal_error},
        lifespan=lifespan,
    )
    app.state.model = state
    return app


def _route_hint(error: HTTPException) -> str | None:
    if error.status_code == 404:
        return "POST /score, GET /health or GET /ready"
    if error.status_code == 405:
        return "POST for /score, GET for /health and /ready"
    return None


class AccessLog:
    """ASGI middleware: one JSON line per request (method, path, status, latency, size)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = {"code": 500}
        received = {"bytes": 0}

        async def counting_receive() -> Message:
            message = await receive()
            received["bytes"] += len(message.get("body", b""))
            return message

        async def capturing_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        try:
            await self.app(scope, counting_receive, capturing_send)
        except ClientDisconnect:
            status["code"] = 499
        finally:
            if access_log.isEnabledFor(logging.INFO):
                client = scope.get("client") or ("", 0)
                access_log.info(
                    "%s",
                    json.dumps(
                        {
                            "time": datetime.now(UTC).isoformat(timespec="milliseconds"),
                            "method": scope["method"],
                            "path": scope["path"],
                            "query": scope.get("query_string", b"").decode("latin-1"),
                            "status": status["code"],
                            "latency_ms": round((time.perf_counter() - started) * 1000, 3),
                            "bytes_in": received["bytes"],
                            "client": client[0],
                        }
                    ),
                )

"""An MLflow server app that answers like Azure ML's tracking service where it differs.

Azure ML's MLflow-compatible server does not implement MLflow 3's logged-models API
(`/api/2.0/mlflow/logged-models...` answers 404), so `mlflow.<flavor>.log_model` fails there.
Running the local server with this app (`tracking-demo server start --azure-surface`) makes
the same gap visible in local runs and tests, so portable model logging cannot regress unseen.
Served by `tracking-demo server start --azure-surface`; also the `azure-surface` entry point of
`mlflow.app`, for `mlflow server --app-name azure-surface`.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from tracking_demo.server.app import serving_app

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]

REFUSED_SEGMENT = "/mlflow/logged-models"


def is_refused(path: str) -> bool:
    """True for every logged-models route, REST (`/api/`) or UI (`/ajax-api/`), any version."""
    return REFUSED_SEGMENT in path and ("/api/" in path or "/ajax-api/" in path)


class AzureSurfaceApp:
    """ASGI wrapper: 404 for the endpoints Azure ML lacks, the real MLflow server otherwise."""

    def __init__(self, inner: Callable[[Scope, Receive, Send], Awaitable[None]]) -> None:
        self.inner = inner

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and is_refused(scope.get("path", "")):
            body = json.dumps(
                {
                    "error_code": "ENDPOINT_NOT_FOUND",
                    "message": "logged-models endpoints are not available (Azure ML surface)",
                }
            ).encode()
            await send(
                {
                    "type": "http.response.start",
                    "status": 404,
                    "headers": [(b"content-type", b"application/json")],
                }
            )
            await send({"type": "http.response.body", "body": body})
            return
        await self.inner(scope, receive, send)


def __getattr__(name: str) -> Any:
    """`app` for uvicorn, built on first access so that importing the module has no effect."""
    if name == "app":
        return _surface_app()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


@functools.cache
def _surface_app() -> AzureSurfaceApp:
    return AzureSurfaceApp(serving_app())

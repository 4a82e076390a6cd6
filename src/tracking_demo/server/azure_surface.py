"""An MLflow server app that answers like Azure ML's tracking service where it differs.

Azure ML's MLflow-compatible server does not implement MLflow 3's logged-models API
(`/api/2.0/mlflow/logged-models...` answers 404), so `mlflow.<flavor>.log_model` fails there.
Its registry documents stages, tags and descriptions but not aliases, so the alias routes
(`registered-models/alias`: set, delete, and get-version-by-alias) are refused the same way
until Azure is shown to answer them. Running the local server with this app
(`tracking-demo server start --azure-surface`) makes both gaps visible in local runs and tests,
so portable model logging and promotion cannot regress unseen.
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
ALIAS_ROUTE = "/mlflow/registered-models/alias"


def refused_feature(path: str) -> str | None:
    """What Azure ML lacks behind `path` (REST `/api/` or UI `/ajax-api/`, any version), if it
    is one of those routes: every logged-models route, and the alias route whatever its method
    (GET is `get_model_version_by_alias`, POST sets, DELETE removes)."""
    if "/api/" not in path and "/ajax-api/" not in path:
        return None
    if REFUSED_SEGMENT in path:
        return "logged-models endpoints are"
    if path.rstrip("/").endswith(ALIAS_ROUTE):
        return "registered model aliases are"
    return None


def is_refused(path: str) -> bool:
    return refused_feature(path) is not None


class AzureSurfaceApp:
    """ASGI wrapper: 404 for the endpoints Azure ML lacks, the real MLflow server otherwise."""

    def __init__(self, inner: Callable[[Scope, Receive, Send], Awaitable[None]]) -> None:
        self.inner = inner

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        feature = refused_feature(scope.get("path", "")) if scope["type"] == "http" else None
        if feature is not None:
            body = json.dumps(
                {
                    "error_code": "ENDPOINT_NOT_FOUND",
                    "message": f"{feature} not available (Azure ML surface)",
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

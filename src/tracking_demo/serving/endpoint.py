"""Run the scoring app on uvicorn in this process, stopping it if the model cannot be loaded."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable

import uvicorn

from tracking_demo.errors import ConfigError
from tracking_demo.serving.app import AccessLog, EndpointSettings, ModelState, create_app


def configure_access_log() -> None:
    """Request lines go to stderr as JSON, whatever the CLI's log level."""
    access = logging.getLogger("tracking_demo.serving.access")
    if not access.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(message)s"))
        access.addHandler(handler)
    access.setLevel(logging.INFO)
    access.propagate = False


def run_endpoint(
    settings: EndpointSettings,
    host: str,
    port: int,
    on_ready: Callable[[ModelState], None] | None = None,
) -> None:
    """Serve until SIGINT/SIGTERM; a model that fails to load stops the server with its error."""
    configure_access_log()
    holder: dict[str, uvicorn.Server] = {}

    def failed(_: ModelState) -> None:
        holder["server"].should_exit = True

    app = create_app(settings, on_ready=on_ready, on_failure=failed)
    config = uvicorn.Config(
        AccessLog(app),
        host=host,
        port=port,
        log_level="warning",
        access_log=False,
        server_header=False,
        timeout_graceful_shutdown=5,
        lifespan="on",
    )
    server = uvicorn.Server(config)
    holder["server"] = server
    server.run()
    state: ModelState = app.state.model
    if state.status == "failed":
        raise ConfigError(f"cannot serve {settings.model_source or 'the model'}: {state.error}")
    if not server.started:
        raise ConfigError(f"the endpoint could not listen on {host}:{port} (see the log above)")


def ready_line(state: ModelState) -> str:
    return json.dumps({"event": "ready", "model": state.description})

"""`tracking-demo serve`, `predict` and `models promote`: option parsing and wiring only."""

from __future__ import annotations

import secrets
from pathlib import Path

import click

from tracking_demo.cli_common import session_from_options, tracking_options

KEY_VARIABLE = "TRACKING_DEMO_SERVING_KEY"
DEFAULT_PORT = 8000


def resolve_model(
    model: str | None,
    tracking_uri: str | None,
    workspace_config: Path | None,
    experiment: str | None,
) -> tuple[str, str | None]:
    """A local folder passes as it is; a registry ref or URI is checked before serving."""
    from tracking_demo import registry
    from tracking_demo.serving import score

    if model is None:
        return score.model_source(None), None
    if Path(model).exists():
        return model, None
    uri = registry.model_uri_from_ref(model)
    session = session_from_options(tracking_uri, workspace_config, experiment)
    return uri, registry.run_id_of(session.client, uri)


@click.command()
@click.argument("model", required=False)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=click.IntRange(1, 65535), default=DEFAULT_PORT, show_default=True)
@click.option(
    "--key",
    envvar=KEY_VARIABLE,
    help=f"Key clients send as 'Authorization: Bearer KEY' [default: ${KEY_VARIABLE}, "
    "else a new random key, printed once].",
)
@click.option("--no-auth", is_flag=True, help="Serve without a key (loopback experiments only).")
@click.option(
    "--max-body-mb",
    type=click.FloatRange(min=0.001),
    default=10.0,
    show_default=True,
    help="Larger request bodies get 413.",
)
@tracking_options
def serve(
    model: str | None,
    host: str,
    port: int,
    key: str | None,
    no_auth: bool,
    max_body_mb: float,
    tracking_uri: str | None,
    workspace_config: Path | None,
    experiment: str | None,
) -> None:
    """Serve MODEL over HTTP with the Azure ML scoring script (serving/score.py).

    MODEL is NAME:VERSION, NAME@ALIAS (e.g. NAME@champion), a models:/ or runs:/ URI, or a local
    MLflow model folder; without it, $AZUREML_MODEL_DIR (as Azure ML sets it) or
    $TRACKING_DEMO_MODEL_URI. POST /score, GET /health, GET /ready.
    """
    from tracking_demo.serving.app import EndpointSettings
    from tracking_demo.serving.endpoint import ready_line, run_endpoint

    if key and no_auth:
        raise click.UsageError("give --key or --no-auth, not both")
    source, run_id = resolve_model(model, tracking_uri, workspace_config, experiment)
    generated = not no_auth and not key
    if generated:
        key = secrets.token_urlsafe(24)
    settings = EndpointSettings(
        model_source=source,
        key=None if no_auth else key,
        max_body_bytes=int(max_body_mb * 1024 * 1024),
        run_id=run_id,
    )
    click.echo(f"Scoring URI: http://{host}:{port}/score   (model {source})")
    if no_auth:
        click.echo("Authentication: off (--no-auth)")
    elif generated:
        click.echo(f"Key: {key}   (send 'Authorization: Bearer KEY'; set ${KEY_VARIABLE} to reuse)")
    else:
        click.echo("Key: as given (--key or $" + KEY_VARIABLE + ")")
    run_endpoint(settings, host, port, on_ready=lambda state: click.echo(ready_line(state)))

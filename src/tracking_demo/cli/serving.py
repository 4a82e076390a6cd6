"""`tracking-demo serve` and `predict`: a model behind an HTTP endpoint, and its client."""

from __future__ import annotations

import secrets
from pathlib import Path

import click

from tracking_demo.cli.options import TrackingOptions, session_from_options, tracking_options
from tracking_demo.errors import TrackingDemoError, mlflow_error_message

KEY_VARIABLE = "TRACKING_DEMO_SERVING_KEY"
DEFAULT_PORT = 8000


def resolve_model(model: str | None, tracking: TrackingOptions) -> tuple[str, str | None]:
    """A local folder passes as it is; a registry ref or URI is checked before serving, and an
    alias is pinned to the version it names now (and the output says whether the registry
    held it as an alias or, where it has none, as a version tag)."""
    from tracking_demo import registry
    from tracking_demo.serving import score

    if model is None:
        return score.model_source(None), None
    if Path(model).exists():
        return model, None
    uri = registry.model_uri_from_ref(model)
    client = session_from_options(tracking).client
    pinned = registry.pinned_uri(client, uri)
    named = registry.parse_version_uri(uri)
    if named is not None and named.alias:
        click.echo(f"{model} is {pinned} ({registry.held_by(client, named.alias)})")
    return pinned, registry.run_id_of(client, pinned)


def key_from_options(key: str | None, key_file: Path | None) -> str | None:
    """The key from --key (or its variable) or --key-file; both at once is ambiguous."""
    from tracking_demo.cli.secret_files import read_secret_file

    if key_file is None:
        return key
    if key:
        raise click.UsageError(
            f"give --key-file or --key (or ${KEY_VARIABLE}), not both: the file is preferred"
        )
    return read_secret_file(key_file, "--key-file")


@click.command()
@click.argument("model", required=False)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=click.IntRange(1, 65535), default=DEFAULT_PORT, show_default=True)
@click.option(
    "--key",
    envvar=KEY_VARIABLE,
    help=f"Key clients send as 'Authorization: Bearer KEY' [default: ${KEY_VARIABLE}, "
    "else a new random key, printed once]. Prefer the variable or --key-file: a key on the "
    "command line shows in ps to every user of this machine.",
)
@click.option(
    "--key-file",
    type=click.Path(path_type=Path, dir_okay=False),
    help="File whose one line is the key (kept out of ps, unlike --key).",
)
@click.option("--no-auth", is_flag=True, help="Serve without a key (loopback experiments only).")
@click.option(
    "--max-body-mb",
    type=click.FloatRange(min=0.001),
    default=10.0,
    show_default=True,
    envvar="TRACKING_DEMO_MAX_BODY_MB",
    help="Larger request bodies get 413 ($TRACKING_DEMO_MAX_BODY_MB, as the Azure entry script "
    "reads it).",
)
@tracking_options
def serve(
    model: str | None,
    host: str,
    port: int,
    key: str | None,
    key_file: Path | None,
    no_auth: bool,
    max_body_mb: float,
    tracking: TrackingOptions,
) -> None:
    """Serve MODEL over HTTP with the Azure ML scoring script (serving/score.py).

    MODEL is NAME:VERSION, NAME@ALIAS (e.g. NAME@champion), a models:/ or runs:/ URI, or a local
    MLflow model folder; without it, $AZUREML_MODEL_DIR (as Azure ML sets it) or
    $TRACKING_DEMO_MODEL_URI. POST /score, GET /health, GET /ready.
    """
    from tracking_demo.serving.app import EndpointSettings
    from tracking_demo.serving.endpoint import ready_line, run_endpoint

    key = key_from_options(key, key_file)
    if key and no_auth:
        raise click.UsageError("give --key/--key-file or --no-auth, not both")
    source, run_id = resolve_model(model, tracking)
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
        click.echo(f"Key: as given (${KEY_VARIABLE}, --key-file or --key)")
    run_endpoint(settings, host, port, on_ready=lambda state: click.echo(ready_line(state)))


@click.command()
@click.option(
    "--endpoint",
    required=True,
    help="Scoring URI: http://127.0.0.1:8000/score (serve), an ACI service's, or a managed "
    "endpoint's https://ENDPOINT.REGION.inference.ml.azure.com/score.",
)
@click.option(
    "--key",
    envvar=KEY_VARIABLE,
    help=f"Endpoint key [default: ${KEY_VARIABLE}]. Prefer the variable or --key-file: a key on "
    "the command line shows in ps to every user of this machine.",
)
@click.option(
    "--key-file",
    type=click.Path(path_type=Path, dir_okay=False),
    help="File whose one line is the endpoint key (kept out of ps, unlike --key).",
)
@click.option(
    "--deployment",
    help="Managed endpoint: score on this deployment whatever the traffic split "
    "(header azureml-model-deployment), e.g. the new one of a blue/green rollout.",
)
@click.option(
    "--model-kind",
    type=click.Choice(["mnist", "moons", "housing"]),
    required=True,
    help="Which test data to send.",
)
@click.option(
    "--data",
    "data_dir",
    type=click.Path(path_type=Path),
    help="Test data [default: data/mnist; .tracking/datasets/moons, as quickstart writes; "
    "data/housing].",
)
@click.option(
    "-n",
    "count",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="1: one random example, shown; more: score that many and report the metric.",
)
@click.option("--batch-size", type=click.IntRange(min=1), default=100, show_default=True)
@click.option("--seed", type=int, help="Pick examples reproducibly.")
@click.option(
    "--image-out",
    type=click.Path(path_type=Path, dir_okay=False),
    default=Path("digit.png"),
    show_default=True,
    help="MNIST, one example: where the digit is saved as PNG.",
)
@click.option("--run-id", help="Compare with this run's metric [default: the run /ready names].")
@click.option(
    "--model",
    "model_ref",
    help="Compare with the run behind this registered version (NAME:VERSION, NAME@champion): "
    "Azure's endpoints have no /ready to name it.",
)
@click.option("--retries", type=click.IntRange(min=0), default=5, show_default=True)
@click.option("--timeout", type=float, default=30.0, show_default=True, help="Seconds per request.")
@tracking_options
def predict(
    endpoint: str,
    key: str | None,
    key_file: Path | None,
    deployment: str | None,
    model_kind: str,
    data_dir: Path | None,
    count: int,
    batch_size: int,
    seed: int | None,
    image_out: Path,
    run_id: str | None,
    model_ref: str | None,
    retries: int,
    timeout: float,
    tracking: TrackingOptions,
) -> None:
    """Score test examples on a running endpoint (ours or Azure ML's) and check the answers."""
    import numpy as np

    from tracking_demo import evaluation, registry
    from tracking_demo.serving import client

    key = key_from_options(key, key_file)
    if run_id and model_ref:
        raise click.UsageError("give --run-id or --model, not both")
    if model_ref:
        registry.model_uri_from_ref(model_ref)  # a malformed ref fails before any request
    target = client.Endpoint(
        endpoint, key, timeout_s=timeout, retries=retries, deployment=deployment or None
    )
    data = evaluation.load(model_kind, data_dir)
    session = client.http_session(target)
    rng = np.random.default_rng(seed)
    if count == 1:
        index = int(rng.integers(len(data)))
        predicted = client.score_indices(session, target, data, np.array([index]), 1)[0]
        click.echo(f"test example {index}: label {data.targets[index]}, predicted {predicted}")
        if model_kind == "mnist":
            _save_digit(data.features[index], image_out)
            click.echo(f"saved the digit as {image_out}")
        return
    count = min(count, len(data))
    indices = rng.permutation(len(data))[:count] if count < len(data) else np.arange(count)
    result = client.evaluate(session, target, data, indices, batch_size)
    click.echo(
        f"{result.metric} on {result.count} test examples from {data.source}: {result.value:.4f} "
        f"({result.requests} requests, {result.seconds:.2f}s)"
    )
    try:
        if model_ref:
            run_id = _run_of_model(model_ref, tracking)
        run_id = run_id or (client.model_info(session, target) or {}).get("run_id")
        if not run_id:
            click.echo(
                "no run to compare with: the endpoint does not name one; pass --run-id or --model"
            )
            return
        logged = _run_metric(run_id, data.run_metric, tracking)
    except Exception as error:
        reason = str(error) if isinstance(error, TrackingDemoError) else mlflow_error_message(error)
        if reason is None:
            raise
        click.echo(f"cannot compare with run {run_id or model_ref}: {reason}", err=True)
        return
    if logged is None:
        click.echo(f"run {run_id} has no '{data.run_metric}' metric to compare with")
        return
    click.echo(
        f"run {run_id} logged {data.run_metric}={logged:.4f}; "
        f"difference {result.value - logged:+.4f}"
    )


def _run_of_model(ref: str, tracking: TrackingOptions) -> str | None:
    """The run that logged registered version REF; an alias is resolved as `serve` does."""
    from tracking_demo import registry

    uri = registry.model_uri_from_ref(ref)
    client = session_from_options(tracking).client
    version = registry.resolve_version(client, uri)
    if version is None:  # a runs:/ URI
        return registry.run_id_of(client, uri)
    named = registry.parse_version_uri(uri)
    how = f" ({registry.held_by(client, named.alias)})" if named and named.alias else ""
    click.echo(f"{ref} is {version.name}:{version.version}{how}, logged by run {version.run_id}")
    return version.run_id


def _run_metric(run_id: str, name: str, tracking: TrackingOptions) -> float | None:
    """The run's `name`, or the name it had before `test_*` (runs logged before it)."""
    from tracking_demo import registry

    session = session_from_options(tracking)
    return registry.recorded(session.client.get_run(run_id).data.metrics, name)


def _save_digit(pixels: object, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    from tracking_demo.data.mnist import IMAGE_SIDE

    path.parent.mkdir(parents=True, exist_ok=True)
    digit = np.asarray(pixels).reshape(IMAGE_SIDE, IMAGE_SIDE)
    plt.imsave(path, digit, cmap="gray", vmin=0.0, vmax=1.0)

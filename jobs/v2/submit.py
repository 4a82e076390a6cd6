"""`python -m jobs.submit` on SDK v2: the job spec as a command job, printed as the CLI v2 YAML
`az ml job create --file` accepts (`--dry-run`, `--emit FILE`) or sent through MLClient.

The dry-run inlines the environment anonymously: Azure ML content-hashes an anonymous
environment, so an unchanged lock reuses the image it built, and the YAML needs nothing
registered first. The SDK path registers the same content under the named, lock-hashed version
instead (`tracking-demo-cpu:<hash>`), so the workspace lists which lock a job ran.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import click

from jobs import snapshot
from jobs.common import WorkspaceRef
from jobs.spec import JobRequest, job_model
from jobs.v2 import command_job, dry_run, prepare, render

JOB_WHAT = "the command job"


def dry_run_yaml(
    request: JobRequest,
    ref: WorkspaceRef,
    root: Path,
    environ: Mapping[str, str],
    emit_path: Path | None,
) -> str:
    """The command job `az ml job create --file` accepts, checked offline against the REST body."""
    environment = prepare.build_environment(request, root, environ)
    job = command_job.command_job(request, root, prepare.inline_environment(environment))
    render.check_rest(job, JOB_WHAT)
    header = [
        dry_run.create_line(emit_path, "jobs.submit", "job"),
        *dry_run.job_header(request, ref, root, environment, environ),
    ]
    data = dry_run.job_yaml_data(job, render.emit_base(emit_path))
    return render.to_yaml(data, "command", header)


def submit(
    request: JobRequest,
    ref: WorkspaceRef,
    root: Path,
    wait: bool,
    model_info_out: Path | None,
    environ: Mapping[str, str],
) -> dict[str, Any]:
    """Create the job; with `wait`, stream it and check what it left (the registered model).

    Offline checks first (snapshot limits, lock export, the REST body), then the login.
    """
    from jobs.v2 import client

    snapshot.take_within_limits(root)
    environment = prepare.build_environment(request, root, environ)
    render.check_rest(command_job.command_job(request, root, environment), JOB_WHAT)
    ml_client = client.ml_client(ref, environ)
    ready = prepare.in_workspace(ml_client, request, environment)
    request = ready.request
    job = command_job.command_job(request, root, ready.environment, ready.data_type)
    created = ml_client.jobs.create_or_update(job)
    click.echo(f"submitted {created.name}: {created.studio_url}", err=True)
    result: dict[str, Any] = {"job_id": created.name, "portal_url": created.studio_url}
    if not wait:
        return result
    result["status"] = prepare.wait_for(ml_client, created.name, "job", created.studio_url)
    if request.register_as:
        workspace = ml_client.workspaces.get(ml_client.workspace_name)
        result["model"] = job_model(
            workspace.mlflow_tracking_uri,
            created.name,  # a v2 job's name is its MLflow run id
            request.register_as,
            include_children=request.verb == "sweep",
            model_info_out=model_info_out,
        )
    return result

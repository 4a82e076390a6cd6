"""The model check after a job: `python -m jobs.model_info JOB --register-as NAME --out FILE`.

A pipeline that submits CLI v2 YAML with `az ml job create` has the job's name and nothing
else; this is the check `jobs.submit --wait --register-as` makes itself (`spec.registered_model`):
the job's MLflow run (a job's name is its run id) registered a version of NAME, or the job is a
failure. The JSON written to `--out` is what deploys next (a pipeline artifact).
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from jobs.common import (
    WorkspaceRef,
    command,
    print_spec,
    sdk_option,
    workspace_options,
    workspace_tracking_uri,
)
from jobs.spec import job_model


@command
@click.argument("job_name", metavar="JOB")
@click.option("--register-as", required=True, help="The model name the job registers.")
@click.option(
    "--sweep",
    is_flag=True,
    help="JOB is a sweep: the version may come from one of its trials (child runs).",
)
@click.option(
    "--out",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Write {name, version, run_id, job_id} as JSON here.",
)
@click.option(
    "--tracking-uri",
    help="This MLflow server instead of the workspace's (a local server, for checks).",
)
@sdk_option
@workspace_options
def main(
    job_name: str,
    register_as: str,
    sweep: bool,
    out: Path | None,
    tracking_uri: str | None,
    sdk: str,
    ref: WorkspaceRef,
    debug: bool,
) -> None:
    """Check that JOB registered a version of the model; print it (and write it to --out).

    \b
        python -m jobs.model_info "$job" --register-as moons-rf --out model/model.json
    """
    uri = tracking_uri or workspace_tracking_uri(sdk, ref)
    print_spec(job_model(uri, job_name, register_as, include_children=sweep, model_info_out=out))


if __name__ == "__main__":
    main(prog_name="python -m jobs.model_info", args=sys.argv[1:])

"""The job spec as a v2 command job: the same command, variables and data as v1 and `--local`.

`${{inputs.data}}` stands where the data lands on the node; the data input is the registered
asset (`azureml:NAME:VERSION`, or `@latest`), declared with the asset's own type: a `uri_folder`
or `uri_file` is downloaded or mounted read-only as it is; an `mltable` is evaluated
(`eval_download` / `eval_mount`), so the files its MLTable lists land in the input folder.
A dry-run cannot look the asset up and declares `uri_folder`, the type of a registered folder.
"""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

from jobs.spec import DATA_INPUT, JobRequest, job_command, job_variables

DATA_PLACEHOLDER = "${{inputs." + DATA_INPUT + "}}"
URI_FOLDER = "uri_folder"
# Data mode names per asset type: the v1 options (`--data-mode`) as v2 calls them.
INPUT_MODES = {
    URI_FOLDER: {"download": "download", "mount": "ro_mount"},
    "uri_file": {"download": "download", "mount": "ro_mount"},
    "mltable": {"download": "eval_download", "mount": "eval_mount"},
}
SHM_SIZE = "2g"


def command_line(request: JobRequest) -> str:
    """The job's command as one shell line, with the data placeholder left for Azure ML."""
    data = DATA_PLACEHOLDER if request.dataset else "."
    parts = [str(part) for part in job_command(request, data)]
    return " ".join(part if part == DATA_PLACEHOLDER else shlex.quote(part) for part in parts)


def data_asset_reference(name: str, version: str) -> str:
    """`azureml:NAME:VERSION`, or `azureml:NAME@latest` for the newest version."""
    return f"azureml:{name}@latest" if version == "latest" else f"azureml:{name}:{version}"


def data_inputs(request: JobRequest, data_type: str = URI_FOLDER) -> dict[str, Any]:
    """The `data` input, of the asset's type (`data_type`, as `ml_client.data.get` reads it)."""
    from azure.ai.ml import Input

    if not request.dataset:
        return {}
    return {
        DATA_INPUT: Input(
            type=data_type,
            path=data_asset_reference(request.dataset, request.dataset_version),
            mode=INPUT_MODES[data_type][request.data_mode],
        )
    }


def job_tags(request: JobRequest) -> dict[str, str]:
    tags = {"task": request.task, "command": request.verb}
    if request.register_as:
        tags["register_as"] = request.register_as
    return tags


def command_node(
    request: JobRequest, code: Path, environment: Any, data_type: str = URI_FOLDER
) -> Any:
    """The `command(...)` node: what `ml_client.jobs.create_or_update` takes."""
    from azure.ai.ml import command

    return command(
        code=str(code),
        command=command_line(request),
        inputs=data_inputs(request, data_type),
        environment=environment,
        environment_variables=job_variables(request),
        compute=request.compute,
        experiment_name=request.experiment,
        display_name=f"{request.task}-{request.verb}",
        tags=job_tags(request),
        shm_size=SHM_SIZE,
    )


def command_job(
    request: JobRequest, code: Path, environment: Any, data_type: str = URI_FOLDER
) -> Any:
    """The `CommandJob` entity, which dumps as the YAML `az ml job create` accepts."""
    return command_node(request, code, environment, data_type)._to_job()

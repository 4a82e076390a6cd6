"""The job spec, without any Azure SDK: what a job runs, with which variables, and what it must
leave behind. The v1 renderer (azureml-core), the v2 renderer (azure-ai-ml, CLI v2 YAML) and
`--local` all read it, so the three cannot drift apart.

The contract (docs/architecture.md, rule 6) is one command:
`tracking-demo train TASK --data DIR [options]`, or `tracking-demo sweep TASK ...` as one job;
a HyperDrive or v2 sweep runs the train command per trial with the sampled options appended.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from jobs import environments
from tracking_demo.errors import ConfigError, TrackingDemoError
from tracking_demo.tasks import catalog

if TYPE_CHECKING:  # the sweep modules import NumPy: only a sweep pays for them
    from tracking_demo.sweep.space import SweepSpec

MLP_TASK = catalog.HOUSING_MLP.name

DATA_INPUT = "data"
DATA_MODES = ("download", "mount")
# The `tracking-demo` commands a job can run: one training run, or a whole local sweep.
VERBS = ("train", "sweep")
# Options the submitter sets itself; a task option of the same name would contradict it.
RESERVED_TASK_OPTIONS = (
    "--data",
    "--register-as",
    "--tracking-uri",
    "--workspace-config",
    "--experiment",
)
JOB_VARIABLES = {
    "MPLBACKEND": "Agg",
    "TF_CPP_MIN_LOG_LEVEL": "2",
    "GIT_PYTHON_REFRESH": "quiet",
}


class JobFailedError(TrackingDemoError):
    """The job ran and failed, or finished without what the caller asked it to leave."""


@dataclass(frozen=True)
class JobRequest:
    """Everything a submit needs to know, checked before the first network call."""

    task: str
    task_args: tuple[str, ...] = ()
    compute: str = "cpu-cluster"
    experiment: str = "tracking-demo"
    environment: str = "curated"
    image: environments.ImageRef | None = None
    gpu: bool = False
    dataset: str | None = None
    dataset_version: str = "latest"
    data_mode: str = "download"
    register_as: str | None = None
    extra_variables: Mapping[str, str] = field(default_factory=dict)
    verb: str = "train"


@dataclass(frozen=True)
class JobTarget:
    """Where and on what a job runs, as `job_target_options` read them; unchecked."""

    compute: str | None = None
    experiment: str = "tracking-demo"
    environment: str = "curated"
    image: str | None = None
    gpu: bool = False
    dataset: str | None = None
    data_mode: str = "download"

    @property
    def cluster(self) -> str:
        """`--compute`, else the default cluster of the CPU or the GPU variant."""
        return self.compute or ("gpu-cluster" if self.gpu else "cpu-cluster")


def known_tasks(verb: str = "train") -> dict[str, click.Command]:
    """The tasks `tracking-demo VERB` offers (train, sweep): the job can run exactly those."""
    from tracking_demo.cli.main import cli

    group = cli.commands.get(verb)
    if not isinstance(group, click.Group):
        raise ConfigError(f"this checkout's tracking-demo has no '{verb}' command")
    return dict(group.commands)


def check_task(task: str, task_args: Sequence[str], verb: str = "train") -> None:
    """Parse the task's options the way the job will, so a typo fails here, not in the cloud."""
    tasks = known_tasks(verb)
    if task not in tasks:
        kind = "task" if verb == "train" else f"{verb} task"
        raise ConfigError(f"unknown {kind} '{task}' (expected one of: {', '.join(sorted(tasks))})")
    for arg in task_args:
        name = arg.split("=", 1)[0]
        if name in RESERVED_TASK_OPTIONS:
            raise ConfigError(
                f"task option '{name}' is set by the submitter (use the submitter's own "
                "--dataset/--register-as/--experiment options)"
            )
    try:
        tasks[task].make_context(task, [*task_args, "--data", "DATA"], resilient_parsing=False)
    except click.exceptions.Exit:
        return
    except click.ClickException as error:
        raise ConfigError(
            f"task '{task}' options {list(task_args)}: {error.format_message()}"
        ) from error


def parse_dataset(reference: str) -> tuple[str, str]:
    """NAME or NAME:VERSION (a positive integer or 'latest')."""
    name, _, version = reference.partition(":")
    version = version or "latest"
    if not name.strip() or not (version == "latest" or (version.isdigit() and int(version) > 0)):
        raise ConfigError(f"--dataset '{reference}' is not NAME or NAME:VERSION (e.g. moons:3)")
    return name.strip(), version


def job_program(request: JobRequest) -> list[str]:
    """`tracking-demo` as the environment has it: the image's command, or the snapshot's source."""
    return (
        ["tracking-demo"] if request.environment == "image" else ["python", "-m", "tracking_demo"]
    )


def job_command(request: JobRequest, data_argument: Any) -> list[Any]:
    """The job's command line; `data_argument` is where the data lands on the node."""
    register = ["--register-as", request.register_as] if request.register_as else []
    return [
        *job_program(request),
        request.verb,
        request.task,
        "--data",
        data_argument,
        *request.task_args,
        *register,
    ]


def job_variables(request: JobRequest) -> dict[str, str]:
    """Environment variables of the job; the curated environment runs the snapshot's source."""
    variables = dict(JOB_VARIABLES)
    if request.environment == "curated":
        variables["PYTHONPATH"] = "src"
    variables.update(request.extra_variables)
    return variables


def registered_model(
    tracking_uri: str, run_id: str, name: str, include_children: bool = False
) -> dict[str, str]:
    """The version the job's run registered under `name`; none is a failed job for a pipeline.

    `include_children`: a sweep job registers the best trial's model, and trials are the job
    run's MLflow child runs (tag `mlflow.parentRunId`).
    """
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
    run_ids = [run_id]
    if include_children:
        experiment_id = client.get_run(run_id).info.experiment_id
        children = client.search_runs(
            [experiment_id], filter_string=f"tags.mlflow.parentRunId = '{run_id}'"
        )
        run_ids += [child.info.run_id for child in children]
    versions = [
        version
        for candidate in run_ids
        for version in client.search_model_versions(f"name = '{name}' and run_id = '{candidate}'")
    ]
    if not versions:
        raise JobFailedError(f"run {run_id} finished but registered no version of model '{name}'")
    newest = max(versions, key=lambda version: int(version.version))
    return {"name": name, "version": str(newest.version), "run_id": newest.run_id or run_id}


def register_run_model(
    tracking_uri: str, model_uri: str, name: str, tags: Mapping[str, str]
) -> dict[str, str]:
    """Register a finished run's model (`runs:/RUN/PATH`) once, as `tracking-demo` registers
    every model: a rerun finds the same version. The best sweep trial and AutoML's winner."""
    from mlflow.tracking import MlflowClient

    from tracking_demo.registry import register_once

    client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
    version = register_once(client, model_uri, name, tags)
    return {"name": name, "version": str(version.version), "run_id": str(version.run_id)}


def job_model(
    tracking_uri: str,
    job_id: str,
    name: str,
    include_children: bool = False,
    model_info_out: Path | None = None,
) -> dict[str, str]:
    """The check after a finished job, with either SDK or after `az ml job create`: the version
    the job's run (its id is the job's) registered, written to `model_info_out` for whatever
    deploys next."""
    info = registered_model(tracking_uri, job_id, name, include_children)
    info["job_id"] = job_id
    if model_info_out is not None:
        write_model_info(info, model_info_out)
    return info


def write_model_info(info: Mapping[str, str], path: Path) -> None:
    """`{"name", "version", "run_id", "job_id"}` for whatever deploys next (a pipeline artifact)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(dict(info), indent=2) + "\n")


def make_request(
    task: str,
    task_args: tuple[str, ...],
    target: JobTarget,
    register_as: str | None,
    verb: str = "train",
) -> JobRequest:
    """Options → a checked JobRequest: every rule that needs no network is applied here."""
    check_task(task, task_args, verb)
    image_ref = environments.environment_image(target.environment, target.image)
    name, version = parse_dataset(target.dataset) if target.dataset else (None, "latest")
    return JobRequest(
        task=task,
        task_args=task_args,
        compute=target.cluster,
        experiment=target.experiment,
        environment=target.environment,
        image=image_ref,
        gpu=target.gpu,
        dataset=name,
        dataset_version=version,
        data_mode=target.data_mode,
        register_as=register_as,
        verb=verb,
    )


@dataclass(frozen=True)
class SweepRequest:
    """The trial job (jobs.submit's request, without registration) and the checked sweep."""

    job: JobRequest
    spec: SweepSpec
    space_file: str
    register_as: str | None = None


def load_spec(
    space: Path | None,
    max_trials: int | None,
    max_concurrent: int | None,
    early_termination: bool,
) -> SweepSpec:
    """The sweep file as the local sweep reads it, with the command line's overrides."""
    for option, value in (("--max-trials", max_trials), ("--max-concurrent", max_concurrent)):
        if value is not None and value < 1:
            raise ConfigError(f"{option} must be at least 1, got {value}")
    from tracking_demo.sweep import space as search_space
    from tracking_demo.tasks.housing import TUNABLE  # TensorFlow's and MLflow's import time

    spec = search_space.load(space, TUNABLE)
    return spec.with_overrides(max_trials, max_concurrent, early_termination)


def space_file(space: Path | None) -> str:
    """Where the sweep file was read from: the given path, or the packaged default."""
    if space is not None:
        return str(space)
    from tracking_demo.sweep.space import DEFAULT_SPACE_RESOURCE

    return str(resources.files("tracking_demo.sweep") / DEFAULT_SPACE_RESOURCE)


def tuned_flags(spec: SweepSpec) -> dict[str, str]:
    """Parameter name -> the trial command's option that HyperDrive passes its value as."""
    from tracking_demo.sweep.space import cli_flag

    return {name: cli_flag(name) for name in spec.parameters}


def check_tuned_flags(spec: SweepSpec, task_args: Sequence[str]) -> None:
    """Every tuned parameter is an option of the trial's task, and none is also fixed."""
    task = known_tasks()[MLP_TASK]
    options = {
        flag for param in task.params if isinstance(param, click.Option) for flag in param.opts
    }
    fixed = {arg.split("=", 1)[0] for arg in task_args if arg.startswith("--")}
    for name, flag in tuned_flags(spec).items():
        if flag not in options:
            raise ConfigError(
                f"{spec.source}: parameter '{name}' is not tunable: `tracking-demo train "
                f"{MLP_TASK}` has no option {flag}"
            )
        if flag in fixed:
            raise ConfigError(
                f"task option '{flag}' is tuned by the sweep ({spec.source}): remove it from the "
                "options after -- (or from the sweep file's parameters)"
            )


def make_sweep_request(
    spec: SweepSpec,
    space: str,
    task_args: tuple[str, ...],
    target: JobTarget,
    register_as: str | None,
) -> SweepRequest:
    """Options → a checked request; the trials never register (`register_as` is the sweep's)."""
    job = make_request(MLP_TASK, task_args, target, None)
    check_tuned_flags(spec, task_args)
    return SweepRequest(job=job, spec=spec, space_file=space, register_as=register_as)


def version_tags(sweep_id: str, metrics: Mapping[str, Any]) -> dict[str, str]:
    """The tags the local sweep gives the best trial's version, with the HyperDrive run's id."""
    from tracking_demo.tasks.housing import registration_tags

    return registration_tags(MLP_TASK, metrics, {"sweep_run_id": sweep_id})

"""A run as a user names it: its id, its page in the MLflow UI, or its name in an experiment.

What a user has at hand is the id a command printed, the page open in the browser, or the name
the UI shows; all three find the same run on the local server and on Azure ML's (where a job's
run id is the job's name).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlparse

from tracking_demo.errors import ConfigError

if TYPE_CHECKING:
    from mlflow.entities import Run
    from mlflow.tracking import MlflowClient

_RUN_IN_PAGE = re.compile(r"/runs/([^/?#]+)")
# MLflow's UI routes live after '#', e.g. http://127.0.0.1:5000/#/experiments/1/runs/<id>.
_UI_ROUTE = "/experiments/"


@dataclass(frozen=True)
class RunReference:
    """The run's id or name, and the tracking server when a UI page's address names it."""

    run: str
    server: str | None = None


def parse_run_reference(text: str) -> RunReference:
    """`RUN` as given: a page address yields its run id (and its server, for an MLflow UI page)."""
    text = text.strip()
    if not text:
        raise ConfigError("RUN is empty; expected a run id, a run's page URL or a run name")
    parsed = urlparse(text)
    if parsed.scheme not in ("http", "https"):
        return RunReference(text)
    match = _RUN_IN_PAGE.search(parsed.fragment) or _RUN_IN_PAGE.search(parsed.path)
    if match is None:
        raise ConfigError(f"RUN {text}: a run page's address has /runs/<run id> in it")
    server = None
    if parsed.fragment.startswith(_UI_ROUTE):
        server = f"{parsed.scheme}://{parsed.netloc}{parsed.path.rstrip('/')}"
    return RunReference(match.group(1), server)


def find_run(client: MlflowClient, run: str, experiment: str) -> Run:
    """The run with id `run`, else the newest run named `run` in `experiment`."""
    from mlflow.exceptions import MlflowException

    try:
        return client.get_run(run)
    except MlflowException as error:
        if error.error_code not in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE"):
            raise
    found = client.get_experiment_by_name(experiment)
    if found is not None:
        quoted = run.replace("'", "\\'")
        named = client.search_runs(
            [found.experiment_id],
            filter_string=f"tags.`mlflow.runName` = '{quoted}'",
            order_by=["attributes.start_time DESC"],
            max_results=1,
        )
        if named:
            return named[0]
    raise ConfigError(
        f"RUN {run}: no run has this id at {client.tracking_uri}, and no run in experiment "
        f"'{experiment}' has this name"
    )

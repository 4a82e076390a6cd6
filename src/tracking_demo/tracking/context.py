"""Who and what made a run, recorded the way MLflow's fluent API records it.

`MlflowClient.create_run` sets no context tags; `mlflow.start_run` asks MLflow's run-context
providers (`mlflow.tracking.context.registry.resolve_tags`: user, source name and type, git,
plus any provider a plugin registers). The session asks them too, then corrects two answers
that suit a script but not this package:

- the git provider reads the checkout of `sys.argv[0]`: for the `tracking-demo` console script
  that is wherever the virtual environment lives, for `python -m tracking_demo` the package's
  `__main__.py`, under pytest pytest's own script. The code that ran is the package, so git is
  resolved (with MLflow's git helpers) for the package's source file when it lies in a checkout;
- the source name is `sys.argv[0]`, a full path to a launcher; for this package it becomes the
  command that ran, `tracking-demo train moons`, without options (they are the run's params).
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from mlflow.utils.mlflow_tags import (
    MLFLOW_GIT_BRANCH,
    MLFLOW_GIT_COMMIT,
    MLFLOW_GIT_REPO_URL,
    MLFLOW_SOURCE_NAME,
)

import tracking_demo

COMMAND = "tracking-demo"
# The file whose checkout says which commit ran (tests point it at a checkout of their own).
PACKAGE_SOURCE = tracking_demo.__file__


def command_name(argv: Sequence[str]) -> str | None:
    """`tracking-demo SUBCOMMAND...` when this process is the package's command, else None."""
    if not argv:
        return None
    launcher = Path(argv[0])
    is_command = launcher.name == COMMAND or launcher.parts[-2:] == ("tracking_demo", "__main__.py")
    if not is_command:
        return None
    words = []
    for arg in argv[1:]:
        if arg.startswith("-"):
            break
        words.append(arg)
    return " ".join([COMMAND, *words])


def package_git_tags(source_file: str | None = None) -> dict[str, str]:
    """Commit, branch and remote URL of the checkout holding the package; {} when installed."""
    from mlflow.utils.git_utils import get_git_branch, get_git_commit, get_git_repo_url

    path = source_file or PACKAGE_SOURCE
    commit = get_git_commit(path)
    if commit is None:
        return {}
    found = {
        MLFLOW_GIT_COMMIT: commit,
        MLFLOW_GIT_BRANCH: get_git_branch(path),
        MLFLOW_GIT_REPO_URL: get_git_repo_url(path),
    }
    return {key: value for key, value in found.items() if value}


def run_context_tags(argv: Sequence[str] | None = None) -> dict[str, str]:
    """MLflow's context tags for a run this process starts (see the module's docstring)."""
    from mlflow.tracking.context.registry import resolve_tags

    tags = {key: str(value) for key, value in resolve_tags().items()}
    git = package_git_tags()
    if git:
        for key in (MLFLOW_GIT_COMMIT, MLFLOW_GIT_BRANCH, MLFLOW_GIT_REPO_URL):
            tags.pop(key, None)  # the launcher's checkout, not necessarily the package's
        tags.update(git)
    name = command_name(sys.argv if argv is None else argv)
    if name:
        tags[MLFLOW_SOURCE_NAME] = name
    return tags


def missing_from(existing: Mapping[str, str], context: Mapping[str, str]) -> dict[str, str]:
    """The context tags a run created elsewhere (an Azure ML job's, a sweep's trial) lacks: what
    the platform already set (user, source) stays as it set it."""
    return {key: value for key, value in context.items() if key not in existing}

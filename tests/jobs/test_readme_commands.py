"""Every `python -m jobs.*` command the README shows parses: its module exists and has each
option it is given, so the Azure docs cannot drift from the submitters."""

from __future__ import annotations

import importlib
import re
import shlex

import click
import pytest
from tests.jobs.jobs_cli import ROOT

COMMAND = re.compile(r"^\.venv/bin/python -m (jobs\.\w+)(.*)$")


def readme_commands() -> list[tuple[str, list[str]]]:
    """(module, arguments) of each README line that runs a submitter, continuations joined."""
    text = (ROOT / "README.md").read_text().replace("\\\n", " ")
    found = []
    for line in text.splitlines():
        match = COMMAND.match(line.strip())
        if match:
            words = shlex.split(match.group(2), comments=True)
            found.append((match.group(1), words[: words.index("&&")] if "&&" in words else words))
    return found


def test_the_readme_shows_every_submitter() -> None:
    modules = {module for module, _ in readme_commands()}
    assert {"jobs.workspace", "jobs.compute", "jobs.dataset", "jobs.submit"} <= modules
    assert {"jobs.sweep", "jobs.automl", "jobs.download_model", "jobs.deploy"} <= modules


@pytest.mark.parametrize(
    ("module", "args"), readme_commands(), ids=lambda value: " ".join(value)[:60]
)
def test_a_readme_command_parses(module: str, args: list[str]) -> None:
    main = importlib.import_module(module).main
    try:
        main.make_context(module, list(args))
    except click.exceptions.Exit:
        pass
    except click.UsageError as error:
        pytest.fail(f"README: python -m {module} {shlex.join(args)}: {error.format_message()}")

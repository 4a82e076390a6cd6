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
    """A submitter with subcommands (`jobs.deploy endpoint ...`): the subcommand's options."""
    command: click.Command = importlib.import_module(module).main
    name, given = module, list(args)
    if isinstance(command, click.Group) and given and not given[0].startswith("-"):
        if given[0] not in command.commands:
            pytest.fail(f"README: python -m {module} {shlex.join(args)}: no subcommand {given[0]}")
        command, name, given = command.commands[given[0]], f"{module} {given[0]}", given[1:]
    try:
        command.make_context(name, given)
    except click.exceptions.Exit:
        pass
    except click.UsageError as error:
        pytest.fail(f"README: python -m {module} {shlex.join(args)}: {error.format_message()}")

"""Every command the docs show runs as written: `tracking-demo ...`, `python -m tracking_demo ...`
and `python -m jobs.NAME ...` lines in the code blocks of README.md and docs/**/*.md name an
existing command path, whose `--help` works and which accepts the options and arguments shown.
So a renamed command or option cannot leave a doc behind, and no top-level command or submitter
goes undocumented.

Synopsis lines (those with `[optional]` parts) are read with every optional part given and the
first of each `a|b` alternative. Paths need not exist: the docs create them in earlier steps.
"""

from __future__ import annotations

import contextlib
import copy
import importlib
import importlib.util
import re
import shlex
from dataclasses import dataclass
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from tracking_demo.cli.main import cli

ROOT = Path(__file__).resolve().parents[2]
DOC_FILES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
FENCE = re.compile(r"^\s*(```+|~~~+)")
MENTION = re.compile(r"tracking-demo|python -m (?:tracking_demo|jobs\.)")
ASSIGNMENT = re.compile(r"^[A-Za-z_]\w*=")
# A value the docs leave to the reader: N, NAME, <run-id>, $VAR, $(var).
PLACEHOLDER = re.compile(r"^(?:<[^<>]+>|[A-Z][A-Z0-9_]*|\$\{?\w+\}?|\$\(\w+\))$")
LIST_BREAK = ("&&", "||", ";")  # between the commands of one line
SHELL_BREAK = re.compile(r"^(?:\||&|\d*[<>].*)$")  # a pipe, a background `&`, a redirection


@dataclass(frozen=True)
class DocCommand:
    """One command line of a doc: where it is, what program it runs and its words."""

    where: str  # file:line
    program: str
    words: tuple[str, ...]

    def __str__(self) -> str:
        return f"{self.where}: {self.program} {shlex.join(self.words)}".rstrip()


def code_lines(path: Path) -> list[tuple[int, str]]:
    """(line number, text) of the lines inside fenced code blocks, continuations joined."""
    found: list[tuple[int, str]] = []
    fence = ""
    pending: tuple[int, str] | None = None
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        opening = FENCE.match(line)
        if not fence:
            fence = opening.group(1) if opening else ""
            continue
        if opening and line.strip() == opening.group(1) and opening.group(1)[0] == fence[0]:
            fence, pending = "", None
            continue
        start, text = pending or (number, "")
        text += line.strip()
        if text.endswith("\\"):
            pending = (start, text[:-1] + " ")
        else:
            found.append((start, text))
            pending = None
    return found


def synopsis_words(words: list[str]) -> list[str]:
    """A synopsis as one command: brackets and `|`/`...` between words dropped, `a|b` read as a."""
    kept = [word.strip("[]") for word in words if word.strip("[]") not in ("|", "...", "")]
    return [word.split("|")[0] if "|" in word else word for word in kept]


def program_words(words: list[str]) -> tuple[str, list[str]] | None:
    """(program, its words) if the words run one: after an optional `$` prompt, `NAME=value`
    assignments and `.venv/bin/`, `tracking-demo` or `python -m tracking_demo|jobs.NAME`."""
    at = 1 if words[:1] == ["$"] else 0
    while at < len(words) and ASSIGNMENT.match(words[at]):
        at += 1
    head = words[at].removeprefix(".venv/bin/") if at < len(words) else ""
    if head == "tracking-demo":
        return head, words[at + 1 :]
    module = words[at + 2] if head == "python" and words[at + 1 : at + 2] == ["-m"] else ""
    if module == "tracking_demo" or module.startswith("jobs."):
        return f"python -m {module}", words[at + 3 :]
    return None


def doc_commands(path: Path) -> list[DocCommand]:
    """The commands in one doc's code blocks, each at the start of a line or after `&&`, `||` or
    `;`, and cut at comments, pipes and redirections."""
    found = []
    for number, text in code_lines(path):
        if not MENTION.search(text):
            continue
        where = f"{path.relative_to(ROOT)}:{number}"
        try:
            words = shlex.split(text, comments=True)
        except ValueError as error:
            raise ValueError(f"{where}: {error}: {text}") from None
        starts = [0, *(i + 1 for i, word in enumerate(words) if word in LIST_BREAK)]
        for start, end in zip(starts, [*starts[1:], len(words) + 1], strict=True):
            command = program_words(words[start : end - 1])
            if command is None:
                continue
            program, rest = command
            if any(word.startswith("[") for word in rest):  # a synopsis: `|` joins alternatives
                rest = synopsis_words(rest)
            breaks = [i for i, word in enumerate(rest) if SHELL_BREAK.match(word)]
            found.append(DocCommand(where, program, tuple(rest[: breaks[0]] if breaks else rest)))
    return found


ALL_COMMANDS = [command for path in DOC_FILES for command in doc_commands(path)]


def submitter(module: str) -> click.Command:
    """The click command that `python -m MODULE` runs: `main` of the module, or of the module a
    package's `__main__.py` imports it from."""
    spec = importlib.util.find_spec(module)
    if spec is None or spec.origin is None:
        raise LookupError(f"no module {module}")
    source = Path(spec.origin)
    if spec.submodule_search_locations is not None:
        source = source.with_name("__main__.py")
        text = source.read_text() if source.is_file() else ""
        found = re.search(r"^from (\S+) import main$", text, re.MULTILINE)
        if found is None:
            raise LookupError(f"{module} cannot be run with python -m")
        module = found.group(1)
    elif '__name__ == "__main__"' not in source.read_text():
        raise LookupError(f"{module} cannot be run with python -m")
    command = getattr(importlib.import_module(module), "main", None)
    if not isinstance(command, click.Command):
        raise LookupError(f"{module} has no click command main")
    return command


def program_command(program: str) -> tuple[click.Command, str]:
    """The root command a doc's program runs, and the name its usage line shows."""
    if program in ("tracking-demo", "python -m tracking_demo"):
        return cli, "tracking-demo"
    return submitter(program.removeprefix("python -m ")), program


def option_takes_value(group: click.Command, word: str) -> bool | None:
    """Whether `word`, an option of `group`, takes the next word as its value (None: no option)."""
    name = word.split("=")[0]
    for param in group.params:
        if isinstance(param, click.Option) and name in (*param.opts, *param.secondary_opts):
            return not (param.is_flag or param.count or "=" in word)
    return None


@dataclass(frozen=True)
class Resolved:
    """A doc command resolved: the command path, and each level's command, name and words."""

    path: tuple[str, ...]
    levels: tuple[tuple[click.Command, str, tuple[str, ...]], ...]


def resolve(doc: DocCommand) -> Resolved:
    """Walk group -> subcommand as click does: a group's own options, then a subcommand name.
    An UPPERCASE placeholder for the subcommand (`COMMAND`) stops at the group."""
    command, name = program_command(doc.program)
    words, path, levels = list(doc.words), [], []
    while isinstance(command, click.Group):
        at = 0
        while at < len(words) and words[at].startswith("-"):
            takes = option_takes_value(command, words[at])
            if takes is None:
                break
            at += 2 if takes else 1
        if at >= len(words) or words[at].startswith("-") or words[at].isupper():
            break
        sub = command.commands.get(words[at])
        if sub is None or sub.hidden:
            raise LookupError(f"{' '.join([doc.program, *path])} has no command {words[at]!r}")
        levels.append((command, name, tuple(words[:at])))
        command, name, path, words = sub, words[at], [*path, words[at]], words[at + 1 :]
    levels.append((command, name, tuple(words)))
    return Resolved(tuple(path), tuple(levels))


def resolved_or_fail(doc: DocCommand) -> Resolved:
    try:
        return resolve(doc)
    except LookupError as error:
        pytest.fail(f"{doc}\n  {error}")


class AsWritten(click.ParamType):
    """A parameter's own type, except that a placeholder is taken as it is and a path need not
    exist yet (the docs create it in an earlier step)."""

    def __init__(self, own: click.ParamType) -> None:
        self.own = copy.copy(own)
        self.name = own.name
        if isinstance(self.own, click.Path):
            self.own.exists = False

    def convert(
        self, value: object, param: click.Parameter | None, ctx: click.Context | None
    ) -> object:
        if isinstance(value, str) and PLACEHOLDER.match(value):
            return value
        return self.own.convert(value, param, ctx)


commands_param = pytest.mark.parametrize("doc", ALL_COMMANDS, ids=lambda doc: doc.where)


@commands_param
def test_a_docs_command_exists_and_has_help(doc: DocCommand) -> None:
    resolved = resolved_or_fail(doc)
    root, name, _ = resolved.levels[0]
    result = CliRunner().invoke(root, [*resolved.path, "--help"], prog_name=name)
    assert result.exit_code == 0, f"{doc}\n{result.output}"
    assert f"Usage: {' '.join([name, *resolved.path])}" in result.output


@commands_param
def test_a_docs_command_parses(doc: DocCommand, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each level parses its own words, as click parses them when the command runs; a group's
    parse stops at its subcommand."""
    resolved = resolved_or_fail(doc)
    for command, _, _ in resolved.levels:
        for param in command.params:
            if not isinstance(param.type, click.types.BoolParamType):  # flags stay flags
                monkeypatch.setattr(param, "type", AsWritten(param.type))
    *groups, (command, name, words) = resolved.levels
    try:
        parent = None
        for (group, group_name, group_words), sub in zip(groups, resolved.path, strict=True):
            parent = group.make_context(group_name, [*group_words, sub], parent=parent)
        command.make_context(name, list(words), parent=parent)
    except click.exceptions.Exit:
        pass
    except click.UsageError as error:
        pytest.fail(f"{doc}\n  {error.format_message()}")


def test_the_readme_shows_commands() -> None:
    """The README's commands are found (so a change in how docs are read cannot find none)."""
    assert any(doc.program == "tracking-demo" for doc in doc_commands(ROOT / "README.md"))


def test_the_docs_show_every_top_level_command() -> None:
    shown = set()
    for doc in ALL_COMMANDS:
        if doc.program in ("tracking-demo", "python -m tracking_demo"):
            with contextlib.suppress(LookupError):  # the command's own tests name it
                shown.update(resolve(doc).path[:1])
    visible = {name for name, command in cli.commands.items() if not command.hidden}
    assert not visible - shown, f"no docs code block runs tracking-demo {sorted(visible - shown)}"


def test_the_docs_show_every_submitter() -> None:
    modules = {doc.program.removeprefix("python -m ") for doc in ALL_COMMANDS}
    assert {"jobs.workspace", "jobs.compute", "jobs.dataset", "jobs.submit"} <= modules
    assert {"jobs.sweep", "jobs.automl", "jobs.download_model", "jobs.deploy"} <= modules


def runnable_submitters() -> list[str]:
    """The `jobs` modules and packages that `python -m` runs as a click command."""
    found = []
    for path in sorted((ROOT / "jobs").rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        module = ".".join(parts[:-1] if parts[-1] == "__main__" else parts)
        with contextlib.suppress(LookupError):
            submitter(module)
            found.append(module)
    return found


def test_the_jobs_reference_documents_every_submitter() -> None:
    modules = runnable_submitters()
    assert {"jobs.submit", "jobs.deploy"} <= set(modules)
    page = (ROOT / "docs" / "reference" / "jobs.md").read_text()
    missing = [module for module in modules if f":prog_name: python -m {module}\n" not in page]
    assert not missing, f"docs/reference/jobs.md has no mkdocs-click block for {missing}"

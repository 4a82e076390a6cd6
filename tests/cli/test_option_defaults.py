"""A task's defaults are written once, in its options dataclass: every option of a `train` or
`sweep` command that fills a field defaults to that field's default, and the command hands the
task the dataclass built from its options."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from tracking_demo.cli.main import cli
from tracking_demo.cli.task_options import (
    FieldOption,
    field_default,
    field_option,
    options_object,
    split_options,
)
from tracking_demo.tasks.options import MlpOptions, SplitOptions

TASK_GROUPS = ("train", "sweep")


def _task_commands() -> list[tuple[str, click.Command]]:
    found = []
    for group_name in TASK_GROUPS:
        group = cli.commands[group_name]
        assert isinstance(group, click.Group)
        found += [  # a hidden command (the sweep's worker) is started by another, not a user
            (f"{group_name} {name}", command)
            for name, command in group.commands.items()
            if not command.hidden
        ]
    return found


def drifts(command: click.Command) -> list[str]:
    """Each option whose default is not its field's, and each plain option named like a field
    of the command's options (its default would be a second one)."""
    defaults = command.make_context("command", [], resilient_parsing=True).params
    fields = [p for p in command.params if isinstance(p, FieldOption)]
    found = []
    for param in fields:
        expected = field_default(param.owner, param.field)
        if expected is not dataclasses.MISSING and defaults[param.name] != expected:
            found.append(
                f"{param.opts[0]} defaults to {defaults[param.name]!r}, "
                f"{param.owner.__name__}.{param.field} to {expected!r}"
            )
    names = {f.name for p in fields for f in dataclasses.fields(p.owner)}
    found += [
        f"{param.opts[0]} fills no field but is named like one"
        for param in command.params
        if not isinstance(param, FieldOption) and param.name in names
    ]
    return found


@pytest.mark.parametrize(("path", "command"), _task_commands(), ids=lambda value: str(value))
def test_task_command_defaults_are_its_dataclass_defaults(
    path: str, command: click.Command
) -> None:
    assert any(isinstance(p, FieldOption) for p in command.params), f"{path} builds no options"
    assert drifts(command) == []


def test_the_learning_rate_defaults_agree() -> None:
    train = cli.commands["train"]
    assert isinstance(train, click.Group)
    (learning_rate,) = [
        p for p in train.commands["housing-mlp"].params if p.name == "learning_rate"
    ]
    assert learning_rate.default == MlpOptions.learning_rate == 1e-3


def _mlp_command(*extra: click.Option) -> click.Command:
    @click.command()
    @split_options
    @field_option(MlpOptions, "learning_rate", "--learning-rate", type=float)
    @field_option(MlpOptions, "validation_fraction", "--validation-split", type=float)
    @options_object(MlpOptions, split=SplitOptions)
    def command(options: MlpOptions) -> None:
        click.echo(repr(options))

    command.params.extend(extra)
    return command


def test_a_differing_default_is_found() -> None:
    drifted = FieldOption(
        ["--epochs"], owner=MlpOptions, field="epochs", type=int, default=MlpOptions.epochs + 1
    )
    assert drifts(_mlp_command(drifted)) == ["--epochs defaults to 11, MlpOptions.epochs to 10"]


def test_a_plain_option_for_a_field_is_found() -> None:
    plain = click.Option(["--batch-size"], type=int, default=32)
    assert drifts(_mlp_command(plain)) == ["--batch-size fills no field but is named like one"]


def test_field_option_refuses_a_second_default() -> None:
    with pytest.raises(TypeError, match="the default is MlpOptions.epochs's"):
        field_option(MlpOptions, "epochs", "--epochs", default=3)


def test_the_command_receives_the_dataclass_built_from_its_options() -> None:
    command = _mlp_command()
    defaults = CliRunner().invoke(command, [])
    assert defaults.output == f"{MlpOptions(SplitOptions(Path('data/housing')))!r}\n"
    given = CliRunner().invoke(
        command,
        ["--data", "h.csv", "--seed", "3", "--learning-rate", "0.5", "--validation-split", "0.2"],
    )
    expected = MlpOptions(
        SplitOptions(Path("h.csv"), seed=3), learning_rate=0.5, validation_fraction=0.2
    )
    assert given.output == f"{expected!r}\n"

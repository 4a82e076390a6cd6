"""The one-line error adapter both command lines use: its line, its exit status, `--debug`."""

from __future__ import annotations

import click
import pytest
from click.testing import CliRunner

from tracking_demo.cli.errors import OneLineErrors
from tracking_demo.errors import DataError


def _command_raising(error: Exception) -> click.Command:
    @click.command(cls=OneLineErrors)
    @click.option("--debug", is_flag=True)
    def fail(debug: bool) -> None:
        raise error

    return fail


def test_an_own_error_is_one_line_on_stderr_and_exit_1() -> None:
    result = CliRunner().invoke(_command_raising(DataError("x.csv: no rows")), [])
    assert (result.exit_code, result.stdout, result.stderr) == (1, "", "error: x.csv: no rows\n")


def test_debug_keeps_the_traceback() -> None:
    result = CliRunner().invoke(_command_raising(DataError("x.csv: no rows")), ["--debug"])
    assert isinstance(result.exception, DataError)
    assert result.stderr == ""


def test_a_bug_is_not_reworded() -> None:
    result = CliRunner().invoke(_command_raising(KeyError("column")), [])
    assert isinstance(result.exception, KeyError)
    assert result.stderr == ""


def test_a_subclass_names_the_errors_it_describes() -> None:
    class Timeouts(OneLineErrors):
        error_lines = (
            lambda error: f"timed out: {error}" if isinstance(error, TimeoutError) else None,
        )

    @click.command(cls=Timeouts)
    def fail() -> None:
        raise TimeoutError("after 5s")

    result = CliRunner().invoke(fail, [])
    assert (result.exit_code, result.stderr) == (1, "timed out: after 5s\n")


@pytest.mark.parametrize("args", [[], ["--debug"]], ids=["quiet", "debug"])
def test_the_root_group_reads_debug_from_its_own_options(args: list[str]) -> None:
    from tracking_demo.cli.main import _Cli

    group = _Cli()
    group.params.append(click.Option(["--debug"], is_flag=True))

    @group.command()
    def fail() -> None:
        raise DataError("bad file")

    result = CliRunner().invoke(group, [*args, "fail"])
    if args:
        assert isinstance(result.exception, DataError)
    else:
        assert (result.exit_code, result.stderr) == (1, "error: bad file\n")

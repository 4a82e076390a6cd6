"""`tracking-demo` starts without its heavy dependencies: help, version and `server status`.

Importing MLflow alone costs seconds (it pulls pandas and the azureml-mlflow plugin), and every
command, even `--help`, used to pay it. Each command now imports what it uses when it runs; this
test walks the whole command tree in a fresh interpreter, so a new command, or a module-level
import that comes back, is caught by what gets imported rather than by a flaky timing.
"""

from __future__ import annotations

import json
import subprocess
import sys

import click
import pytest
from click.testing import CliRunner

from tracking_demo.cli.main import _Cli
from tracking_demo.errors import ConfigError

HEAVY = (
    "mlflow",
    "tensorflow",
    "keras",
    "sklearn",
    "scipy",
    "numpy",
    "pandas",
    "matplotlib",
    "starlette",
    "fastapi",
    "uvicorn",
    "sqlalchemy",
    "requests",
    "azureml",
    "azure",
)

# Runs in a fresh interpreter (in an empty folder) with the JSON list of heavy packages as its
# argument; prints, as JSON, the exit code, the output and the heavy packages loaded so far after
# each invocation.
PROBE = """
import contextlib, io, json, sys

heavy = set(json.loads(sys.argv[1]))

def loaded():
    return sorted(heavy & {name.partition(".")[0] for name in sys.modules})

from tracking_demo.cli.main import cli

def paths(group, prefix):
    for name, command in group.commands.items():
        yield [*prefix, name]
        if hasattr(command, "commands"):
            yield from paths(command, [*prefix, name])

invocations = [["--help"], ["--version"], *([*path, "--help"] for path in paths(cli, []))]
invocations.append(["server", "status", "--data-dir", "no-server"])
report = {"import": {"exit": None, "output": "", "heavy": loaded()}}
for args in invocations:
    output, code = io.StringIO(), None
    with contextlib.redirect_stdout(output), contextlib.redirect_stderr(output):
        try:
            cli.main(args, prog_name="tracking-demo")
        except SystemExit as done:
            code = done.code
    report[" ".join(args)] = {"exit": code, "output": output.getvalue(), "heavy": loaded()}
print(json.dumps(report))
"""


@pytest.fixture(scope="module")
def startup_report(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict]:
    probe = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(HEAVY)],
        cwd=tmp_path_factory.mktemp("startup"),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert probe.returncode == 0, probe.stderr
    return json.loads(probe.stdout)


def test_no_invocation_imports_a_heavy_package(startup_report: dict[str, dict]) -> None:
    offenders, seen = {}, set()
    for args, run in startup_report.items():  # in the order they ran
        if new := sorted(set(run["heavy"]) - seen):
            offenders[args] = new
            seen.update(new)
    assert not offenders, f"heavy imports, by the invocation that loaded them: {offenders}"


def test_the_probe_covers_every_command(startup_report: dict[str, dict]) -> None:
    """Help, version and status all ran and answered, and the walk reached nested commands."""
    for args, run in startup_report.items():
        if args.endswith("--help"):
            assert run["exit"] == 0 and "Usage: " in run["output"], (args, run)
    assert startup_report["--version"]["exit"] == 0
    assert "tracking-demo, version " in startup_report["--version"]["output"]
    for nested in ("train moons --help", "server start --help", "models promote --help"):
        assert nested in startup_report
    status = startup_report["server status --data-dir no-server"]
    assert status["exit"] == 1
    assert "no MLflow server running" in status["output"]


def _group_raising(error: Exception) -> click.Group:
    group = _Cli()

    @group.command()
    def fail() -> None:
        raise error

    return group


def test_mlflow_errors_are_one_line_without_a_start_up_import() -> None:
    from mlflow.exceptions import MlflowException

    result = CliRunner().invoke(_group_raising(MlflowException("no such run 'x'")), ["fail"])
    assert result.exit_code == 1
    assert result.output == "tracking server error: no such run 'x'\n"


def test_own_errors_are_one_line_and_others_keep_their_traceback() -> None:
    result = CliRunner().invoke(_group_raising(ConfigError("bad grid")), ["fail"])
    assert (result.exit_code, result.output) == (1, "error: bad grid\n")
    result = CliRunner().invoke(_group_raising(ValueError("a bug")), ["fail"])
    assert isinstance(result.exception, ValueError)

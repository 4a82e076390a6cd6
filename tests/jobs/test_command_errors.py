"""The submitters' commands: the shared one-line errors, plus MLflow's and the Azure SDK's."""

from __future__ import annotations

from click.testing import CliRunner, Result

from jobs.common import command
from tracking_demo.errors import ConfigError


def _error_from(module: str, message: str) -> Exception:
    """An exception whose class lives in `module`, as the SDKs' own exceptions do."""
    kind = type("ServiceError", (Exception,), {"__module__": module})
    return kind(message)


def _invoke(error: Exception, *args: str) -> Result:
    @command
    def fail(debug: bool) -> None:
        raise error

    return CliRunner().invoke(fail, list(args))


def test_an_own_error_is_one_line() -> None:
    result = _invoke(ConfigError("no workspace config.json"))
    assert (result.exit_code, result.stderr) == (1, "error: no workspace config.json\n")


def test_an_azure_error_is_its_first_line() -> None:
    result = _invoke(_error_from("azureml.exceptions", "Workspace not found\n  details..."))
    assert (result.exit_code, result.stderr) == (1, "Azure ML error: Workspace not found\n")


def test_an_mlflow_error_is_its_first_line() -> None:
    result = _invoke(_error_from("mlflow.exceptions", "RESOURCE_DOES_NOT_EXIST\nbody"))
    assert (result.exit_code, result.stderr) == (
        1,
        "tracking server error: RESOURCE_DOES_NOT_EXIST\n",
    )


def test_debug_shows_the_traceback_of_each_kind() -> None:
    for error in (ConfigError("bad"), _error_from("azure.core.exceptions", "denied")):
        result = _invoke(error, "--debug")
        assert result.exception is error
        assert result.stderr == ""


def test_other_errors_propagate() -> None:
    result = _invoke(ValueError("a bug"))
    assert isinstance(result.exception, ValueError)

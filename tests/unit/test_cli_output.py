"""Quiet by default: known noise is turned off at its source or logged, nothing else hidden."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from collections.abc import Iterator

import pytest

from tracking_demo.cli import output as cli_output


def test_known_noise_drops_only_the_known_messages() -> None:
    noise = cli_output.KnownNoise(["Passing a Python object"])
    record = logging.LogRecord("mlflow.pyfunc", logging.WARNING, "f", 1, "", None, None)
    record.msg = "Passing a Python object as `python_model` causes it to be pickled"
    assert not noise.filter(record)
    record.msg = "Model signature mismatch: column x1 missing"
    assert noise.filter(record)


@pytest.fixture
def output_state(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """configure_output changes process-wide state: restore it after each test."""
    for name in cli_output.QUIET_ENVIRONMENT:
        monkeypatch.setenv(name, "")
        monkeypatch.delenv(name)  # recorded, so the variable is restored as it was
    project = logging.getLogger("tracking_demo")
    noisy = [logging.getLogger(name) for name in cli_output.KNOWN_NOISY_RECORDS]
    level, filters = project.level, [list(logger.filters) for logger in noisy]
    yield
    project.setLevel(level)
    for logger, kept in zip(noisy, filters, strict=True):
        logger.filters[:] = kept


@pytest.mark.usefixtures("output_state")
def test_quiet_defaults_leave_a_users_own_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLFLOW_LOGGING_LEVEL", "DEBUG")
    cli_output.configure_output(verbose=False, debug=False)
    assert os.environ["MLFLOW_LOGGING_LEVEL"] == "DEBUG"
    assert os.environ["MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT"] == "true"
    assert os.environ["TF_CPP_MIN_LOG_LEVEL"] == "2"


@pytest.mark.usefixtures("output_state")
def test_verbose_sets_nothing_and_logs_info() -> None:
    cli_output.configure_output(verbose=True, debug=False)
    assert not set(cli_output.QUIET_ENVIRONMENT) & set(os.environ)
    assert logging.getLogger("tracking_demo").isEnabledFor(logging.INFO)


def _run(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )


def test_native_stderr_lines_are_captured_not_printed() -> None:
    """What C code writes to file descriptor 2 (as TensorFlow's start-up does) is collected."""
    done = _run(
        "import os\n"
        "from tracking_demo.cli.output import _native_stderr_captured\n"
        "with _native_stderr_captured() as lines:\n"
        "    os.write(2, b'I0000 cudart_stub.cc:31] Could not find cuda drivers\\n')\n"
        "print(lines)\n"
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    assert "Could not find cuda drivers" in done.stdout


def test_captured_lines_go_back_to_stderr_when_the_block_fails() -> None:
    """A failed start-up keeps its explanation."""
    done = _run(
        "import os\n"
        "from tracking_demo.cli.output import _native_stderr_captured\n"
        "with _native_stderr_captured():\n"
        "    os.write(2, b'libcudnn.so.9: cannot open shared object file\\n')\n"
        "    raise SystemExit(3)\n"
    )
    assert done.returncode == 3
    assert "libcudnn.so.9: cannot open shared object file" in done.stderr

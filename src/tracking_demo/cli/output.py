"""What commands print: results and warnings that matter by default, progress with --verbose.

Known third-party noise is turned off where it starts (environment variables the libraries
read once, at import) or routed to the log, which `--verbose` shows. Nothing here filters
warnings wholesale: a warning nobody has looked at still reaches the user.
"""

from __future__ import annotations

import logging
import os
import sys
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

logger = logging.getLogger(__name__)

# A user's own setting of a variable wins; `--verbose` leaves all of them alone.
QUIET_ENVIRONMENT = {
    # MLflow's INFO lines (store set-up, registry waits); its warnings still show.
    "MLFLOW_LOGGING_LEVEL": "WARNING",
    # MLflow's "View run"/"View experiment" links when a run ends: commands print their own.
    "MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT": "true",
    # TensorFlow's own INFO and WARNING lines once its logging is set up.
    "TF_CPP_MIN_LOG_LEVEL": "2",
}
# Log records a command's user does not need, by logger and message start.
KNOWN_NOISY_RECORDS: Mapping[str, Sequence[str]] = {
    # Saving the housing pyfunc: the model object is pickled; it is the project's own class,
    # loaded by the project's own code (the safety note is for models from elsewhere).
    "mlflow.pyfunc": ("Passing a Python object as `python_model`",),
}
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
NVIDIA_DEVICE = Path("/dev/nvidia0")


class KnownNoise(logging.Filter):
    """Drops records whose message starts with one of `prefixes`."""

    def __init__(self, prefixes: Sequence[str]) -> None:
        super().__init__()
        self.prefixes = tuple(prefixes)

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith(self.prefixes)


def configure_output(verbose: bool, debug: bool) -> None:
    """Runs before any command imports MLflow or TensorFlow, which read the variables once."""
    quiet = not verbose and not debug
    if quiet:
        for name, value in QUIET_ENVIRONMENT.items():
            os.environ.setdefault(name, value)
        for name, prefixes in KNOWN_NOISY_RECORDS.items():
            logging.getLogger(name).addFilter(KnownNoise(prefixes))
    level = logging.DEBUG if debug else logging.INFO if verbose else logging.WARNING
    logging.basicConfig(level=level, format=LOG_FORMAT)
    logging.getLogger("tracking_demo").setLevel(level)


def start_tensorflow() -> None:
    """Import TensorFlow and find its devices with its C++ start-up lines sent to the log.

    Those lines (CUDA probing on a machine without a GPU, "before absl::InitializeLog") are
    written to the process's stderr before TensorFlow's logging exists, so no setting hides
    them. They are logged at INFO (`--verbose`); an NVIDIA device TensorFlow cannot use is a
    warning. Does nothing when Keras runs on another backend.
    """
    if os.environ.get("KERAS_BACKEND", "tensorflow") != "tensorflow":
        return
    if logging.getLogger("tracking_demo").isEnabledFor(logging.INFO):
        lines, gpus = [], _import_tensorflow()
    else:
        with _native_stderr_captured() as lines:
            gpus = _import_tensorflow()
    for line in lines:
        logger.info("tensorflow: %s", line)
    if NVIDIA_DEVICE.exists() and not gpus:
        logger.warning(
            "this machine has an NVIDIA GPU but TensorFlow cannot use it, so training runs on "
            "the CPU; run with --verbose to see TensorFlow's start-up lines"
        )


def _import_tensorflow() -> list[object]:
    import tensorflow as tf

    return list(tf.config.list_physical_devices("GPU"))


@contextmanager
def _native_stderr_captured() -> Iterator[list[str]]:
    """File descriptor 2 goes to a temporary file; its lines are in the list after the block,
    and go back to stderr if the block fails (they may say why)."""
    lines: list[str] = []
    with tempfile.TemporaryFile() as captured:
        sys.stderr.flush()
        saved = os.dup(2)
        os.dup2(captured.fileno(), 2)
        failed = True
        try:
            yield lines
            failed = False
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            lines.extend(captured.read().decode(errors="replace").splitlines())
            if failed:
                print(*lines, sep="\n", file=sys.stderr)

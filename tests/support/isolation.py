"""What makes a test depend on the machine running it, shared by conftest and its own test."""

from __future__ import annotations

from collections.abc import Mapping

# Variables that would point the code under test at the user's servers, runs, workspace,
# credentials or model. The test suite's own knob (an organisation's pipeline schema) is kept.
MACHINE_PREFIXES = ("MLFLOW_", "AZUREML_", "AZURE_", "TRACKING_DEMO_")
KEPT_VARIABLES = frozenset({"AZURE_PIPELINES_SCHEMA"})
# Not "::1": azureml-dataprep reads NO_PROXY entries as HOST[:PORT] and panics on it.
LOOPBACK = ("127.0.0.1", "localhost")


def machine_variables(environ: Mapping[str, str]) -> list[str]:
    """The names in `environ` that would make a test depend on the machine running it."""
    return [
        name for name in environ if name.startswith(MACHINE_PREFIXES) and name not in KEPT_VARIABLES
    ]


def with_loopback(no_proxy: str) -> str:
    """A NO_PROXY value that also keeps loopback addresses away from any proxy."""
    present = [host.strip() for host in no_proxy.split(",") if host.strip()]
    return ",".join([*present, *(host for host in LOOPBACK if host not in present)])

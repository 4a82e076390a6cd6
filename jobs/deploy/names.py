"""Names Azure gives a served model: an ACI service, a managed online endpoint, a deployment.

Azure's own rules, checked here before any login: a bad name is one line, not a refusal from the
service after the endpoint (or a quota) is already taken.
"""

from __future__ import annotations

import re

from tracking_demo.errors import ConfigError

MIN_LENGTH = 3
MAX_LENGTH = 32
# ACI: webservice_name_validation (lowercase only).
_SERVICE_NAME = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
# Managed online endpoints and deployments: azure-ai-ml's EndpointConfigurations.NAME_REGEX_PATTERN.
_ONLINE_NAME = re.compile(r"^[a-zA-Z]([-a-zA-Z0-9]*[a-zA-Z0-9])?$")
RULE = "3-32 letters, digits and dashes, starting with a letter and ending with a letter or digit"


def default_name(model_name: str) -> str:
    """The model's name made into a service name: lowercase, dashes, a letter first, 3-32 long."""
    text = re.sub(r"[^a-z0-9]+", "-", model_name.lower()).strip("-")
    if not text[:1].isalpha():
        text = f"model-{text}"
    text = text[:MAX_LENGTH].rstrip("-")
    return text if len(text) >= MIN_LENGTH else f"{text}-svc"


def check_service_name(name: str, derived_from: str | None = None) -> str:
    """An ACI web service name (lowercase)."""
    if not _valid(name, _SERVICE_NAME):
        raise ConfigError(
            f"service name '{name}' is not valid{_origin(derived_from, '--service-name')}: use "
            "3-32 lowercase letters, digits and dashes, starting with a letter and ending with "
            "a letter or digit"
        )
    return name


def check_online_name(name: str, what: str, option: str, derived_from: str | None = None) -> str:
    """A managed online endpoint's or deployment's name."""
    if not _valid(name, _ONLINE_NAME):
        raise ConfigError(
            f"{what} name '{name}' is not valid{_origin(derived_from, option)}: use {RULE}"
        )
    return name


def deployment_name(endpoint: str, version: str) -> str:
    """One deployment per model version, `<endpoint>-<version>` (e.g. `moons-rf-3`), shortened
    from the left part to stay within 32 characters: which version serves is in its name."""
    suffix = f"-{version}"
    stem = endpoint[: MAX_LENGTH - len(suffix)].rstrip("-")
    return check_online_name(f"{stem}{suffix}", "deployment", "--deployment-name", endpoint)


def _valid(name: str, pattern: re.Pattern[str]) -> bool:
    return MIN_LENGTH <= len(name) <= MAX_LENGTH and bool(pattern.match(name))


def _origin(derived_from: str | None, option: str) -> str:
    return f" (derived from '{derived_from}': pass {option})" if derived_from else ""

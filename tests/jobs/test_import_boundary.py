"""docs/architecture.md, rule 1 and the layers hold and would catch a breach: only
tracking.workspace imports the Azure SDK, the package never imports the submitters, and each
layer imports only the layers below it."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def lint(cwd: Path, config: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", "--config", str(config)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_package_keeps_the_boundary(pytestconfig: pytest.Config) -> None:
    root = pytestconfig.rootpath
    result = lint(root, root / "pyproject.toml")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "3 kept, 0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "source", "forbidden"),
    [
        (
            "tasks/sneaky.py",
            "from azureml.core import Run\n",
            "tracking_demo.tasks.sneaky -> azureml",
        ),
        ("tracking_extra.py", "import azure.identity\n", "tracking_demo.tracking_extra -> azure"),
        ("tasks/uses_jobs.py", "import jobs.submit\n", "tracking_demo.tasks.uses_jobs -> jobs"),
        # Layers: data below tasks, tracking independent of serving.
        (
            "data/uses_tasks.py",
            "import tracking_demo.tasks.moons\n",
            "tracking_demo.data.uses_tasks -> tracking_demo.tasks.moons",
        ),
        (
            "tracking/uses_serving.py",
            "import tracking_demo.serving.score\n",
            "tracking_demo.tracking.uses_serving -> tracking_demo.serving.score",
        ),
    ],
)
def test_a_module_importing_azure_jobs_or_a_higher_layer_breaks_a_contract(
    pytestconfig: pytest.Config, tmp_path: Path, module: str, source: str, forbidden: str
) -> None:
    root = pytestconfig.rootpath
    shutil.copytree(root / "src" / "tracking_demo", tmp_path / "tracking_demo")
    shutil.copytree(root / "jobs", tmp_path / "jobs")
    (tmp_path / "tracking_demo" / module).write_text(source)
    settings = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["importlinter"]
    config = tmp_path / "importlinter.toml"
    config.write_text(_as_toml(settings))
    result = lint(tmp_path, config)
    assert result.returncode == 1, result.stdout
    assert forbidden in result.stdout


def _as_toml(settings: dict[str, object]) -> str:
    """The project's own import-linter settings, re-rooted in a scratch copy."""
    lines = ["[tool.importlinter]"]
    lines += [f"{key} = {_value(value)}" for key, value in settings.items() if key != "contracts"]
    for contract in settings["contracts"]:  # type: ignore[attr-defined]
        lines.append("[[tool.importlinter.contracts]]")
        lines += [f"{key} = {_value(value)}" for key, value in contract.items()]
    return "\n".join(lines) + "\n"


def _value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(_value(item) for item in value) + "]"
    return '"' + str(value).replace('"', '\\"') + '"'

"""azure-pipelines.yml: valid for Azure Pipelines, and doing what the README promises.

The schema is Azure DevOps' own (draft-07), as the dev dependency check-jsonschema ships it
(`check_jsonschema/builtin_schemas/vendor/azure-pipelines.json`), so a fresh clone validates
with nothing beyond `scripts/setup.sh`. The pipeline fetches its organisation's own schema (the
tasks that organisation has installed included) and points AZURE_PIPELINES_SCHEMA at it; that
file then replaces the packaged one. A missing schema fails the test, because a skipped
validation would let an invalid pipeline through unnoticed.

The file is read with PyYAML's BaseLoader and validated with `jsonschema`, not with
check-jsonschema's command line: Azure reads every scalar as a string (`timeoutInMinutes: 60`
included), and the schema describes those strings.
"""

from __future__ import annotations

import importlib.resources
import json
import os
import re
import shlex
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

SCHEMA_ENV = "AZURE_PIPELINES_SCHEMA"
SCHEMA_PACKAGE = "check_jsonschema.builtin_schemas.vendor"
SCHEMA_RESOURCE = "azure-pipelines.json"
SECRET_KEY = re.compile(r"(?i)(password|passwd|secret|token|credential|api[_-]?key|accountkey)")
VARIABLE_REF = re.compile(r"^\$[\(\[{].*[\)\]}]$", re.DOTALL)
KEY_LIKE = re.compile(r"[A-Za-z0-9+/_-]{40,}={0,2}")


@pytest.fixture(scope="module")
def root(pytestconfig: pytest.Config) -> Path:
    return pytestconfig.rootpath


@pytest.fixture(scope="module")
def pipeline(root: Path) -> dict[str, Any]:
    """The file as Azure Pipelines reads it: every scalar a string (`default: false` and
    `timeoutInMinutes: 60` included), which is what its schema describes."""
    return yaml.load((root / "azure-pipelines.yml").read_text(), Loader=yaml.BaseLoader)


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    """$AZURE_PIPELINES_SCHEMA when set (an organisation's own schema), else the packaged one."""
    override = os.environ.get(SCHEMA_ENV)
    if override:
        path = Path(override).resolve()
        if not path.is_file():
            pytest.fail(f"{SCHEMA_ENV} names {path}, which is not a file")
        return json.loads(path.read_text(encoding="utf-8"))
    try:
        packaged = importlib.resources.files(SCHEMA_PACKAGE).joinpath(SCHEMA_RESOURCE)
        return json.loads(packaged.read_text(encoding="utf-8"))
    except (ModuleNotFoundError, FileNotFoundError) as error:
        pytest.fail(
            f"Azure Pipelines schema {SCHEMA_PACKAGE}/{SCHEMA_RESOURCE} not found ({error}): "
            "check-jsonschema is a dev dependency, run `bash scripts/setup.sh`, or set "
            f"{SCHEMA_ENV} to a schema file"
        )


def _stage(pipeline: dict[str, Any], name: str) -> dict[str, Any]:
    stages = {stage["stage"]: stage for stage in pipeline["stages"]}
    assert name in stages, f"no stage '{name}' among {sorted(stages)}"
    return stages[name]


def _steps(stage: dict[str, Any]) -> list[dict[str, Any]]:
    return [step for job in stage["jobs"] for step in job["steps"]]


def _variables(pipeline: dict[str, Any]) -> dict[str, str]:
    return {item["name"]: item["value"] for item in pipeline["variables"]}


def _task_step_errors(schema: dict[str, Any], pipeline: dict[str, Any]) -> list[str]:
    """Each task step checked against its own task's schema alone.

    The whole-file error for a bad step is "not valid under any of the given schemas" over
    hundreds of task schemas; checking the step against its own task says what is wrong.
    """
    branches = schema["definitions"]["task"]["anyOf"]
    problems = []
    for s, stage in enumerate(pipeline.get("stages", [])):
        for j, job in enumerate(stage.get("jobs", [])):
            for k, step in enumerate(job.get("steps", [])):
                if "task" not in step:
                    continue
                where = f"stages[{s}].jobs[{j}].steps[{k}] ({step['task']})"
                own = [
                    b
                    for b in branches
                    if re.fullmatch(
                        b["properties"]["task"].get("pattern", "^$")[1:-1], step["task"]
                    )
                ]
                if not own:
                    problems.append(f"{where}: no such task in the schema")
                    continue
                validator = jsonschema.Draft7Validator(
                    {**own[0], "definitions": schema["definitions"]}
                )
                problems += [
                    f"{where} {list(e.absolute_path)}: {e.message}"
                    for e in validator.iter_errors(step)
                ]
    return problems


def _readme_test_command(root: Path) -> str:
    readme = (root / "README.md").read_text()
    block = re.search(r"```bash\n(.*?)```", readme, re.DOTALL)
    assert block, "README has no bash block with the set-up and test commands"
    for line in block.group(1).splitlines():
        command, _, comment = line.partition("#")
        if "test suite" in comment:
            return command.strip()
    raise AssertionError("README's first bash block has no command commented 'test suite'")


def test_pipeline_is_valid_for_azure_pipelines(
    pipeline: dict[str, Any], schema: dict[str, Any]
) -> None:
    errors = list(jsonschema.Draft7Validator(schema).iter_errors(pipeline))
    details = _task_step_errors(schema, pipeline) or [e.message[:300] for e in errors]
    assert not errors, "azure-pipelines.yml is not valid:\n" + "\n".join(details)


def test_test_stage_runs_the_readme_test_command_on_python_311(
    root: Path, pipeline: dict[str, Any]
) -> None:
    steps = _steps(_stage(pipeline, "Test"))
    python = [s for s in steps if s.get("task") == "UsePythonVersion@0"]
    version = python[0]["inputs"]["versionSpec"] if python else None
    assert version in ("3.11", "$(pythonVersion)")
    assert version == "3.11" or _variables(pipeline)["pythonVersion"] == "3.11"
    command = _readme_test_command(root)
    runs = [
        s["script"]
        for s in steps
        if re.search(rf"(^|\s){re.escape(command)}(\s|$)", s.get("script", ""))
    ]
    assert len(runs) == 1, f"no step runs `{command}`"
    # As root, as .ci/run does: the image test needs debootstrap and buildah's chroot.
    assert runs[0].startswith('sudo env "PATH=$PATH" '), "the agent's Python 3.11 through sudo"
    published = [s for s in steps if s.get("task") == "PublishTestResults@2"]
    assert published and published[0]["inputs"]["testResultsFormat"] == "JUnit"
    assert published[0]["condition"] == "succeededOrFailed()", "failed runs publish too"
    assert f"--junitxml={published[0]['inputs']['testResultsFiles']}" in runs[0].split()


def test_test_stage_publishes_the_site_the_test_command_builds_strictly(
    root: Path, pipeline: dict[str, Any]
) -> None:
    """A reviewer reads the docs of a change as built by the same run that tested it."""
    test_command = (root / "scripts" / "test.sh").read_text()
    assert re.search(r"^[^#\n]*mkdocs build --strict", test_command, re.MULTILINE)
    site_dir = yaml.safe_load((root / "mkdocs.yml").read_text())["site_dir"]
    steps = _steps(_stage(pipeline, "Test"))
    tests = next(i for i, s in enumerate(steps) if "scripts/test.sh" in s.get("script", ""))
    published = [
        s
        for s in steps[tests + 1 :]
        if s.get("task") == "PublishPipelineArtifact@1" and s["inputs"].get("artifact") == "site"
    ]
    assert len(published) == 1, "the Test stage publishes no `site` artifact after the tests"
    assert published[0]["inputs"]["targetPath"] == site_dir


def test_ci_runs_the_same_command_as_the_readme(root: Path) -> None:
    assert f"exec {_readme_test_command(root)}" in (root / ".ci" / "run").read_text()


def test_image_is_pushed_to_acr_through_a_service_connection(
    root: Path, pipeline: dict[str, Any]
) -> None:
    stage = _stage(pipeline, "BuildAndPush")
    assert stage["dependsOn"] == "Test"
    docker = [s for s in _steps(stage) if s.get("task") == "Docker@2"]
    pushes = [s for s in docker if s["inputs"]["command"] == "buildAndPush"]
    assert len(pushes) == 1
    inputs = pushes[0]["inputs"]
    connection = re.fullmatch(r"\$\((\w+)\)", inputs["containerRegistry"])
    assert connection, "the registry is a service connection named by a variable"
    assert connection.group(1) in _variables(pipeline)
    assert (root / inputs["Dockerfile"]).is_file()
    assert "$(Build.BuildId)" in inputs["tags"].split()
    assert "eq(variables.isMain, 'true')" in pushes[0]["condition"], "only main pushes"
    assert _variables(pipeline)["isMain"] == (
        "$[eq(variables['Build.SourceBranch'], 'refs/heads/main')]"
    )


def test_pull_requests_build_the_image_without_pushing(pipeline: dict[str, Any]) -> None:
    docker = [s for s in _steps(_stage(pipeline, "BuildAndPush")) if s.get("task") == "Docker@2"]
    builds = [s for s in docker if s["inputs"]["command"] == "build"]
    assert len(builds) == 1
    assert "ne(variables.isMain, 'true')" in builds[0]["condition"]
    assert pipeline["pr"]["branches"]["include"] == ["main"]


def _secret_like_values(node: Any, path: str = "") -> list[str]:
    found = []
    if isinstance(node, dict):
        for key, value in node.items():
            where = f"{path}.{key}"
            if SECRET_KEY.search(str(key)) and not (
                isinstance(value, str) and VARIABLE_REF.match(value.strip())
            ):
                found.append(where)
            found += _secret_like_values(value, where)
    elif isinstance(node, list):
        for index, item in enumerate(node):
            found += _secret_like_values(item, f"{path}[{index}]")
    return found


def _strings(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for value in node.values():
            yield from _strings(value)
    elif isinstance(node, list):
        for item in node:
            yield from _strings(item)
    else:
        yield str(node)


def test_no_secrets_in_the_pipeline(root: Path, pipeline: dict[str, Any]) -> None:
    assert _secret_like_values(pipeline) == []
    assert [s for s in _strings(pipeline) if KEY_LIKE.search(s)] == [], "looks like a key"
    text = (root / "azure-pipelines.yml").read_text()
    for marker in ("AccountKey=", "-----BEGIN", "docker login", "SharedAccessKey", "--password"):
        assert marker not in text
    # The registry is named once, as a variable: no image reference elsewhere hard-codes it.
    assert text.count(".azurecr.io") == 1
    assert _variables(pipeline)["registryLoginServer"].endswith(".azurecr.io")


def _train_steps(pipeline: dict[str, Any]) -> list[dict[str, Any]]:
    return _steps(_stage(pipeline, "Train"))


def _azure_cli_step(pipeline: dict[str, Any], stage: str) -> dict[str, Any]:
    """The stage's one AzureCLI@2 step (it logs in through the ARM service connection)."""
    steps = [s for s in _steps(_stage(pipeline, stage)) if s.get("task") == "AzureCLI@2"]
    assert len(steps) == 1, f"one AzureCLI@2 step in {stage}"
    return steps[0]


def _submit_step(pipeline: dict[str, Any]) -> dict[str, Any]:
    return _azure_cli_step(pipeline, "Train")


def _script_line(step: dict[str, Any], marker: str) -> list[str]:
    """The words of the one line of the step's inline script that contains `marker`."""
    lines = [line for line in step["inputs"]["inlineScript"].splitlines() if marker in line]
    assert len(lines) == 1, f"the inline script has one line with {marker}"
    return shlex.split(lines[0])


def _submit(pipeline: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """The AzureCLI@2 step that submits, and the words of its jobs.submit (emit) command."""
    step = _submit_step(pipeline)
    return step, _script_line(step, "jobs.submit")


def _option(words: list[str], name: str) -> str:
    assert name in words, f"the command has no {name}"
    return words[words.index(name) + 1]


def _filled(words: list[str], values: dict[str, str]) -> list[str]:
    return [re.sub(r"\$\(([\w.]+)\)", lambda m: values[m.group(1)], word) for word in words]


def _parameter(pipeline: dict[str, Any], name: str) -> dict[str, Any]:
    found = [p for p in pipeline["parameters"] if p["name"] == name]
    assert len(found) == 1, f"one parameter '{name}'"
    return found[0]


@pytest.mark.parametrize(
    ("stage_name", "parameter_name", "after", "why"),
    [
        ("Train", "train", "BuildAndPush", "training costs money; it trains on the pushed image"),
        (
            "Deploy",
            "deploy",
            "Train",
            "an endpoint bills by the hour; it deploys Train's model",
        ),
    ],
)
def test_a_stage_that_costs_money_runs_only_on_main_when_its_parameter_asks(
    pipeline: dict[str, Any], stage_name: str, parameter_name: str, after: str, why: str
) -> None:
    parameter = _parameter(pipeline, parameter_name)
    assert (parameter["type"], parameter["default"]) == ("boolean", "false"), why
    assert "(main only)" in parameter["displayName"]
    stage = _stage(pipeline, stage_name)
    assert stage["dependsOn"] == after, why
    condition = " ".join(stage["condition"].split())
    assert condition.startswith("and(succeeded(), ")
    assert "eq(variables['Build.SourceBranch'], 'refs/heads/main')" in condition
    assert f"eq('${{{{ parameters.{parameter_name} }}}}', 'true')" in condition


def test_train_submits_cli_v2_yaml_for_the_pushed_image_through_an_arm_service_connection(
    pipeline: dict[str, Any],
) -> None:
    step, words = _submit(pipeline)
    variables = _variables(pipeline)
    connection = re.fullmatch(r"\$\((\w+)\)", step["inputs"]["azureSubscription"])
    assert connection and connection.group(1) in variables, "a service connection variable"
    assert step["inputs"]["scriptType"] == "bash"
    assert words[:4] == [".venv/bin/python", "-m", "jobs.submit", "moons"]
    assert "--sdk" not in words, "SDK v2 (the default) emits the CLI v2 YAML"
    assert "--dry-run" in words
    assert _option(words, "--environment") == "image"

    push = next(
        s["inputs"]
        for s in _steps(_stage(pipeline, "BuildAndPush"))
        if s.get("task") == "Docker@2" and s["inputs"]["command"] == "buildAndPush"
    )
    registry, _, tag = _option(words, "--image").rpartition(":")
    assert registry == f"$(registryLoginServer)/{push['repository']}"
    assert tag in push["tags"].split(), "a tag BuildAndPush pushed in this run"
    assert tag == "$(Build.BuildId)", "this run's own image, not a moving tag"

    referenced = set(re.findall(r"\$\((\w+)\)", " ".join(words)))
    assert referenced <= set(variables), "every setting is a pipeline variable"

    script = step["inputs"]["inlineScript"]
    assert script.startswith("set -euo pipefail"), "any failing command fails the step"
    extension = script.index("az extension add --name ml")
    emit = script.index("jobs.submit")
    create = _script_line(step, "az ml job create")
    assert extension < emit < script.index("az ml job create")
    assert _option(create, "--file") == _option(words, "--emit"), "the YAML just emitted"
    assert _option(create, "--query") == "name"
    assert "az ml job stream" in script and "az ml job show" in script
    assert '[ "$status" != "Completed" ]' in script, "the step fails unless the job Completed"

    steps = _train_steps(pipeline)
    setup = [i for i, s in enumerate(steps) if s.get("script") == "bash scripts/setup.sh"]
    assert setup and setup[0] < steps.index(step), "the project is installed before submitting"
    assert "azure" in steps[setup[0]]["env"]["SETUP_GROUPS"].split(","), "SDK v2 installed"


def test_train_publishes_the_registered_models_name_and_version(
    pipeline: dict[str, Any],
) -> None:
    step = _submit_step(pipeline)
    check = _script_line(step, "jobs.model_info")
    assert check[3] == "$job", "the model check reads the job az ml created"
    assert _option(check, "--register-as") == "$(modelName)"
    assert _option(check, "--auth") == "cli", "the login AzureCLI@2 makes, no secret"
    model_info = _option(check, "--out")
    steps = _train_steps(pipeline)
    later = steps[steps.index(step) + 1 :]
    checks = [s for s in later if model_info.rpartition("/")[0] in s.get("script", "")]
    assert checks and "$(modelName)" in checks[0]["script"], "the JSON is checked before publishing"
    published = [s for s in later if s.get("task") == "PublishPipelineArtifact@1"]
    targets = {s["inputs"]["targetPath"] for s in published}
    assert model_info.rpartition("/")[0] in targets
    assert _option(_submit(pipeline)[1], "--emit").rpartition("/")[0] in targets, "the job YAML"


def test_train_emit_command_writes_yaml_az_ml_accepts(
    root: Path, pipeline: dict[str, Any], tmp_path: Path
) -> None:
    """The stage's exact emit command, variables filled in, run here: the YAML it writes loads
    with azure-ai-ml's own loader as the command job the stage means, for this run's image."""
    from azure.ai.ml import load_job

    _, words = _submit(pipeline)
    values = {
        **_variables(pipeline),
        "Build.BuildId": "1234",
        "Build.ArtifactStagingDirectory": str(tmp_path),
    }
    filled = _filled(words, values)
    result = subprocess.run(
        [sys.executable, *filled[1:]],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    emitted = Path(_option(filled, "--emit"))
    job = load_job(emitted)
    variables = _variables(pipeline)
    assert job.type == "command"
    assert job.environment.image == (
        f"{variables['registryLoginServer']}/{variables['imageRepository']}:1234"
    )
    assert job.compute == variables["computeName"]
    assert job.experiment_name == variables["experimentName"]
    assert job.command.startswith("tracking-demo train moons --data ${{inputs.data}}")
    assert f"--register-as {variables['modelName']}" in job.command
    assert job.inputs["data"].path.endswith(f"{variables['datasetName']}@latest")
    assert (emitted.parent / job.code).resolve() == root.resolve(), "code: the checkout"
    job._to_rest_object()  # what az ml sends: builds offline


# --- Deploy: the registered model to a managed online endpoint, then a smoke test -----------


def _deploy_steps(pipeline: dict[str, Any]) -> list[dict[str, Any]]:
    return _steps(_stage(pipeline, "Deploy"))


def _deploy_step(pipeline: dict[str, Any]) -> dict[str, Any]:
    return _azure_cli_step(pipeline, "Deploy")


def _smoke_step(pipeline: dict[str, Any]) -> dict[str, Any]:
    steps = [s for s in _deploy_steps(pipeline) if "tracking-demo predict" in s.get("script", "")]
    assert len(steps) == 1, "one step runs tracking-demo predict"
    return steps[0]


def _script_words(script: str, marker: str) -> list[str]:
    lines = [line for line in script.splitlines() if marker in line]
    assert len(lines) == 1, f"the script has one line with {marker}"
    return shlex.split(lines[0])


def test_deploy_reads_the_registered_model_artifact_and_logs_in_like_train(
    pipeline: dict[str, Any],
) -> None:
    steps = _deploy_steps(pipeline)
    step = _deploy_step(pipeline)
    setup = [i for i, s in enumerate(steps) if s.get("script") == "bash scripts/setup.sh"]
    assert setup and setup[0] < steps.index(step), "the project is installed before deploying"
    assert steps[setup[0]]["env"]["SETUP_GROUPS"] == "main,azure", "SDK v2, as Train installs it"
    downloads = [s for s in steps if s.get("task") == "DownloadPipelineArtifact@2"]
    assert len(downloads) == 1 and steps.index(downloads[0]) < steps.index(step)
    published = {
        s["inputs"]["artifact"]
        for s in _train_steps(pipeline)
        if s.get("task") == "PublishPipelineArtifact@1"
    }
    artifact = downloads[0]["inputs"]["artifactName"]
    assert artifact == "registered-model" and artifact in published
    script = step["inputs"]["inlineScript"]
    assert script.startswith("set -euo pipefail")
    info = f"{downloads[0]['inputs']['targetPath']}/model.json"
    assert f'info="{info}"' in script, "model.json as jobs.model_info --out wrote it"
    assert 'jq --exit-status --raw-output .name "$info"' in script
    assert 'jq --exit-status --raw-output .version "$info"' in script
    connection = re.fullmatch(r"\$\((\w+)\)", step["inputs"]["azureSubscription"])
    assert connection and connection.group(1) == "azureServiceConnection"


def test_deploy_command_deploys_that_exact_version_with_the_cli_login(
    pipeline: dict[str, Any],
) -> None:
    words = _script_words(_deploy_step(pipeline)["inputs"]["inlineScript"], "jobs.deploy")
    assert words[:5] == [".venv/bin/python", "-m", "jobs.deploy", "endpoint", "$name:$version"]
    assert _option(words, "--auth") == "cli", "the login AzureCLI@2 makes, no secret"
    assert _option(words, "--endpoint-name") == "$(endpointName)"
    assert "--show-keys" not in words, "keys never reach the log"
    referenced = set(re.findall(r"\$\((\w+)\)", " ".join(words)))
    assert referenced <= set(_variables(pipeline)), "every setting is a pipeline variable"


def test_deploy_command_dry_run_writes_yaml_az_ml_accepts(
    root: Path, pipeline: dict[str, Any], tmp_path: Path
) -> None:
    """The stage's deploy command, variables and model filled in, run here with --dry-run: the
    YAML it emits loads with azure-ai-ml's loaders as the deployment the stage means."""
    from azure.ai.ml import load_online_deployment, load_online_endpoint

    words = _script_words(_deploy_step(pipeline)["inputs"]["inlineScript"], "jobs.deploy")
    variables = _variables(pipeline)
    filled = [w.replace("$name:$version", "moons-rf:7") for w in _filled(words, variables)]
    result = subprocess.run(
        [sys.executable, *filled[1:], "--dry-run", "--emit", str(tmp_path)],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    endpoint = load_online_endpoint(tmp_path / "endpoint.yml")
    assert endpoint.name == variables["endpointName"] and endpoint.auth_mode == "key"
    deployment = load_online_deployment(tmp_path / "deployment.yml")
    assert deployment.model == "moons-rf:7"
    assert deployment.instance_type == variables["instanceType"]
    assert deployment.code_configuration.scoring_script == "jobs/score_entry.py"
    assert f"# workspace: {variables['workspaceName']} (resource group" in result.stdout


def test_deploy_keeps_the_scoring_uri_and_key_secret(pipeline: dict[str, Any]) -> None:
    script = _deploy_step(pipeline)["inputs"]["inlineScript"]
    show = _script_words(script, "az ml online-endpoint show")
    assert _option(show, "--query") == "scoring_uri"
    credentials = _script_words(script, "get-credentials")
    assert _option(credentials, "--query") == "primaryKey"
    assert "##vso[task.setvariable variable=endpointKey;issecret=true]$key" in script
    assert "##vso[task.setvariable variable=scoringUri;issecret=true]$uri" in script
    echoes = [line for line in script.splitlines() if "echo" in line and "$key" in line]
    assert all("issecret=true" in line for line in echoes), "the key is never echoed in clear"
    smoke = _smoke_step(pipeline)
    assert smoke["env"]["TRACKING_DEMO_SERVING_KEY"] == "$(endpointKey)"
    assert smoke["env"]["SCORING_URI"] == "$(scoringUri)"
    assert "$(endpointKey)" not in smoke["script"] and "--key" not in smoke["script"]


def test_smoke_test_commands_exist_and_parse(pipeline: dict[str, Any], tmp_path: Path) -> None:
    """`tracking-demo data moons` and `tracking-demo predict` with the stage's own options,
    parsed by the CLI itself (an unknown option or a bad value fails here)."""
    from tracking_demo.cli.main import cli

    script = _smoke_step(pipeline)["script"]
    values = {**_variables(pipeline), "Agent.TempDirectory": str(tmp_path)}
    for marker, path in (
        ("tracking-demo data", ["data", "moons"]),
        ("tracking-demo predict", ["predict"]),
    ):
        words = _filled(_script_words(script, marker), values)
        assert words[0] == ".venv/bin/tracking-demo" and words[1 : 1 + len(path)] == path
        command: Any = cli
        for name in path:
            command = command.commands[name]
        args = [w.replace("$SCORING_URI", "https://e.inference.ml.azure.com/score") for w in words]
        command.make_context(" ".join(path), args[1 + len(path) :])
    predict = _script_words(script, "tracking-demo predict")
    data = _script_words(script, "tracking-demo data")
    assert _option(predict, "--data") == _option(data, "--out"), "the rows it just wrote"
    assert _option(predict, "--model-kind") == "moons"

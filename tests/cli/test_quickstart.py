"""`tracking-demo quickstart`, the README's first command, as a new user runs and reads it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient
from tests.support.cli import run_cli

from tracking_demo.server.local import LocalServer
from tracking_demo.server.processes import find_free_port

RUN_ID = "[0-9a-f]{32}"
SCORE = r"0\.\d{4}|1\.0000"


def expected_lines(uri: str, data_dir: Path) -> list[str]:
    """What the user reads, line by line (patterns): results and commands to copy, no noise."""
    return [
        rf"Started the MLflow server at {uri} in \d+\.\ds",
        "Hyper-parameters:",
        re.escape("gridsearch/n_estimators [10, 25, 100]"),
        re.escape("gridsearch/criterion ['gini', 'entropy']"),
        re.escape("gridsearch/max_depth [2, 5, 10, None]"),
        "Selected hyper-parameters:",
        "selected/criterion (gini|entropy)",
        "selected/max_depth (2|5|10|None)",
        "selected/n_estimators (10|25|100)",
        "Metrics:",
        f"test_accuracy ({SCORE})",
        f"cv_best_score ({SCORE})",
        rf"Run: {uri}/#/experiments/\d+/runs/{RUN_ID}",
        f"Model: runs:/{RUN_ID}/model",
        "Registered: models:/moons-rf/1",
        "",
        f"Open the MLflow UI:   {uri}",
        f"Serve the model:      tracking-demo serve moons-rf:1 --tracking-uri {uri}",
        f"Stop the server:      tracking-demo server stop --data-dir {re.escape(str(data_dir))}",
    ]


def assert_lines(stdout: str, patterns: list[str]) -> None:
    lines = stdout.splitlines()
    assert len(lines) == len(patterns), stdout
    for line, pattern in zip(lines, patterns, strict=True):
        assert re.fullmatch(pattern, line), f"{line!r} does not match {pattern!r}\n{stdout}"


@pytest.mark.integration
@pytest.mark.slow
def test_quickstart_prints_results_only_and_a_rerun_reuses_the_server(tmp_path: Path) -> None:
    """Fresh: start the server, train, register, with no third-party warning or log line on
    either stream. Again with `--verbose`: reuse the server, add a version, and show what the
    quiet run kept back (MLflow's own run links)."""
    port = find_free_port()
    uri = f"http://127.0.0.1:{port}"
    data_dir = tmp_path / ".tracking"
    args = ("quickstart", "--data-dir", str(data_dir), "--port", str(port))
    try:
        first = run_cli(*args, cwd=tmp_path)
        assert first.returncode == 0, first.stderr
        assert first.stderr == ""
        assert_lines(first.stdout, expected_lines(uri, data_dir))

        second = run_cli("--verbose", *args, cwd=tmp_path)
        assert second.returncode == 0, second.stderr
        assert f"Using the MLflow server already answering at {uri}" in second.stdout
        assert "Registered: models:/moons-rf/2" in second.stdout
        assert "View run " in second.stdout

        client = MlflowClient(uri)
        runs = client.search_runs([client.get_experiment_by_name("tracking-demo").experiment_id])
        assert [r.info.status for r in runs] == ["FINISHED", "FINISHED"]
        assert all(r.data.metrics["test_accuracy"] >= 0.95 for r in runs)
    finally:
        LocalServer(data_dir).stop()

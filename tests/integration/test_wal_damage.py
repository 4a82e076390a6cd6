"""`sync` of a damaged write-ahead log, against the real local server: a damaged record costs
only itself, every gap is reported and tagged, a lost final status leaves no run RUNNING, and a
second sync delivers nothing twice.

The log is the committed fixture (every record kind: tags, params, metrics, NaN/inf, artifacts,
dataset inputs, a registration and the final status), damaged by one flipped bit per record.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient
from tests.support.cli import run_cli
from tests.support.wal_damage import damage_record

from tracking_demo.tracking import tags
from tracking_demo.tracking.sync import sync_run

pytestmark = [pytest.mark.integration, pytest.mark.slow]
FIXTURE_RUN = (
    Path(__file__).parent.parent / "fixtures" / "run_log" / "0f1e2d3c4b5a69788796a5b4c3d2e1f0"
)
SYNCED_WITH_GAPS = 3  # `tracking-demo sync`'s documented exit code


def _fixture_run(client: MlflowClient, tmp_path: Path, experiment: str) -> tuple[str, Path]:
    """The fixture's log as a killed trainer's folder for a fresh run on this server."""
    experiment_id = client.create_experiment(experiment)
    run_id = client.create_run(experiment_id).info.run_id
    run_path = tmp_path / "runs" / run_id
    shutil.copytree(FIXTURE_RUN, run_path)
    meta = json.loads((run_path / "run.json").read_text())
    meta.update(run_id=run_id, tracking_uri=client.tracking_uri, experiment_id=experiment_id)
    (run_path / "run.json").write_text(json.dumps(meta))
    return run_id, run_path


def _steps(client: MlflowClient, run_id: str, key: str) -> list[int]:
    return sorted(point.step for point in client.get_metric_history(run_id, key))


def _assert_everything_but_accuracy_step_1_once(client: MlflowClient, run_id: str) -> None:
    run = client.get_run(run_id)
    assert run.info.status == "FINISHED"
    assert _steps(client, run_id, "loss") == [0, 1, 2]
    assert _steps(client, run_id, "accuracy") == [0, 2, 6]  # step 1 was the damaged record
    assert _steps(client, run_id, "grad_norm") == [3, 4, 5]
    assert run.data.params == {"lr": "0.1", "epochs": "3", "note": "tab\there\nnewline é"}
    assert run.data.tags["tracking_demo.task"] == "moons"
    artifacts = {a.path for a in client.list_artifacts(run_id)}
    assert artifacts == {"notes.txt", "plots", "data", "model"}
    assert {i.dataset.name for i in run.inputs.dataset_inputs} == {"moons-train", "moons-test"}
    [version] = client.search_model_versions(f"run_id = '{run_id}'")
    assert (version.name, version.tags) == ("moons-model", {"stage": "candidate"})


def test_a_damaged_middle_record_costs_only_itself_and_a_second_sync_adds_nothing(
    mlflow_server, tmp_path: Path
) -> None:
    """The issue's "done when": every other record delivered once; run twice, nothing doubles."""
    client = MlflowClient(mlflow_server.uri)
    run_id, run_path = _fixture_run(client, tmp_path, "wal-damage-middle")
    lines = (run_path / "wal.log").read_bytes().split(b"\n")
    at, size = sum(len(line) + 1 for line in lines[:8]), len(lines[8]) + 1
    damage_record(run_path / "wal.log", 9)  # accuracy, step 1

    first = run_cli("sync", str(run_path))
    assert first.returncode == SYNCED_WITH_GAPS, first.stderr
    assert f"run {run_id}: 22 records replayed" in first.stdout
    gap_lines = [line for line in first.stderr.splitlines() if line.startswith("  skipped: ")]
    assert gap_lines == [
        f"  skipped: record 9 not replayed (at byte {at}, {size} bytes): checksum mismatch; "
        "it looks like metric 'accuracy' step 1 (a guess: its checksum failed)"
    ]
    assert f"log kept for inspection: {run_path}" in first.stderr
    assert run_path.is_dir()  # the damaged bytes stay as evidence
    _assert_everything_but_accuracy_step_1_once(client, run_id)
    run = client.get_run(run_id)
    assert run.data.tags[tags.SYNC_SKIPPED] == gap_lines[0].removeprefix("  skipped: ")
    assert run.data.tags[tags.SYNC_GAPS] == "1"
    assert tags.ERROR not in run.data.tags

    second = run_cli("sync", str(run_path))
    assert second.returncode == SYNCED_WITH_GAPS, second.stderr
    assert "0 records replayed (22 were already acknowledged)" in second.stdout
    assert [line for line in second.stderr.splitlines() if line.startswith("  skipped: ")] == (
        gap_lines
    )
    _assert_everything_but_accuracy_step_1_once(client, run_id)


def test_every_replay_from_scratch_stores_each_record_once(mlflow_server, tmp_path: Path) -> None:
    """Damage at the first and last records, and a torn tail, with `--keep` and a lost `acked`:
    the whole log is replayed again and the server still holds each point once."""
    client = MlflowClient(mlflow_server.uri)
    run_id, run_path = _fixture_run(client, tmp_path, "wal-damage-replayed")
    wal = run_path / "wal.log"
    damage_record(wal, 1)
    damage_record(wal, 22)  # accuracy, step 6
    with wal.open("ab") as handle:  # power loss in the middle of one more write
        handle.write(b'24\t0badc0de\t{"t":"m","k":"loss","v":0.2')
    reports = [sync_run(run_path, keep=True)]
    (run_path / "acked").unlink()
    reports.append(sync_run(run_path, keep=True))
    for report in reports:
        assert [(g.first_seq, g.last_seq) for g in report.gaps] == [(1, 1), (22, 22), (24, None)]
        assert report.status == "FINISHED"
    assert (reports[0].replayed, reports[1].replayed) == (21, 21)
    run = client.get_run(run_id)
    assert run.data.tags[tags.SYNC_GAPS] == "3"
    assert "it looks like tag 'tracking_d" in run.data.tags[tags.SYNC_SKIPPED]
    assert "the last line is truncated" in run.data.tags[tags.SYNC_SKIPPED]
    assert "tracking_demo.version" not in run.data.tags
    assert _steps(client, run_id, "loss") == [0, 1, 2]
    assert _steps(client, run_id, "accuracy") == [0, 1, 2]
    assert len(client.search_model_versions(f"run_id = '{run_id}'")) == 1


def test_a_lost_final_status_ends_the_run_failed_and_says_so(mlflow_server, tmp_path: Path) -> None:
    client = MlflowClient(mlflow_server.uri)
    run_id, run_path = _fixture_run(client, tmp_path, "wal-damage-final-status")
    damage_record(run_path / "wal.log", 23)
    report = sync_run(run_path)
    [gap] = report.gaps
    assert gap.may_hold_final_status
    run = client.get_run(run_id)
    assert report.status == run.info.status == "FAILED"
    error = run.data.tags[tags.ERROR]
    assert error.startswith("the run's final status was lost in a damaged part of its")
    assert "ended the run FAILED rather than leave it RUNNING: record 23 and any after" in error
    assert "it looks like the run's final status" in error
    assert run.data.tags[tags.SYNC_GAPS] == "1"
    assert _steps(client, run_id, "accuracy") == [0, 1, 2, 6]
    assert list(report.registered) == ["moons-model"]

    again = sync_run(run_path)  # kept because of the gap: same gaps, status untouched
    assert (again.replayed, again.status, len(again.gaps)) == (0, "FAILED", 1)
    assert client.get_run(run_id).info.end_time == run.info.end_time


def test_a_damaged_registration_and_artifact_are_named(mlflow_server, tmp_path: Path) -> None:
    client = MlflowClient(mlflow_server.uri)
    run_id, run_path = _fixture_run(client, tmp_path, "wal-damage-registration")
    damage_record(run_path / "wal.log", 16)  # the artifact `plots`
    damage_record(run_path / "wal.log", 21)  # the registration of moons-model
    result = run_cli("sync", str(run_path))
    assert result.returncode == SYNCED_WITH_GAPS, result.stderr
    assert "it looks like the artifact 'plots'" in result.stderr
    assert "it looks like the registration of model 'moons-model'" in result.stderr
    assert "registered models:/" not in result.stdout
    assert client.search_model_versions(f"run_id = '{run_id}'") == []
    assert {a.path for a in client.list_artifacts(run_id)} == {"notes.txt", "data", "model"}
    assert client.get_run(run_id).info.status == "FINISHED"


def test_an_error_outranks_gaps_in_the_exit_code(mlflow_server, tmp_path: Path) -> None:
    """With several folders, 1 (a run could not be synced) wins over 3 (synced with gaps)."""
    client = MlflowClient(mlflow_server.uri)
    _, run_path = _fixture_run(client, tmp_path, "wal-damage-exit-codes")
    damage_record(run_path / "wal.log", 5)
    broken = tmp_path / "runs" / "broken"
    broken.mkdir()
    (broken / "run.json").write_text("{not json")
    result = run_cli("sync", "--all", "--runs-dir", str(tmp_path / "runs"))
    assert result.returncode == 1, result.stderr
    assert "skipped: record 5 not replayed" in result.stderr
    assert f"error: {broken}: {broken / 'run.json'} is damaged" in result.stderr

"""The local copy of a run's artifact folder, against MLflow's own local artifact repository."""

from __future__ import annotations

from pathlib import Path

import pytest
from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository

from tracking_demo.errors import ConfigError
from tracking_demo.tracking.artifact_mirror import ArtifactMirror, follow_while_active, list_files
from tracking_demo.tracking.run_lookup import RunReference, parse_run_reference

EVENTS = "events.out.tfevents.1.host"


def _store(root: Path, relative: str, data: bytes) -> None:
    path = root / "tensorboard" / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


@pytest.fixture
def store(tmp_path: Path) -> Path:
    return tmp_path / "artifacts"


@pytest.fixture
def mirror(store: Path, tmp_path: Path) -> ArtifactMirror:
    store.mkdir()
    repository = get_artifact_repository(store.as_uri())
    return ArtifactMirror(repository, "tensorboard", tmp_path / "mirror")


def test_lists_nested_files_with_their_sizes(mirror: ArtifactMirror, store: Path) -> None:
    _store(store, f"train/{EVENTS}", b"12345")
    _store(store, f"validation/{EVENTS}", b"12")
    listed = list_files(mirror.repository, "tensorboard")
    assert [(f.path, f.size) for f in listed] == [
        (f"train/{EVENTS}", 5),
        (f"validation/{EVENTS}", 2),
    ]


def test_a_missing_folder_mirrors_as_empty(mirror: ArtifactMirror) -> None:
    assert mirror.refresh() == []
    assert mirror.destination.is_dir()


def test_fetches_only_new_or_grown_files(mirror: ArtifactMirror, store: Path) -> None:
    _store(store, f"train/{EVENTS}", b"epoch 1;")
    _store(store, f"validation/{EVENTS}", b"val 1;")
    assert mirror.refresh() == [f"train/{EVENTS}", f"validation/{EVENTS}"]
    assert mirror.refresh() == []
    local = mirror.destination / "train" / EVENTS
    inode = local.stat().st_ino
    _store(store, f"train/{EVENTS}", b"epoch 1; epoch 2;")
    assert mirror.refresh() == [f"train/{EVENTS}"]
    assert local.read_bytes() == b"epoch 1; epoch 2;"
    assert local.stat().st_ino == inode  # appended in place, as TensorBoard reads on


def test_a_file_replaced_by_a_shorter_one_is_swapped_in_whole(
    mirror: ArtifactMirror, store: Path
) -> None:
    _store(store, EVENTS, b"a longer first file")
    mirror.refresh()
    _store(store, EVENTS, b"short")
    assert mirror.refresh() == [EVENTS]
    assert (mirror.destination / EVENTS).read_bytes() == b"short"
    assert [p.name for p in mirror.destination.iterdir()] == [EVENTS]  # no partial file left


def test_following_stops_when_the_run_ends_after_one_last_fetch(
    mirror: ArtifactMirror, store: Path
) -> None:
    statuses = iter(["RUNNING", "RUNNING", "FINISHED"])
    updates: list[list[str]] = []

    def status() -> str:
        current = next(statuses)
        if current == "FINISHED":  # uploaded just before the run ended
            _store(store, EVENTS, b"last epoch")
        return current

    assert follow_while_active(mirror, status, 0.01, updates.append) == "FINISHED"
    assert updates == [[EVENTS]]


def test_a_run_that_ended_before_following_began_gets_its_last_files(
    mirror: ArtifactMirror, store: Path
) -> None:
    mirror.refresh()
    _store(store, EVENTS, b"uploaded at the end")
    updates: list[list[str]] = []
    assert follow_while_active(mirror, lambda: "FINISHED", 60, updates.append) == "FINISHED"
    assert updates == [[EVENTS]]


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("3f2a9c", RunReference("3f2a9c")),
        ("mnist-lenet-3f2a", RunReference("mnist-lenet-3f2a")),
        (
            "http://127.0.0.1:5000/#/experiments/1/runs/abc123",
            RunReference("abc123", "http://127.0.0.1:5000"),
        ),
        (
            "https://host/mlflow/#/experiments/1/runs/abc123/artifacts",
            RunReference("abc123", "https://host/mlflow"),
        ),
        (
            "https://ml.azure.com/runs/sincere_apple_1x2?wsid=/sub",
            RunReference("sincere_apple_1x2"),
        ),
    ],
)
def test_run_references(given: str, expected: RunReference) -> None:
    assert parse_run_reference(given) == expected


def test_a_page_without_a_run_is_one_clear_error() -> None:
    with pytest.raises(ConfigError, match="/runs/<run id>"):
        parse_run_reference("http://127.0.0.1:5000/#/experiments/1")

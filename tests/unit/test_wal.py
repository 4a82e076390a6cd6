"""The write-ahead log's format: what is replayed, and what a damaged tail costs."""

from __future__ import annotations

import math
import zlib
from pathlib import Path

import pytest

from tracking_demo.tracking.records import (
    ArtifactRecord,
    DatasetRecord,
    EndRecord,
    MetricRecord,
    ParamRecord,
    Record,
    RegistrationRecord,
    TagRecord,
)
from tracking_demo.tracking.wal import RunDir, RunMeta, WalError, WalFile, encode, read_wal

RECORDS: list[tuple[int, Record]] = [
    (1, MetricRecord("loss", 0.5, 1000, 0)),
    (2, ParamRecord("note", "tab\there\nnewline é")),
    (3, MetricRecord("loss", float("nan"), 1001, 1)),
    (4, MetricRecord("loss", float("inf"), 1002, 2)),
]


# Written by the logger before records were typed (commit 7777974, on 6deac89's code): a run
# whose server was down throughout, with every record kind. Its bytes are the format's contract.
FIXTURE_RUN = (
    Path(__file__).parent.parent / "fixtures" / "run_log" / "0f1e2d3c4b5a69788796a5b4c3d2e1f0"
)
FIXTURE_TS = 1795982401752
TRAIN_SCHEMA = '{"mlflow_colspec": [{"type": "double", "name": "x1", "required": true}]}'
FIXTURE_RECORDS: list[Record] = [
    TagRecord("tracking_demo.version", "0.1.0"),
    TagRecord("tracking_demo.task", "moons"),
    ParamRecord("lr", "0.1"),
    ParamRecord("epochs", "3"),
    ParamRecord("note", "tab\there\nnewline é"),
    MetricRecord("loss", 0.69, FIXTURE_TS, 0),
    MetricRecord("accuracy", 0.5, FIXTURE_TS, 0),
    MetricRecord("loss", 0.41, FIXTURE_TS, 1),
    MetricRecord("accuracy", 0.81, FIXTURE_TS, 1),
    MetricRecord("loss", 0.33, FIXTURE_TS, 2),
    MetricRecord("accuracy", 0.875, FIXTURE_TS, 2),
    MetricRecord("grad_norm", math.nan, 1_700_000_000_400, 3),
    MetricRecord("grad_norm", math.inf, 1_700_000_000_500, 4),
    MetricRecord("grad_norm", -math.inf, 1_700_000_000_600, 5),
    ArtifactRecord("artifacts/1/notes.txt", None),
    ArtifactRecord("artifacts/2/curve.csv", "plots"),
    ArtifactRecord("artifacts/3/files", "data"),
    ArtifactRecord("artifacts/4/model", "model"),
    DatasetRecord(
        "moons-train",
        "5f3c2a1b",
        "local",
        '{"uri": "file:///data/moons/train.csv"}',
        TRAIN_SCHEMA,
        '{"num_rows": 400}',
        {"mlflow.data.context": "train"},
    ),
    DatasetRecord("moons-test", "9a8b7c6d", "local", '{"uri": "file:///data/moons/test.csv"}'),
    RegistrationRecord("moons-model", "model", {"stage": "candidate"}),
    MetricRecord("accuracy", 1.0, 1_700_000_000_700, 6),
    EndRecord("FINISHED", FIXTURE_TS + 2),
]


def _write(path: Path, records: list[tuple[int, Record]] = RECORDS) -> Path:
    wal = WalFile(path)
    wal.append(records)
    wal.close()
    return path


def test_round_trip_keeps_order_text_and_special_floats(tmp_path: Path) -> None:
    contents = read_wal(_write(tmp_path / "wal.log"))
    assert contents.problem is None
    assert [seq for seq, _ in contents.records] == [1, 2, 3, 4]
    assert contents.records[0][1] == RECORDS[0][1]
    assert contents.records[1][1] == ParamRecord("note", "tab\there\nnewline é")
    nan, inf = contents.records[2][1], contents.records[3][1]
    assert isinstance(nan, MetricRecord) and math.isnan(nan.value)
    assert inf == MetricRecord("loss", math.inf, 1002, 2)


def test_one_record_per_line(tmp_path: Path) -> None:
    lines = _write(tmp_path / "wal.log").read_text(encoding="utf-8").splitlines()
    assert len(lines) == len(RECORDS)
    assert lines[0] == encode(*RECORDS[0]).rstrip("\n")


def test_truncated_tail_is_reported_and_the_rest_kept(tmp_path: Path) -> None:
    path = _write(tmp_path / "wal.log")
    data = path.read_bytes()
    path.write_bytes(data[:-7])
    contents = read_wal(path)
    assert [seq for seq, _ in contents.records] == [1, 2, 3]
    assert contents.problem is not None
    assert "after sequence 3 is truncated" in contents.problem
    assert contents.skipped_bytes == len(encode(*RECORDS[3]).encode()) - 7


def test_corrupt_record_stops_replay_there(tmp_path: Path) -> None:
    path = _write(tmp_path / "wal.log")
    data = bytearray(path.read_bytes())
    second_line = data.index(b"\n") + 1
    data[second_line + 20] ^= 0x01
    path.write_bytes(bytes(data))
    contents = read_wal(path)
    assert [seq for seq, _ in contents.records] == [1]
    assert contents.problem is not None
    assert "checksum mismatch" in contents.problem


def test_sequence_gap_is_damage(tmp_path: Path) -> None:
    path = _write(tmp_path / "wal.log", [RECORDS[0], (3, RECORDS[2][1])])
    contents = read_wal(path)
    assert [seq for seq, _ in contents.records] == [1]
    assert "sequence jumps from 1 to 3" in (contents.problem or "")


def test_missing_log_reads_as_empty(tmp_path: Path) -> None:
    assert read_wal(tmp_path / "absent.log").records == []


def test_run_dir_lock_excludes_a_second_owner(tmp_path: Path) -> None:
    first = RunDir.create(tmp_path, RunMeta("abc", "http://127.0.0.1:1", "0"))
    first.lock()
    try:
        with pytest.raises(WalError, match="in use by a live process"):
            RunDir(first.path).lock()
    finally:
        first.unlock()
    second = RunDir(first.path)
    second.lock()
    second.unlock()


def test_not_a_run_folder_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(WalError, match=r"not a run log folder \(no run.json\)"):
        RunDir(tmp_path).meta()


def test_acked_offset_round_trip(tmp_path: Path) -> None:
    run_dir = RunDir.create(tmp_path, RunMeta("abc", "http://127.0.0.1:1", "0"))
    assert run_dir.acked() == 0
    run_dir.write_acked(42)
    assert RunDir(run_dir.path).acked() == 42


def test_log_written_before_typed_records_reads_as_typed_records() -> None:
    contents = read_wal(FIXTURE_RUN / "wal.log")
    assert contents.problem is None
    assert [seq for seq, _ in contents.records] == list(range(1, 24))
    read = [record for _, record in contents.records]
    nan_at = 11  # compared on its own: NaN never equals NaN
    assert (
        read[:nan_at] + read[nan_at + 1 :]
        == FIXTURE_RECORDS[:nan_at] + FIXTURE_RECORDS[nan_at + 1 :]
    )
    nan = read[nan_at]
    assert isinstance(nan, MetricRecord) and math.isnan(nan.value) and nan.step == 3
    assert RunDir(FIXTURE_RUN).meta().run_id == FIXTURE_RUN.name


def test_log_written_before_typed_records_re_encodes_to_the_same_bytes() -> None:
    contents = read_wal(FIXTURE_RUN / "wal.log")
    rewritten = "".join(encode(seq, record) for seq, record in contents.records)
    assert rewritten.encode("utf-8") == (FIXTURE_RUN / "wal.log").read_bytes()


def test_intact_line_with_a_malformed_record_stops_replay_there(tmp_path: Path) -> None:
    payload = '{"t":"m","k":"loss","v":"high","ts":1003,"s":3}'
    checksum = zlib.crc32(("3\t" + payload).encode())
    path = _write(tmp_path / "wal.log", RECORDS[:2])
    with path.open("a", encoding="utf-8") as handle:
        handle.write(f"3\t{checksum:08x}\t{payload}\n")
        handle.write(encode(*RECORDS[3]))
    contents = read_wal(path)
    assert [seq for seq, _ in contents.records] == [1, 2]
    assert contents.problem is not None
    assert "metric record: field 'v' is 'high', not a number" in contents.problem

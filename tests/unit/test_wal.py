"""The write-ahead log's format: what is replayed, and what a damaged tail costs."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from tracking_demo.tracking.wal import RunDir, RunMeta, WalError, WalFile, encode, read_wal

RECORDS = [
    (1, {"t": "m", "k": "loss", "v": 0.5, "ts": 1000, "s": 0}),
    (2, {"t": "p", "k": "note", "v": "tab\there\nnewline é"}),
    (3, {"t": "m", "k": "loss", "v": float("nan"), "ts": 1001, "s": 1}),
    (4, {"t": "m", "k": "loss", "v": float("inf"), "ts": 1002, "s": 2}),
]


def _write(path: Path, records=RECORDS) -> Path:  # type: ignore[no-untyped-def]
    wal = WalFile(path)
    wal.append(records)
    wal.close()
    return path


def test_round_trip_keeps_order_text_and_special_floats(tmp_path: Path) -> None:
    contents = read_wal(_write(tmp_path / "wal.log"))
    assert contents.problem is None
    assert [seq for seq, _ in contents.records] == [1, 2, 3, 4]
    assert contents.records[1][1]["v"] == "tab\there\nnewline é"
    assert math.isnan(contents.records[2][1]["v"])
    assert contents.records[3][1]["v"] == math.inf


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

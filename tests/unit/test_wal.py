"""The write-ahead log's format: what is replayed, and what a damaged record costs (itself)."""

from __future__ import annotations

import itertools
import math
import re
import zlib
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.support.wal_damage import damage_record

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
from tracking_demo.tracking.wal import (
    RunDir,
    RunMeta,
    WalContents,
    WalError,
    WalFile,
    encode,
    read_wal,
)

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
    [gap] = contents.gaps
    assert (gap.first_seq, gap.last_seq, gap.byte_end) == (4, None, len(data) - 7)
    assert "the last line is truncated" in gap.message
    assert "it looks like metric 'loss' (a guess: the line is incomplete)" in gap.message
    assert not gap.may_hold_final_status  # what a killed writer leaves: the run never ended
    assert contents.skipped_bytes == len(encode(*RECORDS[3]).encode()) - 7


def _lines(data: bytes) -> list[bytes]:
    """Lines as the log has them: ended by a newline only (not `bytes.splitlines`'s \\r)."""
    return re.findall(rb"[^\n]*\n|[^\n]+$", data)


@pytest.mark.parametrize(("damaged", "kept"), [(1, [2, 3, 4]), (2, [1, 3, 4]), (4, [1, 2, 3])])
def test_a_damaged_record_costs_only_itself(tmp_path: Path, damaged: int, kept: list[int]) -> None:
    """The first, a middle and the last record: the reader goes on at the next intact line."""
    path = _write(tmp_path / "wal.log")
    starts = [0, *itertools.accumulate(len(line) for line in _lines(path.read_bytes()))]
    damage_record(path, damaged)
    contents = read_wal(path)
    assert [seq for seq, _ in contents.records] == kept
    assert [record for seq, record in contents.records if seq == 1] == [
        record for seq, record in RECORDS[:1] if seq in kept
    ]
    [gap] = contents.gaps
    last_seq = None if damaged == 4 else damaged  # nothing after the last: how many is unknown
    assert (gap.first_seq, gap.last_seq) == (damaged, last_seq)
    assert (gap.byte_start, gap.byte_end) == (starts[damaged - 1], starts[damaged])
    assert gap.reason == "checksum mismatch"
    assert gap.message.startswith(f"record {damaged} ")
    assert f"(at byte {starts[damaged - 1]}, " in gap.message


def test_two_damaged_regions_are_two_gaps(tmp_path: Path) -> None:
    records = [(i, MetricRecord("loss", i / 10, 1000 + i, i)) for i in range(1, 11)]
    path = _write(tmp_path / "wal.log", records)
    for seq in (3, 4, 8):
        damage_record(path, seq)
    contents = read_wal(path)
    assert [seq for seq, _ in contents.records] == [1, 2, 5, 6, 7, 9, 10]
    assert [(g.first_seq, g.last_seq, g.missing) for g in contents.gaps] == [
        (3, 4, 2),
        (8, 8, 1),
    ]
    assert contents.gaps[0].message.startswith("records 3-4 not replayed")
    assert "2 lines not replayed, checksum mismatch" in contents.gaps[0].message
    assert "metric 'loss' step 3" in contents.gaps[0].message
    assert "metric 'loss' step 4" in contents.gaps[0].message
    assert contents.problem == "\n".join(gap.message for gap in contents.gaps)


def test_intact_line_with_a_malformed_record_is_a_gap_and_the_rest_is_replayed(
    tmp_path: Path,
) -> None:
    payload = '{"t":"m","k":"loss","v":"high","ts":1003,"s":3}'
    checksum = zlib.crc32(("3\t" + payload).encode())
    path = _write(tmp_path / "wal.log", RECORDS[:2])
    with path.open("a", encoding="utf-8") as handle:
        handle.write(f"3\t{checksum:08x}\t{payload}\n")
        handle.write(encode(*RECORDS[3]))
    contents = read_wal(path)
    assert [seq for seq, _ in contents.records] == [1, 2, 4]
    [gap] = contents.gaps
    assert (gap.first_seq, gap.last_seq) == (3, 3)
    assert "metric record: field 'v' is 'high', not a number" in gap.message
    assert "it was metric 'loss' step 3" in gap.message  # its checksum held: not a guess


@pytest.mark.parametrize(
    "line",
    [b"garbage without tabs\n", b"\n", b"3\t0000\t{}\n", b"x\t00000000\t{}\n"],
    ids=["no-tabs", "empty", "short-checksum", "seq-not-a-number"],
)
def test_a_line_without_record_structure_is_a_gap(tmp_path: Path, line: bytes) -> None:
    path = _write(tmp_path / "wal.log", RECORDS[:2])
    with path.open("ab") as handle:
        handle.write(line)
        handle.write(encode(*RECORDS[2]).encode())
    contents = read_wal(path)
    assert [seq for seq, _ in contents.records] == [1, 2, 3]
    [gap] = contents.gaps
    assert (gap.first_seq, gap.last_seq, gap.missing) == (3, 2, 0)
    assert gap.message.startswith("no sequence number missing")


def test_valid_checksum_but_not_json_is_a_gap(tmp_path: Path) -> None:
    payload = '{"t":"e","status":"FINISHED",'
    checksum = zlib.crc32(("3\t" + payload).encode())
    path = _write(tmp_path / "wal.log", RECORDS[:2])
    with path.open("a", encoding="utf-8") as handle:
        handle.write(f"3\t{checksum:08x}\t{payload}\n")
    [gap] = read_wal(path).gaps
    assert "intact line, but not a JSON record" in gap.reason
    assert "it was the run's final status (FINISHED)" in gap.message
    assert gap.may_hold_final_status


def test_repeated_sequence_is_a_gap_never_a_merge(tmp_path: Path) -> None:
    path = _write(tmp_path / "wal.log", [*RECORDS[:3], RECORDS[1], RECORDS[3]])
    contents = read_wal(path)
    assert [seq for seq, _ in contents.records] == [1, 2, 3, 4]
    [gap] = contents.gaps
    assert gap.missing == 0
    assert "record numbered 2 after 3 (repeated or out of order)" in gap.message
    assert "it was param 'note'" in gap.message


def test_reordered_sequence_is_two_gaps(tmp_path: Path) -> None:
    """1 2 4 3: 3 is missing where 4 comes, and the late 3 is not merged after 4."""
    path = _write(tmp_path / "wal.log", [RECORDS[0], RECORDS[1], RECORDS[3], RECORDS[2]])
    contents = read_wal(path)
    assert [seq for seq, _ in contents.records] == [1, 2, 4]
    jump, late = contents.gaps
    assert (jump.first_seq, jump.last_seq, jump.byte_end - jump.byte_start) == (3, 3, 0)
    assert "the sequence jumps from 2 to 4" in jump.message
    assert (late.first_seq, late.last_seq) == (5, None)
    assert "record numbered 3 after 4" in late.message
    assert not late.may_hold_final_status  # an intact metric, not a lost final status


def test_sequence_jump_is_a_gap_and_what_follows_is_replayed(tmp_path: Path) -> None:
    path = _write(tmp_path / "wal.log", [RECORDS[0], (3, RECORDS[2][1]), (4, RECORDS[3][1])])
    contents = read_wal(path)
    assert [seq for seq, _ in contents.records] == [1, 3, 4]
    [gap] = contents.gaps
    assert (gap.first_seq, gap.last_seq) == (2, 2)
    assert "the sequence jumps from 1 to 3" in gap.message


@pytest.mark.parametrize(
    ("seq", "named"),
    [
        (15, "it looks like the artifact"),
        (18, "it looks like the artifact 'model'"),
        (19, "it looks like the dataset input 'moons-train'"),
        (21, "it looks like the registration of model 'moons-model'"),
        (23, "it looks like the run's final status"),
    ],
)
def test_a_damaged_record_is_named_as_a_guess(tmp_path: Path, seq: int, named: str) -> None:
    path = tmp_path / "wal.log"
    path.write_bytes((FIXTURE_RUN / "wal.log").read_bytes())
    damage_record(path, seq)
    [gap] = read_wal(path).gaps
    assert named in gap.message
    assert "(a guess: its checksum failed)" in gap.message
    assert gap.may_hold_final_status == (seq == 23)


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


# Any bytes, and any damage to a valid log: the reader never raises, and what it returns is
# exactly the intact lines whose sequence numbers rise (the oracle below, written from the rule).
PROPERTIES = settings(
    max_examples=300,
    deadline=None,
    database=None,  # nothing written into the working tree; a failure prints its example
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
VALID_LOG: list[bytes] = [
    line.encode() for line in (encode(seq, record) for seq, record in enumerate(FIXTURE_RECORDS, 1))
]
_positions = st.integers(min_value=0, max_value=10_000)
MUTATIONS = st.one_of(
    st.tuples(st.just("flip"), _positions, st.integers(0, 7)),
    st.tuples(st.just("delete"), _positions, st.integers(1, 80)),
    st.tuples(st.just("insert"), _positions, st.binary(min_size=1, max_size=12)),
    st.tuples(st.just("truncate"), _positions),
    st.tuples(st.just("copy-line"), _positions, _positions),
    st.tuples(st.just("swap-lines"), _positions, _positions),
)


def _mutate(data: bytes, mutation: tuple[Any, ...]) -> bytes:
    kind, *args = mutation
    at = args[0] % (len(data) + 1)
    if kind == "flip" and data:
        at %= len(data)
        return data[:at] + bytes([data[at] ^ (1 << args[1])]) + data[at + 1 :]
    if kind == "delete":
        return data[:at] + data[at + args[1] :]
    if kind == "insert":
        return data[:at] + args[1] + data[at:]
    if kind == "truncate":
        return data[:at]
    lines = _lines(data)
    if not lines:
        return data
    first, second = args[0] % len(lines), args[1] % len(lines)
    if kind == "copy-line":
        lines.insert(second, lines[first])
    else:
        lines[first], lines[second] = lines[second], lines[first]
    return b"".join(lines)


def _check_partition(data: bytes, contents: WalContents) -> None:
    """Returned records and gaps cover every byte of the log once, in order."""
    seqs = [seq for seq, _ in contents.records]
    assert seqs == sorted(set(seqs)), "sequence numbers strictly increase"
    covered = sum(len(encode(seq, record).encode()) for seq, record in contents.records)
    ranges = [(gap.byte_start, gap.byte_end) for gap in contents.gaps]
    assert ranges == sorted(ranges)
    assert all(start <= end <= len(data) for start, end in ranges)
    assert covered + contents.skipped_bytes == len(data)
    assert all("\n" not in gap.message for gap in contents.gaps)  # one line per gap


@PROPERTIES
@given(mutations=st.lists(MUTATIONS, min_size=1, max_size=4))
def test_any_damage_to_a_valid_log_costs_only_the_damaged_lines(
    tmp_path: Path,
    mutations: list[tuple[Any, ...]],
) -> None:
    data = b"".join(VALID_LOG)
    for mutation in mutations:
        data = _mutate(data, mutation)
    path = tmp_path / "wal.log"
    path.write_bytes(data)
    contents = read_wal(path)

    written = set(VALID_LOG)
    expected, last = [], 0
    for line in _lines(data):
        seq = int(line.split(b"\t", 1)[0]) if line in written else 0
        if line.endswith(b"\n") and seq > last:  # intact, and above every record before it
            expected.append(line)
            last = seq
    returned = [encode(seq, record).encode() for seq, record in contents.records]
    assert returned == expected
    _check_partition(data, contents)


_FRAGMENTS = st.sampled_from(
    [b"\t", b"\n", b"1", b"00000000", b'{"t":"m"', b"}", b"\xff", b"NaN", *VALID_LOG[:3]]
)


@PROPERTIES
@given(data=st.one_of(st.binary(max_size=400), st.lists(_FRAGMENTS, max_size=30).map(b"".join)))
def test_any_bytes_read_without_raising(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "wal.log"
    path.write_bytes(data)
    contents = read_wal(path)
    assert all(encode(seq, r).encode() in VALID_LOG for seq, r in contents.records)
    _check_partition(data, contents)

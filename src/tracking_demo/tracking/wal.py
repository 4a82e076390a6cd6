"""The write-ahead log of one run: what was logged, in order, durable before it is sent.

A run's folder holds `run.json` (where the run lives), `wal.log` (one record per line:
`SEQ<TAB>CRC32<TAB>JSON`, the checksum covering `SEQ<TAB>JSON`, so a damaged line costs only
itself), `acked` (the highest sequence number the tracking server acknowledged), `artifacts/`
(files waiting to be uploaded) and `lock` (held by the process writing the run, so `sync` never
races a live writer). Lines are
human-readable on purpose: after an incident, `tail wal.log` shows what was kept.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import socket
import time
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from tracking_demo.errors import TrackingDemoError
from tracking_demo.tracking.disk_space import DISK_FULL_ERRNOS
from tracking_demo.tracking.records import Record, RecordError, decode_record, encode_record
from tracking_demo.tracking.wal_gaps import (
    DamagedLine,
    WalGap,
    damaged_line,
    gap_between,
    out_of_order_line,
)

WAL_FILE = "wal.log"
ACKED_FILE = "acked"
META_FILE = "run.json"
LOCK_FILE = "lock"
ARTIFACTS_DIR = "artifacts"
DONE_FILE = "done"

logger = logging.getLogger(__name__)


class WalError(TrackingDemoError):
    """A run folder is missing, unreadable, or in use by a live process."""


@dataclass(frozen=True)
class RunMeta:
    """Where the logged records belong; written once when the run starts."""

    run_id: str
    tracking_uri: str
    experiment_id: str
    pid: int = field(default_factory=os.getpid)
    host: str = field(default_factory=socket.gethostname)
    created_ms: int = field(default_factory=lambda: int(time.time() * 1000))


@dataclass(frozen=True)
class WalContents:
    """Every record whose checksum and sequence check out, in order, and the gaps between them."""

    records: list[tuple[int, Record]]
    gaps: list[WalGap] = field(default_factory=list)

    @property
    def problem(self) -> str | None:
        """Every gap in one line each; None when the whole log was replayed."""
        return "\n".join(gap.message for gap in self.gaps) or None

    @property
    def skipped_bytes(self) -> int:
        return sum(gap.byte_end - gap.byte_start for gap in self.gaps)


def encode(seq: int, record: Record) -> str:
    """One line; NaN and infinities stay as JSON's NaN/Infinity tokens, which Python reads back."""
    payload = json.dumps(encode_record(record), separators=(",", ":"))
    crc = zlib.crc32(f"{seq}\t{payload}".encode())
    return f"{seq}\t{crc:08x}\t{payload}\n"


class _LineDamage(ValueError):
    """Why one line is not a record; `checksum_ok` when its bytes are as they were written."""

    def __init__(self, reason: str, checksum_ok: bool = False) -> None:
        super().__init__(reason)
        self.checksum_ok = checksum_ok


def _decode(line: bytes) -> tuple[int, Record]:
    """Decoded here, once: a line that is intact but not a valid record is damage too."""
    fields = line.rstrip(b"\n").split(b"\t", 2)
    if len(fields) != 3:
        raise _LineDamage("not a record line (SEQ<TAB>CRC32<TAB>JSON)")
    seq_text, crc_text, payload = fields
    if not (seq_text.isascii() and seq_text.isdigit() and len(seq_text) < 20):
        raise _LineDamage("its sequence number is not a number")
    if not (len(crc_text) == 8 and crc_text.isascii() and _is_hex(crc_text)):
        raise _LineDamage("its checksum is not 8 lowercase hex digits")
    if zlib.crc32(seq_text + b"\t" + payload) != int(crc_text, 16):
        raise _LineDamage("checksum mismatch")
    try:
        return int(seq_text), decode_record(json.loads(payload))
    except RecordError as error:
        raise _LineDamage(f"intact line, but {error}", checksum_ok=True) from error
    except (ValueError, RecursionError) as error:
        raise _LineDamage(f"intact line, but not a JSON record ({error})", True) from error


def _is_hex(text: bytes) -> bool:
    return all(char in b"0123456789abcdef" for char in text)  # as written: `{crc:08x}`


def read_wal(path: Path) -> WalContents:
    """Every intact record in sequence order; each damaged stretch is a gap, and reading goes on.

    Every line carries its own sequence number and checksum, so one bad line costs only itself:
    the reader resynchronises at the next end of line. Sequence numbers only go up: an intact
    record numbered at or below the last one replayed (repeated, reordered) is part of a gap,
    never merged; a jump forward is a gap too, and the record after it is replayed.
    """
    data = path.read_bytes() if path.exists() else b""
    records: list[tuple[int, Record]] = []
    gaps: list[WalGap] = []
    damaged: list[DamagedLine] = []  # since the last replayed record
    gap_start = offset = 0
    while offset < len(data):
        newline = data.find(b"\n", offset)
        line_end = len(data) if newline < 0 else newline + 1
        line = data[offset:line_end]
        last = _last_seq(records)
        if newline < 0:
            reason = f"the last line is truncated (no end of line, {len(line)} bytes)"
            damaged.append(damaged_line(line, offset, reason, torn=True))
        else:
            try:
                seq, record = _decode(line)
            except _LineDamage as error:
                damaged.append(damaged_line(line, offset, str(error), error.checksum_ok))
            else:
                if seq <= last:
                    damaged.append(out_of_order_line(line, offset, seq, last, record))
                else:
                    if damaged or seq > last + 1:
                        gaps.append(gap_between(last, seq, damaged, gap_start, offset))
                        damaged = []
                    records.append((seq, record))
                    gap_start = line_end
        offset = line_end
    if damaged:
        gaps.append(gap_between(_last_seq(records), None, damaged, gap_start, len(data)))
    return WalContents(records, gaps)


def _last_seq(records: Sequence[tuple[int, Record]]) -> int:
    return records[-1][0] if records else 0


class WalFile:
    """Append-only writer; `append` returns once the lines are fsync'd.

    An append that fails (a full disk) is cut off again, so the log never keeps a torn line in
    its middle and a later append continues from the last whole record.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        self._size = os.fstat(self._fd).st_size

    def append(self, records: Iterable[tuple[int, Record]]) -> None:
        data = "".join(encode(seq, record) for seq, record in records).encode()
        try:
            written = 0
            while written < len(data):
                written += os.write(self._fd, data[written:])
            os.fsync(self._fd)
        except OSError:
            with contextlib.suppress(OSError):
                os.ftruncate(self._fd, self._size)
            raise
        self._size += len(data)

    def close(self) -> None:
        os.close(self._fd)


class RunDir:
    """The on-disk layout of one run's log; shared by the live logger and `sync`."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock_fd: int | None = None
        self._warned_full: set[str] = set()

    @classmethod
    def create(cls, root: Path, meta: RunMeta) -> RunDir:
        run_dir = cls(root / meta.run_id)
        (run_dir.path / ARTIFACTS_DIR).mkdir(parents=True, exist_ok=True)
        _write_atomically(run_dir.path / META_FILE, json.dumps(asdict(meta), indent=2))
        return run_dir

    @property
    def wal_path(self) -> Path:
        return self.path / WAL_FILE

    @property
    def artifacts(self) -> Path:
        return self.path / ARTIFACTS_DIR

    @property
    def is_done(self) -> bool:
        return (self.path / DONE_FILE).exists()

    def meta(self) -> RunMeta:
        try:
            return RunMeta(**json.loads((self.path / META_FILE).read_text()))
        except FileNotFoundError as error:
            raise WalError(f"{self.path} is not a run log folder (no {META_FILE})") from error
        except (json.JSONDecodeError, TypeError) as error:
            raise WalError(f"{self.path / META_FILE} is damaged: {error}") from error

    def acked(self) -> int:
        try:
            return int((self.path / ACKED_FILE).read_text().strip() or 0)
        except FileNotFoundError:
            return 0

    def write_acked(self, seq: int) -> None:
        """Atomic replace without fsync: losing it costs a re-send, which replay deduplicates,
        so a full disk only earns one warning here."""
        self._write_if_room(ACKED_FILE, str(seq), durable=False)

    def mark_done(self) -> None:
        """Everything was delivered; on a full disk the folder is removed without the mark."""
        self._write_if_room(DONE_FILE, str(int(time.time() * 1000)))

    def _write_if_room(self, name: str, text: str, durable: bool = True) -> None:
        try:
            _write_atomically(self.path / name, text, durable)
        except OSError as error:
            if error.errno not in DISK_FULL_ERRNOS:
                raise
            if name not in self._warned_full:
                self._warned_full.add(name)
                logger.warning(
                    "no space left to write %s in %s; delivery goes on (a later sync may "
                    "send some records again, which it deduplicates)",
                    name,
                    self.path,
                )

    def lock(self) -> None:
        """Claim the folder for this process; the OS drops the claim if the process dies."""
        fd = os.open(self.path / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as error:
            os.close(fd)
            owner = self._owner()
            raise WalError(
                f"run log {self.path} is in use by a live process ({owner}); "
                "wait for it to end or stop it first"
            ) from error
        os.ftruncate(fd, 0)
        with contextlib.suppress(OSError):  # the owner's name only informs; a full disk refuses it
            os.write(fd, f"{os.getpid()}@{socket.gethostname()}".encode())
        self._lock_fd = fd

    def _owner(self) -> str:
        with contextlib.suppress(OSError):
            return "pid " + (self.path / LOCK_FILE).read_text().strip()
        return "unknown pid"

    def unlock(self) -> None:
        if self._lock_fd is not None:
            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
            os.close(self._lock_fd)
            self._lock_fd = None


def _write_atomically(path: Path, text: str, durable: bool = True) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        with tmp.open("w", encoding="utf-8") as handle:
            handle.write(text)
            if durable:
                handle.flush()
                os.fsync(handle.fileno())
    except OSError:
        tmp.unlink(missing_ok=True)
        raise
    os.replace(tmp, path)


def pending_run_dirs(root: Path) -> list[RunDir]:
    """Run folders under `root` whose records have not all reached the server."""
    if not root.is_dir():
        return []
    found = [RunDir(p) for p in sorted(root.iterdir()) if (p / META_FILE).exists()]
    return [run_dir for run_dir in found if not run_dir.is_done]

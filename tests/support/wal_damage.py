"""Damage one record of a run's write-ahead log the way a bad sector or a stray write would."""

from __future__ import annotations

from pathlib import Path


def damage_record(wal_path: Path, seq: int) -> None:
    """Flip one bit in the middle of record `seq`'s JSON payload, so only its checksum fails.

    The flipped byte stays printable ASCII (never a tab or a newline), so the line keeps its
    place and its neighbours stay intact: exactly one record is damaged.
    """
    data = bytearray(wal_path.read_bytes())
    start = 0
    while start < len(data):
        end = data.find(b"\n", start)
        end = len(data) if end < 0 else end
        fields = bytes(data[start:end]).split(b"\t", 2)
        if len(fields) == 3 and fields[0] == str(seq).encode():
            payload_at = start + len(fields[0]) + len(fields[1]) + 2
            middle = payload_at + len(fields[2]) // 2
            for at in range(middle, end):
                if 0x20 <= data[at] < 0x7E and data[at] ^ 0x01 not in b"\t\n":
                    data[at] ^= 0x01
                    wal_path.write_bytes(bytes(data))
                    return
            raise ValueError(f"record {seq} in {wal_path} has no byte that can be flipped")
        start = end + 1
    raise ValueError(f"{wal_path} has no record with sequence number {seq}")

"""What a write-ahead log could not replay: gaps, and a best guess at what each one held.

A gap is a stretch of the log between two replayed records: damaged lines (checksum mismatch,
no record shape, a torn tail), intact records out of sequence, or a jump in sequence numbers.
It is reported, never silently merged. The user's first question is what was lost, so each
damaged line is named from its own bytes where they still show it: the record's JSON when it
parses, otherwise its field names and values. When the checksum failed that name is a guess, and
the message says so.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass

from tracking_demo.tracking.records import Record

KIND_CODES = {
    "m": "metric",
    "p": "param",
    "g": "tag",
    "a": "artifact",
    "i": "dataset",
    "o": "model",
    "r": "registration",
    "e": "end",
}
_FIELD = re.compile(r'"(\w+)"\s*:\s*("(?:[^"\\]|\\.)*"|-?\d+)')
_SHOWN_LINES = 3
_END_STATUSES = ("FINISHED", "FAILED", "KILLED")


@dataclass(frozen=True)
class DamagedLine:
    """One line that was not replayed, where it lies, why, and what it seems to have been."""

    byte_start: int
    byte_end: int
    reason: str
    kind: str | None = None  # a record kind (`Record.kind`), or None when nothing shows it
    description: str | None = None  # e.g. "metric 'loss' step 3"
    checksum_ok: bool = False  # the bytes are as written: the kind is known, not guessed
    torn: bool = False  # the log's last line, without its end of line

    @property
    def named(self) -> str | None:
        if self.description is None:
            return None
        if self.checksum_ok:
            return f"it was {self.description}"
        why = "the line is incomplete" if self.torn else "its checksum failed"
        return f"it looks like {self.description} (a guess: {why})"


@dataclass(frozen=True)
class WalGap:
    """Sequence numbers `first_seq`..`last_seq` and bytes [`byte_start`, `byte_end`) not replayed.

    `last_seq` is None when no intact record follows (how many were lost is unknown); it is
    `first_seq - 1` when no number is missing (the gap held only repeated or reordered records).
    """

    first_seq: int
    last_seq: int | None
    byte_start: int
    byte_end: int
    reason: str
    damaged: tuple[DamagedLine, ...] = ()

    @property
    def missing(self) -> int | None:
        """How many sequence numbers are missing; None when the log ends in the gap."""
        return None if self.last_seq is None else self.last_seq - self.first_seq + 1

    @property
    def kinds(self) -> frozenset[str]:
        """The record kinds its damaged lines were, or seem to have been."""
        return frozenset(line.kind for line in self.damaged if line.kind)

    @property
    def may_hold_final_status(self) -> bool:
        """A damaged line here was (or looks like) the final status, or whole lines were lost at
        the log's end, where the final status is written. A torn last line alone is what a
        killed process leaves: the run did not end (rule 5)."""
        if "end" in self.kinds:
            return True
        return self.last_seq is None and any(
            not line.torn and not line.checksum_ok for line in self.damaged
        )

    @property
    def message(self) -> str:
        """One line for the user: which records, where, why, and what they were."""
        if self.last_seq is None:
            records = f"record {self.first_seq} and any after it not replayed"
        elif self.last_seq < self.first_seq:
            records = "no sequence number missing"
        elif self.last_seq == self.first_seq:
            records = f"record {self.first_seq} not replayed"
        else:
            records = f"records {self.first_seq}-{self.last_seq} not replayed"
        size = self.byte_end - self.byte_start
        named = [line.named for line in self.damaged if line.named]
        if len(named) > _SHOWN_LINES:
            named[_SHOWN_LINES:] = [f"and {len(named) - _SHOWN_LINES} more damaged lines"]
        return "; ".join(
            [f"{records} (at byte {self.byte_start}, {size} bytes): {self.reason}", *named]
        )


def damaged_line(
    line: bytes, byte_start: int, reason: str, checksum_ok: bool = False, torn: bool = False
) -> DamagedLine:
    """A line that failed to decode, named from whatever its bytes still show."""
    kind, description = guess_record(_payload(line))
    return DamagedLine(
        byte_start, byte_start + len(line), reason, kind, description, checksum_ok, torn
    )


def out_of_order_line(
    line: bytes, byte_start: int, seq: int, last_seq: int, record: Record
) -> DamagedLine:
    """An intact record whose sequence number does not follow the last one replayed."""
    reason = f"record numbered {seq} after {last_seq} (repeated or out of order)"
    _, description = guess_record(_payload(line))
    return DamagedLine(
        byte_start, byte_start + len(line), reason, record.kind, description, checksum_ok=True
    )


def gap_between(
    last_seq: int, next_seq: int | None, lines: list[DamagedLine], byte_start: int, byte_end: int
) -> WalGap:
    """The gap after record `last_seq` and before `next_seq` (None: the log ends first)."""
    if len(lines) == 1:
        reasons = [lines[0].reason]
    else:
        grouped = dict.fromkeys(_reason_kind(line.reason) for line in lines)
        reasons = [f"{len(lines)} lines not replayed", *grouped] if lines else []
    if next_seq is not None and not lines:
        reasons.append(f"the sequence jumps from {last_seq} to {next_seq}")
    last = None if next_seq is None else next_seq - 1
    return WalGap(last_seq + 1, last, byte_start, byte_end, ", ".join(reasons), tuple(lines))


def _reason_kind(reason: str) -> str:
    """Reasons grouped by kind, so 50 reordered lines read as one reason, not 50."""
    return "records out of order" if reason.startswith("record numbered") else reason


def _payload(line: bytes) -> bytes:
    fields = line.rstrip(b"\n").split(b"\t", 2)
    return fields[2] if len(fields) == 3 else line


def guess_record(payload: bytes) -> tuple[str | None, str | None]:
    """(kind, description) of a record from its JSON, or from the fields its text still shows."""
    fields = _fields(payload)
    kind = _kind(fields)
    if kind is None:
        return None, None
    return kind, _describe(kind, fields)


def _fields(payload: bytes) -> dict[str, object]:
    text = payload.decode("utf-8", errors="replace")
    try:
        parsed = json.loads(text)
    except (ValueError, RecursionError):
        parsed = None
    if isinstance(parsed, dict):
        nested = parsed.get("dataset")
        flat = {**nested, **parsed} if isinstance(nested, dict) else parsed
        return {str(k): v for k, v in flat.items()}
    found: dict[str, object] = {}
    for name, raw in _FIELD.findall(text):
        try:
            found.setdefault(name, json.loads(raw))
        except ValueError:
            continue
    return found


def _kind(fields: Mapping[str, object]) -> str | None:
    """Distinctive field names first: one flipped bit in the one-letter code must not mislead."""
    if "status" in fields or "end_ms" in fields:
        return "end"
    if "model_path" in fields:
        return "registration"
    if "dataset" in fields or "digest" in fields:
        return "dataset"
    if "ts" in fields or "s" in fields:
        return "metric"
    if "local" in fields:
        return "model" if {"type", "metrics", "params"} & set(fields) else "artifact"
    code = fields.get("t")
    return KIND_CODES.get(code) if isinstance(code, str) else None


def _describe(kind: str, fields: Mapping[str, object]) -> str:
    def text(name: str) -> str | None:
        value = fields.get(name)
        return repr(value) if isinstance(value, str) else None

    match kind:
        case "metric":
            step = fields.get("s")
            at = f" step {step}" if isinstance(step, int) else ""
            return f"metric {text('k') or '(name unreadable)'}{at}"
        case "param" | "tag":
            return f"{kind} {text('k') or '(name unreadable)'}"
        case "artifact":
            return f"the artifact {text('path') or text('local') or '(path unreadable)'}"
        case "dataset":
            return f"the dataset input {text('name') or '(name unreadable)'}"
        case "model":
            return f"the model {text('name') or '(name unreadable)'}"
        case "registration":
            return f"the registration of model {text('name') or '(name unreadable)'}"
        case _:
            status = fields.get("status")
            shown = f" ({status})" if status in _END_STATUSES else ""  # not a garbled one
            return f"the run's final status{shown}"

"""What a run logs, one typed record per kind; the only module that knows their on-disk codes.

The write-ahead log keeps each record as a compact JSON object keyed by one-letter codes
(`{"t": "m", "k": "loss", ...}`: a long training run writes millions). `encode_record` and
`decode_record` translate in one place, so a wrong field fails where a log is read, with the
field named, not later in the middle of a replay.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeAlias, assert_never


class RecordError(ValueError):
    """An intact log line (its checksum matches) that is not a record this code can replay."""


@dataclass(frozen=True, slots=True)
class MetricRecord:
    """One point of a metric's history."""

    kind: ClassVar[str] = "metric"
    key: str
    value: float
    timestamp_ms: int
    step: int


@dataclass(frozen=True, slots=True)
class ParamRecord:
    """A run parameter; MLflow keeps its first value only."""

    kind: ClassVar[str] = "param"
    key: str
    value: str


@dataclass(frozen=True, slots=True)
class TagRecord:
    """A run tag; a later value replaces an earlier one."""

    kind: ClassVar[str] = "tag"
    key: str
    value: str


@dataclass(frozen=True, slots=True)
class ArtifactRecord:
    """A file or folder kept in the run's log folder until it is uploaded."""

    kind: ClassVar[str] = "artifact"
    local: str  # relative to the run's log folder, so the folder can be moved before `sync`
    path: str | None = None


@dataclass(frozen=True, slots=True)
class DatasetRecord:
    """A run input: the fields of MLflow's `Dataset` entity and the input's tags."""

    kind: ClassVar[str] = "dataset"
    name: str
    digest: str
    source_type: str
    source: str
    schema: str | None = None
    profile: str | None = None
    tags: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ModelRecord:
    """An MLflow model folder kept until delivered: a logged model where the server has MLflow
    3's logged-models API, the run's artifacts under `name` where it does not (rule 3)."""

    kind: ClassVar[str] = "model"
    local: str  # relative to the run's log folder, like an artifact's
    name: str
    model_type: str | None = None
    params: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    linked_metrics: tuple[str, ...] = ()  # the run's step-0 metrics that judge this model


@dataclass(frozen=True, slots=True)
class RegistrationRecord:
    """Register the run's model at `model_path` once its files are on the server."""

    kind: ClassVar[str] = "registration"
    name: str
    model_path: str
    tags: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class EndRecord:
    """The run's final status; delivered last."""

    kind: ClassVar[str] = "end"
    status: str
    end_ms: int


Record: TypeAlias = (
    MetricRecord
    | ParamRecord
    | TagRecord
    | ArtifactRecord
    | DatasetRecord
    | ModelRecord
    | RegistrationRecord
    | EndRecord
)


def encode_record(record: Record) -> dict[str, Any]:
    """The JSON object written to the log; key order is part of the format (lines are compared)."""
    match record:
        case MetricRecord():
            return {
                "t": "m",
                "k": record.key,
                "v": record.value,
                "ts": record.timestamp_ms,
                "s": record.step,
            }
        case ParamRecord():
            return {"t": "p", "k": record.key, "v": record.value}
        case TagRecord():
            return {"t": "g", "k": record.key, "v": record.value}
        case ArtifactRecord():
            return {"t": "a", "local": record.local, "path": record.path}
        case DatasetRecord():
            dataset = {
                "name": record.name,
                "digest": record.digest,
                "source_type": record.source_type,
                "source": record.source,
                "schema": record.schema,
                "profile": record.profile,
            }
            return {"t": "i", "dataset": dataset, "tags": dict(record.tags)}
        case ModelRecord():
            return {
                "t": "o",
                "local": record.local,
                "name": record.name,
                "type": record.model_type,
                "params": dict(record.params),
                "tags": dict(record.tags),
                "metrics": list(record.linked_metrics),
            }
        case RegistrationRecord():
            return {
                "t": "r",
                "name": record.name,
                "model_path": record.model_path,
                "tags": dict(record.tags),
            }
        case EndRecord():
            return {"t": "e", "status": record.status, "end_ms": record.end_ms}
        case _:
            assert_never(record)


def decode_record(data: object) -> Record:
    """The typed record of a JSON object read from a log; RecordError names a malformed field."""
    if not isinstance(data, dict):
        raise RecordError(f"a record is a JSON object, got {type(data).__name__}")
    match data.get("t"):
        case "m":
            return MetricRecord(
                _text(data, "k", "metric"),
                _number(data, "v", "metric"),
                _integer(data, "ts", "metric"),
                _integer(data, "s", "metric"),
            )
        case "p":
            return ParamRecord(_text(data, "k", "param"), _text(data, "v", "param"))
        case "g":
            return TagRecord(_text(data, "k", "tag"), _text(data, "v", "tag"))
        case "a":
            return ArtifactRecord(
                _text(data, "local", "artifact"), _optional_text(data, "path", "artifact")
            )
        case "i":
            return _dataset(data)
        case "o":
            return ModelRecord(
                _text(data, "local", "model"),
                _text(data, "name", "model"),
                _optional_text(data, "type", "model"),
                _text_map(data, "params", "model"),
                _text_map(data, "tags", "model"),
                _text_list(data, "metrics", "model"),
            )
        case "r":
            return RegistrationRecord(
                _text(data, "name", "registration"),
                _text(data, "model_path", "registration"),
                _text_map(data, "tags", "registration"),
            )
        case "e":
            return EndRecord(_text(data, "status", "end"), _integer(data, "end_ms", "end"))
        case code:
            raise RecordError(f"unknown record kind {code!r} in field 't'")


def _dataset(data: Mapping[str, object]) -> DatasetRecord:
    fields = _required(data, "dataset", "dataset")
    if not isinstance(fields, dict):
        raise _wrong("dataset", "dataset", "an object", fields)
    return DatasetRecord(
        _text(fields, "name", "dataset", "dataset."),
        _text(fields, "digest", "dataset", "dataset."),
        _text(fields, "source_type", "dataset", "dataset."),
        _text(fields, "source", "dataset", "dataset."),
        _optional_text(fields, "schema", "dataset", "dataset."),
        _optional_text(fields, "profile", "dataset", "dataset."),
        _text_map(data, "tags", "dataset") if "tags" in data else {},
    )


def _required(data: Mapping[str, object], name: str, kind: str, prefix: str = "") -> object:
    if name not in data:
        raise RecordError(f"malformed {kind} record: no field '{prefix}{name}'")
    return data[name]


def _wrong(name: str, kind: str, expected: str, value: object, prefix: str = "") -> RecordError:
    shown = repr(value) if len(repr(value)) <= 80 else repr(value)[:77] + "..."
    return RecordError(
        f"malformed {kind} record: field '{prefix}{name}' is {shown}, not {expected}"
    )


def _text(data: Mapping[str, object], name: str, kind: str, prefix: str = "") -> str:
    value = _required(data, name, kind, prefix)
    if isinstance(value, str):
        return value
    raise _wrong(name, kind, "a string", value, prefix)


def _optional_text(
    data: Mapping[str, object], name: str, kind: str, prefix: str = ""
) -> str | None:
    value = data.get(name)
    if value is None or isinstance(value, str):
        return value
    raise _wrong(name, kind, "a string or null", value, prefix)


def _integer(data: Mapping[str, object], name: str, kind: str) -> int:
    value = _required(data, name, kind)
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    raise _wrong(name, kind, "an integer", value)


def _number(data: Mapping[str, object], name: str, kind: str) -> float:
    value = _required(data, name, kind)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    raise _wrong(name, kind, "a number", value)


def _text_list(data: Mapping[str, object], name: str, kind: str) -> tuple[str, ...]:
    value = _required(data, name, kind)
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return tuple(value)
    raise _wrong(name, kind, "a list of strings", value)


def _text_map(data: Mapping[str, object], name: str, kind: str) -> dict[str, str]:
    value = _required(data, name, kind)
    if isinstance(value, dict) and all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        return dict(value)
    raise _wrong(name, kind, "an object of strings", value)

"""Typed log records: every kind survives the log's JSON unchanged; a malformed one is named."""

from __future__ import annotations

import json
import math
import random
from typing import get_args

import pytest

from tracking_demo.tracking.records import (
    ArtifactRecord,
    DatasetRecord,
    EndRecord,
    MetricRecord,
    ModelRecord,
    ParamRecord,
    Record,
    RecordError,
    RegistrationRecord,
    TagRecord,
    decode_record,
    encode_record,
)

EXAMPLES: list[Record] = [
    MetricRecord("loss", 0.25, 1_700_000_000_000, 0),
    MetricRecord("val/loss", -1e-300, 0, 2**40),
    MetricRecord("grad_norm", math.inf, 1, 1),
    MetricRecord("grad_norm", -math.inf, 1, 2),
    ParamRecord("lr", "0.1"),
    ParamRecord("note", 'tab\there\nnewline é \u2603 "quoted" \\'),
    ParamRecord("empty", ""),
    TagRecord("mlflow.source.git.commit", "6deac89"),
    ArtifactRecord("artifacts/1/notes.txt"),
    ArtifactRecord("artifacts/2/files", "plots/epoch 1"),
    DatasetRecord("moons", "5f3c2a1b", "local", '{"uri": "file:///d/train.csv"}'),
    DatasetRecord("moons", "5f3c", "local", "{}", '{"a": 1}', "{}", {"mlflow.data.context": "x"}),
    ModelRecord("artifacts/3/model", "model"),
    ModelRecord(
        "artifacts/4/model",
        "model",
        "moons",
        {"selected/max_depth": "5"},
        {"mlflow.user": "é"},
        ("test_accuracy", "cv_best_score"),
    ),
    RegistrationRecord("moons-model", "model"),
    RegistrationRecord("moons-model", "nested/model", {"stage": "candidate", "": ""}),
    EndRecord("FINISHED", 1_700_000_000_123),
    EndRecord("KILLED", 0),
]


def _through_json(record: Record) -> Record:
    """What the log does to a record: encode, JSON text, back."""
    return decode_record(json.loads(json.dumps(encode_record(record))))


@pytest.mark.parametrize("record", EXAMPLES, ids=lambda r: type(r).__name__)
def test_every_example_round_trips(record: Record) -> None:
    assert _through_json(record) == record


def test_every_kind_has_an_example() -> None:
    assert {type(r) for r in EXAMPLES} == set(get_args(Record))


def test_nan_round_trips() -> None:
    decoded = _through_json(MetricRecord("loss", math.nan, 5, 3))
    assert isinstance(decoded, MetricRecord) and math.isnan(decoded.value)
    assert (decoded.key, decoded.timestamp_ms, decoded.step) == ("loss", 5, 3)


def _random_text(rng: random.Random) -> str:
    alphabet = 'ab/._- \t\n"\\é\u2603\U0001f600\x00'
    return "".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 12)))


def _random_record(rng: random.Random) -> Record:
    def text() -> str:
        return _random_text(rng)

    number = rng.choice([0.0, -0.0, 1e308, -2.5, rng.uniform(-1e6, 1e6)])
    tags = {text(): text() for _ in range(rng.randrange(3))}
    optional = rng.choice([None, text()])
    choices: list[Record] = [
        MetricRecord(text(), number, rng.randrange(2**53), rng.randrange(-5, 2**31)),
        ParamRecord(text(), text()),
        TagRecord(text(), text()),
        ArtifactRecord(text(), optional),
        DatasetRecord(text(), text(), text(), text(), optional, optional, tags),
        ModelRecord(text(), text(), optional, tags, tags, tuple(tags)),
        RegistrationRecord(text(), text(), tags),
        EndRecord(text(), rng.randrange(2**53)),
    ]
    return rng.choice(choices)


@pytest.mark.parametrize("seed", range(5))
def test_random_records_round_trip(seed: int) -> None:
    """Hypothesis is not among the dev dependencies: a seeded sweep stands in for it."""
    rng = random.Random(seed)
    for _ in range(200):
        record = _random_record(rng)
        assert _through_json(record) == record


def test_encoding_is_the_compact_one_letter_form() -> None:
    assert encode_record(MetricRecord("loss", 0.5, 1000, 2)) == {
        "t": "m",
        "k": "loss",
        "v": 0.5,
        "ts": 1000,
        "s": 2,
    }


def test_integer_metric_value_reads_as_float() -> None:
    decoded = decode_record({"t": "m", "k": "loss", "v": 1, "ts": 1, "s": 0})
    assert decoded == MetricRecord("loss", 1.0, 1, 0)
    assert isinstance(decoded, MetricRecord) and isinstance(decoded.value, float)


def test_missing_optional_fields_read_as_their_defaults() -> None:
    assert decode_record({"t": "a", "local": "artifacts/1/x"}) == ArtifactRecord("artifacts/1/x")
    dataset = {"name": "n", "digest": "d", "source_type": "local", "source": "{}"}
    assert decode_record({"t": "i", "dataset": dataset}) == DatasetRecord("n", "d", "local", "{}")


def test_malformed_linked_metrics_are_named() -> None:
    model = {"t": "o", "local": "a/1/model", "name": "model", "params": {}, "tags": {}}
    with pytest.raises(RecordError, match="field 'metrics' is 'accuracy', not a list of strings"):
        decode_record({**model, "metrics": "accuracy"})


def test_not_an_object_is_refused() -> None:
    with pytest.raises(RecordError, match="a record is a JSON object, got list"):
        decode_record(["m", "loss"])


def test_unknown_kind_is_refused() -> None:
    with pytest.raises(RecordError, match="unknown record kind 'x' in field 't'"):
        decode_record({"t": "x", "k": "loss"})


def test_missing_kind_is_refused() -> None:
    with pytest.raises(RecordError, match="unknown record kind None in field 't'"):
        decode_record({"k": "loss", "v": 1.0})


def test_missing_field_is_named() -> None:
    with pytest.raises(RecordError, match="malformed metric record: no field 'ts'"):
        decode_record({"t": "m", "k": "loss", "v": 0.5, "s": 0})


def test_metric_value_that_is_text_is_named() -> None:
    with pytest.raises(RecordError, match="metric record: field 'v' is '0.5', not a number"):
        decode_record({"t": "m", "k": "loss", "v": "0.5", "ts": 1, "s": 0})


def test_boolean_step_is_not_an_integer() -> None:
    with pytest.raises(RecordError, match="field 's' is True, not an integer"):
        decode_record({"t": "m", "k": "loss", "v": 0.5, "ts": 1, "s": True})


def test_param_value_that_is_a_number_is_named() -> None:
    with pytest.raises(RecordError, match="malformed param record: field 'v' is 3, not a string"):
        decode_record({"t": "p", "k": "epochs", "v": 3})


def test_nested_dataset_field_is_named() -> None:
    dataset = {"name": "n", "digest": 7, "source_type": "local", "source": "{}"}
    with pytest.raises(RecordError, match="field 'dataset.digest' is 7, not a string"):
        decode_record({"t": "i", "dataset": dataset, "tags": {}})


def test_registration_tags_must_be_text() -> None:
    with pytest.raises(RecordError, match="registration record: field 'tags' is .*not an object"):
        decode_record({"t": "r", "name": "m", "model_path": "model", "tags": {"stage": 1}})


def test_long_wrong_values_are_shortened_in_the_message() -> None:
    with pytest.raises(RecordError, match=r"field 'status' is \[0, 0, .*\.\.\., not a string$"):
        decode_record({"t": "e", "status": [0] * 100, "end_ms": 1})

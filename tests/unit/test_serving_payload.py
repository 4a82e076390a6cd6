"""Request bodies → model features, checked against the signature; each bad case names the fix."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from mlflow.models import infer_signature

from tracking_demo.errors import ConfigError
from tracking_demo.serving import score
from tracking_demo.serving.model import find_model_dir
from tracking_demo.serving.payload import InputSpec, RequestError, parse_request

IMAGE = InputSpec.from_signature(
    infer_signature(np.zeros((2, 784), np.float32), np.zeros(2, np.int64))
)
MOONS = InputSpec.from_signature(
    infer_signature(pd.DataFrame({"x1": [0.0], "x2": [1.0]}), np.zeros(1, np.int64))
)


def _parse(body: object, spec: InputSpec = IMAGE, probabilities: bool | None = None):  # type: ignore[no-untyped-def]
    raw = body if isinstance(body, str | bytes) else json.dumps(body)
    return parse_request(raw, spec, probabilities)


@pytest.mark.parametrize(
    ("shape", "rows"),
    [((784,), 1), ((28, 28), 1), ((28, 28, 1), 1), ((1, 784), 1), ((3, 784), 3), ((3, 28, 28), 3)],
)
def test_image_shapes_become_rows_of_784(shape: tuple[int, ...], rows: int) -> None:
    values = np.arange(np.prod(shape), dtype=np.float64).reshape(shape) / 1000
    parsed = _parse({"data": values.tolist()})
    assert parsed.features.shape == (rows, 784)
    assert parsed.features.dtype == np.float32
    np.testing.assert_allclose(parsed.features.ravel(), values.ravel(), rtol=1e-6)
    assert parsed.protocol == "data"


def test_columns_accept_rows_records_and_dataframe_split_in_any_column_order() -> None:
    expected = pd.DataFrame({"x1": [0.5, 1.5], "x2": [-1.0, 2.0]})
    for body in (
        {"data": [[0.5, -1.0], [1.5, 2.0]]},
        {"data": [{"x2": -1.0, "x1": 0.5}, {"x1": 1.5, "x2": 2.0}]},
        {"dataframe_split": {"columns": ["x2", "x1"], "data": [[-1.0, 0.5], [2.0, 1.5]]}},
        {"dataframe_records": [{"x1": 0.5, "x2": -1.0}, {"x1": 1.5, "x2": 2.0}]},
    ):
        parsed = _parse(body, MOONS)
        pd.testing.assert_frame_equal(parsed.features, expected)
    assert _parse({"data": [0.5, -1.0]}, MOONS).rows == 1
    assert _parse({"inputs": [[0.5, -1.0]]}, MOONS).protocol == "mlflow"


def test_columns_accept_mlflow_columnar_inputs_and_an_empty_params() -> None:
    expected = pd.DataFrame({"x1": [0.5, 1.5], "x2": [-1.0, 2.0]})
    for body in (
        {"inputs": {"x2": [-1.0, 2.0], "x1": [0.5, 1.5]}},
        {"instances": {"x1": [0.5, 1.5], "x2": [-1, 2]}},
        {"data": {"x1": [0.5, 1.5], "x2": [-1.0, 2.0]}},
        {"instances": [{"x1": 0.5, "x2": -1.0}, {"x1": 1.5, "x2": 2.0}], "params": {}},
        {"inputs": [[0.5, -1.0], [1.5, 2.0]], "params": None},
        {
            "dataframe_split": {
                "index": [7, 8],
                "columns": ["x1", "x2"],
                "data": [[0.5, -1], [1.5, 2]],
            }
        },
    ):
        pd.testing.assert_frame_equal(_parse(body, MOONS).features, expected)


def test_tensors_accept_a_named_tensor_and_rows_of_named_objects() -> None:
    image = (np.arange(784) / 784).tolist()
    named = InputSpec("tensor", feature_shape=(784,), tensor_name="pixels")
    for body, spec in (
        ({"inputs": {"pixels": [image, image]}}, IMAGE),  # unnamed signature: any one name
        ({"inputs": {"pixels": [image, image]}}, named),
        ({"instances": [{"pixels": image}, {"pixels": image}]}, named),
        ({"dataframe_split": {"index": [0, 1], "data": [image, image]}}, named),
    ):
        features = _parse(body, spec).features
        assert features.shape == (2, 784)
        np.testing.assert_allclose(features[1], image, rtol=1e-6)


def test_the_body_may_start_with_a_byte_order_mark_and_hold_json_integers_of_any_size() -> None:
    assert _parse("\ufeff" + json.dumps({"data": [[1, 2]]}), MOONS).rows == 1
    assert _parse(b"\xef\xbb\xbf" + json.dumps({"data": [[1, 2]]}).encode(), MOONS).rows == 1
    assert _parse('{"data": [[100000000000000000000000000000, 2]]}', MOONS).rows == 1


def test_error_bodies_encode_as_utf8_even_with_lone_surrogates_from_the_client() -> None:
    with pytest.raises(RequestError) as raised:
        _parse('{"data": [["\\ud800", 1]]}', MOONS)
    json.dumps(raised.value.body(), ensure_ascii=False).encode("utf-8")
    assert "\\ud800" in raised.value.body()["error"]


def test_probabilities_flag_from_body_and_query_which_wins() -> None:
    assert _parse({"data": [0.0] * 784, "probabilities": True}).probabilities
    assert not _parse({"data": [0.0] * 784}).probabilities
    assert _parse({"data": [0.0] * 784}, probabilities=True).probabilities
    assert not _parse(
        {"data": [0.0] * 784, "probabilities": True}, probabilities=False
    ).probabilities


BAD_REQUESTS: dict[str, tuple[object, InputSpec, int, str]] = {
    "malformed-json": (b'{"data": [1,', IMAGE, 400, "not valid JSON"),
    "body-not-object": ([1, 2], IMAGE, 422, "not an object"),
    "missing-data": ({}, IMAGE, 422, "no input field"),
    "misspelt-field": ({"dta": [1]}, IMAGE, 422, "unknown field 'dta'"),
    "two-inputs": ({"data": [], "inputs": []}, IMAGE, 422, "several input fields"),
    "empty-data": ({"data": []}, IMAGE, 422, '"data" is empty'),
    "null-data": ({"data": None}, IMAGE, 422, '"data" is empty'),
    "data-not-a-list": ({"data": "pixels"}, IMAGE, 422, "is a str"),
    "image-wrong-shape": ({"data": [[0.0] * 27] * 28}, IMAGE, 422, "shape 28x27"),
    "split-image": ({"data": [[0.0] * 392] * 2}, IMAGE, 422, "shape 2x392"),
    "ragged": ({"data": [[1.0], [1.0, 2.0]]}, IMAGE, 422, "different lengths"),
    "strings": ({"data": ["a"] * 784}, IMAGE, 422, "contains strings"),
    "nulls": ({"data": [None] * 784}, IMAGE, 422, "nulls (null at index [0])"),
    "booleans": ({"data": [True] * 784}, IMAGE, 422, "true/false"),
    "nan": ('{"data": [' + "0," * 783 + "NaN]}", IMAGE, 422, "nan at index [783]"),
    "infinity": ('{"data": [[Infinity, 1]]}', MOONS, 422, "inf at index [0]"),
    "features": ({"data": [[1.0, 2.0, 3.0]]}, MOONS, 422, "has 3 values, the model takes 2"),
    "missing-column": ({"data": [{"x1": 1.0}]}, MOONS, 422, "lacks ['x2']"),
    "extra-column": ({"data": [{"x1": 1, "x2": 2, "x3": 3}]}, MOONS, 422, "unknown keys ['x3']"),
    "mixed-rows": ({"data": [[1.0, 2.0], {"x1": 1.0, "x2": 2.0}]}, MOONS, 422, "mixes rows"),
    "column-type": ({"data": [["a", 1.0]]}, MOONS, 422, '"data.x1" contains strings'),
    "split-columns": (
        {"dataframe_split": {"columns": ["x1"], "data": [[1.0]]}},
        MOONS,
        422,
        "columns",
    ),
    "flag-type": ({"data": [[1.0, 2.0]], "probabilities": "yes"}, MOONS, 422, '"probabilities" is'),
    "params": ({"data": [[1.0, 2.0]], "params": {"k": 1}}, MOONS, 422, "no inference parameters"),
    "deep-json": ("[" * 100_000 + "]" * 100_000, MOONS, 400, "nested too deeply"),
    "not-utf8": (b'{"data": "\xff"}', MOONS, 400, "not valid JSON"),
    "huge-integer": ('{"data": [[1' + "0" * 5000 + ", 1]]}", MOONS, 422, "beyond the float32"),
    "beyond-float32": ({"data": [[1e300, 1.0]]}, MOONS, 422, "1e+300 at index [0]"),
    "image-beyond-float32": ({"data": [0.0] * 783 + [-1e39]}, IMAGE, 422, "index [783], beyond"),
    "booleans-mixed": ({"data": [1.0] * 783 + [True]}, IMAGE, 422, "true/false values (true"),
    "deep-rows": ({"data": [[[[[[[[[[1.0]]]]]]]]]]}, IMAGE, 422, "nested more than 8 deep"),
    "mixed-depth": ({"data": [[1.0], 1.0]}, IMAGE, 422, "mixes lists and single values"),
    "list-in-column": ({"data": [[[1.0], [2.0]]]}, MOONS, 422, '"data.x1" contains [1.0]'),
    "columns-lengths": ({"inputs": {"x1": [1, 2], "x2": [3]}}, MOONS, 422, "not lists of one"),
    "columns-mixed": ({"inputs": {"x1": [1, 2], "x2": 3}}, MOONS, 422, "mixes columns"),
    "columns-unknown": ({"inputs": {"x1": [1], "x2": [2], "x3": [3]}}, MOONS, 422, "'x3'"),
    "tensor-names": ({"inputs": {"a": [[0.0] * 784], "b": [[0.0] * 784]}}, IMAGE, 422, "'a', 'b'"),
    "tensor-records": ({"dataframe_records": [{"a": 1.0}]}, IMAGE, 422, "takes one tensor"),
    "split-unknown-key": (
        {"dataframe_split": {"columns": ["x1", "x2"], "data": [[1, 2]], "idx": [0]}},
        MOONS,
        422,
        "unknown keys ['idx']",
    ),
    "split-index-length": (
        {"dataframe_split": {"columns": ["x1", "x2"], "data": [[1, 2]], "index": [0, 1]}},
        MOONS,
        422,
        '"dataframe_split.index" is not a list of 1',
    ),
}


@pytest.mark.parametrize(
    ("body", "spec", "status", "message"), list(BAD_REQUESTS.values()), ids=list(BAD_REQUESTS)
)
def test_bad_requests_name_the_problem_and_what_was_expected(
    body: object, spec: InputSpec, status: int, message: str
) -> None:
    with pytest.raises(RequestError) as raised:
        _parse(body, spec)
    assert raised.value.status == status
    assert message in raised.value.message
    assert raised.value.body()["expected"]


def test_model_source_order_and_errors(tmp_path: Path) -> None:
    env = {"AZUREML_MODEL_DIR": str(tmp_path), "TRACKING_DEMO_MODEL_URI": "models:/m/1"}
    assert score.model_source("models:/x/2", env) == "models:/x/2"
    assert score.model_source(None, env) == str(tmp_path)
    assert score.model_source(None, {"TRACKING_DEMO_MODEL_URI": "models:/m/1"}) == "models:/m/1"
    with pytest.raises(ConfigError, match="set AZUREML_MODEL_DIR"):
        score.model_source(None, {})
    with pytest.raises(ConfigError, match="is not a folder"):
        score.model_source(None, {"AZUREML_MODEL_DIR": str(tmp_path / "missing")})


def test_find_model_dir_looks_below_azureml_model_dir(tmp_path: Path) -> None:
    nested = tmp_path / "azureml-models" / "digits" / "3" / "model"
    nested.mkdir(parents=True)
    (nested / "MLmodel").write_text("flavors: {}\n")
    assert find_model_dir(tmp_path) == nested
    assert find_model_dir(nested) == nested
    other = tmp_path / "azureml-models" / "digits" / "3" / "other"
    other.mkdir()
    (other / "MLmodel").write_text("flavors: {}\n")
    with pytest.raises(ConfigError, match="several MLflow models"):
        find_model_dir(tmp_path)
    with pytest.raises(ConfigError, match="no MLflow model"):
        find_model_dir(tmp_path / "azureml-models" / "digits" / "2")

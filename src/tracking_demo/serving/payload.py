"""Turn a scoring request body into model features, checked against the model's signature.

Every problem becomes a `RequestError` with an HTTP status and a message that says what was
expected, so the endpoint answers 4xx with that text and never a traceback.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
from mlflow.models.signature import ModelSignature

Protocol = Literal["data", "mlflow"]

TUTORIAL_KEY = "data"
MLFLOW_KEYS = ("inputs", "instances", "dataframe_split", "dataframe_records")
OPTION_KEYS = ("probabilities",)


class RequestError(Exception):
    """A request the client can fix: `status` is the HTTP code, `expected` what would work."""

    def __init__(self, status: int, message: str, expected: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.expected = expected

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"error": self.message, "status": self.status}
        if self.expected:
            body["expected"] = self.expected
        return body


@dataclass(frozen=True)
class ColumnSpec:
    name: str
    numeric: bool
    dtype: str
    optional: bool = False  # the signature says `required: false`: null means "missing"


@dataclass(frozen=True)
class InputSpec:
    """What one example looks like: a fixed-shape tensor (MNIST) or named columns (moons)."""

    kind: Literal["tensor", "columns"]
    feature_shape: tuple[int, ...] = ()
    tensor_dtype: str = "float32"
    columns: tuple[ColumnSpec, ...] = ()

    @property
    def n_features(self) -> int:
        if self.kind == "columns":
            return len(self.columns)
        return math.prod(self.feature_shape)

    def single_shapes(self) -> list[tuple[int, ...]]:
        """Shapes accepted for one example: the signature's, flat, and a square image."""
        n = self.n_features
        shapes = [self.feature_shape, (n,)]
        side = math.isqrt(n)
        if side > 1 and side * side == n:
            shapes += [(side, side), (side, side, 1)]
        return list(dict.fromkeys(shapes))

    def describe(self) -> str:
        if self.kind == "columns":
            names = ", ".join(c.name for c in self.columns)
            nullable = [c.name for c in self.columns if c.optional]
            note = f"; null allowed for {', '.join(nullable)}" if nullable else ""
            return (
                f"rows of {self.n_features} values in the order ({names}) "
                f"or objects with those keys{note}"
            )
        forms = " or ".join("x".join(map(str, s)) for s in self.single_shapes())
        return f"each example as {forms} numbers; one example or a list of them"

    @classmethod
    def from_signature(cls, signature: ModelSignature | None) -> InputSpec:
        if signature is None or signature.inputs is None:
            raise ValueError("the model has no input signature; log it with one to serve it")
        schema = signature.inputs
        if schema.is_tensor_spec():
            (tensor,) = schema.inputs
            shape = tuple(int(d) for d in tensor.shape[1:])
            if any(d < 1 for d in shape):
                raise ValueError(
                    f"the model's tensor input {tensor.shape} has a variable dimension"
                )
            return cls("tensor", feature_shape=shape, tensor_dtype=str(tensor.type))
        columns = []
        for spec in schema.inputs:
            dtype = np.dtype(spec.type.to_numpy())
            numeric = dtype.kind in "iuf"
            optional = not spec.required and dtype.kind == "f"
            columns.append(ColumnSpec(str(spec.name), numeric, str(dtype), optional))
        return cls("columns", columns=tuple(columns))


@dataclass(frozen=True)
class ParsedRequest:
    features: np.ndarray | pd.DataFrame
    protocol: Protocol
    probabilities: bool

    @property
    def rows(self) -> int:
        return len(self.features)


def parse_body(raw: str | bytes) -> Mapping[str, Any]:
    try:
        body = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise RequestError(
            400, f"the body is not valid JSON: {error}", 'a JSON object such as {"data": [...]}'
        ) from error
    if not isinstance(body, dict):
        raise RequestError(
            422,
            f"the body is a JSON {type(body).__name__}, not an object",
            f'an object with one of "data", {", ".join(repr(k) for k in MLFLOW_KEYS)}',
        )
    return body


def parse_request(
    raw: str | bytes, spec: InputSpec, probabilities: bool | None = None
) -> ParsedRequest:
    """Body → features; `probabilities` from the query string wins over the body's flag."""
    body = parse_body(raw)
    given = [key for key in (TUTORIAL_KEY, *MLFLOW_KEYS) if key in body]
    unknown = sorted(set(body) - {TUTORIAL_KEY, *MLFLOW_KEYS, *OPTION_KEYS})
    if unknown:
        raise RequestError(
            422,
            f"unknown field {', '.join(repr(k) for k in unknown)} in the body",
            f'"data" (or one of {", ".join(MLFLOW_KEYS)}) and optionally "probabilities"',
        )
    if len(given) != 1:
        what = "no input field" if not given else f"several input fields ({', '.join(given)})"
        raise RequestError(
            422,
            f"the body has {what}",
            f'exactly one of "data", {", ".join(repr(k) for k in MLFLOW_KEYS)}',
        )
    key = given[0]
    flag = body.get("probabilities", False)
    if not isinstance(flag, bool):
        raise RequestError(422, f'"probabilities" is {flag!r}', "true or false")
    if probabilities is not None:
        flag = probabilities
    payload = body[key]
    if key == "dataframe_split":
        features = _from_dataframe_split(payload, spec)
    elif key == "dataframe_records":
        features = _from_records(payload, spec, key)
    elif spec.kind == "columns":
        features = _columns_from_payload(payload, spec, key)
    else:
        features = _tensor_from_payload(payload, spec, key)
    return ParsedRequest(features, "data" if key == TUTORIAL_KEY else "mlflow", flag)


def _require_nonempty(payload: Any, key: str, spec: InputSpec) -> None:
    if payload is None or (isinstance(payload, list | dict) and len(payload) == 0):
        raise RequestError(422, f'"{key}" is empty', f"at least one example: {spec.describe()}")


def _numeric_array(payload: Any, key: str, spec: InputSpec) -> np.ndarray:
    """Nested lists → a float array; ragged rows, strings, nulls, NaN and infinity refused."""
    try:
        array = np.array(payload)
    except ValueError as error:
        raise RequestError(
            422, f'"{key}" has rows of different lengths', spec.describe()
        ) from error
    if array.dtype.kind not in "iuf":
        found = {"U": "strings", "S": "strings", "b": "true/false values"}.get(
            array.dtype.kind, "nulls, objects or mixed values"
        )
        raise RequestError(422, f'"{key}" contains {found}', f"numbers only: {spec.describe()}")
    array = array.astype(np.float64, copy=False)
    finite = np.isfinite(array)
    if not finite.all():
        position = tuple(int(i) for i in np.argwhere(~finite)[0])
        raise RequestError(
            422,
            f'"{key}" contains {array[position]} at index {list(position)}',
            "finite numbers (no NaN or Infinity)",
        )
    return array


def _tensor_from_payload(payload: Any, spec: InputSpec, key: str) -> np.ndarray:
    _require_nonempty(payload, key, spec)
    if not isinstance(payload, list):
        raise RequestError(422, f'"{key}" is a {type(payload).__name__}', spec.describe())
    array = _numeric_array(payload, key, spec)
    singles = spec.single_shapes()
    if array.shape in singles:
        array = array.reshape(1, *spec.feature_shape)
    elif array.ndim >= 2 and array.shape[1:] in singles and array.shape[0] > 0:
        array = array.reshape(array.shape[0], *spec.feature_shape)
    else:
        raise RequestError(
            422,
            f'"{key}" has shape {"x".join(map(str, array.shape))}, which is not one example '
            f"or a list of them",
            spec.describe(),
        )
    return array.astype(spec.tensor_dtype, copy=False)


def _columns_from_payload(payload: Any, spec: InputSpec, key: str) -> pd.DataFrame:
    _require_nonempty(payload, key, spec)
    if isinstance(payload, dict):
        return _from_records([payload], spec, key)
    if not isinstance(payload, list):
        raise RequestError(422, f'"{key}" is a {type(payload).__name__}', spec.describe())
    if all(isinstance(item, dict) for item in payload):
        return _from_records(payload, spec, key)
    nested = [isinstance(item, list | dict) for item in payload]
    if any(nested) and not all(isinstance(item, list) for item in payload):
        raise RequestError(422, f'"{key}" mixes rows, objects and single values', spec.describe())
    rows = payload if all(nested) else [payload]
    for index, row in enumerate(rows):
        if len(row) != spec.n_features:
            raise RequestError(
                422,
                f'row {index} of "{key}" has {len(row)} values, the model takes '
                f"{spec.n_features}",
                spec.describe(),
            )
    names = [c.name for c in spec.columns]
    return _typed_frame({name: [row[i] for row in rows] for i, name in enumerate(names)}, spec, key)


def _from_records(payload: Any, spec: InputSpec, key: str) -> pd.DataFrame:
    _require_nonempty(payload, key, spec)
    if not isinstance(payload, list) or not all(isinstance(r, dict) for r in payload):
        raise RequestError(422, f'"{key}" is not a list of objects', spec.describe())
    names = [c.name for c in spec.columns]
    for index, record in enumerate(payload):
        missing = [n for n in names if n not in record]
        extra = sorted(set(record) - set(names))
        if missing or extra:
            problem = f"lacks {missing}" if missing else f"has unknown keys {extra}"
            raise RequestError(422, f'record {index} of "{key}" {problem}', spec.describe())
    return _typed_frame({n: [r[n] for r in payload] for n in names}, spec, key)


def _from_dataframe_split(payload: Any, spec: InputSpec) -> pd.DataFrame | np.ndarray:
    key = "dataframe_split"
    if not isinstance(payload, dict) or not isinstance(payload.get("data"), list):
        raise RequestError(
            422, f'"{key}" is not an object with "data"', '{"columns": [...], "data": [[...]]}'
        )
    _require_nonempty(payload["data"], f"{key}.data", spec)
    names = [c.name for c in spec.columns]
    if spec.kind == "tensor":
        return _tensor_from_payload(payload["data"], spec, f"{key}.data")
    columns = payload.get("columns", names)
    if not isinstance(columns, list) or sorted(map(str, columns)) != sorted(names):
        raise RequestError(422, f'"{key}.columns" is {columns!r}', f"the columns {names}")
    rows = payload["data"]
    if not all(isinstance(r, list) and len(r) == len(columns) for r in rows):
        raise RequestError(
            422, f'"{key}.data" rows do not all have {len(columns)} values', spec.describe()
        )
    position = {name: columns.index(name) for name in names}
    return _typed_frame({n: [r[position[n]] for r in rows] for n in names}, spec, key)


def _typed_frame(values: dict[str, Sequence[Any]], spec: InputSpec, key: str) -> pd.DataFrame:
    frame: dict[str, np.ndarray | list[Any]] = {}
    for column in spec.columns:
        column_values = values[column.name]
        if column.numeric:
            present = [v for v in column_values if not (column.optional and v is None)]
            _numeric_array(present or [0.0], f"{key}.{column.name}", spec)
            array = np.array([np.nan if v is None else v for v in column_values], dtype=float)
            frame[column.name] = array.astype(column.dtype, copy=False)
        else:
            bad = [v for v in column_values if not isinstance(v, str)]
            if bad:
                raise RequestError(422, f'"{key}.{column.name}" contains {bad[0]!r}', "text values")
            frame[column.name] = list(column_values)
    return pd.DataFrame(frame)

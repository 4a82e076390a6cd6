"""Turn a scoring request body into model features, checked against the model's signature.

Every problem becomes a `RequestError` with an HTTP status and a message that says what was
expected, so the endpoint answers 4xx with that text and never a traceback. The accepted bodies
are MLflow's scoring protocol (`inputs` as rows, columns or named tensors; `instances` as rows
or objects; `dataframe_split`; `dataframe_records`; an empty `params`) plus the tutorials'
`{"data": ...}`, which takes the same shapes as `inputs`.
"""

from __future__ import annotations

import json
import math
import reprlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
from mlflow.models.signature import ModelSignature

Protocol = Literal["data", "mlflow"]

TUTORIAL_KEY = "data"
MLFLOW_KEYS = ("inputs", "instances", "dataframe_split", "dataframe_records")
PARAMS_KEY = "params"  # MLflow's inference parameters: these models take none
OPTION_KEYS = ("probabilities", PARAMS_KEY)
SPLIT_KEYS = ("columns", "data", "index")
# Deeper than any example shape the signatures allow (an image is 3 levels, a batch 4).
MAX_DEPTH = 8
# The served models compute in float32 (scikit-learn's trees, Keras), so a number beyond
# float32's range would become infinity inside the model even when float64 holds it.
LARGEST = float(np.finfo(np.float32).max)
# JSON integers longer than this are read as floats: Python refuses to parse integers of more
# than 4,300 digits, and numpy stores big ones as objects.
INT_DIGITS = 18

_short = reprlib.Repr()
_short.maxstring = 40
_short.maxother = 40
_short.maxlist = _short.maxdict = 4
_short.maxlevel = 2


def show(value: Any) -> str:
    """Client input for an error message, bounded (it may be megabytes, or deep); JSON's
    spelling for its constants."""
    if value is None or isinstance(value, bool):
        return json.dumps(value)
    return _short.repr(value)


def _names(keys: Sequence[Any], limit: int = 5) -> str:
    shown = ", ".join(show(k) for k in list(keys)[:limit])
    return shown + (f" and {len(keys) - limit} more" if len(keys) > limit else "")


class RequestError(Exception):
    """A request the client can fix: `status` is the HTTP code, `expected` what would work."""

    def __init__(self, status: int, message: str, expected: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.expected = expected

    def body(self) -> dict[str, Any]:
        """The JSON error; client text in it is escaped so it always encodes as UTF-8."""
        body: dict[str, Any] = {"error": _encodable(self.message), "status": self.status}
        if self.expected:
            body["expected"] = _encodable(self.expected)
        return body


def _encodable(text: str) -> str:
    """Lone surrogates (legal in JSON's \\u escapes, not in UTF-8) become visible escapes."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


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
    tensor_name: str | None = None  # the signature's name for its one tensor, when it has one

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
                f"rows of {self.n_features} values in the order ({names}), objects with those "
                f"keys, or an object of columns{note}"
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
            return cls(
                "tensor",
                feature_shape=shape,
                tensor_dtype=str(tensor.type),
                tensor_name=tensor.name,
            )
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


def _read_int(text: str) -> int | float:
    """A JSON integer too long for an exact int becomes a float (a too-big one: float64's
    largest, so the error says it is out of range rather than calling it infinity)."""
    if len(text.lstrip("-")) <= INT_DIGITS:
        return int(text)
    value = float(text)
    return value if math.isfinite(value) else math.copysign(np.finfo(np.float64).max, value)


def parse_body(raw: str | bytes) -> Mapping[str, Any]:
    """JSON text (UTF-8, UTF-16 or UTF-32 bytes; a leading BOM allowed) → the body object."""
    if isinstance(raw, str):
        raw = raw.removeprefix("\ufeff")
    expected = 'a JSON object such as {"data": [...]}'
    try:
        body = json.loads(raw, parse_int=_read_int)
    except RecursionError as error:
        raise RequestError(400, "the body's JSON is nested too deeply", expected) from error
    except ValueError as error:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise RequestError(400, f"the body is not valid JSON: {error}", expected) from error
    if not isinstance(body, dict):
        raise RequestError(
            422,
            f"the body is a JSON {_json_type(body)}, not an object",
            f'an object with one of "data", {", ".join(repr(k) for k in MLFLOW_KEYS)}',
        )
    return body


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    return {bool: "boolean", int: "number", float: "number", str: "string", list: "array"}.get(
        type(value), "object"
    )


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
            f"unknown field {_names(unknown)} in the body",
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
    params = body.get(PARAMS_KEY)
    if params not in (None, {}):
        raise RequestError(
            422,
            f'"params" is {show(params)}: this model takes no inference parameters',
            'no "params", or an empty object',
        )
    flag = body.get("probabilities", False)
    if not isinstance(flag, bool):
        raise RequestError(422, f'"probabilities" is {show(flag)}', "true or false")
    if probabilities is not None:
        flag = probabilities
    payload = body[key]
    features: np.ndarray | pd.DataFrame
    if key == "dataframe_split":
        features = _from_dataframe_split(payload, spec)
    elif spec.kind == "tensor":
        features = _tensor_from_payload(payload, spec, key)
    elif key == "dataframe_records":
        features = _from_records(payload, spec, key)
    else:
        features = _columns_from_payload(payload, spec, key)
    return ParsedRequest(features, "data" if key == TUTORIAL_KEY else "mlflow", flag)


def _require_nonempty(payload: Any, key: str, spec: InputSpec) -> None:
    if payload is None or (isinstance(payload, list | dict) and len(payload) == 0):
        raise RequestError(422, f'"{key}" is empty', f"at least one example: {spec.describe()}")


# --- numbers --------------------------------------------------------------------------------


def _numbers(payload: Any, key: str, expected: str, dtype: str, nulls: bool = False) -> np.ndarray:
    """Nested lists → an array of `dtype`; ragged rows, too deep a nesting, strings, booleans,
    objects, nulls (unless `nulls`: they become NaN), NaN, infinity and numbers the model's
    arithmetic cannot hold are refused, naming the first such value and its index."""
    shape: list[int] = []
    level = [payload]
    while any(isinstance(item, list) for item in level):
        if not all(isinstance(item, list) for item in level):
            raise RequestError(
                422, f'"{key}" mixes lists and single values at depth {len(shape) + 1}', expected
            )
        lengths = {len(item) for item in level}
        if len(lengths) > 1:
            raise RequestError(
                422, f'"{key}" has rows of different lengths at depth {len(shape) + 1}', expected
            )
        shape.append(lengths.pop())
        if len(shape) > MAX_DEPTH:
            raise RequestError(422, f'"{key}" is nested more than {MAX_DEPTH} deep', expected)
        level = [value for item in level for value in item]
    kinds = {type(value) for value in level}
    allowed = {int, float, type(None)} if nulls else {int, float}
    if not kinds <= allowed:
        index = next(i for i, value in enumerate(level) if type(value) not in allowed)
        raise RequestError(
            422,
            f'"{key}" contains {_kind(level[index])} ({show(level[index])}{_at(index, shape)})',
            f"numbers only: {expected}",
        )
    values = np.array(
        [math.nan if value is None else value for value in level] if nulls else level,
        dtype=np.float64,
    ).reshape(shape)
    flat = values.reshape(-1)
    bad = ~np.isfinite(flat)
    if nulls:
        bad &= np.array([value is not None for value in level], dtype=bool)
    bad |= np.abs(np.nan_to_num(flat)) > LARGEST
    target = np.dtype(dtype)
    if target.kind in "iu":
        limits = np.iinfo(target)
        finite = np.nan_to_num(flat)
        bad |= (finite != np.round(finite)) | (finite < limits.min) | (finite > limits.max)
    if bad.any():
        index = int(np.argmax(bad))
        value = float(flat[index])
        too_big = math.isfinite(value) and abs(value) > LARGEST
        beyond = ", beyond the float32 range the model computes in" if too_big else ""
        what = "whole numbers" if target.kind in "iu" else f"finite numbers within ±{LARGEST:.3g}"
        raise RequestError(
            422,
            f'"{key}" contains {value:g}{_at(index, shape)}{beyond}',
            f"{what} (no NaN or Infinity): {expected}",
        )
    return values.astype(target, copy=False)


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "true/false values"
    if value is None:
        return "nulls"
    if isinstance(value, str):
        return "strings"
    return "objects"


def _at(flat_index: int, shape: list[int]) -> str:
    if not shape:
        return ""
    return f" at index {[int(i) for i in np.unravel_index(flat_index, shape)]}"


# --- tensors --------------------------------------------------------------------------------


def _tensor_from_payload(payload: Any, spec: InputSpec, key: str) -> np.ndarray:
    """A list of examples or one example; or MLflow's named tensor: `{"<name>": [...]}` (the
    signature's name, or any one name when it has none), or rows `[{"<name>": [...]}, ...]`."""
    _require_nonempty(payload, key, spec)
    if key == "dataframe_records":
        raise RequestError(
            422,
            '"dataframe_records" needs named columns, and this model takes one tensor',
            f'"inputs", "instances", "data" or "dataframe_split": {spec.describe()}',
        )
    if isinstance(payload, dict):
        name = _tensor_name(list(payload), spec, key)
        payload, key = payload[name], f"{key}.{name}"
        _require_nonempty(payload, key, spec)
    elif isinstance(payload, list) and all(isinstance(item, dict) for item in payload):
        names = sorted({name for item in payload for name in item})
        name = _tensor_name(names, spec, key)
        if not all(name in item for item in payload):
            raise RequestError(422, f'an object in "{key}" lacks "{name}"', spec.describe())
        payload = [item[name] for item in payload]
    if not isinstance(payload, list):
        raise RequestError(422, f'"{key}" is a {_json_type(payload)}', spec.describe())
    array = _numbers(payload, key, spec.describe(), spec.tensor_dtype)
    singles = spec.single_shapes()
    if array.shape in singles:
        return array.reshape(1, *spec.feature_shape)
    if array.ndim >= 2 and array.shape[1:] in singles and array.shape[0] > 0:
        return array.reshape(array.shape[0], *spec.feature_shape)
    raise RequestError(
        422,
        f'"{key}" has shape {"x".join(map(str, array.shape))}, which is not one example '
        f"or a list of them",
        spec.describe(),
    )


def _tensor_name(names: list[str], spec: InputSpec, key: str) -> str:
    wanted = f'"{spec.tensor_name}"' if spec.tensor_name else "one name"
    if len(names) != 1 or (spec.tensor_name and names[0] != spec.tensor_name):
        raise RequestError(
            422,
            f'"{key}" names the tensors {_names(names)}; the model takes one tensor',
            f"an object with {wanted} holding {spec.describe()}, or a list of examples",
        )
    return names[0]


# --- columns --------------------------------------------------------------------------------


def _columns_from_payload(payload: Any, spec: InputSpec, key: str) -> pd.DataFrame:
    """Rows (lists in the signature's order), one row, records (objects), one record, or an
    object of columns (MLflow's columnar `inputs`)."""
    _require_nonempty(payload, key, spec)
    if isinstance(payload, dict):
        nested = [isinstance(value, list | dict) for value in payload.values()]
        if all(nested):
            return _from_column_lists(payload, spec, key)
        if any(nested):
            raise RequestError(
                422, f'"{key}" mixes columns (lists) and single values', spec.describe()
            )
        return _from_records([payload], spec, key)
    if not isinstance(payload, list):
        raise RequestError(422, f'"{key}" is a {_json_type(payload)}', spec.describe())
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


def _check_names(given: Any, spec: InputSpec, what: str) -> None:
    names = [c.name for c in spec.columns]
    missing = [n for n in names if n not in given]
    extra = sorted(set(given) - set(names))
    if missing or extra:
        problem = f"lacks {missing}" if missing else f"has unknown keys [{_names(extra)}]"
        raise RequestError(422, f"{what} {problem}", spec.describe())


def _from_column_lists(payload: dict[str, Any], spec: InputSpec, key: str) -> pd.DataFrame:
    _check_names(payload, spec, f'"{key}"')
    lengths = {
        name: len(values) if isinstance(values, list) else -1 for name, values in payload.items()
    }
    if min(lengths.values()) < 1 or len(set(lengths.values())) > 1:
        raise RequestError(
            422,
            f'the columns of "{key}" are not lists of one length: {show(lengths)}',
            f"an object of equally long, non-empty lists: {spec.describe()}",
        )
    return _typed_frame(payload, spec, key)


def _from_records(payload: Any, spec: InputSpec, key: str) -> pd.DataFrame:
    _require_nonempty(payload, key, spec)
    if not isinstance(payload, list) or not all(isinstance(r, dict) for r in payload):
        raise RequestError(422, f'"{key}" is not a list of objects', spec.describe())
    for index, record in enumerate(payload):
        _check_names(record, spec, f'record {index} of "{key}"')
    names = [c.name for c in spec.columns]
    return _typed_frame({n: [r[n] for r in payload] for n in names}, spec, key)


def _from_dataframe_split(payload: Any, spec: InputSpec) -> pd.DataFrame | np.ndarray:
    """pandas' `split` orientation: `columns`, `data` and an optional `index` (ignored)."""
    key = "dataframe_split"
    shape = '{"columns": [...], "data": [[...]]}'
    if not isinstance(payload, dict) or not isinstance(payload.get("data"), list):
        raise RequestError(422, f'"{key}" is not an object with "data"', shape)
    unknown = sorted(set(payload) - set(SPLIT_KEYS))
    if unknown:
        raise RequestError(422, f'"{key}" has unknown keys [{_names(unknown)}]', shape)
    rows = payload["data"]
    _require_nonempty(rows, f"{key}.data", spec)
    index = payload.get("index")
    if index is not None and not (isinstance(index, list) and len(index) == len(rows)):
        raise RequestError(
            422, f'"{key}.index" is not a list of {len(rows)} labels', f"{shape}, index optional"
        )
    if spec.kind == "tensor":
        return _tensor_from_payload(rows, spec, f"{key}.data")
    names = [c.name for c in spec.columns]
    columns = payload.get("columns", names)
    if not isinstance(columns, list) or sorted(map(str, columns)) != sorted(names):
        raise RequestError(422, f'"{key}.columns" is {show(columns)}', f"the columns {names}")
    if not all(isinstance(r, list) and len(r) == len(columns) for r in rows):
        raise RequestError(
            422, f'"{key}.data" rows do not all have {len(columns)} values', spec.describe()
        )
    position = {name: columns.index(name) for name in names}
    return _typed_frame({n: [r[position[n]] for r in rows] for n in names}, spec, key)


def _typed_frame(values: Mapping[str, Sequence[Any]], spec: InputSpec, key: str) -> pd.DataFrame:
    """One typed column per signature column: numbers as its dtype, text as text."""
    frame: dict[str, np.ndarray | list[Any]] = {}
    for column in spec.columns:
        column_values = values[column.name]
        field = f"{key}.{column.name}"
        if column.numeric:
            scalars = [v for v in column_values if isinstance(v, list | dict)]
            if scalars:
                raise RequestError(
                    422,
                    f'"{field}" contains {show(scalars[0])}',
                    f"one number per row: {spec.describe()}",
                )
            frame[column.name] = _numbers(
                list(column_values), field, spec.describe(), column.dtype, nulls=column.optional
            )
        else:
            bad = [v for v in column_values if not isinstance(v, str)]
            if bad:
                raise RequestError(422, f'"{field}" contains {show(bad[0])}', "text values")
            frame[column.name] = list(column_values)
    return pd.DataFrame(frame)

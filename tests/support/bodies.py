"""Hypothesis strategies for scoring request bodies: arbitrary JSON, arbitrary bytes, and valid
requests mutated in shape, depth, type and size, the bodies a client gets wrong."""

from __future__ import annotations

import copy
import json
import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
from hypothesis import strategies as st

BODY_KEYS = ("data", "inputs", "instances", "dataframe_split", "dataframe_records")
FIELD_NAMES = (*BODY_KEYS, "probabilities", "params", "columns", "index")

# Text with lone surrogates too: JSON's \ud800 escapes decode to them, UTF-8 cannot hold them.
text = st.text(
    st.one_of(st.characters(), st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF)),
    max_size=12,
)
numbers = st.one_of(
    st.integers(),
    st.integers(min_value=-(10**400), max_value=10**400),  # beyond float64, and object dtype
    st.floats(),  # NaN and infinity included: json.dumps writes them as NaN / Infinity
    st.floats(min_value=3.4e38, max_value=1.7e308),  # finite in float64, infinite in float32
    st.sampled_from([0, 1, -1, 0.5, 1e300, -1e-300, 255]),
)
scalars = st.one_of(st.none(), st.booleans(), numbers, text)
json_values = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=6),
        st.dictionaries(st.one_of(text, st.sampled_from(FIELD_NAMES)), children, max_size=5),
    ),
    max_leaves=30,
)
# Objects with the fields the parser looks for, holding anything.
json_bodies = st.one_of(
    json_values,
    st.dictionaries(st.sampled_from(FIELD_NAMES), json_values, min_size=1, max_size=3),
)

# Texts a JSON library trips on: nesting past the parser's recursion limit, integers past
# Python's 4,300-digit limit, a byte-order mark, NaN where a number goes.
hostile_texts = st.one_of(
    st.integers(1, 100_000).map(lambda n: "[" * n + "]" * n),
    st.integers(1, 100_000).map(lambda n: '{"data": ' + "[" * n + "1" + "]" * n + "}"),
    st.integers(4000, 6000).map(lambda n: '{"inputs": [[1' + "0" * n + ", 1]]}"),
    st.sampled_from(['\ufeff{"data": [[1, 2]]}', '{"data": [[NaN, -Infinity]]}', "1e999"]),
)


def dumps(value: Any) -> str:
    """JSON text as a sloppy client writes it: NaN and Infinity allowed, surrogates escaped."""
    return json.dumps(value)


def client_records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Records as a client writes them: a missing value is null, never NaN."""
    return frame.astype(object).where(frame.notna(), None).to_dict(orient="records")


def valid_bodies(rows: pd.DataFrame | np.ndarray) -> list[dict[str, Any]]:
    """One body per documented format for `rows` (a columns model's frame, or a tensor
    model's images)."""
    if isinstance(rows, np.ndarray):
        values = rows.tolist()
        return [
            {"data": values},
            {"inputs": {"pixels": values}},
            {"instances": [{"pixels": row} for row in values]},
            {"dataframe_split": {"data": values, "index": list(range(len(values)))}},
        ]
    records = client_records(rows)
    names = list(rows.columns)
    lists = [[record[name] for name in names] for record in records]
    return [
        {"data": lists},
        {"inputs": {name: [r[name] for r in records] for name in names}},
        {"instances": records, "probabilities": False},
        {"dataframe_split": {"columns": names, "data": lists}},
        {"dataframe_records": records},
    ]


def _paths(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every position in a JSON value: the root, each list item and each object entry."""
    found = [path]
    if isinstance(value, list):
        for i, item in enumerate(value):
            found += _paths(item, (*path, i))
    elif isinstance(value, dict):
        for key, item in value.items():
            found += _paths(item, (*path, key))
    return found


def _get(value: Any, path: tuple[Any, ...]) -> Any:
    for step in path:
        value = value[step]
    return value


def _set(root: Any, path: tuple[Any, ...], new: Any) -> Any:
    if not path:
        return new
    _get(root, path[:-1])[path[-1]] = new
    return root


def _resized(value: Any, size: int) -> Any:
    if isinstance(value, list):
        return (value * (size // max(len(value), 1) + 1))[:size] if value else [0.0] * size
    return value


def _as_string(value: Any) -> Any:
    return str(value) if not isinstance(value, str) else value


MUTATIONS: dict[str, Callable[[Any, Any], Any]] = {
    "replace": lambda value, drawn: drawn["scalar"],
    "any-json": lambda value, drawn: drawn["json"],
    "null": lambda value, drawn: None,
    "string": lambda value, drawn: _as_string(value),
    "wrap": lambda value, drawn: [value],
    "wrap-deep": lambda value, drawn: _wrapped(value, drawn["depth"]),
    "unwrap": lambda value, drawn: value[0] if isinstance(value, list) and value else value,
    "resize": lambda value, drawn: _resized(value, drawn["size"]),
    "empty": lambda value, drawn: type(value)() if isinstance(value, list | dict) else value,
    "drop-key": lambda value, drawn: _without(value, drawn["index"]),
    "rename-key": lambda value, drawn: _renamed(value, drawn["index"], drawn["name"]),
    "add-key": lambda value, drawn: _with(value, drawn["name"], drawn["json"]),
    "to-object": lambda value, drawn: {drawn["name"]: value},
    "nan": lambda value, drawn: math.nan,
    "infinity": lambda value, drawn: -math.inf,
}


def _wrapped(value: Any, depth: int) -> Any:
    for _ in range(depth):
        value = [value]
    return value


def _without(value: Any, index: int) -> Any:
    if isinstance(value, dict) and value:
        value.pop(list(value)[index % len(value)])
    return value


def _renamed(value: Any, index: int, name: str) -> Any:
    if isinstance(value, dict) and value:
        old = list(value)[index % len(value)]
        value[name] = value.pop(old)
    return value


def _with(value: Any, name: str, new: Any) -> Any:
    if isinstance(value, dict):
        value[name] = new
    return value


@st.composite
def mutated(draw: st.DrawFn, bodies: list[dict[str, Any]]) -> str:
    """A valid body with one to three mutations at drawn positions, as JSON text."""
    body = copy.deepcopy(draw(st.sampled_from(bodies)))
    for _ in range(draw(st.integers(1, 3))):
        paths = _paths(body)
        containers = [p for p in paths if isinstance(_get(body, p), list | dict)]
        # A leaf most of the time would be a pixel; structure is where the bugs hide.
        pool = draw(st.sampled_from([containers, containers, paths])) or paths
        path = draw(st.sampled_from(pool))
        mutation = draw(st.sampled_from(sorted(MUTATIONS)))
        drawn = {
            "scalar": draw(scalars),
            "json": draw(json_values),
            "depth": draw(st.integers(2, 40)),
            "size": draw(st.sampled_from([0, 1, 2, 3, 27, 783, 785, 2000])),
            "index": draw(st.integers(0, 20)),
            "name": draw(st.one_of(st.sampled_from(FIELD_NAMES), text)),
        }
        body = _set(body, path, MUTATIONS[mutation](_get(body, path), drawn))
    return dumps(body)

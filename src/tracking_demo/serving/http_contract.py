"""The HTTP rules of `POST /score`, shared by both servers that run the scoring script.

`tracking-demo serve` (Starlette) and the entry script under Azure's inference server (Flask,
`@rawhttp`) read a request differently but judge it here, from plain values: the method, the
Content-Type and Content-Length headers, the `?probabilities=` values and the body's size. So a
request gets the same status and the same JSON error from either server, and answers are encoded
the same way (strict JSON: NaN and infinity are not JSON).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from tracking_demo.errors import ConfigError
from tracking_demo.serving.payload import RequestError

DEFAULT_MAX_BODY_MB = 10.0
# The entry script's body limit, in MB like `tracking-demo serve --max-body-mb` (Azure ML passes
# a deployment's environment variables to the container).
MAX_BODY_VARIABLE = "TRACKING_DEMO_MAX_BODY_MB"
JSON_TYPES = ("application/json",)
ALLOWED_METHOD = "POST"
PROBABILITIES_PARAMETER = "probabilities"
_TRUE = ("true", "1", "yes")
_FALSE = ("false", "0", "no")
JSON_MEDIA_TYPE = "application/json"


def max_body_bytes(megabytes: float) -> int:
    return int(megabytes * 1024 * 1024)


def max_body_from_environment(environ: Mapping[str, str]) -> int:
    """The limit in bytes from `TRACKING_DEMO_MAX_BODY_MB`, else serve's default of 10 MB."""
    text = environ.get(MAX_BODY_VARIABLE)
    if text is None or not text.strip():
        return max_body_bytes(DEFAULT_MAX_BODY_MB)
    try:
        megabytes = float(text)
    except ValueError:
        megabytes = 0.0
    if not megabytes >= 0.001:  # also refuses NaN
        raise ConfigError(f"{MAX_BODY_VARIABLE}={text!r}: expected a number of MB, at least 0.001")
    return max_body_bytes(megabytes)


def check_method(method: str) -> None:
    """405 for anything but POST (answer with `allow_header()`)."""
    if method.upper() != ALLOWED_METHOD:
        raise RequestError(
            405, f"{method.upper()} /score is not allowed", "POST /score with a JSON body"
        )


def allow_header() -> dict[str, str]:
    return {"Allow": ALLOWED_METHOD}


def check_content_type(content_type: str | None) -> None:
    """415 unless the body is declared JSON (parameters such as charset are fine)."""
    media_type = (content_type or "").split(";")[0].strip().lower()
    if media_type not in JSON_TYPES:
        raise RequestError(
            415,
            f"the content type is '{media_type or 'missing'}'",
            "Content-Type: application/json",
        )


def too_large(limit: int) -> RequestError:
    return RequestError(413, f"the body is larger than {limit} bytes", f"at most {limit} bytes")


def check_declared_length(content_length: str | int | None, limit: int) -> None:
    """413 before reading, when Content-Length already says too much (a malformed header is the
    HTTP server's to refuse; the bytes read are counted anyway: `check_size`)."""
    if isinstance(content_length, str):
        content_length = int(content_length) if content_length.strip().isdigit() else None
    if content_length is not None and content_length > limit:
        raise too_large(limit)


def check_size(size: int, limit: int) -> None:
    if size > limit:
        raise too_large(limit)


def probabilities_flag(values: Sequence[str]) -> bool | None:
    """`?probabilities=true|false` (also 1/0, yes/no); None when absent, 422 otherwise."""
    if not values:
        return None
    if len(values) > 1:
        raise RequestError(
            422,
            f"?{PROBABILITIES_PARAMETER}= is given {len(values)} times",
            f"?{PROBABILITIES_PARAMETER}=true or false, once",
        )
    text = values[0]
    if text.lower() in _TRUE:
        return True
    if text.lower() in _FALSE:
        return False
    raise RequestError(
        422, f"?{PROBABILITIES_PARAMETER}={text}", f"?{PROBABILITIES_PARAMETER}=true or false"
    )


def check_request(
    method: str,
    content_type: str | None,
    content_length: str | int | None,
    probabilities: Sequence[str],
    limit: int,
) -> bool | None:
    """Everything judged before the body is read, in the order both servers answer it:
    405, 415, 413 (declared), 422 (query). Returns the query's probabilities flag."""
    check_method(method)
    check_content_type(content_type)
    check_declared_length(content_length, limit)
    return probabilities_flag(probabilities)


def internal_error() -> RequestError:
    """What a 500 says to the client; the traceback goes to the server's log, never the body."""
    return RequestError(500, "internal error while scoring; the endpoint's log has the details")


def encode(value: Any) -> bytes:
    """Strict, compact JSON, as Starlette's JSONResponse writes it (NaN raises ValueError)."""
    return json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode()


def encode_answer(value: Any) -> tuple[int, bytes]:
    """(status, body) of an answer; one JSON cannot carry (NaN, infinity) is a 500 error."""
    try:
        return 200, encode(value)
    except (TypeError, ValueError):
        error = RequestError(
            500, "the model's answer holds a value JSON cannot carry (NaN, infinity or an object)"
        )
        return error.status, encode(error.body())


def encode_error(error: RequestError) -> bytes:
    return encode(error.body())

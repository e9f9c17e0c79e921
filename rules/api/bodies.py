"""Strict request bodies: JSON objects that the API's schema accepts.

A body is read whole (at most ``MAX_CONTENT_LENGTH`` bytes, chunked or not: a larger one is a
413), parsed strictly and checked in this order, each answer a problem naming the field:

- not JSON (``Content-Type``): 415; not UTF-8, not valid JSON, ``NaN``/``Infinity``, a number
  too large,
  a key repeated in one object (RB437) or nesting deeper than
  :data:`~rules.api.limits.MAX_DEPTH` levels (RB435): 400;
- a string with a NUL or a lone surrogate (RB436): 422 naming its field;
- what the request's schema (:mod:`rules.api.schemas`, served in the OpenAPI description)
  refuses: 422 naming each field (:mod:`rules.api.validation`), with a "did you mean" where
  one is close.
"""

from __future__ import annotations

import json
import math
from datetime import datetime
from typing import Any

from flask import request

from rules.api.limits import MAX_DEPTH, MAX_ID, MAX_INT, json_problems, show_key, utc
from rules.api.problems import ApiProblem
from rules.api.validation import kind, schema_problems
from rules.errors import InvalidRequestError, NotFoundError, Problem

__all__ = [
    "MAX_INT",
    "check_id",
    "checked",
    "json_body",
    "json_object",
    "parse_json",
    "parse_time",
    "read_json",
]

CHUNK = 64 * 1024


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out = dict(pairs)
    if len(out) == len(pairs):
        return out
    seen: set[str] = set()
    for key, _ in pairs:
        if key in seen:
            raise ApiProblem(
                400,
                f"the body repeats the key {show_key(key)!r} in one object; send each key once",
                [Problem("RB437", show_key(key), "repeated in one object; send each key once")],
            )
        seen.add(key)
    return out  # pragma: no cover - a shorter dict has a repeated key


def _finite(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        raise ApiProblem(
            400,
            f"the body has a number ({text[:40]}) too large to represent",
            [Problem("RB433", "", f"{text[:40]} is too large for a JSON number here")],
        )
    return number


def _constant(text: str) -> float:
    raise ApiProblem(
        400,
        f"the body is not valid JSON: {text} is not a JSON value; send a number or null",
        [Problem("RB433", "", f"{text} is not JSON")],
    )


def _read() -> bytes:
    """The whole body; a 413 (RequestEntityTooLarge) past ``MAX_CONTENT_LENGTH``, chunked too:
    reading a chunked body stops at the limit, and the read after it raises."""
    stream = request.stream
    parts: list[bytes] = []
    while chunk := stream.read(CHUNK):
        parts.append(chunk)
    return b"".join(parts)


def _walk(data: str, body: Any) -> tuple[bool, list[Problem]]:
    """:func:`~rules.api.limits.json_problems`, skipped where the text shows it would find
    nothing: JSON can carry a NUL or a lone surrogate only as a ``\\u`` escape (raw, the
    first is refused by the parser and the second is not UTF-8), and cannot nest deeper than
    it has brackets (a decision's body has two)."""
    texts = "\\u" in data
    if not texts and data.count("{") + data.count("[") <= MAX_DEPTH:
        return False, []
    return json_problems(body, texts=texts)


def read_json() -> Any:
    """The request's JSON value, parsed strictly (see the module's docstring)."""
    if not request.is_json:
        raise ApiProblem(
            415,
            "send the body as JSON with Content-Type: application/json, "
            f"not {request.mimetype or 'no content type'}",
        )
    return parse_json(_read())


def parse_json(raw: bytes) -> Any:
    """``raw`` parsed strictly: the checks of :func:`read_json` after the content type (also
    the decision hot path's, :mod:`rules.api.hot_path`)."""
    try:
        data = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ApiProblem(400, f"the body is not UTF-8 ({exc}); send JSON as UTF-8") from None
    try:
        body = json.loads(
            data, object_pairs_hook=_unique_keys, parse_float=_finite, parse_constant=_constant
        )
    except RecursionError:
        body, deep = None, True
    except ValueError as exc:  # also UnicodeDecodeError, and an integer of too many digits
        raise ApiProblem(400, f"the body is not valid JSON ({exc}); send a JSON object") from None
    else:
        deep, problems = _walk(data, body)
        if problems and not deep:
            raise InvalidRequestError("the body has text that cannot be stored", problems)
    if deep:
        raise ApiProblem(
            400,
            f"the body nests deeper than {MAX_DEPTH} levels; send flatter JSON",
            [Problem("RB435", "", f"at most {MAX_DEPTH} levels of objects and arrays")],
        )
    return body


def json_object() -> dict[str, Any]:
    """The request's JSON value, which must be an object (RB430)."""
    body = read_json()
    if not isinstance(body, dict):
        raise InvalidRequestError(
            "the body must be a JSON object",
            [Problem("RB430", "", f"expected an object, got {kind(body)}")],
        )
    return body


def checked(body: dict[str, Any], schema: str) -> dict[str, Any]:
    """``body`` when the component schema ``schema`` accepts it (else a 422 naming each
    field); an integral number where the schema wants an integer (``1.0``) becomes that
    integer."""
    problems = schema_problems(body, schema)
    if problems:
        raise InvalidRequestError("the request body is not valid", problems)
    version = body.get("version")
    if isinstance(version, float):
        body["version"] = int(version)
    return body


def json_body(schema: str) -> dict[str, Any]:
    """The request's JSON object, valid for the component schema ``schema``."""
    return checked(json_object(), schema)


def check_id(value: int, what: str) -> None:
    """A path id beyond what the database stores names nothing: a 404, not a database error."""
    limit = MAX_INT if what == "version" else MAX_ID
    if value > limit:
        raise NotFoundError(f"no {what} {value}")


def parse_time(value: str, field: str) -> datetime:
    """An ISO 8601 time with a timezone, e.g. ``2025-01-31T12:00:00Z``."""
    hint = "give an ISO 8601 time with a timezone, e.g. 2025-01-31T12:00:00Z (encode + as %2B)"
    try:
        at = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidRequestError(
            "the query is not valid", [Problem("RB434", field, f"{value!r}: {hint}")]
        ) from None
    if at.tzinfo is None:
        raise InvalidRequestError(
            "the query is not valid",
            [Problem("RB434", field, f"{value!r} has no timezone; {hint}")],
        )
    if utc(at) is None:
        raise InvalidRequestError(
            "the query is not valid",
            [Problem("RB434", field, f"{value!r} is outside the years 1-9999 in UTC; {hint}")],
        )
    return at

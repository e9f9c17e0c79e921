"""Strict request bodies: JSON objects with known fields of the right types.

A body that is not JSON is a 415 (wrong content type) or 400 (malformed); an unknown field, a
wrong type or a bad value is a 422 naming each field, with a "did you mean" where one is close.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from datetime import datetime
from typing import Any

from flask import request

from rules.api.problems import ApiProblem
from rules.api.schemas import MAX_INT
from rules.errors import InvalidRequestError, NotFoundError, Problem, suggest

__all__ = ["MAX_INT", "a_version", "an_object", "check_id", "json_object", "parse_time"]

# Version numbers are 32-bit integers in the database (MAX_INT); ids are 64-bit.
MAX_ID = 2**63 - 1


Check = Callable[[Any], str | None]


def json_object(
    fields: Collection[str],
    required: Collection[str] = (),
    checks: Mapping[str, Check] | None = None,
) -> dict[str, Any]:
    """The request's JSON object: only ``fields``, every one of ``required``, and each value
    passing its check in ``checks`` (which returns what is wrong, or None)."""
    if not request.is_json:
        raise ApiProblem(
            415,
            "send the body as JSON with Content-Type: application/json, "
            f"not {request.mimetype or 'no content type'}",
        )
    body = request.get_json(silent=True)
    if body is None:
        raise ApiProblem(400, "the body is not valid JSON; send a JSON object")
    if not isinstance(body, dict):
        raise InvalidRequestError(
            "the body must be a JSON object",
            [Problem("RB430", "", f"expected an object, got {_kind(body)}")],
        )
    problems = [
        Problem(
            "RB431",
            key,
            f"unknown field; this request takes {', '.join(sorted(fields))}",
            suggest(key, fields),
        )
        for key in body
        if key not in fields
    ]
    problems += [Problem("RB432", key, "is required") for key in required if key not in body]
    for key, check in (checks or {}).items():
        wrong = check(body[key]) if key in body else None
        if wrong:
            problems.append(Problem("RB433", key, wrong))
    if problems:
        raise InvalidRequestError("the request body is not valid", problems)
    return body


def _kind(value: object) -> str:
    return {dict: "an object", list: "an array", str: "a string", bool: "a boolean"}.get(
        type(value), "null" if value is None else "a number"
    )


def an_object(value: object) -> str | None:
    return None if isinstance(value, dict) else f"expected an object, got {_kind(value)}"


def a_version(value: object) -> str | None:
    """A positive integer version number; null means "the active version"."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_INT:
        return f"expected a positive integer version number, got {value!r}"
    return None


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
    return at

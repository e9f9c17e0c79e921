"""Chain format 1: how events written before format 2 were canonicalised, kept only so that
existing chains keep verifying (``docs/audit-chain.md``). Nothing new is written this way.

Format 1 had two canonical forms, neither of them RFC 8785:

- :func:`event_json` (events, LLM run records): Python's ``json.dumps`` with sorted keys (by
  code point), compact separators, ``ensure_ascii=False``, integral floats within 2**53
  written as integers and other floats as Python's ``repr`` (``1e-07``, ``1e+16``);
- :func:`digest_json` (import digests, proposal digests, resolution comparisons): the same,
  but every integral number within 2**53 an integer and every other number a float.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

__all__ = ["digest_json", "digest_plain", "event_json"]

MAX_EXACT_INT = 2**53
_ENCODER = json.JSONEncoder(
    sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
)


def _event_plain(value: Any) -> Any:
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int | float):
        if isinstance(value, float) and value.is_integer() and abs(value) <= MAX_EXACT_INT:
            return int(value)
        return value
    if isinstance(value, Mapping):
        return {k: _event_plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_event_plain(v) for v in value]
    raise TypeError(f"not plain data: {value!r}")


def event_json(data: Any) -> bytes:
    """Format 1's canonical JSON of an event body or an LLM run record."""
    return json.dumps(
        _event_plain(data),
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        allow_nan=False,
    ).encode("utf-8")


def _number(value: int | float) -> int | float:
    if isinstance(value, float) and not value.is_integer():
        return value
    if abs(value) <= MAX_EXACT_INT:
        return int(value)
    try:
        return float(value)
    except OverflowError:
        return value


def digest_plain(value: Any) -> Any:
    """``value`` with its numbers as format 1's digests wrote them."""
    kind = type(value)
    if kind in (str, bool, type(None)):
        return value
    if kind is dict:
        return {k: digest_plain(v) for k, v in value.items()}
    if kind is int or kind is float:
        return _number(value)
    if kind is list or kind is tuple:
        return [digest_plain(v) for v in value]
    return value  # not JSON: the encoder says so


def digest_json(value: Any) -> str:
    """Format 1's canonical JSON of what a digest covers."""
    return _ENCODER.encode(digest_plain(value))

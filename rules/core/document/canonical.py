"""The canonical form of plain data: sorted keys, no insignificant whitespace, UTF-8, and
integral floats written as integers (DESIGN §2). A document's version hash is the SHA-256 of
the canonical JSON of its normalised form; the audit chain hashes events' canonical JSON.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

__all__ = ["MAX_EXACT_INT", "canonical_json", "canonical_number"]

# Integers beyond 2**53 are not exactly representable as doubles, which the engine compares.
MAX_EXACT_INT = 2**53


def canonical_number(value: int | float) -> int | float:
    if isinstance(value, float) and value.is_integer() and abs(value) <= MAX_EXACT_INT:
        return int(value)
    return value


def _plain(value: Any) -> Any:
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return canonical_number(value)
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    raise TypeError(f"not plain data: {value!r}")


def canonical_json(data: Any) -> bytes:
    """Sorted keys, no insignificant whitespace, UTF-8; integral floats written as integers."""
    return json.dumps(
        _plain(data), sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")

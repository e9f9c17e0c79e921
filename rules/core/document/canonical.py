"""The one canonical form of plain data: the JSON Canonicalization Scheme, RFC 8785 (JCS).

Both a document's version hash (DESIGN §2: the SHA-256 of the canonical form of the
normalised document) and the audit chain (DESIGN §6, chain format 2; ``docs/audit-chain.md``)
hash :func:`canonical_json`, and so does every digest an audit event records. RFC 8785 in
short:

- objects: members sorted by their names' UTF-16 code units; no insignificant whitespace;
- strings: UTF-8, escaping only ``"``, ``\\``, and the controls U+0000-U+001F (``\\b \\t \\n
  \\f \\r`` by name, the others as ``\\u00xx``); a lone surrogate is an error;
- numbers: IEEE 754 doubles written as ECMAScript's ``Number.prototype.toString`` writes them:
  the shortest digits that read back to the same double, ``-0`` as ``0``, plain notation from
  1e-6 up to 1e21 (``1e21`` is ``1e+21``, ``1e-7`` is ``1e-7``); NaN and infinities are
  errors. An integer is the double of the same value, so ``1`` and ``1.0`` are one number.
  An integer no double holds exactly (beyond 2**53, outside I-JSON, which JCS assumes) is
  written as its exact digits rather than rounded, so no two such integers share a form.

Published test vectors: ``docs/audit-chain-vectors.json``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from decimal import Decimal
from json.encoder import encode_basestring
from typing import Any

__all__ = ["MAX_EXACT_INT", "canonical_json", "canonical_number", "jcs_number"]

# Integers beyond 2**53 are not exactly representable as doubles, which the engine compares.
MAX_EXACT_INT = 2**53


def canonical_number(value: int | float) -> int | float:
    """A document number as the document keeps it: integral floats within 2**53 as integers."""
    if isinstance(value, float) and value.is_integer() and abs(value) <= MAX_EXACT_INT:
        return int(value)
    return value


def jcs_number(value: int | float) -> str:
    """A number as RFC 8785 writes it (ECMAScript ``Number.prototype.toString``)."""
    if isinstance(value, int):
        try:
            as_double = float(value)
        except OverflowError:
            return str(value)
        if int(as_double) != value:
            return str(value)  # no double holds it: its exact digits (see the module doc)
        value = as_double
    if not math.isfinite(value):
        raise ValueError(f"{value!r} has no JSON form: numbers must be finite")
    if value == 0:
        return "0"
    sign = "-" if value < 0 else ""
    # repr gives the shortest digits that read back to the same double, as ECMAScript needs.
    digits_tuple, exponent = Decimal(repr(abs(value))).as_tuple()[1:]
    digits = "".join(map(str, digits_tuple)).rstrip("0")
    exponent = int(exponent) + len(digits_tuple) - len(digits)
    k = len(digits)
    n = k + exponent  # the value is 0.DIGITS x 10**n
    if k <= n <= 21:
        return sign + digits + "0" * (n - k)
    if 0 < n <= 21:
        return sign + digits[:n] + "." + digits[n:]
    if -6 < n <= 0:
        return sign + "0." + "0" * -n + digits
    power = n - 1
    mantissa = digits if k == 1 else digits[0] + "." + digits[1:]
    return f"{sign}{mantissa}e{'+' if power > 0 else '-'}{abs(power)}"


def _utf16(key: str) -> bytes:
    return key.encode("utf-16-be", "surrogatepass")


def _encode(value: Any, out: list[str]) -> None:
    if isinstance(value, str):
        out.append(encode_basestring(value))
    elif value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif isinstance(value, int | float):
        out.append(jcs_number(value))
    elif isinstance(value, Mapping):
        for key in value:
            if not isinstance(key, str):
                raise TypeError(f"object keys must be strings, not {key!r}")
        out.append("{")
        for i, key in enumerate(sorted(value, key=_utf16)):
            if i:
                out.append(",")
            out.append(encode_basestring(key))
            out.append(":")
            _encode(value[key], out)
        out.append("}")
    elif isinstance(value, list | tuple):
        out.append("[")
        for i, item in enumerate(value):
            if i:
                out.append(",")
            _encode(item, out)
        out.append("]")
    else:
        raise TypeError(f"not plain data: {value!r}")


class _Slow(Exception):
    """The value needs :func:`_encode`: the C encoder would write it differently."""


_FLAT = frozenset((str, bool, type(None)))


def _prepared(value: Any) -> Any:
    """``value`` as the standard library's C encoder, sorting keys, writes in RFC 8785 form:
    integral floats within 2**53 as integers (the same digits); raises :class:`_Slow` for what
    it would write otherwise (floats it writes in exponent form, keys whose code point order
    is not their UTF-16 order, anything but exact dicts, lists and scalars)."""
    kind = type(value)
    if kind is str or kind is bool or value is None:
        return value
    if kind is dict:
        for key in value:
            if type(key) is not str or (not key.isascii() and max(key) >= "\ud800"):
                raise _Slow
        if _FLAT.issuperset(map(type, value.values())):
            return value
        return {k: _prepared(v) for k, v in value.items()}
    if kind is float:
        if value.is_integer():
            if abs(value) <= MAX_EXACT_INT:
                return int(value)
            raise _Slow  # ECMAScript writes the shortest digits, then zeros: not int's digits
        if 1e-4 <= abs(value) < 1e16:  # where repr is plain notation, as ECMAScript's is
            return value
        raise _Slow
    if kind is int:
        if abs(value) <= MAX_EXACT_INT:
            return value
        raise _Slow
    if kind is list or kind is tuple:
        return [_prepared(v) for v in value]
    raise _Slow


def canonical_json(data: Any) -> bytes:
    """The RFC 8785 (JCS) canonical form of plain data (dicts, lists, tuples, strings,
    numbers, booleans, None), as UTF-8 bytes. ValueError for NaN, infinities and lone
    surrogates; TypeError for anything else that is not plain data.

    Most data is written by the standard library's C encoder after :func:`_prepared`, which
    gives the same bytes several times faster; the rest by :func:`_encode`."""
    try:
        text = json.dumps(
            _prepared(data),
            sort_keys=True,
            separators=(",", ":"),
            ensure_ascii=False,
            allow_nan=False,
        )
    except _Slow:
        out: list[str] = []
        _encode(data, out)
        text = "".join(out)
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError(
            f"text holds a lone surrogate ({exc.object[exc.start : exc.end]!r}), "
            "which is not Unicode: it has no canonical form"
        ) from exc

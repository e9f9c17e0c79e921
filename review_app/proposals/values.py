"""Condition and output values as an analyst types them in a form, and back.

One text field holds a condition's value; how it is read depends on the operator and on the
input's type::

    type / operator      text                 value
    number               0.35                 0.35
    integer              2                    2
    boolean              true, no             True, False
    string               Low debt, "x, y"     'Low debt', 'x, y' (quotes keep spaces and commas)
    in, not_in           1, 2                 [1, 2]          (items comma-separated)
    between              0.3, 0.35            {low: 0.3, high: 0.35} (both included)
                         (0.3, 0.35]          low excluded, high included
    is_null, not_null    (empty)              no value

:func:`format_value` writes what :func:`parse_value` reads, so a rule shown in the editor
and saved unchanged stays the same rule. Errors are :class:`ValueError` with a message that
says what was expected, shown on the field.
"""

from __future__ import annotations

import json
import math
from typing import Any

from rules.core.document import Between, Input, Output, Scalar

__all__ = [
    "NO_VALUE_OPS",
    "format_output",
    "format_value",
    "parse_output",
    "parse_scalar",
    "parse_value",
]

NO_VALUE_OPS = ("is_null", "not_null")
LIST_OPS = ("in", "not_in")
_TRUE = ("true", "yes")
_FALSE = ("false", "no")


def _unquote(text: str) -> str:
    """A string value: surrounding spaces dropped; ``"..."`` keeps what is inside (``""`` is
    one quote, as in CSV)."""
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] == '"':
        return text[1:-1].replace('""', '"')
    return text


def parse_scalar(text: str, kind: str) -> Scalar:
    """``text`` as a value of type ``kind`` (number, integer, boolean, string)."""
    raw = text.strip()
    if kind == "string":
        return _unquote(text)
    if kind == "boolean":
        if raw.lower() in _TRUE:
            return True
        if raw.lower() in _FALSE:
            return False
        raise ValueError(f"{raw!r} is not true or false: type true or false")
    try:
        number = float(raw)
    except ValueError:
        raise ValueError(
            f"{raw!r} is not a number: type digits, e.g. {'2' if kind == 'integer' else '0.35'}"
        ) from None
    if not math.isfinite(number):
        raise ValueError(f"{raw!r} is not a finite number")
    if kind == "integer":
        if not number.is_integer():
            raise ValueError(f"{raw!r} is not a whole number: this input takes e.g. 2")
        return int(number)
    return int(number) if number.is_integer() and "." not in raw and "e" not in raw else number


def _items(text: str) -> list[str]:
    """``text`` split on the commas outside double quotes (each item still quoted)."""
    items: list[str] = []
    current: list[str] = []
    quoted = False
    for char in text:
        if char == '"':
            quoted = not quoted
        elif char == "," and not quoted:
            items.append("".join(current))
            current = []
            continue
        current.append(char)
    items.append("".join(current))
    if any(not item.strip() for item in items):
        raise ValueError("an item is empty: separate the values by single commas, e.g. 1, 2")
    return items


def _between(text: str, kind: str) -> dict[str, Any]:
    raw = text.strip()
    low_inclusive = high_inclusive = True
    if raw[:1] in "[(" and raw[-1:] in "])":
        low_inclusive, high_inclusive = raw[0] == "[", raw[-1] == "]"
        raw = raw[1:-1]
    parts = raw.split(",")
    if len(parts) != 2 or not all(p.strip() for p in parts):
        raise ValueError(
            "between takes two values, low and high, separated by a comma: e.g. 0.3, 0.35 "
            "(both included) or (0.3, 0.35] (low excluded)"
        )
    return {
        "low": parse_scalar(parts[0], kind),
        "high": parse_scalar(parts[1], kind),
        "low_inclusive": low_inclusive,
        "high_inclusive": high_inclusive,
    }


def parse_value(text: str | None, op: str, spec: Input) -> Any:
    """The JSON value of a condition ``spec.name op text`` (None for is_null/not_null)."""
    text = text or ""
    if op in NO_VALUE_OPS:
        if text.strip():
            raise ValueError(f"'{op}' takes no value: clear this field")
        return None
    if not text.strip():
        raise ValueError(f"give a value for {spec.name} ({spec.type})")
    if op in LIST_OPS:
        items = _items(text)
        return [parse_scalar(item, spec.type) for item in items]
    if op == "between":
        return _between(text, spec.type)
    return parse_scalar(text, spec.type)


def _scalar_text(value: Scalar | None, in_list: bool = False) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return json.dumps(value)
    special = ("," in value or '"' in value) if in_list else value.startswith('"')
    needs_quotes = special or value != value.strip()
    return '"' + value.replace('"', '""') + '"' if needs_quotes or value == "" else value


def format_value(value: Scalar | tuple[Scalar, ...] | Between | None) -> str:
    """A condition's value as the text :func:`parse_value` reads back."""
    if isinstance(value, Between):
        left = "[" if value.low_inclusive else "("
        right = "]" if value.high_inclusive else ")"
        inner = f"{_scalar_text(value.low)}, {_scalar_text(value.high)}"
        return inner if left + right == "[]" else f"{left}{inner}{right}"
    if isinstance(value, tuple):
        return ", ".join(_scalar_text(v, in_list=True) for v in value)
    return _scalar_text(value)


def format_output(value: Scalar | None) -> str:
    """An output value as text (the select's option for outputs with allowed values)."""
    return _scalar_text(value)


def parse_output(text: str | None, spec: Output) -> Scalar | None:
    """An output value typed in the form; None when the field is left empty (not set)."""
    if text is None or not text.strip():
        return None
    return parse_scalar(text, spec.type)

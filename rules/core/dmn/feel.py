"""FEEL simple unary tests: the subset of FEEL a DMN decision table's cells are written in.

``parse_unary_tests`` reads an input entry (``-``, literals, ``< <= > >= = !=`` comparisons,
ranges such as ``[1..5)``, lists, ``not(...)``, ``null``) into a small tree;
``parse_literal`` reads an output entry. Anything else (names, functions, date literals,
arithmetic) raises :class:`~rules.errors.DmnError` saying what was found. :func:`matches`
evaluates a parsed entry with FEEL's three-valued semantics, where ``null = x`` is false,
``null != x`` is true and ``null < x`` is null; the importer is tested against it.
``format_tests`` and ``format_literal`` write entries back for export.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import TypeAlias

from rules.core.document import MAX_EXACT_INT, Scalar
from rules.errors import DmnError

__all__ = [
    "Compare",
    "Equal",
    "Interval",
    "IsNull",
    "NotEqual",
    "NotNull",
    "Test",
    "UnaryTests",
    "format_literal",
    "format_tests",
    "matches",
    "parse_literal",
    "parse_number",
    "parse_unary_tests",
]


@dataclass(frozen=True, slots=True)
class Equal:
    """``v`` or ``= v``: false for a null input."""

    value: Scalar


@dataclass(frozen=True, slots=True)
class NotEqual:
    """``!= v``: true for a null input."""

    value: Scalar


@dataclass(frozen=True, slots=True)
class IsNull:
    """``null`` or ``= null``."""


@dataclass(frozen=True, slots=True)
class NotNull:
    """``!= null``."""


@dataclass(frozen=True, slots=True)
class Compare:
    """``< v``, ``<= v``, ``> v`` or ``>= v``: null for a null input."""

    op: str
    value: Scalar


@dataclass(frozen=True, slots=True)
class Interval:
    """A range such as ``[a..b)``: null for a null input."""

    low: Scalar
    high: Scalar
    low_inclusive: bool
    high_inclusive: bool


Test: TypeAlias = Equal | NotEqual | IsNull | NotNull | Compare | Interval


@dataclass(frozen=True, slots=True)
class UnaryTests:
    """A cell: a list of tests (any may hold), optionally negated with ``not(...)``."""

    tests: tuple[Test, ...]
    negated: bool = False


_TOKEN = re.compile(
    r"""\s*(?:
        (?P<string>"(?:[^"\\]|\\.)*")
      | (?P<number>\d+(?:\.\d+)?|\.\d+)
      | (?P<op>\.\.|<=|>=|!=|[<>=(),\[\]-])
      | (?P<name>[^\W\d]\w*)
      | (?P<other>\S)
    )""",
    re.X | re.S,
)
_ESCAPE = re.compile(r"\\(u[0-9A-Fa-f]{4}|U[0-9A-Fa-f]{6}|.)", re.S)
_SIMPLE_ESCAPES = {'"': '"', "'": "'", "\\": "\\", "n": "\n", "r": "\r", "t": "\t"}
_SUBSET = "literals, comparisons (< <= > >= = !=), ranges [a..b], lists, not(...) and null"


def _unescape(body: str) -> str:
    def one(match: re.Match[str]) -> str:
        code = match.group(1)
        if code[0] in "uU" and len(code) > 1:
            return chr(int(code[1:], 16))
        if code in _SIMPLE_ESCAPES:
            return _SIMPLE_ESCAPES[code]
        raise DmnError(f"unknown escape sequence '\\{code}' in a string literal")

    return _ESCAPE.sub(one, body)


def parse_number(text: str) -> int | float:
    """A FEEL/XSD decimal as an int, or a float when a double holds it exactly; else DmnError."""
    try:
        value = Decimal(text)
    except InvalidOperation as exc:
        raise DmnError(f"{text!r} is not a number") from exc
    if not value.is_finite():
        raise DmnError(f"{text!r} is not a finite number")
    double = float(value)
    if value == value.to_integral_value():
        whole = int(value)
        if abs(whole) <= MAX_EXACT_INT:
            return whole
        if Decimal(double) != value:
            raise DmnError(f"{text} is beyond ±2**53 and not exactly a double")
        return double
    if Decimal(repr(double)) != value:
        raise DmnError(
            f"{text} has more digits than a double holds exactly (about 15 significant digits)"
        )
    return double


class _Parser:
    """A recursive-descent parser over the tokens of one cell."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens: list[tuple[str, str]] = []
        for match in _TOKEN.finditer(text):
            kind = match.lastgroup
            if kind is None:
                continue
            value = match.group(kind)
            if kind == "other":
                what = "an unterminated string" if value == '"' else f"the character {value!r}"
                raise DmnError(f"cannot read {what}; only {_SUBSET} are supported")
            self.tokens.append((kind, value))
        self.pos = 0

    def peek(self, ahead: int = 0) -> tuple[str, str]:
        at = self.pos + ahead
        return self.tokens[at] if at < len(self.tokens) else ("end", "")

    def take(self) -> tuple[str, str]:
        token = self.peek()
        self.pos += 1
        return token

    def expect(self, op: str) -> None:
        kind, value = self.take()
        if (kind, value) != ("op", op):
            raise DmnError(f"expected {op!r} but found {_describe(kind, value)}")

    def end(self) -> None:
        kind, value = self.peek()
        if kind != "end":
            raise DmnError(
                f"unexpected {_describe(kind, value)}; only {_SUBSET} are supported "
                "(FEEL expressions are not)"
            )

    def cell(self) -> UnaryTests:
        if self.peek() == ("name", "not") and self.peek(1) == ("op", "("):
            self.pos += 2
            tests = self.tests()
            self.expect(")")
            self.end()
            return UnaryTests(tests, negated=True)
        tests = self.tests()
        self.end()
        return UnaryTests(tests)

    def tests(self) -> tuple[Test, ...]:
        tests = [self.test()]
        while self.peek() == ("op", ","):
            self.pos += 1
            tests.append(self.test())
        return tuple(tests)

    def test(self) -> Test:
        kind, value = self.peek()
        if kind == "op" and value in ("<", "<=", ">", ">="):
            self.pos += 1
            bound = self.endpoint()
            if bound is None:
                raise DmnError(f"'{value} null' compares with null; use null or not(null)")
            return Compare(value, bound)
        if kind == "op" and value in ("=", "!="):
            self.pos += 1
            operand = self.endpoint()
            if operand is None:
                return IsNull() if value == "=" else NotNull()
            return Equal(operand) if value == "=" else NotEqual(operand)
        if kind == "op" and value in ("[", "(", "]"):
            return self.interval()
        literal = self.endpoint()
        return IsNull() if literal is None else Equal(literal)

    def interval(self) -> Interval:
        opening = self.take()[1]
        low = self.endpoint()
        self.expect("..")
        high = self.endpoint()
        kind, closing = self.take()
        if kind != "op" or closing not in ("]", ")", "["):
            raise DmnError(f"a range ends with ']', ')' or '[', not {_describe(kind, closing)}")
        if low is None or high is None:
            raise DmnError("a range needs two endpoints; null is not one")
        kinds = {_kind(low), _kind(high)}
        if kinds not in ({"number"}, {"string"}):
            raise DmnError("a range's endpoints must both be numbers or both be strings")
        return Interval(low, high, opening == "[", closing == "]")

    def endpoint(self) -> Scalar | None:
        kind, value = self.take()
        if kind == "string":
            return _unescape(value[1:-1])
        if kind == "number":
            return parse_number(value)
        if (kind, value) == ("op", "-") and self.peek()[0] == "number":
            return parse_number("-" + self.take()[1])
        if kind == "name" and value in ("true", "false"):
            return value == "true"
        if kind == "name" and value == "null":
            return None
        if kind == "name":
            raise DmnError(
                f"found the name {value!r}: names, functions and date/time literals are FEEL "
                f"expressions, which are not supported; only {_SUBSET} are"
            )
        raise DmnError(f"expected a literal but found {_describe(kind, value)}")


def _describe(kind: str, value: str) -> str:
    return "the end of the entry" if kind == "end" else repr(value)


def _kind(value: Scalar) -> str:
    if isinstance(value, bool):
        return "boolean"
    return "string" if isinstance(value, str) else "number"


def parse_unary_tests(text: str | None) -> UnaryTests | None:
    """An input entry's tests, or None for ``-`` or an empty entry (any value matches)."""
    stripped = (text or "").strip()
    if stripped in ("", "-"):
        return None
    return _Parser(stripped).cell()


def parse_literal(text: str | None) -> Scalar | None:
    """An output entry: a number, string, boolean or null (an empty entry is null)."""
    stripped = (text or "").strip()
    if not stripped:
        return None
    parser = _Parser(stripped)
    value = parser.endpoint()
    parser.end()
    return value


# --------------------------------------------------------------------------- semantics


def _equal(x: Scalar, v: Scalar) -> bool:
    if isinstance(x, bool) or isinstance(v, bool):
        return isinstance(x, bool) and isinstance(v, bool) and x == v
    return x == v


def _holds(test: Test, x: Scalar | None) -> bool | None:
    if isinstance(test, IsNull):
        return x is None
    if isinstance(test, NotNull):
        return x is not None
    if isinstance(test, Equal):
        return x is not None and _equal(x, test.value)
    if isinstance(test, NotEqual):
        return x is None or not _equal(x, test.value)
    if x is None or isinstance(x, bool):
        return None
    if isinstance(test, Compare):
        low, high = (test.value, None) if test.op in (">", ">=") else (None, test.value)
        inclusive = test.op in ("<=", ">=")
        return _within(x, low, high, inclusive, inclusive)
    return _within(x, test.low, test.high, test.low_inclusive, test.high_inclusive)


def _within(
    x: Scalar, low: Scalar | None, high: Scalar | None, low_in: bool, high_in: bool
) -> bool | None:
    if any(v is not None and _kind(v) != _kind(x) for v in (low, high)):
        return None
    above = low is None or (x >= low if low_in else x > low)  # type: ignore[operator]
    below = high is None or (x <= high if high_in else x < high)  # type: ignore[operator]
    return bool(above and below)


def matches(cell: UnaryTests | None, x: Scalar | None) -> bool | None:
    """FEEL's value of a cell for input ``x``: True, False or None (null)."""
    if cell is None:
        return True
    values = [_holds(test, x) for test in cell.tests]
    result = True if True in values else (None if None in values else False)
    if cell.negated and result is not None:
        return not result
    return result


# --------------------------------------------------------------------------- writing


def format_literal(value: Scalar | None) -> str:
    """A value as a FEEL literal (numbers without exponents, strings escaped)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return format(Decimal(repr(value)).normalize(), "f")
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    escaped = escaped.replace("\n", "\\n").replace("\r", "\\r").replace("\t", "\\t")
    escaped = re.sub(r"[\x00-\x1f\x7f]", lambda m: f"\\u{ord(m.group()):04x}", escaped)
    return f'"{escaped}"'


def _format_test(test: Test) -> str:
    if isinstance(test, IsNull):
        return "null"
    if isinstance(test, NotNull):
        return "!= null"
    if isinstance(test, Equal):
        return format_literal(test.value)
    if isinstance(test, NotEqual):
        return f"!= {format_literal(test.value)}"
    if isinstance(test, Compare):
        return f"{test.op} {format_literal(test.value)}"
    opening = "[" if test.low_inclusive else "("
    closing = "]" if test.high_inclusive else ")"
    return f"{opening}{format_literal(test.low)}..{format_literal(test.high)}{closing}"


def format_tests(cell: UnaryTests | None) -> str:
    """A cell as FEEL text: ``-`` for None."""
    if cell is None:
        return "-"
    text = ", ".join(_format_test(t) for t in cell.tests)
    return f"not({text})" if cell.negated else text

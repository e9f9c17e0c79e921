"""The columns of a DMN decision table: names, types, allowed values, defaults.

A column's type comes from its typeRef or, failing that, from the literals it uses. Input
values (``inputValues`` or an item definition's ``allowedValues``) become the input's allowed
values or bounds, and make it required unless they list ``null``: DMN refuses an input that
fails them, as the ruleset refuses facts that do. Methods return a problem message, or None;
the table reader raises it with the column's location.
"""

from __future__ import annotations

import contextlib
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from rules.core.dmn.cells import type_problem
from rules.core.dmn.feel import Compare, Equal, Interval, IsNull, Test, matches, parse_literal
from rules.core.dmn.feel import parse_unary_tests as parse_cell
from rules.core.document import IDENTIFIER, Scalar
from rules.core.validate import value_fits
from rules.errors import DmnError

__all__ = ["Column", "derive_identifier"]

_KIND_OF = {bool: "boolean", str: "string", int: "number", float: "number"}
_KEPT = "only a list of values, closed bounds ([a..b], >= a, <= b), null or not(null) can be kept"


def _bounds(tests: tuple[Test, ...]) -> tuple[int | float | None, int | float | None] | None:
    """The closed bounds one test states, or None."""
    if len(tests) != 1:
        return None
    test = tests[0]
    low: Scalar | None = None
    high: Scalar | None = None
    if isinstance(test, Interval) and test.low_inclusive and test.high_inclusive:
        low, high = test.low, test.high
    elif isinstance(test, Compare) and test.op in (">=", "<="):
        low, high = (test.value, None) if test.op == ">=" else (None, test.value)
    else:
        return None
    if isinstance(low, str | bool) or isinstance(high, str | bool):
        return None
    return low, high


def derive_identifier(name: str, taken: set[str], fallback: str) -> str:
    """``name`` if it is an identifier, else a snake_case one; unique among ``taken``."""
    if IDENTIFIER.match(name):
        base = name
    else:
        ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
        base = re.sub(r"[^a-z0-9]+", "_", ascii_name.lower()).strip("_") or fallback
        base = ("_" + base if base[0].isdigit() else base)[:64]
    ident, serial = base, 1
    while ident in taken:
        serial += 1
        ident = f"{base[:58]}_{serial}"
    taken.add(ident)
    return ident


@dataclass(slots=True)
class Column:
    """One input or output column while the table is being read."""

    dmn_name: str
    name: str
    label: str
    kind: str | None
    constraints: list[str] = field(default_factory=list)
    values_text: str | None = None
    default_text: str | None = None
    values: tuple[Scalar, ...] | None = None
    low: int | float | None = None
    high: int | float | None = None
    default: Scalar | None = None
    is_output: bool = False
    required: bool = False

    @property
    def what(self) -> str:
        return f"{'output' if self.is_output else 'input'} {self.label!r}"

    def input_data(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "type": self.kind,
            "required": self.required,
            "values": list(self.values) if self.values is not None else None,
            "min": self.low,
            "max": self.high,
            "description": self.label if self.label != self.dmn_name else None,
        }

    def output_data(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "type": self.kind,
            "values": list(self.values) if self.values is not None else None,
            "default": self.default,
            "description": self.label if self.label != self.dmn_name else None,
        }

    def settle_kind(self, values: Iterable[Scalar | None]) -> str | None:
        """Take the type from the literals when there is no typeRef; a problem, or None."""
        if self.kind is not None:
            return None
        seen = list(values)
        for text in self.constraints:
            with contextlib.suppress(DmnError):  # reported with its location by constrain()
                listed = parse_cell(text)
                seen += [getattr(t, "value", None) for t in (listed.tests if listed else ())]
        kinds = {_KIND_OF[type(v)] for v in seen if v is not None}
        if len(kinds) != 1:
            return (
                "it has no typeRef and its entries do not show one type: give it a typeRef "
                "of number, string or boolean"
            )
        self.kind = kinds.pop()
        return None

    def constrain(self, text: str) -> str | None:
        """Narrow an input by an inputValues/allowedValues entry; a problem, or None."""
        try:
            cell = parse_cell(text)
        except DmnError as exc:
            return str(exc.args[0])
        if cell is None:
            return None
        if cell.negated and cell.tests == (IsNull(),):
            self.required = True
            return None
        tests = tuple(t for t in cell.tests if not isinstance(t, IsNull))
        kind = self.kind or ""
        problem = type_problem(cell, kind)
        bounds = _bounds(tests) if kind in ("number", "integer") else None
        if problem is not None:
            return f"{text.strip()!r}: {problem}"
        if not cell.negated and tests and all(isinstance(t, Equal) for t in tests):
            values = tuple(t.value for t in tests if isinstance(t, Equal))
            self.values = (
                values if self.values is None else tuple(v for v in self.values if v in values)
            )
        elif not cell.negated and bounds is not None:
            low, high = bounds
            if low is not None:
                self.low = low if self.low is None else max(self.low, low)
            if high is not None:
                self.high = high if self.high is None else min(self.high, high)
        else:
            return f"{text.strip()!r}: {_KEPT}"
        if len(tests) == len(cell.tests):
            self.required = True
        return None

    def settle_values(self) -> str | None:
        """Read outputValues and the default output entry; a problem, or None."""
        try:
            values = parse_cell(self.values_text)
            self.default = parse_literal(self.default_text)
        except DmnError as exc:
            return str(exc.args[0])
        if values is not None:
            if values.negated or not all(isinstance(t, Equal) for t in values.tests):
                return "output values must be a list of literals"
            self.values = tuple(t.value for t in values.tests if isinstance(t, Equal))
        return None

    def output_problem(self, value: Scalar | None) -> str | None:
        """Why an output value does not fit this column, or None."""
        if value is None:
            return None
        if not value_fits(self.kind or "", value):
            return f"{value!r} is not of the column's type, {self.kind}"
        for text in self.constraints:
            try:
                allowed = parse_cell(text)
            except DmnError as exc:
                return (
                    f"its type's allowed values {text.strip()!r} are not supported: {exc.args[0]}"
                )
            if matches(allowed, value) is not True:
                return f"{value!r} is not among its type's allowed values {text.strip()!r}"
        return None

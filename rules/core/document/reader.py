"""Typed reads of plain data that collect problems instead of raising: the base of the
document parser (:mod:`rules.core.document.parse`).

Every read returns None (or a default) when the value is wrong, after recording a
:class:`~rules.errors.Problem` at its location, so one pass finds every problem.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from rules.core.document.canonical import MAX_EXACT_INT, canonical_number
from rules.core.document.model import MAX_LIST, Scalar
from rules.errors import Problem, suggest

__all__ = ["Reader", "is_scalar", "kind_of"]


def kind_of(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list | tuple):
        return "a list"
    return type(value).__name__


def is_scalar(value: object) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)
    return isinstance(value, str | int | bool)


def _exact_double(value: int) -> bool:
    try:
        return int(float(value)) == value
    except OverflowError:
        return False


class Reader:
    """Reads plain data, collecting each problem (RB002 unless said) with its location."""

    def __init__(self) -> None:
        self.problems: list[Problem] = []

    def problem(self, location: str, message: str, suggestion: str | None = None) -> None:
        self.problems.append(Problem("RB002", location, message, suggestion))

    def keys(self, data: Mapping[str, Any], allowed: Sequence[str], where: str) -> None:
        for key in data:
            if key not in allowed:
                loc = f"{where}.{key}" if where else str(key)
                self.problem(
                    loc,
                    f"unknown field {key!r}; allowed: {', '.join(allowed)}",
                    suggest(str(key), allowed),
                )

    def mapping(self, data: object, where: str) -> Mapping[str, Any] | None:
        if not isinstance(data, Mapping):
            self.problem(where or "document", f"expected a mapping, got {kind_of(data)}")
            return None
        return data

    def text(self, data: Mapping[str, Any], key: str, where: str, *, required: bool) -> str | None:
        loc = f"{where}.{key}" if where else key
        if key not in data or data[key] is None:
            if required:
                self.problem(loc, f"{key!r} is required")
            return None
        value = data[key]
        if not isinstance(value, str):
            self.problem(loc, f"expected a string, got {kind_of(value)}")
            return None
        return self.unicode(value, loc)

    def unicode(self, value: str, loc: str) -> str | None:
        """``value`` if it is Unicode text; a lone surrogate (which JSON's ``\\ud800`` can
        smuggle in) has no UTF-8 form, so no canonical form and no hash."""
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as exc:
            self.problem(
                loc,
                f"the text holds a lone surrogate ({value[exc.start : exc.end]!r}) at "
                f"character {exc.start}, which is not Unicode; remove it",
            )
            return None
        return value

    def flag(self, data: Mapping[str, Any], key: str, where: str, default: bool) -> bool:
        if key not in data or data[key] is None:
            return default
        value = data[key]
        if not isinstance(value, bool):
            self.problem(f"{where}.{key}", f"expected true or false, got {kind_of(value)}")
            return default
        return value

    def scalar(self, value: object, loc: str) -> Scalar | None:
        if isinstance(value, float) and not math.isfinite(value):
            self.problem(loc, "numbers must be finite (no NaN or infinity)")
            return None
        if isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_EXACT_INT:
            # The canonical form (RFC 8785) writes the double 1e16 as 10000000000000000, so an
            # integer a double holds exactly is that double; any other would be rounded.
            if _exact_double(value):
                return float(value)
            self.problem(loc, f"integers must lie within ±{MAX_EXACT_INT} (2**53)")
            return None
        if not is_scalar(value):
            self.problem(loc, f"expected a string, number or boolean, got {kind_of(value)}")
            return None
        if isinstance(value, str):
            return self.unicode(value, loc)
        if isinstance(value, float):
            # One canonical form, one behaviour: 1.0 and 1 are the same version and must give
            # byte-identical results, so integral floats are read as integers.
            return canonical_number(value)
        return value  # type: ignore[return-value]

    def scalar_list(self, value: object, loc: str) -> tuple[Scalar, ...] | None:
        if not isinstance(value, list | tuple):
            self.problem(loc, f"expected a list, got {kind_of(value)}")
            return None
        if len(value) > MAX_LIST:
            self.problem(loc, f"at most {MAX_LIST} values are allowed in a list")
            return None
        items = [self.scalar(v, f"{loc}[{i}]") for i, v in enumerate(value)]
        if any(v is None for v in items):
            return None
        return tuple(v for v in items if v is not None)

    # --- document parts

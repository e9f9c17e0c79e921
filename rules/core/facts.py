"""Validating facts against a ruleset's input schema before anything evaluates them.

Every problem names its field (``facts.pirat``) and says what would be right; unknown fields
are an error with a "did you mean" suggestion, never silently dropped.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from rules.core.document import MAX_EXACT_INT, Document, Input, Scalar
from rules.errors import FactsError, Problem, suggest

__all__ = ["MAX_STRING_LENGTH", "FactsValidator", "validate_facts"]

MAX_STRING_LENGTH = 10_000


def _coerce(spec: Input, value: object, loc: str) -> tuple[Scalar | None, Problem | None]:
    kind = spec.type
    if kind == "boolean":
        if isinstance(value, bool):
            return value, None
        return None, Problem("RB401", loc, f"expected true or false, got {value!r}")
    if kind == "string":
        if not isinstance(value, str):
            return None, Problem("RB401", loc, f"expected a string, got {value!r}")
        if len(value) > MAX_STRING_LENGTH:
            return None, Problem("RB402", loc, f"at most {MAX_STRING_LENGTH} characters")
        return value, None
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None, Problem(
            "RB401",
            loc,
            f"expected {'an integer' if kind == 'integer' else 'a number'}, got {value!r}",
        )
    if isinstance(value, float) and not math.isfinite(value):
        return None, Problem("RB401", loc, "numbers must be finite (no NaN or infinity)")
    if kind == "integer" and isinstance(value, float):
        if not value.is_integer():
            return None, Problem("RB401", loc, f"expected an integer, got {value!r}")
        value = int(value)
    if isinstance(value, int) and abs(value) > MAX_EXACT_INT:
        return None, Problem("RB402", loc, f"integers must lie within ±{MAX_EXACT_INT} (2**53)")
    return value, None


def _domain(spec: Input, value: Scalar, loc: str) -> Problem | None:
    if spec.values is not None and value not in spec.values:
        return Problem(
            "RB403",
            loc,
            f"{value!r} is not an allowed value; one of {', '.join(map(repr, spec.values))}",
            suggest(str(value), [str(v) for v in spec.values]),
        )
    if isinstance(value, int | float) and not isinstance(value, bool):
        if spec.min is not None and value < spec.min:
            return Problem("RB402", loc, f"{value!r} is below the minimum {spec.min!r}")
        if spec.max is not None and value > spec.max:
            return Problem("RB402", loc, f"{value!r} is above the maximum {spec.max!r}")
    return None


def validate_facts(doc: Document, facts: object) -> dict[str, Scalar | None]:
    """The facts, typed and checked against ``doc``'s inputs, or a FactsError naming each field.

    The result holds only declared inputs; an optional input that was absent stays absent and
    one sent as null is kept as None (both are null to the rules).
    """
    if not isinstance(facts, Mapping):
        raise FactsError(
            "facts must be a JSON object",
            [
                Problem(
                    "RB400",
                    "facts",
                    f"expected an object of input values, got {type(facts).__name__}",
                )
            ],
        )
    problems: list[Problem] = []
    names = [i.name for i in doc.inputs]
    for key in facts:
        if not isinstance(key, str) or doc.input(key) is None:
            problems.append(
                Problem(
                    "RB404",
                    f"facts.{key}",
                    f"unknown input {key!r}; this ruleset's inputs are {', '.join(names)}",
                    suggest(str(key), names),
                )
            )
    result: dict[str, Scalar | None] = {}
    for spec in doc.inputs:
        loc = f"facts.{spec.name}"
        value: Any = facts.get(spec.name)
        if value is None:
            if spec.required:
                what = (
                    "is required" if spec.name not in facts else "is required and may not be null"
                )
                problems.append(Problem("RB405", loc, f"{spec.name!r} {what}"))
            elif spec.name in facts:
                result[spec.name] = None
            continue
        typed, problem = _coerce(spec, value, loc)
        if problem is None and typed is not None:
            problem = _domain(spec, typed, loc)
        if problem is not None:
            problems.append(problem)
        else:
            result[spec.name] = typed
    if problems:
        raise FactsError("the facts do not match the ruleset's inputs", problems)
    return result


def _fast_check(spec: Input) -> Any:
    """A predicate accepting exactly the values ``_coerce`` + ``_domain`` accept unchanged."""
    kind, low, high = spec.type, spec.min, spec.max
    allowed = None
    if spec.values is not None:
        allowed = frozenset((isinstance(v, bool), v) for v in spec.values)

    def check(value: object) -> bool:
        cls = type(value)
        if kind == "boolean":
            ok = cls is bool
        elif kind == "string":
            ok = cls is str and len(value) <= MAX_STRING_LENGTH  # type: ignore[arg-type]
        elif kind == "integer":
            ok = cls is int and -MAX_EXACT_INT <= value <= MAX_EXACT_INT  # type: ignore[operator]
        else:
            ok = (cls is float and math.isfinite(value)) or (  # type: ignore[arg-type]
                cls is int and -MAX_EXACT_INT <= value <= MAX_EXACT_INT  # type: ignore[operator]
            )
        if not ok:
            return False
        if low is not None and value < low:  # type: ignore[operator]
            return False
        if high is not None and value > high:  # type: ignore[operator]
            return False
        return allowed is None or (cls is bool, value) in allowed

    return check


class FactsValidator:
    """:func:`validate_facts` for one document, with a fast path for facts that are already
    well-typed; anything else goes through :func:`validate_facts` for its exact problems."""

    def __init__(self, doc: Document) -> None:
        self.doc = doc
        self._checks = [(s.name, s.required, _fast_check(s)) for s in doc.inputs]
        self._names = frozenset(s.name for s in doc.inputs)

    def __call__(self, facts: object) -> dict[str, Scalar | None]:
        if type(facts) is not dict or not self._names.issuperset(facts):
            return validate_facts(self.doc, facts)
        result: dict[str, Scalar | None] = {}
        for name, required, check in self._checks:
            if name in facts:
                value = facts[name]
                if value is None:
                    if required:
                        return validate_facts(self.doc, facts)
                    result[name] = None
                elif check(value):
                    result[name] = value
                else:
                    return validate_facts(self.doc, facts)
            elif required:
                return validate_facts(self.doc, facts)
        return result

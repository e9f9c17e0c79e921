"""Three-valued conditions reduced to two-valued formulas over atomic tests.

DESIGN §2: a leaf on a missing or null input is *unknown* (it never matches, except
``is_null``), and ``not`` keeps FEEL's meaning: not(unknown) is unknown. A rule matches when its
condition is *true*. :func:`true_form` computes, for any condition, a formula that holds
exactly when the condition is true; it pushes negation down by pairing each condition with the
formula for "is false" (Kleene logic), so the result has no negation and every atom is a plain
test on a present value or a presence test. Both the engine compiler and the static checks
work on this form.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeAlias

from rules.core.document import AllOf, AnyOf, Between, Condition, Leaf, Not, Scalar

__all__ = ["FALSE", "TRUE", "And", "Atom", "Const", "Formula", "Or", "false_form", "true_form"]


@dataclass(frozen=True, slots=True)
class Atom:
    """A test on one input: ``op`` in eq ne lt le gt ge (value present and compared) or
    ``present`` / ``absent`` (value is, or is not, non-null)."""

    input: str
    op: str
    value: Scalar | None = None


@dataclass(frozen=True, slots=True)
class Const:
    value: bool


@dataclass(frozen=True, slots=True)
class And:
    items: tuple[Formula, ...]


@dataclass(frozen=True, slots=True)
class Or:
    items: tuple[Formula, ...]


Formula: TypeAlias = Atom | Const | And | Or

TRUE = Const(True)
FALSE = Const(False)

_NEGATE = {"eq": "ne", "ne": "eq", "lt": "ge", "ge": "lt", "le": "gt", "gt": "le"}


def conj(items: list[Formula] | tuple[Formula, ...]) -> Formula:
    """A simplified conjunction: flattened, constants folded, duplicates dropped."""
    out: dict[Formula, None] = {}  # insertion-ordered set: linear, not quadratic, dedupe
    for item in items:
        if item == FALSE:
            return FALSE
        if item == TRUE:
            continue
        out.update(dict.fromkeys(item.items if isinstance(item, And) else (item,)))
    parts = tuple(out)
    if not parts:
        return TRUE
    return parts[0] if len(parts) == 1 else And(parts)


def disj(items: list[Formula] | tuple[Formula, ...]) -> Formula:
    """A simplified disjunction: flattened, constants folded, duplicates dropped."""
    out: dict[Formula, None] = {}
    for item in items:
        if item == TRUE:
            return TRUE
        if item == FALSE:
            continue
        out.update(dict.fromkeys(item.items if isinstance(item, Or) else (item,)))
    parts = tuple(out)
    if not parts:
        return FALSE
    return parts[0] if len(parts) == 1 else Or(parts)


def _leaf(leaf: Leaf, want: bool) -> Formula:
    name, op, value = leaf.input, leaf.op, leaf.value
    if op == "is_null":
        return Atom(name, "absent" if want else "present")
    if op == "not_null":
        return Atom(name, "present" if want else "absent")
    if op in ("in", "not_in"):
        values = value if isinstance(value, tuple) else ()
        members = disj([Atom(name, "eq", v) for v in values])
        outside = conj([Atom(name, "present"), *(Atom(name, "ne", v) for v in values)])
        return members if (op == "in") == want else outside
    if op == "between":
        if not isinstance(value, Between):
            raise TypeError("between needs a Between value")
        low_op = "ge" if value.low_inclusive else "gt"
        high_op = "le" if value.high_inclusive else "lt"
        inside = conj([Atom(name, low_op, value.low), Atom(name, high_op, value.high)])
        if want:
            return inside
        return disj(
            [Atom(name, _NEGATE[low_op], value.low), Atom(name, _NEGATE[high_op], value.high)]
        )
    if isinstance(value, tuple | Between) or value is None:
        raise TypeError(f"operator {op!r} needs a single value")
    return Atom(name, op if want else _NEGATE[op], value)


def _form(cond: Condition, want: bool) -> Formula:
    if isinstance(cond, Leaf):
        return _leaf(cond, want)
    if isinstance(cond, Not):
        return _form(cond.item, not want)
    parts = [_form(item, want) for item in cond.items]
    # all(...) is true when every item is true and false when any item is false; any(...) dually.
    if isinstance(cond, AllOf):
        return conj(parts) if want else disj(parts)
    if isinstance(cond, AnyOf):
        return disj(parts) if want else conj(parts)
    raise TypeError(f"not a condition: {cond!r}")


def true_form(cond: Condition | None) -> Formula:
    """A negation-free formula that holds exactly when ``cond`` evaluates to true."""
    return TRUE if cond is None else _form(cond, True)


def false_form(cond: Condition | None) -> Formula:
    """A negation-free formula that holds exactly when ``cond`` evaluates to false."""
    return FALSE if cond is None else _form(cond, False)

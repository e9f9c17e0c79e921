"""The conditions rule induction may use, each with the set of cases it holds for.

Only inputs that are neither ``protected`` nor ``pii`` get conditions, so nothing induced can
ever condition on them. Per input type:

* ``number``: ``le t`` and ``gt t`` (a complementary pair, as in ``pirat le 0.36``), with ``t``
  an observed value rounded to 2 significant digits (0.221 → 0.22, 3.9 → 3.9, 17.4 → 17);
* ``integer``: ``le v`` and ``ge v`` at each observed value (``chist le 2``);
* ``boolean``: ``eq true`` and ``eq false``;
* ``string``, or any input with declared ``values``: ``eq v`` and ``in [v, w]`` over observed
  values, when there are at most :data:`MAX_CATEGORIES` of them.

Conditions that hold for exactly the same cases are merged into the roundest (0.3 before 0.25
before 0.27), so the learner sees each distinct split once, in its most readable form. A
condition's case set is a Python int used as a bitset (bit ``i``: case ``i``); a condition on
a missing or null value is false, as in the engine.
"""

from __future__ import annotations

import bisect
import functools
import itertools
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TypeAlias

from rules.core.document import AllOf, Between, Document, Input, Leaf, Rule, Scalar

__all__ = [
    "MAX_CATEGORIES",
    "Masks",
    "Test",
    "candidate_tests",
    "column_masks",
    "round2",
    "roundness",
    "rule_tests",
    "test_bits",
    "usable_inputs",
]

MAX_CATEGORIES = 8
PLAIN_OPS = frozenset({"eq", "in", "le", "lt", "ge", "gt"})  # the operators a Test can hold
Facts: TypeAlias = Mapping[str, Scalar | None]
_SYMBOLS = {"le": "≤", "lt": "<", "ge": "≥", "gt": ">", "eq": "=", "in": "in"}


@dataclass(frozen=True, slots=True)
class Test:
    """One candidate leaf condition: ``input op value``; ``rank`` is the input's position in
    the document (conditions are written in input order)."""

    input: str
    op: str
    value: Scalar | tuple[Scalar, ...]
    rank: int
    # Computed once: the learner sorts and hashes tests millions of times.
    key: tuple[int, str, str] = field(init=False, repr=False, compare=False)
    _hash: int = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "key", (self.rank, self.op, repr(self.value)))
        object.__setattr__(self, "_hash", hash((self.input, self.op, self.value, self.rank)))

    def __hash__(self) -> int:
        return self._hash

    @property
    def roundness(self) -> int:
        """Lower is rounder: the digits needed to write the value."""
        if isinstance(self.value, tuple):
            return sum(roundness(v) for v in self.value)
        return roundness(self.value)

    def holds(self, value: Scalar | None) -> bool:
        if value is None:
            return False
        if self.op == "eq":
            return value == self.value and isinstance(value, bool) == isinstance(self.value, bool)
        if self.op == "in":
            return isinstance(self.value, tuple) and value in self.value
        if isinstance(value, bool | str) or isinstance(self.value, bool | str | tuple):
            return False
        if self.op == "le":
            return value <= self.value
        if self.op == "lt":
            return value < self.value
        if self.op == "ge":
            return value >= self.value
        return value > self.value

    def leaf(self) -> Leaf:
        return Leaf(self.input, self.op, self.value)

    @property
    def text(self) -> str:
        return f"{self.input} {_SYMBOLS[self.op]} {_show(self.value)}"

    @property
    def slug(self) -> str:
        return f"{self.input.lower().replace('_', '-')}-{self.op}-{_slug_value(self.value)}"


@functools.lru_cache(maxsize=65536, typed=True)
def roundness(value: object) -> int:
    """How many characters of precision a value needs: 0.3 → 2, 0.25 → 3, 0.27 → 4 (a last
    digit 5 counts half)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return 2
    digits = Decimal(repr(value)).normalize().as_tuple().digits
    last_five = len(digits) > 1 and digits[-1] == 5
    return 2 * len(digits) - (1 if last_five else 0)


def usable_inputs(doc: Document) -> list[tuple[int, Input]]:
    """The inputs induced rules may condition on, with their rank: never protected or PII."""
    return [(k, i) for k, i in enumerate(doc.inputs) if not (i.protected or i.pii)]


def rule_tests(doc: Document, rule: Rule) -> tuple[Test, ...]:
    """``rule``'s condition as tests, when it is one plain comparison or a conjunction of them
    on usable inputs (else nothing: such a rule is not one induction may widen)."""
    when = rule.when
    items = (when,) if isinstance(when, Leaf) else when.items if isinstance(when, AllOf) else ()
    ranks = {spec.name: rank for rank, spec in usable_inputs(doc)}
    tests: list[Test] = []
    for leaf in items:
        if not isinstance(leaf, Leaf) or leaf.input not in ranks or leaf.op not in PLAIN_OPS:
            return ()
        if leaf.value is None or isinstance(leaf.value, Between):
            return ()
        tests.append(Test(leaf.input, leaf.op, leaf.value, ranks[leaf.input]))
    return tuple(tests)


def candidate_tests(
    doc: Document,
    facts: Sequence[Facts],
    observed: Mapping[str, Iterable[Scalar]] | None = None,
) -> list[tuple[Test, int]]:
    """Every usable condition over ``facts`` with its case bitset, merged and sorted.

    The conditions' values come from each input's column of ``facts`` or, when ``observed``
    names the input, from the values given there (a learning sample whose facts are binned
    passes the values seen before binning: see :mod:`proposer.sample`)."""
    found: dict[tuple[str, str, int], Test] = {}
    everyone = (1 << len(facts)) - 1
    for rank, spec in usable_inputs(doc):
        column = [f.get(spec.name) for f in facts]
        seen = observed.get(spec.name) if observed is not None else None
        masks = Masks(column)
        for test in _tests_for(rank, spec, column if seen is None else list(seen)):
            bits = masks.bits(test)
            if bits == 0 or bits == everyone:
                continue
            slot = (test.input, test.op, bits)
            kept = found.get(slot)
            if kept is None or (test.roundness, test.key) < (kept.roundness, kept.key):
                found[slot] = test
    merged = [(test, slot[2]) for slot, test in found.items()]
    return sorted(merged, key=lambda item: item[0].key)


def test_bits(test: Test, column: Sequence[Scalar | None]) -> int:
    """The cases (bit ``i``: ``column[i]``) ``test`` holds for."""
    bits = 0
    for i, value in enumerate(column):
        if test.holds(value):
            bits |= 1 << i
    return bits


def column_masks(doc: Document, facts: Sequence[Facts]) -> dict[str, Masks]:
    """Each usable input's :class:`Masks` over ``facts``."""
    return {spec.name: Masks([f.get(spec.name) for f in facts]) for _, spec in usable_inputs(doc)}


class Masks:
    """One column's case sets by value, so that a test's bitset is a lookup, not a scan:
    the numbers sorted with the union of the cases at or below each (``le``, ``lt``, ``gt``,
    ``ge`` are a bisection), and the cases of each value (``eq``, ``in``). Equal to
    :func:`test_bits`, case for case."""

    def __init__(self, column: Sequence[Scalar | None]) -> None:
        by_value: dict[tuple[bool, Scalar], int] = {}
        numbers: dict[int | float, int] = {}
        for i, value in enumerate(column):
            if value is None:
                continue
            key = (isinstance(value, bool), value)
            by_value[key] = by_value.get(key, 0) | (1 << i)
            if isinstance(value, int | float) and not isinstance(value, bool):
                numbers[value] = numbers.get(value, 0) | (1 << i)
        self.by_value = by_value
        self.values = sorted(numbers)
        below = [0]
        for v in self.values:
            below.append(below[-1] | numbers[v])
        self.below = below  # below[k]: the cases whose value is one of the k smallest

    def bits(self, test: Test) -> int:
        value = test.value
        if test.op == "eq":
            return self.by_value.get((isinstance(value, bool), value), 0)  # type: ignore[arg-type]
        if test.op == "in":
            found = 0
            for v in value if isinstance(value, tuple) else ():
                found |= self.by_value.get((isinstance(v, bool), v), 0)
            return found
        if isinstance(value, bool | str | tuple):
            return 0
        every = self.below[-1]
        if test.op == "le":
            return self.below[bisect.bisect_right(self.values, value)]
        if test.op == "lt":
            return self.below[bisect.bisect_left(self.values, value)]
        if test.op == "ge":
            return every & ~self.below[bisect.bisect_left(self.values, value)]
        return every & ~self.below[bisect.bisect_right(self.values, value)]


def _tests_for(rank: int, spec: Input, column: Sequence[Scalar | None]) -> list[Test]:
    observed = {v for v in column if v is not None}
    if spec.type == "boolean":
        return [Test(spec.name, "eq", flag, rank) for flag in (False, True) if flag in observed]
    if spec.type == "string" or spec.values is not None:
        return _category_tests(rank, spec, observed)
    numbers = sorted(v for v in observed if isinstance(v, int | float) and not isinstance(v, bool))
    if spec.type == "integer":
        return [Test(spec.name, op, v, rank) for v in numbers for op in ("le", "ge")]
    cuts = sorted({round2(v) for v in numbers if _within(spec, round2(v))})
    return [Test(spec.name, op, t, rank) for t in cuts for op in ("le", "gt")]


def _category_tests(rank: int, spec: Input, observed: set[Scalar]) -> list[Test]:
    if len(observed) > MAX_CATEGORIES:
        return []
    values = sorted(observed, key=lambda v: (type(v).__name__, repr(v)))
    tests = [Test(spec.name, "eq", v, rank) for v in values]
    tests += [Test(spec.name, "in", pair, rank) for pair in itertools.combinations(values, 2)]
    return tests


def round2(value: int | float) -> int | float:
    """``value`` rounded to 2 significant digits (0.221 → 0.22, 17.4 → 17): the thresholds
    induction offers."""
    rounded = float(f"{value:.2g}")
    return int(rounded) if rounded.is_integer() else rounded


def _within(spec: Input, value: int | float) -> bool:
    return (spec.min is None or value >= spec.min) and (spec.max is None or value <= spec.max)


def _show(value: Scalar | tuple[Scalar, ...]) -> str:
    if isinstance(value, tuple):
        return "[" + ", ".join(_show(v) for v in value) + "]"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _slug_value(value: Scalar | tuple[Scalar, ...]) -> str:
    if isinstance(value, tuple):
        return "-".join(_slug_value(v) for v in value)
    text = _show(value).lower()
    if text.startswith("-"):
        text = "minus-" + text[1:]
    return re.sub(r"[^a-z0-9]+", "-", text).strip("-") or "blank"

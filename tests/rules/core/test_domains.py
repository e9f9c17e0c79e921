"""The per-input domain algebra under the static analyses, against plain Python sets and
plain Python comparisons."""

from __future__ import annotations

import itertools
import math
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rules.core.check.domains import Dim, Domain, Key, spans_and, spans_or, spans_sub
from rules.core.document import Input

# Span lists over small integers; an unbounded span reaches past every finite end (to 15).
TOP = 15
Spans = tuple[tuple[int, int | None], ...]


@st.composite
def span_lists(draw: st.DrawFn) -> Spans:
    pairs = draw(st.lists(st.tuples(st.integers(0, 12), st.integers(0, 12)), max_size=4))
    spans = [(min(a, b), max(a, b)) for a, b in pairs]
    if draw(st.booleans()):
        spans.append((draw(st.integers(0, 12)), None))  # type: ignore[arg-type]
    return spans_or(tuple(spans))


def members(spans: Spans) -> set[int]:
    return {k for lo, hi in spans for k in range(lo, TOP if hi is None else hi)}


def canonical(spans: Spans) -> bool:
    """Sorted, nonempty, disjoint and non-adjacent: each end strictly below the next."""
    ends = [TOP + 1 if k is None else k for span in spans for k in span]
    return all(a < b for a, b in itertools.pairwise(ends))


@given(span_lists(), span_lists())
def test_span_operations_agree_with_sets(a: Spans, b: Spans) -> None:
    assert members(spans_and(a, b)) == members(a) & members(b)
    assert members(spans_or(a, b)) == members(a) | members(b)
    assert members(spans_sub(a, b)) == members(a) - members(b)
    for result in (spans_and(a, b), spans_or(a, b), spans_sub(a, b)):
        assert canonical(result)
    assert Domain(False, a).within(Domain(False, b)) == (members(a) <= members(b))


KINDS: dict[str, tuple[Input, list[Any]]] = {
    "integer": (Input("x", "integer", min=-3, max=3), [-3, -1, 0, 1, 2, 3]),
    "number": (Input("x", "number"), [-1.5, -0.0, 0, 0.1, 1, 2.5, 1e300]),
    "string": (Input("x", "string"), ["", "a", "a\0", "a\0\0", "ab", "b", "\U0001f600"]),
    "enum": (Input("x", "number", values=(3, 1, 2.5)), [1, 2.5, 3]),
    "boolean": (Input("x", "boolean"), [True, False]),
}


def key_of(dim: Dim, value: Any) -> Key:
    if dim.kind == "enum":
        return dim.choices.index(value)
    return float(value) if dim.kind == "float" else value


def holds(domain: Domain, key: Key) -> bool:
    return any(lo <= key and (hi is None or key < hi) for lo, hi in domain.spans)


def compare(op: str, x: Any, v: Any) -> bool:
    if op in ("eq", "ne"):
        return bool(x == v) == (op == "eq")
    return bool({"lt": x < v, "le": x <= v, "gt": x > v, "ge": x >= v}[op])


@pytest.mark.parametrize(
    ("kind", "op"),
    [
        (kind, op)
        for kind in sorted(KINDS)
        for op in ("eq", "ne", "lt", "le", "gt", "ge")
        if kind != "boolean" or op in ("eq", "ne")  # booleans compare only with eq and ne
    ],
)
def test_atoms_hold_exactly_for_the_values_that_satisfy_them(kind: str, op: str) -> None:
    spec, values = KINDS[kind]
    dim = Dim.of(spec)
    for constant in values:
        domain = dim.atom(op, constant)
        assert not domain.null
        for x in values:
            assert holds(domain, key_of(dim, x)) == compare(op, x, constant), (x, constant)
        if domain.spans:
            picked = dim.pick(domain)
            assert compare(op, picked, constant), (picked, constant)


def test_universes_follow_type_bounds_values_and_required() -> None:
    assert Dim.of(Input("x", "integer", min=0.5, max=3)).universe == Domain(False, ((1, 4),))
    number = Dim.of(Input("x", "number", required=False, max=1))
    assert number.universe.null
    assert number.universe.spans[0][1] == math.nextafter(1.0, math.inf)
    assert Dim.of(Input("x", "boolean")).choices == (False, True)
    bounded = Dim.of(Input("x", "integer", min=0, max=5, values=(1, 1.0, 9)))
    assert bounded.choices == (1,)
    assert Dim.of(Input("x", "string", values=())).universe.empty


def test_presence_atoms() -> None:
    optional = Dim.of(Input("x", "integer", required=False))
    assert optional.atom("absent", None) == Domain(True)
    assert optional.atom("present", None) == Domain(False, optional.universe.spans)
    assert Dim.of(Input("x", "integer")).atom("absent", None).empty

"""Hypothesis strategies for valid ruleset documents and facts that fit them.

Documents are built as plain data (what a user would write) and are valid by construction:
:func:`cases` parses them with :func:`rules.core.document.parse_document`, and the property tests
check that :func:`rules.core.validate.validate_document` reports no errors. Values come from small
pools of edge values (bounds, ``0`` and ``-0.0``, ``1`` and ``1.0``, ``0.1 + 0.2`` next to ``0.3``,
strings with quotes, backslashes, digits and combining marks ...) so that rules overlap and
facts land on their boundaries; facts also omit optional inputs or send explicit nulls.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from hypothesis import strategies as st

from rules.core.document import Between, Document, Input, Leaf, Scalar, parse_document
from rules.core.validate import leaves
from tests.rules.core.reference import comparable

__all__ = [
    "POLICIES",
    "Plan",
    "cases",
    "document_data",
    "fact_sets",
    "facts_for",
]

# (hit policy, aggregation): every hit policy, and COLLECT with each aggregation.
POLICIES: tuple[tuple[str, str | None], ...] = (
    ("UNIQUE", None),
    ("ANY", None),
    ("PRIORITY", None),
    ("FIRST", None),
    ("RULE ORDER", None),
    ("OUTPUT ORDER", None),
    ("COLLECT", None),
    ("COLLECT", "SUM"),
    ("COLLECT", "COUNT"),
    ("COLLECT", "MIN"),
    ("COLLECT", "MAX"),
)

NUMBERS: tuple[int | float, ...] = (
    0,
    -0.0,
    1,
    1.0,
    -1,
    0.1,
    0.2,
    0.3,
    0.1 + 0.2,
    0.5,
    2.5,
    -2.5,
    10,
    1.0000000000000002,
    1e-07,
    1e16,
    5e-324,
    2**53,
    -(2**53),
)
INTEGERS: tuple[int | float, ...] = (0, -0.0, 1, 1.0, 2, 3, -1, -2, 10, 2**53, -(2**53))
STRINGS: tuple[str, ...] = (
    "",
    "a",
    "A",
    "b",
    "ab",
    "a ",
    "4",
    "10",
    "9",
    "é",
    "e\u0301",
    "日本",
    "😀",
    "a'b",
    'a"b',
    "a\\b",
    "null",
    "true",
    "$and",
    "\u2028",
    "\x00",
)
BOOLEANS: tuple[bool, ...] = (True, False)
POOLS: dict[str, tuple[Scalar, ...]] = {
    "number": NUMBERS,
    "integer": INTEGERS,
    "string": STRINGS,
    "boolean": BOOLEANS,
}
# Names a careless engine binding could confuse with its own fields.
INPUT_NAMES = ("x", "y", "amount", "id", "sid", "m", "s", "_v", "Score", "v0", "mk", "label")
OUTPUT_NAMES = ("outcome", "reason", "score", "amount", "label", "id", "sid", "x")
RULE_IDS = ("r{i}", "{i}", "R.{i}", "rule-{i}", "a_{i}")
ORDERED = ("lt", "le", "gt", "ge")
# Every operator, with the ones most likely to overlap drawn twice as often.
LEAF_OPS = (
    *("eq", "ne", "lt", "le", "gt", "ge", "in", "not_in", "between", "is_null", "not_null"),
    *("eq", "between", "in"),
)


def _unique(values: Sequence[Scalar], size: tuple[int, int]) -> st.SearchStrategy[list[Scalar]]:
    return st.lists(
        st.sampled_from(values), min_size=size[0], max_size=size[1], unique_by=comparable
    )


@dataclass(frozen=True)
class Plan:
    """One input or output as generated: its plain data and the values rules draw from."""

    spec: dict[str, Any]
    pool: tuple[Scalar, ...]
    domain: tuple[Scalar, ...]

    @property
    def name(self) -> str:
        return str(self.spec["name"])

    @property
    def type(self) -> str:
        return str(self.spec["type"])


# --------------------------------------------------------------------------- inputs, outputs


@st.composite
def input_plan(draw: st.DrawFn, name: str, protectable: bool) -> Plan:
    kind = draw(st.sampled_from(("number", "integer", "string", "boolean")))
    spec: dict[str, Any] = {"name": name, "type": kind}
    if draw(st.booleans()):
        spec["required"] = draw(st.booleans())
    domain = list(POOLS[kind])
    if kind in ("number", "integer") and draw(st.integers(0, 2)) == 0:
        low, high = sorted(draw(_unique(domain, (2, 2))))
        if draw(st.booleans()):
            spec["min"] = low
        if draw(st.booleans()) or "min" not in spec:
            spec["max"] = high
        domain = [v for v in domain if spec.get("min", -math.inf) <= v <= spec.get("max", math.inf)]
    if kind != "boolean" and draw(st.integers(0, 3)) == 0:
        spec["values"] = draw(_unique(domain, (1, 4)))
        pool = tuple(spec["values"])
    else:
        pool = tuple(draw(_unique(domain, (1, 5))))
    if protectable and draw(st.integers(0, 9)) == 0:
        spec["protected"] = True
    if draw(st.integers(0, 9)) == 0:
        spec["pii"] = True
    return Plan(spec, pool, tuple(domain))


def _output_kind(name: str, aggregation: str | None) -> st.SearchStrategy[str]:
    if name == "reason" and aggregation != "SUM":  # a number "reason" gives no reason text
        return st.sampled_from(("string", "string", "string", "number"))
    if aggregation == "SUM":
        return st.sampled_from(("number", "integer"))
    if aggregation in ("MIN", "MAX"):
        return st.sampled_from(("number", "number", "integer", "string"))
    return st.sampled_from(("string", "number", "integer", "boolean"))


@st.composite
def output_plan(draw: st.DrawFn, name: str, aggregation: str | None, ranked: bool) -> Plan:
    kind = draw(_output_kind(name, aggregation))
    spec: dict[str, Any] = {"name": name, "type": kind}
    if ranked or draw(st.booleans()):
        spec["values"] = draw(_unique(POOLS[kind], (1, 4)))
        pool = tuple(spec["values"])
    else:
        pool = tuple(draw(_unique(POOLS[kind], (1, 4))))
    if draw(st.integers(0, 2)) > 0:
        spec["default"] = draw(st.sampled_from(pool))
    return Plan(spec, pool, pool)


# --------------------------------------------------------------------------- conditions


@st.composite
def leaf_data(draw: st.DrawFn, plan: Plan) -> dict[str, Any]:
    name = plan.name
    if plan.type == "boolean":
        op = draw(st.sampled_from(("eq", "eq", "ne", "is_null", "not_null")))
    else:
        op = draw(st.sampled_from(LEAF_OPS))
    if op in ("is_null", "not_null"):
        return {"input": name, "op": op}
    # Ordered comparisons may use any value within the bounds; the others only allowed values.
    values = plan.pool if op not in (*ORDERED, "between") else plan.pool + plan.domain
    pick = st.sampled_from(plan.pool) if draw(st.integers(0, 3)) else st.sampled_from(values)
    if op in ("in", "not_in"):
        return {"input": name, "op": op, "value": draw(st.lists(pick, max_size=4))}
    if op == "between":
        between: dict[str, Any] = {"low": draw(pick), "high": draw(pick)}
        for flag in ("low_inclusive", "high_inclusive"):
            if draw(st.booleans()):
                between[flag] = draw(st.booleans())
        return {"input": name, "op": op, "value": between}
    return {"input": name, "op": op, "value": draw(pick)}


@st.composite
def condition_data(draw: st.DrawFn, plans: Sequence[Plan], depth: int = 0) -> dict[str, Any]:
    """A condition whose groups (all/any/not) nest at most three deep."""
    if depth >= 3 or draw(st.integers(0, 2)) == 0:
        return draw(leaf_data(draw(st.sampled_from(plans))))
    group = draw(st.sampled_from(("all", "all", "any", "any", "not")))
    if group == "not":
        return {"not": draw(condition_data(plans, depth + 1))}
    return {group: draw(st.lists(condition_data(plans, depth + 1), max_size=3))}


@st.composite
def rule_data(
    draw: st.DrawFn, index: int, plans: Sequence[Plan], outputs: Sequence[Plan]
) -> dict[str, Any]:
    rule: dict[str, Any] = {"id": draw(st.sampled_from(RULE_IDS)).format(i=index)}
    if plans and draw(st.integers(0, 7)) > 0:
        rule["when"] = draw(condition_data(plans))
    then: dict[str, Any] = {}
    for out in outputs:
        choice = draw(st.integers(0, 9))
        if choice < 7:
            then[out.name] = draw(st.sampled_from(out.pool))
        elif choice == 7:
            then[out.name] = None
    rule["then"] = then
    return rule


# --------------------------------------------------------------------------- documents


@st.composite
def document_data(
    draw: st.DrawFn,
    hit_policy: str | None = None,
    aggregation: str | None = None,
    rules: tuple[int, int] = (0, 15),
) -> dict[str, Any]:
    """A valid ruleset document as plain data, for one hit policy (or any)."""
    if hit_policy is None:
        hit_policy, aggregation = draw(st.sampled_from(POLICIES))
    names = draw(st.lists(st.sampled_from(INPUT_NAMES), min_size=1, max_size=6, unique=True))
    inputs = [draw(input_plan(n, protectable=i > 0)) for i, n in enumerate(names)]
    out_count = (1, 1) if aggregation else (1, 3)
    out_names = draw(
        st.lists(
            st.sampled_from(OUTPUT_NAMES),
            min_size=out_count[0],
            max_size=out_count[1],
            unique=True,
        )
    )
    ranked = hit_policy in ("PRIORITY", "OUTPUT ORDER")
    outputs = [draw(output_plan(n, aggregation, ranked)) for n in out_names]
    usable = [p for p in inputs if not p.spec.get("protected")]
    count = draw(st.integers(*rules))
    data: dict[str, Any] = {
        "name": draw(st.sampled_from(("t", "prop-test", "0-a"))),
        "inputs": [p.spec for p in inputs],
        "outputs": [o.spec for o in outputs],
        "hit_policy": draw(st.sampled_from((hit_policy, hit_policy.lower().replace(" ", "_")))),
        "rules": [draw(rule_data(i, usable, outputs)) for i in range(count)],
    }
    if aggregation is not None:
        data["aggregation"] = aggregation
    elif draw(st.booleans()):
        data["aggregation"] = None
    if draw(st.integers(0, 2)) == 0:
        target = draw(st.sampled_from(outputs))
        data["review"] = {"output": target.name, "values": draw(_unique(target.pool, (0, 2)))}
    return data


# --------------------------------------------------------------------------- facts


def _neighbours(spec: Input, value: Scalar) -> list[Scalar]:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return [value]
    if spec.type == "integer":
        return [int(value) - 1, int(value), float(value), int(value) + 1]
    return [math.nextafter(value, -math.inf), value, math.nextafter(value, math.inf)]


def _fits(spec: Input, value: Scalar) -> bool:
    if isinstance(value, int) and abs(value) > 2**53:
        return False
    if spec.values is not None:
        return any(comparable(value) == comparable(v) for v in spec.values)
    if spec.min is not None and value < spec.min:  # type: ignore[operator]
        return False
    return not (spec.max is not None and value > spec.max)  # type: ignore[operator]


def candidates(doc: Document, spec: Input) -> tuple[list[Scalar], list[Scalar]]:
    """(values the rules mention and their neighbours, other valid values) for one input."""
    mentioned: list[Scalar] = []
    for rule in doc.rules:
        for leaf, _ in leaves(rule.when, ""):
            if leaf.input == spec.name:
                mentioned.extend(_leaf_values(leaf))
    for bound in (spec.min, spec.max):
        if bound is not None:
            mentioned.append(bound)
    near: list[Scalar] = []
    for value in mentioned:
        near.extend(_neighbours(spec, value))
    near = [v for v in near if _fits(spec, v)]
    others = [v for v in (spec.values or POOLS[spec.type]) if _fits(spec, v)]
    if spec.type == "integer":
        others = [v for v in others if float(v).is_integer()]
    return near, others or [spec.min if spec.min is not None else 0]


def _leaf_values(leaf: Leaf) -> list[Scalar]:
    if isinstance(leaf.value, Between):
        return [leaf.value.low, leaf.value.high]
    if isinstance(leaf.value, tuple):
        return list(leaf.value)
    return [] if leaf.value is None else [leaf.value]


@st.composite
def facts_for(draw: st.DrawFn, doc: Document) -> dict[str, Any]:
    """Raw facts (before validation) that ``rules.core.facts.validate_facts`` accepts for ``doc``."""
    facts: dict[str, Any] = {}
    for spec in doc.inputs:
        if not spec.required:
            mode = draw(st.integers(0, 4))
            if mode == 0:
                continue
            if mode == 1:
                facts[spec.name] = None
                continue
        near, others = candidates(doc, spec)
        pool = near if near and draw(st.integers(0, 2)) > 0 else others
        facts[spec.name] = draw(st.sampled_from(pool))
    return facts


@st.composite
def fact_sets(draw: st.DrawFn, doc: Document, size: tuple[int, int] = (10, 20)) -> list[Any]:
    return draw(st.lists(facts_for(doc), min_size=size[0], max_size=size[1]))


@st.composite
def cases(
    draw: st.DrawFn,
    hit_policy: str | None = None,
    aggregation: str | None = None,
    facts: tuple[int, int] = (10, 20),
    rules: tuple[int, int] = (0, 15),
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """A document as plain data and a list of raw fact sets for it."""
    data = draw(document_data(hit_policy, aggregation, rules))
    doc = parse_document(data)
    return data, draw(fact_sets(doc, facts))

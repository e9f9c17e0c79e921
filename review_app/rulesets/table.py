"""A ruleset document as a readable decision table (DMN style): one row per rule in order, a
column per input the rules test, then the outputs.

Each rule's ``when`` is split into its top-level conjuncts (the items of an ``all``, or the
condition itself). A conjunct that tests one input goes in that input's column; conjuncts
on the same input are joined with ``and``. A conjunct over several inputs (an ``any`` across
inputs, say) goes in an "Other conditions" column, written with input names. Cells read
``≥ 0.36``, ``in {a, b}``, ``is null``, ``not (= true)``; a blank cell, any value, is an en dash.
The text is exactly the document's logic, never simplified: the raw document is shown under
the table for anyone who wants the source.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from rules.core.document import (
    AllOf,
    AnyOf,
    Between,
    Condition,
    Document,
    Leaf,
    Not,
    Output,
    Rule,
    Scalar,
)

__all__ = [
    "ANY",
    "POLICIES",
    "Column",
    "DecisionTable",
    "OutputCell",
    "TableRow",
    "condition_text",
    "decision_table",
    "input_uses",
    "leaf_text",
    "value_text",
]

ANY = "\u2013"  # an en dash: the input may have any value
SYMBOLS = {"eq": "=", "ne": "≠", "lt": "<", "le": "≤", "gt": ">", "ge": "≥"}
POLICIES = {
    "UNIQUE": "At most one rule may match; two or more matches are an evaluation error.",
    "ANY": "Several rules may match only if they agree on every output; otherwise it is an "
    "evaluation error.",
    "PRIORITY": "Of the matching rules, the one whose outputs rank first (by each output's "
    "allowed values, in the order listed) decides.",
    "FIRST": "The first matching rule, in the order shown, decides.",
    "RULE ORDER": "Every matching rule gives a result, in the order shown.",
    "OUTPUT ORDER": "Every matching rule gives a result, sorted by output priority.",
    "COLLECT": "Every matching rule gives a result.",
}
_PLAIN = re.compile(r"[^\s,{}()\"'][^,{}()\"']*\Z")
_WORDS = frozenset({"true", "false", "null", "and", "or", "not", "in", "is"})


@dataclass(frozen=True, slots=True)
class Column:
    """An input the rules test."""

    name: str
    type: str
    description: str | None
    protected: bool
    pii: bool


@dataclass(frozen=True, slots=True)
class OutputCell:
    text: str
    default: bool  # the rule does not name this output: its default applies
    unset: bool = False  # ... and it has no default (null)


@dataclass(frozen=True, slots=True)
class TableRow:
    position: int  # 1-based, in rule order
    id: str
    description: str | None
    cells: tuple[str, ...]  # one per column
    other: str | None  # conditions over several inputs
    outputs: tuple[OutputCell, ...]


@dataclass(frozen=True, slots=True)
class DecisionTable:
    columns: tuple[Column, ...]
    outputs: tuple[Output, ...]
    rows: tuple[TableRow, ...]
    has_other: bool
    hit_policy: str
    policy: str  # what the hit policy means, in words
    no_match: str  # what happens when no rule matches
    review: str | None  # which results are exceptions


def value_text(value: Scalar | None) -> str:
    """A value as a person reads it: ``true``, ``0.3``, ``approve``; quoted only when plain
    text would be ambiguous (empty, spaces at the ends, a keyword, a number, punctuation)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)
    if _PLAIN.match(value) and value == value.strip() and not _ambiguous(value):
        return value
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _ambiguous(text: str) -> bool:
    if text.lower() in _WORDS:
        return True
    try:
        float(text)
    except ValueError:
        return False
    return True


def _values(values: Iterable[Scalar]) -> str:
    return "{" + ", ".join(value_text(v) for v in values) + "}"


def leaf_text(leaf: Leaf) -> str:
    """A leaf's test without its input's name: ``≥ 0.36``, ``in {a, b}``, ``is null``."""
    op, value = leaf.op, leaf.value
    if op in SYMBOLS and not isinstance(value, tuple | Between):
        return f"{SYMBOLS[op]} {value_text(value)}"
    if op in ("in", "not_in") and isinstance(value, tuple):
        return ("in " if op == "in" else "not in ") + _values(value)
    if op == "between" and isinstance(value, Between):
        low = "≥" if value.low_inclusive else ">"
        high = "≤" if value.high_inclusive else "<"
        return f"{low} {value_text(value.low)} and {high} {value_text(value.high)}"
    if op == "is_null":
        return "is null"
    if op == "not_null":
        return "is not null"
    return f"{op} {value!r}"  # pragma: no cover - the parser admits no other operator


def _inputs(cond: Condition) -> frozenset[str]:
    if isinstance(cond, Leaf):
        return frozenset({cond.input})
    if isinstance(cond, Not):
        return _inputs(cond.item)
    return frozenset().union(*(_inputs(c) for c in cond.items))


def condition_text(cond: Condition, names: bool = True) -> str:
    """The condition as text; without ``names`` (a column's cell, one input) the input's
    name is left out of each test."""
    if isinstance(cond, Leaf):
        text = leaf_text(cond)
        return f"{cond.input} {text}" if names else text
    if isinstance(cond, Not):
        return f"not ({condition_text(cond.item, names)})"
    if not cond.items:
        return "always" if isinstance(cond, AllOf) else "never"
    joiner = " and " if isinstance(cond, AllOf) else " or "
    return joiner.join(_part(c, names) for c in cond.items)


def _part(cond: Condition, names: bool) -> str:
    text = condition_text(cond, names)
    compound = isinstance(cond, AllOf | AnyOf) and len(cond.items) > 1
    between = isinstance(cond, Leaf) and cond.op == "between"
    return f"({text})" if compound or between else text


def _conjuncts(cond: Condition | None) -> tuple[Condition, ...]:
    if cond is None:
        return ()
    return cond.items if isinstance(cond, AllOf) else (cond,)


def _join(parts: list[Condition], names: bool) -> str:
    if len(parts) == 1:
        return condition_text(parts[0], names)
    return " and ".join(_part(p, names) for p in parts)


def _row(
    position: int, rule: Rule, columns: tuple[str, ...], outputs: tuple[Output, ...]
) -> TableRow:
    by_input: dict[str, list[Condition]] = {}
    other: list[Condition] = []
    for part in _conjuncts(rule.when):
        used = _inputs(part)
        if len(used) == 1:
            by_input.setdefault(next(iter(used)), []).append(part)
        else:
            other.append(part)
    cells = tuple(
        _join(by_input[name], names=False) if name in by_input else ANY for name in columns
    )
    then = rule.then_dict
    return TableRow(
        position,
        rule.id,
        rule.description,
        cells,
        _join(other, names=True) if other else None,
        tuple(_output_cell(o, then) for o in outputs),
    )


def _output_cell(output: Output, then: dict[str, Scalar | None]) -> OutputCell:
    if output.name in then:
        return OutputCell(value_text(then[output.name]), default=False)
    if output.has_default:
        return OutputCell(value_text(output.default), default=True)
    return OutputCell("null", default=True, unset=True)


def _column_inputs(doc: Document) -> tuple[str, ...]:
    """Inputs some rule tests on its own (a cell), in the document's input order."""
    used: set[str] = set()
    for rule in doc.rules:
        for part in _conjuncts(rule.when):
            names = _inputs(part)
            if len(names) == 1:
                used |= names
    return tuple(i.name for i in doc.inputs if i.name in used)


def _no_match(doc: Document) -> str:
    missing = [o.name for o in doc.outputs if not o.has_default]
    if missing:
        return (
            "When no rule matches, the result is null, which is an exception "
            f"(no default for {', '.join(missing)})."
        )
    pairs = ", ".join(f"{o.name} = {value_text(o.default)}" for o in doc.outputs)
    return f"When no rule matches, the defaults apply: {pairs}."


def _policy(doc: Document) -> str:
    text = POLICIES.get(doc.hit_policy, "")
    if doc.hit_policy == "COLLECT" and doc.aggregation:
        output = doc.outputs[0].name if doc.outputs else "the output"
        text += f" The results are combined: the {doc.aggregation} of {output}."
    return text


def _review(doc: Document) -> str | None:
    if doc.review is None:
        return None
    values = ", ".join(value_text(v) for v in doc.review.values)
    return (
        f"Results whose {doc.review.output} is one of {{{values}}} are exceptions, routed "
        "to a person; so are null results and evaluation errors."
    )


def input_uses(doc: Document) -> dict[str, int]:
    """How many rules test each input (anywhere in their conditions)."""
    counts: dict[str, int] = {}
    for rule in doc.rules:
        if rule.when is not None:
            for name in _inputs(rule.when):
                counts[name] = counts.get(name, 0) + 1
    return counts


def decision_table(doc: Document) -> DecisionTable:
    """``doc`` laid out as a decision table, ready for a template."""
    names = _column_inputs(doc)
    columns = tuple(
        Column(i.name, i.type, i.description, i.protected, i.pii)
        for i in doc.inputs
        if i.name in names
    )
    rows = tuple(_row(n, r, names, doc.outputs) for n, r in enumerate(doc.rules, start=1))
    return DecisionTable(
        columns,
        doc.outputs,
        rows,
        any(r.other for r in rows),
        doc.hit_policy,
        _policy(doc),
        _no_match(doc),
        _review(doc),
    )

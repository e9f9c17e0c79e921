"""Rules as text people read, and the differences between two versions of a rule.

A rule is shown in plain language, one line per condition and per output, so that a line
diff of two rules shows exactly the conditions and outputs that differ::

    Rule approve-clean-low-debt
      When all of:
        pirat ≤ 0.3
        chist is one of 1, 2
        not phist = true
      Then:
        outcome = "approve"

Every changed line carries its marker in the text (``-`` left, ``+`` right), so colour is
never the only cue. The exact document is shown beside it as YAML and JSON.
"""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass
from itertools import zip_longest
from typing import Any

import yaml

from rules.core.document import AllOf, Between, Condition, Document, Leaf, Not, Rule, Scalar

__all__ = [
    "OP_TEXT",
    "DiffLine",
    "SideRow",
    "document_diff",
    "document_yaml",
    "leaf_text",
    "rule_lines",
    "scalar_text",
    "side_by_side",
]

OP_TEXT = {
    "eq": "=",
    "ne": "≠",
    "lt": "<",
    "le": "≤",
    "gt": ">",
    "ge": "≥",
    "in": "is one of",
    "not_in": "is not one of",
    "between": "is between",
    "is_null": "is empty",
    "not_null": "is not empty",
}


@dataclass(frozen=True, slots=True)
class SideRow:
    """One row of a side-by-side diff. ``kind``: same, changed, removed (left only) or
    added (right only); ``left``/``right`` include their marker (``-``, ``+`` or a space)."""

    kind: str
    left: str | None
    right: str | None


@dataclass(frozen=True, slots=True)
class DiffLine:
    """One line of a unified diff; ``kind``: add, del, same or hunk."""

    kind: str
    text: str


def scalar_text(value: Scalar | None) -> str:
    """A value as people read it: strings quoted, true/false, numbers as written."""
    if value is None:
        return "null"
    return json.dumps(value, ensure_ascii=False)


def _between_text(value: Between) -> str:
    if value.low_inclusive and value.high_inclusive:
        return f"is between {scalar_text(value.low)} and {scalar_text(value.high)} (both included)"
    low = "included" if value.low_inclusive else "excluded"
    high = "included" if value.high_inclusive else "excluded"
    return f"is between {scalar_text(value.low)} ({low}) and {scalar_text(value.high)} ({high})"


def leaf_text(leaf: Leaf) -> str:
    """``pirat ≤ 0.3``, ``chist is one of 1, 2``, ``name is empty``."""
    value = leaf.value
    if isinstance(value, Between):
        return f"{leaf.input} {_between_text(value)}"
    if isinstance(value, tuple):
        return f"{leaf.input} {OP_TEXT[leaf.op]} {', '.join(scalar_text(v) for v in value)}"
    if leaf.op in ("is_null", "not_null"):
        return f"{leaf.input} {OP_TEXT[leaf.op]}"
    return f"{leaf.input} {OP_TEXT.get(leaf.op, leaf.op)} {scalar_text(value)}"


def _condition(cond: Condition, depth: int) -> list[str]:
    pad = "  " * depth
    if isinstance(cond, Leaf):
        return [pad + leaf_text(cond)]
    if isinstance(cond, Not):
        if isinstance(cond.item, Leaf):
            return [f"{pad}not {leaf_text(cond.item)}"]
        return [f"{pad}not:", *_condition(cond.item, depth + 1)]
    head = "all of:" if isinstance(cond, AllOf) else "any of:"
    return [pad + head, *(line for item in cond.items for line in _condition(item, depth + 1))]


def rule_lines(rule: Rule) -> list[str]:
    """The rule in plain language, one line per condition and per output."""
    lines = [f"Rule {rule.id}"]
    if rule.description:
        lines.append(f"  Description: {rule.description}")
    if rule.when is None:
        lines.append("  When: always (no condition)")
    elif isinstance(rule.when, Leaf):
        lines.append(f"  When {leaf_text(rule.when)}")
    else:
        first, *rest = _condition(rule.when, 1)
        lines.append(f"  When {first.strip()}")
        lines.extend(f"  {line}" for line in rest)
    lines.append("  Then:")
    lines.extend(f"    {name} = {scalar_text(value)}" for name, value in rule.then)
    return lines


def side_by_side(left: list[str], right: list[str]) -> tuple[SideRow, ...]:
    """Rows pairing ``left`` (the base) with ``right`` (the candidate), line by line."""
    rows: list[SideRow] = []
    matcher = difflib.SequenceMatcher(None, left, right, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            rows.extend(SideRow("same", f"  {a}", f"  {a}") for a in left[i1:i2])
            continue
        for a, b in zip_longest(left[i1:i2], right[j1:j2]):
            kind = (
                "changed"
                if a is not None and b is not None
                else "removed"
                if b is None
                else "added"
            )
            rows.append(
                SideRow(
                    kind,
                    None if a is None else f"- {a}",
                    None if b is None else f"+ {b}",
                )
            )
    return tuple(rows)


def document_yaml(doc: Document) -> str:
    """The document as YAML, in the document's own field order."""
    data: dict[str, Any] = doc.to_dict()
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100)


def document_diff(base: Document, candidate: Document) -> tuple[DiffLine, ...]:
    """A unified diff of the two documents' YAML (three lines of context)."""
    lines = difflib.unified_diff(
        document_yaml(base).splitlines(),
        document_yaml(candidate).splitlines(),
        "base",
        "candidate",
        lineterm="",
    )
    found: list[DiffLine] = []
    for line in lines:
        if line.startswith(("---", "+++")):
            continue
        kind = {"+": "add", "-": "del", "@": "hunk"}.get(line[:1], "same")
        found.append(DiffLine(kind, line))
    return tuple(found)

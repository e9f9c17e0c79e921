"""Two versions side by side, rule by rule, for the diff page.

:func:`rules.store.versions.diff_versions` says which rules were added, removed, changed or moved
and which settings changed; this module lays each of them out as aligned lines, old on the
left and new on the right. Each line carries its marker (``-`` removed, ``+`` added, a space
when equal) as text, so colour is never the only cue. A rule is written as readable lines
(one per condition of its top-level ``all``, one per output), so a one-threshold change shows
as one changed line.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from itertools import zip_longest
from typing import Any

import yaml

from review_app.rulesets.table import condition_text, value_text
from rules.core.document import AllOf, Document, Rule
from rules.store.versions import VersionDiff

__all__ = ["Change", "Comparison", "Line", "compare", "rule_lines", "side_by_side"]


@dataclass(frozen=True, slots=True)
class Line:
    mark: str  # "-", "+", " " (equal), or "" (nothing on this side)
    text: str

    @property
    def kind(self) -> str:
        return {"-": "del", "+": "add", " ": "same"}.get(self.mark, "none")


@dataclass(frozen=True, slots=True)
class Change:
    """One rule or setting: its lines in version a (left) and b (right), aligned."""

    key: str  # the rule id or the setting's name
    kind: str  # added | removed | changed | moved | setting
    position_a: int | None  # 1-based rule position in a
    position_b: int | None
    rows: tuple[tuple[Line, Line], ...]


@dataclass(frozen=True, slots=True)
class Comparison:
    rules: tuple[Change, ...]
    settings: tuple[Change, ...]
    unchanged: int  # rules identical in both, at the same relative place


def rule_lines(rule: Rule) -> list[str]:
    """A rule as readable lines: description, conditions, outputs."""
    lines = [f"description: {rule.description}"] if rule.description else []
    if rule.when is None:
        lines.append("when: always")
    elif isinstance(rule.when, AllOf) and rule.when.items:
        lines.append("when all of:")
        lines.extend(f"  {condition_text(c)}" for c in rule.when.items)
    else:
        lines.append(f"when: {condition_text(rule.when)}")
    lines.append("then:")
    lines.extend(f"  {name} = {value_text(value)}" for name, value in rule.then)
    return lines


def side_by_side(a: list[str], b: list[str]) -> tuple[tuple[Line, Line], ...]:
    """``a`` and ``b`` aligned line by line: equal lines face each other, replaced lines
    pair up, and a side with nothing to show gets an empty line."""
    empty = Line("", "")
    rows: list[tuple[Line, Line]] = []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if tag == "equal":
            pairs = zip(a[i1:i2], b[j1:j2], strict=True)
            rows.extend((Line(" ", x), Line(" ", y)) for x, y in pairs)
            continue
        old = [Line("-", x) for x in a[i1:i2]]
        new = [Line("+", y) for y in b[j1:j2]]
        rows.extend(zip_longest(old, new, fillvalue=empty))
    return tuple(rows)


def _setting_lines(data: dict[str, Any], key: str) -> list[str]:
    if key not in data:
        return []
    text = yaml.safe_dump({key: data[key]}, sort_keys=False, allow_unicode=True, width=100)
    return text.splitlines()


def compare(diff: VersionDiff, a: Document, b: Document) -> Comparison:
    """Every changed rule and setting of ``diff`` (from ``a`` to ``b``) side by side."""
    rules_a = {r.id: (n, r) for n, r in enumerate(a.rules, start=1)}
    rules_b = {r.id: (n, r) for n, r in enumerate(b.rules, start=1)}
    kinds: dict[str, str] = {}
    for kind, ids in (("moved", diff.moved), ("changed", diff.changed)):
        kinds.update(dict.fromkeys(ids, kind))  # changed wins over moved
    kinds.update(dict.fromkeys(diff.added, "added"))
    kinds.update(dict.fromkeys(diff.removed, "removed"))
    order = [r.id for r in b.rules if r.id in kinds] + list(diff.removed)
    changes = []
    for rule_id in order:
        pos_a, rule_a = rules_a.get(rule_id, (None, None))
        pos_b, rule_b = rules_b.get(rule_id, (None, None))
        lines_a = rule_lines(rule_a) if rule_a else []
        lines_b = rule_lines(rule_b) if rule_b else []
        rows = side_by_side(lines_a, lines_b)
        changes.append(Change(rule_id, kinds[rule_id], pos_a, pos_b, rows))
    dict_a, dict_b = a.to_dict(), b.to_dict()
    settings = tuple(
        Change(
            key,
            "setting",
            None,
            None,
            side_by_side(_setting_lines(dict_a, key), _setting_lines(dict_b, key)),
        )
        for key in diff.settings_changed
    )
    unchanged = sum(1 for r in b.rules if r.id in rules_a and r.id not in kinds)
    return Comparison(tuple(changes), settings, unchanged)

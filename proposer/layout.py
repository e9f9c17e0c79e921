"""A change made only of added rules, as the rule order it gives, and what it decides.

A :class:`Layout` is the candidate's rule list, each entry a base rule (its index in the base
document) or an added rule. Induced candidates come with a position in the document they were
learned on (:class:`proposer.induce.Candidate`); :meth:`Layout.insert` places them, each before
the entry at its position, in the order given, so that rules learned one after another on what
the earlier ones left keep deciding what the learner counted. A layout gives the proposal's
operations (:meth:`Layout.operations`: one ``add_rule`` per added rule, at its final index, in
ascending order) and its document.

:func:`decide` says what the candidate does to a :class:`~proposer.sample.Group` without the
engine: under FIRST, the first added rule before the group's first matching base rule whose
conditions hold decides it, else the base does as before; under the other single-hit policies
an added rule (at the end) decides a group no base rule matches, and a second match is an
error (no result). Added rules are plain conjunctions on the inputs a sample keeps, so their
conditions are exact on the binned facts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from proposer.conditions import Test, rule_tests
from proposer.operations import AddRule
from proposer.sample import Group
from rules.core.document import Document, Rule, Scalar

if TYPE_CHECKING:
    from proposer.induce import Candidate

__all__ = ["Layout", "Outcome", "decide"]

Entry = int | Rule  # a base rule's index, or an added rule


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a group gets under a candidate: the review output's value and whether the result
    is automated (not an exception); ``by`` is the index of the deciding entry (``len``: the
    defaults)."""

    value: Scalar | None
    automated: bool
    by: int


@dataclass(frozen=True, slots=True)
class Layout:
    """The base document and the candidate's rule order (see the module)."""

    base: Document
    entries: tuple[Entry, ...]

    @classmethod
    def of(cls, base: Document) -> Layout:
        return cls(base, tuple(range(len(base.rules))))

    @property
    def added(self) -> tuple[Rule, ...]:
        return tuple(e for e in self.entries if isinstance(e, Rule))

    def insert(self, candidates: Sequence[Candidate]) -> Layout:
        """The candidates placed before the entry at each one's position, in order."""
        entries: list[Entry] = []
        for p in range(len(self.entries) + 1):
            entries += [c.rule for c in candidates if c.position == p]
            entries += self.entries[p : p + 1]
        return replace(self, entries=tuple(entries))

    def operations(self) -> list[AddRule]:
        return [AddRule(e, i) for i, e in enumerate(self.entries) if isinstance(e, Rule)]

    def document(self) -> Document:
        """The candidate document (unchecked: drafting checks it)."""
        rules = [self.base.rules[e] if isinstance(e, int) else e for e in self.entries]
        return replace(self.base, rules=tuple(rules))

    def tests(self) -> dict[str, tuple[Test, ...]]:
        return {rule.id: rule_tests(self.base, rule) for rule in self.added}


def decide(
    layout: Layout,
    group: Group,
    review: Sequence[Scalar],
    output: str,
    tests: dict[str, tuple[Test, ...]],
) -> Outcome:
    """What the candidate of ``layout`` decides for ``group`` (see the module)."""
    facts = group.facts
    if layout.base.hit_policy != "FIRST":
        hits = [
            (i, e)
            for i, e in enumerate(layout.entries)
            if isinstance(e, Rule) and all(t.holds(facts.get(t.input)) for t in tests[e.id])
        ]
        if not hits:
            return Outcome(group.current, group.automated, group.first)
        if len(hits) > 1 or group.first < 0:
            return Outcome(None, False, hits[0][0])  # two matches: a hit policy error
        i, rule = hits[0]
        value = rule.then_dict.get(output)
        return Outcome(value, value not in review, i)
    for i, entry in enumerate(layout.entries):
        if isinstance(entry, int):
            if entry == group.first:
                return Outcome(group.current, group.automated, i)
            continue
        if all(t.holds(facts.get(t.input)) for t in tests[entry.id]):
            value = entry.then_dict.get(output)
            return Outcome(value, value not in review, i)
    return Outcome(group.current, group.automated, len(layout.entries))

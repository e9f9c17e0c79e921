"""Routing facts to the engine rules that can match them: an equality index in front of Rete.

durable_rules tests every child of an alpha node in turn, so a table of 1,000 rules each
starting ``cat == X`` costs 1,000 tests per fact. Like the hash join of a Rete beta network,
rules that require one input to equal one of a few constants are grouped by those constants:
a fact is asserted only into the engine rulesets of the group its value belongs to, plus the
rulesets of rules that do not constrain that input. The engine still tests every condition,
routing included, so a routing mistake could only lose matches, and the differential tests
against the reference evaluator would see it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from rules.core.document import Scalar
from rules.core.three_valued import Atom, Formula, Or

__all__ = ["MAX_GROUPS", "MIN_ROUTED_RULES", "Routing", "plan_routing", "routing_values"]

# Below this many engine rules, one group is as fast as several.
MIN_ROUTED_RULES = 48
# Values are folded into at most this many groups, bounding the engine rulesets per version.
MAX_GROUPS = 64


@dataclass(frozen=True, slots=True)
class Routing:
    """Which input routes facts, which group each routed value belongs to, and the groups."""

    input: str
    group_of: dict[Scalar, int]
    groups: tuple[tuple[int, ...], ...]  # engine-rule indices per group
    always: tuple[int, ...]  # engine rules that do not constrain the routing input


def routing_values(items: Sequence[Formula], name: str) -> frozenset[Scalar] | None:
    """The values ``name`` must equal for a conjunction to hold, if it requires one at all."""
    found: frozenset[Scalar] | None = None
    for item in items:
        values: frozenset[Scalar] | None = None
        if isinstance(item, Atom) and item.input == name and item.op == "eq":
            values = frozenset([item.value]) if item.value is not None else None
        elif isinstance(item, Or) and all(
            isinstance(a, Atom) and a.input == name and a.op == "eq" for a in item.items
        ):
            values = frozenset(
                a.value for a in item.items if isinstance(a, Atom) and a.value is not None
            )
        if values is not None:
            found = values if found is None else found & values
    return found


def plan_routing(rules: Sequence[Sequence[Formula]], inputs: Sequence[str]) -> Routing | None:
    """The best equality routing for these engine rules, or None when it would not pay."""
    if len(rules) < MIN_ROUTED_RULES:
        return None
    counts: Counter[str] = Counter()
    for items in rules:
        for name in inputs:
            if routing_values(items, name) is not None:
                counts[name] += 1
    if not counts:
        return None
    name, routed = counts.most_common(1)[0]
    if routed * 2 < len(rules):
        return None
    per_rule = [routing_values(items, name) for items in rules]
    distinct = sorted({v for vs in per_rule if vs for v in vs}, key=repr)
    if len(distinct) < 2:
        return None
    width = min(len(distinct), MAX_GROUPS)
    group_of = {value: i % width for i, value in enumerate(distinct)}
    groups: list[list[int]] = [[] for _ in range(width)]
    always: list[int] = []
    for index, values in enumerate(per_rule):
        if values is None:
            always.append(index)
            continue
        for group in sorted({group_of[v] for v in values}):
            groups[group].append(index)
    return Routing(name, group_of, tuple(tuple(g) for g in groups), tuple(always))

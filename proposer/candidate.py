"""The candidate document: a base with operations applied, the operations between two
documents, and the scope of a change (DESIGN §5).

``apply(base, operations)`` is all or nothing: it returns a candidate that parses and passes
:func:`rules.core.check.check_document` without errors, or raises
:class:`~proposer.errors.OperationError` naming the operation at fault. ``diff_operations``
is its inverse: ``apply(base, diff_operations(base, c)) == c`` for any candidate ``c`` that
differs from ``base`` in its rules only.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from proposer.errors import OperationError
from proposer.operations import AddRule, MoveRule, Operation, RemoveRule, UpdateRule, relocate
from rules.core.check import Limits, check_document
from rules.core.document import Document, Rule, parse_document
from rules.core.validate import leaves
from rules.errors import DocumentError, Problem, suggest

__all__ = ["Scope", "apply", "diff_operations", "scope"]

_RULE_AT = re.compile(r"rules\[(\d+)\]")
_OPERATION = re.compile(r"operations\[\d+\]")
_LISTED = 20  # rule ids named in a message before "and N more"


def apply(
    base: Document, operations: Sequence[Operation], limits: Limits | None = None
) -> Document:
    """The candidate: ``operations`` applied in order to ``base``'s rules, parsed and checked."""
    rules = list(base.rules)
    origin: dict[str, int] = {}  # rule id -> the operation that last wrote that rule
    for i, op in enumerate(operations):
        where = f"operations[{i}]"
        problem = _step(rules, op, where, i)
        if problem is not None:
            raise OperationError(f"{where} ({op.op}) cannot be applied", [problem])
        if isinstance(op, AddRule | UpdateRule):
            origin[op.rule.id] = i
    if not rules and operations:
        problem = Problem(
            "RB914", "operations", "the operations remove every rule; keep at least one rule"
        )
        raise OperationError("the candidate would have no rules", [problem])
    try:
        candidate = parse_document(replace(base, rules=tuple(rules)).to_dict())
    except DocumentError as exc:
        problems = [relocate(p, "rules", "candidate.rules") for p in exc.problems]
        raise OperationError("the candidate is not a valid document", problems) from exc
    _check(candidate, origin, limits)
    return candidate


def _check(candidate: Document, origin: dict[str, int], limits: Limits | None) -> None:
    errors = [p for p in check_document(candidate, limits) if p.severity == "error"]
    if not errors:
        return
    blamed = [_blame(p, candidate, origin) for p in errors]
    culprits = dict.fromkeys(m.group(0) for p in blamed if (m := _OPERATION.match(p.location)))
    source = f" from {', '.join(culprits)}" if culprits else ""
    raise OperationError(f"the candidate has static check errors{source}", blamed)


def _step(rules: list[Rule], op: Operation, where: str, index: int) -> Problem | None:
    """Apply ``op`` to ``rules`` in place, or say why it cannot be applied (``rules`` intact)."""
    ids = [r.id for r in rules]
    if isinstance(op, AddRule):
        if op.rule.id in ids:
            return Problem(
                "RB912",
                f"{where}.rule.id",
                f"rule id {op.rule.id!r} is already used by rules[{ids.index(op.rule.id)}]; "
                "choose a new id, or use update_rule to change that rule",
            )
        if op.position > len(rules):
            return _out_of_range(where, op.position, len(rules), "an added rule")
        rules.insert(op.position, op.rule)
        return None
    if op.rule_id not in ids:
        after = " after the earlier operations" if index else ""
        return Problem(
            "RB911",
            f"{where}.rule_id",
            f"there is no rule {op.rule_id!r}{after}; the rule ids are {_listing(ids)}",
            suggest(op.rule_id, ids),
        )
    at = ids.index(op.rule_id)
    if isinstance(op, UpdateRule):
        rules[at] = op.rule
    elif isinstance(op, RemoveRule):
        del rules[at]
    else:
        if op.position >= len(rules):
            return _out_of_range(where, op.position, len(rules) - 1, "a moved rule")
        rules.insert(op.position, rules.pop(at))
    return None


def _listing(ids: list[str]) -> str:
    more = f" and {len(ids) - _LISTED} more" if len(ids) > _LISTED else ""
    return (", ".join(ids[:_LISTED]) or "none") + more


def _out_of_range(where: str, position: int, last: int, what: str) -> Problem:
    return Problem(
        "RB913",
        f"{where}.position",
        f"position {position} is out of range: {what} goes at 0 to {last} (its index once "
        "the operation is applied)",
    )


def _blame(problem: Problem, candidate: Document, origin: dict[str, int]) -> Problem:
    """Relocate a candidate's problem to the operation that wrote the offending rule."""
    match = _RULE_AT.match(problem.location)
    if match is None:
        return replace(problem, location=f"candidate.{problem.location}".rstrip("."))
    old = match.group(0)
    op = origin.get(candidate.rules[int(match.group(1))].id)
    if op is None:
        return relocate(problem, old, f"candidate.{old}")
    return relocate(problem, old, f"operations[{op}].rule")


# --------------------------------------------------------------------------- diff


def diff_operations(base: Document, candidate: Document) -> list[Operation]:
    """Operations turning ``base``'s rules into ``candidate``'s: removals, updates, the fewest
    moves (every rule off a longest common order moves once), then additions."""
    _same_settings(base, candidate)
    target = {r.id: r for r in candidate.rules}
    known = {r.id for r in base.rules}
    ops: list[Operation] = [RemoveRule(r.id) for r in base.rules if r.id not in target]
    kept = [r for r in base.rules if r.id in target]
    ops += [UpdateRule(r.id, target[r.id]) for r in kept if r != target[r.id]]
    ops += _moves([r.id for r in kept], [r.id for r in candidate.rules if r.id in known])
    ops += [AddRule(r, i) for i, r in enumerate(candidate.rules) if r.id not in known]
    return ops


def _same_settings(base: Document, candidate: Document) -> None:
    before, after = base.to_dict(), candidate.to_dict()
    keys = sorted((set(before) | set(after)) - {"rules"})
    problems = [
        Problem(
            "RB915",
            key,
            f"the candidate changes {key!r}; a proposal changes rules only, so keep the "
            "base's value",
        )
        for key in keys
        if before.get(key) != after.get(key)
    ]
    for name, doc in (("base", base), ("candidate", candidate)):
        ids = [r.id for r in doc.rules]
        if len(set(ids)) != len(ids):
            twice = sorted({i for i in ids if ids.count(i) > 1})
            problems.append(Problem("RB912", f"{name}.rules", f"rule ids used twice: {twice}"))
    if problems:
        raise OperationError("the candidate is not a change of rules alone", problems)


def _moves(current: list[str], target: list[str]) -> list[Operation]:
    """Moves reordering ``current`` into ``target`` (the same ids): the rules on a longest
    common order stay; each other rule moves once, right after its predecessor in ``target``."""
    rank = {rule_id: k for k, rule_id in enumerate(target)}
    stay = _longest_increasing([rank[r] for r in current])
    order = list(current)
    moves: list[Operation] = []
    for k, rule_id in enumerate(target):
        if k in stay:
            continue
        order.remove(rule_id)
        at = order.index(target[k - 1]) + 1 if k else 0
        order.insert(at, rule_id)
        moves.append(MoveRule(rule_id, at))
    return moves


def _longest_increasing(values: list[int]) -> set[int]:
    """The values of one longest strictly increasing subsequence (patience sorting)."""
    tails: list[int] = []  # tails[n]: index of the smallest tail of an increasing run of n+1
    tail_values: list[int] = []
    back: list[int | None] = []
    for i, value in enumerate(values):
        n = bisect.bisect_left(tail_values, value)
        back.append(tails[n - 1] if n else None)
        if n == len(tails):
            tails.append(i)
            tail_values.append(value)
        else:
            tails[n] = i
            tail_values[n] = value
    found: set[int] = set()
    at = tails[-1] if tails else None
    while at is not None:
        found.add(values[at])
        at = back[at]
    return found


# --------------------------------------------------------------------------- scope


@dataclass(frozen=True, slots=True)
class Scope:
    """What a change touches: rule ids by kind (net of the whole operation list), and the
    inputs the touched rules condition on and the outputs they set, before or after."""

    added: tuple[str, ...]
    updated: tuple[str, ...]
    removed: tuple[str, ...]
    moved: tuple[str, ...]
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]

    @property
    def rules(self) -> tuple[str, ...]:
        seen = dict.fromkeys((*self.added, *self.updated, *self.moved, *self.removed))
        return tuple(seen)

    def to_dict(self) -> dict[str, Any]:
        return {
            "added": list(self.added),
            "updated": list(self.updated),
            "removed": list(self.removed),
            "moved": list(self.moved),
            "rules": list(self.rules),
            "inputs": list(self.inputs),
            "outputs": list(self.outputs),
        }


def scope(base: Document, operations: Sequence[Operation]) -> Scope:
    """The scope of ``operations`` on ``base`` (they are applied, so they must be valid).

    Added, updated and removed rules compare the candidate with the base, so a rule added and
    then removed again is not in scope. Moved rules are those a ``move_rule`` names that exist
    in both; a move changes what a rule decides under FIRST, so its inputs count too.
    """
    candidate = apply(base, operations)
    before = {r.id: r for r in base.rules}
    after = {r.id: r for r in candidate.rules}
    named = {op.rule_id for op in operations if isinstance(op, MoveRule)}
    added = tuple(r for r in after if r not in before)
    removed = tuple(r for r in before if r not in after)
    updated = tuple(r for r in after if r in before and before[r] != after[r])
    moved = tuple(r for r in after if r in before and r in named)
    touched = [before[r] for r in (*removed, *updated, *moved)]
    touched += [after[r] for r in (*added, *updated, *moved)]
    inputs = {leaf.input for rule in touched for leaf, _ in leaves(rule.when, "")}
    outputs = {name for rule in touched for name, _ in rule.then}
    return Scope(
        added=added,
        updated=updated,
        removed=removed,
        moved=moved,
        inputs=_in_order(inputs, (i.name for i in base.inputs)),
        outputs=_in_order(outputs, (o.name for o in base.outputs)),
    )


def _in_order(names: set[str], order: Iterable[str]) -> tuple[str, ...]:
    return tuple(name for name in order if name in names)

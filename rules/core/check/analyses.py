"""Static analyses of a ruleset document, on top of :func:`rules.core.validate.validate_document`.

======  ==========  =========================================================================
code    severity    finding
======  ==========  =========================================================================
RB201   error       UNIQUE: two rules can both match (with a witness fact set)
RB202   error       ANY: two rules can both match and give different outputs (with a witness)
RB203   warning     FIRST: a rule can never fire; earlier rules take every fact set it matches
RB204   warning     a fact set no rule matches while some output has no default (a witness)
RB205   warning     a rule whose condition is true for no valid fact set
RB299   info        an analysis stopped early (a work or size limit); its results are partial
======  ==========  =========================================================================

Each rule's condition becomes exact boxes over the input space
(:mod:`rules.core.check.regions`, with the per-input algebra in :mod:`rules.core.check.domains`);
overlaps and coverage are searched by recursive partition (:mod:`rules.core.check.partitions`).
Every witness is checked before it is reported: it must pass
:func:`rules.core.facts.validate_facts` and, evaluated directly on the conditions, behave as the
finding claims (else RB299). RB203 and RB205 have no witness; they rest on the exact
algebra, and a rule whose condition was too large to expand is never claimed shadowed or dead.
When a limit is hit the analysis reports RB299 instead of guessing.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from rules.core.check.partitions import Budget, Exhausted, Piece, overlaps, uncovered
from rules.core.check.regions import Box, Space
from rules.core.document import AllOf, AnyOf, Between, Condition, Document, Leaf, Scalar
from rules.core.engine.hit_policies import Row, Table
from rules.core.facts import validate_facts
from rules.core.three_valued import true_form
from rules.core.validate import validate_document
from rules.errors import FactsError, Problem

__all__ = ["Finding", "Limits", "analyse_document", "check_document"]

Facts = Mapping[str, Scalar | None]


@dataclass(frozen=True, slots=True)
class Limits:
    """How far the analyses may go before they report RB299 instead of a full answer."""

    alternatives: int = 256  # boxes a rule's condition may expand to
    work: int = 1_000_000  # work units per analysis (boxes visited, pairs compared)
    reported: int = 100  # overlaps or conflicts reported before stopping


@dataclass(frozen=True, slots=True)
class Finding:
    """One analysis result: its problem, the rules involved (by index: the two overlapping
    rules; the shadowing rules, then the shadowed one; the dead rule), and the witness facts
    for RB201, RB202 and RB204."""

    problem: Problem
    rules: tuple[int, ...] = ()
    witness: tuple[tuple[str, Scalar | None], ...] | None = None

    @property
    def facts(self) -> dict[str, Scalar | None] | None:
        return None if self.witness is None else dict(self.witness)


def check_document(doc: Document, limits: Limits | None = None) -> list[Problem]:
    """Every problem of a document: the cheap checks, then (when those found no error) the
    analyses."""
    problems = validate_document(doc)
    if any(p.severity == "error" for p in problems):
        return problems
    return problems + [f.problem for f in analyse_document(doc, limits)]


def analyse_document(doc: Document, limits: Limits | None = None) -> list[Finding]:
    """The analyses of a document that passed :func:`validate_document` without errors."""
    ctx = _Context.of(doc, limits or Limits())
    findings = [*_capped(ctx), *_dead(ctx)]
    if doc.hit_policy in ("UNIQUE", "ANY"):
        findings += _overlaps(ctx)
    if doc.hit_policy == "FIRST":
        findings += _shadowed(ctx)
    if doc.aggregation != "COUNT" and any(not o.has_default for o in doc.outputs):
        findings += _gap(ctx)
    return findings


@dataclass(frozen=True, slots=True)
class _Context:
    doc: Document
    limits: Limits
    space: Space
    boxes: tuple[tuple[Box, ...], ...]  # per rule: its condition's boxes
    complete: tuple[bool, ...]  # per rule: whether its boxes are all of its condition
    pieces: tuple[Piece, ...]
    rows: tuple[Row, ...]

    @classmethod
    def of(cls, doc: Document, limits: Limits) -> _Context:
        space = Space.of(doc)
        boxes, complete = [], []
        for rule in doc.rules:
            found, ok = space.boxes(true_form(rule.when), limits.alternatives)
            boxes.append(tuple(found))
            complete.append(ok)
        pieces = [Piece(0, r, b) for r, found in enumerate(boxes) for b in found]
        pieces = [Piece(k, p.rule, p.box) for k, p in enumerate(pieces)]
        rows = Table.of(doc).rows
        return cls(doc, limits, space, tuple(boxes), tuple(complete), tuple(pieces), rows)

    def name(self, rule: int) -> str:
        return f"rules[{rule}] {self.doc.rules[rule].id!r}"


def _incomplete(location: str, message: str) -> Finding:
    return Finding(Problem("RB299", location, message, severity="info"))


def _render(facts: Facts) -> str:
    return json.dumps(dict(facts), ensure_ascii=False, allow_nan=False)


# --------------------------------------------------------------------------- confirming witnesses


def _compare(op: str, x: Any, v: Any) -> bool:
    if op in ("eq", "ne"):
        return bool(x == v) == (op == "eq")
    return bool({"lt": x < v, "le": x <= v, "gt": x > v, "ge": x >= v}[op])


def _leaf_truth(leaf: Leaf, facts: Facts) -> bool | None:
    x = facts.get(leaf.input)
    if leaf.op in ("is_null", "not_null"):
        return (x is None) == (leaf.op == "is_null")
    if x is None:
        return None
    v = leaf.value
    if isinstance(v, Between):
        low = _compare("ge" if v.low_inclusive else "gt", x, v.low)
        return low and _compare("le" if v.high_inclusive else "lt", x, v.high)
    if isinstance(v, tuple):
        return any(x == item for item in v) == (leaf.op == "in")
    return _compare(leaf.op, x, v)


def _truth(cond: Condition | None, facts: Facts) -> bool | None:
    """A condition's three-valued truth on validated facts (None: unknown), straight from the
    document's meaning rather than through :mod:`rules.core.three_valued`, to confirm witnesses."""
    if cond is None:
        return True
    if isinstance(cond, Leaf):
        return _leaf_truth(cond, facts)
    if not isinstance(cond, AllOf | AnyOf):
        inner = _truth(cond.item, facts)
        return None if inner is None else not inner
    values = [_truth(item, facts) for item in cond.items]
    decisive = isinstance(cond, AnyOf)  # any: one true decides; all: one false decides
    if decisive in values:
        return decisive
    return None if None in values else not decisive


def _matching(doc: Document, witness: Facts, rules: Iterable[int]) -> set[int] | None:
    """Which of ``rules`` match a witness, or None when it is not a valid fact set."""
    try:
        facts = validate_facts(doc, witness)
    except FactsError:
        return None
    return {r for r in rules if _truth(doc.rules[r].when, facts) is True}


# --------------------------------------------------------------------------- the analyses


def _capped(ctx: _Context) -> list[Finding]:
    return [
        _incomplete(
            f"rules[{r}].when",
            f"the condition of {ctx.name(r)} expands to more than {ctx.limits.alternatives} "
            "alternatives; the overlap, shadowing and gap checks used only the first ones",
        )
        for r, ok in enumerate(ctx.complete)
        if not ok
    ]


def _dead(ctx: _Context) -> list[Finding]:
    reason = "no valid fact set exists" if ctx.space.void else "its condition is never true"
    return [
        Finding(
            Problem(
                "RB205",
                f"rules[{r}].when",
                f"{ctx.name(r)} can never match: {reason} for facts that fit the inputs "
                "(types, bounds, values, required); fix the condition or remove the rule",
                severity="warning",
            ),
            (r,),
        )
        for r, boxes in enumerate(ctx.boxes)
        if not boxes and ctx.complete[r]
    ]


def _difference(ctx: _Context, i: int, j: int) -> str:
    for out in ctx.doc.outputs:
        a, b = ctx.rows[i][out.name], ctx.rows[j][out.name]
        if a != b:
            return f"{out.name!r} is {json.dumps(a)} for one and {json.dumps(b)} for the other"
    return "the same outputs"


def _overlap(ctx: _Context, i: int, j: int, box: Box) -> Finding | None:
    witness = ctx.space.witness(box)
    if _matching(ctx.doc, witness, (i, j)) != {i, j}:
        return None
    both = f"{ctx.name(i)} and {ctx.name(j)} both match facts {_render(witness)}"
    if ctx.doc.hit_policy == "UNIQUE":
        code = "RB201"
        message = f"{both}; under hit policy UNIQUE at most one rule may match: make their "
        message += "conditions exclusive, or choose a hit policy such as FIRST or PRIORITY"
    else:
        code = "RB202"
        message = f"{both} with different outputs ({_difference(ctx, i, j)}); under hit "
        message += "policy ANY every matching rule must give the same outputs"
    return Finding(Problem(code, f"rules[{j}]", message), (i, j), tuple(witness.items()))


def _overlaps(ctx: _Context) -> list[Finding]:
    """RB201 (UNIQUE) or RB202 (ANY): each pair of rules that can both match, once."""
    rows, unique = ctx.rows, ctx.doc.hit_policy == "UNIQUE"
    seen: set[tuple[int, int]] = set()

    def wanted(i: int, j: int) -> bool:
        return (i, j) not in seen and (unique or rows[i] != rows[j])

    found: list[Finding] = []
    notes: list[Finding] = []
    budget, check = Budget(ctx.limits.work), "overlap" if unique else "conflict"
    try:
        for a, b, box in overlaps(ctx.space, ctx.pieces, budget, wanted):
            finding = _overlap(ctx, a.rule, b.rule, box)
            if finding is None:
                notes[:] = [_unconfirmed(check)]
                continue
            seen.add((a.rule, b.rule))
            found.append(finding)
            if len(found) >= ctx.limits.reported:
                notes.append(_stopped(check, f"after {len(found)} findings"))
                break
    except Exhausted:
        notes.append(_stopped(check, "at its work limit"))
    return [*_ordered(found), *notes]


def _ordered(found: list[Finding]) -> list[Finding]:
    return sorted(found, key=lambda f: tuple(reversed(f.rules)))


def _stopped(check: str, when: str) -> Finding:
    return _incomplete(
        "rules", f"the {check} check stopped {when}; other rules may be affected too"
    )


def _unconfirmed(check: str) -> Finding:
    return _incomplete(
        "rules", f"the {check} check found candidates it could not confirm with valid facts"
    )


def _shadowed(ctx: _Context) -> list[Finding]:
    """RB203 (FIRST): rules whose every matching fact set an earlier rule matches first."""
    budget = Budget(ctx.limits.work)
    earlier: dict[int, list[Piece]] = {p.id: [] for p in ctx.pieces}
    try:
        for a, b, _ in overlaps(ctx.space, ctx.pieces, budget, lambda i, j: True):
            earlier[b.id].append(a)
    except Exhausted:
        return [_stopped("shadowing", "at its work limit, before checking any rule")]
    found: list[Finding] = []
    by_rule: dict[int, list[Piece]] = {}
    for piece in ctx.pieces:
        by_rule.setdefault(piece.rule, []).append(piece)
    for r, pieces in by_rule.items():
        used: set[int] = set()
        try:
            hidden = ctx.complete[r] and all(
                uncovered(ctx.space, p.box, earlier[p.id], budget, used) is None for p in pieces
            )
        except Exhausted:
            return [*found, _stopped("shadowing", f"at its work limit, at {ctx.name(r)}")]
        if hidden:
            found.append(_shadow(ctx, r, sorted(used)))
    return found


def _shadow(ctx: _Context, rule: int, by: list[int]) -> Finding:
    names = ", ".join(ctx.name(i) for i in by)
    return Finding(
        Problem(
            "RB203",
            f"rules[{rule}]",
            f"{ctx.name(rule)} can never fire: under hit policy FIRST every fact set it "
            f"matches is taken first by {names}; remove it, or move it above them",
            severity="warning",
        ),
        (*by, rule),
    )


def _gap(ctx: _Context) -> list[Finding]:
    """RB204: a fact set that no rule matches, while some output has no default."""
    if ctx.space.void:
        return []
    try:
        hole = uncovered(ctx.space, Box(), ctx.pieces, Budget(ctx.limits.work), set())
    except Exhausted:
        return [_stopped("gap", "at its work limit")]
    if hole is None:
        return []
    witness = ctx.space.witness(hole)
    if _matching(ctx.doc, witness, range(len(ctx.doc.rules))) != set():
        return [_unconfirmed("gap")]
    missing = [repr(o.name) for o in ctx.doc.outputs if not o.has_default]
    outputs = f"output {missing[0]} has" if len(missing) == 1 else "outputs "
    if len(missing) > 1:
        outputs += f"{', '.join(missing)} have"
    return [
        Finding(
            Problem(
                "RB204",
                "rules",
                f"no rule matches facts {_render(witness)} and {outputs} no default, so the "
                "result would be null (an exception); add a rule for such facts or give "
                "every output a default",
                severity="warning",
            ),
            (),
            tuple(witness.items()),
        )
    ]

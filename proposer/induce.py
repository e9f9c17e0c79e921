"""The deterministic proposer's core: candidate rules induced from resolved exceptions.

For a *target* value of the review output (``approve``, say) every case gets a known outcome
where there is one: its human resolution, else, for an automated decision nobody contested,
what the engine decided (an open exception has none). Each case is decided again under the
base document, so the learner knows what the document does *now*:

* a **fix** is a case whose outcome is the target while the base document gives something else;
* a **harm** is a case with another known outcome that the base does not decide as the target:
  a rule giving the target would change it away from what the person chose.

Cases the base already decides as the target cannot change, so a rule's **precision** is
measured on the decisions it would change: ``fixes / (fixes + harms)``; its **support** is its
number of fixes (the cases it cites). A rule is kept when ``support >= min_support`` and its
precision, counted as if it had ``caution`` more harms, is at least the bar (so a rule resting
on few cases needs a margin); rules are ranked by ``fixes - λ·harms`` with
``λ = min_precision / (1 - min_precision)``, which is positive exactly when the precision bar
is met and grows with what the rule automates; ties go to fewer conditions, then rounder
thresholds, then the conditions' written order.

The learner is sequential covering; each step takes, among the cases earlier steps left:

1. the best **widening** of a rule that already gives the target (under FIRST, a conjunction of
   plain comparisons on usable inputs): one of its conditions moved to a wider threshold
   (``pirat ≤ 0.36`` to ``pirat ≤ 0.38``) or dropped, the copy going after the rule, judged
   against ``min_precision``; a widening found is itself a rule that may be widened next;
2. else the best **new conjunction** of 1 to ``max_conditions`` conditions from
   :mod:`proposer.conditions` (never on a protected or PII input), at most one per input, from
   a beam search ranked by FOIL gain, pruned (a condition that does not pay is dropped), judged
   against the stricter ``novel_precision`` (default: halfway from ``min_precision`` to 1).

A found rule's new thresholds move to rounder values that score as well. Why two bars: a
widening is picked among a few dozen variants of a rule people already wrote, a conjunction
among thousands, and the best of thousands looks better on the cases it was picked from than it
is. On the Boston HMDA data (learning on the odd ``case_id``s, cross-validated inside that half:
five shuffles, four folds), new conjunctions lost about 0.06 points of the lender's agreement
for every point of automation they added, whatever the bar; widenings lost about a third of
that. At the defaults (``min_precision=0.95``, ``caution=2``, ``min_support=10``), chosen there
before the even half was looked at, cross-validation gave +6.6 points of automation at -0.09 of
agreement; on the held-out even half the one rule found (clean credit up to a 0.38 debt ratio)
adds 5.3 points and agreement rises 0.2 (test_induce.py). No setting found gains automation
with no loss at all in cross-validation; the issue's +25 points cost 1.7 to 2.1 points of
agreement (bench/evaluation.md has the frontier).

**Position** (hit policy FIRST): a rule inserted before base rule ``p`` decides the cases whose
first matching base rule is ``p`` or later (or none). Each rule goes before the first base rule
that currently decides one of the cases it fixes (a widening: after the rule it widens), or a
later such rule when that scores better (it then leaves the earlier rule's cases alone; only
the cases it actually decides are cited). ``position`` is an index into the *base* rules
(``len(rules)``: at the end); candidates of one run share the target, so inserting them all,
each at its position and in the order returned, gives every case the outcome the learner
counted. Under UNIQUE, ANY and PRIORITY a rule goes at the end and may cover no case a base
rule matches (so nothing is widened; overlaps beyond the cases seen are for the static checks
to find); multi-hit policies get no candidates. Everything is sorted and nothing is random: the
same input gives the same candidates, byte for byte.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from proposer.cases import Case, review_output
from proposer.conditions import Test, candidate_tests, rule_tests, test_bits
from proposer.errors import InductionError
from proposer.sample import Group, Part, sample_of
from proposer.search import Learner, Rated, Seed
from proposer.weights import Weights
from rules.core.document import AllOf, Document, Rule, Scalar, condition_to_dict
from rules.core.engine import Engine, default_engine
from rules.errors import Problem, suggest

__all__ = ["Candidate", "induce", "learn", "part_tests"]


@dataclass(frozen=True, slots=True)
class Candidate:
    """An induced rule, where it goes, and what it would do to the cases it was learned from."""

    rule: Rule
    target: Scalar
    position: int  # index into the base document's rules; len(rules) appends
    before: str | None  # the base rule it precedes (None: at the end)
    conditions: tuple[str, ...]  # readable, e.g. "pirat ≤ 0.25"
    support: int  # cases it changes toward their resolution
    harms: int  # cases with another known outcome it changes to the target
    precision: float  # support / (support + harms)
    covered: int  # cases it would decide at its position
    decision_ids: tuple[int, ...]  # cited: the first of the cases it fixes, by id

    def to_dict(self) -> dict[str, Any]:
        rule: dict[str, Any] = {"id": self.rule.id, "then": dict(self.rule.then)}
        if self.rule.description is not None:
            rule["description"] = self.rule.description
        if self.rule.when is not None:
            rule["when"] = condition_to_dict(self.rule.when)
        return {
            "rule": rule,
            "target": self.target,
            "position": self.position,
            "before": self.before,
            "conditions": list(self.conditions),
            "support": self.support,
            "harms": self.harms,
            "precision": round(self.precision, 4),
            "covered": self.covered,
            "decision_ids": list(self.decision_ids),
            "decision_count": self.support,
        }


def induce(
    doc: Document,
    cases: Iterable[Case],
    target: Scalar,
    *,
    engine: Engine | None = None,
    **settings: Any,
) -> tuple[Candidate, ...]:
    """Candidate rules setting ``doc``'s review output to ``target`` (module doc), learned
    from ``cases``; ``settings`` are :func:`learn`'s."""
    review_output(doc)
    _check_target(doc, target)
    _check_settings(**settings)
    if doc.multi_hit:
        return ()
    use = engine or default_engine
    sample = sample_of(doc, cases, lambda facts: use.decide(doc, facts))
    return learn(sample.part(), target, **settings)


def learn(
    part: Part,
    target: Scalar,
    *,
    min_support: int = 10,
    min_precision: float = 0.95,
    caution: int = 2,
    max_conditions: int = 3,
    max_rules: int = 10,
    beam: int = 20,
    cite: int = 50,
    widen: bool = True,
    novel_precision: float | None = None,
    tests: Sequence[tuple[Test, int]] | None = None,
) -> tuple[Candidate, ...]:
    """Candidate rules setting the review output of ``part.doc`` to ``target``, learned from
    the counted groups of ``part`` (:mod:`proposer.sample`): the same as learning from the
    cases they stand for, one by one. ``tests`` are ``part``'s candidate conditions, when the
    caller has them already (:func:`part_tests`)."""
    doc = part.doc
    output = review_output(doc)
    _check_target(doc, target)
    _check_settings(min_precision, novel_precision, min_support, caution, max_conditions)
    novel = (1 + min_precision) / 2 if novel_precision is None else novel_precision
    if doc.multi_hit:
        return ()
    groups = part.groups
    facts = [g.facts for g in groups]
    learner = Learner.of(
        tests=part_tests(part) if tests is None else tests,
        firsts=[g.first for g in groups],
        fixable=_bits(g.truth == target and g.current != target for g in groups),
        harmful=_bits(_harm(g, target) for g in groups),
        positions=len(doc.rules),
        min_support=min_support,
        min_precision=min_precision,
        max_conditions=max_conditions,
        beam=beam,
        caution=caution,
        seeds=_seeds(doc, output, target, facts) if widen else (),
        novel_precision=novel,
        weights=Weights.of(part.weights),
    )
    found: list[Candidate] = []
    taken = {r.id for r in doc.rules}
    seeds = {seed.source: seed.tests for seed in learner.seeds}
    for rated in learner.cover(max_rules):
        origin = seeds.get(rated.source) if rated.source is not None else None
        made = _candidate(doc, output, target, rated, groups, learner, cite, origin)
        candidate = _unique(made, taken)
        taken.add(candidate.rule.id)
        found.append(candidate)
    return tuple(found)


def part_tests(part: Part) -> list[tuple[Test, int]]:
    """The conditions induction may use on ``part``, with their bitsets over its groups."""
    return candidate_tests(part.doc, [g.facts for g in part.groups], part.observed)


def _check_target(doc: Document, target: Scalar) -> None:
    spec = doc.output(review_output(doc))
    if spec is not None and spec.values is not None and target not in spec.values:
        raise InductionError(
            f"{target!r} is not a value of output {review_output(doc)!r}: one of {spec.values}",
            [
                Problem(
                    "RB920",
                    "target",
                    f"use one of {spec.values}",
                    suggest(str(target), [str(v) for v in spec.values]),
                )
            ],
        )


def _check_settings(
    min_precision: float = 0.95,
    novel_precision: float | None = None,
    min_support: int = 10,
    caution: int = 2,
    max_conditions: int = 3,
    **_: Any,
) -> None:
    novel = novel_precision
    wrong = [
        Problem("RB921", name, f"{value!r} is out of range: {fix}")
        for name, value, ok, fix in (
            ("min_precision", min_precision, 0 < min_precision <= 1, "give 0 < x <= 1"),
            ("novel_precision", novel, novel is None or 0 < novel <= 1, "give 0 < x <= 1"),
            ("min_support", min_support, min_support >= 1, "give at least 1"),
            ("caution", caution, caution >= 0, "give 0 or more"),
            ("max_conditions", max_conditions, 0 < max_conditions < 4, "give 1, 2 or 3"),
        )
        if not ok
    ]
    if wrong:
        raise InductionError("the induction settings are not valid", wrong)


def _seeds(
    doc: Document, output: str, target: Scalar, facts: Sequence[Mapping[str, Scalar | None]]
) -> list[Seed]:
    """The rules giving ``target`` that induction may widen (under FIRST only)."""
    seeds: list[Seed] = []
    for k, rule in enumerate(doc.rules if doc.hit_policy == "FIRST" else ()):
        tests = rule_tests(doc, rule) if rule.then_dict.get(output) == target else ()
        if tests:
            bits = tuple(test_bits(t, [f.get(t.input) for f in facts]) for t in tests)
            seeds.append(Seed(tests, bits, k + 1, rule.id))
    return seeds


def _harm(group: Group, target: Scalar) -> bool:
    return group.truth is not None and group.truth != target and group.current != target


def _bits(flags: Iterable[bool]) -> int:
    bits = 0
    for i, flag in enumerate(flags):
        if flag:
            bits |= 1 << i
    return bits


def _members(bits: int) -> list[int]:
    out: list[int] = []
    while bits:
        low = bits & -bits
        out.append(low.bit_length() - 1)
        bits ^= low
    return out


def _candidate(
    doc: Document,
    output: str,
    target: Scalar,
    rated: Rated,
    groups: Sequence[Group],
    learner: Learner,
    cite: int,
    origin: tuple[Test, ...] | None = None,
) -> Candidate:
    tests = sorted(rated.tests, key=lambda t: t.key)
    text = " and ".join(t.text for t in tests)
    then: list[tuple[str, Scalar | None]] = [(output, target)]
    reason = doc.output("reason")
    if reason is not None and reason.type == "string" and output != "reason":
        then.append(("reason", f"Induced: {text}"))
    leaves = tuple(t.leaf() for t in tests)
    rule = Rule(
        id=_rule_id(target, tests) if origin is None else _widened_id(rated, origin),
        when=leaves[0] if len(leaves) == 1 else AllOf(leaves),
        then=tuple(then),
        description=_description(target, text, rated.source),
    )
    cited = heapq.nsmallest(cite, (i for g in _members(rated.fixed) for i in groups[g].ids))
    return Candidate(
        rule=rule,
        target=target,
        position=rated.position,
        before=doc.rules[rated.position].id if rated.position < len(doc.rules) else None,
        conditions=tuple(t.text for t in tests),
        support=rated.fixes,
        harms=rated.harms,
        precision=rated.fixes / (rated.fixes + rated.harms),
        covered=learner.count(rated.captured),
        decision_ids=tuple(cited),
    )


def _description(target: Scalar, text: str, source: str | None) -> str:
    widened = f"; widens {source}" if source is not None else ""
    return f"{str(target).capitalize()} when {text} (induced from resolved cases{widened})."


def _rule_id(target: Scalar, tests: Sequence[Test]) -> str:
    head = Test("target", "eq", target, 0).slug.removeprefix("target-eq-")
    rule_id = "-".join(["induced", head, *(t.slug for t in tests)])
    return rule_id[:120].rstrip("-.")


def _widened_id(rated: Rated, origin: tuple[Test, ...]) -> str:
    """``induced-<rule>-<its new conditions>[-without-<inputs>]``."""
    new = [t.slug for t in sorted(rated.tests, key=lambda t: t.key) if t not in origin]
    kept = {t.input for t in rated.tests}
    gone = [t.input.lower().replace("_", "-") for t in origin if t.input not in kept]
    parts = ["induced", str(rated.source), *new, *(["without", *gone] if gone else [])]
    return "-".join(parts)[:120].rstrip("-.")


def _unique(candidate: Candidate, taken: set[str]) -> Candidate:
    rule_id, n = candidate.rule.id, 2
    while rule_id in taken:
        rule_id, n = f"{candidate.rule.id}-{n}", n + 1
    if rule_id == candidate.rule.id:
        return candidate
    return replace(candidate, rule=replace(candidate.rule, id=rule_id))

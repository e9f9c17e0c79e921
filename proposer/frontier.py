"""The frontier: every change induction can offer on a window of the log, each measured in
sample and forecast out of sample (DESIGN §5, "a choice, not a verdict").

How much agreement to trade for automation is the business's call, so the proposer does not
pick one precision bar: it runs induction along a **ladder** of bars (:data:`LADDER`, from the
default, which the cross-validation on HMDA found to lose the least, down to 0.80), for every
value of the review output that is not a review value (``approve`` and ``decline`` when
``refer`` is reviewed). Each run is a sequence of rules, each learned on what the earlier ones
left, so every prefix of it is a change of its own: a **recipe** is (target, ladder step,
number of rules), optionally followed by rules of the other targets learned on top of the
whole sequence (a **repair**: under FIRST, the decline rules an approve band needs, placed
before it where they pay).

Each recipe's change (a :class:`~proposer.layout.Layout`) is measured on the whole window (the
in-sample trade, exactly what its backtest shows) and forecast (:mod:`proposer.forecast`): the
same recipe learned again on each block's complement and measured on the block. A sequence
learned once per fold gives every prefix's fold result, so a fold costs one induction per
(target, step), whatever the number of recipes. :mod:`proposer.choice` then picks the few
proposals a person is offered.

Induction never sees a protected or PII input (:mod:`proposer.conditions`), and everything is
sorted: the same sample gives the same offers.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from proposer.effects import Effects, members
from proposer.forecast import Forecast, forecast
from proposer.induce import Candidate, learn, part_tests
from proposer.layout import Layout, decide
from proposer.sample import Part, Sample
from proposer.trade import Tally, Trade
from rules.core.document import Document, Scalar, canonical_json

__all__ = [
    "LADDER",
    "Learned",
    "Offer",
    "Recipe",
    "Step",
    "fixed_ids",
    "learn_all",
    "offers",
    "targets_of",
]


@dataclass(frozen=True, slots=True)
class Step:
    """One rung of the ladder: a label and :func:`proposer.induce.learn`'s settings."""

    label: str
    settings: Mapping[str, Any]


LADDER: tuple[Step, ...] = (
    Step("bar 0.95 (new rules 0.975)", {}),
    Step("bar 0.92 (new rules 0.96)", {"min_precision": 0.92, "novel_precision": 0.96}),
    Step("bar 0.90", {"min_precision": 0.90, "novel_precision": 0.90}),
    Step("bar 0.87", {"min_precision": 0.87, "novel_precision": 0.87}),
    Step("bar 0.84", {"min_precision": 0.84, "novel_precision": 0.84}),
    Step("bar 0.80", {"min_precision": 0.80, "novel_precision": 0.80}),
)


@dataclass(frozen=True, slots=True)
class Recipe:
    """How a change is learned: the first ``rules`` rules induction finds for ``target`` at
    ladder step ``step``, then the first ``repair`` rules of the other targets learned on top
    of the whole sequence."""

    target: Scalar
    step: int
    rules: int
    repair: int = 0

    def to_dict(self, ladder: Sequence[Step]) -> dict[str, Any]:
        return {
            "target": self.target,
            "step": self.step,
            "setting": ladder[self.step].label,
            "induce": dict(ladder[self.step].settings),
            "rules": self.rules,
            "repair_rules": self.repair,
        }


@dataclass(frozen=True, slots=True)
class Learned:
    """What induction found on one part for one (target, step): the rule sequence and, for
    each other target in turn, the repair rules learned on top (with the layout they were
    learned on)."""

    base: Layout
    rules: tuple[Candidate, ...]
    repairs: tuple[tuple[Layout, tuple[Candidate, ...]], ...] = ()

    @property
    def repair_count(self) -> int:
        return sum(len(found) for _, found in self.repairs)

    def layout(self, recipe: Recipe) -> tuple[Layout, tuple[Candidate, ...]]:
        """The recipe's change on this part (as many rules as were found, when fewer), and
        the candidates it holds."""
        rules = self.rules[: recipe.rules]
        layout = self.base.insert(rules)
        if not recipe.repair:
            return layout, rules
        held, left = list(self.rules), recipe.repair
        for on, found in self.repairs:
            taken = found[:left]
            layout, left = on.insert(taken), left - len(taken)
            held += taken
            if left <= 0 or len(taken) < len(found):
                break
        return layout, tuple(held)


def targets_of(doc: Document, sample: Sample) -> list[Scalar]:
    """The review output's values that are not review values, in the output's order (else
    the known outcomes seen, sorted)."""
    review = set(doc.review.values) if doc.review is not None else set()
    spec = doc.output(doc.review.output if doc.review is not None else doc.outputs[0].name)
    if spec is not None and spec.values is not None:
        return [v for v in spec.values if v not in review]
    seen = {g.truth for g in sample.groups if g.truth is not None and g.truth not in review}
    return sorted(seen, key=lambda v: (type(v).__name__, repr(v)))


def _under(part: Part, layout: Layout) -> Part:
    """``part`` as the candidate of ``layout`` decides it, for learning a repair: only the
    groups an added rule decides may be covered (the others are blocked, ``first`` -1), so a
    repair rule only ever carves cases out of the change it repairs, on the cases it is
    learned from."""
    doc = layout.document()
    review = tuple(doc.review.values) if doc.review is not None else ()
    output = doc.review.output if doc.review is not None else doc.outputs[0].name
    tests = layout.tests()
    groups = []
    for group in part.groups:
        out = decide(layout, group, review, output, tests)
        added = out.by < len(layout.entries) and not isinstance(layout.entries[out.by], int)
        first = out.by if added else -1
        groups.append(replace(group, first=first, current=out.value, automated=out.automated))
    return replace(part, doc=doc, groups=tuple(groups))


def learn_all(
    part: Part,
    targets: Sequence[Scalar],
    ladder: Sequence[Step],
    induction: Mapping[str, Any],
    wanted: set[tuple[Scalar, int]] | None = None,
) -> dict[tuple[Scalar, int], Learned]:
    """Induction on ``part`` for each target and ladder step (only those ``wanted``, if
    given), with the repairs of each sequence under FIRST."""
    base = Layout.of(part.doc)
    found: dict[tuple[Scalar, int], Learned] = {}
    tests = part_tests(part)  # the same for every run on these facts
    for target in targets:
        for k, step in enumerate(ladder):
            if wanted is not None and (target, k) not in wanted:
                continue
            settings = {**step.settings, **induction, "tests": tests}
            rules = learn(part, target, **settings)
            repairs: list[tuple[Layout, tuple[Candidate, ...]]] = []
            if rules and part.doc.hit_policy == "FIRST":
                layout = base.insert(rules)
                for other in targets:
                    if other == target:
                        continue
                    extra = learn(_under(part, layout), other, **settings)
                    if extra:
                        repairs.append((layout, extra))
                        layout = layout.insert(extra)
            found[target, k] = Learned(base, rules, tuple(repairs))
    return found


@dataclass(frozen=True, slots=True)
class Offer:
    """A recipe's change on the whole window: its rules, its in-sample trade, the groups it
    changes and fixes (bits over the sample's groups), and its forecast."""

    recipe: Recipe
    layout: Layout
    rules: tuple[Candidate, ...]
    in_sample: Trade
    changed: int
    fixed: int
    forecast: Forecast | None = None
    role: str = ""

    @property
    def operations_key(self) -> bytes:
        return canonical_json([op.to_dict() for op in self.layout.operations()])


def _in_order(layout: Layout, rules: Sequence[Candidate]) -> tuple[Candidate, ...]:
    """The candidates in the order their rules have in the layout (the operations' order)."""
    at = {id(e): i for i, e in enumerate(layout.entries)}
    return tuple(sorted(rules, key=lambda c: at[id(c.rule)]))


def _recipes(learned: Mapping[tuple[Scalar, int], Learned]) -> list[Recipe]:
    out: list[Recipe] = []
    for (target, step), found in learned.items():
        out += [Recipe(target, step, k) for k in range(1, len(found.rules) + 1)]
        n = len(found.rules)
        out += [Recipe(target, step, n, j) for j in range(1, found.repair_count + 1)]
    return out


def offers(
    sample: Sample,
    *,
    ladder: Sequence[Step] = LADDER,
    induction: Mapping[str, Any] | None = None,
    keep: Callable[[Offer], bool] | None = None,
) -> list[Offer]:
    """Every recipe's offer on ``sample`` (in recipe order), each with its forecast.
    ``keep(offer)`` (optional) drops offers before they are forecast, so that folds learn only
    what is still wanted."""
    induction = dict(induction or {})
    doc, full = sample.doc, sample.part()
    targets = targets_of(doc, sample)
    learned = learn_all(full, targets, ladder, induction)
    effects = Effects(full)
    found: list[Offer] = []
    seen: set[bytes] = set()
    for recipe in _recipes(learned):
        layout, rules = learned[recipe.target, recipe.step].layout(recipe)
        rules = _in_order(layout, rules)
        effect = effects.of(layout)
        offer = Offer(recipe, layout, rules, effect.tally.trade(), effect.changed, effect.fixed)
        if offer.operations_key in seen or (keep is not None and not keep(offer)):
            continue
        seen.add(offer.operations_key)
        found.append(offer)
    if sample.blocks < 2 or not found:
        return found
    folds = _folds(sample, found, targets, ladder, induction)
    return [
        replace(offer, forecast=forecast(offer.in_sample, *folds[i], window=sample.cases))
        for i, offer in enumerate(found)
    ]


def _folds(
    sample: Sample,
    found: Sequence[Offer],
    targets: Sequence[Scalar],
    ladder: Sequence[Step],
    induction: Mapping[str, Any],
) -> list[tuple[list[Tally], list[Tally]]]:
    """For each offer, its recipe's tallies on each block's complement (where it was learned:
    the fit) and on the block (the measurement)."""
    wanted = {(o.recipe.target, o.recipe.step) for o in found}
    tallies: list[tuple[list[Tally], list[Tally]]] = [([], []) for _ in found]
    for block in range(sample.blocks):
        rest = sample.part([b for b in range(sample.blocks) if b != block])
        learned = learn_all(rest, targets, ladder, induction, wanted)
        fitted, measured = Effects(rest), Effects(sample.part([block]))
        for i, offer in enumerate(found):
            layout, _ = learned[offer.recipe.target, offer.recipe.step].layout(offer.recipe)
            tallies[i][0].append(fitted.of(layout).tally)
            tallies[i][1].append(measured.of(layout).tally)
    return tallies


def fixed_ids(offer: Offer, sample: Sample, cite: int = 50) -> tuple[int, ...]:
    """The first ``cite`` decision ids (ascending) the offer's change fixes: exceptions and
    overrides it now decides as the person did."""
    groups = sample.part().groups
    ids = sorted(i for g in members(offer.fixed) for i in groups[g].ids)
    return tuple(ids[:cite])

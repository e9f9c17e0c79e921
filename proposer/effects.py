"""What a layout of added rules does to the groups of a part, computed on bitsets.

:class:`Effects` holds a part's groups as bitsets (bit ``i``: group ``i``): where the base puts
them, what they were and what is known of them. :meth:`Effects.of` walks a
:class:`~proposer.layout.Layout` once, with set operations only, and returns an
:class:`Effect`: the cases each added rule decides, the groups whose review output changes,
the fixes (changed to their known outcome), and the :class:`~proposer.trade.Tally` of the
trade. It is :func:`proposer.layout.decide` applied to every group at once (a test checks the
two agree), fast enough to score every prefix of every rule sequence of a frontier on every
fold.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from proposer.cases import review_output
from proposer.conditions import Test, column_masks
from proposer.layout import Layout, decide
from proposer.sample import Part
from proposer.trade import Tally
from proposer.weights import Weights
from rules.core.document import Rule, Scalar

__all__ = ["Effect", "Effects", "members"]


def members(bits: int) -> Iterator[int]:
    """The indexes of the set bits, ascending."""
    while bits:
        low = bits & -bits
        yield low.bit_length() - 1
        bits ^= low


@dataclass(frozen=True, slots=True)
class Effect:
    """A layout's effect on a part: ``captured`` lists each added rule's layout index, its
    value and the groups it decides; ``changed`` the groups whose review output changes,
    ``fixed`` those changed to their known outcome and citable; ``tally`` the trade's."""

    captured: tuple[tuple[int, Scalar | None, int], ...]
    changed: int
    fixed: int
    tally: Tally


class Effects:
    """A part's groups as bitsets (see the module)."""

    def __init__(self, part: Part) -> None:
        doc = part.doc
        self.part = part
        self.output = review_output(doc)
        self.review = tuple(doc.review.values) if doc.review is not None else ()
        groups = part.groups
        self.everyone = (1 << len(groups)) - 1
        self.weights = Weights.of(part.weights)
        self.count = self.weights.counter()
        self.automated = _bits(g.automated for g in groups)
        self.known = _bits(g.truth is not None for g in groups)
        self.agreed = _bits(
            g.automated and g.truth is not None and g.truth == g.current for g in groups
        )
        self.citable = _bits(g.citable for g in groups)
        self.first: dict[int, int] = {}
        for i, g in enumerate(groups):
            self.first[g.first] = self.first.get(g.first, 0) | (1 << i)
        self.truth_is: dict[Scalar | None, int] = {}
        self.current_is: dict[Scalar | None, int] = {}
        for i, g in enumerate(groups):
            self.truth_is[g.truth] = self.truth_is.get(g.truth, 0) | (1 << i)
            self.current_is[g.current] = self.current_is.get(g.current, 0) | (1 << i)
        self.masks = column_masks(doc, [g.facts for g in groups])
        self._holds: dict[tuple[Test, ...], int] = {}

    def holds(self, tests: tuple[Test, ...]) -> int:
        found = self._holds.get(tests)
        if found is None:
            found = self.everyone
            for test in tests:
                found &= self.masks[test.input].bits(test)
            self._holds[tests] = found
        return found

    def of(self, layout: Layout) -> Effect:
        """The effect of ``layout`` (its base must be this part's document)."""
        if layout.base.hit_policy != "FIRST":
            return self._one_by_one(layout)
        tests = layout.tests()
        undecided = self.everyone
        captured: list[tuple[int, Scalar | None, int]] = []
        for i, entry in enumerate(layout.entries):
            if isinstance(entry, int):
                undecided &= ~self.first.get(entry, 0)
                continue
            cap = undecided & self.holds(tests[entry.id])
            undecided &= ~cap
            captured.append((i, _value(entry, self.output), cap))
        return self._effect(captured)

    def _one_by_one(self, layout: Layout) -> Effect:
        tests = layout.tests()
        found: dict[tuple[int, Scalar | None], int] = {}
        for g, group in enumerate(self.part.groups):
            out = decide(layout, group, self.review, self.output, tests)
            if 0 <= out.by < len(layout.entries) and isinstance(layout.entries[out.by], Rule):
                key = (out.by, out.value)
                found[key] = found.get(key, 0) | (1 << g)
        return self._effect([(i, v, bits) for (i, v), bits in sorted(found.items())])

    def _effect(self, captured: list[tuple[int, Scalar | None, int]]) -> Effect:
        tally = Tally()
        decided = 0
        changed = fixed = 0
        for _, value, cap in captured:
            decided |= cap
            moved = cap & ~self.current_is.get(value, 0)
            changed |= moved
            fixed |= moved & self.truth_is.get(value, 0) & self.citable
            self._tally_captured(tally, cap, value)
        self._tally_unchanged(tally, self.everyone & ~decided)
        tally.add((False,) * 6, self.part.skipped)
        return Effect(tuple(captured), changed, fixed, tally)

    def _tally_unchanged(self, tally: Tally, bits: int) -> None:
        agreed = bits & self.agreed
        known = bits & self.automated & self.known
        tally.add((True, True, True, True, True, True), self.count(agreed))
        tally.add((True, True, True, True, False, False), self.count(known & ~agreed))
        tally.add(
            (True, True, False, False, False, False), self.count(bits & self.automated & ~known)
        )
        tally.add((False,) * 6, self.count(bits & ~self.automated))

    def _tally_captured(self, tally: Tally, cap: int, value: Scalar | None) -> None:
        after = value is not None and value not in self.review
        right = self.truth_is.get(value, 0)
        for a0, before_bits in ((True, cap & self.automated), (False, cap & ~self.automated)):
            k0_bits = before_bits & self.known if a0 else 0
            g0_bits = before_bits & self.agreed if a0 else 0
            for k0, g0, bits in (
                (True, True, g0_bits),
                (True, False, k0_bits & ~g0_bits),
                (False, False, before_bits & ~k0_bits),
            ):
                for k1, g1, sub in (
                    (after, after, bits & self.known & right),
                    (after, False, bits & self.known & ~right),
                    (False, False, bits & ~self.known),
                ):
                    tally.add((a0, after, k0 and a0, k1, g0 and a0, g1), self.count(sub))


def _value(rule: Rule, output: str) -> Scalar | None:
    return rule.then_dict.get(output)


def _bits(flags: Iterable[bool]) -> int:
    bits = 0
    for i, flag in enumerate(flags):
        if flag:
            bits |= 1 << i
    return bits

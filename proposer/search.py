"""The rule search behind :func:`proposer.induce.induce`: sequential covering, beam search per
rule, then pruning and rounding (the scoring is described in :mod:`proposer.induce`).

Case sets are Python ints used as bitsets, so rating a conjunction is a few ANDs and popcounts.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from proposer.conditions import Test

__all__ = ["Learner", "Rated"]


@dataclass(frozen=True, slots=True)
class Rated:
    """A conjunction at its best position, with what it would decide there."""

    tests: tuple[Test, ...]
    bits: int  # the cases the conjunction holds for
    position: int
    captured: int  # the cases it would decide at ``position``
    fixed: int  # of those, the fixes
    fixes: int
    harms: int
    score: float

    @property
    def order(self) -> tuple[float, int, int, tuple[tuple[int, str, str], ...]]:
        """Best first: score, then fewer conditions, rounder values, written order."""
        return (
            -self.score,
            len(self.tests),
            sum(t.roundness for t in self.tests),
            tuple(t.key for t in self.tests),
        )


@dataclass(frozen=True, slots=True)
class Learner:
    tests: tuple[tuple[Test, int], ...]
    first_is: tuple[int, ...]  # per position p: cases whose first matching base rule is p
    at_or_after: tuple[int, ...]  # per position p: cases a rule inserted at p would decide
    fixable: int
    harmful: int
    blocked: int  # cases a base rule matches when the hit policy is not FIRST: never covered
    everyone: int
    min_support: int
    min_precision: float
    max_conditions: int
    beam: int
    weight: float  # λ: the fixes one harm costs
    caution: int  # pseudo-harms added when judging precision: small rules need a margin

    @classmethod
    def of(
        cls,
        *,
        tests: Sequence[tuple[Test, int]],
        firsts: Sequence[int],
        fixable: int,
        harmful: int,
        positions: int,
        min_support: int,
        min_precision: float,
        max_conditions: int,
        beam: int,
        caution: int,
    ) -> Learner:
        first_is = [0] * (positions + 1)
        blocked = 0
        for i, first in enumerate(firsts):
            if first >= 0:
                first_is[first] |= 1 << i
            else:
                blocked |= 1 << i
        at_or_after = [0] * (positions + 2)
        for p in range(positions, -1, -1):
            at_or_after[p] = at_or_after[p + 1] | first_is[p]
        weight = (
            min_precision / (1 - min_precision) if min_precision < 1 else float(len(firsts) + 1)
        )
        return cls(
            tests=tuple(tests),
            first_is=tuple(first_is),
            at_or_after=tuple(at_or_after[: positions + 1]),
            fixable=fixable,
            harmful=harmful,
            blocked=blocked,
            everyone=(1 << len(firsts)) - 1,
            min_support=min_support,
            min_precision=min_precision,
            max_conditions=max_conditions,
            beam=beam,
            weight=weight,
            caution=caution,
        )

    def cover(self, max_rules: int) -> list[Rated]:
        """Up to ``max_rules`` rules, each learned on the cases the earlier ones left."""
        alive = self.everyone
        found: list[Rated] = []
        while len(found) < max_rules:
            best = self.best(alive)
            if best is None:
                break
            found.append(best)
            alive &= ~best.captured
        return found

    def rate(self, tests: tuple[Test, ...], bits: int, alive: int) -> Rated | None:
        """The conjunction at its best position among the cases still ``alive`` (None when it
        cannot reach ``min_support``)."""
        held = bits & alive
        fixable = held & self.fixable
        if held & self.blocked:
            return None
        if fixable.bit_count() < self.min_support:
            return None
        best: Rated | None = None
        for p, firsts in enumerate(self.first_is):
            if not fixable & firsts:
                continue
            captured = held & self.at_or_after[p]
            fixed = captured & self.fixable
            fixes, harms = fixed.bit_count(), (captured & self.harmful).bit_count()
            score = fixes - self.weight * harms
            if best is None or score >= best.score:  # ties: the later position, deciding less
                best = Rated(tests, bits, p, captured, fixed, fixes, harms, score)
        return best

    def valid(self, rated: Rated) -> bool:
        return (
            rated.fixes >= self.min_support
            and rated.fixes >= self.min_precision * (rated.fixes + rated.harms + self.caution)
            and rated.score > 0
        )

    def best(self, alive: int) -> Rated | None:
        """The best valid conjunction of up to ``max_conditions`` tests, pruned and rounded."""
        level: list[tuple[tuple[Test, ...], int]] = [((t,), b) for t, b in self.tests]
        best: Rated | None = None
        for depth in range(1, self.max_conditions + 1):
            rated = [r for tests, bits in level if (r := self.rate(tests, bits, alive)) is not None]
            for r in rated:
                if self.valid(r) and (best is None or r.order < best.order):
                    best = r
            if depth == self.max_conditions:
                break
            level = self._extend(self._beam(rated, alive))
        return None if best is None else self._round(self._prune(best, alive), alive)

    def _beam(self, rated: list[Rated], alive: int) -> list[Rated]:
        fixable = (alive & self.fixable).bit_count()
        harmful = (alive & self.harmful).bit_count()
        base = math.log2(fixable / (fixable + harmful)) if fixable else 0.0

        def gain(r: Rated) -> float:
            return r.fixes * (math.log2(r.fixes / (r.fixes + r.harms)) - base)

        return sorted(rated, key=lambda r: (-gain(r), r.order))[: self.beam]

    def _extend(self, beam: list[Rated]) -> list[tuple[tuple[Test, ...], int]]:
        seen: set[tuple[Test, ...]] = set()
        level: list[tuple[tuple[Test, ...], int]] = []
        for r in beam:
            used = {t.input for t in r.tests}
            for test, bits in self.tests:
                if test.input in used:
                    continue
                tests = tuple(sorted((*r.tests, test), key=lambda t: t.key))
                if tests not in seen:
                    seen.add(tests)
                    level.append((tests, r.bits & bits))
        return level

    def _conjunction(self, tests: tuple[Test, ...], alive: int) -> Rated | None:
        bits = self.everyone
        lookup = dict(self.tests)
        for test in tests:
            bits &= lookup[test]
        rated = self.rate(tests, bits, alive)
        return rated if rated is not None and self.valid(rated) else None

    def _prune(self, best: Rated, alive: int) -> Rated:
        """Drop conditions that do not pay for themselves."""
        changed = True
        while changed and len(best.tests) > 1:
            changed = False
            for test in best.tests:
                rest = tuple(t for t in best.tests if t != test)
                shorter = self._conjunction(rest, alive)
                if shorter is not None and shorter.score >= best.score:
                    best, changed = shorter, True
                    break
        return best

    def _round(self, best: Rated, alive: int) -> Rated:
        """Move each threshold to the roundest value that scores at least as well."""
        for test in best.tests:
            if test not in best.tests:
                continue
            for other, _ in self.tests:
                if (other.input, other.op) != (test.input, test.op) or other == test:
                    continue
                if other.roundness >= test.roundness:
                    continue
                tests = tuple(sorted((*(t for t in best.tests if t != test), other), key=_key))
                moved = self._conjunction(tests, alive)
                if moved is not None and moved.score >= best.score:
                    best, test = moved, other
        return best


def _key(test: Test) -> tuple[int, str, str]:
    return test.key

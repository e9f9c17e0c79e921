"""The rule search behind :func:`proposer.induce.induce`: sequential covering where each step
takes the best *widening* of an existing rule if one is good enough, else the best new
conjunction from a beam search, pruned and rounded (the scoring is described in
:mod:`proposer.induce`).

Case sets are Python ints used as bitsets, so rating a conjunction is a few ANDs and popcounts.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

from proposer.conditions import Test

__all__ = ["Learner", "Rated", "Seed"]


@dataclass(frozen=True, slots=True)
class Seed:
    """A rule that already gives the target, as tests with their case sets: the learner may
    widen one of its conditions; the widened copy goes at ``floor`` or later (after it)."""

    tests: tuple[Test, ...]
    bits: tuple[int, ...]
    floor: int
    source: str  # the rule's id


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
    source: str | None = None  # the rule this one widens (None: a new conjunction)

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
    seeds: tuple[Seed, ...] = ()
    novel_precision: float = 1.0  # the precision bar for a new conjunction

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
        seeds: Sequence[Seed] = (),
        novel_precision: float | None = None,
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
            seeds=tuple(seeds),
            novel_precision=min_precision if novel_precision is None else novel_precision,
        )

    def cover(self, max_rules: int) -> list[Rated]:
        """Up to ``max_rules`` rules, each learned on the cases the earlier ones left: the best
        widening of a seed (or of a rule found so far) while one is valid, then new
        conjunctions."""
        alive = self.everyone
        found: list[Rated] = []
        seeds = list(self.seeds)
        while len(found) < max_rules:
            best = self.widen(seeds, alive) or self.best(alive)
            if best is None:
                break
            found.append(best)
            alive &= ~best.captured
            if best.source is not None:
                lookup = {**dict(self.tests), **_seed_bits(seeds)}
                bits = tuple(lookup[t] for t in best.tests)
                seeds.append(Seed(best.tests, bits, best.position, best.source))
        return found

    def rate(self, tests: tuple[Test, ...], bits: int, alive: int, floor: int = 0) -> Rated | None:
        """The conjunction at its best position (``floor`` or later) among the cases still
        ``alive`` (None when it cannot reach ``min_support``)."""
        held = bits & alive
        fixable = held & self.fixable
        if held & self.blocked:
            return None
        if fixable.bit_count() < self.min_support:
            return None
        best: Rated | None = None
        for p in range(floor, len(self.first_is)):
            if not fixable & self.first_is[p]:
                continue
            captured = held & self.at_or_after[p]
            fixed = captured & self.fixable
            fixes, harms = fixed.bit_count(), (captured & self.harmful).bit_count()
            score = fixes - self.weight * harms
            if best is None or score >= best.score:  # ties: the later position, deciding less
                best = Rated(tests, bits, p, captured, fixed, fixes, harms, score)
        return best

    def valid(self, rated: Rated) -> bool:
        bar = self.min_precision if rated.source is not None else self.novel_precision
        return (
            rated.fixes >= self.min_support
            and rated.fixes >= bar * (rated.fixes + rated.harms + self.caution)
            and rated.score > 0
        )

    def widen(self, seeds: Sequence[Seed], alive: int) -> Rated | None:
        """The best valid widening of one condition of a seed (a wider threshold, or the
        condition dropped), placed after the seed, its thresholds rounded."""
        best: tuple[Rated, Seed] | None = None
        for seed in seeds:
            for tests, bits in self._widenings(seed):
                rated = self.rate(tests, bits, alive, seed.floor)
                if rated is None:
                    continue
                rated = replace(rated, source=seed.source)
                if self.valid(rated) and (best is None or rated.order < best[0].order):
                    best = (rated, seed)
        if best is None:
            return None
        rated, seed = best
        return self._round(rated, alive, seed.floor, frozenset(seed.tests))

    def _widenings(self, seed: Seed) -> list[tuple[tuple[Test, ...], int]]:
        out: list[tuple[tuple[Test, ...], int]] = []
        for i, test in enumerate(seed.tests):
            rest = seed.tests[:i] + seed.tests[i + 1 :]
            rest_bits = self.everyone
            for b in seed.bits[:i] + seed.bits[i + 1 :]:
                rest_bits &= b
            if rest:
                out.append((rest, rest_bits))
            for other, bits in self.tests:
                if other.input == test.input and wider(other, test):
                    out.append((tuple(sorted((*rest, other), key=_key)), rest_bits & bits))
        return out

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

    def _conjunction(
        self, tests: tuple[Test, ...], alive: int, floor: int = 0, source: str | None = None
    ) -> Rated | None:
        bits = self.everyone
        lookup = {**dict(self.tests), **_seed_bits(self.seeds)}
        for test in tests:
            bits &= lookup[test]
        rated = self.rate(tests, bits, alive, floor)
        if rated is None:
            return None
        rated = replace(rated, source=source)
        return rated if self.valid(rated) else None

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

    def _round(
        self, best: Rated, alive: int, floor: int = 0, keep: frozenset[Test] = frozenset()
    ) -> Rated:
        """Move each threshold (but those in ``keep``) to the roundest value that scores at
        least as well."""
        for test in best.tests:
            if test not in best.tests or test in keep:
                continue
            for other, _ in self.tests:
                if (other.input, other.op) != (test.input, test.op) or other == test:
                    continue
                if other.roundness >= test.roundness:
                    continue
                tests = tuple(sorted((*(t for t in best.tests if t != test), other), key=_key))
                moved = self._conjunction(tests, alive, floor, best.source)
                if moved is not None and moved.score >= best.score:
                    best, test = moved, other
        return best


def _key(test: Test) -> tuple[int, str, str]:
    return test.key


def _seed_bits(seeds: Sequence[Seed]) -> dict[Test, int]:
    return {t: b for seed in seeds for t, b in zip(seed.tests, seed.bits, strict=True)}


def wider(other: Test, test: Test) -> bool:
    """Whether condition ``other`` holds wherever ``test`` does, and is not the same bound:
    ``pirat ≤ 0.4`` is wider than ``pirat ≤ 0.36``, ``chist ≤ 2`` than ``chist = 1``."""
    a, b = _number(other.value), _number(test.value)
    if a is None or b is None or other == test:
        return False
    if test.op in ("le", "lt", "eq") and other.op == "le":
        return bool(a > b or (a == b and test.op == "lt"))
    if test.op in ("ge", "gt", "eq") and other.op == "ge":
        return bool(a < b or (a == b and test.op == "gt"))
    if test.op in ("ge", "gt", "eq") and other.op == "gt":
        return bool(a < b)
    return False


def _number(value: object) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return None

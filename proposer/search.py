"""The rule search behind :func:`proposer.induce.induce`: sequential covering where each step
takes the best *widening* of an existing rule if one is good enough, else the best new
conjunction from a beam search, pruned and rounded (the scoring is described in
:mod:`proposer.induce`).

Case sets are Python ints used as bitsets, so rating a conjunction is a few ANDs and popcounts.
A bit stands for a *group* of cases with the same facts and outcomes (:mod:`proposer.sample`),
counted by its weight (:mod:`proposer.weights`).
"""

from __future__ import annotations

import functools
import heapq
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

from proposer.conditions import Test
from proposer.weights import Weights

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
    # Best first: score, then fewer conditions, rounder values, written order.
    order: tuple[float, int, int, tuple[tuple[int, str, str], ...]] = field(
        init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        object.__setattr__(self, "order", (-self.score, *_shape(self.tests)))


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
    weights: Weights = Weights.NONE
    lookup: dict[Test, int] | None = None  # every test's and seed test's bits
    _count: Callable[[int], int] = int.bit_count
    lightest: int = 1  # the smallest weight of a group

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
        weights: Weights | None = None,
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
        weights = weights or Weights.ones(len(firsts))
        total = weights.count((1 << len(firsts)) - 1)
        weight = min_precision / (1 - min_precision) if min_precision < 1 else float(total + 1)
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
            weights=weights,
            lookup={**dict(tests), **_seed_bits(seeds)},
            _count=weights.counter(),
            lightest=min(weights.values, default=1),
        )

    @property
    def count(self) -> Callable[[int], int]:
        """The number of cases in a set of groups."""
        return self._count

    def supported(self, bits: int) -> bool:
        """Whether the fixable cases in ``bits`` reach ``min_support`` (groups counted at
        their lightest first: exact, and mostly without weighing them)."""
        groups = bits.bit_count()
        return groups * self.lightest >= self.min_support or (
            groups > 0 and self.count(bits) >= self.min_support
        )

    def _bits(self, test: Test, seeds: Sequence[Seed]) -> int:
        if self.lookup is not None and test in self.lookup:
            return self.lookup[test]
        return {**dict(self.tests), **_seed_bits(seeds)}[test]

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
                bits = tuple(self._bits(t, seeds) for t in best.tests)
                seeds.append(Seed(best.tests, bits, best.position, best.source))
        return found

    def rate(self, tests: tuple[Test, ...], bits: int, alive: int, floor: int = 0) -> Rated | None:
        """The conjunction at its best position (``floor`` or later) among the cases still
        ``alive`` (None when it cannot reach ``min_support``)."""
        held = bits & alive
        fixable = held & self.fixable
        if held & self.blocked:
            return None
        if not self.supported(fixable):
            return None
        found: tuple[int, int, int, float] | None = None  # position, fixes, harms, score
        for p in range(floor, len(self.first_is)):
            if not fixable & self.first_is[p]:
                continue
            captured = held & self.at_or_after[p]
            fixes, harms = self.count(captured & self.fixable), self.count(captured & self.harmful)
            score = fixes - self.weight * harms
            if found is None or score >= found[3]:  # ties: the later position, deciding less
                found = (p, fixes, harms, score)
        if found is None:
            return None
        p, fixes, harms, score = found
        captured = held & self.at_or_after[p]
        return Rated(tests, bits, p, captured, captured & self.fixable, fixes, harms, score)

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
        # A test holding for too few fixable cases is in no valid conjunction: skip it.
        fixable = alive & self.fixable
        viable = [(t, b) for t, b in self.tests if self.supported(b & fixable)]
        level: list[tuple[tuple[Test, ...], int]] = [((t,), b) for t, b in viable]
        best: Rated | None = None
        for depth in range(1, self.max_conditions + 1):
            rated, best = self._level(level, alive, best)
            if depth == self.max_conditions:
                break
            level = self._extend(self._beam(rated, alive), viable, fixable)
        return None if best is None else self._round(self._prune(best, alive), alive)

    def _level(
        self, level: list[tuple[tuple[Test, ...], int]], alive: int, best: Rated | None
    ) -> tuple[list[Rated], Rated | None]:
        """Rate the conjunctions of one level (keeping ``best``, the best valid one so far),
        skipping those that can neither enter the beam nor beat ``best``. Bounds, from the
        fixable cases ``F`` a conjunction holds for and the harms ``H`` it holds for among the
        cases no base rule decides (the fewest it can capture at any position): its precision
        is at most ``F / (F + H)``, its score at most ``F - λH``, its gain at most ``F``
        times ``log2(F / (F + H)) - base``. Taken by that bound on the gain, best first, the
        result is the same as rating them all."""
        count, fixable, base = self.count, alive & self.fixable, self._base(alive)
        last = self.at_or_after[-1] & self.harmful & alive
        bounded = []
        for i, (_, bits) in enumerate(level):
            f, h = count(bits & fixable), count(bits & last)
            lift = math.log2(f / (f + h)) - base if f else 0.0
            bounded.append((f * lift if lift > 0 else lift, f, h, i))
        bounded.sort(key=lambda item: -item[0])
        rated: list[Rated] = []
        gains: list[float] = []  # a min-heap of the best ``beam`` gains so far
        bar = self.novel_precision
        for ceiling, f, h, i in bounded:
            if len(gains) >= self.beam and ceiling < gains[0]:
                if f < bar * (f + h + self.caution):
                    continue  # never valid
                if best is not None and f - self.weight * h < best.score:
                    continue  # never better than the best
            r = self.rate(*level[i], alive)
            if r is None:
                continue
            rated.append(r)
            g = _gain(r, base)
            if len(gains) < self.beam:
                heapq.heappush(gains, g)
            elif g > gains[0]:
                heapq.heapreplace(gains, g)
            if self.valid(r) and (best is None or r.order < best.order):
                best = r
        return rated, best

    def _base(self, alive: int) -> float:
        fixable = self.count(alive & self.fixable)
        harmful = self.count(alive & self.harmful)
        return math.log2(fixable / (fixable + harmful)) if fixable else 0.0

    def _beam(self, rated: list[Rated], alive: int) -> list[Rated]:
        base = self._base(alive)
        return sorted(rated, key=lambda r: (-_gain(r, base), r.order))[: self.beam]

    def _extend(
        self, beam: list[Rated], tests: Sequence[tuple[Test, int]], fixable: int
    ) -> list[tuple[tuple[Test, ...], int]]:
        seen: set[tuple[Test, ...]] = set()
        level: list[tuple[tuple[Test, ...], int]] = []
        for r in beam:
            used = {t.input for t in r.tests}
            for test, bits in tests:
                if test.input in used:
                    continue
                if not self.supported(r.bits & bits & fixable):
                    continue  # rated None: too few fixable cases
                joined = tuple(sorted((*r.tests, test), key=_key))
                if joined not in seen:
                    seen.add(joined)
                    level.append((joined, r.bits & bits))
        return level

    def _conjunction(
        self, tests: tuple[Test, ...], alive: int, floor: int = 0, source: str | None = None
    ) -> Rated | None:
        bits = self.everyone
        for test in tests:
            bits &= self._bits(test, self.seeds)
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


def _gain(r: Rated, base: float) -> float:
    """FOIL's information gain of a rated conjunction over the alive cases' precision."""
    return r.fixes * (math.log2(r.fixes / (r.fixes + r.harms)) - base)


@functools.lru_cache(maxsize=65536)
def _shape(tests: tuple[Test, ...]) -> tuple[int, int, tuple[tuple[int, str, str], ...]]:
    """The tie-breaks of :attr:`Rated.order` after the score (cached: they are asked often)."""
    return (len(tests), sum(t.roundness for t in tests), tuple(t.key for t in tests))


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

"""What a change trades: points of automation gained against points of agreement changed.

On a set of cases (a :class:`~proposer.sample.Part`, each group counted by its weight), before
(the base) and after (the candidate):

* **automation** is the share of the cases whose result is not an exception (cases whose facts
  the base does not accept count as exceptions, as in the backtest);
* **agreement** is the share of the automated cases with a known outcome whose review output
  is that outcome (the outcome a person chose, else, for an automated decision nobody
  contested, what the rules decided then: :mod:`proposer.induce`); with no such case it is
  100% (rules that automate nothing disagree with nobody), so a ruleset that automates nothing
  yet loses the points its first automation gets wrong.

Both are given in points (percentage points): ``+21.3`` automation, ``-1.2`` agreement. This is
the measure ``rulebook proposer evaluate`` reports on held-out data, and the one the
backtest's ``automated`` section reports (:mod:`proposer.backtest.report`).

Every case contributes one of at most 64 patterns (automated, known and agreeing, before and
after), so a :class:`Tally` is a small counter of patterns, and tallies of disjoint sets add.
The standard errors are the delta method's for a sample of independent cases (the variance of
a difference of means, and of a difference of ratios of means), in points: what a bootstrap of
the cases converges to, computed exactly and without randomness.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Pattern", "Tally", "Trade"]

# (automated before, automated after, known before, known after, agreed before, agreed after),
# "known" meaning automated with a known outcome.
Pattern = tuple[bool, bool, bool, bool, bool, bool]


@dataclass(slots=True)
class Tally:
    """Cases counted by pattern (see the module)."""

    patterns: Counter[Pattern] = field(default_factory=Counter)

    def add(self, pattern: Pattern, weight: int) -> None:
        if weight:
            self.patterns[pattern] += weight

    def merged(self, other: Tally) -> Tally:
        return Tally(self.patterns + other.patterns)

    def trade(self) -> Trade:
        return Trade.of(self.patterns)


def _sum(patterns: Mapping[Pattern, int], k: int) -> int:
    return sum(n for p, n in patterns.items() if p[k])


@dataclass(frozen=True, slots=True)
class Trade:
    """Automation and agreement before and after, their changes in points, and the changes'
    standard errors in points (delta method; 0 with no cases)."""

    cases: int
    automated: tuple[int, int]  # before, after
    known: tuple[int, int]  # automated with a known outcome
    agreed: tuple[int, int]
    automation_se: float
    agreement_se: float

    @classmethod
    def of(cls, patterns: Mapping[Pattern, int]) -> Trade:
        n = sum(patterns.values())
        sums = [_sum(patterns, k) for k in range(6)]
        return cls(
            cases=n,
            automated=(sums[0], sums[1]),
            known=(sums[2], sums[3]),
            agreed=(sums[4], sums[5]),
            automation_se=_automation_se(patterns, n, sums),
            agreement_se=_agreement_se(patterns, n, sums),
        )

    @property
    def automation(self) -> tuple[float, float]:
        n = self.cases or 1
        return (self.automated[0] / n, self.automated[1] / n)

    @property
    def agreement(self) -> tuple[float, float]:
        return tuple(  # type: ignore[return-value]
            a / k if k else 1.0 for a, k in zip(self.agreed, self.known, strict=True)
        )

    @property
    def automation_points(self) -> float:
        before, after = self.automation
        return 100 * (after - before)

    @property
    def agreement_points(self) -> float:
        before, after = self.agreement
        return 100 * (after - before)

    def to_dict(self) -> dict[str, Any]:
        return {
            "cases": self.cases,
            "automated": {"before": self.automated[0], "after": self.automated[1]},
            "known": {"before": self.known[0], "after": self.known[1]},
            "agreed": {"before": self.agreed[0], "after": self.agreed[1]},
            "automation_points": round(self.automation_points, 2),
            "agreement_points": round(self.agreement_points, 2),
            "automation_se": round(self.automation_se, 3),
            "agreement_se": round(self.agreement_se, 3),
        }


def _automation_se(patterns: Mapping[Pattern, int], n: int, sums: list[int]) -> float:
    if n < 2:
        return 0.0
    mean = (sums[1] - sums[0]) / n
    square = sum(w * (int(p[1]) - int(p[0])) ** 2 for p, w in patterns.items()) / n
    return 100 * math.sqrt(max(square - mean * mean, 0.0) / n)


def _agreement_se(patterns: Mapping[Pattern, int], n: int, sums: list[int]) -> float:
    """The delta method's standard error of ``G1/K1 - G0/K0`` (each a mean per case)."""
    if n < 2:
        return 0.0
    k0, k1 = sums[2] / n, sums[3] / n
    r0 = sums[4] / sums[2] if sums[2] else 1.0
    r1 = sums[5] / sums[3] if sums[3] else 1.0
    square = 0.0
    for p, w in patterns.items():
        psi = (p[5] - r1 * p[3]) / k1 if k1 else 0.0
        psi -= (p[4] - r0 * p[2]) / k0 if k0 else 0.0
        square += w * psi * psi
    return 100 * math.sqrt(square / n / n)

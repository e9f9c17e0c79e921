"""The out-of-sample estimate of a proposal (DESIGN §5): what its change is expected to do on
decisions it was not learned from, with an uncertainty range.

The backtest measures a proposal's rules on the very decisions they were chosen from, which
flatters them: the best of thousands of conjunctions looks better on its own data than on new
data. How much better is its **optimism**, and it can be measured. A proposal of the
deterministic proposer is the product of a *recipe* (induction at one setting, for one
target, keeping its first few rules: :mod:`proposer.frontier`); the window is cut into
``BLOCKS`` consecutive blocks in decision id order (oldest first, :mod:`proposer.sample`), and
for each block the recipe is learned again on the other blocks, then measured both where it
was learned (its fit) and on the block (its measurement). Fit minus measurement is that
fold's optimism, and

    expected = the backtest's figure - the optimism

for automation and for agreement, in points (Harrell's optimism correction, with folds in
time order rather than bootstrap samples):

* the **time split** takes the optimism of the last fold alone: learned on the older four
  fifths of the window, measured on the newest fifth, as the rules will be used (drift
  included);
* the **cross-validation** averages the optimism of all five folds, every decision measured
  by rules learned without it.

The time split is the estimate when the newest block holds at least ``LARGE_BLOCK``
decisions; on a smaller window one fold is too noisy, and the cross-validation is.

The **range** is a 90% prediction interval for the change the proposal will show on as many
new decisions as the window holds: ``expected ± 1.645·sqrt(v + 2·se²)``, where ``se`` is the
backtest figure's standard error (the delta method, :mod:`proposer.trade`), counted twice
(once for the noise in the backtest the estimate starts from, once for the new decisions'
own), and ``v`` the variance of the optimism estimate: the variance of the folds' optimisms
(divided by the five folds when they are averaged). Why not a bootstrap: the figures are
ratios of counts whose sampling variance the delta method gives exactly and without
randomness (the proposer is deterministic), and what resampling cannot give, how differently
the rules come out when learned again, the folds' spread does. How often held-out changes
fell inside the range on real data is counted in ``bench/evaluation.md``.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from proposer.trade import Tally, Trade

__all__ = ["BLOCKS", "LARGE_BLOCK", "LEVEL", "Estimate", "Forecast", "forecast"]

BLOCKS = 5
LARGE_BLOCK = 5000  # decisions in the newest block from which the time split is the estimate
LEVEL = 0.9
Z = 1.6449  # the standard normal's 95th percentile: a two-sided 90% interval
LABEL = (
    "expected on decisions it was not learned from: an out-of-sample estimate, not a "
    "measurement (the backtest is the measurement, on the decisions it was learned from)"
)


@dataclass(frozen=True, slots=True)
class Estimate:
    """One figure's expected change, in points, and its range."""

    expected: float
    low: float
    high: float

    def contains(self, value: float) -> bool:
        return self.low <= value <= self.high

    def to_dict(self) -> dict[str, float]:
        return {
            "expected": round(self.expected, 2),
            "low": round(self.low, 2),
            "high": round(self.high, 2),
        }


@dataclass(frozen=True, slots=True)
class Forecast:
    """A proposal's out-of-sample estimate (see the module); ``fits`` and ``folds`` are the
    recipe's trades where it was learned and on the block held out, oldest block first."""

    method: str  # "time_split" | "cross_validation"
    automation: Estimate
    agreement: Estimate
    fits: tuple[Trade, ...]
    folds: tuple[Trade, ...]
    window: int  # decisions in the window

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": "out_of_sample_estimate",
            "label": LABEL,
            "method": self.method,
            "level": LEVEL,
            "automation_points": self.automation.to_dict(),
            "agreement_points": self.agreement.to_dict(),
            "window": self.window,
            "folds": [
                {
                    "learned_on": fit.cases,
                    "measured_on": fold.cases,
                    "fit": _points(fit),
                    "measured": _points(fold),
                }
                for fit, fold in zip(self.fits, self.folds, strict=True)
            ],
        }


def _points(trade: Trade) -> dict[str, float]:
    return {
        "automation_points": round(trade.automation_points, 2),
        "agreement_points": round(trade.agreement_points, 2),
    }


def _estimate(
    figure: Callable[[Trade], float],
    se: float,
    fits: Sequence[Trade],
    folds: Sequence[Trade],
    time_split: bool,
    in_sample: Trade,
) -> Estimate:
    optimism = [figure(f) - figure(m) for f, m in zip(fits, folds, strict=True)]
    spread = statistics.variance(optimism) if len(optimism) > 1 else 0.0
    if time_split:
        center, variance = figure(in_sample) - optimism[-1], spread
    else:
        center, variance = figure(in_sample) - statistics.fmean(optimism), spread / len(optimism)
    half = Z * math.sqrt(variance + 2 * se * se)
    # Rounded as stored and shown, so the title, the evidence and the ceiling agree.
    return Estimate(round(center, 2), round(center - half, 2), round(center + half, 2))


def forecast(
    in_sample: Trade, fitted: Sequence[Tally], measured: Sequence[Tally], *, window: int
) -> Forecast:
    """The estimate of a change whose backtest trade is ``in_sample``, from its recipe's
    tallies on each fold: ``fitted`` on the blocks it was learned on, ``measured`` on the
    block held out, oldest block first (the last is the time split), for a window of
    ``window`` decisions."""
    fits = tuple(t.trade() for t in fitted)
    folds = tuple(t.trade() for t in measured)
    split = folds[-1].cases >= LARGE_BLOCK
    automation = _estimate(
        lambda t: t.automation_points, in_sample.automation_se, fits, folds, split, in_sample
    )
    agreement = _estimate(
        lambda t: t.agreement_points, in_sample.agreement_se, fits, folds, split, in_sample
    )
    return Forecast(
        method="time_split" if split else "cross_validation",
        automation=automation,
        agreement=agreement,
        fits=fits,
        folds=folds,
        window=window,
    )

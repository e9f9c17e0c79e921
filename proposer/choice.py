"""Which of the frontier's offers a person is shown, in what order, and what each is called.

The analysts choose how much agreement to trade for automation; the proposer offers the range
(DESIGN §5). With ``max_loss`` the ceiling in points (``RULEBOOK_PROPOSER_MAX_AGREEMENT_LOSS``,
:mod:`proposer.settings`), for each **direction** (the target of an offer's first rules:
``approve``, ``decline``):

* the **conservative** offer: the default induction's whole sequence (the ladder's first step,
  the bar the cross-validation on HMDA found to lose the least), when its backtest loses no
  agreement; else, of the offers that lose none in sample and none expected, the one with
  the best expected agreement; else there is none in that direction;
* **bolder** offers: those whose agreement loss is at most ``max_loss`` both in sample (the
  backtest: exactly, counted in cases) and expected out of sample (the forecast's expected
  value), that are expected to gain something, and that no other such offer beats on both
  expected automation and expected agreement (the Pareto front); the **boldest** is the one
  expected to automate most.

They are taken in this order: each direction's conservative offer, each direction's boldest,
then the others, each time the one whose expected automation is farthest from those already
taken in its direction (so a few offers span the frontier). An offer is a **near-duplicate**
of one already taken, and is dropped, when the decisions whose review output they change
overlap by a Jaccard index of at least :data:`JACCARD` (cases counted, not groups:
``|A and B| / |A or B|``). A ceiling of 0 therefore offers only changes that lose no agreement
in sample.

The proposals are then listed by direction, least expected automation first, and titled with
what they trade: ``+21.3 pts automation, \u22121.2 pts agreement (expected): approve when
…`` (with a minus sign).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from fractions import Fraction

from proposer.frontier import Offer
from proposer.trade import Trade
from proposer.weights import Weights
from rules.core.document import Scalar

__all__ = ["JACCARD", "choose", "display_order", "loses_at_most", "title", "trade_text"]

JACCARD = 0.8
MAX_TITLE = 200


def _agreement(known: int, agreed: int) -> Fraction:
    return Fraction(agreed, known) if known else Fraction(1)


def loses_at_most(trade: Trade, max_loss: float) -> bool:
    """Whether the in-sample agreement falls by at most ``max_loss`` points (exactly)."""
    before = _agreement(trade.known[0], trade.agreed[0])
    after = _agreement(trade.known[1], trade.agreed[1])
    return 100 * (before - after) <= Fraction(max_loss)


def _expected(offer: Offer) -> tuple[float, float]:
    """(automation, agreement) points expected: the forecast's, else the backtest's."""
    if offer.forecast is None:
        return offer.in_sample.automation_points, offer.in_sample.agreement_points
    return offer.forecast.automation.expected, offer.forecast.agreement.expected


def _bold_enough(offer: Offer, max_loss: float) -> bool:
    automation, agreement = _expected(offer)
    return (
        loses_at_most(offer.in_sample, max_loss)
        and agreement >= -max_loss
        and (automation > 0 or agreement > 0)
    )


def _pareto(pool: Sequence[Offer]) -> list[Offer]:
    def beaten(o: Offer) -> bool:
        a, g = _expected(o)
        return any(
            (b := _expected(p))[0] >= a and b[1] >= g and b != (a, g) for p in pool if p is not o
        )

    return [o for o in pool if not beaten(o)]


def _conservative(offers: Sequence[Offer]) -> Offer | None:
    safe = [o for o in offers if loses_at_most(o.in_sample, 0)]
    default = [o for o in safe if o.recipe.step == 0 and not o.recipe.repair]
    if default:
        return max(default, key=lambda o: o.recipe.rules)
    safe = [o for o in safe if _expected(o)[1] >= 0]
    if not safe:
        return None
    return max(safe, key=lambda o: (_expected(o)[1], _expected(o)[0]))


def jaccard(a: int, b: int, weights: Weights) -> float:
    union = weights.count(a | b)
    return weights.count(a & b) / union if union else 1.0


def choose(
    offers: Sequence[Offer], targets: Sequence[Scalar], max_loss: float, weights: Weights
) -> list[Offer]:
    """The offers to show, best first, each with its role (see the module)."""
    taken: list[Offer] = []

    def take(offer: Offer | None, role: str) -> None:
        if offer is None or any(offer is t or _near(offer, t) for t in taken):
            return
        taken.append(replace(offer, role=role))

    def _near(a: Offer, b: Offer) -> bool:
        return jaccard(a.changed, b.changed, weights) >= JACCARD

    by_target = {t: [o for o in offers if o.recipe.target == t] for t in targets}
    safe = {t: _conservative(found) for t, found in by_target.items()}
    pools = {
        t: _pareto([o for o in found if o is not safe[t] and _bold_enough(o, max_loss)])
        for t, found in by_target.items()
    }
    for t in targets:
        take(safe[t], "conservative")
    for t in targets:
        if pools[t]:
            take(max(pools[t], key=lambda o: (_expected(o), -o.recipe.step)), "boldest")
    rest = [o for t in targets for o in pools[t]]
    while True:
        left = [o for o in rest if not any(o.recipe == t.recipe for t in taken)]
        left = [o for o in left if not any(_near(o, t) for t in taken)]
        if not left:
            return taken
        take(max(left, key=lambda o: (_gap(o, taken), _expected(o))), "between")


def _gap(offer: Offer, taken: Sequence[Offer]) -> float:
    mine = [_expected(t)[0] for t in taken if t.recipe.target == offer.recipe.target]
    automation = _expected(offer)[0]
    return min((abs(automation - x) for x in mine), default=float("inf"))


def display_order(chosen: Sequence[Offer], targets: Sequence[Scalar]) -> list[Offer]:
    """By direction (the targets' order), then least expected automation first."""
    rank = {t: i for i, t in enumerate(targets)}
    return sorted(chosen, key=lambda o: (rank.get(o.recipe.target, len(rank)), _expected(o)))


def points(value: float, digits: int = 1) -> str:
    """``+21.3``, ``\u22121.2`` (a minus sign, not a hyphen), ``+0.0``."""
    text = f"{value:+.{digits}f}"
    if float(text) == 0:
        return f"+{0:.{digits}f}"
    return text.replace("-", "\u2212")


def trade_text(offer: Offer) -> str:
    """``+21.3 pts automation, \u22121.2 pts agreement (expected)`` (``(backtest)`` when
    there is no forecast)."""
    automation, agreement = _expected(offer)
    kind = "expected" if offer.forecast is not None else "backtest"
    return f"{points(automation)} pts automation, {points(agreement)} pts agreement ({kind})"


def title(offer: Offer) -> str:
    """The trade, then the rules: ``…: approve when pirat ≤ 0.38 and chist = 1``."""
    rules = [f"{c.target} when {' and '.join(c.conditions)}" for c in offer.rules]
    what = rules[0] if len(rules) == 1 else f"{len(rules)} rules: " + "; ".join(rules)
    text = f"{trade_text(offer)}: {what}"
    return text if len(text) <= MAX_TITLE else text[: MAX_TITLE - 1] + "\u2026"

"""The words and the stored estimate of a deterministic proposal: its rationale (what each rule
does, on what evidence, and where it sits on the frontier) and the ``forecast`` evidence
(:mod:`proposer.forecast`, with the recipe it estimates and the in-sample figures beside it).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from proposer.cases import review_output
from proposer.choice import points
from proposer.drafting import Draft
from proposer.frontier import Offer, Step
from proposer.sample import Sample
from rules.core.document import Rule

__all__ = ["forecast_evidence", "rationale"]

ROLES = {
    "conservative": "the conservative proposal of this run: what the default (strictest) "
    "induction finds, and its backtest loses no agreement",
    "boldest": "the boldest proposal of this run: the most automation expected within the "
    "ceiling of {ceiling} points of agreement lost (in the backtest and expected)",
    "between": "one of the proposals between the conservative one and the boldest, within the "
    "ceiling of {ceiling} points of agreement lost",
}


def forecast_evidence(offer: Offer, ladder: Sequence[Step], max_loss: float) -> dict[str, Any]:
    """The forecast as stored with the evidence: the estimate, the recipe it is of, and the
    in-sample figures of the same measure, side by side."""
    found: dict[str, Any] = (
        offer.forecast.to_dict()
        if offer.forecast is not None
        else {"kind": "unavailable", "reason": "the window is too small to hold any part out"}
    )
    return {
        **found,
        "recipe": offer.recipe.to_dict(ladder),
        "in_sample": {
            "automation_points": round(offer.in_sample.automation_points, 2),
            "agreement_points": round(offer.in_sample.agreement_points, 2),
        },
        "role": offer.role,
        "max_agreement_loss": max_loss,
    }


def _where(offer: Offer, rule: Rule) -> str:
    entries = offer.layout.entries
    at = next(i for i, e in enumerate(entries) if e is rule)
    following = [e for e in entries[at + 1 :] if isinstance(e, int)]
    base = offer.layout.base.rules
    return f"before {base[following[0]].id}" if following else "after the last rule"


def _resolved(sample: Sample, target: object) -> str:
    citable = [g for g in sample.groups if g.citable]
    total = sum(g.count for g in citable)
    to_target = sum(g.count for g in citable if g.truth == target)
    return (
        f"Of the {total:,} resolved exceptions and overrides among {sample.cases:,} logged "
        f"decisions, people settled {to_target:,} as {target}."
    )


def _rules(offer: Offer, output: str) -> list[str]:
    lines = []
    for c in offer.rules:
        lines.append(
            f"Rule {c.rule.id} sets {output} to {c.target} when {' and '.join(c.conditions)}; "
            f"it goes {_where(offer, c.rule)}. Where it was learned it changed {c.support:,} "
            f"cases toward what the person chose and {c.harms:,} away from it (precision "
            f"{c.precision:.1%})."
        )
    return lines


def _measured(offer: Offer, found: Draft, output: str) -> str:
    report, impact, trade = found.evidence.backtest, found.evidence.impact, offer.in_sample
    before, after = trade.automation
    agree_before, agree_after = trade.agreement
    return (
        f"The backtest changes the {output} of {impact.changed:,} of {report.cases:,} "
        f"decisions: automation {before:.1%} to {after:.1%} "
        f"({points(trade.automation_points)} points), agreement of automated decisions with "
        f"the known outcome {agree_before:.2%} to {agree_after:.2%} "
        f"({points(trade.agreement_points, 2)} points). These are fitted figures: the rules "
        "were chosen on these decisions."
    )


def _expected(offer: Offer) -> str:
    f = offer.forecast
    if f is None:
        return "No out-of-sample estimate: the window is too small to hold part of it out."
    how = (
        "learned again on the older four fifths of the window and measured on the newest fifth"
        if f.method == "time_split"
        else "learned again five times, each time without one fifth of the window (in "
        "decision id order), and measured on that fifth"
    )
    a, g = f.automation, f.agreement
    return (
        f"Out of sample (the backtest's figures less their optimism, found by the same "
        f"induction {how}), it is expected to change automation by "
        f"{points(a.expected)} points (90% range {points(a.low)} to {points(a.high)}) and "
        f"agreement by {points(g.expected, 2)} points ({points(g.low, 2)} to "
        f"{points(g.high, 2)})."
    )


def rationale(offer: Offer, found: Draft, sample: Sample, max_loss: float) -> str:
    output = review_output(sample.doc)
    role = ROLES.get(offer.role, "").format(ceiling=f"{max_loss:g}")
    parts = [
        _resolved(sample, offer.recipe.target),
        *_rules(offer, output),
        _measured(offer, found, output),
        _expected(offer),
        f"This is {role}." if role else "",
        f"It cites {len(found.citations):,} of the cases its change fixes.",
    ]
    return " ".join(p for p in parts if p)

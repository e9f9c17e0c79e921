"""The read-only ``read_frontier`` tool: the deterministic proposer's frontier, so the model can
start from the changes rule induction finds (DESIGN §5), merge them, explain them and cite them.

The frontier is computed once per run, on the run's base version and the whole log
(:func:`proposer.baseline.read_frontier`, with the ceiling of
``RULEBOOK_PROPOSER_MAX_AGREEMENT_LOSS``), and each call lists its offers, best first: their
operations (ready for ``run_backtest`` and ``submit_proposal``, as they are or changed), their
rules' conditions, the first decisions they fix, their backtest trade and their forecast.
Induction never conditions on a protected or PII input, but a condition on a string input
holds a value taken from the cases, so the whole result is scrubbed of every PII and protected
text on record and wrapped as untrusted case data. A draft the model submits whose candidate is
exactly one of these offers carries that offer's forecast in its evidence
(:mod:`proposer.llm.changes`); any other draft has none: nothing was held out from it.
"""

from __future__ import annotations

from typing import Any

from proposer.baseline import Frontier, read_frontier
from proposer.choice import title
from proposer.frontier import Offer, fixed_ids, targets_of
from proposer.llm.context import Denied, ToolContext
from proposer.llm.views import dumps, untrusted
from rules.errors import Problem, suggest

__all__ = ["FIXES_SHOWN", "MAX_OFFERS", "frontier_of", "read_frontier_tool"]

MAX_OFFERS = 10
FIXES_SHOWN = 20
MAX_RESULT_CHARS = 100_000


def frontier_of(ctx: ToolContext) -> Frontier:
    """The run's frontier, computed on first use."""
    if ctx.frontier is None:
        ctx.frontier = read_frontier(ctx.session, ctx.ruleset, base=ctx.base)
    found: Frontier = ctx.frontier
    return found


def _offer(frontier: Frontier, rank: int, offer: Offer) -> dict[str, Any]:
    fixes = fixed_ids(offer, frontier.sample, cite=FIXES_SHOWN)
    forecast = offer.forecast
    return {
        "rank": rank,
        "role": offer.role,
        "direction": offer.recipe.target,
        "title": title(offer),
        "operations": [op.to_dict() for op in offer.layout.operations()],
        "rules": [
            {
                "id": c.rule.id,
                "target": c.target,
                "conditions": list(c.conditions),
                "fixes": c.support,
                "harms": c.harms,
            }
            for c in offer.rules
        ],
        "first_fixed_decisions": list(fixes),
        "backtest_points": {
            "automation": round(offer.in_sample.automation_points, 2),
            "agreement": round(offer.in_sample.agreement_points, 2),
        },
        "expected_points": None
        if forecast is None
        else {
            "automation": forecast.automation.to_dict(),
            "agreement": forecast.agreement.to_dict(),
            "method": forecast.method,
        },
    }


def read_frontier_tool(ctx: ToolContext, args: dict[str, Any]) -> dict[str, Any]:
    frontier = frontier_of(ctx)
    targets = targets_of(frontier.doc, frontier.sample)
    target = args.get("target")
    if target is not None and target not in targets:
        shown = [str(t) for t in targets]
        problem = Problem(
            "RB953",
            "arguments.target",
            f"target: not a value the proposer targets; one of {', '.join(shown) or 'none'}",
            suggest(str(target)[:200], shown),
        )
        raise Denied(problem.message, [problem])
    chosen = [o for o in frontier.chosen if target is None or o.recipe.target == target]
    offers = [_offer(frontier, n, o) for n, o in enumerate(chosen, start=1)]
    body: dict[str, Any] = {
        "ruleset": frontier.name,
        "base_version": frontier.base,
        "decisions": frontier.sample.cases,
        "max_agreement_loss_points": frontier.max_loss,
        "offers_total": len(offers),
        "offers": offers[: int(args.get("max_offers", 5))],
    }
    body = ctx.view.scrub(body, {}, ctx.known_withheld())
    while len(dumps(body)) > MAX_RESULT_CHARS and body["offers"]:
        body["offers"] = body["offers"][:-1]
        body["truncated"] = True
    return untrusted(body)

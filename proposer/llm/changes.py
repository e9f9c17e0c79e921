"""The tools that take a change: ``run_backtest`` (read-only) and ``submit_proposal`` (the one
write: a draft proposal, whole or not at all).

Before either runs, the operations are read strictly (:func:`proposer.operations.parse_operations`),
every condition they add is checked to use only inputs the base declares that are neither
protected nor PII, and they are applied to the base (:func:`proposer.candidate.apply`). A
submission is refused unless every cited decision is one of this ruleset's and at least one
citation is verified (the change decides it as the person did); the proposal itself is then
created by :func:`proposer.proposals.create_proposal` inside a savepoint, so a refusal there
leaves nothing behind.
"""

from __future__ import annotations

from typing import Any

from proposer.backtest import Window, backtest
from proposer.baseline import forecast_for
from proposer.candidate import apply
from proposer.citations import check_citations
from proposer.llm.context import Denied, ToolContext
from proposer.llm.views import secret_texts, untrusted
from proposer.operations import AddRule, Operation, UpdateRule, parse_operations
from proposer.proposals import create_proposal
from rules.core.document import Document
from rules.core.validate import leaves
from rules.errors import Problem, RulebookError, suggest
from rules.store.decisions import facts_of

__all__ = ["KEEP_CHANGED", "input_problems", "run_backtest", "submit_proposal"]

KEEP_CHANGED = 20  # changed decisions a backtest result lists (the count is complete)


def input_problems(doc: Document, operations: tuple[Operation, ...]) -> list[Problem]:
    """Each condition an added or updated rule puts on an input the model may not use:
    one the base does not declare, a protected one, or a PII one."""
    usable = [i.name for i in doc.inputs if not (i.protected or i.pii)]
    problems: list[Problem] = []
    for n, op in enumerate(operations):
        if not isinstance(op, AddRule | UpdateRule):
            continue
        for leaf, loc in leaves(op.rule.when, f"operations[{n}].rule.when"):
            spec = doc.input(leaf.input)
            why = None
            if spec is None:
                why = f"the ruleset has no input {leaf.input!r}"
            elif spec.protected:
                why = f"input {leaf.input!r} is protected: no rule may condition on it"
            elif spec.pii:
                why = f"input {leaf.input!r} is personal data (PII): no rule may condition on it"
            if why is not None:
                hint = suggest(leaf.input, usable) if spec is None else None
                problems.append(Problem("RB955", f"{loc}.input", why, hint))
    return problems


def _change(ctx: ToolContext, args: dict[str, Any]) -> tuple[tuple[Operation, ...], Document]:
    operations = parse_operations(args["operations"])
    problems = input_problems(ctx.doc, operations)
    if problems:
        raise Denied("the operations condition on inputs a rule may not use", problems)
    return operations, apply(ctx.doc, operations)


def _scrubbed_changes(ctx: ToolContext, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    facts = facts_of(ctx.session, [int(item["decision_id"]) for item in items])
    view = ctx.view
    also = sorted(
        {*ctx.known_pii(), *(t for one in facts.values() for t in secret_texts(ctx.doc, one or {}))}
    )
    return [view.scrub(item, {}, also) for item in items]


def run_backtest(ctx: ToolContext, args: dict[str, Any]) -> dict[str, Any]:
    _, candidate = _change(ctx, args)
    window = Window.parse(str(args.get("window", "all")))
    report = backtest(
        ctx.session, ctx.ruleset, candidate, base=ctx.base, window=window, keep=KEEP_CHANGED
    ).to_dict()
    listed = report["changed_decisions"]
    listed["items"] = _scrubbed_changes(ctx, listed["items"])
    return untrusted(report)


def _citation_check(ctx: ToolContext, candidate: Document, citations: list[int]) -> dict[str, Any]:
    verdicts = check_citations(ctx.session, ctx.ruleset, ctx.doc, candidate, citations)
    foreign = [
        Problem(
            "RB956",
            f"arguments.citations[{citations.index(v.decision_id)}]",
            f"decision {v.decision_id} is not a decision of ruleset {ctx.ruleset!r}",
        )
        for v in verdicts
        if v.verdict in ("not_found", "other_ruleset")
    ]
    if foreign:
        raise Denied("cite only decisions of this ruleset", foreign)
    if not any(v.verified for v in verdicts):
        found = ", ".join(f"{v.decision_id}: {v.verdict}" for v in verdicts)
        problem = Problem(
            "RB955",
            "arguments.citations",
            f"no cited decision is an exception or override that the change decides as the "
            f"person did ({found}); cite at least one",
        )
        raise Denied(problem.message, [problem])
    return {str(v.decision_id): v.verdict for v in verdicts}


def submit_proposal(ctx: ToolContext, args: dict[str, Any]) -> dict[str, Any]:
    if len(ctx.proposals) >= ctx.proposal_limit:
        problem = Problem(
            "RB954",
            "submit_proposal",
            f"this run already created its {ctx.proposal_limit} proposal(s) (the limit)",
        )
        raise Denied(problem.message, [problem], verdict="limit")
    _, candidate = _change(ctx, args)
    verdicts = _citation_check(ctx, candidate, list(args["citations"]))
    # The system's estimate, when the change is exactly one the frontier offered this run.
    forecast = forecast_for(ctx.frontier, candidate.hash) if ctx.frontier is not None else None
    try:
        with ctx.session.begin_nested():
            record = create_proposal(
                ctx.session,
                ctx.ruleset,
                operations=args["operations"],
                rationale=args["rationale"],
                citations=args["citations"],
                author=ctx.author,
                actor=ctx.actor,
                title=args.get("title"),
                base=ctx.base,
                run=ctx.run_ref(),
                forecast=forecast,
            )
    except RulebookError as exc:
        raise Denied(str(exc).splitlines()[0], exc.problems) from exc
    ctx.proposals.append(record)
    evidence = record.evidence or {}
    report = evidence.get("backtest") or {}
    return {
        "proposal_id": record.id,
        "status": record.status,
        "impact": record.impact,
        "citations": verdicts,
        "backtest": {k: report.get(k) for k in ("cases", "changed", "agreement", "exceptions")},
        "forecast": None if forecast is None else "attached: the frontier's estimate",
        "proposals_left": ctx.proposal_limit - len(ctx.proposals),
    }

"""The read-only tools: ``read_ruleset``, ``query_exceptions`` and ``read_case``.

Each returns a JSON-ready payload built through :mod:`proposer.llm.views` (PII removed,
protected values withheld, case data wrapped as untrusted data), bounded in size.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from proposer.backtest.report import label
from proposer.cases import engine_value, review_output
from proposer.llm.context import Denied, ToolContext
from proposer.llm.views import case_view, document_view, dumps, secret_texts, untrusted
from rules.errors import NotFoundError, Problem
from rules.store.decision_log import LoggedCase, stream_cases
from rules.store.decisions import get_decision

__all__ = ["MAX_RESULT_CHARS", "MAX_SCAN", "query_exceptions", "read_case", "read_ruleset"]

MAX_RESULT_CHARS = 100_000  # a tool result's JSON text; longer pages are cut
MAX_SCAN = 200_000  # exceptions scanned per query (the count says when it stopped early)
NO_RULE = "(none)"


def read_ruleset(ctx: ToolContext, args: dict[str, Any]) -> dict[str, Any]:
    first = int(args.get("first_rule", 0))
    count = int(args.get("max_rules", 100))
    return {"ruleset": document_view(ctx.doc, ctx.base, first, count)}


def _matches(case: LoggedCase, args: dict[str, Any], review: str) -> bool:
    rule_id = args.get("rule_id")
    if rule_id is not None and (
        (rule_id == NO_RULE and case.rule_ids)
        or (rule_id != NO_RULE and rule_id not in case.rule_ids)
    ):
        return False
    status = args.get("status", "any")
    if status == "resolved" and case.resolution is None:
        return False
    if status == "unresolved" and case.resolution is not None:
        return False
    wanted = args.get("resolved_as")
    return wanted is None or (case.resolution is not None and case.resolution.get(review) == wanted)


def _case(ctx: ToolContext, case: LoggedCase, also: list[str]) -> dict[str, Any]:
    return case_view(
        ctx.doc,
        {
            "decision_id": case.decision_id,
            "version": case.version,
            "decided_at": case.decided_at.isoformat(),
            "facts": dict(case.facts),
            "outputs": case.outputs,
            "rule_ids": list(case.rule_ids),
            "exception": case.exception,
            "override": case.override,
            "resolution": None if case.resolution is None else dict(case.resolution),
        },
        also,
    )


def query_exceptions(ctx: ToolContext, args: dict[str, Any]) -> dict[str, Any]:
    page, size = int(args.get("page", 1)), int(args.get("page_size", 20))
    review = review_output(ctx.doc)
    flagged = ctx.doc.review.values if ctx.doc.review is not None else ()
    skip, total, scanned = (page - 1) * size, 0, 0
    page_cases: list[LoggedCase] = []
    transitions: Counter[tuple[str, str]] = Counter()
    for case in stream_cases(ctx.session, ctx.ruleset, exceptions_only=True):
        scanned += 1
        if scanned > MAX_SCAN:
            break
        if not _matches(case, args, review):
            continue
        total += 1
        resolved = "(unresolved)" if case.resolution is None else case.resolution.get(review)
        transitions[label(engine_value(case.outputs, review, flagged)), label(resolved)] += 1
        if skip < total <= skip + size:
            page_cases.append(case)
    also = sorted(
        {*ctx.known_pii(), *(t for c in page_cases for t in secret_texts(ctx.doc, c.facts))}
    )
    cases = [_case(ctx, case, also) for case in page_cases]
    body: dict[str, Any] = {
        "review_output": review,
        "page": page,
        "page_size": size,
        "total": total,
        "pages": -(-total // size),
        "complete": scanned <= MAX_SCAN,
        # Resolved labels of a free-text review output are case data: scrubbed like the cases.
        "by_transition": ctx.view.scrub(
            [{"engine": e, "resolved": r, "cases": n} for (e, r), n in transitions.most_common(50)],
            {},
            also,
        ),
        "cases": cases,
    }
    while len(dumps(body)) > MAX_RESULT_CHARS and body["cases"]:
        body["cases"] = body["cases"][:-1]
        body["truncated"] = True
    return untrusted(body)


def read_case(ctx: ToolContext, args: dict[str, Any]) -> dict[str, Any]:
    decision_id = int(args["decision_id"])
    try:
        record = get_decision(ctx.session, decision_id)
    except NotFoundError:
        record = None
    if record is None or record.ruleset != ctx.ruleset:
        # The same answer for a missing decision and another ruleset's: nothing leaks.
        problem = Problem(
            "RB956",
            "arguments.decision_id",
            f"decision {decision_id} is not a decision of ruleset {ctx.ruleset!r}",
        )
        raise Denied(problem.message, [problem])
    r = record.resolution
    resolution = None
    if r is not None:
        resolution = {
            "outputs": r.outputs,
            "override": r.override,
            "note": r.note,
            "resolved_at": r.resolved_at.isoformat(),
        }
    case = {
        "decision_id": record.id,
        "version": record.version,
        "decided_at": record.decided_at.isoformat(),
        "facts": record.facts,
        "outputs": record.outputs,
        "rule_ids": list(record.rule_ids),
        "matched": list(record.matched),
        "exception": record.exception,
        "error": record.error,
        "resolution": resolution,
    }
    return untrusted(case_view(ctx.doc, case, ctx.known_pii()))

"""A proposal's evidence dossier: everything its page shows, as frozen values built here so
that the templates only lay them out.

:func:`build` takes the proposal and what the record says around it (its base document, the
ruleset's latest and active versions, the facts of the changed decisions on the page shown)
and reads no database itself.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from proposer import AddRule, Operation, ProposalRecord, RemoveRule, UpdateRule
from review_app.pictures import BarChart, Measure
from review_app.proposals.backtest import (
    BacktestView,
    ChangedPage,
    Matrix,
    backtest_view,
    changed_page,
    matrices,
)
from review_app.proposals.evidence import (
    CheckRow,
    Citations,
    ImpactView,
    ScopeView,
    checks,
    citations,
    impact_view,
    scope_view,
)
from review_app.proposals.forecast import ForecastView, forecast_view
from review_app.proposals.ruletext import (
    DiffLine,
    SideRow,
    document_diff,
    document_yaml,
    rule_lines,
    side_by_side,
)
from review_app.proposals.runrecord import RunView, run_view
from review_app.proposals.summary import (
    FrontierView,
    Trade,
    backtest_chart,
    backtest_measures,
    frontier_view,
    trade,
)
from rules.core.document import Document, Rule

__all__ = ["CHANGED_PAGE_SIZE", "Dossier", "RuleChange", "author_kind", "build", "rule_changes"]

CHANGED_PAGE_SIZE = 20


@dataclass(frozen=True, slots=True)
class RuleChange:
    """One operation, shown as the base rule beside the candidate rule. ``kind``: added,
    updated, removed or moved; ``where`` says where the rule sits."""

    kind: str
    rule_id: str
    where: str
    rows: tuple[SideRow, ...]


@dataclass(frozen=True, slots=True)
class Dossier:
    record: ProposalRecord
    author_kind: str
    latest: int
    active: int | None
    stale: bool
    hit_policy: str
    changes: tuple[RuleChange, ...]
    document_yaml: str
    document_json: Mapping[str, Any]
    document_diff: tuple[DiffLine, ...]
    citations: Citations
    backtest: BacktestView | None
    forecast: ForecastView | None
    matrices: tuple[Matrix, ...]
    changed: ChangedPage
    checks: tuple[CheckRow, ...]
    scope: ScopeView | None
    impact: ImpactView | None
    run: RunView | None
    measures: tuple[Measure, ...] = ()
    backtest_chart: BarChart | None = None
    trade: Trade | None = None
    frontier: FrontierView | None = None

    @property
    def approvals_left(self) -> int:
        return max(0, self.record.approvers_needed - len(self.record.approvals))


def author_kind(author: str) -> str:
    """What made the proposal: the baseline proposer, an LLM, or a person."""
    if author == "baseline":
        return "the deterministic (baseline) proposer"
    if author.startswith("llm:"):
        return f"the LLM proposer, model {author[4:]}"
    return "a person"


def _ordinal_place(ids: list[str], position: int) -> str:
    """Where a rule at index ``position`` of ``ids`` (itself included) sits, for people."""
    if len(ids) == 1:
        return "The only rule"
    if position == 0:
        return f"Rule 1 of {len(ids)}, first, before {ids[1]}"
    return f"Rule {position + 1} of {len(ids)}, after {ids[position - 1]}"


def _change(op: Operation, ids: list[str], base: dict[str, Rule]) -> RuleChange:
    """The change ``op`` makes; ``ids`` (the rule order so far) is updated in place."""
    if isinstance(op, AddRule):
        ids.insert(min(op.position, len(ids)), op.rule.id)
        rows = side_by_side([], rule_lines(op.rule))
        return RuleChange("added", op.rule.id, _ordinal_place(ids, ids.index(op.rule.id)), rows)
    old = base.get(op.rule_id)
    old_lines = rule_lines(old) if old is not None else []
    if isinstance(op, UpdateRule):
        at = ids.index(op.rule_id) if op.rule_id in ids else 0
        rows = side_by_side(old_lines, rule_lines(op.rule))
        return RuleChange("updated", op.rule_id, _ordinal_place(ids, at), rows)
    if isinstance(op, RemoveRule):
        if op.rule_id in ids:
            ids.remove(op.rule_id)
        return RuleChange(
            "removed", op.rule_id, "No longer in the rules", side_by_side(old_lines, [])
        )
    before = ids.index(op.rule_id) + 1 if op.rule_id in ids else 0
    if op.rule_id in ids:
        ids.remove(op.rule_id)
    ids.insert(min(op.position, len(ids)), op.rule_id)
    place = _ordinal_place(ids, ids.index(op.rule_id))
    where = f"Moved from rule {before} to {place[:1].lower()}{place[1:]}"
    return RuleChange("moved", op.rule_id, where, side_by_side(old_lines, old_lines))


def rule_changes(base: Document, operations: Sequence[Operation]) -> tuple[RuleChange, ...]:
    """Each operation as the base rule beside the candidate rule, in order."""
    ids = [r.id for r in base.rules]
    rules = {r.id: r for r in base.rules}
    return tuple(_change(op, ids, rules) for op in operations)


def build(
    record: ProposalRecord,
    base: Document,
    *,
    latest: int,
    active: int | None,
    page: int,
    facts_of: Callable[[Sequence[int]], Mapping[int, Mapping[str, Any]]],
    pii_reader: bool,
    run: Sequence[ProposalRecord] = (),
    proposal_url: Callable[[int], str] = lambda n: f"/proposals/{n}",
) -> Dossier:
    """The dossier of ``record`` on its ``base`` document; ``run``: the proposals the
    proposer run that made it made (:func:`proposer.runs.run_of`), for the frontier."""
    found = record.evidence
    return Dossier(
        record=record,
        author_kind=author_kind(record.author),
        latest=latest,
        active=active,
        stale=record.is_open and latest > record.base,
        hit_policy=base.hit_policy,
        changes=rule_changes(base, record.operations),
        document_yaml=document_yaml(record.candidate),
        document_json=record.candidate.to_dict(),
        document_diff=document_diff(base, record.candidate),
        citations=citations(found),
        backtest=backtest_view(found),
        forecast=forecast_view(found),
        matrices=matrices(found, base),
        changed=changed_page(found, page, CHANGED_PAGE_SIZE, facts_of, base, pii_reader),
        checks=checks(found),
        scope=scope_view(found),
        impact=impact_view(found, record.impact),
        run=run_view(record.run),
        measures=backtest_measures(found),
        backtest_chart=backtest_chart(found),
        trade=trade(found),
        frontier=frontier_view(record, run, proposal_url),
    )

"""``rulebook proposals list|show``: proposals with their evidence (DESIGN §5).

Accepting and rejecting are review steps, taken in the review app by a signed-in approver
(four eyes), so the command line only reads.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

import click

from proposer.choice import points
from proposer.commands.backtest import backtest_lines
from proposer.commands.propose import summary_lines
from proposer.evidence import IMPACTS
from proposer.proposals import get_proposal, list_proposals
from proposer.records import ProposalRecord
from rules.cli.service import Cli, service_command, when
from rules.store.models import PROPOSAL_STATUSES

__all__ = ["proposals"]

LISTED = 20  # changed decisions printed by ``show`` (``--json`` has all the evidence holds)


@click.group("proposals")
def proposals() -> None:
    """List proposals, or show one with its evidence."""


@proposals.command("list")
@click.option("--ruleset", help="Only proposals for this ruleset.")
@click.option("--status", type=click.Choice(PROPOSAL_STATUSES), help="Only with this status.")
@click.option("--author", help="Only by this author (baseline, llm:<model>, a user).")
@click.option("--impact", type=click.Choice(IMPACTS), help="Only of this impact class.")
@click.option("--limit", type=click.IntRange(1, 1000), default=50, show_default=True)
@click.option("--offset", type=click.IntRange(0), default=0, show_default=True)
@service_command
def list_(
    cli: Cli,
    ruleset: str | None,
    status: str | None,
    author: str | None,
    impact: str | None,
    limit: int,
    offset: int,
) -> None:
    """List proposals, newest first."""
    with cli.session() as session:
        found = list_proposals(
            session,
            ruleset=ruleset,
            status=status,
            author=author,
            impact=impact,
            limit=limit,
            offset=offset,
        )
    lines = [line for record in found for line in summary_lines(record)]
    data = {"proposals": [_brief(r) for r in found], "limit": limit, "offset": offset}
    cli.emit(data, lines or ["no proposals"])


def _brief(record: ProposalRecord) -> dict[str, Any]:
    """A list entry: the record without its candidate document and full evidence."""
    out = record.to_dict()
    del out["candidate"]
    evidence = out.pop("evidence") or {}
    out["summary"] = {
        "citations": {k: v for k, v in evidence.get("citations", {}).items() if k != "verdicts"},
        "impact": evidence.get("impact"),
        "changed": evidence.get("backtest", {}).get("changed"),
        "agreement": evidence.get("backtest", {}).get("agreement"),
        "forecast": _expected(evidence.get("forecast")),
    }
    return out


def _expected(forecast: Any) -> dict[str, Any] | None:
    """The forecast's expected figures and ranges, for a list entry."""
    if not isinstance(forecast, Mapping) or forecast.get("kind") != "out_of_sample_estimate":
        return None
    return {k: forecast[k] for k in ("method", "automation_points", "agreement_points")}


def _block(title: str, data: Any) -> Iterator[str]:
    yield f"{title}:"
    for line in json.dumps(data, indent=2, ensure_ascii=False).splitlines():
        yield f"  {line}"


def _verdicts(verdicts: list[Mapping[str, Any]]) -> Iterator[str]:
    """Citations grouped by verdict: each verdict with its explanation and decision ids."""
    groups: dict[str, list[Mapping[str, Any]]] = {}
    for v in verdicts:
        groups.setdefault(v["verdict"], []).append(v)
    for name, items in groups.items():
        yield f"  {name} ({len(items)}): {items[0]['explanation']}"
        yield f"    decisions {', '.join(str(v['decision_id']) for v in items)}"


def _evidence_lines(evidence: Mapping[str, Any]) -> Iterator[str]:
    cited = evidence["citations"]
    yield f"citations ({cited['verified']} of {cited['total']} verified):"
    yield from _verdicts(cited["verdicts"])
    impact = evidence["impact"]
    yield f"impact: {impact['level']}"
    yield from (f"  {r['code']}: {r['message']}" for r in impact["reasons"])
    yield "backtest (fitted: measured on the decisions the change was made from):"
    yield from backtest_lines(evidence["backtest"], LISTED)
    yield from _forecast_lines(evidence.get("forecast"))
    yield "static checks:"
    yield from (f"  {p['code']} {p['location']}: {p['message']}" for p in evidence["checks"])
    if not evidence["checks"]:
        yield "  none"
    scope = evidence["scope"]
    yield f"scope: rules {', '.join(scope['rules']) or '-'}; inputs {', '.join(scope['inputs'])}"


def _forecast_lines(forecast: Any) -> Iterator[str]:
    """The out-of-sample estimate, labelled as one, beside the backtest."""
    if not isinstance(forecast, Mapping) or forecast.get("kind") != "out_of_sample_estimate":
        yield "forecast: none (an estimate exists only for a change the deterministic proposer"
        yield "  learned as it stands; the backtest above is in sample)"
        return
    yield f"forecast (an out-of-sample estimate, not a measurement; {forecast['method']}):"
    for name in ("automation_points", "agreement_points"):
        e = forecast[name]
        label = name.replace("_points", "")
        yield (
            f"  {label:<11} expected {points(e['expected'], 2)} pts, "
            f"{forecast['level']:.0%} range {points(e['low'], 2)} to {points(e['high'], 2)}"
        )
    for n, fold in enumerate(forecast.get("folds", []), start=1):
        fit, measured = fold["fit"], fold["measured"]
        yield (
            f"  fold {n}: learned on {fold['learned_on']:,}, fit {points(fit['automation_points'])}"
            f" / {points(fit['agreement_points'], 2)}; measured on {fold['measured_on']:,}: "
            f"{points(measured['automation_points'])} / {points(measured['agreement_points'], 2)}"
        )


def _show_lines(record: ProposalRecord) -> Iterator[str]:
    yield f"proposal #{record.id}: {record.title}"
    yield f"  ruleset {record.ruleset}, base version {record.base}, status {record.status}"
    yield f"  author {record.author}, created {when(record.created_at)}"
    yield f"  editors {', '.join(record.editors) or '-'}; submitted by {record.submitted_by or '-'}"
    approvals = ", ".join(f"{a.approver} ({when(a.approved_at)})" for a in record.approvals)
    yield f"  approvals {approvals or '-'} (needs {record.approvers_needed})"
    if record.decided_by:
        yield f"  decided by {record.decided_by}: {record.decision_note or ''}"
    if record.accepted_number is not None:
        yield f"  accepted as version {record.accepted_number}"
    yield f"  candidate sha256 {record.candidate_hash}"
    yield "rationale:"
    yield f"  {record.rationale}"
    yield from _block("operations", [op.to_dict() for op in record.operations])
    if record.evidence:
        yield from _evidence_lines(record.evidence)
    if record.run:
        yield from _block("run", record.run)


@proposals.command("show")
@click.argument("proposal_id", metavar="ID", type=int)
@service_command
def show(cli: Cli, proposal_id: int) -> None:
    """Show proposal ID in full: operations, candidate, rationale, evidence, review."""
    with cli.session() as session:
        record = get_proposal(session, proposal_id)
    cli.emit(record.to_dict(), list(_show_lines(record)))

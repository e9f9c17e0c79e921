"""Revising an open proposal: editing its change, or rebasing it on the latest version.

Both remake the candidate and its evidence (the slow part, run before any lock is taken),
then lock the ruleset row and the proposal row (:func:`proposer.records.lock_proposal`),
refuse if the proposal changed meanwhile, clear the approvals given to what was there
before, and append ``proposal.edited`` or ``proposal.rebased``.
"""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from proposer.drafting import (
    MAX_ACTOR,
    MAX_RATIONALE,
    MAX_TITLE,
    Draft,
    draft,
    text_field,
    window_of,
)
from proposer.errors import InvalidProposalError, ProposalStateError, RebaseError
from proposer.evidence import ImpactThresholds
from proposer.records import (
    ProposalRecord,
    event_payload,
    lock_proposal,
    read_proposal,
    require_open,
    store_candidate,
    to_records,
)
from rules import audit
from rules.errors import Problem
from rules.store.models import Proposal, ProposalApproval, utcnow
from rules.store.versions import get_ruleset

__all__ = ["edit_proposal", "rebase_proposal"]


def _relock(session: Session, proposal_id: int, seen: Proposal, step: str) -> Proposal:
    """The row locked, refused unless it is still open and as it was when first read."""
    before = (seen.status, seen.base_number, seen.candidate_hash, seen.updated_at)
    row, _ = lock_proposal(session, proposal_id)
    require_open(row, step)
    if (row.status, row.base_number, row.candidate_hash, row.updated_at) != before:
        raise ProposalStateError(
            f"proposal {proposal_id} changed while it was being {step}; reload it and try again",
            [Problem("RB943", "updated_at", "the proposal was changed by someone else")],
        )
    return row


def _clear_approvals(session: Session, proposal_id: int) -> list[str]:
    cleared = list(
        session.scalars(
            select(ProposalApproval.approver)
            .where(ProposalApproval.proposal_id == proposal_id)
            .order_by(ProposalApproval.id)
        )
    )
    if cleared:
        session.execute(delete(ProposalApproval).where(ProposalApproval.proposal_id == proposal_id))
    return cleared


def _record(session: Session, row: Proposal, name: str) -> ProposalRecord:
    return to_records(session, [(row, name)])[0]


def edit_proposal(
    session: Session,
    proposal_id: int,
    *,
    operations: object,
    rationale: object,
    citations: object,
    editor: str,
    title: str | None = None,
    thresholds: ImpactThresholds | None = None,
) -> ProposalRecord:
    """Replace an open proposal's operations, rationale and citations (and title, if given);
    the candidate is remade on the same base with fresh evidence, ``editor`` joins the
    editors, and approvals already given are cleared."""
    seen, name = read_proposal(session, proposal_id)
    require_open(seen, "edited")
    problems: list[Problem] = []
    text_field(editor, "editor", problems, limit=MAX_ACTOR)
    text_field(rationale, "rationale", problems, limit=MAX_RATIONALE)
    text_field(title, "title", problems, limit=MAX_TITLE, required=False)
    found = draft(
        session,
        name,
        operations,
        citations,
        base=seen.base_number,
        window=window_of(seen.evidence),
        thresholds=thresholds,
        problems=problems,
    )
    row = _relock(session, proposal_id, seen, "edited")
    audit.lock_head(session)
    cleared = _clear_approvals(session, proposal_id)
    store_candidate(row, found)
    row.rationale = str(rationale)
    row.title = title or row.title
    row.editors = list(dict.fromkeys([*row.editors, editor]))
    row.updated_at = utcnow()
    session.flush()
    payload = event_payload(row, name, editor=editor, approvals_cleared=cleared)
    audit.append(session, editor, "proposal.edited", f"proposal:{row.id}", payload)
    return _record(session, row, name)


def _redraft(
    session: Session, seen: Proposal, name: str, thresholds: ImpactThresholds | None
) -> Draft:
    """The proposal's operations and citations drafted anew on the latest version."""
    latest = get_ruleset(session, name).latest_number
    try:
        return draft(
            session,
            name,
            list(seen.operations),
            list(seen.citations),
            base=latest,
            window=window_of(seen.evidence),
            thresholds=thresholds,
        )
    except InvalidProposalError as exc:
        raise RebaseError(
            f"proposal {seen.id} cannot be rebased on version {latest} of {name}: "
            f"{str(exc).splitlines()[0]}; edit its operations",
            exc.problems,
        ) from exc


def rebase_proposal(
    session: Session,
    proposal_id: int,
    *,
    actor: str,
    thresholds: ImpactThresholds | None = None,
) -> ProposalRecord:
    """Re-apply an open proposal's operations to the ruleset's latest version, with fresh
    evidence; approvals already given are cleared. RebaseError, with the problems located
    in the operations, when they no longer apply (e.g. the rule they update is gone)."""
    seen, name = read_proposal(session, proposal_id)
    require_open(seen, "rebased")
    problems: list[Problem] = []
    text_field(actor, "actor", problems, limit=MAX_ACTOR)
    if problems:
        raise InvalidProposalError("the rebase is not valid", problems)
    found = _redraft(session, seen, name, thresholds)
    row = _relock(session, proposal_id, seen, "rebased")
    audit.lock_head(session)
    cleared = _clear_approvals(session, proposal_id)
    old = row.base_number
    store_candidate(row, found)
    row.updated_at = utcnow()
    session.flush()
    payload = event_payload(row, name, previous_base=old, approvals_cleared=cleared)
    audit.append(session, actor, "proposal.rebased", f"proposal:{row.id}", payload)
    return _record(session, row, name)

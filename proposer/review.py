"""Review: accepting a proposal into a new version, under four eyes, or rejecting it (DESIGN §6).

Four eyes: nobody who took part in a proposal (its author, an editor, the person who
submitted it) may approve it; for a machine author (``baseline``, ``llm:<model>``) the person
who submitted or edited it is the one who counts. Only a submitted proposal is approved, so a
person other than the approver has always put their name to it. A low-impact proposal is
accepted by one approver; a high-impact one (or one with no impact class) needs two different
approvers: the first approval is recorded (``proposal.approved``) and the proposal stays open,
the second accepts. Accepting creates the next version (:func:`rules.store.versions.create_version`)
and does not activate it. A proposal whose base is no longer the latest version must be
rebased first (ConflictError): nothing is recorded for it until then. A proposal whose
candidate fails any of the ruleset's test scenarios (run again at the moment of approval) is
refused, naming each failing scenario, until the scenario is changed through the review
(:mod:`rules.store.scenarios`: recorded, attributed, shown in the dossier) or the proposal is.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from proposer.drafting import MAX_ACTOR, MAX_NOTE, text_field
from proposer.errors import (
    FourEyesError,
    InvalidProposalError,
    ProposalStateError,
)
from proposer.records import OPEN, ProposalRecord, event_payload, lock_proposal, to_records
from rules import audit
from rules.errors import ConflictError, Problem
from rules.store.models import Proposal, ProposalApproval, utcnow
from rules.store.scenarios import run_ruleset_scenarios
from rules.store.versions import create_version, get_ruleset

__all__ = ["accept_proposal", "reject_proposal"]


def _check_fields(**fields: tuple[object, int, bool]) -> None:
    problems: list[Problem] = []
    for name, (value, limit, required) in fields.items():
        text_field(value, name, problems, limit=limit, required=required)
    if problems:
        raise InvalidProposalError("the review is not valid", problems)


def _four_eyes(record: ProposalRecord, approver: str) -> None:
    if approver in record.participants:
        role = (
            "authored"
            if approver == record.author
            else "submitted"
            if approver == record.submitted_by
            else "edited"
        )
        raise FourEyesError(
            f"{approver} {role} proposal {record.id} and so may not approve it (four eyes); "
            "another approver must review it",
            [Problem("RB944", "approver", f"{approver} took part in this proposal")],
        )
    if any(a.approver == approver for a in record.approvals):
        raise FourEyesError(
            f"{approver} has already approved proposal {record.id}; it is high impact and "
            "needs a second, different approver",
            [Problem("RB944", "approver", f"{approver} approved it already")],
        )


def _require_submitted(row: Proposal) -> None:
    if row.status != "submitted":
        hint = "submit it first" if row.status == "draft" else "it is no longer open"
        raise ProposalStateError(
            f"proposal {row.id} is {row.status}; only a submitted proposal can be accepted "
            f"({hint})",
            [Problem("RB943", "status", f"the proposal is {row.status}")],
        )


def _require_latest_base(session: Session, row: Proposal, name: str) -> None:
    latest = get_ruleset(session, name).latest_number
    if latest != row.base_number:
        raise ConflictError(
            f"proposal {row.id} is based on version {row.base_number} but {name} is at "
            f"version {latest}: rebase it (fresh evidence) and have it approved again"
        )


def _require_scenarios(session: Session, record: ProposalRecord) -> None:
    failed = [
        o
        for o in run_ruleset_scenarios(session, record.ruleset, doc=record.candidate)
        if not o.passed
    ]
    if failed:
        raise ProposalStateError(
            f"proposal {record.id} fails {len(failed)} test scenario(s) of {record.ruleset} "
            f"({', '.join(o.id for o in failed)}): it cannot be accepted until the scenario is "
            "changed through the review (its change is recorded and shown here) or the "
            "proposal is edited",
            [Problem("RB945", f"scenarios.{o.id}", str(o)) for o in failed],
        )


def _accept(
    session: Session, row: Proposal, name: str, record: ProposalRecord, approvers: list[str]
) -> None:
    """Create the next version from the candidate and mark the proposal accepted."""
    approver, note = approvers[-1], row.decision_note
    version = create_version(
        session, name, record.candidate, base=row.base_number, actor=approver, proposal_id=row.id
    )
    row.status = "accepted"
    row.accepted_number = version.number
    row.decided_by, row.decided_at = approver, row.updated_at
    session.flush()
    payload = event_payload(row, name, version=version.number, approvers=approvers, note=note)
    audit.append(session, approver, "proposal.accepted", f"proposal:{row.id}", payload)


def accept_proposal(
    session: Session, proposal_id: int, *, approver: str, note: str | None = None
) -> ProposalRecord:
    """Approve a submitted proposal; with enough distinct approvers, accept it into the next
    version (not activated). Returns the proposal as it now stands: ``status`` is
    ``accepted`` and ``accepted_number`` the new version, or it is still ``submitted`` with
    one approval more when a second approver is needed."""
    _check_fields(approver=(approver, MAX_ACTOR, True), note=(note, MAX_NOTE, False))
    row, name = lock_proposal(session, proposal_id)
    _require_submitted(row)
    record = to_records(session, [(row, name)])[0]
    _four_eyes(record, approver)
    _require_latest_base(session, row, name)
    _require_scenarios(session, record)
    audit.lock_head(session)
    row.updated_at = utcnow()
    session.add(
        ProposalApproval(
            proposal_id=row.id, approver=approver, note=note, approved_at=row.updated_at
        )
    )
    approvers = [*(a.approver for a in record.approvals), approver]
    if len(approvers) >= record.approvers_needed:
        row.decision_note = note
        _accept(session, row, name, record, approvers)
    else:
        session.flush()
        payload = event_payload(
            row,
            name,
            approver=approver,
            note=note,
            approvals=len(approvers),
            needed=record.approvers_needed,
        )
        audit.append(session, approver, "proposal.approved", f"proposal:{row.id}", payload)
    return to_records(session, [(row, name)])[0]


def reject_proposal(
    session: Session, proposal_id: int, *, actor: str, reason: str
) -> ProposalRecord:
    """Reject an open proposal; ``reason`` is required and kept as its decision note."""
    _check_fields(actor=(actor, MAX_ACTOR, True), reason=(reason, MAX_NOTE, True))
    row, name = lock_proposal(session, proposal_id)
    if row.status not in OPEN:
        raise ProposalStateError(
            f"proposal {proposal_id} is {row.status}; only a draft or submitted proposal can "
            "be rejected",
            [Problem("RB943", "status", f"the proposal is {row.status}")],
        )
    audit.lock_head(session)
    row.status = "rejected"
    row.decided_by, row.decided_at, row.decision_note = actor, utcnow(), reason
    row.updated_at = row.decided_at
    session.flush()
    payload = event_payload(row, name, reason=reason)
    audit.append(session, actor, "proposal.rejected", f"proposal:{row.id}", payload)
    return to_records(session, [(row, name)])[0]

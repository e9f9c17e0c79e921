"""Proposal rows as the rest of the system sees them: frozen :class:`ProposalRecord`\\ s, and
the row access the proposal service and review share (reading, locking, audit payloads).

The proposer owns the ``proposals`` and ``proposal_approvals`` tables (and ``llm_runs``);
their rows never leave the proposer package. Who submitted a proposal is recorded on it
(``submitted_by``, which the four-eyes rule reads); audit verification checks it against the
``proposal.submitted`` event. Other tables are reached through the store's services.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from proposer.drafting import Draft
from proposer.errors import ProposalNotFoundError, ProposalStateError
from proposer.operations import Operation, parse_operations
from rules.audit.verify.proposals import proposal_state
from rules.core.document import Document, canonical_json, parse_document
from rules.errors import Problem
from rules.store.models import Proposal, ProposalApproval, Ruleset
from rules.store.versions import lock_ruleset

__all__ = [
    "OPEN",
    "Approval",
    "ProposalRecord",
    "event_payload",
    "lock_proposal",
    "read_proposal",
    "require_open",
    "store_candidate",
    "to_records",
]

OPEN = ("draft", "submitted")  # statuses in which a proposal can still change


@dataclass(frozen=True, slots=True)
class Approval:
    approver: str
    note: str | None
    approved_at: datetime

    def to_dict(self) -> dict[str, Any]:
        return {"approver": self.approver, "note": self.note, "approved_at": _iso(self.approved_at)}


@dataclass(frozen=True, slots=True)
class ProposalRecord:
    """A proposal: its change, the author's rationale and citations, and what the system
    attached (``evidence``, ``impact``); ``run`` is a proposer's run record, if any."""

    id: int
    ruleset: str
    base: int
    status: str
    author: str
    title: str
    rationale: str
    operations: tuple[Operation, ...]
    candidate: Document
    candidate_hash: str
    citations: tuple[int, ...]
    evidence: Mapping[str, Any] | None
    impact: str | None
    run: Mapping[str, Any] | None
    editors: tuple[str, ...]
    submitted_by: str | None
    approvals: tuple[Approval, ...]
    created_at: datetime
    updated_at: datetime
    decided_by: str | None
    decided_at: datetime | None
    decision_note: str | None
    accepted_number: int | None

    @property
    def is_open(self) -> bool:
        return self.status in OPEN

    @property
    def participants(self) -> tuple[str, ...]:
        """Who took part in making it: its author, editors and submitter. None of them may
        approve it (four eyes)."""
        found = [self.author, *self.editors]
        if self.submitted_by is not None:
            found.append(self.submitted_by)
        return tuple(dict.fromkeys(found))

    @property
    def approvers_needed(self) -> int:
        """Distinct approvers acceptance takes: two unless the impact is known to be low."""
        return 1 if self.impact == "low" else 2

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "ruleset": self.ruleset,
            "base": self.base,
            "status": self.status,
            "author": self.author,
            "title": self.title,
            "rationale": self.rationale,
            "operations": [op.to_dict() for op in self.operations],
            "candidate": self.candidate.to_dict(),
            "candidate_hash": self.candidate_hash,
            "citations": list(self.citations),
            "evidence": None if self.evidence is None else dict(self.evidence),
            "impact": self.impact,
            "approvers_needed": self.approvers_needed,
            "run": None if self.run is None else dict(self.run),
            "editors": list(self.editors),
            "submitted_by": self.submitted_by,
            "approvals": [a.to_dict() for a in self.approvals],
            "created_at": _iso(self.created_at),
            "updated_at": _iso(self.updated_at),
            "decided_by": self.decided_by,
            "decided_at": None if self.decided_at is None else _iso(self.decided_at),
            "decision_note": self.decision_note,
            "accepted_version": self.accepted_number,
        }


def _iso(at: datetime) -> str:
    return at.isoformat()


def read_proposal(session: Session, proposal_id: int) -> tuple[Proposal, str]:
    """The row and its ruleset's name; ProposalNotFoundError if there is none."""
    found = session.execute(
        select(Proposal, Ruleset.name)
        .join(Ruleset, Ruleset.id == Proposal.ruleset_id)
        .where(Proposal.id == proposal_id)
    ).one_or_none()
    if found is None:
        raise ProposalNotFoundError(f"there is no proposal {proposal_id}")
    return found[0], str(found[1])


def lock_proposal(session: Session, proposal_id: int) -> tuple[Proposal, str]:
    """The row, locked in the order version writers use: its ruleset's row
    (:func:`rules.store.versions.lock_ruleset`), then the proposal's row. The caller then
    locks the audit head (:func:`rules.audit.lock_head`) before writing."""
    _, name = read_proposal(session, proposal_id)
    lock_ruleset(session, name)
    locked = session.scalar(
        select(Proposal)
        .where(Proposal.id == proposal_id)
        .with_for_update(key_share=True)
        .execution_options(populate_existing=True)
    )
    if locked is None:  # pragma: no cover - nothing deletes proposals
        raise ProposalNotFoundError(f"there is no proposal {proposal_id}")
    return locked, name


def require_open(row: Proposal, step: str) -> None:
    """ProposalStateError unless the proposal is a draft or submitted."""
    if row.status not in OPEN:
        raise ProposalStateError(
            f"proposal {row.id} is {row.status}: only a draft or submitted proposal can be {step}",
            [Problem("RB943", "status", f"the proposal is {row.status}")],
        )


def store_candidate(row: Proposal, found: Draft) -> None:
    """Write a draft's base, operations, candidate, citations, evidence and impact to ``row``."""
    row.base_number = found.base
    row.operations = [op.to_dict() for op in found.operations]
    row.candidate = found.candidate.canonical_json().decode("utf-8")
    row.candidate_hash = found.candidate.hash
    row.citations = list(found.citations)
    evidence = found.evidence.to_dict()
    row.evidence = evidence
    row.impact = evidence["impact"]["level"]


def event_payload(row: Proposal, ruleset: str, **extra: Any) -> dict[str, Any]:
    """An audit payload naming the proposal's state after the change (what
    :mod:`rules.audit.verify.proposals` vouches for), plus ``extra``."""
    return {**proposal_state(row, ruleset), **extra}


def _approvals(session: Session, ids: Sequence[int]) -> dict[int, list[Approval]]:
    found: dict[int, list[Approval]] = {i: [] for i in ids}
    if not ids:
        return found
    rows = session.scalars(
        select(ProposalApproval)
        .where(ProposalApproval.proposal_id.in_(ids))
        .order_by(ProposalApproval.id)
    )
    for a in rows:
        found[a.proposal_id].append(Approval(a.approver, a.note, a.approved_at))
    return found


def to_records(session: Session, rows: Sequence[tuple[Proposal, str]]) -> list[ProposalRecord]:
    """Records of ``(row, ruleset name)`` pairs, with their approvals (one query)."""
    approvals = _approvals(session, [row.id for row, _ in rows])
    return [_record(row, name, approvals[row.id]) for row, name in rows]


def _record(row: Proposal, name: str, approvals: list[Approval]) -> ProposalRecord:
    return ProposalRecord(
        id=row.id,
        ruleset=name,
        base=row.base_number,
        status=row.status,
        author=row.author,
        title=row.title,
        rationale=row.rationale,
        # Canonical key order: PostgreSQL's JSONB does not keep the order a rule's
        # ``then`` was written in, so both backends read the same operations back.
        operations=parse_operations(json.loads(canonical_json(row.operations))),
        candidate=parse_document(json.loads(row.candidate)),
        candidate_hash=row.candidate_hash,
        citations=tuple(int(c) for c in row.citations),
        evidence=row.evidence,
        impact=row.impact,
        run=row.run,
        editors=tuple(str(e) for e in row.editors),
        submitted_by=row.submitted_by,
        approvals=tuple(approvals),
        created_at=row.created_at,
        updated_at=row.updated_at,
        decided_by=row.decided_by,
        decided_at=row.decided_at,
        decision_note=row.decision_note,
        accepted_number=row.accepted_number,
    )

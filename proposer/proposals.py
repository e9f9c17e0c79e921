"""The proposal service (DESIGN §5, §6): create, read, edit, submit and rebase proposals;
accept and reject them (:mod:`proposer.review`, re-exported here).

A proposal's life::

    create ──> draft ──submit──> submitted ──accept (1 or 2 approvers)──> accepted
                 │  edit, rebase     │  edit, rebase                         (a new version)
                 └──────reject───────┴──reject──> rejected

Every change runs in the caller's transaction, writes its row and appends its audit event
(``proposal.created``, ``.edited``, ``.submitted``, ``.rebased``, ``.approved``, ``.accepted``,
``.rejected``; subject ``proposal:<id>``) or writes nothing. Evidence is always the system's:
:func:`proposer.drafting.draft` computes it whenever the candidate is made or remade, and an
edit or rebase clears the approvals given to what was there before.

Locks follow :mod:`rules.store.versions`: the ruleset row, then the proposal row, then the audit
head. The slow part (the backtest) runs before any lock is taken; the row is then checked to be
unchanged since it was read.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from proposer.backtest import Window
from proposer.drafting import (
    MAX_ACTOR,
    MAX_RATIONALE,
    MAX_TITLE,
    Draft,
    default_title,
    draft,
    text_field,
)
from proposer.errors import InvalidProposalError, ProposalStateError
from proposer.evidence import IMPACTS, ImpactThresholds
from proposer.records import (
    OPEN,
    ProposalRecord,
    event_payload,
    lock_proposal,
    read_proposal,
    store_candidate,
    to_records,
)
from proposer.review import accept_proposal, reject_proposal
from proposer.revise import edit_proposal, rebase_proposal
from rules import audit
from rules.errors import Problem, suggest
from rules.store import versions
from rules.store.models import PROPOSAL_STATUSES, Proposal, Ruleset, utcnow
from rules.store.versions import get_ruleset

__all__ = [
    "MAX_LIST",
    "accept_proposal",
    "create_proposal",
    "edit_proposal",
    "get_proposal",
    "list_proposals",
    "open_duplicate",
    "rebase_proposal",
    "record_draft",
    "reject_proposal",
    "submit_proposal",
]

MAX_LIST = 1000


def _window(window: Window | str | None) -> Window | None:
    return Window.parse(window) if isinstance(window, str) else window


def _run_problems(run: object) -> list[Problem]:
    if run is None or isinstance(run, Mapping):
        return []
    return [Problem("RB940", "run", "a run record is a mapping (JSON object), or omitted")]


def create_proposal(
    session: Session,
    name: str,
    *,
    operations: object,
    rationale: object,
    citations: object,
    author: str,
    actor: str,
    title: str | None = None,
    base: int | None = None,
    run: Mapping[str, Any] | None = None,
    window: Window | str | None = None,
    thresholds: ImpactThresholds | None = None,
    forecast: Mapping[str, Any] | None = None,
) -> ProposalRecord:
    """A draft proposal of ``operations`` to version ``base`` (default: the latest) of ruleset
    ``name``, with the system's evidence; InvalidProposalError (nothing written) listing
    every problem with the input, NotFoundError for an unknown ruleset or version.
    ``forecast`` is the system's out-of-sample estimate of exactly this change (the LLM
    gateway passes the deterministic proposer's when a model submits one of its changes);
    never an author's claim."""
    problems: list[Problem] = []
    text_field(author, "author", problems, limit=MAX_ACTOR)
    text_field(actor, "actor", problems, limit=MAX_ACTOR)
    text_field(rationale, "rationale", problems, limit=MAX_RATIONALE)
    text_field(title, "title", problems, limit=MAX_TITLE, required=False)
    problems += _run_problems(run)
    found = draft(
        session,
        name,
        operations,
        citations,
        base=base,
        window=_window(window),
        thresholds=thresholds,
        problems=problems,
        forecast=forecast,
    )
    return record_draft(
        session, found, rationale=str(rationale), author=author, actor=actor, title=title, run=run
    )


def record_draft(
    session: Session,
    found: Draft,
    *,
    rationale: str,
    author: str,
    actor: str,
    title: str | None = None,
    run: Mapping[str, Any] | None = None,
) -> ProposalRecord:
    """Insert a checked draft as a ``draft`` proposal and append ``proposal.created``
    (the fields were checked by the caller, as :func:`create_proposal` does)."""
    ruleset_id = versions.ruleset_id(session, found.ruleset)
    audit.lock_head(session)
    now = utcnow()
    row = Proposal(
        ruleset_id=ruleset_id,
        base_number=found.base,
        status="draft",
        author=author,
        title=title or default_title(found.base_doc, found.operations),
        rationale=rationale,
        editors=[],
        run=None if run is None else dict(run),
        created_at=now,
        updated_at=now,
    )
    store_candidate(row, found)
    session.add(row)
    session.flush()
    payload = event_payload(
        row,
        found.ruleset,
        author=author,
        operations=len(found.operations),
        citations=len(found.citations),
    )
    audit.append(session, actor, "proposal.created", f"proposal:{row.id}", payload)
    return get_proposal(session, row.id)


def get_proposal(session: Session, proposal_id: int) -> ProposalRecord:
    """The proposal with that id; ProposalNotFoundError if there is none."""
    return to_records(session, [read_proposal(session, proposal_id)])[0]


def _choice(
    value: str | None, field: str, choices: tuple[str, ...], problems: list[Problem]
) -> None:
    if value is not None and value not in choices:
        problems.append(
            Problem(
                "RB940",
                field,
                f"{value!r} is not a {field}; one of {', '.join(choices)}",
                suggest(value, choices),
            )
        )


def list_proposals(
    session: Session,
    *,
    ruleset: str | None = None,
    status: str | None = None,
    author: str | None = None,
    impact: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> list[ProposalRecord]:
    """Proposals matching every filter given, newest first."""
    problems: list[Problem] = []
    _choice(status, "status", PROPOSAL_STATUSES, problems)
    _choice(impact, "impact", IMPACTS, problems)
    if not 1 <= limit <= MAX_LIST:
        problems.append(Problem("RB940", "limit", f"give a limit from 1 to {MAX_LIST}"))
    if offset < 0:
        problems.append(Problem("RB940", "offset", "give an offset from 0 up"))
    if problems:
        raise InvalidProposalError("the proposal filters are not valid", problems)
    query = select(Proposal, Ruleset.name).join(Ruleset, Ruleset.id == Proposal.ruleset_id)
    if ruleset is not None:
        get_ruleset(session, ruleset)  # NotFoundError with a suggestion
        query = query.where(Ruleset.name == ruleset)
    if status is not None:
        query = query.where(Proposal.status == status)
    if author is not None:
        query = query.where(Proposal.author == author)
    if impact is not None:
        query = query.where(Proposal.impact == impact)
    rows = session.execute(query.order_by(Proposal.id.desc()).limit(limit).offset(offset))
    return to_records(session, [(row[0], str(row[1])) for row in rows])


def open_duplicate(session: Session, name: str, candidate_hash: str) -> int | None:
    """The id of an open proposal of ruleset ``name`` with this candidate, if there is one."""
    return session.scalar(
        select(Proposal.id)
        .join(Ruleset, Ruleset.id == Proposal.ruleset_id)
        .where(
            Ruleset.name == name,
            Proposal.candidate_hash == candidate_hash,
            Proposal.status.in_(OPEN),
        )
        .order_by(Proposal.id)
        .limit(1)
    )


def submit_proposal(session: Session, proposal_id: int, actor: str) -> ProposalRecord:
    """Submit a draft for review (``actor`` then may not approve it)."""
    problems: list[Problem] = []
    text_field(actor, "actor", problems, limit=MAX_ACTOR)
    if problems:
        raise InvalidProposalError("the submission is not valid", problems)
    row, name = lock_proposal(session, proposal_id)
    if row.status != "draft":
        raise ProposalStateError(
            f"proposal {proposal_id} is {row.status}; only a draft can be submitted",
            [Problem("RB943", "status", f"the proposal is {row.status}")],
        )
    audit.lock_head(session)
    row.status = "submitted"
    row.submitted_by = actor
    row.updated_at = utcnow()
    session.flush()
    payload = event_payload(row, name)
    audit.append(session, actor, "proposal.submitted", f"proposal:{row.id}", payload)
    return get_proposal(session, proposal_id)

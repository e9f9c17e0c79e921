"""What the proposal events vouch for (DESIGN §5, §6): each proposal's reviewed content.

Every event about a proposal (``proposal.created``, ``.edited``, ``.submitted``,
``.approved``, ``.accepted``, ``.rejected``, ``.rebased``) records the proposal's state after
the change (:func:`proposal_state`): status, base version, candidate hash, impact class, the
accepted version, and a ``digest`` of everything a reviewer relied on: title, author,
rationale, operations, citations, the system's evidence, the LLM run record and the editors.
:class:`Proposals` checks, when the walk of the chain is complete:

- every ``proposals`` row has a ``proposal.created`` event, and its current state and digest
  are those its last event recorded (an evidence figure or an impact class altered in the
  table is found at that event); the candidate document still hashes to its hash;
- every event's proposal still exists (a deleted proposal is found at its last event);
- the ``proposal_approvals`` rows are the approvals recorded since the proposal last changed;
- ``proposals.submitted_by`` is the actor of its ``proposal.submitted`` event (none without
  one): the four-eyes rule reads it there;
- a ``proposal.accepted`` event's version exists and names the proposal as its source;
- an ``llm.run`` event's ``llm_runs`` row still has the status and the record (its SHA-256)
  the event recorded, and every finished run has such an event (:class:`Runs`).

The proposer writes the rows and events; this module is the one definition of the state both
sides compare, so ``rules`` never imports ``proposer``.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from rules.audit.chain import FORMAT
from rules.audit.legacy import digest_json, event_json
from rules.core.document import canonical_json
from rules.store.models import LlmRun, Proposal, ProposalApproval, Ruleset, Version

__all__ = [
    "STATE_FIELDS",
    "Proposals",
    "Runs",
    "proposal_digest",
    "proposal_state",
    "record_digest",
]

STATE_FIELDS = ("status", "base", "candidate_hash", "impact", "accepted_number", "digest")
RESETS = ("proposal.created", "proposal.edited", "proposal.rebased")


def proposal_digest(row: Proposal, fmt: int = FORMAT) -> str:
    """SHA-256 of the canonical JSON of what a reviewer relied on (as chain format ``fmt``
    writes it: RFC 8785 in format 2)."""
    content = {
        "title": row.title,
        "author": row.author,
        "rationale": row.rationale,
        "operations": row.operations,
        "citations": row.citations,
        "evidence": row.evidence,
        "run": row.run,
        "editors": row.editors,
    }
    text = digest_json(content).encode("utf-8") if fmt == 1 else canonical_json(content)
    return hashlib.sha256(text).hexdigest()


def record_digest(record: Any, fmt: int = FORMAT) -> str:
    """SHA-256 of an LLM run record's canonical JSON, as an ``llm.run`` event of chain format
    ``fmt`` records it."""
    return hashlib.sha256(event_json(record) if fmt == 1 else canonical_json(record)).hexdigest()


def proposal_state(row: Proposal, ruleset: str, fmt: int = FORMAT) -> dict[str, Any]:
    """The state an event about ``row`` records (call it after the change is flushed)."""
    return {
        "ruleset": ruleset,
        "proposal_id": row.id,
        "status": row.status,
        "base": row.base_number,
        "candidate_hash": row.candidate_hash,
        "impact": row.impact,
        "accepted_number": row.accepted_number,
        "digest": proposal_digest(row, fmt),
    }


def _row_state(row: Proposal, fmt: int) -> tuple[Any, ...]:
    state = proposal_state(row, "", fmt)
    return tuple(state[name] for name in STATE_FIELDS)


@dataclass
class _Seen:
    seq: int
    state: tuple[Any, ...]
    approvers: list[str] = field(default_factory=list)
    created: bool = False
    submitter: str | None = None
    format: int = FORMAT  # the chain format of the last event, which made its digest


class Proposals:
    """Proposal events, remembered per proposal; compared with the rows at the end."""

    def __init__(self, session: Session) -> None:
        self._session = session
        self._seen: dict[int, _Seen] = {}
        self._accepted: list[tuple[int, int, str, int]] = []  # seq, proposal, ruleset, version

    def event(
        self, seq: int, actor: str, action: str, payload: dict[str, Any], fmt: int = FORMAT
    ) -> str | None:
        ident = int(payload["proposal_id"])
        state = tuple(payload.get(name) for name in STATE_FIELDS)
        seen = self._seen.get(ident)
        if seen is None:
            if action != "proposal.created":
                return f"proposal {ident} has a {action} event but no proposal.created before it"
            seen = self._seen[ident] = _Seen(seq, state, created=True)
        seen.seq, seen.state, seen.format = seq, state, fmt
        if action in RESETS:
            seen.approvers = []
        elif action == "proposal.submitted":
            seen.submitter = actor
        elif action == "proposal.approved":
            seen.approvers.append(str(payload["approver"]))
        elif action == "proposal.accepted":
            seen.approvers = [str(a) for a in payload["approvers"]]
            version = int(payload["accepted_number"])
            self._accepted.append((seq, ident, str(payload["ruleset"]), version))
        return None

    def findings(self) -> Iterator[tuple[int | None, str]]:
        """(seq or None, reason) for each mismatch, earliest event first."""
        rows = {row.id: row for row in self._session.scalars(select(Proposal))}
        approvals: dict[int, Counter[str]] = {}
        for proposal_id, approver in self._session.execute(
            select(ProposalApproval.proposal_id, ProposalApproval.approver)
        ):
            approvals.setdefault(proposal_id, Counter())[approver] += 1
        for ident, seen in sorted(self._seen.items(), key=lambda item: item[1].seq):
            yield from self._compare(ident, seen, rows.get(ident), approvals.get(ident, Counter()))
        yield from self._versions()
        for ident in sorted(set(rows) - set(self._seen)):
            yield None, f"proposals row {ident} has no proposal.created event"
        for ident in sorted(set(approvals) - set(self._seen)):
            yield None, f"proposal_approvals rows of proposal {ident} have no proposal event"

    def _compare(
        self, ident: int, seen: _Seen, row: Proposal | None, approvals: Counter[str]
    ) -> Iterator[tuple[int | None, str]]:
        if row is None:
            yield seen.seq, f"proposal {ident} was deleted"
            return
        actual = hashlib.sha256(row.candidate.encode("utf-8")).hexdigest()
        if actual != row.candidate_hash:
            yield seen.seq, f"proposal {ident}: its candidate no longer matches its hash"
        now = _row_state(row, seen.format)
        if now != seen.state:
            diffs = [
                f"{name} is {value!r}, the event says {recorded!r}"
                for name, value, recorded in zip(STATE_FIELDS, now, seen.state, strict=True)
                if value != recorded
            ]
            yield seen.seq, f"proposals row {ident}: " + "; ".join(diffs)
        if row.submitted_by != seen.submitter:
            yield (
                seen.seq,
                f"proposals row {ident}: submitted_by is {row.submitted_by!r}, the "
                f"proposal.submitted event says {seen.submitter!r}",
            )
        if approvals != Counter(seen.approvers):
            yield (
                seen.seq,
                f"proposal {ident}'s approvals are {sorted(approvals.elements())}, "
                f"the events recorded {sorted(seen.approvers)}",
            )

    def _versions(self) -> Iterator[tuple[int | None, str]]:
        for seq, ident, name, number in self._accepted:
            source = self._session.scalar(
                select(Version.proposal_id)
                .join(Ruleset, Ruleset.id == Version.ruleset_id)
                .where(Ruleset.name == name, Version.number == number)
            )
            if source != ident:
                yield (
                    seq,
                    (
                        f"proposal {ident} was accepted as version {number} of {name}, but that "
                        f"version names proposal {source} as its source"
                    ),
                )


class Runs:
    """``llm.run`` events against the ``llm_runs`` rows they recorded."""

    def __init__(self, session: Session) -> None:
        self._session = session
        # run id: seq, status, record sha256, chain format
        self._seen: dict[int, tuple[int, str, str, int]] = {}

    def event(self, seq: int, payload: dict[str, Any], fmt: int = FORMAT) -> str | None:
        self._seen[int(payload["run_id"])] = (
            seq,
            str(payload["status"]),
            str(payload["record_sha256"]),
            fmt,
        )
        return None

    def findings(self) -> Iterator[tuple[int | None, str]]:
        rows = {run.id: (run.status, run.record) for run in self._session.scalars(select(LlmRun))}
        for ident, (seq, status, digest, fmt) in sorted(self._seen.items(), key=lambda i: i[1][0]):
            if ident not in rows:
                yield seq, f"LLM run {ident} was deleted"
                continue
            stored_status, record = rows[ident]
            if stored_status != status:
                yield (
                    seq,
                    f"LLM run {ident}: status is {stored_status!r}, the event says {status!r}",
                )
            elif record_digest(record, fmt) != digest:
                yield seq, f"LLM run {ident}: its record no longer matches the one recorded"
        for ident in sorted(set(rows) - set(self._seen)):
            if rows[ident][0] != "running":
                yield None, f"llm_runs row {ident} is finished but has no llm.run event"

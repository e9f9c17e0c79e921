"""Starting and stopping shadow runs; each is an audit event in the same transaction."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from rules import audit
from rules.errors import ConflictError, InvalidRequestError, NotFoundError, Problem
from rules.store.models import Proposal, Ruleset, Shadow, utcnow
from rules.store.versions.read import find_ruleset, find_version

__all__ = [
    "ShadowInfo",
    "find_shadow",
    "info_of",
    "running_shadow",
    "shadow_payload",
    "start_shadow",
    "stop_shadow",
]


@dataclass(frozen=True, slots=True)
class ShadowInfo:
    """A shadow run: what runs in shadow (``version`` or ``proposal_id``) and since when."""

    id: int
    ruleset: str
    version: int | None
    proposal_id: int | None
    document_hash: str
    started_by: str
    started_at: datetime
    stopped_by: str | None
    stopped_at: datetime | None

    @property
    def running(self) -> bool:
        return self.stopped_at is None

    @property
    def label(self) -> str:
        return (
            f"version {self.version}"
            if self.version is not None
            else f"proposal {self.proposal_id}"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "ruleset": self.ruleset,
            "version": self.version,
            "proposal_id": self.proposal_id,
            "document_hash": self.document_hash,
            "running": self.running,
            "since": self.started_at.isoformat(),
            "started_by": self.started_by,
            "stopped_at": None if self.stopped_at is None else self.stopped_at.isoformat(),
            "stopped_by": self.stopped_by,
        }


def info_of(row: Shadow, name: str) -> ShadowInfo:
    return ShadowInfo(
        row.id,
        name,
        row.version_number,
        row.proposal_id,
        row.document_hash,
        row.started_by,
        row.started_at,
        row.stopped_by,
        row.stopped_at,
    )


def shadow_payload(row: Shadow, name: str) -> dict[str, Any]:
    """What ``shadow.started`` records (and verification compares the row with)."""
    return {
        "ruleset": name,
        "shadow_id": row.id,
        "version": row.version_number,
        "proposal_id": row.proposal_id,
        "document_hash": row.document_hash,
    }


def _running_row(session: Session, ruleset: Ruleset) -> Shadow | None:
    return session.scalar(
        select(Shadow).where(Shadow.ruleset_id == ruleset.id, Shadow.stopped_at.is_(None))
    )


def running_shadow(session: Session, name: str) -> ShadowInfo | None:
    """The ruleset's running shadow, if any."""
    row = _running_row(session, find_ruleset(session, name))
    return None if row is None else info_of(row, name)


def _document(
    session: Session, ruleset: Ruleset, version: int | None, proposal_id: int | None
) -> tuple[str, str]:
    if (version is None) == (proposal_id is None):
        raise InvalidRequestError(
            "say what runs in shadow",
            [Problem("RB460", "version", "give a version number or a proposal id, not both")],
        )
    if version is not None:
        if version == ruleset.active_number:
            raise ConflictError(
                f"version {version} is the active version of {ruleset.name}: shadow another one"
            )
        row = find_version(session, ruleset, version)
        return row.document, row.hash
    proposal = session.get(Proposal, proposal_id)
    if proposal is None or proposal.ruleset_id != ruleset.id:
        raise NotFoundError(f"{ruleset.name} has no proposal {proposal_id}")
    return proposal.candidate, proposal.candidate_hash


def start_shadow(
    session: Session,
    name: str,
    *,
    actor: str,
    version: int | None = None,
    proposal_id: int | None = None,
) -> ShadowInfo:
    """Start shadowing ``version`` (or proposal ``proposal_id``'s candidate) beside the active
    version; ConflictError while another shadow of the ruleset runs."""
    ruleset = find_ruleset(session, name, lock=True)
    running = _running_row(session, ruleset)
    if running is not None:
        what = info_of(running, name).label
        raise ConflictError(
            f"{name} already runs {what} in shadow (since {running.started_at:%Y-%m-%d %H:%M}Z): "
            "stop it first; a ruleset has at most one shadow"
        )
    document, digest = _document(session, ruleset, version, proposal_id)
    audit.lock_head(session)
    row = Shadow(
        ruleset_id=ruleset.id,
        version_number=version,
        proposal_id=proposal_id,
        document=document,
        document_hash=digest,
        started_by=actor,
        started_at=utcnow(),
    )
    session.add(row)
    session.flush()
    audit.append(session, actor, "shadow.started", f"shadow:{row.id}", shadow_payload(row, name))
    return info_of(row, name)


def stop_shadow(session: Session, name: str, *, actor: str) -> ShadowInfo:
    """Stop the ruleset's running shadow; its results stay, for its report."""
    ruleset = find_ruleset(session, name, lock=True)
    row = _running_row(session, ruleset)
    if row is None:
        raise ConflictError(f"{name} has no shadow running: nothing to stop")
    audit.lock_head(session)
    row.stopped_by, row.stopped_at = actor, utcnow()
    session.flush()
    payload = {"ruleset": name, "shadow_id": row.id}
    audit.append(session, actor, "shadow.stopped", f"shadow:{row.id}", payload)
    return info_of(row, name)


def find_shadow(
    session: Session, name: str, *, version: int | None = None, proposal_id: int | None = None
) -> int | None:
    """The id of the latest shadow run of ``version`` (or of proposal ``proposal_id``)."""
    ruleset = find_ruleset(session, name)
    query = select(Shadow.id).where(Shadow.ruleset_id == ruleset.id)
    if version is not None:
        query = query.where(Shadow.version_number == version)
    else:
        query = query.where(Shadow.proposal_id == proposal_id)
    return session.scalar(query.order_by(Shadow.id.desc()).limit(1))

"""The tamper-evident audit chain (DESIGN §6): appending events.

Every state change appends ``{seq, at, actor, action, subject, payload, prev_hash, hash}`` in
the same transaction as the change, with ``hash = SHA-256(prev_hash || canonical(event))``.
Chain format 2 (every event appended now): ``canonical`` is RFC 8785 (JCS,
:func:`rules.core.document.canonical_json`) of ``{format: 2, seq, at, actor, action, subject,
payload}``. Events of format 1, written before, hashed the same fields without ``format`` in
format 1's canonical JSON (:mod:`rules.audit.legacy`); a chain is a run of format 1 events
followed by format 2 events, and :func:`link_format` tells which recipe an event's hash
follows. ``docs/audit-chain.md`` is the specification; ``rules/audit/offline.py``
recomputes a chain from an export with the standard library alone.

Appenders serialise on the single ``audit_head`` row: its UPDATE is the transaction's first
write, so PostgreSQL's row lock (and SQLite's writer lock) orders the chain.
:func:`rules.audit.verify.verify` share-locks the head first, so it reads one consistent chain
while appends wait.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from rules.audit.legacy import event_json
from rules.core.document import canonical_json
from rules.store.models import AuditEvent, AuditHead, utcnow

__all__ = [
    "FORMAT",
    "FORMATS",
    "GENESIS",
    "AuditRecord",
    "append",
    "ensure_head",
    "event_hash",
    "link_format",
    "lock_head",
    "record_of",
]

GENESIS = "0" * 64
FORMAT = 2  # the chain format of every event appended now
FORMATS = (1, 2)


@dataclass(frozen=True, slots=True)
class AuditRecord:
    seq: int
    at: datetime
    actor: str
    action: str
    subject: str
    payload: dict[str, Any]
    prev_hash: str
    hash: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "at": _at(self.at),
            "actor": self.actor,
            "action": self.action,
            "subject": self.subject,
            "payload": self.payload,
            "prev_hash": self.prev_hash,
            "hash": self.hash,
        }


def _at(at: datetime) -> str:
    return at.astimezone(UTC).isoformat(timespec="microseconds")


def record_of(ev: AuditEvent) -> AuditRecord:
    """The stored event as a record, its payload parsed."""
    return AuditRecord(
        ev.seq,
        ev.at,
        ev.actor,
        ev.action,
        ev.subject,
        json.loads(ev.payload),
        ev.prev_hash,
        ev.hash,
    )


def event_hash(
    prev_hash: str,
    seq: int,
    at: datetime,
    actor: str,
    action: str,
    subject: str,
    payload: str,
    fmt: int = FORMAT,
) -> str:
    """The hash of an event of chain format ``fmt`` whose stored payload text is ``payload``."""
    body: dict[str, Any] = {
        "seq": seq,
        "at": _at(at),
        "actor": actor,
        "action": action,
        "subject": subject,
        "payload": json.loads(payload),
    }
    if fmt == 1:
        text = event_json(body)
    elif fmt == 2:
        text = canonical_json({"format": 2, **body})
    else:
        raise ValueError(f"unknown audit chain format {fmt!r}: expected one of {FORMATS}")
    return hashlib.sha256(prev_hash.encode("ascii") + text).hexdigest()


def link_format(
    stored_hash: str,
    after: int,
    prev_hash: str,
    seq: int,
    at: datetime,
    actor: str,
    action: str,
    subject: str,
    payload: str,
) -> int | None:
    """The chain format whose recipe gives ``stored_hash``, or None if none does. ``after`` is
    the format of the event before (1 for the first event): formats never go back, so after
    a format 2 event only format 2 is tried."""
    for fmt in FORMATS:
        if (
            fmt >= after
            and event_hash(prev_hash, seq, at, actor, action, subject, payload, fmt) == stored_hash
        ):
            return fmt
    return None


def ensure_head(session: Session) -> None:
    """Create the head row on an empty chain (migrations also create it)."""
    if session.get(AuditHead, 1) is None:
        session.add(AuditHead(id=1, seq=0, hash=GENESIS))
        session.flush()


def lock_head(session: Session) -> None:
    """Take the chain's lock now, before the change that :func:`append` will record: rows the
    change inserts then get ids in the same order as their events in the chain. Everything
    that appends takes this lock; nothing takes another lock after it but row locks no other
    appender holds, so the lock order stays acyclic."""
    session.execute(select(AuditHead.id).where(AuditHead.id == 1).with_for_update())


def append(
    session: Session, actor: str, action: str, subject: str, payload: Mapping[str, Any]
) -> AuditRecord:
    """Append one event in the caller's transaction (rolled back with it)."""
    row = session.execute(
        update(AuditHead)
        .where(AuditHead.id == 1)
        .values(seq=AuditHead.seq + 1)
        .returning(AuditHead.seq, AuditHead.hash)
    ).one_or_none()
    if row is None:
        ensure_head(session)
        return append(session, actor, action, subject, payload)
    seq, prev = row
    at = utcnow()
    text = canonical_json(dict(payload)).decode("utf-8")
    digest = event_hash(prev, seq, at, actor, action, subject, text)
    session.add(
        AuditEvent(
            seq=seq,
            at=at,
            actor=actor,
            action=action,
            subject=subject,
            payload=text,
            prev_hash=prev,
            hash=digest,
        )
    )
    session.execute(update(AuditHead).where(AuditHead.id == 1).values(hash=digest))
    session.flush()
    return AuditRecord(seq, at, actor, action, subject, json.loads(text), prev, digest)

"""The tamper-evident audit chain (DESIGN §6).

Every state change appends ``{seq, at, actor, action, subject, payload, prev_hash, hash}`` in
the same transaction as the change, with ``hash = SHA-256(prev_hash || canonical(event))``.
Appenders serialise on the single ``audit_head`` row: its UPDATE is the transaction's first
write, so PostgreSQL's row lock (and SQLite's writer lock) orders the chain. :func:`verify`
share-locks the head first, so it reads one consistent chain while appends wait.

:func:`verify` recomputes the chain, checks that the head row agrees with the last event (so
deleting the newest events is caught too), and checks the rows the events vouch for: versions,
activations and active versions, resolutions, and imported history (:mod:`rules.vouched`).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Iterator, Mapping
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from rules.core.document import canonical_json
from rules.store.models import AuditEvent, AuditHead, utcnow
from rules.vouched import Vouchers

__all__ = [
    "GENESIS",
    "AuditRecord",
    "Verification",
    "append",
    "events",
    "export",
    "verify",
]

GENESIS = "0" * 64
EXPORT_FIELDS = ("seq", "at", "actor", "action", "subject", "payload", "prev_hash", "hash")


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


@dataclass(frozen=True, slots=True)
class Verification:
    ok: bool
    events: int
    first_bad_seq: int | None = None
    reason: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "events": self.events,
            "first_bad_seq": self.first_bad_seq,
            "reason": self.reason,
        }


def _at(at: datetime) -> str:
    return at.astimezone(UTC).isoformat(timespec="microseconds")


def event_hash(
    prev_hash: str, seq: int, at: datetime, actor: str, action: str, subject: str, payload: str
) -> str:
    body = canonical_json(
        {
            "seq": seq,
            "at": _at(at),
            "actor": actor,
            "action": action,
            "subject": subject,
            "payload": json.loads(payload),
        }
    )
    return hashlib.sha256(prev_hash.encode("ascii") + body).hexdigest()


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


def events(
    session: Session,
    *,
    action: str | None = None,
    subject: str | None = None,
    actor: str | None = None,
    after: int = 0,
    limit: int | None = None,
) -> Iterator[AuditRecord]:
    """Events in chain order, optionally filtered."""
    query = select(AuditEvent).where(AuditEvent.seq > after).order_by(AuditEvent.seq)
    if action:
        query = query.where(AuditEvent.action == action)
    if subject:
        query = query.where(AuditEvent.subject == subject)
    if actor:
        query = query.where(AuditEvent.actor == actor)
    if limit is not None:
        query = query.limit(limit)
    # ``with`` closes PostgreSQL's server-side cursor even when the caller stops early.
    with session.scalars(query.execution_options(yield_per=1000)) as rows:
        for ev in rows:
            yield AuditRecord(
                ev.seq,
                ev.at,
                ev.actor,
                ev.action,
                ev.subject,
                json.loads(ev.payload),
                ev.prev_hash,
                ev.hash,
            )


def _head(session: Session) -> tuple[int, str]:
    """The head's seq and hash, share-locked: on PostgreSQL no append can commit while the
    chain is read (its first write is the head), so events and versions committed between
    two reads cannot look forged or missing. A missing head row vouches for nothing."""
    row = session.execute(
        select(AuditHead.seq, AuditHead.hash).where(AuditHead.id == 1).with_for_update(read=True)
    ).one_or_none()
    return (0, GENESIS) if row is None else (int(row[0]), str(row[1]))


def _link_problem(ev: AuditEvent, expected_seq: int, prev: str) -> tuple[int, str] | None:
    """The first bad seq and why, if ``ev`` does not continue the chain ending in ``prev``."""
    if ev.seq != expected_seq:
        return expected_seq, f"event {expected_seq} is missing (the next stored event is {ev.seq})"
    if ev.prev_hash != prev:
        if ev.seq == 1:
            return ev.seq, "prev_hash of the first event is not the genesis hash"
        return ev.seq, (
            f"prev_hash does not match event {ev.seq - 1}'s hash: one of the two was changed"
        )
    try:
        recomputed = event_hash(prev, ev.seq, ev.at, ev.actor, ev.action, ev.subject, ev.payload)
    except (ValueError, TypeError):
        return ev.seq, "payload is not valid JSON"
    if recomputed != ev.hash:
        return ev.seq, "hash does not match the event's contents"
    return None


def _head_problem(head: tuple[int, str], count: int) -> tuple[int, str] | None:
    if head[0] > count:
        return count + 1, (
            f"event {count + 1} is missing: the chain ends at event {count} "
            f"but the head records {head[0]}"
        )
    if head[0] < count:
        return head[0] + 1, (
            f"event {head[0] + 1} is past the head, which records {head[0]} events: "
            "it was not appended by the service"
        )
    return None


def verify(session: Session) -> Verification:
    """Recompute the chain and check the rows its events vouch for (:mod:`rules.vouched`);
    name the first event that does not match, else the first row no event vouches for.

    The head is share-locked first. Every change to a vouched table (versions, activations,
    ``rulesets.active_number``, resolutions, imports) appends an event in its transaction,
    which updates the head and so waits for this lock: until this transaction ends no such
    change can commit, and each statement here, at PostgreSQL's READ COMMITTED, sees the
    same vouched rows. (REPEATABLE READ would add nothing, and would fail with a
    serialization error whenever an append committed between the snapshot and the lock.)"""
    head = _head(session)
    with ExitStack() as stack:
        vouchers = Vouchers(session, stack)
        count, broken = _walk(session, head, vouchers)
        complete = broken is None
        if complete:
            broken = _head_problem(head, count)
        found = vouchers.first(complete=complete and broken is None)
    if found is not None and (broken is None or (found.seq is not None and found.seq < broken[0])):
        return Verification(False, count, found.seq, found.reason)
    if broken is not None:
        return Verification(False, count, *broken)
    return Verification(True, count)


def _walk(
    session: Session, head: tuple[int, str], vouchers: Vouchers
) -> tuple[int, tuple[int, str] | None]:
    """Events read, and the first link that breaks the chain, if any; every event up to it
    is handed to ``vouchers``."""
    prev, count = GENESIS, 0
    query = select(AuditEvent).order_by(AuditEvent.seq).execution_options(yield_per=1000)
    with session.scalars(query) as rows:
        for ev in rows:
            count += 1
            problem = _link_problem(ev, count, prev)
            if problem is None and ev.seq == head[0] and ev.hash != head[1]:
                problem = ev.seq, f"event {ev.seq}'s hash differs from the head's: it was rewritten"
            if problem is not None:
                return count, problem
            payload = json.loads(ev.payload)
            vouchers.event(
                ev.seq, ev.actor, ev.action, payload if isinstance(payload, dict) else {}
            )
            prev = ev.hash
    return count, None


def export(session: Session, fmt: str = "json") -> str:
    """The whole chain as JSON (a list of events) or CSV (payload as canonical JSON)."""
    records = [r.to_dict() for r in events(session)]
    if fmt == "json":
        return json.dumps(records, indent=2, ensure_ascii=False) + "\n"
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=EXPORT_FIELDS, lineterminator="\n")
        writer.writeheader()
        for rec in records:
            rec["payload"] = canonical_json(rec["payload"]).decode("utf-8")
            writer.writerow(rec)
        return out.getvalue()
    raise ValueError(f"unknown export format {fmt!r}: use csv or json")

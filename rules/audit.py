"""The tamper-evident audit chain (DESIGN §6).

Every state change appends ``{seq, at, actor, action, subject, payload, prev_hash, hash}`` in
the same transaction as the change, with ``hash = SHA-256(prev_hash || canonical(event))``.
Appenders serialise on the single ``audit_head`` row: its UPDATE is the transaction's first
write, so PostgreSQL's row lock (and SQLite's writer lock) orders the chain.

:func:`verify` recomputes the chain and also checks what the events vouch for: every version
whose creation was recorded still exists with the same document and hash, and the head row
agrees with the last event (so deleting the newest events is caught too).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from rules.document import canonical_json
from rules.models import AuditEvent, AuditHead, Ruleset, Version, utcnow

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
    for ev in session.scalars(query.execution_options(yield_per=1000)):
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


def _versions_vouched(session: Session) -> dict[tuple[str, int], str]:
    rows = session.execute(
        select(Ruleset.name, Version.number, Version.hash, Version.document).join(
            Ruleset, Ruleset.id == Version.ruleset_id
        )
    )
    found: dict[tuple[str, int], str] = {}
    for name, number, stored_hash, document in rows:
        actual = hashlib.sha256(document.encode("utf-8")).hexdigest()
        found[(name, number)] = stored_hash if actual == stored_hash else "altered:" + actual
    return found


def verify(session: Session) -> Verification:
    """Recompute the chain; name the first event that does not match, if any."""
    prev = GENESIS
    expected_seq = 1
    count = 0
    versions = _versions_vouched(session)
    seen_versions: set[tuple[str, int]] = set()
    query = select(AuditEvent).order_by(AuditEvent.seq).execution_options(yield_per=1000)
    for ev in session.scalars(query):
        count += 1

        def bad(reason: str, seq: int = ev.seq, n: int = count) -> Verification:
            return Verification(False, n, seq, reason)

        if ev.seq != expected_seq:
            return bad(f"expected event {expected_seq} here, found {ev.seq}: events are missing")
        if ev.prev_hash != prev:
            return bad("prev_hash does not match the previous event's hash")
        try:
            recomputed = event_hash(
                prev, ev.seq, ev.at, ev.actor, ev.action, ev.subject, ev.payload
            )
        except (ValueError, TypeError):
            return bad("payload is not valid JSON")
        if recomputed != ev.hash:
            return bad("hash does not match the event's contents")
        if ev.action == "version.created":
            problem = _check_version(ev.payload, versions, seen_versions)
            if problem:
                return bad(problem)
        prev = ev.hash
        expected_seq += 1
    head = session.get(AuditHead, 1)
    if head is not None and (head.seq != count or head.hash != prev):
        return Verification(
            False, count, count + 1, f"the chain ends at event {count} but the head says {head.seq}"
        )
    unvouched = sorted(set(versions) - seen_versions)
    if unvouched:
        name, number = unvouched[0]
        return Verification(
            False, count, None, f"version {number} of {name} has no version.created event"
        )
    return Verification(True, count)


def _check_version(
    payload: str, versions: dict[tuple[str, int], str], seen: set[tuple[str, int]]
) -> str | None:
    data = json.loads(payload)
    key = (str(data.get("ruleset")), int(data.get("number", 0)))
    seen.add(key)
    stored = versions.get(key)
    if stored is None:
        return f"version {key[1]} of {key[0]} was deleted"
    if stored.startswith("altered:"):
        return f"version {key[1]} of {key[0]}: its document no longer matches its hash"
    if stored != data.get("hash"):
        return f"version {key[1]} of {key[0]}: its hash differs from the one recorded"
    return None


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

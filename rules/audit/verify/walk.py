"""Verifying the audit chain (DESIGN §6): every link recomputed, the head row checked against
the last event (so deleting the newest events is caught too), and every event handed to the
verifiers of the rows it vouches for (:mod:`rules.audit.verify.rows`): versions, activations
and active versions, resolutions, imported history, proposals and LLM runs.
"""

from __future__ import annotations

import json
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from rules.audit.chain import GENESIS, link_format
from rules.audit.verify.rows import Vouchers
from rules.store.models import AuditEvent, AuditHead

__all__ = ["Verification", "verify"]


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


def _head(session: Session) -> tuple[int, str]:
    """The head's seq and hash, share-locked: on PostgreSQL no append can commit while the
    chain is read (its first write is the head), so events and versions committed between
    two reads cannot look forged or missing. A missing head row vouches for nothing."""
    row = session.execute(
        select(AuditHead.seq, AuditHead.hash).where(AuditHead.id == 1).with_for_update(read=True)
    ).one_or_none()
    return (0, GENESIS) if row is None else (int(row[0]), str(row[1]))


def _link(ev: AuditEvent, expected_seq: int, prev: str, after: int) -> tuple[int, str] | int:
    """The event's chain format if ``ev`` continues the chain ending in ``prev`` (whose last
    event had format ``after``), else the first bad seq and why."""
    if ev.seq != expected_seq:
        return expected_seq, f"event {expected_seq} is missing (the next stored event is {ev.seq})"
    if ev.prev_hash != prev:
        if ev.seq == 1:
            return ev.seq, "prev_hash of the first event is not the genesis hash"
        return ev.seq, (
            f"prev_hash does not match event {ev.seq - 1}'s hash: one of the two was changed"
        )
    try:
        fmt = link_format(
            ev.hash, after, prev, ev.seq, ev.at, ev.actor, ev.action, ev.subject, ev.payload
        )
    except (ValueError, TypeError):
        return ev.seq, "payload is not valid JSON"
    if fmt is None:
        return ev.seq, "hash does not match the event's contents"
    return fmt


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
    """Recompute the chain and check the rows its events vouch for (:mod:`rules.audit.verify.rows`);
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
    prev, count, fmt = GENESIS, 0, 1
    query = select(AuditEvent).order_by(AuditEvent.seq).execution_options(yield_per=1000)
    with session.scalars(query) as rows:
        for ev in rows:
            count += 1
            link = _link(ev, count, prev, fmt)
            if isinstance(link, tuple):
                return count, link
            if ev.seq == head[0] and ev.hash != head[1]:
                return count, (
                    ev.seq,
                    f"event {ev.seq}'s hash differs from the head's: it was rewritten",
                )
            fmt = link
            payload = json.loads(ev.payload)
            vouchers.event(
                ev.seq, ev.actor, ev.action, payload if isinstance(payload, dict) else {}, fmt
            )
            prev = ev.hash
    return count, None

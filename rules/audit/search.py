"""Searching the audit chain for people (the review app's audit pages): filtered, newest
first, a page at a time, and exported in pages so that no transaction stays open while a
client downloads.

Events are append-only and numbered by ``seq``, so pages are keyset ranges of ``seq`` and an
export is every matching event up to the head's ``seq`` when it started, read 1,000 at a time.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, TypeVar

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from rules.audit.chain import AuditRecord, record_of
from rules.store import Database
from rules.store.models import AuditEvent, AuditHead
from rules.store.pages import newest_first

__all__ = ["Filters", "Page", "actions", "count", "export_rows", "head", "page"]

EXPORT_BATCH = 1000
Q = TypeVar("Q", bound="Select[*tuple[Any, ...]]")


@dataclass(frozen=True, slots=True)
class Filters:
    action: str | None = None
    actor: str | None = None
    subject: str | None = None
    start: date | None = None  # from this UTC day, inclusive
    end: date | None = None  # to this UTC day, inclusive

    def apply(self, query: Q) -> Q:
        if self.action:
            query = query.where(AuditEvent.action == self.action)
        if self.actor:
            query = query.where(AuditEvent.actor == self.actor)
        if self.subject:
            query = query.where(AuditEvent.subject == self.subject)
        if self.start:
            query = query.where(AuditEvent.at >= datetime.combine(self.start, time(), UTC))
        if self.end:
            day_after = datetime.combine(self.end + timedelta(days=1), time(), UTC)
            query = query.where(AuditEvent.at < day_after)
        return query


@dataclass(frozen=True, slots=True)
class Page:
    events: list[AuditRecord]  # newest first
    newer: bool  # more matching events after the first shown
    older: bool  # more matching events before the last shown


def page(
    session: Session,
    filters: Filters,
    size: int,
    before: int | None = None,
    after: int | None = None,
) -> Page:
    """Up to ``size`` matching events, newest first: the newest, those just older than seq
    ``before``, or those just newer than seq ``after``."""
    query = filters.apply(select(AuditEvent.seq, AuditEvent))
    found = newest_first(session, query, AuditEvent.seq, size, before, after)
    return Page([record_of(row[1]) for row in found.rows], found.newer, found.older)


def actions(session: Session) -> list[str]:
    """The actions present in the chain, for the filter's choices."""
    return list(session.scalars(select(AuditEvent.action).distinct().order_by(AuditEvent.action)))


def head(session: Session) -> tuple[int, str | None]:
    """The chain's length and its newest hash (None when empty)."""
    row = session.execute(select(AuditHead.seq, AuditHead.hash).where(AuditHead.id == 1)).first()
    if row is None or not row[0]:
        return 0, None
    return int(row[0]), str(row[1])


def count(session: Session, filters: Filters) -> int:
    query = filters.apply(select(func.count()).select_from(AuditEvent))
    return int(session.scalar(query) or 0)


def export_rows(db: Database, filters: Filters, batch: int = EXPORT_BATCH) -> Iterator[AuditRecord]:
    """Every matching event in chain order, up to the head at the start, ``batch`` events
    per short read."""
    with db.session() as s:
        last, _ = head(s)
    seq = 0
    while seq < last:
        with db.session() as s:
            query = (
                filters.apply(select(AuditEvent))
                .where(AuditEvent.seq > seq, AuditEvent.seq <= last)
                .order_by(AuditEvent.seq)
                .limit(batch)
            )
            rows = [record_of(r) for r in s.scalars(query)]
        if not rows:
            return
        yield from rows
        seq = rows[-1].seq

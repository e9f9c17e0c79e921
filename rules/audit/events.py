"""Reading the audit chain: events in chain order, filtered, and the whole chain exported."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator

from sqlalchemy import select
from sqlalchemy.orm import Session

from rules.audit.chain import AuditRecord, record_of
from rules.store.models import AuditEvent

__all__ = ["EXPORT_FIELDS", "events", "export"]

EXPORT_FIELDS = ("seq", "at", "actor", "action", "subject", "payload", "prev_hash", "hash")


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
            yield record_of(ev)


def export(session: Session, fmt: str = "json") -> str:
    """The whole chain as JSON (a list of events) or CSV (payload as the JSON text stored, the
    canonical form its event was written with). Either recomputes with
    ``rules/audit/offline.py`` (``docs/audit-chain.md``)."""
    if fmt not in ("json", "csv"):
        raise ValueError(f"unknown export format {fmt!r}: use csv or json")
    query = select(AuditEvent).order_by(AuditEvent.seq).execution_options(yield_per=1000)
    if fmt == "json":
        records = [record_of(ev).to_dict() for ev in session.scalars(query)]
        return json.dumps(records, indent=2, ensure_ascii=False) + "\n"
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=EXPORT_FIELDS, lineterminator="\n")
    writer.writeheader()
    for ev in session.scalars(query):
        writer.writerow({**record_of(ev).to_dict(), "payload": ev.payload})
    return out.getvalue()

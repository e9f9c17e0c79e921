"""Reading recorded decisions: one with its latest resolution, a ruleset's in id order, every
resolution of one, and the facts of several (DESIGN §3).

A decision's resolution is its latest one (by id: resolutions are recorded under the audit
chain's lock, so id order is chain order).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from rules.errors import NotFoundError
from rules.store.decisions.records import (
    DecisionRecord,
    ResolutionRecord,
    decision_record,
    resolution_record,
)
from rules.store.models import Decision, Resolution, Ruleset

__all__ = [
    "facts_of",
    "find_decision",
    "get_decision",
    "iter_decisions",
    "latest_resolutions",
    "resolutions_of",
]


def latest_resolutions(session: Session, ids: Sequence[int]) -> dict[int, ResolutionRecord]:
    """The latest resolution of each decision in ``ids`` that has one."""
    if not ids:
        return {}
    latest = (
        select(func.max(Resolution.id))
        .where(Resolution.decision_id.in_(ids))
        .group_by(Resolution.decision_id)
    )
    rows = session.scalars(select(Resolution).where(Resolution.id.in_(latest)))
    return {r.decision_id: resolution_record(r) for r in rows}


def find_decision(session: Session, decision_id: int) -> tuple[Decision, str]:
    """The decision's row and its ruleset's name (for the store's services); NotFoundError."""
    query = (
        select(Decision, Ruleset.name)
        .join(Ruleset, Ruleset.id == Decision.ruleset_id)
        .where(Decision.id == decision_id)
    )
    row = session.execute(query).one_or_none()
    if row is None:
        raise NotFoundError(f"no decision {decision_id}")
    return row[0], row[1]


def get_decision(session: Session, decision_id: int) -> DecisionRecord:
    """The stored decision with its latest resolution."""
    row, name = find_decision(session, decision_id)
    return decision_record(row, name, latest_resolutions(session, [row.id]).get(row.id))


def iter_decisions(
    session: Session,
    name: str,
    *,
    exceptions_only: bool = False,
    after: int = 0,
    limit: int | None = None,
    batch: int = 1000,
) -> Iterator[DecisionRecord]:
    """A ruleset's decisions in id order, with their resolutions, streamed in batches."""
    ruleset_id = session.scalar(select(Ruleset.id).where(Ruleset.name == name))
    if ruleset_id is None:
        raise NotFoundError(f"no ruleset named {name!r}")
    remaining = limit
    while remaining is None or remaining > 0:
        size = batch if remaining is None else min(batch, remaining)
        query = (
            select(Decision)
            .where(Decision.ruleset_id == ruleset_id, Decision.id > after)
            .order_by(Decision.id)
            .limit(size)
        )
        if exceptions_only:
            query = query.where(Decision.exception.is_(True))
        rows = list(session.scalars(query))
        if not rows:
            return
        resolutions = latest_resolutions(session, [r.id for r in rows])
        for r in rows:
            yield decision_record(r, name, resolutions.get(r.id))
        after = rows[-1].id
        if remaining is not None:
            remaining -= len(rows)


def resolutions_of(session: Session, decision_id: int) -> tuple[ResolutionRecord, ...]:
    """Every resolution recorded for a decision, oldest first (the last one counts)."""
    rows = session.scalars(
        select(Resolution).where(Resolution.decision_id == decision_id).order_by(Resolution.id)
    )
    return tuple(resolution_record(r) for r in rows)


def facts_of(session: Session, ids: Sequence[int]) -> dict[int, dict[str, Any]]:
    """The recorded facts of each decision in ``ids`` that exists, by id."""
    if not ids:
        return {}
    rows = session.execute(select(Decision.id, Decision.facts).where(Decision.id.in_(ids)))
    return {int(row[0]): row[1] for row in rows}

"""A ruleset's automation and exception rates over time, for the ruleset page's picture:
the decision log counted per UTC day in the database, then folded into weeks (Monday to
Sunday) when the log spans more than :data:`DAYS_SHOWN` days.

A decision is an *exception* when it was flagged as one (sent to a person: a review value, no
result, facts the rules could not evaluate); every other decision is *automated*. Buckets in
which nothing was decided are left out.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import Date, case, cast, func, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from rules.store.models import Decision, Ruleset

__all__ = ["DAYS_SHOWN", "Bucket", "fold", "rates"]

DAYS_SHOWN = 60  # a longer log is shown by the week
BUCKETS = ("auto", "day", "week")


@dataclass(frozen=True, slots=True)
class Bucket:
    """The decisions made from ``start`` (inclusive) to ``end`` (exclusive), UTC."""

    start: datetime
    end: datetime
    decisions: int
    exceptions: int

    @property
    def automated(self) -> int:
        return self.decisions - self.exceptions

    @property
    def automation_rate(self) -> float:
        return self.automated / self.decisions if self.decisions else 0.0

    @property
    def exception_rate(self) -> float:
        return self.exceptions / self.decisions if self.decisions else 0.0


def _day(session: Session) -> ColumnElement[date]:
    """The UTC day of ``decided_at`` (SQLite stores naive UTC text; PostgreSQL a timestamptz)."""
    if session.get_bind().dialect.name == "postgresql":
        return cast(func.timezone("UTC", Decision.decided_at), Date)
    return func.date(Decision.decided_at)


def _as_date(value: object) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=UTC)


def fold(days: Iterable[tuple[date, int, int]], bucket: str) -> list[Bucket]:
    """Per-day ``(day, decisions, exceptions)`` counts as day or week buckets, oldest first."""
    counted: dict[date, tuple[int, int]] = {}
    step = timedelta(days=7 if bucket == "week" else 1)
    for day, n, exceptions in days:
        start = day - timedelta(days=day.weekday()) if bucket == "week" else day
        had = counted.get(start, (0, 0))
        counted[start] = (had[0] + n, had[1] + exceptions)
    return [
        Bucket(_midnight(start), _midnight(start + step), n, exceptions)
        for start, (n, exceptions) in sorted(counted.items())
        if n
    ]


def rates(session: Session, name: str, bucket: str = "auto") -> list[Bucket]:
    """Decisions and exceptions of ruleset ``name`` per day or week (``auto``: by the day
    unless the log spans more than :data:`DAYS_SHOWN` days), oldest first."""
    if bucket not in BUCKETS:
        raise ValueError(f"bucket is one of {', '.join(BUCKETS)}, not {bucket!r}")
    day = _day(session).label("day")
    rows = session.execute(
        select(day, func.count(Decision.id), func.count(case((Decision.exception, Decision.id))))
        .join(Ruleset, Ruleset.id == Decision.ruleset_id)
        .where(Ruleset.name == name)
        .group_by(day)
        .order_by(day)
    ).all()
    days = [(_as_date(r[0]), int(r[1]), int(r[2])) for r in rows]
    if bucket == "auto":
        span = (days[-1][0] - days[0][0]).days if days else 0
        bucket = "week" if span > DAYS_SHOWN else "day"
    return fold(days, bucket)

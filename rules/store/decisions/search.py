"""Searching decisions for people (the review app's decision pages): a filtered search across
rulesets, newest first, a page at a time (keyset on the decision id).

Filters combine with AND. ``exception`` is the flag the engine stored; ``resolved`` whether any
resolution was recorded; ``override`` whether the latest resolution overrode an automated
result; ``start``/``end`` are whole UTC days, inclusive.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, exists, select
from sqlalchemy.orm import Session

from rules.store.decisions.read import latest_resolutions
from rules.store.decisions.records import ResolutionRecord
from rules.store.decisions.resolutions import latest_is_override
from rules.store.models import Decision, Resolution, Ruleset
from rules.store.pages import newest_first

__all__ = ["DecisionRow", "Filters", "Page", "search"]


@dataclass(frozen=True, slots=True)
class Filters:
    ruleset: str | None = None
    decision_id: int | None = None
    exception: bool | None = None
    resolved: bool | None = None
    override: bool | None = None
    source: str | None = None
    start: date | None = None
    end: date | None = None

    def conditions(self) -> list[ColumnElement[bool]]:
        found: list[ColumnElement[bool]] = []
        if self.ruleset:
            found.append(Ruleset.name == self.ruleset)
        if self.decision_id is not None:
            found.append(Decision.id == self.decision_id)
        if self.exception is not None:
            found.append(Decision.exception.is_(self.exception))
        if self.resolved is not None:
            any_resolution = exists().where(Resolution.decision_id == Decision.id)
            found.append(any_resolution if self.resolved else ~any_resolution)
        if self.override is not None:
            found.append(latest_is_override() if self.override else ~latest_is_override())
        if self.source:
            found.append(Decision.source == self.source)
        if self.start:
            found.append(Decision.decided_at >= datetime.combine(self.start, time(), UTC))
        if self.end:
            day_after = datetime.combine(self.end + timedelta(days=1), time(), UTC)
            found.append(Decision.decided_at < day_after)
        return found


@dataclass(frozen=True, slots=True)
class DecisionRow:
    id: int
    ruleset: str
    version: int
    outputs: Any
    exception: bool
    error: str | None
    source: str
    caller: str
    decided_at: datetime
    resolution: ResolutionRecord | None  # the latest


@dataclass(frozen=True, slots=True)
class Page:
    rows: tuple[DecisionRow, ...]  # newest first
    newer: bool  # more matching decisions after the first shown
    older: bool  # more matching decisions before the last shown


def _base(filters: Filters, *columns: Any) -> Select[Any]:
    query = select(*columns).join(Ruleset, Ruleset.id == Decision.ruleset_id)
    return query.where(*filters.conditions())


def search(
    session: Session,
    filters: Filters,
    size: int,
    before: int | None = None,
    after: int | None = None,
) -> Page:
    """Up to ``size`` matching decisions, newest first: the newest, those just older than id
    ``before``, or those just newer than id ``after``."""
    query = _base(filters, Decision.id, Decision, Ruleset.name)
    page = newest_first(session, query, Decision.id, size, before, after)
    found = [(row[1], str(row[2])) for row in page.rows]
    latest = latest_resolutions(session, [d.id for d, _ in found])
    rows = tuple(
        DecisionRow(
            d.id,
            name,
            d.version_number,
            d.outputs,
            d.exception,
            d.error,
            d.source,
            d.caller,
            d.decided_at,
            latest.get(d.id),
        )
        for d, name in found
    )
    return Page(rows, page.newer, page.older)

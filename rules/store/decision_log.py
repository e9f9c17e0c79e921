"""Streaming the decision log: a ruleset's decisions with their latest resolutions, in id order.

For readers that walk many decisions (the proposer's backtest and analysis) without holding
them: SQLAlchemy Core on the tables, never an ORM entity per row, and keyset pagination on
``(ruleset_id, id)`` (the ``ix_decisions_ruleset_id_id`` index), ``batch`` decisions a query,
each batch's resolutions fetched with one range query on ``resolutions.decision_id``. Memory
is one batch, whatever the window's size.

JSON columns are read as text and parsed once per distinct text (a bounded cache per stream):
logged facts and outputs repeat a lot, and parsing is most of a reader's cost. Equal stored
values are therefore shared between cases, read-only: ``facts`` and ``resolution`` are
read-only mappings; ``outputs`` is the stored JSON value (a dict, a list of dicts, or None),
which a reader must not modify.

Filters (all optional, combined with AND):

* ``after`` / ``before``: decision ids, both exclusive (``after < id < before``);
* ``since`` / ``until``: decision times, ``since <= decided_at < until`` (aware datetimes);
* ``version``: decisions made by that version number only;
* ``exceptions_only``: decisions flagged as exceptions, or whose latest resolution overrides
  the automated result (DESIGN §3: an override is an exception too);
* ``last``: of the decisions the other filters select, only the last ``last`` (by id).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from types import MappingProxyType
from typing import Any

from sqlalchemy import ColumnElement, Table, Text, cast, func, select
from sqlalchemy.orm import Session

from rules.errors import InvalidRequestError, NotFoundError, Problem, suggest
from rules.store.decisions.resolutions import latest_is_override
from rules.store.models import Base

__all__ = ["LoggedCase", "count_cases", "stream_cases"]

DECISIONS: Table = Base.metadata.tables["decisions"]
RESOLUTIONS: Table = Base.metadata.tables["resolutions"]
RULESETS: Table = Base.metadata.tables["rulesets"]
PARSED = 20_000  # distinct JSON texts kept parsed per stream, per column
LOOKUP = 1000  # decision ids per IN list when a batch's ids are sparse
_EMPTY: Mapping[str, Any] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class LoggedCase:
    """One logged decision as stored, with the outputs of its latest resolution, if any.

    ``version`` is the number of the version that decided it; ``resolution`` the outputs a
    person chose (None: unresolved) and ``override`` whether that resolution overrode an
    automated result."""

    decision_id: int
    version: int
    facts: Mapping[str, Any]
    outputs: Any
    rule_ids: tuple[str, ...]
    matched: tuple[str, ...]
    exception: bool
    error: str | None
    decided_at: datetime
    resolution: Mapping[str, Any] | None = None
    override: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "decision_id": self.decision_id,
            "version": self.version,
            "facts": dict(self.facts),
            "outputs": self.outputs,
            "rule_ids": list(self.rule_ids),
            "matched": list(self.matched),
            "exception": self.exception,
            "error": self.error,
            "decided_at": self.decided_at.isoformat(),
            "resolution": None if self.resolution is None else dict(self.resolution),
            "override": self.override,
        }


class _Parsed:
    """JSON texts parsed once each, up to PARSED of them (then the cache starts over)."""

    def __init__(self, convert: Any = None) -> None:
        self._seen: dict[str, Any] = {}
        self._convert = convert

    def __call__(self, text: str | None) -> Any:
        if text is None:
            return None
        found = self._seen.get(text, self)
        if found is self:
            found = json.loads(text)
            if self._convert is not None:
                found = self._convert(found)
            if len(self._seen) >= PARSED:
                self._seen.clear()
            self._seen[text] = found
        return found


def _frozen(value: Any) -> Any:
    return MappingProxyType(value) if isinstance(value, dict) else value


def _ruleset_id(session: Session, name: str) -> int:
    found = session.scalar(select(RULESETS.c.id).where(RULESETS.c.name == name))
    if found is None:
        hint = suggest(name, session.scalars(select(RULESETS.c.name)).all())
        raise NotFoundError(
            f"no ruleset named {name!r}" + (f"; did you mean {hint!r}?" if hint else "")
        )
    return int(found)


@dataclass(frozen=True, slots=True)
class _Filter:
    ruleset_id: int
    conditions: tuple[ColumnElement[bool], ...]


def _filter(
    session: Session,
    name: str,
    after: int,
    before: int | None,
    since: datetime | None,
    until: datetime | None,
    version: int | None,
    exceptions_only: bool,
    last: int | None,
) -> _Filter:
    for label, when in (("since", since), ("until", until)):
        if when is not None and when.tzinfo is None:
            raise InvalidRequestError(
                "the window is not valid",
                [Problem("RB930", label, "give a time with its UTC offset, e.g. 2026-01-01Z")],
            )
    if last is not None and last < 1:
        raise InvalidRequestError(
            "the window is not valid", [Problem("RB930", "last", "give at least 1 decision")]
        )
    ruleset_id = _ruleset_id(session, name)
    d = DECISIONS.c
    conditions: list[ColumnElement[bool]] = [d.ruleset_id == ruleset_id, d.id > after]
    if before is not None:
        conditions.append(d.id < before)
    if since is not None:
        conditions.append(d.decided_at >= since)
    if until is not None:
        conditions.append(d.decided_at < until)
    if version is not None:
        conditions.append(d.version_number == version)
    if exceptions_only:
        conditions.append(d.exception.is_(True) | latest_is_override())
    if last is not None:
        first = session.scalar(
            select(d.id).where(*conditions).order_by(d.id.desc()).offset(last - 1).limit(1)
        )
        if first is not None:
            conditions.append(d.id >= first)
    return _Filter(ruleset_id, tuple(conditions))


def count_cases(
    session: Session,
    name: str,
    *,
    after: int = 0,
    before: int | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    version: int | None = None,
    exceptions_only: bool = False,
    last: int | None = None,
) -> int:
    """How many decisions :func:`stream_cases` with the same filters would yield."""
    where = _filter(session, name, after, before, since, until, version, exceptions_only, last)
    query = select(func.count()).select_from(DECISIONS).where(*where.conditions)
    return int(session.scalar(query) or 0)


def _resolutions(session: Session, ids: list[int]) -> dict[int, tuple[str, bool]]:
    """The latest resolution (outputs as JSON text, override) of each decision in ``ids``
    (ascending): one range query when they are dense, as in an unfiltered log, else ``IN``
    lists, so a sparse batch never reads the resolutions of the decisions between its own."""
    r = RESOLUTIONS.c
    columns = (r.decision_id, cast(r.outputs, Text), r.override)
    if ids[-1] - ids[0] < 2 * len(ids):
        wheres: list[ColumnElement[bool]] = [r.decision_id.between(ids[0], ids[-1])]
    else:
        wheres = [r.decision_id.in_(ids[i : i + LOOKUP]) for i in range(0, len(ids), LOOKUP)]
    latest: dict[int, tuple[str, bool]] = {}
    for where in wheres:
        for row in session.execute(select(*columns).where(where).order_by(r.id)).all():
            latest[row[0]] = (row[1], row[2])
    return latest


def stream_cases(
    session: Session,
    name: str,
    *,
    after: int = 0,
    before: int | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    version: int | None = None,
    exceptions_only: bool = False,
    last: int | None = None,
    batch: int = 5000,
) -> Iterator[LoggedCase]:
    """The ruleset's decisions selected by the filters (see the module), in id order.

    NotFoundError if there is no such ruleset; InvalidRequestError for a naive time or a
    ``last`` below 1 (both raised on the first ``next``)."""
    if batch < 1:
        raise ValueError("batch must be at least 1")
    where = _filter(session, name, after, before, since, until, version, exceptions_only, last)
    d = DECISIONS.c
    columns = (
        d.id,
        d.version_number,
        cast(d.facts, Text),
        cast(d.outputs, Text),
        cast(d.rule_ids, Text),
        cast(d.matched, Text),
        d.exception,
        d.error,
        d.decided_at,
    )
    facts, outputs = _Parsed(_frozen), _Parsed()
    ids, resolved = _Parsed(tuple), _Parsed(_frozen)
    cursor = 0
    while True:
        query = select(*columns).where(*where.conditions, d.id > cursor).order_by(d.id)
        rows = session.execute(query.limit(batch)).all()
        if not rows:
            return
        cursor = rows[-1][0]
        latest = _resolutions(session, [row[0] for row in rows])
        for row in rows:
            found = latest.get(row[0])
            yield LoggedCase(
                row[0],
                row[1],
                facts(row[2]) or _EMPTY,
                outputs(row[3]),
                ids(row[4]),
                ids(row[5]),
                row[6],
                row[7],
                row[8],
                None if found is None else resolved(found[0]),
                False if found is None else found[1],
            )
        if len(rows) < batch:
            return

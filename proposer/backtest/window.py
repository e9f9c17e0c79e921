"""Which logged decisions a backtest replays: a decision id range, a time range, the last N.

``Window.parse`` reads the command line's ``--window``: ``all`` (the default), or one or more
comma-separated terms, all of which apply::

    last:10000                the last 10,000 decisions (of those the other terms select)
    ids:100-2000              decision ids 100 to 2000, both included (``ids:100-`` from 100 on)
    since:2026-01-01          decided at or after that time (a date is midnight UTC; a time
    until:2026-02-01T12:00Z   without an offset is UTC); ``until`` excludes its own instant
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from proposer.errors import BacktestError
from rules.errors import Problem

__all__ = ["Window"]

TERMS = ("last", "ids", "since", "until")


@dataclass(frozen=True, slots=True)
class Window:
    """Decisions with ``after < id < before``, ``since <= decided_at < until``, and of those
    the last ``last``. The default, ``Window()``, is every logged decision."""

    after: int = 0
    before: int | None = None
    since: datetime | None = None
    until: datetime | None = None
    last: int | None = None

    @classmethod
    def parse(cls, text: str) -> Window:
        """The window a ``--window`` string describes (see the module); BacktestError naming
        the term at fault otherwise."""
        fields: dict[str, Any] = {}
        text = text.strip()
        if text in ("", "all"):
            return cls()
        for term in text.split(","):
            kind, sep, value = term.strip().partition(":")
            problem = _term(kind, sep, value.strip(), fields)
            if problem is not None:
                raise BacktestError(f"the window {text!r} is not valid", [problem])
        return cls(**fields)

    def to_dict(self) -> dict[str, Any]:
        return {
            "after": self.after,
            "before": self.before,
            "since": self.since.isoformat() if self.since else None,
            "until": self.until.isoformat() if self.until else None,
            "last": self.last,
        }


def _problem(kind: str, message: str) -> Problem:
    return Problem("RB930", f"window.{kind}" if kind in TERMS else "window", message)


def _term(kind: str, sep: str, value: str, fields: dict[str, Any]) -> Problem | None:
    if kind not in TERMS or not sep:
        return _problem(kind, f"unknown term {kind!r}; terms are {', '.join(TERMS)} (last:1000)")
    if kind in fields or (kind == "ids" and "after" in fields):
        return _problem(kind, f"{kind} is given twice")
    if kind == "last":
        if not value.isdigit() or int(value) < 1:
            return _problem(kind, f"{value!r} is not a count; give last:N with N >= 1")
        fields["last"] = int(value)
        return None
    if kind == "ids":
        return _ids(value, fields)
    when = _time(value)
    if when is None:
        return _problem(kind, f"{value!r} is not a date or time; give e.g. {kind}:2026-01-31")
    fields[kind] = when
    return None


def _ids(value: str, fields: dict[str, Any]) -> Problem | None:
    low, dash, high = value.partition("-")
    if not dash or not low.isdigit() or (high and not high.isdigit()):
        return _problem("ids", f"{value!r} is not an id range; give ids:FIRST-LAST, e.g. ids:1-500")
    if high and int(high) < int(low):
        return _problem("ids", f"the range {value} ends before it starts")
    fields["after"] = int(low) - 1
    fields["before"] = int(high) + 1 if high else None
    return None


def _time(value: str) -> datetime | None:
    try:
        if len(value) == 10:
            day = date.fromisoformat(value)
            return datetime(day.year, day.month, day.day, tzinfo=UTC)
        when = datetime.fromisoformat(value)
    except ValueError:
        return None
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)

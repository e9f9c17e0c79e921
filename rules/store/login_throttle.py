"""Login throttling that holds across gunicorn workers: failed sign-ins live in the database
(the ``login_failures`` table; the review app's sign-in calls this service).

Each failure is a row of ``login_failures`` (username tried, client address, time). A sign-in
is refused without checking the password while, within the last ``window``:

* the username has ``per_user`` failures (default 5 in 15 minutes: guessing one password), or
* the address has ``per_address`` failures (default 20: spraying many usernames).

Refused attempts are not recorded, so a lockout ends at a fixed time: when the oldest failure
that keeps the count at the limit leaves the window. A success clears the username's
failures (not the address's). Rows older than the window are pruned on each failure. The
count and the insert are not one atomic step: concurrent guesses can exceed the limit by the
number of requests in flight, never by more.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from rules.store.models import LoginFailure

__all__ = ["Limits", "Lockout", "clear", "lockout", "record_failure"]

FIELD_MAX = 64
PER_USER = 5
PER_ADDRESS = 20
WINDOW_SECONDS = 15 * 60


@dataclass(frozen=True, slots=True)
class Limits:
    per_user: int = PER_USER
    per_address: int = PER_ADDRESS
    window: timedelta = timedelta(seconds=WINDOW_SECONDS)

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Limits:
        """``LOGIN_MAX_FAILURES``, ``LOGIN_MAX_FAILURES_PER_ADDRESS``, ``LOGIN_LOCKOUT_SECONDS``."""
        return cls(
            int(config.get("LOGIN_MAX_FAILURES", PER_USER)),
            int(config.get("LOGIN_MAX_FAILURES_PER_ADDRESS", PER_ADDRESS)),
            timedelta(seconds=int(config.get("LOGIN_LOCKOUT_SECONDS", WINDOW_SECONDS))),
        )


@dataclass(frozen=True, slots=True)
class Lockout:
    """Sign-ins are refused until ``until`` because of too many failures for ``key``."""

    key: str  # "username" or "address"
    until: datetime

    def seconds_left(self, now: datetime) -> int:
        return max(1, int((self.until - now).total_seconds() + 0.999))


def _short(value: str) -> str:
    return value[:FIELD_MAX]


def _until(
    session: Session,
    column: InstrumentedAttribute[str],
    value: str,
    limit: int,
    now: datetime,
    window: timedelta,
) -> datetime | None:
    """When the lock on ``column == value`` ends, if ``limit`` failures are in the window."""
    recent = list(
        session.scalars(
            select(LoginFailure.at)
            .where(column == _short(value), LoginFailure.at > now - window)
            .order_by(LoginFailure.at.desc())
            .limit(limit)
        )
    )
    if limit < 1 or len(recent) < limit:
        return None
    return recent[-1] + window


def lockout(
    session: Session, username: str, address: str, now: datetime, limits: Limits
) -> Lockout | None:
    """The lockout in force for this username or address, if any (the later one)."""
    found = [
        Lockout(key, until)
        for key, column, value, limit in (
            ("username", LoginFailure.username, username, limits.per_user),
            ("address", LoginFailure.address, address, limits.per_address),
        )
        if (until := _until(session, column, value, limit, now, limits.window)) is not None
    ]
    return max(found, key=lambda lock: lock.until, default=None)


def record_failure(
    session: Session, username: str, address: str, now: datetime, limits: Limits
) -> None:
    """Record a failed sign-in, and forget failures that have left the window."""
    session.execute(delete(LoginFailure).where(LoginFailure.at <= now - limits.window))
    session.add(LoginFailure(username=_short(username), address=_short(address), at=now))
    session.flush()


def clear(session: Session, username: str) -> None:
    """Forget the username's failures after a successful sign-in."""
    session.execute(delete(LoginFailure).where(LoginFailure.username == _short(username)))

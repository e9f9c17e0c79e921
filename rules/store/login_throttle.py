"""Sign-in throttling that nobody can turn into a lockout, shared by every worker through the
database (the ``login_throttle`` table; :mod:`rules.store.credentials` calls it).

Failures are counted per *pair* — the username tried and the client's address — and per
address across usernames (the row whose username is ``''``). The policy (:class:`Limits`):

* **Per pair, growing delays.** A pair's first ``free_per_pair`` failures cost nothing; after
  ``n`` failures, the next attempt of that pair is refused until ``min(2 ** (n - free), cap)``
  seconds after the last one ("try again in N s"). A pair with no failure in
  ``pair_memory`` starts again from nothing; a success clears the pair.
* **Per address, a budget.** Once an address has ``free_per_address`` failures within
  ``address_window`` (of each other), every pair *that has failed* from that address also
  waits ``min(2 ** (m - budget), cap)`` seconds after the address's last failure. That slows
  guessing many passwords for many usernames from one place to a trickle.
* **Never a lockout.** Nothing is counted per username alone, so the real user at another
  address always gets in with the right password; and a pair with no failures is never
  refused, so someone else behind the same NAT or proxy gets in with their own password.
  The one thing an attacker can delay is *their own pair*: a user whose username they guess
  from the user's own address (the same NAT) waits at most ``cap``.

**Atomic on PostgreSQL.** :func:`check` is one transaction: it upserts and row-locks the
address's row and then the pair's (always in that order, so concurrent sign-ins cannot
deadlock), decides, and counts the attempt as a failure *before* the password is checked. An
in-flight attempt is therefore already counted when the next one is decided: N parallel wrong
sign-ins get at most ``free_per_pair`` password checks. A success then takes its count back
(:func:`succeeded`). Refused attempts are not counted, so a pause ends at a fixed time.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from rules.store.models import LoginThrottle

__all__ = ["ADDRESS_ROW", "Counted", "Limits", "Refusal", "check", "delay", "prune", "succeeded"]

FIELD_MAX = 64
ADDRESS_ROW = ""  # the username of an address's own row: no real username is empty


@dataclass(frozen=True, slots=True)
class Limits:
    """The throttle's settings (app config keys in :meth:`from_config`)."""

    free_per_pair: int = 5
    free_per_address: int = 20
    cap: timedelta = timedelta(minutes=15)
    pair_memory: timedelta = timedelta(hours=24)
    address_window: timedelta = timedelta(minutes=15)

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Limits:
        """``LOGIN_MAX_FAILURES`` (free per pair), ``LOGIN_MAX_FAILURES_PER_ADDRESS``,
        ``LOGIN_MAX_DELAY_SECONDS`` (the cap), ``LOGIN_PAIR_MEMORY_SECONDS``,
        ``LOGIN_ADDRESS_WINDOW_SECONDS``."""
        d = cls()

        def seconds(key: str, default: timedelta) -> timedelta:
            return timedelta(seconds=int(config.get(key, default.total_seconds())))

        return cls(
            int(config.get("LOGIN_MAX_FAILURES", d.free_per_pair)),
            int(config.get("LOGIN_MAX_FAILURES_PER_ADDRESS", d.free_per_address)),
            seconds("LOGIN_MAX_DELAY_SECONDS", d.cap),
            seconds("LOGIN_PAIR_MEMORY_SECONDS", d.pair_memory),
            seconds("LOGIN_ADDRESS_WINDOW_SECONDS", d.address_window),
        )


@dataclass(frozen=True, slots=True)
class Refusal:
    """The attempt was refused, unchecked, until ``until``: ``scope`` is ``"pair"`` (this
    username from this address) or ``"address"`` (the address's budget is spent).
    ``first`` is true for the first refusal of this pause (the one worth recording)."""

    scope: str
    until: datetime
    failures: int
    first: bool

    def seconds_left(self, now: datetime) -> int:
        return max(1, int((self.until - now).total_seconds() + 0.999))


@dataclass(frozen=True, slots=True)
class Counted:
    """The attempt may be checked; it is already counted as the pair's ``failures``-th
    failure and the address's ``address_failures``-th (until :func:`succeeded`)."""

    failures: int
    address_failures: int


def delay(failures: int, free: int, cap: timedelta) -> timedelta | None:
    """How long after the last failure the next attempt waits: none while ``failures`` is
    below ``free``, then 1 s, 2 s, 4 s ... up to ``cap``."""
    if failures < free:
        return None
    exponent = failures - free
    if exponent >= 40:  # 2**40 s is far beyond any cap
        return cap
    return min(timedelta(seconds=2**exponent), cap)


def _short(value: str) -> str:
    return value[:FIELD_MAX]


class _Row:
    """A locked counter row as read: its id, failures still remembered, and so on."""

    def __init__(self, ident: int, failures: int, last: datetime, noted: datetime | None) -> None:
        self.id, self.failures, self.last, self.noted = ident, failures, last, noted


def _lock(session: Session, address: str, username: str, now: datetime, memory: timedelta) -> _Row:
    """Upsert the row of (address, username) and hold its lock to the end of the transaction
    (``ON CONFLICT DO UPDATE`` locks the row it finds, on PostgreSQL and SQLite alike)."""
    dialect = session.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    values = {"address": address, "username": username, "failures": 0, "last_failure_at": now}
    upsert = insert(LoginThrottle).values(values)
    stmt = upsert.on_conflict_do_update(
        index_elements=["address", "username"], set_={"address": upsert.excluded.address}
    ).returning(
        LoginThrottle.id,
        LoginThrottle.failures,
        LoginThrottle.last_failure_at,
        LoginThrottle.noted_until,
    )
    ident, failures, last, noted = session.execute(stmt).one()
    if now - last > memory:
        failures = 0  # forgotten: a new start
    return _Row(ident, failures, last, noted)


def _pause(pair: _Row, place: _Row, limits: Limits) -> tuple[str, _Row, int, datetime] | None:
    """The pause in force for this pair, if any: its scope, row, failures and end."""
    found: list[tuple[str, _Row, int, datetime]] = []
    wait = delay(pair.failures, limits.free_per_pair, limits.cap)
    if wait is not None:
        found.append(("pair", pair, pair.failures, pair.last + wait))
    wait = delay(place.failures, limits.free_per_address, limits.cap)
    if wait is not None and pair.failures > 0:  # a pair with no failures is never refused
        found.append(("address", place, place.failures, place.last + wait))
    return max(found, key=lambda p: p[3], default=None)


def check(
    session: Session, username: str, address: str, now: datetime, limits: Limits
) -> Refusal | Counted:
    """Refuse this attempt, or count it as a failure in advance and let it be checked.

    Call in a transaction of its own, committed before the password is checked (the row
    locks are held to its end)."""
    address, username = _short(address), _short(username)
    place = _lock(session, address, ADDRESS_ROW, now, limits.address_window)
    pair = _lock(session, address, username, now, limits.pair_memory)
    pause = _pause(pair, place, limits)
    if pause is not None and now < pause[3]:
        scope, row, failures, until = pause
        first = row.noted != until
        if first:
            session.execute(
                update(LoginThrottle).where(LoginThrottle.id == row.id).values(noted_until=until)
            )
        return Refusal(scope, until, failures, first)
    for row in (place, pair):
        session.execute(
            update(LoginThrottle)
            .where(LoginThrottle.id == row.id)
            .values(failures=row.failures + 1, last_failure_at=now)
        )
    return Counted(pair.failures + 1, place.failures + 1)


def succeeded(session: Session, username: str, address: str) -> None:
    """The password was right: forget the pair's failures and take the attempt back from the
    address's count."""
    address, username = _short(address), _short(username)
    session.execute(
        delete(LoginThrottle).where(
            LoginThrottle.address == address, LoginThrottle.username == username
        )
    )
    session.execute(
        update(LoginThrottle)
        .where(
            LoginThrottle.address == address,
            LoginThrottle.username == ADDRESS_ROW,
            LoginThrottle.failures > 0,
        )
        .values(failures=LoginThrottle.failures - 1)
    )


def prune(session: Session, now: datetime, limits: Limits) -> int:
    """Forget rows whose last failure is older than any memory; how many were deleted."""
    oldest = now - max(limits.pair_memory, limits.address_window, limits.cap)
    result = session.execute(delete(LoginThrottle).where(LoginThrottle.last_failure_at < oldest))
    return int(getattr(result, "rowcount", 0) or 0)

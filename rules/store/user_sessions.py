"""Review-app sessions the server can end (the ``user_sessions`` table).

Signing in makes a 256-bit random token: the browser's (signed) cookie carries it, the table
keeps only its SHA-256, so a copy of the table opens no session. Every UI request looks the
token up — one query on a unique index, joined to the user — and the session is refused
when it was revoked, is past its absolute limit (``expires_at``, set at sign-in), or has been
idle longer than :attr:`SessionLimits.idle`. ``last_seen_at`` is written at most once per
:attr:`SessionLimits.touch_every`, not on every click, so idleness is measured to within that.

Sessions end on the server when the user signs out (:func:`revoke`), changes their password
(every other session: :func:`revoke_all` with ``keep``), or when an admin resets their
password or disables them (all of them). A cookie copied before any of these stops working
at once, on every worker.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from rules.store.models import User, UserSession, utcnow

__all__ = ["SessionLimits", "lookup", "prune", "revoke", "revoke_all", "start"]

USER_AGENT_MAX = 200
ADDRESS_MAX = 64


@dataclass(frozen=True, slots=True)
class SessionLimits:
    """How long a session lasts: ``idle`` without a request, ``absolute`` after sign-in."""

    idle: timedelta = timedelta(hours=8)
    absolute: timedelta = timedelta(hours=12)
    touch_every: timedelta = timedelta(seconds=60)

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> SessionLimits:
        """``PERMANENT_SESSION_LIFETIME`` (idle), ``SESSION_MAX_AGE_SECONDS`` (absolute),
        ``SESSION_TOUCH_SECONDS``."""
        d = cls()
        idle = config.get("PERMANENT_SESSION_LIFETIME", d.idle)
        if not isinstance(idle, timedelta):
            idle = timedelta(seconds=int(idle))
        absolute = int(config.get("SESSION_MAX_AGE_SECONDS", d.absolute.total_seconds()))
        touch = int(config.get("SESSION_TOUCH_SECONDS", d.touch_every.total_seconds()))
        return cls(idle, timedelta(seconds=absolute), timedelta(seconds=touch))


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def start(
    session: Session,
    user_id: int,
    now: datetime,
    limits: SessionLimits,
    *,
    user_agent: str = "",
    address: str = "",
) -> tuple[int, str]:
    """A new session for ``user_id``: its id and its token (returned once, never stored)."""
    token = secrets.token_urlsafe(32)
    row = UserSession(
        token_hash=_digest(token),
        user_id=user_id,
        created_at=now,
        last_seen_at=now,
        expires_at=now + limits.absolute,
        user_agent=user_agent[:USER_AGENT_MAX],
        address=address[:ADDRESS_MAX],
    )
    session.add(row)
    session.flush()
    return row.id, token


def lookup(
    session: Session, token: str, now: datetime, limits: SessionLimits
) -> tuple[int, User] | None:
    """The id and user row of the live session ``token`` opens, or None (unknown, revoked,
    expired, idle too long, or its user disabled). For the store's services: the review app
    asks :func:`rules.store.credentials.current_user`."""
    found = session.execute(
        select(UserSession.id, UserSession.last_seen_at, UserSession.expires_at, User)
        .join(User, User.id == UserSession.user_id)
        .where(UserSession.token_hash == _digest(token), UserSession.revoked_at.is_(None))
    ).one_or_none()
    if found is None:
        return None
    ident, last_seen, expires, user = found
    if now >= expires or now - last_seen > limits.idle or user.disabled:
        return None
    if now - last_seen >= limits.touch_every:
        session.execute(update(UserSession).where(UserSession.id == ident).values(last_seen_at=now))
    return ident, user


def revoke(session: Session, token: str) -> bool:
    """End the session ``token`` opens; whether there was a live one."""
    result = session.execute(
        update(UserSession)
        .where(UserSession.token_hash == _digest(token), UserSession.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )
    return bool(getattr(result, "rowcount", 0))


def revoke_all(session: Session, user_id: int, keep: int | None = None) -> int:
    """End every session of ``user_id`` (but session ``keep``); how many were live."""
    query = update(UserSession).where(
        UserSession.user_id == user_id, UserSession.revoked_at.is_(None)
    )
    if keep is not None:
        query = query.where(UserSession.id != keep)
    result = session.execute(query.values(revoked_at=utcnow()))
    return int(getattr(result, "rowcount", 0) or 0)


def prune(session: Session, now: datetime) -> int:
    """Delete sessions past their absolute limit (revoked or not); how many."""
    result = session.execute(delete(UserSession).where(UserSession.expires_at <= now))
    return int(getattr(result, "rowcount", 0) or 0)

"""People and applications: users with hashed passwords and roles; API keys with scopes.

One password policy (:func:`password_problems`) for every way a password is set: at least
:data:`MIN_PASSWORD` characters, at most :data:`MAX_PASSWORD`, and not the username. An admin's
reset (:func:`reset_password`) ends the user's sessions and makes them choose a new password
at their next sign-in; disabling a user ends their sessions too. Checking a password at
sign-in, throttled and audited, is :mod:`rules.store.credentials`.

An API key is ``rbk_<prefix>_<secret>``; the database keeps the prefix (to find the row) and
the SHA-256 of the whole key. Keys are 256-bit random, so a fast hash is the right one (a slow
password hash protects low-entropy secrets, and would cost every API call milliseconds).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from rules import audit
from rules.errors import ConflictError, InvalidRequestError, NotFoundError, Problem, suggest
from rules.store import user_sessions
from rules.store.models import ROLES, SCOPES, ApiKey, User, utcnow

__all__ = [
    "ApiKeyInfo",
    "KeyCache",
    "UserInfo",
    "authenticate_key",
    "authenticate_user",
    "change_password",
    "create_api_key",
    "create_user",
    "dummy_hash",
    "get_user",
    "list_api_keys",
    "list_users",
    "password_problems",
    "reset_password",
    "revoke_api_key",
    "set_user_disabled",
    "set_user_role",
    "stored_password",
    "user_info",
]

USERNAME = re.compile(r"^[A-Za-z0-9_.@-]{1,64}$")
MIN_PASSWORD = 10
MAX_PASSWORD = 1024
# A hash to check against when the user does not exist, so timing does not reveal that.
_DUMMY_HASH = generate_password_hash("not a password, only for timing")


@dataclass(frozen=True, slots=True)
class UserInfo:
    id: int
    username: str
    role: str
    disabled: bool
    created_at: datetime
    must_change_password: bool = False


@dataclass(frozen=True, slots=True)
class ApiKeyInfo:
    id: int
    name: str
    prefix: str
    scopes: frozenset[str]
    created_at: datetime
    revoked: bool

    @property
    def actor(self) -> str:
        return f"apikey:{self.name}"


def user_info(row: User) -> UserInfo:
    """The record of a ``users`` row (for the store's services; rows stay in the store)."""
    return UserInfo(
        row.id, row.username, row.role, row.disabled, row.created_at, row.must_change_password
    )


_user = user_info


def password_problems(username: str, password: str) -> list[Problem]:
    """What is wrong with ``password`` as ``username``'s password (RB703), if anything."""
    if len(password) < MIN_PASSWORD:
        return [Problem("RB703", "password", f"use at least {MIN_PASSWORD} characters")]
    if len(password) > MAX_PASSWORD:
        return [Problem("RB703", "password", f"use at most {MAX_PASSWORD} characters")]
    if password.casefold() == username.casefold():
        return [Problem("RB703", "password", "choose a password that is not the username")]
    return []


def _key(row: ApiKey) -> ApiKeyInfo:
    scopes = frozenset(s for s in row.scopes.split(",") if s)
    return ApiKeyInfo(
        row.id, row.name, row.prefix, scopes, row.created_at, row.revoked_at is not None
    )


def create_user(session: Session, username: str, role: str, password: str, actor: str) -> UserInfo:
    problems = []
    if not USERNAME.match(username):
        problems.append(Problem("RB701", "username", "use 1-64 letters, digits or _ . @ -", None))
    if role not in ROLES:
        problems.append(
            Problem(
                "RB702",
                "role",
                f"unknown role {role!r}; one of {', '.join(ROLES)}",
                suggest(role, ROLES),
            )
        )
    problems += password_problems(username, password)
    if problems:
        raise InvalidRequestError("the user cannot be created", problems)
    if session.scalar(select(User.id).where(User.username == username)) is not None:
        raise ConflictError(f"a user named {username!r} already exists")
    row = User(
        username=username,
        role=role,
        password_hash=generate_password_hash(password),
        created_by=actor,
    )
    session.add(row)
    session.flush()
    audit.append(
        session, actor, "user.created", f"user:{username}", {"username": username, "role": role}
    )
    return _user(row)


def authenticate_user(
    session: Session,
    username: str,
    password: str,
    check: Callable[[str, str], bool] = check_password_hash,
) -> UserInfo | None:
    """The user if the password is right and the account enabled; None otherwise. Unthrottled:
    sign-in goes through :func:`rules.store.credentials.check_password`."""
    found = stored_password(session, username)
    if not check(found[1] if found else _DUMMY_HASH, password) or found is None:
        return None
    return None if found[0].disabled else found[0]


def stored_password(session: Session, username: str) -> tuple[UserInfo, str] | None:
    """The user named ``username`` and their password hash, if there is such a user."""
    row = session.scalar(select(User).where(User.username == username))
    return None if row is None else (_user(row), row.password_hash)


def dummy_hash() -> str:
    """A hash to check a password against when there is no user, so that the time taken
    does not reveal whether a username exists."""
    return _DUMMY_HASH


def list_users(session: Session) -> list[UserInfo]:
    return [_user(r) for r in session.scalars(select(User).order_by(User.username))]


def get_user(session: Session, user_id: int) -> UserInfo | None:
    """The user with id ``user_id``, if there is one (disabled or not)."""
    row = session.get(User, user_id)
    return None if row is None else _user(row)


def _locked_user(session: Session, username: str) -> User:
    audit.lock_head(session)
    row = session.scalar(select(User).where(User.username == username).with_for_update())
    if row is None:
        raise NotFoundError(f"no user named {username!r}")
    return row


def _keeps_an_admin(session: Session, row: User) -> None:
    """Refuse to disable or demote the last enabled admin: nobody could manage users after."""
    others = session.scalar(
        select(User.id).where(User.role == "admin", User.disabled.is_(False), User.id != row.id)
    )
    if row.role == "admin" and not row.disabled and others is None:
        raise ConflictError(
            f"{row.username!r} is the last enabled admin; make another user admin first"
        )


def set_user_disabled(session: Session, username: str, disabled: bool, actor: str) -> UserInfo:
    """Disable (the user can no longer sign in; their sessions end) or enable a user, with a
    ``user.disabled`` / ``user.enabled`` audit event; nothing is recorded if unchanged."""
    row = _locked_user(session, username)
    if row.disabled == disabled:
        return _user(row)
    if disabled:
        _keeps_an_admin(session, row)
    row.disabled = disabled
    if disabled:
        user_sessions.revoke_all(session, row.id)
    session.flush()
    action = "user.disabled" if disabled else "user.enabled"
    audit.append(session, actor, action, f"user:{username}", {"username": username})
    return _user(row)


def set_user_role(session: Session, username: str, role: str, actor: str) -> UserInfo:
    """Give a user another role, with a ``user.role_changed`` audit event."""
    if role not in ROLES:
        raise InvalidRequestError(
            "the role cannot be changed",
            [Problem("RB702", "role", f"unknown role {role!r}; one of {', '.join(ROLES)}")],
        )
    row = _locked_user(session, username)
    if row.role == role:
        return _user(row)
    if role != "admin":
        _keeps_an_admin(session, row)
    previous, row.role = row.role, role
    session.flush()
    payload = {"username": username, "role": role, "previous": previous}
    audit.append(session, actor, "user.role_changed", f"user:{username}", payload)
    return _user(row)


def reset_password(session: Session, username: str, password: str, actor: str) -> UserInfo:
    """An admin sets ``username``'s password: every session of theirs ends, and at their next
    sign-in they must choose a new one. Audited as ``user.password_reset`` (never the
    password)."""
    problems = password_problems(username, password)
    if problems:
        raise InvalidRequestError("the password cannot be reset", problems)
    row = _locked_user(session, username)
    row.password_hash = generate_password_hash(password)
    row.must_change_password = True
    ended = user_sessions.revoke_all(session, row.id)
    session.flush()
    payload = {"username": username, "sessions_ended": ended}
    audit.append(session, actor, "user.password_reset", f"user:{username}", payload)
    return _user(row)


def change_password(
    session: Session, username: str, checked_hash: str, password: str, keep_session: int | None
) -> UserInfo:
    """The user sets their own password, having given the current one (whose hash was
    ``checked_hash``; if it changed meanwhile, nothing is done). Their other sessions end; a
    forced change is satisfied. Audited as ``user.password_changed``."""
    problems = password_problems(username, password)
    if problems:
        raise InvalidRequestError("the password cannot be changed", problems)
    row = _locked_user(session, username)
    if not hmac.compare_digest(row.password_hash, checked_hash):
        raise ConflictError("the password was changed meanwhile; sign in again")
    row.password_hash = generate_password_hash(password)
    row.must_change_password = False
    ended = user_sessions.revoke_all(session, row.id, keep=keep_session)
    session.flush()
    payload = {"username": username, "sessions_ended": ended}
    audit.append(session, f"user:{username}", "user.password_changed", f"user:{username}", payload)
    return _user(row)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create_api_key(
    session: Session, name: str, scopes: list[str] | tuple[str, ...], actor: str
) -> tuple[ApiKeyInfo, str]:
    """A new key; the plaintext is returned once and never stored."""
    problems = []
    if not name.strip() or len(name) > 100:
        problems.append(Problem("RB704", "name", "give the key a name of 1-100 characters"))
    clean = sorted({s.strip() for s in scopes if s.strip()})
    for scope in clean:
        if scope not in SCOPES:
            problems.append(
                Problem(
                    "RB705",
                    "scopes",
                    f"unknown scope {scope!r}; use {', '.join(SCOPES)}",
                    suggest(scope, SCOPES),
                )
            )
    if not clean:
        problems.append(Problem("RB705", "scopes", f"give at least one of {', '.join(SCOPES)}"))
    if problems:
        raise InvalidRequestError("the API key cannot be created", problems)
    prefix = secrets.token_hex(6)
    token = f"rbk_{prefix}_{secrets.token_urlsafe(32)}"
    row = ApiKey(
        name=name, prefix=prefix, key_hash=_digest(token), scopes=",".join(clean), created_by=actor
    )
    session.add(row)
    session.flush()
    audit.append(
        session, actor, "apikey.created", f"apikey:{prefix}", {"name": name, "scopes": clean}
    )
    return _key(row), token


def revoke_api_key(session: Session, prefix: str, actor: str) -> ApiKeyInfo:
    row = session.scalar(select(ApiKey).where(ApiKey.prefix == prefix))
    if row is None:
        raise NotFoundError(f"no API key with prefix {prefix!r}")
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        session.flush()
        audit.append(session, actor, "apikey.revoked", f"apikey:{prefix}", {"name": row.name})
    return _key(row)


def list_api_keys(session: Session) -> list[ApiKeyInfo]:
    return [_key(r) for r in session.scalars(select(ApiKey).order_by(ApiKey.id))]


def authenticate_key(session: Session, token: str) -> ApiKeyInfo | None:
    """The key's record if ``token`` is a valid, unrevoked key."""
    parts = token.split("_")
    if len(parts) < 3 or parts[0] != "rbk":
        return None
    row = session.scalar(select(ApiKey).where(ApiKey.prefix == parts[1]))
    if row is None or row.revoked_at is not None:
        return None
    if not hmac.compare_digest(row.key_hash, _digest(token)):
        return None
    return _key(row)


class KeyCache:
    """Remembers verified keys for a few seconds, so each API call need not query for its key.

    A revocation takes effect everywhere within ``ttl`` seconds: a remembered key is never
    used once its time is up. It is read again a little before that (the last ``refresh``
    share of its time) by the first request that finds it then, while the process's other
    threads go on using it: before, every thread that had a request at the moment it
    expired queried for it at once (up to a worker's eight, every five seconds, under load).
    A key that read finds revoked is forgotten at once."""

    def __init__(self, ttl: float = 5.0, size: int = 1024, refresh: float = 0.2) -> None:
        self.ttl = ttl
        self.size = size
        self.refresh = ttl * refresh  # seconds before its time is up that a key is read again
        self._lock = threading.Lock()
        self._keys: dict[str, tuple[float, ApiKeyInfo]] = {}
        self._reading: set[str] = set()  # keys a thread is reading again now

    def get(
        self, sessions: Callable[[], AbstractContextManager[Session]], token: str
    ) -> ApiKeyInfo | None:
        """The key ``token`` is, or None; ``sessions`` opens a session only on a cache miss,
        or to read a key again shortly before its time is up."""
        digest = _digest(token)
        now = time.monotonic()
        again = False
        with self._lock:
            hit = self._keys.get(digest)
            if hit is not None and hit[0] > now:
                if hit[0] - now > self.refresh or digest in self._reading:
                    return hit[1]
                self._reading.add(digest)  # this request reads it again; the others use it
                again = True
        try:
            with sessions() as session:
                info = authenticate_key(session, token)
        finally:
            if again:
                with self._lock:
                    self._reading.discard(digest)
        with self._lock:
            if info is None:
                self._keys.pop(digest, None)  # revoked meanwhile: not one request more
            else:
                if len(self._keys) >= self.size:
                    self._keys.clear()
                self._keys[digest] = (now + self.ttl, info)
        return info

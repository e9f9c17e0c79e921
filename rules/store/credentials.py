"""Checking a person's password — throttled, audited — and the sessions it opens (DESIGN §6).

The review app's sign-in, sign-out, "who is this request" and "change my password" are the
services here; the tables belong to :mod:`~rules.store.login_throttle`,
:mod:`~rules.store.user_sessions` and :mod:`~rules.store.accounts`.

A password check (:func:`verify`) is three short steps, so that no lock is held while the
deliberately slow hash is computed: (1) one transaction asks the throttle and counts the
attempt as a failure in advance (:func:`rules.store.login_throttle.check`), and reads the
user's hash; (2) the hash is checked, outside any transaction; (3) a wrong password is
recorded by :func:`failed`, a refusal by :func:`throttled`, a right one takes its count back
in the caller's transaction. :func:`failed` and :func:`throttled` are the one place each
outcome is logged (WARNING) and appended to the audit chain — ``auth.sign_in_failed`` for
every checked, wrong attempt; ``auth.throttled`` once per pause (its first refusal), so a
flood of refused requests cannot flood the chain. Events carry the username tried (cut to 64
characters) and the client's address, never the password.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime

from werkzeug.security import check_password_hash

from rules import audit
from rules.errors import InvalidRequestError, Problem
from rules.store import accounts, login_throttle, user_sessions
from rules.store.accounts import UserInfo
from rules.store.database import Database
from rules.store.login_throttle import Counted, Limits, Refusal
from rules.store.user_sessions import SessionLimits

__all__ = [
    "ANONYMOUS",
    "Attempt",
    "Current",
    "SignedIn",
    "change_password",
    "current_user",
    "failed",
    "sign_in",
    "sign_out",
    "throttled",
    "verify",
]

log = logging.getLogger(__name__)

ANONYMOUS = "anonymous"  # the audit actor of a sign-in attempt
FIELD_MAX = 64
PasswordCheck = Callable[[str, str], bool]  # (hash, password) -> right?


def _clean(value: str, limit: int) -> str:
    """``value`` as the tables and the chain can hold it: no NUL, no lone surrogate, cut."""
    text = value.replace("\x00", "\ufffd").encode("utf-8", "replace").decode("utf-8")
    return text[:limit]


@dataclass(frozen=True, slots=True)
class Attempt:
    """Who tried which password from where; ``actor`` is the audit actor (a signed-in user
    confirming their password is ``user:<name>``), ``form`` what they were doing."""

    username: str
    password: str
    address: str
    user_agent: str = ""
    actor: str = ANONYMOUS
    form: str = "sign-in"

    def cleaned(self) -> Attempt:
        return replace(
            self,
            username=_clean(self.username, FIELD_MAX),
            address=_clean(self.address, FIELD_MAX) or "unknown",
            user_agent=_clean(self.user_agent, user_sessions.USER_AGENT_MAX),
        )


@dataclass(frozen=True, slots=True)
class SignedIn:
    """A new session: its user, and the token for the cookie (never stored)."""

    user: UserInfo
    token: str
    session_id: int


@dataclass(frozen=True, slots=True)
class Current:
    """The user of a live session, and the session's id (kept when ending the others)."""

    user: UserInfo
    session_id: int


def verify(
    db: Database,
    attempt: Attempt,
    now: datetime,
    limits: Limits,
    check: PasswordCheck = check_password_hash,
) -> tuple[UserInfo, str] | Refusal | None:
    """The user and the hash their password matched; the throttle's refusal (the password
    unchecked); or None for a wrong password, an unknown or a disabled user. The attempt
    stays counted as a failure unless the caller calls :func:`login_throttle.succeeded`."""
    attempt = attempt.cleaned()
    with db.session() as s:
        counted = login_throttle.check(s, attempt.username, attempt.address, now, limits)
        stored = (
            None if isinstance(counted, Refusal) else accounts.stored_password(s, attempt.username)
        )
    if isinstance(counted, Refusal):
        throttled(db, attempt, counted, now)
        return counted
    right = check(stored[1] if stored else accounts.dummy_hash(), attempt.password)
    if stored is None or not right or stored[0].disabled:
        failed(db, attempt, counted, now, limits)
        return None
    return stored


def failed(db: Database, attempt: Attempt, counted: Counted, now: datetime, limits: Limits) -> None:
    """A checked, wrong attempt: logged, and appended as ``auth.sign_in_failed``."""
    log.warning(
        "failed %s for %r from %s (failure %d of this username from there)",
        attempt.form,
        attempt.username,
        attempt.address,
        counted.failures,
    )
    payload = {
        "username": attempt.username,
        "address": attempt.address,
        "form": attempt.form,
        "failures": counted.failures,
    }
    with db.session() as s:
        audit.append(s, attempt.actor, "auth.sign_in_failed", f"user:{attempt.username}", payload)
        login_throttle.prune(s, now, limits)


def throttled(db: Database, attempt: Attempt, refusal: Refusal, now: datetime) -> None:
    """A refused attempt: logged; the first refusal of a pause is appended as
    ``auth.throttled``."""
    wait = refusal.seconds_left(now)
    log.warning(
        "%s refused for %r from %s: %s paused for %d s after %d failures",
        attempt.form,
        attempt.username,
        attempt.address,
        refusal.scope,
        wait,
        refusal.failures,
    )
    if not refusal.first:
        return
    payload = {
        "username": attempt.username,
        "address": attempt.address,
        "form": attempt.form,
        "scope": refusal.scope,
        "failures": refusal.failures,
        "retry_after_seconds": wait,
    }
    with db.session() as s:
        audit.append(s, attempt.actor, "auth.throttled", f"user:{attempt.username}", payload)


def sign_in(
    db: Database,
    attempt: Attempt,
    now: datetime,
    limits: Limits,
    sessions: SessionLimits,
    check: PasswordCheck = check_password_hash,
) -> SignedIn | Refusal | None:
    """Check the password (:func:`verify`) and, if right, open a session."""
    attempt = attempt.cleaned()
    found = verify(db, attempt, now, limits, check)
    if not isinstance(found, tuple):
        return found
    with db.session() as s:
        again = accounts.stored_password(s, attempt.username)
        if again is None or again[1] != found[1] or again[0].disabled:
            return None  # changed or disabled while the hash was checked
        login_throttle.succeeded(s, attempt.username, attempt.address)
        user_sessions.prune(s, now)
        ident, token = user_sessions.start(
            s, again[0].id, now, sessions, user_agent=attempt.user_agent, address=attempt.address
        )
    return SignedIn(again[0], token, ident)


def current_user(db: Database, token: str, now: datetime, limits: SessionLimits) -> Current | None:
    """The user of the live session ``token`` opens (one indexed query), or None."""
    with db.session() as s:
        found = user_sessions.lookup(s, token, now, limits)
        return None if found is None else Current(accounts.user_info(found[1]), found[0])


def sign_out(db: Database, token: str) -> bool:
    """End the session ``token`` opens, on the server; whether it was live."""
    with db.session() as s:
        return user_sessions.revoke(s, token)


def change_password(
    db: Database,
    attempt: Attempt,
    new_password: str,
    session_id: int,
    now: datetime,
    limits: Limits,
    check: PasswordCheck = check_password_hash,
) -> UserInfo | Refusal | None:
    """A signed-in user sets a new password, giving their current one (``attempt.password``,
    checked and throttled like a sign-in). Their other sessions end; this one stays. None if
    the current password is wrong; :class:`InvalidRequestError` if the new one is refused."""
    attempt = attempt.cleaned()
    problems = accounts.password_problems(attempt.username, new_password)
    if not problems and new_password == attempt.password:
        problems = [Problem("RB703", "password", "choose a password other than the current one")]
    if problems:
        raise InvalidRequestError("the password cannot be changed", problems)
    found = verify(db, attempt, now, limits, check)
    if not isinstance(found, tuple):
        return found
    with db.session() as s:
        login_throttle.succeeded(s, attempt.username, attempt.address)
        return accounts.change_password(s, attempt.username, found[1], new_password, session_id)

"""Password checks, the sign-in throttle and server-side sessions, on the store's services
(:mod:`rules.store.credentials`), against real SQLite and PostgreSQL.

The review app's pages are tested in ``tests/review_app``; here: parallel wrong sign-ins never
get more password checks than the limit (the check and the count are one locked step), the
delays' shape, what the audit chain records (never a password) and that the chain still
verifies, hostile usernames, and sessions that end on the server.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select
from werkzeug.security import check_password_hash

from rules import audit
from rules.store import accounts, credentials, login_throttle
from rules.store.credentials import Attempt, SignedIn
from rules.store.database import Database
from rules.store.login_throttle import Limits, Refusal
from rules.store.models import LoginThrottle, UserSession
from rules.store.user_sessions import SessionLimits

PASSWORD = "correct horse battery staple"
WRONG = "not the password at all"
T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
LIMITS = Limits(free_per_pair=5, free_per_address=20)
SESSIONS = SessionLimits()


class Counting:
    """The real password check, counting its calls (thread-safe)."""

    def __init__(self) -> None:
        self.calls = 0
        self._lock = threading.Lock()

    def __call__(self, stored: str, password: str) -> bool:
        with self._lock:
            self.calls += 1
        return check_password_hash(stored, password)


@pytest.fixture
def ann(db: Database) -> Database:
    with db.session() as s:
        accounts.create_user(s, "ann", "analyst", PASSWORD, "cli:test")
    return db


def events(db: Database, action: str) -> list[audit.AuditRecord]:
    with db.session() as s:
        return list(audit.events(s, action=action))


def test_parallel_wrong_sign_ins_check_the_password_at_most_the_limit(ann: Database) -> None:
    """Twenty sign-ins in flight at once for one username from one address: five are checked
    against the hash, the rest refused unchecked (no request saw a stale count)."""
    check = Counting()
    barrier = threading.Barrier(20)

    def attempt(_: int) -> object:
        barrier.wait()
        return credentials.sign_in(
            ann, Attempt("ann", WRONG, "203.0.113.9"), T0, LIMITS, SESSIONS, check
        )

    with ThreadPoolExecutor(max_workers=20) as pool:
        outcomes = list(pool.map(attempt, range(20)))
    assert check.calls == LIMITS.free_per_pair
    assert outcomes.count(None) == LIMITS.free_per_pair
    refusals = [o for o in outcomes if isinstance(o, Refusal)]
    assert len(refusals) == 20 - LIMITS.free_per_pair
    assert {r.scope for r in refusals} == {"pair"}
    assert sum(r.first for r in refusals) == 1  # one pause, recorded once
    assert len(events(ann, "auth.sign_in_failed")) == LIMITS.free_per_pair
    assert len(events(ann, "auth.throttled")) == 1
    with ann.session() as s:
        assert audit.verify(s).ok


def test_the_right_password_elsewhere_is_never_refused(ann: Database) -> None:
    """The lockout denial of service of issue 12.11: however many failures an attacker makes
    for a username, the user signs in from their own address at once."""
    check = Counting()
    for n in range(12):
        credentials.sign_in(
            ann,
            Attempt("ann", WRONG, "203.0.113.9"),
            T0 + timedelta(seconds=n),
            LIMITS,
            SESSIONS,
            check,
        )
    attacker = credentials.sign_in(
        ann, Attempt("ann", PASSWORD, "203.0.113.9"), T0 + timedelta(seconds=12), LIMITS, SESSIONS
    )
    assert isinstance(attacker, Refusal)  # the attacker's own pair waits...
    real = credentials.sign_in(
        ann, Attempt("ann", PASSWORD, "198.51.100.7"), T0 + timedelta(seconds=12), LIMITS, SESSIONS
    )
    assert isinstance(real, SignedIn)  # ... the user elsewhere does not


@given(
    failures=st.integers(min_value=0, max_value=10_000),
    free=st.integers(min_value=0, max_value=50),
    cap=st.integers(min_value=1, max_value=86_400),
)
def test_delays_start_after_the_free_failures_double_and_stop_at_the_cap(
    failures: int, free: int, cap: int
) -> None:
    limit = timedelta(seconds=cap)
    wait = login_throttle.delay(failures, free, limit)
    if failures < free:
        assert wait is None
        return
    assert wait is not None
    assert timedelta(seconds=1) <= wait or wait == limit
    assert wait <= limit
    after = login_throttle.delay(failures + 1, free, limit)
    assert after is not None
    assert after == min(wait * 2, limit)


def test_the_address_budget_slows_failed_pairs_but_never_a_fresh_one(db: Database) -> None:
    limits = Limits(free_per_pair=5, free_per_address=4)
    with db.session() as s:
        accounts.create_user(s, "bob", "approver", PASSWORD, "cli:test")

    def try_(username: str, password: str = WRONG, seconds: float = 0) -> object:
        at = T0 + timedelta(seconds=seconds)
        return credentials.sign_in(
            db, Attempt(username, password, "192.0.2.1"), at, limits, SESSIONS
        )

    for n in range(4):
        assert try_(f"user{n}") is None
    refused = try_("user0")  # this pair failed before, and the address's budget is spent
    assert isinstance(refused, Refusal)
    assert (refused.scope, refused.until) == ("address", T0 + timedelta(seconds=1))
    assert try_("user9") is None  # a fresh pair is checked (and fails): 5 at the address
    assert isinstance(try_("user0", seconds=1.5), Refusal)  # now 2 s after the last one
    assert isinstance(try_("bob", PASSWORD), SignedIn)  # a fresh pair with the right password
    assert try_("user0", seconds=2) is None


def test_events_record_who_and_where_never_the_password(ann: Database) -> None:
    hostile = "x\x00" + "é" * 300 + "\ud800"
    for n, name in enumerate(["ann", "ann", hostile]):
        credentials.sign_in(ann, Attempt(name, WRONG + str(n), "2001:db8::1"), T0, LIMITS, SESSIONS)
    failed = events(ann, "auth.sign_in_failed")
    assert [e.payload["failures"] for e in failed] == [1, 2, 1]
    assert (failed[0].actor, failed[0].subject) == ("anonymous", "user:ann")
    assert failed[0].payload == {
        "username": "ann",
        "address": "2001:db8::1",
        "form": "sign-in",
        "failures": 1,
    }
    long_name = failed[2].payload["username"]
    assert len(long_name) == 64
    assert "\x00" not in long_name
    with ann.session() as s:
        exported = audit.export(s)
        assert audit.verify(s).ok
    assert WRONG not in exported


def test_a_disabled_user_with_the_right_password_is_refused_and_counted(ann: Database) -> None:
    with ann.session() as s:
        accounts.create_user(s, "root", "admin", PASSWORD, "cli:test")
        accounts.set_user_disabled(s, "ann", True, "user:root")
    outcome = credentials.sign_in(ann, Attempt("ann", PASSWORD, "192.0.2.1"), T0, LIMITS, SESSIONS)
    assert outcome is None
    assert [e.payload["username"] for e in events(ann, "auth.sign_in_failed")] == ["ann"]


def test_a_success_clears_the_pair_and_gives_the_address_its_attempt_back(
    ann: Database,
) -> None:
    for _ in range(3):
        credentials.sign_in(ann, Attempt("ann", WRONG, "192.0.2.1"), T0, LIMITS, SESSIONS)
    signed = credentials.sign_in(ann, Attempt("ann", PASSWORD, "192.0.2.1"), T0, LIMITS, SESSIONS)
    assert isinstance(signed, SignedIn)
    with ann.session() as s:
        rows = s.execute(select(LoginThrottle.username, LoginThrottle.failures)).all()
    assert rows == [("", 3)]  # the pair forgotten; the address keeps its 3 failures


def _sign_in(db: Database, at: datetime = T0) -> SignedIn:
    signed = credentials.sign_in(
        db, Attempt("ann", PASSWORD, "192.0.2.1", "UA/1"), at, LIMITS, SESSIONS
    )
    assert isinstance(signed, SignedIn)
    return signed


def test_sessions_are_stored_hashed_and_end_on_the_server(ann: Database) -> None:
    first, second = _sign_in(ann), _sign_in(ann)
    with ann.session() as s:
        stored = s.scalars(select(UserSession.token_hash).order_by(UserSession.id)).all()
    assert stored == [hashlib.sha256(t.token.encode()).hexdigest() for t in (first, second)]
    assert credentials.current_user(ann, first.token, T0, SESSIONS) is not None
    assert credentials.sign_out(ann, first.token) is True
    assert credentials.current_user(ann, first.token, T0, SESSIONS) is None
    assert credentials.current_user(ann, second.token, T0, SESSIONS) is not None
    assert credentials.current_user(ann, "forged", T0, SESSIONS) is None


@pytest.mark.parametrize(
    ("ending", "keeps_second"),
    [
        (lambda s: accounts.reset_password(s, "ann", "temporary pass 1", "user:root"), False),
        (lambda s: accounts.set_user_disabled(s, "ann", True, "user:root"), False),
        (lambda s: accounts.set_user_role(s, "ann", "auditor", "user:root"), True),
    ],
    ids=["reset", "disable", "role change"],
)
def test_a_reset_or_disabling_ends_every_session(
    ann: Database, ending: Callable[..., object], keeps_second: bool
) -> None:
    with ann.session() as s:
        accounts.create_user(s, "root", "admin", PASSWORD, "cli:test")
    first, second = _sign_in(ann), _sign_in(ann)
    with ann.session() as s:
        ending(s)
        accounts.set_user_disabled(s, "ann", False, "user:root")  # enabling again revives none
    for signed in (first, second):
        alive = credentials.current_user(ann, signed.token, T0, SESSIONS) is not None
        assert alive is keeps_second


def test_a_password_change_keeps_this_session_and_ends_the_others(ann: Database) -> None:
    this, other = _sign_in(ann), _sign_in(ann)
    new = "a brand new passphrase"
    attempt = Attempt("ann", PASSWORD, "192.0.2.1", actor="user:ann", form="password")
    changed = credentials.change_password(ann, attempt, new, this.session_id, T0, LIMITS)
    assert changed is not None
    assert not isinstance(changed, Refusal)
    assert credentials.current_user(ann, this.token, T0, SESSIONS) is not None
    assert credentials.current_user(ann, other.token, T0, SESSIONS) is None
    event = events(ann, "user.password_changed")[-1]
    assert event.payload == {"username": "ann", "sessions_ended": 1}
    assert new not in str(event.payload)
    with ann.session() as s:
        assert accounts.authenticate_user(s, "ann", new) is not None
        assert accounts.authenticate_user(s, "ann", PASSWORD) is None


def test_idle_and_absolute_limits_come_from_the_table(ann: Database) -> None:
    signed = _sign_in(ann)
    at = T0
    for _ in range(5):  # active every 2 hours: the idle limit (8 h) never passes
        at += timedelta(hours=2)
        assert credentials.current_user(ann, signed.token, at, SESSIONS) is not None
    assert at == T0 + timedelta(hours=10)
    assert credentials.current_user(ann, signed.token, T0 + timedelta(hours=12), SESSIONS) is None
    idle = _sign_in(ann, at)
    assert (
        credentials.current_user(ann, idle.token, at + timedelta(hours=8, seconds=1), SESSIONS)
        is None
    )


def test_last_seen_is_written_at_most_once_a_minute(ann: Database) -> None:
    signed = _sign_in(ann)

    def last_seen() -> datetime:
        with ann.session() as s:
            return s.scalars(select(UserSession.last_seen_at)).one()

    credentials.current_user(ann, signed.token, T0 + timedelta(seconds=59), SESSIONS)
    assert last_seen() == T0
    credentials.current_user(ann, signed.token, T0 + timedelta(seconds=61), SESSIONS)
    assert last_seen() == T0 + timedelta(seconds=61)


def test_sessions_past_their_limit_are_deleted_at_the_next_sign_in(ann: Database) -> None:
    _sign_in(ann)
    _sign_in(ann, T0 + timedelta(hours=13))
    with ann.session() as s:
        assert s.scalars(select(UserSession.created_at)).all() == [T0 + timedelta(hours=13)]

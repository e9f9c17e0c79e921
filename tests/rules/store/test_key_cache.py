"""The API key cache: a key is read once per few seconds per process, never used once its
time is up, and read again shortly before by one request while the others go on."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any

import pytest
from sqlalchemy.orm import Session

from rules.store import accounts
from rules.store.accounts import KeyCache
from rules.store.database import Database


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    found = Clock()
    monkeypatch.setattr(accounts, "time", found)
    return found


class Counted:
    """``db.session`` counting the sessions opened; ``gate``, when set, holds the next one
    open until it is released."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.opened = 0
        self.gate: threading.Event | None = None
        self.inside = threading.Event()

    @contextmanager
    def _session(self) -> Iterator[Session]:
        self.opened += 1
        gate, self.gate = self.gate, None
        with self.db.session() as s:
            if gate is not None:
                self.inside.set()
                assert gate.wait(timeout=30)
            yield s

    def __call__(self) -> AbstractContextManager[Session]:
        return self._session()


def _key(db: Database) -> tuple[Any, str]:
    with db.session() as s:
        return accounts.create_api_key(s, "app", ["decide"], "admin")


def _read(db: Database) -> tuple[Any, str, KeyCache, Counted]:
    """A new key, read once into a new cache (five seconds) through counted sessions."""
    info, token = _key(db)
    cache, sessions = KeyCache(ttl=5.0), Counted(db)
    assert cache.get(sessions, token) == info
    return info, token, cache, sessions


def test_a_key_is_read_once_while_it_is_fresh(db: Database, clock: Clock) -> None:
    info, token, cache, sessions = _read(db)
    clock.now += 3.9  # before the last fifth of its time
    assert cache.get(sessions, token) == info
    assert sessions.opened == 1


def test_near_its_time_one_request_reads_it_again_while_the_others_use_it(
    db: Database, clock: Clock
) -> None:
    info, token, cache, sessions = _read(db)
    clock.now += 4.5  # in the last fifth: the next request reads it again
    sessions.gate = gate = threading.Event()
    reader = threading.Thread(target=cache.get, args=(sessions, token))
    reader.start()
    assert sessions.inside.wait(timeout=30)
    # Meanwhile the other requests are answered from the cache, without a query.
    assert [cache.get(sessions, token) for _ in range(5)] == [info] * 5
    assert sessions.opened == 2
    gate.set()
    reader.join()
    clock.now += 3.5  # 8 s after the first read (its time was up at 5): fresh from the second
    assert cache.get(sessions, token) == info
    assert sessions.opened == 2


def test_a_key_whose_time_is_up_is_never_used(db: Database, clock: Clock) -> None:
    info, token, cache, sessions = _read(db)
    with db.session() as s:
        accounts.revoke_api_key(s, info.prefix, "admin")
    clock.now += 5.0
    assert cache.get(sessions, token) is None
    assert sessions.opened == 2


def test_a_key_found_revoked_when_read_again_is_forgotten_at_once(
    db: Database, clock: Clock
) -> None:
    info, token, cache, sessions = _read(db)
    with db.session() as s:
        accounts.revoke_api_key(s, info.prefix, "admin")
    clock.now += 4.5
    assert cache.get(sessions, token) is None  # the read again finds it revoked
    assert cache.get(sessions, token) is None  # and the cache no longer answers with it
    assert sessions.opened == 3


def test_a_read_again_that_fails_leaves_the_key_for_its_time(db: Database, clock: Clock) -> None:
    info, token, cache, _ = _read(db)
    clock.now += 4.5

    def failing() -> AbstractContextManager[Session]:
        raise RuntimeError("the database is down")

    with pytest.raises(RuntimeError):
        cache.get(failing, token)
    # Still within its time: answered from the cache; the next request reads it again.
    sessions = Counted(db)
    assert cache.get(sessions, token) == info
    assert sessions.opened == 1

"""The database pool and time-outs from the environment (:mod:`rules.store.pool`), on real
SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import pool, text
from sqlalchemy.exc import OperationalError

from rules.errors import SettingsError
from rules.store import Database, PoolSettings, versions
from rules.store.decisions import DecisionService
from tests.rules.store.storecases import APPROVE, NAME, mortgage


def test_defaults_are_sqlalchemys_and_none_for_the_timeouts() -> None:
    found = PoolSettings.from_env({})
    assert (found.pool_size, found.max_overflow, found.pool_timeout) == (5, 10, 30.0)
    assert (found.statement_timeout_ms, found.lock_timeout_ms, found.sqlite_busy_ms) == (
        0,
        None,
        30000,
    )


def test_bad_values_name_each_variable() -> None:
    env = {"RULEBOOK_DB_POOL_SIZE": "0", "RULEBOOK_DB_STATEMENT_TIMEOUT_MS": "5s"}
    with pytest.raises(SettingsError) as caught:
        PoolSettings.from_env(env)
    assert [p.location for p in caught.value.problems] == [
        "RULEBOOK_DB_POOL_SIZE",
        "RULEBOOK_DB_STATEMENT_TIMEOUT_MS",
    ]
    assert "'5s' is not a whole number of milliseconds" in str(caught.value)


def test_the_environment_reaches_the_engine(db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RULEBOOK_DB_POOL_SIZE", "3")
    monkeypatch.setenv("RULEBOOK_DB_MAX_OVERFLOW", "1")
    monkeypatch.setenv("RULEBOOK_DB_LOCK_TIMEOUT_MS", "1500")
    monkeypatch.setenv("RULEBOOK_DB_STATEMENT_TIMEOUT_MS", "200")
    db = Database(db_url)
    try:
        with db.engine.connect() as conn:
            if db.dialect == "sqlite":
                assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 1500
                return
            assert conn.exec_driver_sql("SHOW lock_timeout").scalar() == "1500ms"
            assert conn.exec_driver_sql("SHOW statement_timeout").scalar() == "200ms"
            # the URL's own options (the test schema's search_path) are kept
            assert "rb_test_" in str(conn.exec_driver_sql("SHOW search_path").scalar())
            with pytest.raises(OperationalError, match="statement timeout"):
                conn.execute(text("SELECT pg_sleep(2)"))
        assert (db.engine.pool.size(), db.engine.pool._max_overflow) == (3, 1)  # type: ignore[attr-defined]
    finally:
        db.dispose()


def test_an_engine_with_its_own_pool_class_keeps_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RULEBOOK_DB_POOL_SIZE", "3")
    db = Database("postgresql+psycopg://nobody@127.0.0.1:1/none", poolclass=pool.NullPool)
    assert isinstance(db.engine.pool, pool.NullPool)
    db.dispose()


@pytest.mark.postgres
@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
@pytest.mark.parametrize("group_commit_ms", [2.0, 0.0], ids=["group", "autocommit"])
def test_the_decision_writers_connections_have_the_pools_settings(
    db_url: str, monkeypatch: pytest.MonkeyPatch, group_commit_ms: float
) -> None:
    """The decision writers open their PostgreSQL connections with psycopg directly (group
    commit's and the autocommit writer's): they too get the connect timeout, the server's
    timeouts and the URL's own options."""
    monkeypatch.setenv("RULEBOOK_DB_CONNECT_TIMEOUT", "7")
    monkeypatch.setenv("RULEBOOK_DB_LOCK_TIMEOUT_MS", "1500")
    monkeypatch.setenv("RULEBOOK_DB_STATEMENT_TIMEOUT_MS", "2500")
    db = Database(db_url)
    try:
        with db.session() as s:
            versions.create_ruleset(s, mortgage(), "cli:setup")
        service = DecisionService(db, group_commit_ms=group_commit_ms)
        service.decide(NAME, APPROVE, caller="p")
        writer: Any = service._writer
        if group_commit_ms:
            conn = writer.committer._take()
        else:
            [conn] = writer._open
        assert conn.info.get_parameters()["connect_timeout"] == "7"
        assert conn.execute("SHOW statement_timeout").fetchone()[0] == "2500ms"
        assert conn.execute("SHOW lock_timeout").fetchone()[0] == "1500ms"
        assert "rb_test_" in conn.execute("SHOW search_path").fetchone()[0]
    finally:
        db.dispose()

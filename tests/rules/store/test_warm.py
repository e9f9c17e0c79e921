"""Warming a server process up before it takes requests: its first decision then does no
first-time work (no version read or compiled, no connection opened)."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from sqlalchemy import text

from review_app import serve_app
from rules.core.engine import Engine
from rules.store import versions
from rules.store.database import Database
from rules.store.decisions import DecisionService
from rules.store.decisions.group import GroupWriter
from rules.store.extension import DECISIONS_EXTENSION, warm
from tests.rules.store.storecases import APPROVE, NAME, mortgage, variant


def _ruleset(db: Database) -> None:
    with db.session() as s:
        versions.create_ruleset(s, mortgage(), "cli:test")


def test_warm_compiles_each_active_version_and_opens_the_commit_connection(db: Database) -> None:
    _ruleset(db)
    with db.session() as s:  # a ruleset with no active version is not compiled
        versions.create_ruleset(s, variant(mortgage(), lambda d: None, "inactive"), "t")
        s.execute(text("UPDATE rulesets SET active_number = NULL WHERE name = 'inactive'"))
    engine = Engine()
    service = DecisionService(db, engine)
    assert service.warm() == 1
    assert engine.compilations == 1
    writer = service._writer
    assert isinstance(writer, GroupWriter)
    if db.dialect == "postgresql":
        (conn,) = writer.committer._idle  # type: ignore[attr-defined]
        prepared = conn.execute("SELECT count(*) FROM pg_prepared_statements").fetchone()[0]
        assert prepared == 3  # the one-row INSERT, guarded or not, and the group statement
    service.decide(NAME, APPROVE, request_id="first", caller="p")
    assert engine.compilations == 1  # the first decision compiled nothing
    if db.dialect == "postgresql":
        assert len(writer.committer._all) == 1  # type: ignore[attr-defined]  # nor connected


def test_warm_up_with_a_database_that_cannot_be_used_logs_and_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from review_app import create_app

    app = create_app(
        {"TESTING": True, "DATABASE_URL": "postgresql+psycopg://nobody@127.0.0.1:1/none"}
    )
    with caplog.at_level(logging.WARNING, logger="rules.store.extension"):
        warm(app)
    assert any("warm-up incomplete" in r.getMessage() for r in caplog.records)


def test_serve_app_is_the_app_warmed_up(
    db: Database, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    _ruleset(db)
    monkeypatch.setenv("RULEBOOK_DATABASE_URL", db_url)
    monkeypatch.setenv("RULEBOOK_SECRET_KEY", "t")
    app = serve_app()
    try:
        service: Any = app.extensions[DECISIONS_EXTENSION]
        assert service.engine.loaded() >= 1
        assert NAME in {key[0] for key in service._targets._found}
    finally:
        app.extensions["rulebook.db"].dispose()

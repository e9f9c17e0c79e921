"""Errors are problem+json: routing errors, database failures (503, nothing half-written) and
unexpected exceptions (500), never an HTML page under /api."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import create_engine, event, text
from sqlalchemy.exc import OperationalError

from rules import audit
from rules.store import decisions
from rules.store.extension import DECISIONS_EXTENSION
from rules.store.models import Decision, Resolution
from tests.rules.api.conftest import APPROVE, REFER, Api, count, db_of, fields, make_app

UNREACHABLE = "postgresql+psycopg://postgres@127.0.0.1:1/rulebook"


def _failure(statement: str) -> OperationalError:
    return OperationalError(statement, None, Exception("server closed the connection"))


def test_unknown_routes_and_methods_under_api_are_problems(api: Api) -> None:
    r = api.get("/api/v1/nothing-here")
    assert r.status_code == 404
    fields(r)
    r = api.client.delete("/api/v1/rulesets")
    assert r.status_code == 405
    assert "GET" in r.headers["Allow"]
    fields(r)
    r = api.get("/api/v1/decisions/-1")  # not an id: no route
    assert r.status_code == 404
    fields(r)


def test_pages_outside_the_api_keep_flask_errors(api: Api) -> None:
    r = api.get("/not-an-api-page", key=None)
    assert r.status_code == 404
    assert r.mimetype == "text/html"


@pytest.fixture
def unreachable() -> Iterator[Flask]:
    app = make_app(UNREACHABLE)
    yield app
    db_of(app).dispose()


def test_an_unreachable_database_is_a_503_problem(unreachable: Flask) -> None:
    client = unreachable.test_client()
    r = client.post(
        "/api/v1/rulesets/mortgage-approval/decisions",
        json={"facts": APPROVE},
        headers={"Authorization": "Bearer rbk_0123456789ab_secret"},
    )
    assert r.status_code == 503
    assert int(r.headers["Retry-After"]) > 0
    assert "nothing was recorded" in r.get_json()["detail"]
    fields(r)
    ready = client.get("/readyz")
    assert ready.status_code == 503
    fields(ready)
    assert client.get("/healthz").status_code == 200  # liveness never asks the database


@contextmanager
def failing(app: Flask, prefix: str) -> Iterator[None]:
    """The database fails on a commit (``prefix`` "COMMIT") or a statement starting ``prefix``."""
    engine = db_of(app).engine

    def commit(conn: Any) -> None:
        raise _failure("COMMIT")

    def execute(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.lstrip().upper().startswith(prefix):
            raise _failure(statement)

    name, listener = (
        ("commit", commit) if prefix == "COMMIT" else ("before_cursor_execute", execute)
    )
    event.listen(engine, name, listener)
    try:
        yield
    finally:
        event.remove(engine, name, listener)


@contextmanager
def connection_killed(app: Flask) -> Iterator[None]:
    """PostgreSQL's decision path runs on each thread's own connection
    (rules.store.decisions.writers.AutocommitWriter), outside SQLAlchemy: the server terminates
    that connection, as a restart or failover would, in the middle of the INSERT (which waits
    for the ruleset's row, locked here). An idle connection the server ended is replaced before
    use (test_an_idle_connection_the_server_ended_is_replaced)."""
    pid = app.extensions[DECISIONS_EXTENSION]._writer._local.conn.info.backend_pid
    engine = db_of(app).engine
    waiting = text("SELECT wait_event_type = 'Lock' FROM pg_stat_activity WHERE pid = :pid")

    def kill() -> None:
        with engine.connect() as admin:
            deadline = time.monotonic() + 30
            while not admin.scalar(waiting, {"pid": pid}) and time.monotonic() < deadline:
                time.sleep(0.01)
            admin.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})

    with engine.connect() as locker:
        locker.execute(text("SELECT id FROM rulesets FOR UPDATE"))
        killer = threading.Thread(target=kill)
        killer.start()
        try:
            yield
        finally:
            killer.join()


@pytest.mark.parametrize("failure", ["INSERT INTO DECISIONS", "COMMIT"])
def test_a_decision_that_cannot_be_committed_is_never_answered(
    api: Api, app: Flask, failure: str
) -> None:
    postgres = db_of(app).dialect == "postgresql"
    if failure == "COMMIT" and postgres:
        # On PostgreSQL the decision is one autocommit statement (AutocommitWriter): its
        # commit cannot fail apart from the INSERT, which the other case makes fail.
        pytest.skip("no separate COMMIT on PostgreSQL's decision path")
    assert api.decide({"facts": APPROVE, "request_id": "first"}).status_code == 201
    with connection_killed(app) if postgres else failing(app, failure):
        r = api.decide({"facts": APPROVE, "request_id": "lost"})
    assert r.status_code == 503
    assert "Retry-After" in r.headers
    fields(r)
    assert count(app, Decision) == 1
    # The next request gets a working connection, and the request id was not used up.
    assert api.decide({"facts": APPROVE, "request_id": "lost"}).status_code == 201
    assert count(app, Decision) == 2


def test_an_idle_connection_the_server_ended_is_replaced(api: Api, app: Flask) -> None:
    """What a PostgreSQL restart does to every connection the app keeps (issue 12 item 6):
    the next request on them succeeds instead of failing with a 503."""
    db = db_of(app)
    if db.dialect != "postgresql":
        pytest.skip("SQLite has no server to end a connection")
    assert api.decide({"facts": APPROVE, "request_id": "before"}).status_code == 201
    writer = app.extensions[DECISIONS_EXTENSION]._writer._local.conn.info.backend_pid
    with db.engine.connect() as conn:
        pooled = conn.scalar(text("SELECT pg_backend_pid()"))
    admin = create_engine(db.url)
    try:
        with admin.connect() as conn:
            for pid in (writer, pooled):  # wait (up to 5 s) until each session has ended
                assert conn.scalar(text("SELECT pg_terminate_backend(:p, 5000)"), {"p": pid})
    finally:
        admin.dispose()
    assert api.get("/readyz", key=None).status_code == 200
    assert api.decide({"facts": APPROVE, "request_id": "after"}).status_code == 201
    assert count(app, Decision) == 2


def test_a_resolution_whose_audit_event_fails_leaves_no_row(api: Api, app: Flask) -> None:
    decision_id = api.decide({"facts": REFER}).get_json()["decision_id"]
    with failing(app, "INSERT INTO AUDIT_EVENTS"):
        r = api.post(
            f"/api/v1/decisions/{decision_id}/resolution", {"outputs": {"outcome": "approve"}}
        )
    assert r.status_code == 503
    fields(r)
    assert count(app, Resolution) == 0
    with db_of(app).session() as s:
        assert audit.verify(s).ok


def test_an_unexpected_error_is_a_500_problem_and_logged(
    api: Api, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("a defect")

    monkeypatch.setattr(decisions, "replay", broken)
    r = api.post("/api/v1/decisions/1/replay")
    assert r.status_code == 500
    fields(r)
    assert "a defect" not in r.get_data(as_text=True)  # internals are logged, not shown
    assert any(rec.exc_info and "a defect" in str(rec.exc_info[1]) for rec in caplog.records)


def test_a_body_over_the_size_limit_is_a_413_problem(app: Flask, api: Api) -> None:
    app.config["MAX_CONTENT_LENGTH"] = 100
    r = api.decide({"facts": {**APPROVE, "padding": "x" * 200}})
    assert r.status_code == 413
    fields(r)
    assert count(app, Decision) == 0

"""Errors are problem+json: routing errors, database failures (503, nothing half-written) and
unexpected exceptions (500), never an HTML page under /api."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
import pytest
from flask import Flask
from psycopg.pq import TransactionStatus
from sqlalchemy import create_engine, event, text
from sqlalchemy.exc import OperationalError

from rules import audit
from rules.store import decisions
from rules.store.decisions.group import CommitConnection
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


def _terminate(app: Flask, pid: int) -> None:
    """The server ends backend ``pid`` (as a restart or failover would), and it is gone."""
    with db_of(app).engine.connect() as admin:
        admin.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        for _ in range(500):
            gone = admin.execute(
                text("SELECT count(*) = 0 FROM pg_stat_activity WHERE pid = :pid"), {"pid": pid}
            ).scalar()
            admin.commit()  # the statistics are a snapshot per transaction
            if gone:
                return
            time.sleep(0.01)
    pytest.fail(f"backend {pid} did not exit")


class DyingConnection(CommitConnection):
    """A real psycopg connection to the test database whose backend the server terminates
    at the statement that commits (the group statement or an INSERT alone in autocommit, or
    COMMIT): before it reaches the server (``reached`` False) or once it has committed (the
    answer never arrives)."""

    app: Flask
    reached: bool

    def execute(self, query: Any, *args: Any, **kwargs: Any) -> Any:
        commits = query == "COMMIT" or (
            isinstance(query, str)
            and query.startswith("INSERT INTO decisions")
            and self.info.transaction_status == TransactionStatus.IDLE
        )
        if not commits:
            return super().execute(query, *args, **kwargs)
        return self._dies(lambda: super(DyingConnection, self).execute(query, *args, **kwargs))

    def run_prepared(self, query: bytes, params: Any) -> Any:
        if not query.startswith(b"INSERT INTO decisions"):
            return super().run_prepared(query, params)
        return self._dies(lambda: super(DyingConnection, self).run_prepared(query, params))

    def _dies(self, statement: Any) -> Any:
        if self.reached:
            statement()
        _terminate(self.app, self.info.backend_pid)
        if self.reached:
            return super().execute("SELECT 1")  # the connection is gone: OperationalError
        return statement()


@contextmanager
def connection_dies(app: Flask, at: str) -> Iterator[None]:
    """PostgreSQL's decision path runs on the process's group-commit connection
    (rules.store.decisions.group.PostgresCommitter), outside SQLAlchemy. ``at``: the server
    terminates it as the INSERT or the COMMIT is sent, before it commits ("INSERT INTO
    DECISIONS", "COMMIT"; an idle connection the server ended is replaced before use, see
    test_an_idle_connection_the_server_ended_is_replaced), or after ("AFTER COMMIT")."""
    committer = app.extensions[DECISIONS_EXTENSION]._writer.committer
    committer.close()

    def connect() -> psycopg.Connection[Any]:
        conn = DyingConnection.connect(committer._dsn, autocommit=True)
        conn.app, conn.reached = app, at == "AFTER COMMIT"
        return conn

    committer.connect = connect
    try:
        yield
    finally:
        del committer.connect
        committer.close()


@pytest.mark.parametrize("failure", ["INSERT INTO DECISIONS", "COMMIT"])
def test_a_decision_that_cannot_be_committed_is_never_answered(
    api: Api, app: Flask, failure: str
) -> None:
    postgres = db_of(app).dialect == "postgresql"
    assert api.decide({"facts": APPROVE, "request_id": "first"}).status_code == 201
    with connection_dies(app, failure) if postgres else failing(app, failure):
        r = api.decide({"facts": APPROVE, "request_id": "lost"})
    assert r.status_code == 503
    assert "Retry-After" in r.headers
    fields(r)
    if postgres and failure == "COMMIT":  # it cannot know: it says so, and how to retry
        assert r.get_json()["type"].endswith("outcome-unknown")
        assert r.get_json()["request_id"] == "lost"
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
    (conn,) = app.extensions[DECISIONS_EXTENSION]._writer.committer._idle  # group commit's
    writer = conn.info.backend_pid
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


@pytest.mark.postgres
@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
@pytest.mark.parametrize("request_id", ["client-id", None])
def test_a_decision_committed_before_the_connection_died_is_answered_once(
    api: Api, app: Flask, request_id: str | None
) -> None:
    """Issue 12, item 5: the COMMIT reached the server, the answer did not. The service
    finds the decision by its request id (the client's, or the one it generated) on a fresh
    connection and answers it: no 503 claiming nothing was recorded, and a retry with the
    same request id returns the same decision."""
    body: dict[str, Any] = {"facts": APPROVE}
    if request_id:
        body["request_id"] = request_id
    with connection_dies(app, "AFTER COMMIT"):
        r = api.decide(body)
    assert r.status_code == 201, r.get_json()
    decided = r.get_json()
    assert decided["request_id"] == (request_id or decided["request_id"])
    assert decided["request_id"]  # generated when the client sent none
    assert count(app, Decision) == 1
    again = api.decide({"facts": APPROVE, "request_id": decided["request_id"]})
    assert again.status_code == 200
    assert again.get_json()["decision_id"] == decided["decision_id"]
    assert count(app, Decision) == 1


def test_a_decision_without_request_id_gets_one(api: Api) -> None:
    first, second = (api.decide({"facts": APPROVE}).get_json() for _ in range(2))
    assert first["request_id"]
    assert second["request_id"]
    assert first["request_id"] != second["request_id"]


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


def test_a_batch_whose_commit_fails_names_the_request_ids_to_retry_with(
    api: Api, app: Flask
) -> None:
    path = "/api/v1/rulesets/mortgage-approval/decisions/batch"
    items: list[dict[str, Any]] = [{"facts": APPROVE}, {"facts": REFER, "request_id": "mine"}]
    with failing(app, "COMMIT"):
        r = api.post(path, {"items": items})
    assert r.status_code == 503
    body = r.get_json()
    assert body["type"].endswith("outcome-unknown")
    generated, mine = body["request_ids"]
    assert mine == "mine"
    assert generated
    assert count(app, Decision) == 0
    retry = [
        {**item, "request_id": rid} for item, rid in zip(items, body["request_ids"], strict=True)
    ]
    assert api.post(path, {"items": retry}).status_code == 201
    assert api.post(path, {"items": retry}).status_code == 200
    assert count(app, Decision) == 2

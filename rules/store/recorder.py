"""The decision API's hot path: one decision recorded by one SQL statement.

:func:`rules.store.decisions.decide` works in a caller's session: BEGIN, a query for the ruleset's
active version, an INSERT and COMMIT, four round trips to PostgreSQL. The :class:`Recorder`
gives the same result with one: it remembers each ruleset's active version per process, and
its INSERT carries the check that the version is still the active one::

    INSERT INTO decisions (...) SELECT :values FROM rulesets
     WHERE rulesets.id = :ruleset_id AND rulesets.active_number = :number
    ON CONFLICT (ruleset_id, request_id) DO NOTHING RETURNING id

On PostgreSQL it runs in autocommit mode, so the statement is its own transaction and is
durable when it returns. It runs on a connection each thread keeps, through psycopg directly
as a prepared statement: checking a connection out of SQLAlchemy's pool and back cost more
than the INSERT itself. No row back means the active version changed (reload it and decide
again) or the request_id is taken (answer with the stored decision). A pinned version needs
no check: versions are immutable. A connection the server dropped fails one request with a
503 and is replaced.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg.types.json import Jsonb
from sqlalchemy import Connection, Table, bindparam, select, true
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from rules.core.engine import Engine, default_engine
from rules.errors import ConflictError, InvalidRequestError, UnavailableError
from rules.store import Database
from rules.store.decisions import (
    DecisionRecord,
    _check_request_id,
    _existing,
    _repeat,
    _Target,
    _target,
)
from rules.store.models import Decision, Ruleset, utcnow

__all__ = ["Recorder"]

COLUMNS = (
    "ruleset_id",
    "version_id",
    "version_number",
    "version_hash",
    "facts",
    "outputs",
    "rule_ids",
    "matched",
    "exception",
    "error",
    "request_id",
    "api_key_id",
    "caller",
    "source",
    "decided_at",
)


def _statement(dialect: str, guarded: bool) -> Any:
    table = Decision.__table__
    assert isinstance(table, Table)
    values = [bindparam(c, type_=table.c[c].type) for c in COLUMNS]
    guard = Ruleset.active_number == bindparam("version_number") if guarded else true()
    source = select(*values).where(Ruleset.id == bindparam("ruleset_id"), guard)
    insert = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)
    return (
        insert.from_select(list(COLUMNS), source)
        .on_conflict_do_nothing(index_elements=["ruleset_id", "request_id"])
        .returning(table.c.id)
    )


class Recorder:
    """Decides and records single decisions for one database, safe to share between threads."""

    def __init__(self, db: Database, engine: Engine = default_engine) -> None:
        self.db = db
        self.engine = engine
        self._lock = threading.Lock()
        self._targets: dict[tuple[str, int | None], _Target] = {}
        self._guarded = _statement(db.dialect, guarded=True)
        self._pinned = _statement(db.dialect, guarded=False)
        self._pg = db.dialect == "postgresql"
        if self._pg:
            self._sql = str(self._guarded.compile(dialect=db.engine.dialect))
            self._pinned_sql = str(self._pinned.compile(dialect=db.engine.dialect))
            url = make_url(db.url).set(drivername="postgresql")
            self._dsn = url.render_as_string(hide_password=False)
        self._local = threading.local()
        self._open: list[psycopg.Connection[Any]] = []
        db.on_dispose(self.close)

    def close(self) -> None:
        """Close every thread's connection (the database is being disposed)."""
        with self._lock:
            conns, self._open = self._open, []
        for conn in conns:
            conn.close()

    def _insert_pg(self, sql: str, params: dict[str, Any]) -> int | None:
        """Run the INSERT on this thread's autocommit connection; its new id, or None."""
        conn: psycopg.Connection[Any] | None = getattr(self._local, "conn", None)
        try:
            if conn is None or conn.closed:
                conn = psycopg.connect(self._dsn, autocommit=True)
                self._local.conn = conn
                with self._lock:
                    self._open.append(conn)
            args = dict(params)
            for key in ("facts", "outputs", "rule_ids", "matched"):
                args[key] = Jsonb(args[key])
            row = conn.execute(sql, args, prepare=True).fetchone()
        except psycopg.OperationalError as exc:
            if conn is not None:
                conn.close()
            raise UnavailableError(
                "the database cannot be reached; nothing was recorded, send the request again"
            ) from exc
        return None if row is None else int(row[0])

    @contextmanager
    def _connection(self) -> Iterator[Connection]:
        with self.db.engine.begin() as conn:
            yield conn

    def _target(self, name: str, version: int | None, fresh: bool) -> _Target:
        key = (name, version)
        if not fresh:
            with self._lock:
                found = self._targets.get(key)
            if found is not None:
                return found
        with Session(self.db.engine) as session:
            target = _target(session, name, version)
        with self._lock:
            if len(self._targets) > 1024:
                self._targets.clear()
            self._targets[key] = target
        return target

    def decide(
        self,
        name: str,
        facts: object,
        *,
        version: int | None = None,
        request_id: str | None = None,
        caller: str,
        api_key_id: int | None = None,
        source: str = "api",
    ) -> tuple[DecisionRecord, bool]:
        """Decide and record; the decision and whether it is new (False: a repeated request)."""
        problem = _check_request_id(request_id, "request_id")
        if problem:
            raise InvalidRequestError("the request is not valid", [problem])
        for attempt in range(4):
            target = self._target(name, version, fresh=attempt > 0)
            clean, result = self.engine.decide(target.doc, facts)
            at = utcnow()
            params: dict[str, Any] = {
                "ruleset_id": target.ruleset_id,
                "version_id": target.version_id,
                "version_number": target.number,
                "version_hash": target.hash,
                "facts": clean,
                "outputs": result.outputs,
                "rule_ids": list(result.rule_ids),
                "matched": list(result.matched),
                "exception": result.exception,
                "error": result.error,
                "request_id": request_id,
                "api_key_id": api_key_id,
                "caller": caller,
                "source": source,
                "decided_at": at,
            }
            if self._pg:
                new_id = self._insert_pg(self._pinned_sql if version else self._sql, params)
                if new_id is None and request_id is not None:
                    with Session(self.db.engine) as session:
                        found = _existing(session, target, request_id)
                        if found is not None:
                            return _repeat(found, name, clean, "request_id"), False
            else:
                statement = self._pinned if version is not None else self._guarded
                with self._connection() as conn:
                    new_id = conn.execute(statement, params).scalar()
                    if new_id is None and request_id is not None:
                        with Session(bind=conn) as session:
                            found = _existing(session, target, request_id)
                            if found is not None:
                                return _repeat(found, name, clean, "request_id"), False
            if new_id is not None:
                record = DecisionRecord(
                    new_id,
                    name,
                    target.number,
                    target.hash,
                    clean,
                    result.outputs,
                    result.rule_ids,
                    result.matched,
                    result.exception,
                    result.error,
                    request_id,
                    caller,
                    source,
                    at,
                )
                return record, True
        raise ConflictError(f"the active version of {name} kept changing; send the request again")

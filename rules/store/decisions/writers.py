"""How a decision reaches the database: the one row it is, and the one statement that writes it.

Every decision is the column values :func:`decision_values` builds, whoever records it. A
single decision is written by one statement whose INSERT carries the check that the version
deciding is still the ruleset's active one (a pinned version needs no check: versions are
immutable)::

    INSERT INTO decisions (...) SELECT :values FROM rulesets
     WHERE rulesets.id = :ruleset_id AND rulesets.active_number = :number
    ON CONFLICT (ruleset_id, request_id) DO NOTHING RETURNING id

No row back means the active version changed (decide again with the new one) or the
request_id is taken (answer with the stored decision). Three writers run that statement:

- :class:`SessionWriter`, in a caller's transaction (which commits it, with whatever else it
  does: an import's resolutions, a test's setup);
- :class:`TransactionWriter`, in a transaction of its own on the database's pool (SQLite);
- :class:`AutocommitWriter`, PostgreSQL's hot path: the statement is its own transaction,
  durable when it returns, on a connection each thread keeps, through psycopg directly as a
  prepared statement (checking a connection out of SQLAlchemy's pool and back cost more than
  the INSERT itself). A connection the server closed (a restart) is noticed before use, with
  no round trip (:func:`~rules.store.database.connection_lost`), and replaced.

The fourth, the default for a process's own decisions, gathers several threads' decisions
into one transaction (group commit, :mod:`~rules.store.decisions.group`), with the same
``insert``; the autocommit and transaction writers serve ``RULEBOOK_GROUP_COMMIT_MS=0``.
"""

from __future__ import annotations

import threading
from datetime import datetime
from functools import cache
from typing import Any, Protocol

import psycopg
from psycopg.types.json import Jsonb
from sqlalchemy import Engine, Table, bindparam, select, true
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Session
from sqlalchemy.sql.dml import Insert

from rules import audit
from rules.core.document import Scalar
from rules.core.engine import Result
from rules.errors import OutcomeUnknownError, UnavailableError
from rules.store.database import connection_lost
from rules.store.decisions.target import Target
from rules.store.models import Decision, Ruleset

__all__ = [
    "COLUMNS",
    "AutocommitWriter",
    "SessionWriter",
    "TransactionWriter",
    "Writer",
    "decision_values",
    "insert_statement",
    "psycopg_statements",
]

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
JSON_COLUMNS = ("facts", "outputs", "rule_ids", "matched")
NOT_RECORDED = "the database cannot be reached; nothing was recorded, send the request again"
OUTCOME_UNKNOWN = (
    "the database failed while the decision was being committed; it may or may not be "
    "recorded: send the request again with the same request_id (a repeat returns the stored "
    "decision)"
)


def decision_values(
    target: Target,
    facts: dict[str, Scalar | None],
    result: Result,
    request_id: str | None,
    caller: str,
    api_key_id: int | None,
    source: str,
    at: datetime,
) -> dict[str, Any]:
    """The column values of one decision: what every writer records."""
    return {
        "ruleset_id": target.ruleset_id,
        "version_id": target.version_id,
        "version_number": target.number,
        "version_hash": target.hash,
        "facts": facts,
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


@cache
def insert_statement(dialect: str, guarded: bool, share: bool = True) -> Insert:
    """The one-decision INSERT for ``dialect``; ``guarded``: only while the version is active.

    A guarded INSERT also reads the ruleset's row FOR KEY SHARE (``share``; PostgreSQL), the
    lock its foreign key takes anyway (FOR SHARE, which every decision would add to the row,
    gave about half the throughput in back-to-back bench.http runs): an activation in
    progress holds that row FOR UPDATE from before it stamps its time until it commits, so
    the INSERT waits for it, then re-reads the row and, the version no longer active, writes
    nothing. A decision is stamped before its INSERT; so every decision recorded with a
    version is stamped before the next activation's time, and every decision made after it
    is stamped after (it read the new version once that had committed):
    "which version was active at T" agrees exactly with the recorded decisions."""
    table = Decision.__table__
    if not isinstance(table, Table):  # pragma: no cover - a declarative model's table
        raise TypeError("decisions is not a table")
    values = [bindparam(c, type_=table.c[c].type) for c in COLUMNS]
    guard = Ruleset.active_number == bindparam("version_number") if guarded else true()
    source = select(*values).where(Ruleset.id == bindparam("ruleset_id"), guard)
    if guarded and share:
        source = source.with_for_update(read=True, key_share=True)
    insert = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)
    return (
        insert.from_select(list(COLUMNS), source)
        .on_conflict_do_nothing(index_elements=["ruleset_id", "request_id"])
        .returning(table.c.id)
    )


def psycopg_statements(dialect: Dialect) -> dict[bool, str]:
    """:func:`insert_statement` on PostgreSQL as SQL text for psycopg, guarded (True) or not,
    for the writers that bypass SQLAlchemy."""
    return {
        guarded: str(insert_statement("postgresql", guarded).compile(dialect=dialect))
        for guarded in (True, False)
    }


class Writer(Protocol):
    def insert(self, values: dict[str, Any], guarded: bool) -> int | None:
        """Write one decision; its new id, or None (not active any more, or a repeat)."""


class SessionWriter:
    """The statement in the caller's transaction. It does not take the ruleset's row FOR
    SHARE: a caller's transaction may hold the audit chain's lock already (one that resolves,
    then decides), and a version writer holds the row while it waits for that lock. A caller
    that needs "active at T" exact takes the row itself first
    (:func:`~rules.store.decisions.target.find_target` with ``share``)."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.dialect = session.get_bind().dialect.name

    def insert(self, values: dict[str, Any], guarded: bool) -> int | None:
        if self.dialect == "postgresql":
            # The chain's lock before the ruleset's row (the foreign key's FOR KEY SHARE), in
            # the order an activation takes them: a transaction that decides and then
            # appends to the chain cannot deadlock with one.
            audit.lock_head(self.session)
        statement = insert_statement(self.dialect, guarded, share=False)
        found = self.session.execute(statement, values).scalar()
        return None if found is None else int(found)


class TransactionWriter:
    """The statement in a transaction of its own."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def insert(self, values: dict[str, Any], guarded: bool) -> int | None:
        with self.engine.begin() as conn:
            found = conn.execute(insert_statement(conn.dialect.name, guarded), values).scalar()
        return None if found is None else int(found)


class AutocommitWriter:
    """The statement alone, in autocommit, on each thread's own psycopg connection to
    PostgreSQL; safe to share between threads."""

    def __init__(self, engine: Engine, conninfo: str) -> None:
        self._sql = psycopg_statements(engine.dialect)
        self._dsn = conninfo  # Database.psycopg_conninfo: the pool's timeouts too
        self._local = threading.local()
        self._lock = threading.Lock()
        self._open: list[psycopg.Connection[Any]] = []

    def close(self) -> None:
        """Close every thread's connection (the database is being disposed)."""
        with self._lock:
            conns, self._open = self._open, []
        for conn in conns:
            conn.close()

    def _discard(self, conn: psycopg.Connection[Any]) -> None:
        with self._lock:
            if conn in self._open:
                self._open.remove(conn)
        conn.close()

    def insert(self, values: dict[str, Any], guarded: bool) -> int | None:
        conn: psycopg.Connection[Any] | None = getattr(self._local, "conn", None)
        if conn is not None and (conn.closed or connection_lost(conn)):
            self._discard(conn)  # the server restarted, or ended it: a new one, no 503
            conn = None
        if conn is None:
            try:
                conn = psycopg.connect(self._dsn, autocommit=True)
            except psycopg.OperationalError as exc:
                raise UnavailableError(NOT_RECORDED) from exc
            self._local.conn = conn
            with self._lock:
                self._open.append(conn)
        args = dict(values)
        for key in JSON_COLUMNS:
            args[key] = Jsonb(args[key])
        try:
            row = conn.execute(self._sql[guarded], args, prepare=True).fetchone()
        except psycopg.OperationalError as exc:
            # The statement is its own transaction: it may have committed before the
            # connection failed (the server stopped between COMMIT and the answer).
            self._discard(conn)
            raise OutcomeUnknownError(OUTCOME_UNKNOWN) from exc
        return None if row is None else int(row[0])

"""Group commit: the decisions a worker's threads make at the same time share one transaction
and one fsync (DESIGN §7).

:class:`GroupWriter` is a :class:`~rules.store.decisions.writers.Writer`: ``insert`` returns
only once the decision's own transaction has committed, with its new id or None, exactly as
the one-statement writers do, so the decide-and-record path above it does not change. A
thread that calls ``insert`` leads a group when fewer than ``max_leaders`` groups are being
committed (:data:`MAX_LEADERS` on PostgreSQL, each on a connection of its own; 1 on SQLite);
else it queues and sleeps on a lock of its own. A leader done with its group hands its place
to the first queued decision's thread, which takes every queued decision (up to
:data:`MAX_GROUP`); so a group's end wakes only its members and the next leader. A leader
that took the last free place also waits, at most :data:`WINDOW_MS`, for the threads still
deciding (never when it is alone, so a lone decision waits for nothing). The group goes
through a :class:`Committer`, which writes it in the group's order (so ids follow it) in one
transaction and commits once: on PostgreSQL a group whose members all have a request id is
one INSERT of the whole group (:func:`group_statement`), any other each member's own guarded
INSERT (the statement of :mod:`~rules.store.decisions.writers`). Every member then learns its
outcome:

- committed: its id, or None when its statement wrote nothing (the version is no longer the
  active one, or the request id is taken: the service decides again or answers the stored
  decision, as before);
- a second member with the request id of an earlier one in the same group is not written: it
  gets None and, once the group has committed, finds the first one stored (a repeat);
- the database failing fails every member with the same 503 (nothing is answered 2xx unless
  the whole group committed): :class:`~rules.errors.UnavailableError` when the transaction
  cannot have committed (no connection), :class:`~rules.errors.OutcomeUnknownError` when
  the connection failed once the group was sent with its COMMIT (the service then looks the
  request ids up on a fresh connection);
- any other error (one member's data refused by the database) makes the group commit again
  one member at a time, so that only the member at fault fails.
"""

from __future__ import annotations

import copy
import hashlib
import re
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from datetime import datetime
from typing import Any, Protocol

import psycopg
from psycopg import errors, generators
from psycopg.pq import ExecStatus, TransactionStatus
from psycopg.types.json import Jsonb
from sqlalchemy import Engine
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import OperationalError as SAOperationalError

from rules.errors import OutcomeUnknownError, UnavailableError
from rules.jsontext import dumps, encoder
from rules.store.database import connection_lost
from rules.store.decisions.writers import (
    COLUMNS,
    JSON_COLUMNS,
    NOT_RECORDED,
    OUTCOME_UNKNOWN,
    insert_statement,
    psycopg_statements,
)
from rules.store.models import Decision, Ruleset

__all__ = [
    "MAX_GROUP",
    "MAX_LEADERS",
    "WINDOW_MS",
    "CommitConnection",
    "GroupWriter",
    "PostgresCommitter",
    "SqliteCommitter",
]

WINDOW_MS = 2.0  # the longest a group waits for threads still deciding
MAX_GROUP = 64  # decisions in one transaction at most
# Groups committing at once in a process (PostgreSQL), each on its connection. One: a
# decision that arrives while a group commits joins the next group, so groups form whenever two
# threads decide at once. With 4 (as before) and gunicorn's 4 threads a worker, groups hardly
# ever formed (10,307 decisions took 10,053 commits under bench.http's load); with 1, 1.7
# decisions a commit and about a quarter less PostgreSQL CPU a decision (225 against 296 µs),
# at the same throughput within the noise of two paired bench.http runs.
MAX_LEADERS = 1
FAILS_ALL = (UnavailableError, psycopg.OperationalError, SAOperationalError)

Item = tuple[dict[str, Any], bool]  # a decision's column values, and whether it is guarded


class Committer(Protocol):
    def commit(self, items: Sequence[Item]) -> list[int | None]:
        """Write ``items`` in order in one transaction and commit; each new id or None."""

    def close(self) -> None:
        """Close any connection held."""

    def warm(self) -> None:
        """Open what the first commit would (a connection, its statements prepared)."""


class _Slot:
    __slots__ = ("done", "error", "guarded", "id", "lead", "values", "wake")

    def __init__(self, values: dict[str, Any], guarded: bool) -> None:
        self.values = values
        self.guarded = guarded
        self.done = False  # its group has committed (or failed)
        self.lead = False  # its thread holds a leader's place (it took one, or was handed one)
        self.id: int | None = None
        self.error: BaseException | None = None
        # Held from the start; released to wake its thread (done, or to lead): each thread
        # waits on its own lock, so a group's end wakes its members and one next leader,
        # not every thread of the process (a shared Condition's notify_all did).
        self.wake = threading.Lock()
        self.wake.acquire()

    def key(self) -> tuple[Any, Any] | None:
        rid = self.values.get("request_id")
        return None if rid is None else (self.values["ruleset_id"], rid)


class GroupWriter:
    """Commits the decisions of the threads of one process in groups; safe to share between
    threads. ``window_ms``: how long a group waits for threads still deciding."""

    def __init__(
        self,
        committer: Committer,
        window_ms: float = WINDOW_MS,
        max_group: int = MAX_GROUP,
        max_leaders: int = 1,
    ) -> None:
        self.committer = committer
        self.window = max(0.0, window_ms) / 1000
        self.max_group = max(1, max_group)
        self.max_leaders = max(1, max_leaders)
        self._lock = threading.Lock()
        self._arrived = threading.Condition(self._lock)  # a leader waiting in its window
        self._pending: list[_Slot] = []
        self._leaders = 0  # groups being collected or committed now
        self._arriving = 0  # threads deciding now that have not queued their decision yet
        self._windowed = 0  # leaders waiting for them
        self._local = threading.local()
        self.groups = 0  # committed groups and decisions in them (for tests and metrics)
        self.grouped = 0

    def close(self) -> None:
        self.committer.close()

    @contextmanager
    def arriving(self) -> Iterator[None]:
        """Around a thread's deciding: a group being formed waits (up to the window) for the
        threads inside this block that have not queued their decision yet."""
        with self._lock:
            self._arriving += 1
        self._local.counted = True
        try:
            yield
        finally:
            if getattr(self._local, "counted", False):
                self._local.counted = False
                with self._lock:
                    self._arriving -= 1
                    if self._windowed:
                        self._arrived.notify_all()

    def insert(self, values: dict[str, Any], guarded: bool) -> int | None:
        slot = _Slot(values, guarded)
        with self._lock:
            if getattr(self._local, "counted", False):
                self._local.counted = False
                self._arriving -= 1
            self._pending.append(slot)
            if self._leaders < self.max_leaders:
                self._leaders += 1  # this thread leads a group (its own decision first)
                slot.lead = True
            elif self._windowed:
                self._arrived.notify_all()
        lead = slot.lead
        try:
            while True:
                if not lead:
                    slot.wake.acquire()  # done, or handed a leader's place (or both)
                    with self._lock:
                        lead = slot.lead
                if lead:
                    self._lead(slot)
                    lead = False
                if slot.done:
                    break
        except BaseException:
            self._leave(slot)
            raise
        if slot.error is not None:
            raise _copy(slot.error) from slot.error
        return slot.id

    def _lead(self, slot: _Slot) -> None:
        """Collect and commit one group (``slot``'s thread holds a leader's place), then hand
        the place to the first queued decision whose thread holds none, or give it up."""
        try:
            with self._lock:
                group = self._collect()
            if group:
                self._commit(group)
        finally:
            with self._lock:
                nxt = self._hand_on(slot)
            if nxt is not None:
                _wake(nxt)

    def _hand_on(self, slot: _Slot) -> _Slot | None:
        """(The lock held.) ``slot``'s thread gives up its leader's place: to the first queued
        decision whose thread holds none (returned, to be woken), or back to the writer."""
        slot.lead = False
        nxt = next((s for s in self._pending if not s.lead), None)
        if nxt is None:
            self._leaders -= 1
        else:
            nxt.lead = True
        return nxt

    def _leave(self, slot: _Slot) -> None:
        """``slot``'s thread leaves before its group is done: an exception was raised in it
        while it waited (an asynchronous one, such as a worker's timeout). Its decision leaves
        the queue if no group has taken it yet (else that group commits it, unanswered, as a
        client that went away), and a leader's place it was handed is handed on, not lost:
        without it, the next decisions of the process would queue with no leader."""
        with self._lock:
            if slot in self._pending:
                self._pending.remove(slot)
            nxt = self._hand_on(slot) if slot.lead else None
        if nxt is not None:
            _wake(nxt)

    def _collect(self) -> list[_Slot]:
        """The next group (the lock held): the queued decisions, once the threads still
        deciding have queued theirs or the window has passed."""
        deadline = time.monotonic() + self.window
        # Waiting pays only when no other group can start meanwhile (every connection busy):
        # otherwise the threads still deciding lead groups of their own.
        saturated = self._leaders >= self.max_leaders
        while saturated and len(self._pending) < self.max_group and self._arriving > 0:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            self._windowed += 1
            try:
                self._arrived.wait(left)
            finally:
                self._windowed -= 1
        group = self._pending[: self.max_group]
        del self._pending[: self.max_group]
        return group

    def _commit(self, group: list[_Slot]) -> None:
        """Commit ``group``; whatever happens (a defect here too), every member is then done
        and its thread woken: none waits forever."""
        try:
            first: dict[tuple[Any, Any], _Slot] = {}
            written: list[_Slot] = []
            for slot in group:
                key = slot.key()
                if key is not None and key in first:
                    continue  # a repeat within the group: None once the first one committed
                if key is not None:
                    first[key] = slot
                written.append(slot)
            try:
                ids = self.committer.commit([(s.values, s.guarded) for s in written])
            except FAILS_ALL:
                raise
            except Exception:
                if len(written) == 1:
                    raise
                self._one_by_one(written)
            else:
                for slot, new_id in zip(written, ids, strict=True):
                    slot.id = new_id
                self.groups += 1
                self.grouped += len(written)
        except BaseException as exc:
            for slot in group:
                slot.error = exc
        finally:
            with self._lock:
                for slot in group:
                    slot.done = True
            for slot in group:
                _wake(slot)

    def _one_by_one(self, written: list[_Slot]) -> None:
        """Each member in a transaction of its own: only the ones at fault fail."""
        for slot in written:
            try:
                slot.id = self.committer.commit([(slot.values, slot.guarded)])[0]
            except FAILS_ALL:
                raise
            except Exception as exc:
                slot.error = exc


def _wake(slot: _Slot) -> None:
    """Wake ``slot``'s thread (it reads why under the lock); already woken: nothing to do."""
    with suppress(RuntimeError):  # released for the other reason already, not yet taken
        slot.wake.release()


def _copy(exc: BaseException) -> BaseException:
    """A copy of a group's error for one member's thread to raise (one exception object
    raised in several threads at once would share its traceback)."""
    try:
        return copy.copy(exc)
    except Exception:  # pragma: no cover - an exception type that cannot be copied
        return exc


class CommitConnection(psycopg.Connection[Any]):
    """A psycopg connection that also runs the decision log's statements through libpq
    directly (:meth:`run_prepared`).

    A statement is prepared once on the connection under a name of its own, then sent with
    its parameters as text and its rows read back as text: no cursor, no query conversion,
    no adaptation of parameters. psycopg's ``execute`` spent about 50-65 µs of Python a
    statement on those (a prepared ``SELECT 1`` on this machine), against 12-18 µs this way;
    the commit's round trip is the same. The connection's lock is held as psycopg's own
    methods hold it, and the connection's state is libpq's, which psycopg reads: everything
    else (``execute``, ``closed``, ``info``) works as before."""

    _rulebook_statements: dict[bytes, bytes] | None = None  # query: its prepared name

    def run_prepared(
        self, query: bytes, params: Sequence[bytes | None]
    ) -> list[list[bytes | None]]:
        """Run ``query`` (libpq's ``$n`` placeholders, each with its type) with ``params``
        (text, or None for NULL), in autocommit: its rows, each value as text (bytes) or None. The
        database refusing it raises psycopg's error for it; a connection failing,
        ``psycopg.OperationalError``."""
        pgconn = self.pgconn
        with self.lock:
            name = self._prepare(query)
            pgconn.send_query_prepared(name, params)
            res = self._result(ExecStatus.TUPLES_OK)
            value, columns = res.get_value, range(res.nfields)
            return [[value(i, j) for j in columns] for i in range(res.ntuples)]

    def prepare(self, query: bytes) -> None:
        """Prepare ``query`` on the connection now (:meth:`run_prepared` does it on first
        use)."""
        with self.lock:
            self._prepare(query)

    def _prepare(self, query: bytes) -> bytes:
        """(The lock held.) The name ``query`` is prepared under, prepared if it is not."""
        if self._rulebook_statements is None:
            self._rulebook_statements = {}
        name = self._rulebook_statements.get(query)
        if name is None:  # named once, when first prepared: not hashed again on each commit
            name = b"rulebook_" + hashlib.sha256(query).hexdigest()[:24].encode()
            self.pgconn.send_prepare(name, query)
            self._result(ExecStatus.COMMAND_OK)
            self._rulebook_statements[query] = name
        return name

    def _result(self, expected: ExecStatus) -> Any:
        results = self.wait(generators.execute(self.pgconn))
        res = results[-1]
        if res.status != expected:
            raise errors.error_from_result(res, encoding=self.info.encoding)
        return res


class PostgresCommitter:
    """A group's statements on a psycopg connection of the process, one per group committing
    at once, each in autocommit, through :meth:`CommitConnection.run_prepared`: a group of
    one is its INSERT alone (the statement of :mod:`~rules.store.decisions.writers`), a
    group whose members all have a request id (every decision the API records) is
    :func:`group_statement`; any other group goes through psycopg: BEGIN, each member's INSERT
    and COMMIT, sent together (pipeline mode). A group of one keeps the one-row INSERT:
    PostgreSQL spent about 45 µs more on the group statement for one row (median of 6 rounds
    of 1,500 statements, 307 against 353 µs)."""

    def __init__(self, engine: Engine, conninfo: str) -> None:
        self._sql = psycopg_statements(engine.dialect)
        self._one = {g: _positional(sql, engine.dialect) for g, sql in self._sql.items()}
        self._group_query = _positional(group_statement(engine.dialect), engine.dialect)
        self._dsn = conninfo  # Database.psycopg_conninfo: the pool's timeouts too
        self._lock = threading.Lock()
        self._idle: list[CommitConnection] = []  # one per group committing at once
        self._all: list[CommitConnection] = []

    def connect(self) -> CommitConnection:
        # Autocommit: a group of one is one statement; a larger one says BEGIN and COMMIT.
        return CommitConnection.connect(self._dsn, autocommit=True)

    def close(self) -> None:
        with self._lock:
            conns, self._all, self._idle = self._all, [], []
        for conn in conns:
            conn.close()

    def warm(self) -> None:
        conn = self._take()
        try:
            for query in (*self._one.values(), self._group_query):
                conn.prepare(query)
        except psycopg.OperationalError:
            conn.close()
            raise
        self._give(conn)

    def _take(self) -> CommitConnection:
        with self._lock:
            while self._idle:
                conn = self._idle.pop()
                if not conn.closed and not connection_lost(conn):
                    return conn
                conn.close()  # the server restarted, or ended it: the next one, or a new one
        try:
            conn = self.connect()
        except psycopg.OperationalError as exc:
            raise UnavailableError(NOT_RECORDED) from exc
        with self._lock:
            self._all = [c for c in self._all if not c.closed]
            self._all.append(conn)
        return conn

    def commit(self, items: Sequence[Item]) -> list[int | None]:
        conn = self._take()
        try:
            if len(items) == 1:  # alone: the statement is its own transaction, one round trip
                values, guarded = items[0]
                found = conn.run_prepared(self._one[guarded], _one_row(values))
                ids = [_int(found[0][0]) if found else None]
            elif all(values.get("request_id") is not None for values, _ in items):
                # One statement for the whole group (its own transaction): a third of the
                # server's work per decision of one INSERT each (see group_statement).
                written = {
                    (_int(ruleset_id), (request_id or b"").decode()): _int(new_id)
                    for new_id, ruleset_id, request_id in conn.run_prepared(
                        self._group_query, [_group_json(items).encode()]
                    )
                }
                ids = [written.get((v["ruleset_id"], v["request_id"])) for v, _ in items]
            else:  # BEGIN, the INSERTs and COMMIT sent together (pipeline mode)
                with conn.pipeline():
                    conn.execute("BEGIN")
                    cursors = [
                        conn.execute(self._sql[guarded], _args(values), prepare=True)
                        for values, guarded in items
                    ]
                    conn.execute("COMMIT")
                rows = [cur.fetchone() for cur in cursors]
                ids = [None if row is None else int(row[0]) for row in rows]
        except psycopg.OperationalError as exc:
            # The connection failed, the COMMIT possibly sent: it may have committed.
            conn.close()
            raise OutcomeUnknownError(OUTCOME_UNKNOWN) from exc
        except BaseException:  # a statement refused: the server did not commit
            try:
                if conn.info.transaction_status != TransactionStatus.IDLE:
                    conn.execute("ROLLBACK")
            except psycopg.Error:
                conn.close()
            else:
                self._give(conn)
            raise
        self._give(conn)
        return ids

    def _give(self, conn: CommitConnection) -> None:
        with self._lock:
            if conn in self._all:  # not closed meanwhile (the database disposed)
                self._idle.append(conn)


def group_statement(dialect: Dialect) -> str:
    """One INSERT of a whole group (PostgreSQL), each member an object of the one JSON array
    it is given (``json_to_recordset``, in the group's order, so ids follow it), with each
    row's own guard (a guarded row only while its version is the ruleset's active one; the
    row read FOR KEY SHARE, as :func:`~rules.store.decisions.writers.insert_statement` does)
    and the same ON CONFLICT. It returns ``(id, ruleset_id, request_id)`` of the rows written:
    every member must have a request id, by which it finds its row (none: not written, as for
    the one-row statement).

    One statement for N decisions instead of N: measured on this machine's PostgreSQL, about
    65 µs of server time a decision in groups of 8 against 155 µs for 8 INSERTs in one
    transaction and 215 µs for each its own. The group goes as one JSON text, not a typed
    array a column: psycopg adapts arrays element by element in Python, which cost the
    client 249 µs a group of 3 and 450 µs a group of 8, against 87 and 127 µs for the JSON
    text (in process, best of 6 runs of 300 groups; a lone INSERT costs 75 µs)."""
    table = Decision.__table__
    columns = [*COLUMNS, "guarded"]
    types = {c: table.c[c].type.compile(dialect=dialect) for c in COLUMNS}
    types["guarded"] = "BOOLEAN"
    # No outputs is JSON's null, as the one-row INSERT stores it; json_to_recordset reads a
    # JSON null as SQL's NULL.
    picked = [f"coalesce(u.{c}, 'null'::jsonb)" if c in JSON_COLUMNS else f"u.{c}" for c in COLUMNS]
    return (
        f"INSERT INTO {Decision.__tablename__} ({', '.join(COLUMNS)}) "  # noqa: S608 - the model's names
        f"SELECT {', '.join(picked)} "
        "FROM ROWS FROM (json_to_recordset(%s::json) "
        f"AS ({', '.join(f'{c} {types[c]}' for c in columns)})) "
        f"WITH ORDINALITY AS u({', '.join(columns)}, ord) "
        f"JOIN {Ruleset.__tablename__} AS r ON r.id = u.ruleset_id "
        "AND (NOT u.guarded OR r.active_number = u.version_number) "
        "ORDER BY u.ord FOR KEY SHARE OF r "
        "ON CONFLICT (ruleset_id, request_id) DO NOTHING "
        "RETURNING id, ruleset_id, request_id"
    )


def _int(value: bytes | None) -> int:
    """A number a statement returned as text (an id: never NULL)."""
    if value is None:  # pragma: no cover - ids are never NULL
        raise psycopg.DataError("the statement returned no id")
    return int(value)


def _positional(query: str, dialect: Dialect) -> bytes:
    """``query`` (psycopg's ``%(name)s`` of a column of :data:`COLUMNS`, or one ``%s``) with
    libpq's ``$n`` (a column's n in :data:`COLUMNS`), each cast to its column's type when it
    is not already (a parameter sent as text has none)."""
    table = Decision.__table__

    def placeholder(found: re.Match[str]) -> str:
        name, cast = found.group(1), found.group(2)
        if name is None:  # the group statement's one parameter, cast in the statement
            return "$1::" if cast else "$1"
        number = COLUMNS.index(name) + 1
        return f"${number}::" if cast else f"${number}::{table.c[name].type.compile(dialect)}"

    converted = re.sub(r"%(?:\((\w+)\))?s(::)?", placeholder, query)
    if "%" in converted:  # pragma: no cover - a defect in a statement
        raise ValueError(f"a placeholder was not converted: {converted}")
    return converted.encode()


def _one_row(values: dict[str, Any]) -> list[bytes | None]:
    """A decision's column values (:data:`COLUMNS`' order) as the text PostgreSQL reads,
    as psycopg would send them: JSON as ``json.dumps`` writes it (None is JSON's null), a
    time in ISO 8601, a boolean ``t`` or ``f``; None is NULL."""
    params: list[bytes | None] = []
    for column in COLUMNS:
        value = values[column]
        if column in JSON_COLUMNS:
            params.append(dumps(value).encode())
        elif value is None:
            params.append(None)
        elif isinstance(value, bool):
            params.append(b"t" if value else b"f")
        elif isinstance(value, datetime):
            params.append(value.isoformat().encode())
        else:
            text = str(value)
            if "\x00" in text:  # libpq would cut it there; psycopg refuses it the same way
                raise psycopg.DataError("PostgreSQL text fields cannot contain NUL (0x00) bytes")
            params.append(text.encode())
    return params


def _group_json(items: Sequence[Item]) -> str:
    """The group as :func:`group_statement`'s JSON text: an object a member, its columns and
    ``guarded``; a time (decided_at) in ISO 8601, with its offset."""
    return _dumps_group([{**values, "guarded": guarded} for values, guarded in items])


def _iso(value: Any) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} cannot be written as JSON")


_dumps_group = encoder(_iso)  # json.dumps(..., default=_iso), see rules.jsontext


def _args(values: dict[str, Any]) -> dict[str, Any]:
    args = dict(values)
    for key in JSON_COLUMNS:
        args[key] = Jsonb(args[key])
    return args


class SqliteCommitter:
    """A group's statements in one transaction of the database's pool (BEGIN IMMEDIATE)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def close(self) -> None:
        pass

    def warm(self) -> None:
        pass  # the database's pool opens its connections as it needs them

    def commit(self, items: Sequence[Item]) -> list[int | None]:
        found: list[int | None] = []
        with self.engine.begin() as conn:
            for values, guarded in items:
                new_id = conn.execute(insert_statement("sqlite", guarded), values).scalar()
                found.append(None if new_id is None else int(new_id))
        return found

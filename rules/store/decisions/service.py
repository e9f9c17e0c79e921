"""The one decide-and-record path (DESIGN §3): the HTTP API (single and batch), ``rulebook
decide``, ``rulebook history import`` and the tests all record decisions through
:class:`DecisionService`.

Every decision goes the same way: its version (the active one, or the one pinned) is found
(:mod:`~rules.store.decisions.target`), the engine validates the facts and decides, and the
decision's column values (:func:`~rules.store.decisions.writers.decision_values`) are written
before anyone sees the answer. A ``request_id`` seen before for the ruleset returns the stored
decision (:mod:`~rules.store.decisions.requests`); reusing one with other facts is a conflict.

- :meth:`DecisionService.decide`: one decision, written by one guarded statement: in the
  caller's transaction when given a session, else by the process's group writer
  (:mod:`~rules.store.decisions.group`: the decisions of threads deciding at the same time
  share one transaction and one COMMIT; ``RULEBOOK_GROUP_COMMIT_MS=0``: one transaction each),
  with the version looked up once per process. If the active version changed meanwhile, the
  statement writes nothing and the decision is made again with the new one: each decision
  records the version that was active when it was written, and "which version was active at
  its ``decided_at``" is that version (:func:`~rules.store.decisions.writers.insert_statement`).
  A database failure whose outcome is unknown (during the COMMIT) is settled by looking the
  request id up on a fresh connection; if that cannot tell, OutcomeUnknownError names the
  request id to send again.
- :meth:`DecisionService.decide_batch`: every item with one version, all or nothing.
- :meth:`DecisionService.record_new`: decisions already decided (an import's rows, a batch's
  new items), written in bulk (:mod:`~rules.store.decisions.bulk`).

Shadow runs (:mod:`rules.store.shadow`): once a new decision of the active version is
committed (not one in a caller's transaction, nor one pinned to a version), :meth:`_shadowed`
hands it to the service's :class:`~rules.store.shadow.ShadowRunner`, which evaluates it under
the ruleset's running shadow on its own thread; the answer never waits for it.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, nullcontext, suppress
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError, OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session

from rules.core.document import Scalar
from rules.core.engine import Engine, Result, default_engine
from rules.errors import (
    ConflictError,
    FactsError,
    InvalidRequestError,
    OutcomeUnknownError,
    Problem,
)
from rules.store.database import Database
from rules.store.decisions.bulk import existing, insert_decisions
from rules.store.decisions.group import (
    MAX_LEADERS,
    WINDOW_MS,
    GroupWriter,
    PostgresCommitter,
    SqliteCommitter,
)
from rules.store.decisions.records import DecisionRecord, new_decision_record
from rules.store.decisions.requests import (
    batch_items,
    item_problems,
    repeat,
    require_request_id,
    stored_decision,
)
from rules.store.decisions.target import Target, Targets, find_target
from rules.store.decisions.writers import (
    AutocommitWriter,
    SessionWriter,
    TransactionWriter,
    Writer,
    decision_values,
)
from rules.store.models import Decision, Ruleset, utcnow
from rules.store.shadow.runner import ShadowRunner

__all__ = ["ATTEMPTS", "GROUP_COMMIT_ENV", "GROUP_CONNECTIONS_ENV", "Decided", "DecisionService"]

GROUP_COMMIT_ENV = "RULEBOOK_GROUP_COMMIT_MS"
GROUP_CONNECTIONS_ENV = "RULEBOOK_GROUP_COMMIT_CONNECTIONS"

ATTEMPTS = 10  # tries of one decision while the active version keeps changing (each waits
# for the activation in progress, see writers.insert_statement)
BATCH_UNKNOWN = (
    "the database failed while the batch was being committed; it may or may not be recorded: "
    "send it again with the same request ids (repeats return the stored decisions)"
)
BATCH_ATTEMPTS = 3  # tries of a batch whose request ids another transaction takes meanwhile


@dataclass(frozen=True, slots=True)
class Decided:
    """One case the engine decided, waiting to be recorded: validated facts, the result and
    the client's request id."""

    facts: dict[str, Scalar | None]
    result: Result
    request_id: str | None = None


def _own_writer(db: Database, group_commit_ms: float | None) -> Writer:
    """How this process records decisions on its own: in groups (the default; see
    :mod:`~rules.store.decisions.group`), or, with a window of 0 ms
    (``RULEBOOK_GROUP_COMMIT_MS=0``), one transaction per decision."""
    if group_commit_ms is None:
        group_commit_ms = float(os.environ.get(GROUP_COMMIT_ENV) or WINDOW_MS)
    if group_commit_ms > 0:
        committer: PostgresCommitter | SqliteCommitter = (
            PostgresCommitter(db.engine, db.psycopg_conninfo())
            if db.dialect == "postgresql"
            else SqliteCommitter(db.engine)
        )
        db.on_dispose(committer.close)
        # On PostgreSQL up to RULEBOOK_GROUP_COMMIT_CONNECTIONS groups (default MAX_LEADERS,
        # one) commit at once, each on a connection of its own: groups form when more threads
        # decide at once than that; more connections, fewer threads wait behind another
        # group's round trip, and fewer, larger groups.
        leaders = int(os.environ.get(GROUP_CONNECTIONS_ENV) or MAX_LEADERS)
        if db.dialect != "postgresql":
            leaders = 1  # SQLite: one writer at a time anyway
        return GroupWriter(committer, group_commit_ms, max_leaders=leaders)
    if db.dialect == "postgresql":
        autocommit = AutocommitWriter(db.engine, db.psycopg_conninfo())
        db.on_dispose(autocommit.close)
        return autocommit
    return TransactionWriter(db.engine)


class DecisionService:
    """Decides and records for one database; safe to share between threads.

    ``db`` may be None when every call passes a ``session`` (the caller's transaction).
    ``shadow`` evaluates committed live decisions under a running shadow (default: a
    :class:`~rules.store.shadow.ShadowRunner` on ``db``)."""

    def __init__(
        self,
        db: Database | None = None,
        engine: Engine = default_engine,
        shadow: ShadowRunner | None = None,
        *,
        group_commit_ms: float | None = None,
    ) -> None:
        self.db = db
        self.engine = engine
        self._targets = Targets()
        self._writer: Writer | None = None
        self.shadow = shadow
        if db is not None:
            if self.shadow is None:
                self.shadow = ShadowRunner(db)
            db.on_dispose(self.shadow.close)
            self._writer = _own_writer(db, group_commit_ms)

    def warm(self, limit: int = 64) -> int:
        """Do now what a process's first decisions would: read the active version of each
        ruleset (up to ``limit``) and compile it, and open the group commit's connection with
        its statements prepared. ``rulebook serve``'s workers call it before they accept
        connections, so that a worker's first requests are not the slow ones (about 19 ms
        of CPU for the first decision of a process against 0.7 ms after). The number of
        versions compiled; a database error is raised (the caller decides what it is)."""
        with self._reading(None) as s:
            active = Ruleset.active_number.is_not(None)
            names = list(
                s.scalars(select(Ruleset.name).where(active).order_by(Ruleset.name).limit(limit))
            )
        for name in names:  # as a decision finds and compiles its version
            self.engine.compiled(self._target(name, None, fresh=False, session=None).doc)
        writer = self._writer
        if isinstance(writer, GroupWriter):
            writer.committer.warm()
        return len(names)

    def _database(self) -> Database:
        if self.db is None:
            raise TypeError("this DecisionService has no database: pass a session")
        return self.db

    def _own_writer(self) -> Writer:
        if self._writer is None:
            raise TypeError("this DecisionService has no database: pass a session")
        return self._writer

    @contextmanager
    def _reading(self, session: Session | None) -> Iterator[Session]:
        if session is not None:
            yield session
            return
        with Session(self._database().engine) as own:
            yield own

    def target(self, name: str, version: int | None = None, *, session: Session) -> Target:
        """The version that decides for ``name``: ``version``, or the active one."""
        return find_target(session, name, version)

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
        session: Session | None = None,
    ) -> tuple[DecisionRecord, bool]:
        """Decide and record one decision; it and whether it is new (False: a repeat)."""
        require_request_id(request_id)
        writer = SessionWriter(session) if session is not None else self._own_writer()
        arriving = writer.arriving() if isinstance(writer, GroupWriter) else nullcontext()
        with arriving:  # a group being formed waits for this decision (rules.store.decisions.group)
            return self._decide(
                name, facts, version, request_id, caller, api_key_id, source, session, writer
            )

    def _decide(
        self,
        name: str,
        facts: object,
        version: int | None,
        request_id: str | None,
        caller: str,
        api_key_id: int | None,
        source: str,
        session: Session | None,
        writer: Writer,
    ) -> tuple[DecisionRecord, bool]:
        for attempt in range(ATTEMPTS):
            target = self._target(name, version, fresh=attempt > 0, session=session)
            clean, result = self.engine.decide(target.doc, facts)
            values = decision_values(
                target, clean, result, request_id, caller, api_key_id, source, utcnow()
            )
            try:
                new_id = writer.insert(values, guarded=version is None)
            except OutcomeUnknownError as exc:
                if session is not None:
                    raise  # the caller's transaction: its commit is the caller's
                return self._settle(target, clean, request_id, exc), True
            if new_id is not None:
                record = new_decision_record(new_id, name, values)
                if session is None and version is None:
                    self._shadowed([(record, True)])
                return record, True
            if request_id is not None:
                with self._reading(session) as s:
                    found = stored_decision(s, target.ruleset_id, request_id)
                    if found is not None:
                        return repeat(found, name, clean, "request_id"), False
        raise ConflictError(f"the active version of {name} kept changing; send the request again")

    def _shadowed(self, results: Sequence[tuple[DecisionRecord, bool]]) -> None:
        """Committed live decisions to the shadow runner (the one hook; never raises)."""
        if self.shadow is not None:
            self.shadow.observe([record for record, created in results if created])

    def _settle(
        self,
        target: Target,
        facts: dict[str, Scalar | None],
        request_id: str | None,
        failure: OutcomeUnknownError,
    ) -> DecisionRecord:
        """The decision whose commit failed with an unknown outcome, if a fresh connection
        finds it recorded under its request id; else OutcomeUnknownError naming the request
        id to send again (a repeat of it is safe: it returns the stored decision)."""
        message = str(failure.args[0])
        if request_id is None:
            raise OutcomeUnknownError(message) from failure
        try:
            with Session(self._database().engine) as s:
                found = stored_decision(s, target.ruleset_id, request_id)
                if found is not None:
                    return repeat(found, target.ruleset, facts, "request_id")
        except SQLAlchemyError as exc:
            raise OutcomeUnknownError(message, request_id) from exc
        raise OutcomeUnknownError(message, request_id) from failure

    def _target(
        self, name: str, version: int | None, fresh: bool, session: Session | None
    ) -> Target:
        if session is not None:
            return find_target(session, name, version)
        database = self._database()
        opener: Callable[[], Session] = lambda: Session(database.engine)  # noqa: E731
        return self._targets.get(name, version, fresh, opener)

    def decide_batch(
        self,
        name: str,
        items: object,
        *,
        version: int | None = None,
        caller: str,
        api_key_id: int | None = None,
        source: str = "api",
        session: Session | None = None,
    ) -> list[tuple[DecisionRecord, bool]]:
        """Decide every item ``{facts, request_id?}`` with one version, in order, all or
        nothing: any bad item is a 422 naming it, and nothing is recorded."""
        if session is None:
            with self._database().sessions() as own:
                own.begin()
                results = self.decide_batch(
                    name,
                    items,
                    version=version,
                    caller=caller,
                    api_key_id=api_key_id,
                    source=source,
                    session=own,
                )
                try:
                    own.commit()
                except OperationalError as exc:
                    # The COMMIT was sent: the batch may be on record or not.
                    with suppress(SQLAlchemyError):
                        own.rollback()  # the connection back to the pool clean (or discarded)
                    rids = [r.request_id for r, _ in results if r.request_id is not None]
                    raise OutcomeUnknownError(BATCH_UNKNOWN, rids or None) from exc
            if version is None:
                self._shadowed(results)
            return results
        found = batch_items(items)
        # The ruleset's row held FOR SHARE (when the active version decides) until this
        # transaction commits, and the decisions stamped after: they agree with "active at".
        target = find_target(session, name, version, share=version is None)
        decided = self._decide_items(target, found)
        return self._record_batch(session, target, decided, caller, api_key_id, source)

    def _decide_items(self, target: Target, items: Sequence[Any]) -> list[Decided]:
        problems: list[Problem] = []
        decided: list[Decided] = []
        seen: set[str] = set()
        for i, item in enumerate(items):
            loc = f"items[{i}]"
            shape = item_problems(item, loc, seen)
            problems += shape
            if not isinstance(item, Mapping):
                continue
            try:
                clean, result = self.engine.decide(target.doc, item.get("facts"))
            except FactsError as exc:
                problems.extend(
                    Problem(p.code, f"{loc}.{p.location}", p.message, p.suggestion)
                    for p in exc.problems
                )
                continue
            rid = item.get("request_id")
            decided.append(Decided(clean, result, rid if isinstance(rid, str) else None))
        if problems:
            raise InvalidRequestError(
                "some batch items are not valid; nothing was recorded", problems
            )
        return decided

    def _record_batch(
        self,
        session: Session,
        target: Target,
        decided: list[Decided],
        caller: str,
        api_key_id: int | None,
        source: str,
    ) -> list[tuple[DecisionRecord, bool]]:
        """The batch's new decisions recorded and its repeats looked up. The insert runs in
        a savepoint: if another transaction commits one of the request ids between the
        lookup and the insert, the unique constraint refuses it and the batch is matched
        again against what is now stored."""
        for attempt in range(BATCH_ATTEMPTS):
            repeats = self._repeats(session, target, decided)
            new = [d for i, d in enumerate(decided) if i not in repeats]
            try:
                with session.begin_nested():
                    values, ids = self._write(session, target, new, caller, api_key_id, source)
                break
            except IntegrityError:
                if attempt == BATCH_ATTEMPTS - 1:
                    raise
        made = iter(
            new_decision_record(i, target.ruleset, v) for i, v in zip(ids, values, strict=True)
        )
        return [
            (repeats[i], False) if i in repeats else (next(made), True) for i in range(len(decided))
        ]

    def _repeats(
        self, session: Session, target: Target, decided: list[Decided]
    ) -> dict[int, DecisionRecord]:
        """The stored decisions of the items whose request id is taken, by item index."""
        wanted = {d.request_id: i for i, d in enumerate(decided) if d.request_id is not None}
        stored = {
            wanted[rid]: ident
            for rid, ident, _ in existing(session, target.ruleset_id, list(wanted))
        }
        if not stored:
            return {}
        query = select(Decision).where(Decision.id.in_(stored.values()))
        rows = {row.id: row for row in session.scalars(query)}
        return {
            i: repeat(rows[stored[i]], target.ruleset, decided[i].facts, f"items[{i}].request_id")
            for i in sorted(stored)
        }

    def record_new(
        self,
        session: Session,
        target: Target,
        decided: Sequence[Decided],
        *,
        caller: str,
        api_key_id: int | None = None,
        source: str,
    ) -> list[int]:
        """Write decisions already decided with ``target`` (whose request ids are not taken),
        in bulk, in the caller's transaction; their new ids, in order."""
        return self._write(session, target, decided, caller, api_key_id, source)[1]

    def _write(
        self,
        session: Session,
        target: Target,
        decided: Sequence[Decided],
        caller: str,
        api_key_id: int | None,
        source: str,
    ) -> tuple[list[dict[str, Any]], list[int]]:
        at = utcnow()
        values = [
            decision_values(target, d.facts, d.result, d.request_id, caller, api_key_id, source, at)
            for d in decided
        ]
        return values, insert_decisions(session, values)

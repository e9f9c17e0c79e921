"""Shadow evaluation off the request thread, with a bounded queue.

The budget: a live decision pays one ``queue.put_nowait`` of a reference to its record, after
it is committed; nothing else happens on the request thread. A worker thread (one per
decision service, started on first use) takes decisions in batches (up to ``batch``, waiting
at most ``linger`` seconds for a batch to fill), looks up the ruleset's
running shadow (cached for ``ttl`` seconds), evaluates each decision's facts under the shadow
document and inserts the results in one transaction per batch. Whatever goes wrong in the
worker (a shadow document that refuses the facts, an engine that raises, a database error) is
recorded with the result or logged, and never reaches a caller. When the queue is full (the
worker has fallen ``capacity`` decisions behind), the decision is not shadowed and
:attr:`ShadowRunner.dropped` counts it: the shadow never slows the answer to catch up.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from psycopg.types.json import Jsonb
from sqlalchemy import JSON, Table, select
from sqlalchemy.orm import Session

from rules.core.document import Document
from rules.core.engine import Result, default_engine
from rules.store.database import Database
from rules.store.models import Ruleset, Shadow, ShadowResult, utcnow
from rules.store.versions.documents import documents

if TYPE_CHECKING:  # the decision service imports this module
    from rules.store.decisions.records import DecisionRecord

__all__ = ["Evaluate", "ShadowRunner"]

log = logging.getLogger(__name__)
YIELD_EVERY = 16  # evaluations between two hand-overs of the GIL

SHADOW_RESULTS: Table = ShadowResult.__table__  # type: ignore[assignment]  # a Table

Evaluate = Callable[[Document, Mapping[str, Any]], Result]


def _evaluate(doc: Document, facts: Mapping[str, Any]) -> Result:
    return default_engine.decide(doc, facts)[1]


@dataclass(frozen=True, slots=True)
class _Target:
    shadow_id: int
    doc: Document
    since: datetime


class ShadowRunner:
    """Evaluates live decisions under their ruleset's running shadow, off the request thread."""

    def __init__(
        self,
        db: Database,
        *,
        evaluate: Evaluate = _evaluate,
        capacity: int = 10_000,
        batch: int = 200,
        linger: float = 0.1,
        ttl: float = 1.0,
    ) -> None:
        self.db = db
        self.evaluate = evaluate
        self.batch = batch
        self.linger = linger
        self.ttl = ttl
        self.dropped = 0
        self._queue: queue.Queue[DecisionRecord] = queue.Queue(capacity)
        self._targets: dict[str, tuple[float, _Target | None]] = {}
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._closing = threading.Event()

    def observe(self, records: Sequence[DecisionRecord]) -> None:
        """Hand committed live decisions to the worker; never raises, never waits. A decision
        of a ruleset the worker looked up less than ``ttl`` ago and found without a shadow is
        not handed over: with no shadow running, the request thread does no more than this
        look-up in a dict."""
        try:
            now = time.monotonic()
            for record in records:
                cached = self._targets.get(record.ruleset)
                if cached is not None and cached[1] is None and cached[0] > now:
                    continue  # no shadow for this ruleset, as of a moment ago
                if self._thread is None:
                    self._start()
                self._queue.put_nowait(record)
        except queue.Full:
            self.dropped += 1
        except Exception:  # the shadow may never fail a live decision
            log.exception("shadow: a decision could not be queued")

    def _start(self) -> None:
        with self._lock:
            if self._thread is None and not self._closing.is_set():
                thread = threading.Thread(target=self._work, name="rulebook-shadow", daemon=True)
                thread.start()
                self._thread = thread

    def forget(self) -> None:
        """Look the running shadows up again (after one starts or stops in this process)."""
        self._targets.clear()

    def drain(self, timeout: float = 30.0) -> bool:
        """Wait until every queued decision is evaluated (for tests and shutdown)."""
        deadline = time.monotonic() + timeout
        while self._queue.unfinished_tasks:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.005)
        return True

    def close(self) -> None:
        """Finish the queued decisions (a few seconds at most), then stop the worker."""
        if self._thread is not None:
            self.drain(timeout=5.0)
        self._closing.set()
        thread = self._thread
        if thread is not None:
            thread.join(timeout=5)

    def _work(self) -> None:
        while not self._closing.is_set():
            try:
                first = self._queue.get(timeout=0.2)
            except queue.Empty:
                continue
            items = [first]
            # Linger, then take what has queued meanwhile: a batch is one transaction (one
            # commit, one fsync) however many decisions it holds, and the worker wakes once
            # a batch, not once a decision. Woken for every decision, it paid a transaction
            # and a thread switch each (about 420 µs of CPU a decision, measured in process,
            # against 76 µs in batches of 50). Shadow results are not waited for.
            if self.linger > 0:
                self._closing.wait(self.linger)
            while len(items) < self.batch:
                try:
                    items.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            try:
                self._process(items)
            except Exception:  # logged; the live decisions stand
                log.exception("shadow: %d decisions could not be shadowed", len(items))
            finally:
                for _ in items:
                    self._queue.task_done()

    def _target(self, session: Session, name: str) -> _Target | None:
        now = time.monotonic()
        cached = self._targets.get(name)
        if cached is not None and cached[0] > now:
            return cached[1]
        row = session.execute(
            select(Shadow.id, Shadow.document, Shadow.document_hash, Shadow.started_at)
            .join(Ruleset, Ruleset.id == Shadow.ruleset_id)
            .where(Ruleset.name == name, Shadow.stopped_at.is_(None))
        ).first()
        found = None
        if row is not None:
            found = _Target(row[0], documents.get(row[2], row[1]), row[3])
        self._targets[name] = (now + self.ttl, found)
        return found

    def _process(self, items: list[DecisionRecord]) -> None:
        rows: list[dict[str, Any]] = []
        with Session(self.db.engine) as session:
            for n, record in enumerate(items, 1):
                target = self._target(session, record.ruleset)
                if target is None or record.decided_at < target.since:
                    continue
                rows.append(self._row(target, record))
                # Hand the GIL to the request threads every few evaluations (about a
                # millisecond of work): a thread that waits for it after I/O would otherwise
                # wait out the switch interval (5 ms), a convoy that slows every answer.
                # After each one, the thread switches cost about as much as the shadow's own
                # work (bench.cpu: the shadow added 215 µs of CPU a decision, 94 to 113
                # without them).
                if n % YIELD_EVERY == 0:
                    time.sleep(0)
            if rows:
                _insert(session, rows)
                session.commit()

    def _row(self, target: _Target, record: DecisionRecord) -> dict[str, Any]:
        row: dict[str, Any] = {
            "shadow_id": target.shadow_id,
            "decision_id": record.id,
            "evaluated_at": utcnow(),
        }
        try:
            result = self.evaluate(target.doc, record.facts)
        except Exception as exc:  # a failing shadow is a finding, not an outage
            return {
                **row,
                "outputs": None,
                "rule_ids": [],
                "exception": None,
                "error": f"{type(exc).__name__}: {exc}"[:2000],
                "differs": True,
            }
        return {
            **row,
            "outputs": result.outputs,
            "rule_ids": list(result.rule_ids),
            "exception": result.exception,
            "error": result.error,
            "differs": result.outputs != record.outputs,
        }


def _insert(session: Session, rows: list[dict[str, Any]]) -> None:
    """A batch of shadow results, in the session's transaction: on PostgreSQL by COPY (the
    INSERTs of SQLAlchemy's executemany, one a row, took a fifth of a loaded server's
    throughput in bench.http; COPY is one statement for the batch), elsewhere by Core's
    executemany."""
    conn = session.connection()
    if conn.dialect.name != "postgresql":
        conn.execute(SHADOW_RESULTS.insert(), rows)
        return
    raw = conn.connection.driver_connection
    if raw is None:  # pragma: no cover - a pooled connection always has its driver's
        raise RuntimeError("no psycopg connection")
    columns = list(rows[0])  # every row has _row's keys
    json = {c for c in columns if isinstance(SHADOW_RESULTS.c[c].type, JSON)}
    statement = f"COPY {SHADOW_RESULTS.name} ({', '.join(columns)}) FROM STDIN"
    with raw.cursor() as cursor, cursor.copy(statement) as copy:
        for row in rows:
            # A JSON column's None as JSON null, as the JSON type writes it.
            copy.write_row(tuple(Jsonb(row[c]) if c in json else row[c] for c in columns))

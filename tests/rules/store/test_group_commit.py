"""Group commit (issue 13, item 1; rules.store.decisions.group) on SQLite and PostgreSQL:
threads racing share transactions, and every decision keeps the contract of one written
alone: its own id, in order, committed before it is answered, a request id once, a failed
group fails every member and writes nothing, and every stored decision replays identically."""

from __future__ import annotations

import ctypes
import random
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from psycopg.pq import TransactionStatus
from sqlalchemy import event, func, select, text
from sqlalchemy.exc import OperationalError

from rules import audit
from rules.errors import ConflictError, UnavailableError
from rules.store import decisions, versions
from rules.store.database import Database
from rules.store.decisions import DecisionService
from rules.store.decisions.group import CommitConnection, GroupWriter, _Slot
from rules.store.decisions.writers import decision_values
from rules.store.models import Decision, utcnow
from tests.rules.store.storecases import APPROVE, DECLINE, NAME, REFER, mortgage

FACTS = (APPROVE, DECLINE, REFER)


def _service(db: Database, window_ms: float) -> tuple[DecisionService, GroupWriter]:
    with db.session() as s:
        if versions.list_rulesets(s) == []:
            versions.create_ruleset(s, mortgage(), "cli:setup")
    service = DecisionService(db, group_commit_ms=window_ms)
    writer = service._writer
    assert isinstance(writer, GroupWriter)
    return service, writer


def _together(n: int, work: Callable[[int], Any]) -> list[Any]:
    """``work(i)`` for i < n on n threads released at once; each result or the exception."""
    barrier = threading.Barrier(n)
    results: list[Any] = [None] * n

    def run(i: int) -> None:
        barrier.wait(timeout=30)
        try:
            results[i] = work(i)
        except Exception as exc:  # the assertion looks at it
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return results


def _count(db: Database) -> int:
    with db.session() as s:
        return int(s.scalar(select(func.count()).select_from(Decision)) or 0)


def test_threads_racing_share_groups_and_each_decision_is_its_own(db: Database) -> None:
    service, writer = _service(db, 2.0)
    per_thread, threads = 15, 8

    def work(i: int) -> list[decisions.DecisionRecord]:
        rng = random.Random(i)
        made = []
        for k in range(per_thread):
            rid = f"t{i}-{k}" if k % 2 else None
            made.append(service.decide(NAME, rng.choice(FACTS), request_id=rid, caller="p")[0])
        return made

    results = _together(threads, work)
    assert not [r for r in results if isinstance(r, Exception)]
    made = [r for rs in results for r in rs]
    assert len({r.id for r in made}) == len(made) == _count(db) == per_thread * threads
    for rs in results:  # each thread's decisions in the order it made them
        assert [r.id for r in rs] == sorted(r.id for r in rs)
    assert writer.grouped == len(made)
    assert writer.groups < len(made)  # some transactions held several decisions
    with db.session() as s:
        assert all(decisions.replay(s, r.id).identical for r in made)
        stored = {d.id: d for d in s.scalars(select(Decision))}
        assert all(stored[r.id].outputs == r.outputs for r in made)
        assert audit.verify(s).ok


def test_a_lone_decision_does_not_wait_for_the_window(db: Database) -> None:
    """At low load there is nobody to wait for: a window of 10 s costs nothing."""
    service, writer = _service(db, 10_000.0)
    for _ in range(3):
        service.decide(NAME, APPROVE, caller="p")
    assert writer.groups == 3


@pytest.mark.parametrize("same_facts", [True, False])
def test_a_request_id_repeated_within_one_group_is_recorded_once(
    db: Database, same_facts: bool
) -> None:
    service, writer = _service(db, 200.0)  # a wide window and one leader: one group
    writer.max_leaders = 1
    n = 6

    def work(i: int) -> tuple[decisions.DecisionRecord, bool]:
        facts = APPROVE if same_facts or i == 0 else {**APPROVE, "chist": 1 + i % 5}
        return service.decide(NAME, facts, request_id="dup", caller="p")

    results = _together(n, work)
    assert _count(db) == 1
    ok = [r for r in results if not isinstance(r, Exception)]
    assert len({record.id for record, _ in ok}) == 1
    assert sum(created for _, created in ok) == 1
    if same_facts:
        assert len(ok) == n
    else:  # the others reused the request id with other facts: a conflict, never a row
        assert all(isinstance(r, ConflictError) for r in results if r not in ok)
        assert len(ok) >= 1
    assert writer.grouped < n  # duplicates in one group were not written


@given(
    ids=st.lists(st.sampled_from(["a", "b", "c", None]), min_size=1, max_size=8),
)
@settings(
    max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_any_mix_of_request_ids_in_a_group_is_one_row_per_id(db: Database, ids: list[Any]) -> None:
    service, writer = _service(db, 50.0)
    writer.max_leaders = 1  # the threads share groups
    before = _count(db)
    with db.session() as s:
        known = set(s.scalars(select(Decision.request_id).where(Decision.request_id.is_not(None))))
    results = _together(
        len(ids), lambda i: service.decide(NAME, APPROVE, request_id=ids[i], caller="p")
    )
    assert not [r for r in results if isinstance(r, Exception)]
    fresh = {i for i in ids if i is not None} - known
    assert _count(db) - before == len(fresh) + ids.count(None)
    by_id: dict[str, set[int]] = {}
    for rid, (record, _) in zip(ids, results, strict=True):
        if rid is not None:
            by_id.setdefault(rid, set()).add(record.id)
    assert all(len(found) == 1 for found in by_id.values())


@contextmanager
def _group_fails(db: Database, service: DecisionService) -> Iterator[None]:
    """The database fails the group's transaction: PostgreSQL terminates the group's
    connection before its COMMIT; SQLite's COMMIT fails."""
    writer = service._writer
    assert isinstance(writer, GroupWriter)
    if db.dialect == "postgresql":
        committer: Any = writer.committer

        class Dying(CommitConnection):
            def die(self) -> None:
                with db.engine.connect() as admin:
                    admin.execute(
                        text("SELECT pg_terminate_backend(:p)"), {"p": self.info.backend_pid}
                    )
                    admin.commit()
                time.sleep(0.2)  # the backend is gone

            def execute(self, query: Any, *args: Any, **kwargs: Any) -> Any:
                if query == "COMMIT" or (
                    isinstance(query, str)
                    and query.startswith("INSERT INTO decisions")
                    and self.info.transaction_status == TransactionStatus.IDLE
                ):
                    self.die()
                return super().execute(query, *args, **kwargs)

            def run_prepared(self, query: bytes, params: Any) -> Any:
                if query.startswith(b"INSERT INTO decisions"):  # it commits too (autocommit)
                    self.die()
                return super().run_prepared(query, params)

        committer.close()
        committer.connect = lambda: Dying.connect(committer._dsn, autocommit=True)
        try:
            yield
        finally:
            del committer.connect
            committer.close()
        return

    def fail(conn: Any) -> None:
        raise OperationalError("COMMIT", None, Exception("disk I/O error"))

    event.listen(db.engine, "commit", fail)
    try:
        yield
    finally:
        event.remove(db.engine, "commit", fail)


def test_a_failed_group_fails_every_member_and_records_nothing(db: Database) -> None:
    service, _writer = _service(db, 200.0)
    service.decide(NAME, APPROVE, request_id="before", caller="p")
    n = 5
    with _group_fails(db, service):
        results = _together(
            n, lambda i: service.decide(NAME, APPROVE, request_id=f"g{i}", caller="p")
        )
    assert _count(db) == 1
    assert all(isinstance(r, UnavailableError | OperationalError) for r in results), results
    # Nothing was used up: the same requests now decide, each once.
    again = _together(n, lambda i: service.decide(NAME, APPROVE, request_id=f"g{i}", caller="p"))
    assert all(created for _, created in again)
    assert _count(db) == n + 1


@pytest.mark.postgres
@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_one_member_the_database_refuses_fails_alone(db: Database) -> None:
    """A member whose data PostgreSQL refuses (a NUL in a text column) fails by itself; the
    others of its group are committed one by one."""
    service, _ = _service(db, 200.0)
    n = 5
    results = _together(
        n,
        lambda i: service.decide(
            NAME, APPROVE, request_id=f"r{i}", caller="bad\x00caller" if i == 2 else "p"
        ),
    )
    failed = [i for i, r in enumerate(results) if isinstance(r, Exception)]
    assert failed == [2]
    assert _count(db) == n - 1


@pytest.mark.postgres
@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_a_group_with_request_ids_is_one_statement_and_each_member_gets_its_own_outcome(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PostgreSQL writes a group whose members all have request ids with one INSERT of every
    row: each member still gets its own id (in the group's order), or None when its version
    is no longer the active one (guarded) or its request id is taken; a pinned member (not
    guarded) is written whatever is active."""
    service, writer = _service(db, 2.0)
    stored, _ = service.decide(NAME, APPROVE, request_id="taken", caller="p")
    with db.session() as s:
        target = service.target(NAME, session=s)
    clean, result = service.engine.decide(target.doc, APPROVE)
    stale = {"version_number": target.number + 1}  # not the active version
    members = [
        ("m0", {}, True),
        ("taken", {}, True),  # already stored: not written again
        ("m2", stale, True),  # guarded, its version not active: not written
        ("m3", stale, False),  # pinned: written (with the version number it was given)
        ("m4", {}, True),
    ]
    items = []
    for rid, extra, guarded in members:
        values = decision_values(target, clean, result, rid, "p", None, "api", utcnow())
        items.append(({**values, **extra}, guarded))
    sent: list[str] = []
    execute, run_prepared = psycopg.Connection.execute, CommitConnection.run_prepared

    def counting(self: Any, query: Any, *args: Any, **kwargs: Any) -> Any:
        sent.append(str(query))
        return execute(self, query, *args, **kwargs)

    def counting_prepared(self: Any, query: bytes, params: Any) -> Any:
        sent.append(query.decode())
        return run_prepared(self, query, params)

    monkeypatch.setattr(psycopg.Connection, "execute", counting)
    monkeypatch.setattr(CommitConnection, "run_prepared", counting_prepared)
    ids = writer.committer.commit(items)
    monkeypatch.undo()
    assert len(sent) == 1
    assert sent[0].startswith("INSERT INTO decisions")
    assert ids[1] is None
    assert ids[2] is None
    written = [i for i in (ids[0], ids[3], ids[4]) if i is not None]
    assert len(written) == 3
    assert written == sorted(written)
    assert stored.id < written[0]
    with db.session() as s:
        rows = {d.request_id: d for d in s.scalars(select(Decision))}
    assert set(rows) == {"taken", "m0", "m3", "m4"}
    assert [rows[r].id for r in ("m0", "m3", "m4")] == written
    assert rows["m3"].version_number == target.number + 1
    assert rows["m0"].outputs == stored.outputs
    assert rows["m0"].facts == stored.facts
    assert rows["m4"].decided_at == items[4][0]["decided_at"]


@pytest.mark.postgres
@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    texts=st.lists(
        st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\x00")),
        min_size=3,
        max_size=3,
    ),
    number=st.one_of(
        st.integers(-(2**70), 2**70), st.floats(allow_nan=False, allow_infinity=False)
    ),
    micro=st.integers(0, 999_999),
    no_outputs=st.booleans(),
)
def test_the_group_statement_stores_what_one_insert_stores(
    db: Database, texts: list[str], number: float, micro: int, no_outputs: bool
) -> None:
    """Differential: the group statement (the whole group as one JSON text, one INSERT) and
    a group of one store each decision exactly as the one-row INSERT of one commit per
    decision does, in PostgreSQL's own text of every column: any text (quotes, backslashes,
    non-ASCII, astral), big and fractional numbers, a time to the microsecond, and no outputs
    (JSON's null, not SQL's NULL)."""
    service, writer = _service(db, 2.0)
    each = DecisionService(db, group_commit_ms=0)._own_writer()
    assert not isinstance(each, GroupWriter)
    with db.session() as s:
        target = service.target(NAME, session=s)
    clean, result = service.engine.decide(target.doc, APPROVE)
    facts: dict[str, Any] = {**clean, "text": texts[0], "number": number, "other": None}
    at = utcnow().replace(microsecond=micro)
    run = uuid.uuid4().hex  # request ids of this example's own (examples share the database)

    def values(rid: str) -> dict[str, Any]:
        made = decision_values(target, facts, result, rid, texts[2], None, "api", at)
        if no_outputs:
            made["outputs"], made["exception"], made["error"] = None, True, texts[1]
        return made

    reference = each.insert(values(f"one-{run}"), True)
    alone = writer.committer.commit([(values(f"alone-{run}"), True)])
    group = writer.committer.commit([(values(f"g{i}-{run}"), True) for i in range(3)])
    ids = [reference, *alone, *group]
    assert all(i is not None for i in ids), ids
    columns = ", ".join(
        f"{c}::text" for c in ("version_hash", "facts", "outputs", "rule_ids", "matched")
    )
    with db.session() as s:
        rows = s.execute(
            text(
                f"SELECT {columns}, outputs IS NULL, exception, error, caller, source, "
                "decided_at, api_key_id, version_id FROM decisions WHERE id = ANY(:ids) "
                "ORDER BY id"
            ),
            {"ids": ids},
        ).all()
    assert len(rows) == 5
    assert rows[0][5] is False  # outputs: a JSON value (null when there are none)
    assert rows[0][7] == (texts[1] if no_outputs else None)
    assert rows[0][8] == texts[2]
    assert rows[0][10] == at
    assert all(row == rows[0] for row in rows[1:]), rows


@pytest.mark.postgres
@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
@pytest.mark.parametrize("column", ["caller", "error", "request_id"])
def test_a_nul_in_a_text_column_is_refused_not_cut(db: Database, column: str) -> None:
    """A group of one goes to libpq as text parameters, which end at a NUL: one in a text
    column is refused, as psycopg refuses it, rather than stored cut short."""
    service, writer = _service(db, 2.0)
    with db.session() as s:
        target = service.target(NAME, session=s)
    clean, result = service.engine.decide(target.doc, APPROVE)
    values = decision_values(target, clean, result, "nul-1", "p", None, "api", utcnow())
    values[column] = "before\x00after"
    before = _count(db)
    with pytest.raises(psycopg.DataError, match="NUL"):
        writer.committer.commit([(values, True)])
    assert _count(db) == before
    # The connection is still good: the next decision is written.
    assert writer.committer.commit([({**values, column: "clean"}, True)])[0] is not None


def test_a_defect_in_a_group_fails_every_member_and_leaves_none_waiting(db: Database) -> None:
    """Whatever goes wrong while a group is committed, even before its statement is sent (a
    member whose values lack a column), every member is done with the error: no thread of the
    group waits forever for an answer."""
    _, writer = _service(db, 2.0)
    good = _Slot({"request_id": None}, True)
    bad = _Slot({"request_id": "r-1"}, True)  # no ruleset_id: a defect, not a refusal
    writer._commit([good, bad])
    assert good.done
    assert bad.done
    assert isinstance(good.error, KeyError)
    assert isinstance(bad.error, KeyError)
    assert writer.groups == 0


class _Recording:
    """The real committer, recording which thread committed which group; ``gate``, when set,
    holds the first group's commit until it is released (the others queue behind it)."""

    def __init__(self, committer: Any, jitter: float = 0.0) -> None:
        self.committer = committer
        self.jitter = jitter
        self.gate: threading.Event | None = None
        self.entered = threading.Event()
        self.groups: list[tuple[int, list[Any]]] = []
        self.lock = threading.Lock()

    def commit(self, items: Any) -> list[int | None]:
        with self.lock:
            self.groups.append((threading.get_ident(), [v["request_id"] for v, _ in items]))
        self.entered.set()
        if self.gate is not None:
            gate, self.gate = self.gate, None
            assert gate.wait(timeout=30)
        if self.jitter:
            time.sleep(random.uniform(0, self.jitter))
        result: list[int | None] = self.committer.commit(items)
        return result

    def close(self) -> None:
        self.committer.close()


def test_the_next_group_is_led_by_the_first_queued_decisions_thread(db: Database) -> None:
    """While a group commits, decisions queue; when it is done, the thread of the first one
    queued leads the next group, with every decision queued meanwhile in it."""
    service, writer = _service(db, 0.5)
    recording = _Recording(writer.committer)
    writer.committer = recording
    gate = recording.gate = threading.Event()
    idents: dict[str, int] = {}
    first = threading.Thread(
        target=lambda: service.decide(NAME, APPROVE, request_id="lead", caller="p")
    )
    first.start()
    assert recording.entered.wait(timeout=30)  # the first group is being committed
    queued = [f"q{i}" for i in range(5)]
    threads = []
    for rid in queued:  # queued one after another, in this order

        def run(rid: str = rid) -> None:
            idents[rid] = threading.get_ident()
            service.decide(NAME, APPROVE, request_id=rid, caller="p")

        before = len(writer._pending)
        t = threading.Thread(target=run)
        t.start()
        deadline = time.monotonic() + 30
        while len(writer._pending) == before and time.monotonic() < deadline:
            time.sleep(0.001)
        threads.append(t)
    assert [s.values["request_id"] for s in writer._pending] == queued
    assert recording.groups[0][1] == ["lead"]
    gate.set()
    for t in [first, *threads]:
        t.join(timeout=30)
    assert not any(t.is_alive() for t in [first, *threads])
    assert recording.groups[1] == (idents["q0"], queued)
    assert writer._leaders == 0
    assert _count(db) == 1 + len(queued)


class _Interrupted(Exception):
    """Raised in a waiting thread from outside (as a worker's timeout would)."""


def _raise_in(thread: threading.Thread, exc: type[BaseException]) -> None:
    """Make ``exc`` raised in ``thread`` at its next Python instruction (a thread blocked on
    a lock gets it as soon as it has the lock)."""
    assert thread.ident is not None
    done = ctypes.pythonapi.PyThreadState_SetAsyncExc(
        ctypes.c_ulong(thread.ident), ctypes.py_object(exc)
    )
    assert done == 1


def test_a_thread_interrupted_while_it_waits_hands_its_leaders_place_on(db: Database) -> None:
    """A thread handed a leader's place that an exception stops as it wakes neither keeps the
    place nor leaves its decision queued: the next decision of the process leads its own
    group at once, instead of queuing behind a leader that never comes."""
    service, writer = _service(db, 0.5)
    recording = _Recording(writer.committer)
    writer.committer = recording
    gate = recording.gate = threading.Event()
    outcome: dict[str, Any] = {}

    def decide(rid: str) -> None:
        try:
            outcome[rid] = service.decide(NAME, APPROVE, request_id=rid, caller="p")[1]
        except BaseException as exc:  # the assertion looks at it
            outcome[rid] = exc

    first = threading.Thread(target=decide, args=("lead",), daemon=True)
    first.start()
    assert recording.entered.wait(timeout=30)  # the first group holds the only place
    waiting = threading.Thread(target=decide, args=("interrupted",), daemon=True)
    waiting.start()
    deadline = time.monotonic() + 30
    while not writer._pending and time.monotonic() < deadline:
        time.sleep(0.001)
    assert [s.values["request_id"] for s in writer._pending] == ["interrupted"]
    _raise_in(waiting, _Interrupted)  # pending until its lock is released
    gate.set()  # the first group commits and hands its place to the waiting thread
    for t in (first, waiting):
        t.join(timeout=30)
    assert outcome["lead"] is True
    assert isinstance(outcome["interrupted"], _Interrupted)
    after = threading.Thread(target=decide, args=("after",), daemon=True)
    after.start()
    after.join(timeout=10)
    assert not after.is_alive(), "the next decision waits for a leader that never comes"
    assert outcome["after"] is True
    assert writer._leaders == 0
    assert writer._pending == []
    with db.session() as s:
        assert set(s.scalars(select(Decision.request_id))) == {"lead", "after"}


@pytest.mark.parametrize("leaders", [1, 3])
def test_leaders_places_are_handed_on_and_never_lost(db: Database, leaders: int) -> None:
    """Many threads, groups committing at uneven speeds, several leaders at once: every
    decision is answered, each once, and at the end no leader's place is left taken (a lost
    place would leave later decisions waiting for ever)."""
    service, writer = _service(db, 1.0)
    writer.max_leaders = leaders
    writer.committer = _Recording(writer.committer, jitter=0.003)
    n, per_thread = 16, 6

    def work(i: int) -> list[int]:
        return [
            service.decide(NAME, APPROVE, request_id=f"s{leaders}-{i}-{k}", caller="p")[0].id
            for k in range(per_thread)
        ]

    results = _together(n, work)
    assert not [r for r in results if isinstance(r, Exception)], results
    ids = [i for r in results for i in r]
    assert len(set(ids)) == len(ids) == n * per_thread
    assert writer._leaders == 0
    assert writer._pending == []
    assert writer.grouped == n * per_thread
    # and the writer still works: a lone decision after the storm
    service.decide(NAME, APPROVE, caller="p")
    assert writer._leaders == 0

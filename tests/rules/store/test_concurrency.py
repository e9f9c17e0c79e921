"""The system of record under concurrent writers on PostgreSQL (DESIGN §3, §6, §7).

Six processes, each with its own connections, work one ruleset for a few seconds: deciders
(with and without request ids, some repeated across processes, single and batched, pinned and
not) that also resolve; an importer whose transactions resolve first and decide after (the
audit-chain lock before the ruleset row, the order opposite to a version writer's); two
version writers (create from the latest, retry on a stale base; activate at random); and an
auditor verifying the chain throughout. Then the record must hold every invariant.
"""

from __future__ import annotations

import itertools
import multiprocessing
import queue
import random
import threading
import time
import traceback
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import text

from rules import audit
from rules.errors import ConflictError
from rules.store import Database, decisions, versions
from tests.conftest import reset_pg
from tests.rules.store.storecases import APPROVE, NAME, mortgage, threshold, variant

pytestmark = pytest.mark.postgres

RUN_SECONDS = 3.0
MIN_STEPS = 5
SHARED_IDS = 24  # request ids every decider and the importer use: each must make one row
ROLES = ("decider", "decider", "importer", "versioner", "versioner", "auditor")


def _facts(rng: random.Random) -> dict[str, Any]:
    return {
        "pirat": rng.choice([0.1, 0.25, 0.3, 0.30000000000000004, 0.33, 0.5, 0.9]),
        "hirat": rng.choice([0, 0.2, 0.45]),
        "lvrat": rng.choice([0.5, 0.8, 1.2]),
        "chist": rng.randint(1, 6),
        "mhist": rng.randint(1, 4),
        "phist": rng.random() < 0.2,
        "insurance": rng.random() < 0.15,
    }


def shared_request(rng: random.Random, i: int | None = None) -> tuple[str, dict[str, Any]]:
    """A request id from the shared pool and the facts every process sends with it."""
    i = rng.randrange(SHARED_IDS) if i is None else i
    return f"shared-{i}", _facts(random.Random(i))


class Log:
    """What one process got back from the service."""

    def __init__(self) -> None:
        self.decisions: dict[int, dict[str, Any]] = {}
        self.resolutions: list[tuple[int, dict[str, Any]]] = []
        self.created: list[tuple[int, str]] = []
        self.activated: list[int] = []
        self.verifications: list[dict[str, Any]] = []
        self.conflicts: Counter[str] = Counter()

    def decided(self, record: decisions.DecisionRecord) -> None:
        self.decisions[record.id] = {
            "outputs": record.outputs,
            "version": record.version,
            "version_hash": record.version_hash,
            "request_id": record.request_id,
            "facts": record.facts,
        }


def _decide_once(db: Database, rng: random.Random, log: Log, latest: int) -> None:
    kind = rng.choice(["plain", "shared", "pinned", "batch", "resolve"])
    with db.session() as s:
        if kind == "batch":
            rid, facts = shared_request(rng)
            items = [{"facts": facts, "request_id": rid}, {"facts": _facts(rng)}]
            for record, _ in decisions.decide_batch(s, NAME, items, caller="p"):
                log.decided(record)
        elif kind == "resolve" and log.decisions:
            decision_id = rng.choice(list(log.decisions))
            outputs = {"outcome": rng.choice(["approve", "decline"])}
            decisions.resolve(s, decision_id, outputs, note=None, actor="user:r")
            log.resolutions.append((decision_id, outputs))
        else:
            rid, facts = shared_request(rng) if kind == "shared" else (None, _facts(rng))
            version = rng.randint(1, latest) if kind == "pinned" else None
            record, _ = decisions.decide(
                s, NAME, facts, request_id=rid, version=version, caller="p"
            )
            log.decided(record)


def _decider(db: Database, rng: random.Random, log: Log) -> None:
    with db.session() as s:
        latest = versions.get_ruleset(s, NAME).latest_number
    _decide_once(db, rng, log, latest)


def _importer(db: Database, rng: random.Random, log: Log) -> None:
    """Like a history import: in one transaction, resolve, then decide and resolve again."""
    with db.session() as s:
        if log.decisions:
            old = rng.choice(list(log.decisions))
            decisions.resolve(s, old, {"outcome": "refer"}, note="import", actor="cli:import")
            log_after = [(old, {"outcome": "refer"})]
        else:
            log_after = []
        rid, facts = shared_request(rng) if rng.random() < 0.3 else (None, _facts(rng))
        record, _ = decisions.decide(s, NAME, facts, request_id=rid, caller="cli", source="import")
        decisions.resolve(s, record.id, {"outcome": "decline"}, note=None, actor="cli:import")
    log.decided(record)
    log.resolutions += [*log_after, (record.id, {"outcome": "decline"})]


def _versioner(db: Database, rng: random.Random, log: Log) -> None:
    with db.session() as s:
        latest = versions.get_ruleset(s, NAME).latest_number
    doc = variant(mortgage(), threshold(round(rng.uniform(0.05, 0.95), 4)))
    known = latest
    try:
        with db.session() as s:
            info = versions.create_version(
                s, NAME, doc, base=latest, actor="user:v", proposal_id=None
            )
        log.created.append((info.number, info.hash))
        known = info.number
    except ConflictError as exc:  # a stale base (another writer won) or an identical document
        log.conflicts["create"] += 1
        assert "rebase" in str(exc) or "identical" in str(exc), exc
    number = rng.randint(1, known)
    try:
        with db.session() as s:
            versions.activate(s, NAME, number, "user:v")
        log.activated.append(number)
    except ConflictError:  # already active
        log.conflicts["activate"] += 1


def _auditor(db: Database, rng: random.Random, log: Log) -> None:
    with db.session() as s:
        log.verifications.append(audit.verify(s).to_dict())


STEPS: dict[str, Callable[[Database, random.Random, Log], None]] = {
    "decider": _decider,
    "importer": _importer,
    "versioner": _versioner,
    "auditor": _auditor,
}


def work(role: str, index: int, url: str, barrier: Any, results: Any) -> None:
    """One process: repeat its role's step until the time is up, then report."""
    log, rng = Log(), random.Random(index)
    db = Database(url)
    try:
        barrier.wait(timeout=60)
        if role in ("decider", "importer"):  # all at once: the same request ids, same facts
            for i in range(4):
                with db.session() as s:
                    rid, facts = shared_request(rng, i)
                    log.decided(decisions.decide(s, NAME, facts, request_id=rid, caller="p")[0])
        stop, steps = time.monotonic() + RUN_SECONDS, 0
        while time.monotonic() < stop or steps < MIN_STEPS:  # enough work even on a slow machine
            STEPS[role](db, rng, log)
            steps += 1
        results.put((index, role, None, vars(log)))
    except BaseException:
        results.put((index, role, traceback.format_exc(), vars(log)))
    finally:
        db.dispose()


@pytest.fixture
def url(pg_url: str) -> Iterator[str]:
    reset_pg(pg_url)
    yield pg_url
    reset_pg(pg_url)


def _run(url: str) -> list[dict[str, Any]]:
    ctx = multiprocessing.get_context("spawn")
    barrier, results = ctx.Barrier(len(ROLES)), ctx.Queue()
    procs = [
        ctx.Process(target=work, args=(role, i, url, barrier, results))
        for i, role in enumerate(ROLES)
    ]
    for p in procs:
        p.start()
    reports = [results.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(timeout=30)
    errors = [f"{role} {i}:\n{tb}" for i, role, tb, _ in reports if tb]
    assert not errors, "\n".join(errors)
    return [log for *_, log in sorted(reports, key=lambda r: r[0])]


def _rows(db: Database, sql: str) -> list[Any]:
    with db.engine.connect() as conn:
        return list(conn.execute(text(sql)))


def test_concurrent_writers_keep_every_invariant(url: str) -> None:
    db = Database(url)
    try:
        with db.session() as s:
            versions.create_ruleset(s, mortgage(), "cli:setup")
        logs = _run(url)
        _check_versions(db, logs)
        _check_decisions(db, logs)
        _check_audit(db, logs)
    finally:
        db.dispose()


def _check_versions(db: Database, logs: list[dict[str, Any]]) -> None:
    rows = _rows(db, "SELECT number, hash, parent_number FROM versions ORDER BY number")
    numbers = [r.number for r in rows]
    assert numbers == list(range(1, len(rows) + 1))
    assert all(r.parent_number == r.number - 1 for r in rows[1:])  # always from the latest
    created = sorted(c for log in logs for c in log["created"])
    assert created == [(r.number, r.hash) for r in rows[1:]]
    assert len(created) >= MIN_STEPS  # a stale base means the other writer made one
    history = _rows(db, "SELECT number, previous_number FROM activations ORDER BY id")
    assert history[0] == (1, None)
    for before, after in itertools.pairwise(history):
        assert after.previous_number == before.number != after.number
    active = _rows(db, "SELECT active_number FROM rulesets")
    assert active == [(history[-1].number,)]
    activated = Counter(n for log in logs for n in log["activated"])
    assert activated == Counter(a.number for a in history[1:])


def _check_decisions(db: Database, logs: list[dict[str, Any]]) -> None:
    stored = {
        r.id: r
        for r in _rows(
            db,
            "SELECT d.id, d.outputs, d.version_number, d.version_hash, d.request_id, d.facts, "
            "v.number AS real_number, v.hash AS real_hash "
            "FROM decisions d JOIN versions v ON v.id = d.version_id",
        )
    }
    for row in stored.values():
        assert (row.version_number, row.version_hash) == (row.real_number, row.real_hash)
    got = [(i, d) for log in logs for i, d in log["decisions"].items()]
    for decision_id, seen in got:
        row = stored[decision_id]
        assert (row.outputs, row.version_number, row.version_hash, row.request_id) == (
            seen["outputs"],
            seen["version"],
            seen["version_hash"],
            seen["request_id"],
        )
    shared = Counter(r.request_id for r in stored.values() if r.request_id)
    assert set(shared.values()) == {1}
    by_request = {d["request_id"]: i for i, d in got if d["request_id"]}
    assert {i for i, d in got if d["request_id"]} == set(by_request.values())
    assert len([i for i, d in got if d["request_id"]]) > len(by_request)  # ids were repeated
    for rid, decision_id in by_request.items():
        assert stored[decision_id].facts == _facts(random.Random(int(rid.split("-")[1])))
    resolved = Counter(
        (r.decision_id, r.outcome)
        for r in _rows(db, "SELECT decision_id, outputs->>'outcome' AS outcome FROM resolutions")
    )
    assert resolved == Counter((i, o["outcome"]) for log in logs for i, o in log["resolutions"])


def _check_audit(db: Database, logs: list[dict[str, Any]]) -> None:
    during = [v for log in logs for v in log["verifications"]]
    assert during, "the auditor never verified"
    assert [v for v in during if not v["ok"]] == []
    with db.session() as s:
        result = audit.verify(s)
        actions = Counter(e.action for e in audit.events(s))
    assert result.ok, result
    counts = {
        t: _rows(db, f"SELECT count(*) FROM {t}")[0][0]
        for t in ("versions", "activations", "resolutions")
    }
    assert actions == Counter(
        {
            "ruleset.created": 1,
            "version.created": counts["versions"],
            "version.activated": counts["activations"],
            "resolution.recorded": counts["resolutions"],
        }
    )


def _wait_for_lock(db: Database, pid: int) -> None:
    """Until backend ``pid`` waits on a lock (it is blocked behind the open transaction)."""
    for _ in range(2000):
        state = _rows(db, f"SELECT wait_event_type FROM pg_stat_activity WHERE pid = {pid}")
        if state and state[0][0] == "Lock":
            return
        time.sleep(0.005)
    pytest.fail(f"backend {pid} never waited for the first transaction")


@pytest.mark.parametrize("batch", [False, True], ids=["decide", "decide_batch"])
def test_a_request_id_committed_meanwhile_is_a_repeat(url: str, batch: bool) -> None:
    """A request id that another transaction inserts between our check and our insert: the
    unique constraint makes us wait for it, and then we return its decision."""
    db = Database(url)
    with db.session() as s:
        versions.create_ruleset(s, mortgage(), "cli:setup")
    first = db.sessions()
    first.begin()
    mine, _ = decisions.decide(first, NAME, APPROVE, request_id="race", caller="a")
    pid: queue.Queue[int] = queue.Queue()
    got: dict[str, Any] = {}

    def other() -> None:
        try:
            with db.session() as s:
                pid.put(s.connection().exec_driver_sql("SELECT pg_backend_pid()").scalar_one())
                item = {"facts": APPROVE, "request_id": "race"}
                got["result"] = (
                    decisions.decide_batch(s, NAME, [item], caller="b")[0]
                    if batch
                    else decisions.decide(s, NAME, APPROVE, request_id="race", caller="b")
                )
        except Exception as exc:
            got["error"] = exc

    thread = threading.Thread(target=other)
    thread.start()
    try:
        _wait_for_lock(db, pid.get(timeout=30))
        first.commit()
    finally:
        first.close()
        thread.join(timeout=30)
        db.dispose()
    assert "error" not in got, got
    record, created = got["result"]
    assert (record.id, record.caller, created) == (mine.id, "a", False)

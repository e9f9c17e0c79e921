"""The system of record under concurrent writers on PostgreSQL (DESIGN §3, §6, §7).

Six processes, each with its own connections, work one ruleset for a few seconds: deciders
(with and without request ids, some repeated across processes, single and batched, pinned and
not) that also resolve; an importer whose transactions resolve first and decide after (the
audit-chain lock before the ruleset row, the order opposite to a version writer's); two
version writers (create from the latest, retry on a stale base; activate at random); and an
auditor verifying the chain throughout. Then the record must hold every invariant.

Every decision goes through :class:`rules.store.decisions.DecisionService`, as in production:
each process has one, the deciders use its own path (one autocommit statement on the thread's
connection, the version remembered per process) and batches, the importer the same service in
its transaction. Decisions racing activations are tested on their own below too.
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
from rules.store import decisions, versions
from rules.store.database import Database
from rules.store.decisions import DecisionService
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


class Worker:
    """What one process works with: its database and its decision service (as an app has)."""

    def __init__(self, url: str) -> None:
        self.db = Database(url)
        self.service = DecisionService(self.db)


def _decide_once(w: Worker, rng: random.Random, log: Log, latest: int) -> None:
    kind = rng.choice(["plain", "shared", "pinned", "batch", "resolve"])
    if kind == "batch":
        rid, facts = shared_request(rng)
        items = [{"facts": facts, "request_id": rid}, {"facts": _facts(rng)}]
        for record, _ in w.service.decide_batch(NAME, items, caller="p"):
            log.decided(record)
    elif kind == "resolve" and log.decisions:
        decision_id = rng.choice(list(log.decisions))
        outputs = {"outcome": rng.choice(["approve", "decline"])}
        with w.db.session() as s:
            decisions.resolve(s, decision_id, outputs, note=None, actor="user:r")
        log.resolutions.append((decision_id, outputs))
    else:
        rid, facts = shared_request(rng) if kind == "shared" else (None, _facts(rng))
        version = rng.randint(1, latest) if kind == "pinned" else None
        record, _ = w.service.decide(NAME, facts, request_id=rid, version=version, caller="p")
        log.decided(record)


def _decider(w: Worker, rng: random.Random, log: Log) -> None:
    with w.db.session() as s:
        latest = versions.get_ruleset(s, NAME).latest_number
    _decide_once(w, rng, log, latest)


def _importer(w: Worker, rng: random.Random, log: Log) -> None:
    """Like a history import: in one transaction, resolve, then decide and resolve again."""
    with w.db.session() as s:
        if log.decisions:
            old = rng.choice(list(log.decisions))
            decisions.resolve(s, old, {"outcome": "refer"}, note="import", actor="cli:import")
            log_after = [(old, {"outcome": "refer"})]
        else:
            log_after = []
        rid, facts = shared_request(rng) if rng.random() < 0.3 else (None, _facts(rng))
        record, _ = w.service.decide(
            NAME, facts, request_id=rid, caller="cli", source="import", session=s
        )
        decisions.resolve(s, record.id, {"outcome": "decline"}, note=None, actor="cli:import")
    log.decided(record)
    log.resolutions += [*log_after, (record.id, {"outcome": "decline"})]


def _versioner(w: Worker, rng: random.Random, log: Log) -> None:
    db = w.db
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


def _auditor(w: Worker, rng: random.Random, log: Log) -> None:
    with w.db.session() as s:
        log.verifications.append(audit.verify(s).to_dict())


STEPS: dict[str, Callable[[Worker, random.Random, Log], None]] = {
    "decider": _decider,
    "importer": _importer,
    "versioner": _versioner,
    "auditor": _auditor,
}


def work(role: str, index: int, url: str, barrier: Any, results: Any) -> None:
    """One process: repeat its role's step until the time is up, then report."""
    log, rng = Log(), random.Random(index)
    w = Worker(url)
    try:
        barrier.wait(timeout=60)
        if role in ("decider", "importer"):  # all at once: the same request ids, same facts
            for i in range(4):
                rid, facts = shared_request(rng, i)
                log.decided(w.service.decide(NAME, facts, request_id=rid, caller="p")[0])
        stop, steps = time.monotonic() + RUN_SECONDS, 0
        while time.monotonic() < stop or steps < MIN_STEPS:  # enough work even on a slow machine
            STEPS[role](w, rng, log)
            steps += 1
        results.put((index, role, None, vars(log)))
    except BaseException:
        results.put((index, role, traceback.format_exc(), vars(log)))
    finally:
        w.db.dispose()


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
    mine, _ = decisions.DecisionService().decide(
        NAME, APPROVE, request_id="race", caller="a", session=first
    )
    pid: queue.Queue[int] = queue.Queue()
    got: dict[str, Any] = {}

    def other() -> None:
        try:
            with db.session() as s:
                pid.put(s.connection().exec_driver_sql("SELECT pg_backend_pid()").scalar_one())
                item = {"facts": APPROVE, "request_id": "race"}
                got["result"] = (
                    decisions.DecisionService().decide_batch(NAME, [item], caller="b", session=s)[0]
                    if batch
                    else decisions.DecisionService().decide(
                        NAME, APPROVE, request_id="race", caller="b", session=s
                    )
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


def test_a_request_id_committed_meanwhile_is_a_repeat_on_the_service_path(url: str) -> None:
    """The same race on the production path: the decision's own autocommit statement waits
    for the first transaction, writes nothing, and the stored decision is returned."""
    db = Database(url)
    service = DecisionService(db)
    with db.session() as s:
        versions.create_ruleset(s, mortgage(), "cli:setup")
    first = db.sessions()
    first.begin()
    mine, _ = service.decide(NAME, APPROVE, request_id="race", caller="a", session=first)
    got: dict[str, Any] = {}

    def other() -> None:
        try:
            got["result"] = service.decide(NAME, APPROVE, request_id="race", caller="b")
        except Exception as exc:
            got["error"] = exc

    thread = threading.Thread(target=other)
    thread.start()
    try:
        _wait_for_blocked_insert(db)
        first.commit()
    finally:
        first.close()
        thread.join(timeout=30)
        db.dispose()
    assert "error" not in got, got
    record, created = got["result"]
    assert (record.id, record.caller, created) == (mine.id, "a", False)


def _wait_for_blocked_insert(db: Database) -> None:
    """Until some backend's INSERT INTO decisions waits on a lock."""
    sql = (
        "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
        "AND query LIKE 'INSERT INTO decisions%'"
    )
    for _ in range(2000):
        if _rows(db, sql)[0][0]:
            return
        time.sleep(0.005)
    pytest.fail("no decision ever waited for the first transaction")


RACE_SECONDS = 2.0
RACE_DECIDERS = 4
# Between activations. A decision waits for an activation in progress and then decides again
# with the new version, so activations back to back (each a few ms, tens on a loaded machine)
# would leave it no time to be recorded: it would answer "the active version kept changing".
ACTIVATION_PAUSE = 0.04


def _activator(db: Database, stop: threading.Event, log: list[tuple[int, float, float]]) -> None:
    """Activate versions 2, 3, 1, 2 ... in turn; each with the time before the call and after
    it committed (the activation took effect somewhere in between)."""
    for number in itertools.cycle((2, 3, 1)):
        if stop.is_set():
            return
        started = time.perf_counter()
        with db.session() as s:
            versions.activate(s, NAME, number, "user:v")
        log.append((number, started, time.perf_counter()))
        time.sleep(ACTIVATION_PAUSE)


def _possibly_active(
    number: int, t0: float, t1: float, activations: list[tuple[int, float, float]]
) -> bool:
    """Whether version ``number`` may have been active at some instant of [t0, t1]: an
    activation of it took effect before t1 (it was called by then), and the next one had not
    yet taken effect at t0 (it returned after t0)."""
    for k, (made, started, _) in enumerate(activations):
        if made != number or started > t1:
            continue
        following = activations[k + 1][2] if k + 1 < len(activations) else float("inf")
        if following >= t0:
            return True
    return False


def test_decisions_racing_activations_record_the_version_active_when_decided(url: str) -> None:
    """Deciders share one service (as a server's threads do: the active version remembered
    per process, one autocommit statement per decision) while versions are activated in turn.
    Each decision records a version that was active while it was being made, never one its
    service remembered after another was activated, and replays identically under it."""
    db = Database(url)
    service = DecisionService(db)
    with db.session() as s:
        versions.create_ruleset(s, mortgage(), "cli:setup")
        for number, limit in ((2, 0.36), (3, 0.45)):
            doc = variant(mortgage(), threshold(limit))
            versions.create_version(s, NAME, doc, base=number - 1, actor="u", proposal_id=None)
    activations: list[tuple[int, float, float]] = [(1, float("-inf"), float("-inf"))]
    made: list[tuple[decisions.DecisionRecord, float, float]] = []
    stop = threading.Event()

    def decider(seed: int) -> None:
        rng = random.Random(seed)
        while not stop.is_set():
            facts = {**APPROVE, "pirat": rng.choice([0.25, 0.33, 0.4, 0.5])}
            started = time.perf_counter()
            record, _ = service.decide(NAME, facts, caller="p")
            made.append((record, started, time.perf_counter()))

    threads = [threading.Thread(target=decider, args=(i,)) for i in range(RACE_DECIDERS)]
    threads.append(threading.Thread(target=_activator, args=(db, stop, activations)))
    try:
        for thread in threads:
            thread.start()
        time.sleep(RACE_SECONDS)
        stop.set()
        for thread in threads:
            thread.join(timeout=30)
        wrong = [
            (r.id, r.version)
            for r, t0, t1 in made
            if not _possibly_active(r.version, t0, t1, activations)
        ]
        assert wrong == []
        assert len(activations) > 10
        assert {r.version for r, *_ in made} == {1, 2, 3}
        hashes = dict(_rows(db, "SELECT number, hash FROM versions"))
        assert all(r.version_hash == hashes[r.version] for r, *_ in made)
        with db.session() as s:
            replays = [decisions.replay(s, r.id) for r, *_ in made]
        assert [r.decision_id for r in replays if not r.identical] == []
        # The versions decide these facts differently, so a wrong version would not replay.
        outcomes = {(r.version, r.facts["pirat"]): r.outputs["outcome"] for r, *_ in made}
        assert len(set(outcomes.values())) > 1
    finally:
        stop.set()
        db.dispose()


def test_active_at_a_decisions_time_is_the_version_it_recorded(url: str) -> None:
    """Compliance (issue 12, item 9): for every decision made while versions are activated in
    turn, single or batched, "which version was active at its ``decided_at``" (what
    ``GET /rulesets/NAME?at=`` answers) is exactly the version it recorded."""
    db = Database(url)
    service = DecisionService(db)
    with db.session() as s:
        versions.create_ruleset(s, mortgage(), "cli:setup")
        for number, limit in ((2, 0.36), (3, 0.45)):
            doc = variant(mortgage(), threshold(limit))
            versions.create_version(s, NAME, doc, base=number - 1, actor="u", proposal_id=None)
    activations: list[tuple[int, float, float]] = [(1, float("-inf"), float("-inf"))]
    made: list[decisions.DecisionRecord] = []
    stop = threading.Event()

    def decider(seed: int) -> None:
        rng = random.Random(seed)
        while not stop.is_set():
            facts = {**APPROVE, "pirat": rng.choice([0.25, 0.33, 0.4, 0.5])}
            if rng.random() < 0.2:
                made.extend(
                    r for r, _ in service.decide_batch(NAME, [{"facts": facts}] * 3, caller="p")
                )
            else:
                made.append(service.decide(NAME, facts, caller="p")[0])

    threads = [threading.Thread(target=decider, args=(i,)) for i in range(RACE_DECIDERS)]
    threads.append(threading.Thread(target=_activator, args=(db, stop, activations)))
    try:
        for thread in threads:
            thread.start()
        time.sleep(RACE_SECONDS * 2)
        stop.set()
        for thread in threads:
            thread.join(timeout=30)
        assert len(activations) > 10
        with db.session() as s:
            answered = [(r.id, r.version, versions.active_at(s, NAME, r.decided_at)) for r in made]
        assert [a for a in answered if a[1] != a[2]] == []
        assert {v for _, v, _ in answered} == {1, 2, 3}
    finally:
        stop.set()
        db.dispose()

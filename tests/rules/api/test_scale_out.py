"""Scale out (issue 13, item 7; DESIGN §7): two ``rulebook serve`` processes on different
ports against one PostgreSQL, under load from threads that send to both. No decision is
lost (every 2xx answer is on record) or duplicated (one row per answer, and a request id
repeated across the two servers is the one stored decision), and the audit chain verifies."""

from __future__ import annotations

import http.client
import json
import random
import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from rules import audit
from rules.store import accounts, versions
from rules.store.database import Database
from tests.conftest import reset_pg
from tests.rules.store.storecases import NAME, mortgage
from tests.serving import serving

pytestmark = pytest.mark.postgres

THREADS = 8
SECONDS = 4.0
SHARED = 20  # request ids every thread sends, to both servers


def _facts(rng: random.Random) -> dict[str, Any]:
    return {
        "pirat": rng.choice([0.1, 0.25, 0.33, 0.5]),
        "hirat": rng.choice([0, 0.2, 0.45]),
        "lvrat": rng.choice([0.5, 0.8, 1.2]),
        "chist": rng.randint(1, 6),
        "mhist": rng.randint(1, 4),
        "phist": rng.random() < 0.2,
        "insurance": rng.random() < 0.15,
    }


@pytest.fixture
def url(pg_url: str) -> Iterator[str]:
    reset_pg(pg_url)
    yield pg_url
    reset_pg(pg_url)


class Load:
    """What the clients were answered."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.answers: list[tuple[int, int, str, bool]] = []  # port, decision id, rid, created
        self.failures: list[tuple[int, str]] = []

    def client(self, seed: int, ports: tuple[int, int], key: str, stop: float) -> None:
        rng = random.Random(seed)
        conns = {p: http.client.HTTPConnection("127.0.0.1", p, timeout=30) for p in ports}
        headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
        try:
            while time.monotonic() < stop:
                port = rng.choice(ports)
                body: dict[str, Any]
                if rng.random() < 0.3:
                    i = rng.randrange(SHARED)
                    body = {"facts": _facts(random.Random(i)), "request_id": f"shared-{i}"}
                else:
                    body = {"facts": _facts(rng)}
                conn = conns[port]
                conn.request(
                    "POST", f"/api/v1/rulesets/{NAME}/decisions", json.dumps(body), headers
                )
                response = conn.getresponse()
                answer = json.loads(response.read())
                with self.lock:
                    if response.status in (200, 201):
                        self.answers.append(
                            (
                                port,
                                answer["decision_id"],
                                answer["request_id"],
                                response.status == 201,
                            )
                        )
                    else:
                        self.failures.append((response.status, json.dumps(answer)))
        finally:
            for conn in conns.values():
                conn.close()


def test_two_servers_on_one_postgresql_lose_and_duplicate_nothing(url: str, tmp_path: Path) -> None:
    db = Database(url)
    with db.session() as s:
        versions.create_ruleset(s, mortgage(), "cli:setup")
        _, key = accounts.create_api_key(s, "app", ["decide"], "cli:setup")
    load = Load()
    try:
        with (
            serving(url, tmp_path / "a", workers=2) as (_, port_a),
            serving(url, tmp_path / "b", workers=2) as (_, port_b),
        ):
            stop = time.monotonic() + SECONDS
            started = time.monotonic()
            threads = [
                threading.Thread(target=load.client, args=(i, (port_a, port_b), key, stop))
                for i in range(THREADS)
            ]
            for t in threads:
                t.start()
            for t in threads:
                t.join(timeout=120)
            elapsed = time.monotonic() - started
        assert load.failures == []
        with db.engine.connect() as conn:
            rows = {
                r.id: r.request_id
                for r in conn.execute(text("SELECT id, request_id FROM decisions"))
            }
        answered: dict[int, set[str]] = defaultdict(set)
        by_request: dict[str, set[int]] = defaultdict(set)
        for _, decision_id, rid, _ in load.answers:
            answered[decision_id].add(rid)
            by_request[rid].add(decision_id)
        # Nothing lost: every answer is on record, under its request id.
        assert all(rows.get(d) == rid for d, rids in answered.items() for rid in rids)
        # Nothing duplicated: one row per decision answered, one decision per request id.
        assert set(rows) == set(answered)
        assert all(len(ids) == 1 for ids in by_request.values())
        assert len(set(rows.values())) == len(rows)
        created = [a for a in load.answers if a[3]]
        assert len(created) == len(rows)
        shared_ports = defaultdict(set)
        for port, _, rid, _ in load.answers:
            if rid.startswith("shared-"):
                shared_ports[rid].add(port)
        assert any(len(p) == 2 for p in shared_ports.values())  # sent to both servers
        with db.session() as s:
            assert audit.verify(s).ok
        print(
            f"two servers: {len(load.answers)} answers, {len(rows)} decisions in "
            f"{elapsed:.1f} s ({len(load.answers) / elapsed:.0f}/s), "
            f"{sum(len(p) == 2 for p in shared_ports.values())} request ids sent to both"
        )
    finally:
        db.dispose()

"""Issue 12 item 6: after a PostgreSQL restart, the first request of every thread succeeds.

A cluster of the test's own (tests/pgcluster.py) is restarted under the app; the same four
threads then decide again and ask /readyz. Each of them holds a stale connection: its own
psycopg connection of the autocommit decision writer, and pool connections. Before the fix
each stale connection failed one request with a 503.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from flask import Flask

from rules.store import Database, accounts, upgrade, versions
from tests.pgcluster import PgCluster, missing_reason, own_cluster
from tests.rules.api.conftest import APPROVE, NAME, db_of, make_app, mortgage

THREADS = 4


@pytest.fixture(scope="module")
def own_pg() -> Iterator[PgCluster]:
    reason = missing_reason()
    if reason:
        pytest.skip(f"no PostgreSQL cluster of our own: {reason}")
    with own_cluster() as pg:
        upgrade(pg.url)
        db = Database(pg.url)
        with db.session() as s:
            versions.create_ruleset(s, mortgage(), "cli:test")
        db.dispose()
        yield pg


def _round(app: Flask, key: str, pool: ThreadPoolExecutor, tag: str) -> list[tuple[int, int]]:
    """Each of the pool's threads at once: /readyz, then one decision; their statuses."""
    barrier = threading.Barrier(THREADS)

    def one(i: int) -> tuple[int, int]:
        barrier.wait(timeout=30)  # all threads at once: one connection each
        client = app.test_client()
        ready = client.get("/readyz").status_code
        decided = client.post(
            f"/api/v1/rulesets/{NAME}/decisions",
            json={"facts": APPROVE, "request_id": f"{tag}-{i}"},
            headers={"Authorization": f"Bearer {key}"},
        ).status_code
        return ready, decided

    return list(pool.map(one, range(THREADS)))


@pytest.mark.parametrize("mode", ["fast", "immediate"])
def test_the_first_requests_after_a_postgresql_restart_succeed(
    own_pg: PgCluster, mode: str
) -> None:
    app = make_app(own_pg.url)
    with db_of(app).session() as s:
        key = accounts.create_api_key(s, f"restart-{mode}", ["decide"], "cli:test")[1]
    try:
        with ThreadPoolExecutor(THREADS) as pool:
            assert _round(app, key, pool, f"{mode}-before") == [(200, 201)] * THREADS
            own_pg.stop(mode)
            own_pg.start()
            # The same threads, their connections now closed by the server.
            assert _round(app, key, pool, f"{mode}-after") == [(200, 201)] * THREADS
    finally:
        db_of(app).dispose()

"""A live ``rulebook serve`` per test session (and xdist worker), on SQLite and (when configured)
PostgreSQL, set up through the ``rulebook`` command as an operator would: the mortgage ruleset
and two API keys. Tests share it, so each uses request_ids of its own.

``connect`` opens a :class:`rulebook_client.Client` or, for the ``async`` run of the same
test, an :class:`rulebook_client.AsyncClient` driven to completion on one event loop: one test
body covers both clients.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from rulebook_client import AsyncClient, Client
from sqlalchemy import create_engine, text

from tests.conftest import PG_URL, pg_schema_url
from tests.serving import RULEBOOK, serving

MORTGAGE = Path(__file__).resolve().parents[2] / "examples" / "mortgage.yaml"
NAME = "mortgage-approval"
# Approved by rule approve-clean-low-debt; REFER matches no rule (an exception).
APPROVE = {
    "pirat": 0.25,
    "hirat": 0.2,
    "lvrat": 0.8,
    "chist": 1,
    "mhist": 1,
    "phist": False,
    "insurance": False,
}
REFER = {**APPROVE, "pirat": 0.33}


@dataclass(frozen=True)
class Live:
    url: str
    port: int
    key: str  # every scope
    read_key: str  # read only


def _rulebook(*args: str, db_url: str) -> str:
    done = subprocess.run(
        [str(RULEBOOK), *args, "--database-url", db_url],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def _key(name: str, scopes: str, db_url: str) -> str:
    created = json.loads(
        _rulebook("apikeys", "create", name, "--scopes", scopes, "--json", db_url=db_url)
    )
    key: str = created["key"]
    return key


def _start(db_url: str, home: Path) -> Iterator[Live]:
    _rulebook("db", "upgrade", db_url=db_url)
    _rulebook("ruleset", "create", str(MORTGAGE), db_url=db_url)
    keys = _key("app", "decide,resolve,read", db_url), _key("dashboard", "read", db_url)
    with serving(db_url, home, workers=1) as (_, port):
        yield Live(f"http://127.0.0.1:{port}", port, *keys)


@pytest.fixture(
    scope="session", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def live(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    testrun_uid: str,
    worker_id: str,
) -> Iterator[Live]:
    home = tmp_path_factory.mktemp("live")
    if request.param == "sqlite":
        yield from _start(f"sqlite:///{home / 'rulebook.sqlite3'}", home)
        return
    if not PG_URL:
        pytest.skip("RULEBOOK_TEST_POSTGRES_URL is not set")
    schema = f"rb_client_{testrun_uid[:12]}_{worker_id}_{home.name}"
    try:
        yield from _start(pg_schema_url(PG_URL, schema), home)
    finally:
        engine = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        engine.dispose()


class Blocking:
    """An :class:`AsyncClient` whose coroutines run to completion on its own event loop."""

    def __init__(self, client: AsyncClient) -> None:
        self.client = client
        self.loop = asyncio.new_event_loop()

    def __getattr__(self, name: str) -> Callable[..., Any]:
        method: Callable[..., Awaitable[Any]] = getattr(self.client, name)

        def run(*args: Any, **kwargs: Any) -> Any:
            return self.loop.run_until_complete(method(*args, **kwargs))

        return run

    def close(self) -> None:
        self.loop.run_until_complete(self.client.aclose())
        self.loop.close()


Connect = Callable[..., Any]


@pytest.fixture(params=["sync", "async"])
def connect(request: pytest.FixtureRequest, live: Live) -> Iterator[Connect]:
    """Open a client (sync or async) to ``url`` (default: the live server) with ``api_key``
    (default: the key with every scope) and any other options."""
    opened: list[Client | Blocking] = []

    def open_client(url: str | None = None, api_key: str | None = None, **options: Any) -> Any:
        args = (url or live.url, live.key if api_key is None else api_key)
        client: Client | Blocking
        if request.param == "sync":
            client = Client(*args, **options)
        else:
            client = Blocking(AsyncClient(*args, **options))
        opened.append(client)
        return client

    yield open_client
    for client in opened:
        client.close()


@pytest.fixture
def rb(connect: Connect) -> Any:
    """A client to the live server with every scope."""
    return connect()

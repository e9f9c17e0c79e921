"""Shared fixtures: real databases, migrated by Alembic, never a mocked session.

``db`` runs each test against SQLite and, when ``RULEBOOK_TEST_POSTGRES_URL`` is set, against
PostgreSQL too (a schema per xdist worker). SQLite gets a copy of a migrated template file per
test; PostgreSQL tables are emptied after each test.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from rules.store import Database, upgrade
from tests.logcapture import json_logs  # noqa: F401  (a fixture for every test)

PG_URL = os.environ.get("RULEBOOK_TEST_POSTGRES_URL")
TABLES = (
    "shadow_results",
    "shadows",
    "scenarios",
    "login_throttle",
    "user_sessions",
    "settings",
    "llm_runs",
    "proposal_approvals",
    "resolutions",
    "decisions",
    "activations",
    "versions",
    "proposals",
    "rulesets",
    "api_keys",
    "users",
    "audit_events",
)


def pg_schema_url(base: str, schema: str) -> str:
    """``base`` with every connection's search_path set to ``schema`` (created if missing)."""
    engine = create_engine(base, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
    engine.dispose()
    sep = "&" if "?" in base else "?"
    return f"{base}{sep}options=-csearch_path%3D{schema}"


def reset_pg(url: str) -> None:
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY CASCADE"))
        conn.execute(text("UPDATE audit_head SET seq = 0, hash = :g"), {"g": "0" * 64})
    engine.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "rulebook.sqlite3"
    upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def pg_url(worker_id: str, testrun_uid: str) -> Iterator[str]:
    """A schema of this run's worker (two runs at once never share one), dropped at the end."""
    if not PG_URL:
        pytest.skip("RULEBOOK_TEST_POSTGRES_URL is not set")
    schema = f"rb_test_{testrun_uid[:12]}_{worker_id}"
    url = pg_schema_url(PG_URL, schema)
    upgrade(url)
    yield url
    engine = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    engine.dispose()


@pytest.fixture
def sqlite_url(sqlite_template: Path, tmp_path: Path) -> str:
    path = tmp_path / "rulebook.sqlite3"
    shutil.copy(sqlite_template, path)
    return f"sqlite:///{path}"


@pytest.fixture(
    params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)],
)
def db_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """A migrated, empty database's URL: SQLite, then PostgreSQL."""
    if request.param == "sqlite":
        yield request.getfixturevalue("sqlite_url")
        return
    url = request.getfixturevalue("pg_url")
    reset_pg(url)
    yield url
    reset_pg(url)


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    database = Database(db_url)
    yield database
    database.dispose()

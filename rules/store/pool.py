"""The database connection settings from the environment (DESIGN §7): how many connections
each process keeps, and how long anything may wait.

==================================  ==========  ===============================================
variable                            default     meaning
==================================  ==========  ===============================================
RULEBOOK_DB_POOL_SIZE               5           connections a process keeps open (PostgreSQL)
RULEBOOK_DB_MAX_OVERFLOW            10          extra connections under load, closed after use
RULEBOOK_DB_POOL_TIMEOUT            30          seconds a request waits for a free connection
                                                before it fails (a 503)
RULEBOOK_DB_CONNECT_TIMEOUT         10          seconds to open a connection (PostgreSQL)
RULEBOOK_DB_STATEMENT_TIMEOUT_MS    0           PostgreSQL's statement_timeout, ms (0: none)
RULEBOOK_DB_LOCK_TIMEOUT_MS         0 / 30000   PostgreSQL's lock_timeout (0: none); on SQLite
                                                the busy timeout (default 30000)
==================================  ==========  ===============================================

Each gunicorn worker is a process with its own pool: the most connections ``serve`` opens is
workers x (pool size + overflow). Pool settings apply to PostgreSQL; SQLite only reads the
lock timeout. An engine made with a ``poolclass`` of its own (the migrations' NullPool) keeps it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from rules.environ import EnvReader

__all__ = ["ENV", "PoolSettings"]

ENV = {
    "pool_size": "RULEBOOK_DB_POOL_SIZE",
    "max_overflow": "RULEBOOK_DB_MAX_OVERFLOW",
    "pool_timeout": "RULEBOOK_DB_POOL_TIMEOUT",
    "connect_timeout": "RULEBOOK_DB_CONNECT_TIMEOUT",
    "statement_timeout_ms": "RULEBOOK_DB_STATEMENT_TIMEOUT_MS",
    "lock_timeout_ms": "RULEBOOK_DB_LOCK_TIMEOUT_MS",
}
SQLITE_BUSY_MS = 30_000
DAY_MS = 86_400_000


@dataclass(frozen=True, slots=True)
class PoolSettings:
    """Pool and time-out settings; ``lock_timeout_ms=None`` is each database's default."""

    pool_size: int = 5
    max_overflow: int = 10
    pool_timeout: float = 30.0
    connect_timeout: int = 10
    statement_timeout_ms: int = 0
    lock_timeout_ms: int | None = None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> PoolSettings:
        """Settings from ``environ`` (default: the process environment); SettingsError naming
        each variable that is not valid."""
        r = EnvReader(os.environ if environ is None else environ, "the database settings")
        lock = r.raw(ENV["lock_timeout_ms"])
        settings = cls(
            pool_size=r.integer(ENV["pool_size"], 5, 1, 1000, "connections"),
            max_overflow=r.integer(ENV["max_overflow"], 10, 0, 1000, "connections"),
            pool_timeout=r.number(ENV["pool_timeout"], 30.0, 0.1, 3600, "seconds"),
            connect_timeout=r.integer(ENV["connect_timeout"], 10, 1, 3600, "seconds"),
            statement_timeout_ms=r.integer(
                ENV["statement_timeout_ms"], 0, 0, DAY_MS, "milliseconds"
            ),
            lock_timeout_ms=None
            if lock is None
            else r.integer(ENV["lock_timeout_ms"], 0, 0, DAY_MS, "milliseconds"),
        )
        r.check()
        return settings

    @property
    def sqlite_busy_ms(self) -> int:
        return SQLITE_BUSY_MS if self.lock_timeout_ms is None else self.lock_timeout_ms

    def engine_options(
        self, dialect: str, own_pool: bool, url_options: str | None = None
    ) -> dict[str, Any]:
        """``create_engine`` options for ``dialect``; no pool sizes when the caller chose the
        pool class (``own_pool``); ``url_options``: the URL's own libpq ``options`` (such as a
        search_path), kept."""
        if dialect == "sqlite":
            return {"connect_args": {"timeout": self.sqlite_busy_ms / 1000}}
        options: dict[str, Any] = {}
        if not own_pool:
            options.update(
                pool_size=self.pool_size,
                max_overflow=self.max_overflow,
                pool_timeout=self.pool_timeout,
            )
        if dialect == "postgresql":
            options["connect_args"] = self.postgresql_connect_args(url_options)
        return options

    def postgresql_connect_args(self, url_options: str | None = None) -> dict[str, Any]:
        """libpq connection parameters (``connect_timeout``, ``options``) for psycopg;
        ``url_options`` come first in ``options``."""
        args: dict[str, Any] = {"connect_timeout": self.connect_timeout}
        server = [url_options] if url_options else []
        if self.statement_timeout_ms:
            server.append(f"-c statement_timeout={self.statement_timeout_ms}")
        if self.lock_timeout_ms:
            server.append(f"-c lock_timeout={self.lock_timeout_ms}")
        if server:
            args["options"] = " ".join(server)
        return args

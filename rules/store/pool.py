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
The connections the decision writers open with psycopg directly (outside the pool) get the same
connect timeout and server timeouts (:meth:`~rules.store.database.Database.psycopg_conninfo`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any, NamedTuple

from rules.environ import EnvReader

__all__ = ["ENV", "SETTINGS", "PoolSettings", "Setting"]

SQLITE_BUSY_MS = 30_000
DAY_MS = 86_400_000


class Setting(NamedTuple):
    """One database setting: its variable, the values it may take and its unit (the one
    place the environment reader and ``serve``'s flags take them from)."""

    env: str
    low: float
    high: float
    unit: str
    integer: bool = True


SETTINGS = {
    "pool_size": Setting("RULEBOOK_DB_POOL_SIZE", 1, 1000, "connections"),
    "max_overflow": Setting("RULEBOOK_DB_MAX_OVERFLOW", 0, 1000, "connections"),
    "pool_timeout": Setting("RULEBOOK_DB_POOL_TIMEOUT", 0.1, 3600, "seconds", integer=False),
    "connect_timeout": Setting("RULEBOOK_DB_CONNECT_TIMEOUT", 1, 3600, "seconds"),
    "statement_timeout_ms": Setting("RULEBOOK_DB_STATEMENT_TIMEOUT_MS", 0, DAY_MS, "milliseconds"),
    "lock_timeout_ms": Setting("RULEBOOK_DB_LOCK_TIMEOUT_MS", 0, DAY_MS, "milliseconds"),
}
ENV = {name: setting.env for name, setting in SETTINGS.items()}


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
        defaults: dict[str, Any] = {f.name: f.default for f in fields(cls)}
        values: dict[str, Any] = {}
        for name, s in SETTINGS.items():
            default = defaults[name]
            if default is None:  # each database's own unless the variable is set
                if r.raw(s.env) is None:
                    continue
                default = 0
            if s.integer:
                values[name] = r.integer(s.env, default, int(s.low), int(s.high), s.unit)
            else:
                values[name] = r.number(s.env, default, s.low, s.high, s.unit)
        r.check()
        return cls(**values)

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

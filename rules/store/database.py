"""The database handle: URL resolution, engine options, sessions.

SQLite is the embedded default, a file in the instance folder; PostgreSQL is production. The
instance folder (the embedded database and the generated secret key) is ``$RULEBOOK_HOME``
when set, else ``$RULEBOOK_INSTANCE_PATH`` (the older name, still honoured), else
``instance/`` in the working directory: always somewhere the user can write, never inside
the installed package.
"""

from __future__ import annotations

import os
import select
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any

from psycopg.conninfo import make_conninfo
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import Session, sessionmaker

from rules.store.pool import PoolSettings

__all__ = [
    "HOME_ENV",
    "INSTANCE_PATH_ENV",
    "Database",
    "connection_lost",
    "default_url",
    "instance_path",
]

HOME_ENV = "RULEBOOK_HOME"
INSTANCE_PATH_ENV = "RULEBOOK_INSTANCE_PATH"  # the name before RULEBOOK_HOME


def instance_path() -> Path:
    """Where the embedded database and the generated secret key live."""
    found = os.environ.get(HOME_ENV) or os.environ.get(INSTANCE_PATH_ENV)
    return Path(found or Path.cwd() / "instance").resolve()


def default_url() -> str:
    url = os.environ.get("RULEBOOK_DATABASE_URL")
    if url:
        return url
    return f"sqlite:///{instance_path() / 'rulebook.sqlite3'}"


def connection_lost(conn: Any) -> bool:
    """Whether PostgreSQL has closed this idle psycopg connection (it restarted, or ended the
    session), found without a round trip to the server.

    An idle connection's socket has nothing to read unless the server hung up (end of file,
    often after a FATAL "terminating connection") or sent an unsolicited notice; either way the
    connection is not worth keeping, so readable means lost. Costs one ``poll`` system call.
    """
    if conn.closed or getattr(conn, "broken", False):
        return True
    try:
        fd = conn.fileno()
    except Exception:  # psycopg raises OperationalError on a connection it knows is bad
        return True
    poller = select.poll()
    poller.register(fd, select.POLLIN | select.POLLPRI)
    return bool(poller.poll(0))


def _discard_lost(dbapi_conn: Any, _record: Any, _proxy: Any) -> None:
    # A pool connection the server closed while it sat in the pool (a PostgreSQL restart):
    # the pool replaces it before anyone uses it, so the first request after the database is
    # back succeeds instead of failing with a 503 per stale connection.
    if connection_lost(dbapi_conn):
        raise DisconnectionError("the server closed this pooled connection")


def _sqlite_pragmas(busy_ms: int, dbapi_conn: Any, _record: Any) -> None:
    # Let SQLAlchemy emit BEGIN itself (pysqlite's own transaction handling is off), so a
    # writer takes the lock at BEGIN IMMEDIATE rather than failing to upgrade a read lock.
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA foreign_keys = ON")
    cur.execute("PRAGMA journal_mode = WAL")
    cur.execute("PRAGMA synchronous = NORMAL")
    cur.execute(f"PRAGMA busy_timeout = {int(busy_ms)}")
    cur.close()


def _sqlite_begin(conn: Any) -> None:
    conn.exec_driver_sql("BEGIN IMMEDIATE")


class Database:
    """An engine and a session factory for one database URL; the pool and time-outs are
    ``pool_settings`` (default: from the environment, :mod:`rules.store.pool`) unless
    ``engine_options`` set them."""

    def __init__(
        self,
        url: str | None = None,
        pool_settings: PoolSettings | None = None,
        **engine_options: Any,
    ) -> None:
        self.url = url or default_url()
        parsed = make_url(self.url)
        self.dialect = parsed.get_backend_name()
        self.pool_settings = PoolSettings.from_env() if pool_settings is None else pool_settings
        own_pool = "poolclass" in engine_options
        found = parsed.query.get("options")
        url_options = " ".join(found) if isinstance(found, tuple) else found
        self._url_options = url_options
        for key, value in self.pool_settings.engine_options(
            self.dialect, own_pool, url_options
        ).items():
            engine_options.setdefault(key, value)
        if self.dialect == "sqlite":
            if parsed.database and parsed.database != ":memory:":
                Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        else:
            # No pre-ping round trip (it would cost every request one): a checkout looks at the
            # socket instead (_discard_lost), and a disconnect error invalidates the whole pool.
            engine_options.setdefault("pool_recycle", 1800)
        self.engine: Engine = create_engine(self.url, **engine_options)
        if self.dialect == "sqlite":
            event.listen(
                self.engine, "connect", partial(_sqlite_pragmas, self.pool_settings.sqlite_busy_ms)
            )
            event.listen(self.engine, "begin", _sqlite_begin)
        else:
            event.listen(self.engine, "checkout", _discard_lost)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._on_dispose: list[Callable[[], None]] = []

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session whose transaction commits on success and rolls back on any error."""
        with self.sessions() as session, session.begin():
            yield session

    def psycopg_conninfo(self) -> str:
        """The libpq connection string of this PostgreSQL database with the pool's parameters
        (connect timeout, the server's statement and lock timeouts, the URL's own ``options``),
        for the connections the decision writers open with psycopg directly."""
        dsn = make_url(self.url).set(drivername="postgresql").render_as_string(hide_password=False)
        return make_conninfo(dsn, **self.pool_settings.postgresql_connect_args(self._url_options))

    def on_dispose(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` when this database is disposed (to close connections it made)."""
        self._on_dispose.append(callback)

    def dispose(self) -> None:
        for callback in self._on_dispose:
            callback()
        self.engine.dispose()

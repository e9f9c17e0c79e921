"""``rulebook serve``'s settings from the environment, and its gunicorn access log.

=========================  =====================  ==============================================
variable                   default                meaning (``serve``'s flag overrides it)
=========================  =====================  ==============================================
RULEBOOK_HOST              127.0.0.1              address to listen on (``--host``)
RULEBOOK_PORT              8000                   port (``--port``)
RULEBOOK_WORKERS           2 x CPUs + 1, max 8    worker processes (``--workers``)
RULEBOOK_THREADS           8                      threads per worker (``--threads``)
RULEBOOK_TIMEOUT           30                     seconds a silent worker lives before it is
                                                  killed and replaced (``--timeout``)
RULEBOOK_GRACEFUL_TIMEOUT  20                     seconds requests in flight get on SIGTERM
                                                  (``--graceful-timeout``)
RULEBOOK_KEEPALIVE         5                      seconds an idle keep-alive connection is kept
                                                  (``--keepalive``)
RULEBOOK_ACCESS_LOG        on                     a line per request (``--[no-]access-log``)
=========================  =====================  ==============================================

The database pool's variables are :mod:`rules.store.pool`'s, the logging's
:mod:`rules.logs`'.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from gunicorn.glogging import Logger

# Not rules.api: its metrics must not import prometheus_client in gunicorn's master.
from rules.environ import EnvReader
from rules.logs import REQUEST_ID_ENVIRON

__all__ = ["DEFAULT_THREADS", "MAX_DEFAULT_WORKERS", "AccessLogger", "ServeSettings"]

MAX_DEFAULT_WORKERS = 8
# A decision spends most of its time waiting on the database's commit, so threads help: on two
# cores with PostgreSQL, 5 workers x 4 threads answered 1,000-1,250 decisions/s where 5 sync
# workers answered 550 (wrk, 16 connections). More threads a worker, larger commit groups:
# with 8, every bench.http round beat every round with 4 in two paired runs (2,140-2,431
# against 1,321-2,134 decisions/s, server CPU a decision 563-657 against 643-692 µs;
# 2026-12-08, group commit sending a group as one JSON text).
DEFAULT_THREADS = 8
_ON, _OFF = ("1", "true", "yes", "on"), ("0", "false", "no", "off")


def default_workers() -> int:
    """gunicorn's rule of thumb, 2 x CPUs + 1, capped so a big machine is not flooded."""
    return min(2 * (os.cpu_count() or 1) + 1, MAX_DEFAULT_WORKERS)


@dataclass(frozen=True, slots=True)
class ServeSettings:
    """What ``serve`` runs with: address, processes and threads, and gunicorn's time-outs."""

    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 0  # 0: default_workers()
    threads: int = DEFAULT_THREADS
    timeout: int = 30
    graceful_timeout: int = 20
    keepalive: int = 5
    access_log: bool = True

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> ServeSettings:
        """Settings from ``environ`` (default: the process environment); SettingsError naming
        each variable that is not valid."""
        r = EnvReader(os.environ if environ is None else environ, "the serve settings")
        access = r.choice("RULEBOOK_ACCESS_LOG", "on", (*_ON, *_OFF))
        settings = cls(
            host=r.raw("RULEBOOK_HOST") or "127.0.0.1",
            port=r.integer("RULEBOOK_PORT", 8000, 0, 65535, "port"),
            workers=r.integer("RULEBOOK_WORKERS", default_workers(), 1, 64, "processes"),
            threads=r.integer("RULEBOOK_THREADS", DEFAULT_THREADS, 1, 64, "threads"),
            timeout=r.integer("RULEBOOK_TIMEOUT", 30, 1, 86_400, "seconds"),
            graceful_timeout=r.integer("RULEBOOK_GRACEFUL_TIMEOUT", 20, 0, 86_400, "seconds"),
            keepalive=r.integer("RULEBOOK_KEEPALIVE", 5, 0, 3600, "seconds"),
            access_log=access.lower() in _ON,
        )
        r.check()
        return settings

    def override(self, **flags: Any) -> ServeSettings:
        """These settings with each flag that was given (not None) in its place."""
        given = {name: value for name, value in flags.items() if value is not None}
        chosen = replace(self, **given)
        if not chosen.workers:
            chosen = replace(chosen, workers=default_workers())
        return chosen


class AccessLogger(Logger):  # type: ignore[misc]  # gunicorn ships no type hints
    """gunicorn's logger, whose access line is a record with fields (``method``, ``path``,
    ``status``, ``duration_ms``, ``bytes``, ``remote_addr``, ``request_id``) rather than
    Apache's format; the ``gunicorn.access`` logger's level turns it on and off."""

    @property
    def access_log_enabled(self) -> bool:
        return bool(self.access_log.isEnabledFor(logging.INFO))

    def access(self, resp: Any, req: Any, environ: dict[str, Any], request_time: Any) -> None:
        if not self.access_log.isEnabledFor(logging.INFO):
            return
        status = resp.status.split(None, 1)[0] if isinstance(resp.status, str) else resp.status
        ms = round(request_time.total_seconds() * 1000, 2)
        path = req.path + (f"?{req.query}" if req.query else "")
        self.access_log.info(
            "%s %s %s %.1f ms",
            req.method,
            path,
            status,
            ms,
            extra={
                "method": req.method,
                "path": path,
                "status": int(status),
                "duration_ms": ms,
                "bytes": getattr(resp, "sent", None),
                "remote_addr": environ.get("REMOTE_ADDR"),
                "request_id": environ.get(REQUEST_ID_ENVIRON),
            },
        )

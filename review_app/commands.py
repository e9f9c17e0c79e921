"""``rulebook serve``: the application under gunicorn, with several worker processes.

The ``rulebook`` console script finds this verb through the ``rulebook.commands`` entry point
(``rules`` never imports ``review_app``). It migrates the database, then starts a gunicorn
master that forks the workers; each worker builds its own app with ``serve_app()`` (no
preloading: each worker reads and compiles the active versions as it starts, before it
accepts a connection, and any other version on demand). Metrics from every worker are
aggregated through ``PROMETHEUS_MULTIPROC_DIR``: a fresh temporary folder unless it is set, and
the master's ``child_exit`` hook clears a dead worker's files. SIGTERM stops it gracefully.
"""

from __future__ import annotations

import importlib
import json
import logging
import os
import shutil
import signal
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import fields
from typing import Any

import click
import gunicorn.util
from gunicorn.app.base import BaseApplication
from sqlalchemy.exc import SQLAlchemyError

from review_app.serving import (
    DEFAULT_THREADS,
    MAX_DEFAULT_WORKERS,
    AccessLogger,
    ServeSettings,
    default_workers,
)
from rules import logs, store
from rules.cli.output import fail
from rules.cli.service import database_error, show_url
from rules.errors import RulebookError
from rules.store import pool

__all__ = ["DEFAULT_THREADS", "default_workers", "gunicorn_options", "serve", "write_problem"]

METRICS_ENV = "PROMETHEUS_MULTIPROC_DIR"
# Not imported from rules.api: importing it here, in the master, would import the metrics.
PROBLEM_JSON = "application/problem+json"
log = logging.getLogger("rulebook.serve")


def _metrics_child_exit(server: Any, worker: Any) -> None:
    """gunicorn's ``child_exit`` hook: tell the metrics a worker is gone, if the API offers it."""
    try:
        hook = getattr(importlib.import_module("rules.api.metrics"), "child_exit", None)
    except ImportError:
        return
    if callable(hook):
        hook(server, worker)


def write_problem(sock: Any, status: int, reason: str, message: str) -> None:
    """gunicorn's error answer (``gunicorn.util.write_error``) as problem+json, like every
    other error of the API: a request line over gunicorn's limit (414), headers too large
    (431), a request gunicorn cannot parse (400)."""
    detail = message or reason
    if status == 414:
        detail += "; send a shorter address (put long values in a JSON body)"
    body = json.dumps(
        {"type": "about:blank", "title": reason, "status": status, "detail": detail, "errors": []}
    ).encode()
    head = (
        f"HTTP/1.1 {status} {reason}\r\nConnection: close\r\n"
        f"Content-Type: {PROBLEM_JSON}\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    gunicorn.util.write_nonblock(sock, head.encode("latin-1") + body)


def _worker_init(worker: Any) -> None:
    """gunicorn's ``post_worker_init`` hook: errors gunicorn answers itself are problem+json
    (:func:`write_problem`), and workers ignore SIGINT.

    A terminal's Ctrl-C reaches every process in the group: the master, which then stops the
    workers itself (SIGQUIT), and each worker directly. A worker that got both sometimes hung
    in interpreter shutdown until the master killed it 20 s later."""
    gunicorn.util.write_error = write_problem
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def gunicorn_options(
    host: str,
    port: int,
    workers: int,
    threads: int,
    access_log: bool,
    *,
    timeout: int = 30,
    graceful_timeout: int = 20,
    keepalive: int = 5,
    log_settings: logs.LogSettings | None = None,
) -> dict[str, Any]:
    """The gunicorn settings ``serve`` runs with. Its error and access logs go through
    Rulebook's logging (:func:`rules.logs.dict_config`), the access line as a record with
    fields (:class:`~review_app.serving.AccessLogger`)."""
    address = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    settings = logs.LogSettings() if log_settings is None else log_settings
    settings = logs.LogSettings(settings.level, settings.format, access=access_log)
    return {
        "bind": [address],
        "workers": workers,
        "worker_class": "gthread" if threads > 1 else "sync",
        "threads": threads,
        "preload_app": False,
        "proc_name": "rulebook",
        # gunicorn 25+ opens a control socket at one fixed path per user: two servers would
        # fight over it, and nothing here uses gunicornc.
        "control_socket_disable": True,
        "timeout": timeout,
        "graceful_timeout": graceful_timeout,
        "keepalive": keepalive,
        # Lines go through logconfig_dict (to standard error), not gunicorn's own handlers.
        "accesslog": None,
        "errorlog": "-",
        "loglevel": settings.level.lower(),
        "logger_class": AccessLogger,
        "logconfig_dict": logs.dict_config(settings),
        "child_exit": _metrics_child_exit,
        "post_worker_init": _worker_init,
    }


class _Server(BaseApplication):  # type: ignore[misc]  # gunicorn ships no type hints
    """gunicorn's programmatic interface: settings from a dict, the app from a factory."""

    def __init__(self, options: Mapping[str, Any], factory: Callable[[], Any]) -> None:
        self.options = dict(options)
        self.factory = factory
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        return self.factory()


def _create_app() -> Any:
    from review_app import serve_app

    return serve_app()


def _prepare(url: str) -> str | None:
    """Migrate, point the workers at ``url`` and a metrics folder; the folder made, if any."""
    try:
        store.upgrade(url)
    except SQLAlchemyError as exc:
        raise database_error(exc, url) from exc
    os.environ["RULEBOOK_DATABASE_URL"] = url
    if os.environ.get(METRICS_ENV):
        return None
    folder = tempfile.mkdtemp(prefix="rulebook-metrics-")
    os.environ[METRICS_ENV] = folder
    return folder


# serve's flags for the database settings (rules.store.pool, which holds their variables and
# bounds): each sets its variable for the workers, which read it when they build their app.
DB_HELP = {
    "pool_size": "Connections each worker keeps open",
    "max_overflow": "Extra connections a worker may open under load",
    "pool_timeout": "Seconds a request waits for a free connection",
    "connect_timeout": "Seconds to open a PostgreSQL connection",
    "statement_timeout_ms": "PostgreSQL statement_timeout, ms; 0: none",
    "lock_timeout_ms": "PostgreSQL lock_timeout, ms (0: none); SQLite's busy timeout",
}
DB_DEFAULTS: dict[str, Any] = {f.name: f.default for f in fields(pool.PoolSettings)}


def _db_default(name: str) -> str:
    default = DB_DEFAULTS[name]
    if default is None:  # each database's own
        return f"0; SQLite {pool.SQLITE_BUSY_MS}"
    return f"{default:g}"


DB_FLAGS = {
    f"db_{name}": (
        s.env,
        click.IntRange(int(s.low), int(s.high)) if s.integer else click.FloatRange(s.low, s.high),
        f"{DB_HELP[name]} [default: {_db_default(name)}]",
    )
    for name, s in pool.SETTINGS.items()
}


def _db_flags(command: Callable[..., Any]) -> Callable[..., Any]:
    for name, (var, kind, text) in reversed(DB_FLAGS.items()):
        flag = "--" + name.replace("_", "-")
        command = click.option(flag, name, type=kind, help=text + _env(var))(command)
    return command


def _env(var: str) -> str:
    return f" [env: {var}]"


@click.command()
@click.option("--host", help="Address to listen on [default: 127.0.0.1]" + _env("RULEBOOK_HOST"))
@click.option(
    "--port", type=click.IntRange(0, 65535), help="[default: 8000]" + _env("RULEBOOK_PORT")
)
@click.option(
    "--workers",
    type=click.IntRange(1, 64),
    help=f"Worker processes [default: 2 x CPUs + 1, at most {MAX_DEFAULT_WORKERS}]"
    + _env("RULEBOOK_WORKERS"),
)
@click.option(
    "--threads",
    type=click.IntRange(1, 64),
    help=f"Threads per worker: gthread workers; 1 for sync workers [default: {DEFAULT_THREADS}]"
    + _env("RULEBOOK_THREADS"),
)
@click.option(
    "--timeout",
    type=click.IntRange(1, 86_400),
    help="Seconds a silent worker lives before it is replaced [default: 30]"
    + _env("RULEBOOK_TIMEOUT"),
)
@click.option(
    "--graceful-timeout",
    type=click.IntRange(0, 86_400),
    help="Seconds requests in flight get on SIGTERM [default: 20]"
    + _env("RULEBOOK_GRACEFUL_TIMEOUT"),
)
@click.option(
    "--keepalive",
    type=click.IntRange(0, 3600),
    help="Seconds an idle keep-alive connection is kept [default: 5]" + _env("RULEBOOK_KEEPALIVE"),
)
@click.option(
    "--access-log/--no-access-log",
    default=None,
    help="Log a line per request [default: on]" + _env("RULEBOOK_ACCESS_LOG"),
)
@_db_flags
@click.option(
    "--database-url",
    envvar="RULEBOOK_DATABASE_URL",
    show_envvar=True,
    metavar="URL",
    help="SQLAlchemy URL of the database (default: the SQLite file in the instance folder).",
)
def serve(database_url: str | None, **flags: Any) -> None:
    """Serve the API and review app under gunicorn, with several workers.

    Every setting comes from its RULEBOOK_* variable unless its flag is given."""
    for name, (var, _kind, _text) in DB_FLAGS.items():
        value = flags.pop(name)
        if value is not None:
            os.environ[var] = str(value)  # the workers' app reads it
    url = database_url or store.default_url()
    try:
        settings = ServeSettings.from_env().override(**flags)
        log_settings = logs.LogSettings.from_env()
        pool = store.PoolSettings.from_env()
        made = _prepare(url)
    except RulebookError as exc:
        fail(exc, as_json=False)
    log.info(
        "Rulebook serving http://%s:%s with %s worker(s) x %s thread(s), database %s "
        "(pool %s + %s overflow per worker)",
        settings.host,
        settings.port,
        settings.workers,
        settings.threads,
        show_url(url),
        pool.pool_size,
        pool.max_overflow,
    )
    options = gunicorn_options(
        settings.host,
        settings.port,
        settings.workers,
        settings.threads,
        settings.access_log,
        timeout=settings.timeout,
        graceful_timeout=settings.graceful_timeout,
        keepalive=settings.keepalive,
        log_settings=log_settings,
    )
    try:
        _Server(options, _create_app).run()
    finally:
        if made is not None:
            shutil.rmtree(made, ignore_errors=True)

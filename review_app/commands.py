"""``rulebook serve``: the application under gunicorn, with several worker processes.

The ``rulebook`` console script finds this verb through the ``rulebook.commands`` entry point
(``rules`` never imports ``review_app``). It migrates the database, then starts a gunicorn
master that forks the workers; each worker builds its own app with ``create_app()`` (no
preloading: a worker loads ruleset versions on demand). Metrics from every worker are
aggregated through ``PROMETHEUS_MULTIPROC_DIR``: a fresh temporary folder unless it is set, and
the master's ``child_exit`` hook clears a dead worker's files. SIGTERM stops it gracefully.
"""

from __future__ import annotations

import importlib
import json
import os
import shutil
import signal
import tempfile
from collections.abc import Callable, Mapping
from typing import Any

import click
import gunicorn.util
from gunicorn.app.base import BaseApplication
from sqlalchemy.exc import SQLAlchemyError

from rules import store
from rules.cli.output import fail
from rules.cli.service import database_error, show_url
from rules.errors import RulebookError

__all__ = ["default_workers", "gunicorn_options", "serve", "write_problem"]

MAX_DEFAULT_WORKERS = 8
# A decision spends most of its time waiting on the database's commit, so threads help: on two
# cores with PostgreSQL, 5 workers x 4 threads answered 1,000-1,250 decisions/s where 5 sync
# workers answered 550 (wrk, 16 connections).
DEFAULT_THREADS = 4
METRICS_ENV = "PROMETHEUS_MULTIPROC_DIR"
# Not imported from rules.api: importing it here, in the master, would import the metrics.
PROBLEM_JSON = "application/problem+json"


def default_workers() -> int:
    """gunicorn's rule of thumb, 2 x CPUs + 1, capped so a big machine is not flooded."""
    return min(2 * (os.cpu_count() or 1) + 1, MAX_DEFAULT_WORKERS)


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
    host: str, port: int, workers: int, threads: int, access_log: bool
) -> dict[str, Any]:
    """The gunicorn settings ``serve`` runs with."""
    address = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
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
        "graceful_timeout": 20,
        "accesslog": "-" if access_log else None,
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
    from review_app import create_app

    return create_app()


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


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535))
@click.option(
    "--workers",
    type=click.IntRange(1, 64),
    help=f"Worker processes (default: 2 x CPUs + 1, at most {MAX_DEFAULT_WORKERS}).",
)
@click.option(
    "--threads",
    default=DEFAULT_THREADS,
    show_default=True,
    type=click.IntRange(1, 64),
    help="Threads per worker: gthread workers; 1 for sync workers.",
)
@click.option("--access-log/--no-access-log", default=True, help="Log each request to stdout.")
@click.option(
    "--database-url",
    envvar="RULEBOOK_DATABASE_URL",
    show_envvar=True,
    metavar="URL",
    help="SQLAlchemy URL of the database (default: the SQLite file in the instance folder).",
)
def serve(
    host: str,
    port: int,
    workers: int | None,
    threads: int,
    access_log: bool,
    database_url: str | None,
) -> None:
    """Serve the API and review app under gunicorn, with several workers."""
    url = database_url or store.default_url()
    try:
        made = _prepare(url)
    except RulebookError as exc:
        fail(exc, as_json=False)
    count = workers or default_workers()
    click.echo(
        f"Rulebook serving http://{host}:{port} with {count} worker(s) x {threads} thread(s), "
        f"database {show_url(url)}",
        err=True,
    )
    try:
        _Server(gunicorn_options(host, port, count, threads, access_log), _create_app).run()
    finally:
        if made is not None:
            shutil.rmtree(made, ignore_errors=True)

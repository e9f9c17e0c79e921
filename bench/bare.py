"""The baselines of the HTTP benchmark: bare Flask JSON endpoints under the same gunicorn
settings as Rulebook.

* ``create_app``: parses the request body and answers a small JSON object. The issue's
  baseline: the ratio against it shows what Rulebook's whole job costs (key check, validation,
  evaluation and a durable PostgreSQL commit per decision).
* ``create_insert_app``: the same, plus one durable autocommit INSERT of the body into a
  one-table log (``bench_log``), on each thread's own psycopg connection, as Rulebook's hot
  path does. Not a Rulebook feature: a floor that tells how much of the gap is the database
  write itself on this machine, and how much is Rulebook's own work.
* ``create_wait_app``: the bare endpoint that only waits (``BENCH_WAIT_MS``, 1 ms by default)
  before it answers, as a request waiting for its commit does, with no database at all. A
  bound, not a baseline: what a request thread's wait alone costs the server under load
  (the GIL handed over and taken back, the thread switches), which any durably logged
  decision pays on top of the database's own work.
"""

from __future__ import annotations

import os
import threading
import time
from typing import Any

import psycopg
from flask import Flask, request
from psycopg.types.json import Jsonb

LOG_TABLE = (
    "CREATE TABLE IF NOT EXISTS bench_log "
    "(id BIGSERIAL PRIMARY KEY, body JSONB NOT NULL, at TIMESTAMPTZ NOT NULL DEFAULT now())"
)


def create_app() -> Flask:
    app = Flask(__name__)

    @app.post("/api/v1/rulesets/<name>/decisions")
    def decide(name: str) -> tuple[dict[str, Any], int]:
        body = request.get_json(silent=True) or {}
        return {"ruleset": name, "facts": len(body.get("facts", {}))}, 201

    return app


def create_insert_app() -> Flask:
    app = Flask(__name__)
    dsn = os.environ["BENCH_LOG_DSN"]
    local = threading.local()
    opened: list[psycopg.Connection[Any]] = app.extensions.setdefault("bench_log_connections", [])

    @app.post("/api/v1/rulesets/<name>/decisions")
    def decide(name: str) -> tuple[dict[str, Any], int]:
        body = request.get_json(silent=True) or {}
        conn = getattr(local, "conn", None)
        if conn is None:
            conn = local.conn = psycopg.connect(dsn, autocommit=True)
            opened.append(conn)
        row = conn.execute(
            "INSERT INTO bench_log (body) VALUES (%s) RETURNING id", [Jsonb(body)], prepare=True
        ).fetchone()
        return {"ruleset": name, "id": row[0] if row else None}, 201

    return app


def create_wait_app() -> Flask:
    app = create_app()
    delay = float(os.environ.get("BENCH_WAIT_MS", "1")) / 1000

    @app.before_request
    def wait() -> None:
        time.sleep(delay)

    return app

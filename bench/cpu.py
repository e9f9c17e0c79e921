"""CPU per decision, in process: what Rulebook's own work costs, without a load generator,
gunicorn or a second process sharing the cores (the companion of ``bench.http``, whose rounds
vary by tens of percent on a shared two-core machine).

Each target's WSGI callable is called directly, one request at a time, with the same 1,000 fact
sets as ``bench.http``, against PostgreSQL; the measure is the process's CPU time
(``time.process_time``: every thread, the shadow's worker included, system time included) per
request, the smallest of ``--rounds`` rounds taken alternately. Targets:

* ``bare``: the bare Flask view of ``bench.bare`` (the HTTP benchmark's baseline);
* ``bare_insert``: the same plus one durable INSERT (psycopg, autocommit);
* ``rulebook``: the decision endpoint, every decision committed (group commit, the default);
* ``rulebook_shadow``: the same with version 2 running in shadow, every shadow result stored
  before the round's clock stops.

PostgreSQL's own CPU is not in these figures (another process); ``bench.http`` has it.

    .venv/bin/python -m bench.cpu --out bench/results/cpu.json [--requests 2000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url

from bench import http
from bench.schema import pg_schema_url

__all__ = ["main"]

PATH = "/api/v1/rulesets/{name}/decisions"
Wsgi = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def _environ(path: str, body: bytes, key: str | None) -> dict[str, Any]:
    environ: dict[str, Any] = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": path,
        "SCRIPT_NAME": "",
        "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8000",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "CONTENT_TYPE": "application/json",
        "CONTENT_LENGTH": str(len(body)),
        "HTTP_HOST": "127.0.0.1:8000",
        "REMOTE_ADDR": "127.0.0.1",
        "wsgi.input": io.BytesIO(body),
        "wsgi.url_scheme": "http",
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
        "wsgi.version": (1, 0),
    }
    if key:
        environ["HTTP_AUTHORIZATION"] = f"Bearer {key}"
    return environ


class _Target:
    """One WSGI app driven one request at a time; ``settle`` waits for work it left behind."""

    def __init__(
        self,
        app: Wsgi,
        path: str,
        key: str | None,
        settle: Callable[[], None] = lambda: None,
        close: Callable[[], None] = lambda: None,
    ) -> None:
        self.app = app
        self.path = path
        self.key = key
        self.settle = settle
        self.close = close
        self.bodies = [json.dumps({"facts": f}).encode() for f in http._facts(1000)]
        self.sent = 0

    def call(self) -> None:
        body = self.bodies[self.sent % len(self.bodies)]
        self.sent += 1
        status: list[str] = []

        def start(s: str, headers: list[tuple[str, str]], exc_info: Any = None) -> None:
            status.append(s)

        answer = b"".join(self.app(_environ(self.path, body, self.key), start))
        if not status or status[0][:1] != "2":
            raise RuntimeError(f"{self.path}: {status} {answer[:300]!r}")

    def round(self, requests: int) -> dict[str, float]:
        cpu, wall = time.process_time(), time.perf_counter()
        for _ in range(requests):
            self.call()
        self.settle()
        return {
            "cpu_us": round((time.process_time() - cpu) / requests * 1e6, 1),
            "wall_us": round((time.perf_counter() - wall) / requests * 1e6, 1),
        }


def _rulebook(url: str, name: str, key: str, shadow: bool) -> _Target:
    from review_app import create_app
    from rules.store.extension import database, decisions

    http._shadow(url, name, shadow)
    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "bench"})
    with app.app_context():
        service = decisions()
        db = database()

    def settle() -> None:
        if service.shadow is not None and not service.shadow.drain():
            raise RuntimeError("the shadow did not catch up")

    return _Target(app.wsgi_app, PATH.format(name=name), key, settle, db.dispose)


def _bare_insert(path: str) -> _Target:
    from bench import bare

    app = bare.create_insert_app()

    def close() -> None:
        for conn in app.extensions["bench_log_connections"]:
            conn.close()

    return _Target(app.wsgi_app, path, None, close=close)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="bench/results/cpu.json")
    parser.add_argument("--requests", type=int, default=2000, help="requests a round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument(
        "--postgres",
        default=os.environ.get("RULEBOOK_TEST_POSTGRES_URL")
        or "postgresql+psycopg://postgres@127.0.0.1:5432/test",
    )
    args = parser.parse_args(argv)
    url = http._pg_url(args.postgres)
    name, key = http._prepare(url)
    os.environ["BENCH_LOG_DSN"] = (
        make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    )
    from bench import bare

    path = PATH.format(name=name)
    targets = {
        "bare": _Target(bare.create_app().wsgi_app, path, None),
        "bare_insert": _bare_insert(path),
        "rulebook": _rulebook(url, name, key, shadow=False),
    }
    # The shadow is per ruleset: its own schema, so that the rulebook target runs without one.
    url2 = pg_schema_url(args.postgres, f"{http.SCHEMA}_shadow", create=True)
    try:
        name2, key2 = http._prepare(url2)
        targets["rulebook_shadow"] = _rulebook(url2, name2, key2, shadow=True)
        for target in targets.values():  # warm-up: compile, connect, fill caches
            target.round(min(200, args.requests))
        rounds: dict[str, list[dict[str, float]]] = {k: [] for k in targets}
        for number in range(args.rounds):
            order = list(targets) if number % 2 == 0 else list(reversed(targets))
            for label in order:
                rounds[label].append(targets[label].round(args.requests))
    finally:
        for target in targets.values():
            target.close()
        pg_schema_url(args.postgres, f"{http.SCHEMA}_shadow", create=False)
    best = {k: min(r["cpu_us"] for r in v) for k, v in rounds.items()}
    report: dict[str, Any] = {
        "benchmark": "CPU per decision in process (WSGI called directly), PostgreSQL log",
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "settings": {"requests": args.requests, "rounds": args.rounds},
        "rounds": rounds,
        "best_cpu_us": best,
        "rulebook_over_bare": round(best["rulebook"] / best["bare"], 2),
        "rulebook_over_bare_insert": round(best["rulebook"] / best["bare_insert"], 2),
        "shadow_cpu_us": round(best["rulebook_shadow"] - best["rulebook"], 1),
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(report, indent=2) + "\n")
    for label, cpu in best.items():
        print(f"{label:16} {cpu:8.1f} µs CPU a request (best of {args.rounds})")
    print(
        f"rulebook / bare {report['rulebook_over_bare']}x; rulebook / bare+insert "
        f"{report['rulebook_over_bare_insert']}x; the shadow adds {report['shadow_cpu_us']} µs "
        f"-> {args.out}"
    )
    return report


if __name__ == "__main__":
    main()

"""Group commit in process: threads deciding at once through one ``DecisionService``, with no
HTTP server, load generator or gunicorn sharing the cores (the companion of ``bench.http`` for
the decision log's own cost, which that benchmark's noise hides).

For each setting (``--threads``, each with group commit and with one commit per decision,
``RULEBOOK_GROUP_COMMIT_MS=0``), the threads decide for ``--duration`` seconds against
PostgreSQL; measured: decisions a second, this process's CPU a decision (every thread, system
time included), PostgreSQL's CPU a decision (every ``postgres`` process of this machine, from
/proc: run it on a quiet database) and decisions a committed group. Every decision has a
request id, as every decision the API records does (it makes one when a request has none).
Rounds alternate between the settings; the best round of each is reported.

    .venv/bin/python -m bench.group --out bench/results/group.json [--threads 4,16]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import threading
import time
from pathlib import Path
from typing import Any

from bench import http
from bench.proc import process_cpu
from rules.store import Database
from rules.store.decisions import DecisionService
from rules.store.decisions.group import GroupWriter
from rules.store.decisions.requests import new_request_id

__all__ = ["main"]


def _round(
    service: DecisionService, name: str, facts: list[dict[str, Any]], threads: int, seconds: float
) -> dict[str, Any]:
    writer = service._writer
    groups_before = writer.groups if isinstance(writer, GroupWriter) else 0
    counts = [0] * threads
    stop = time.monotonic() + seconds

    def work(i: int) -> None:
        rng = random.Random(i)
        n = 0
        while time.monotonic() < stop:
            # A request id as the API gives every decision that comes without one (so a group
            # is the one statement the API's decisions take; without ids it is pipelined).
            service.decide(name, rng.choice(facts), request_id=new_request_id(), caller="bench")
            n += 1
        counts[i] = n

    pool = [threading.Thread(target=work, args=(i,)) for i in range(threads)]
    pg0, cpu0, wall0 = process_cpu(comm="postgres"), time.process_time(), time.monotonic()
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    pg1, cpu1, wall1 = process_cpu(comm="postgres"), time.process_time(), time.monotonic()
    n = sum(counts)
    groups = (writer.groups - groups_before) if isinstance(writer, GroupWriter) else n
    return {
        "decisions": n,
        "per_s": round(n / (wall1 - wall0), 1),
        "client_cpu_us": round(1e6 * (cpu1 - cpu0) / n, 1),
        "postgres_cpu_us": round(1e6 * (pg1 - pg0) / n, 1),
        "per_group": round(n / max(1, groups), 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="bench/results/group.json")
    parser.add_argument("--threads", default="4,16")
    parser.add_argument("--duration", type=float, default=4.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--postgres",
        default=os.environ.get("RULEBOOK_TEST_POSTGRES_URL")
        or "postgresql+psycopg://postgres@127.0.0.1:5432/test",
    )
    args = parser.parse_args()
    url = http._pg_url(args.postgres)
    name, _ = http._prepare(url)
    facts = http._facts(1000)
    db = Database(url)
    services = {
        "group": DecisionService(db, group_commit_ms=2.0),
        "commit_each": DecisionService(db, group_commit_ms=0),
    }
    for service in services.values():  # compile the version, open the connections
        for f in facts[:50]:
            service.decide(name, f, caller="bench")
    settings = [(int(t), w) for t in args.threads.split(",") for w in services]
    rounds: dict[str, list[dict[str, Any]]] = {f"{w}_{t}": [] for t, w in settings}
    for number in range(args.rounds):
        for threads, writer in settings if number % 2 == 0 else reversed(settings):
            result = _round(services[writer], name, facts, threads, args.duration)
            rounds[f"{writer}_{threads}"].append(result)
            print(
                f"{writer:12} {threads:>3} threads  {result['per_s']:>7.0f}/s  "
                f"client {result['client_cpu_us']:>5.0f} µs  "
                f"postgres {result['postgres_cpu_us']:>5.0f} µs  "
                f"{result['per_group']:.2f} a group",
                flush=True,
            )
    db.dispose()
    best = {k: max(v, key=lambda r: r["per_s"]) for k, v in rounds.items()}
    report = {
        "benchmark": "group commit in process: threads deciding at once, PostgreSQL log",
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "settings": {"duration_s": args.duration, "rounds": args.rounds},
        "best": best,
        "rounds": rounds,
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(report, indent=2) + "\n")
    print(f"-> {args.out}")


if __name__ == "__main__":
    main()

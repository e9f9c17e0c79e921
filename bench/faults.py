"""Fault script: decisions under load on a real ``rulebook serve`` while a worker is SIGKILLed
and PostgreSQL is stopped (``pg_ctl -m fast``, then ``-m immediate``) and started again.

    make bench          # runs this too
    .venv/bin/python -m bench.faults --out bench/results/faults.json [--short]

Loopback only, bounded in time, and on a PostgreSQL cluster the script starts for itself
(tests/pgcluster.py: initdb in a temporary directory, a free port), never a shared server.
Every request carries a ``request_id``, so afterwards the log is asked about each answer:

- every 2xx decision id must be in the log (``lost_2xx``: must be 0);
- a 503 is looked up by its request_id: one that says the outcome is *unknown* may have been
  recorded (the client retries with the same request_id), one that says nothing was recorded
  must not have been (``recorded_though_503_said_not``: must be 0, reported as found);
- requests with no answer at all (the killed worker's) are counted, and how many were recorded;
- a restart while the server idles, then one ``/readyz`` and ``--sequential`` decisions one at
  a time (each on a new connection): how many failed (stale connections: issue 12 item 6);
- seconds to full recovery after each restart under load: from ``pg_ctl start`` returning to
  the end of the last failed request sent after it (and answered before the next fault; 0
  when the first requests already succeeded), and to the first ``/readyz`` 200;
- the audit chain verifies, and every decision replays identically.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import signal
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.http import _facts, _prepare  # noqa: E402
from rules import audit  # noqa: E402
from rules.store import Database, decisions  # noqa: E402
from rules.store.models import Decision  # noqa: E402
from tests.pgcluster import PgCluster, missing_reason, own_cluster  # noqa: E402
from tests.serving import get, serving, workers  # noqa: E402

NO_ANSWER = 0  # the status recorded for a request that got no response (connection reset)


@dataclass
class Answer:
    request_id: str
    started: float
    ended: float
    status: int
    decision_id: int | None = None
    body: str = ""


class Load:
    """``clients`` threads, each sending decisions one after another on a keep-alive
    connection, every one with a request_id of its own, until stopped."""

    def __init__(self, port: int, name: str, key: str, clients: int) -> None:
        self.port, self.path, self.key = port, f"/api/v1/rulesets/{name}/decisions", key
        self.facts = _facts(500)
        self.answers: list[Answer] = []
        self._headers = {"Content-Type": "application/json", "Authorization": f"Bearer {key}"}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._client, args=(i,), daemon=True) for i in range(clients)
        ]

    def start(self) -> None:
        for t in self._threads:
            t.start()

    def stop(self) -> list[Answer]:
        self._stop.set()
        for t in self._threads:
            t.join(timeout=30)
        return self.answers

    def send(self, conn: http.client.HTTPConnection, request_id: str, n: int) -> Answer:
        """One decision with ``request_id``; what came back (or that nothing did)."""
        body = json.dumps({"facts": self.facts[n % len(self.facts)], "request_id": request_id})
        started = time.monotonic()
        try:
            conn.request("POST", self.path, body, self._headers)
            response = conn.getresponse()
            data = response.read().decode("utf-8", "replace")
            answer = Answer(request_id, started, time.monotonic(), response.status, body=data)
            if 200 <= response.status < 300:
                answer.decision_id = int(json.loads(data)["decision_id"])
        except (OSError, http.client.HTTPException):
            conn.close()
            answer = Answer(request_id, started, time.monotonic(), NO_ANSWER)
        with self._lock:
            self.answers.append(answer)
        return answer

    def _client(self, client: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=15)
        n = 0
        while not self._stop.is_set():
            n += 1
            if not 200 <= self.send(conn, f"fault-{client}-{n}", n).status < 300:
                time.sleep(0.02)  # not a retry (a new request_id): no busy loop while down
        conn.close()

    def sequential(self, count: int) -> list[Answer]:
        """``count`` decisions one after another, each on a new connection (so they spread
        over the workers and their threads): the issue's measurement after a restart."""
        out = []
        for n in range(count):
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=15)
            out.append(self.send(conn, f"sequential-{n}", n))
            conn.close()
        return out


class Readiness:
    """Polls /readyz every 50 ms; the times it answered 200."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.ready: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def _poll(self) -> None:
        while not self._stop.wait(0.05):
            try:
                if get(self.port, "/readyz")[0] == 200:
                    self.ready.append(time.monotonic())
            except OSError:
                pass


def sockets(pid: int) -> int:
    """How many sockets a process holds (clients' keep-alive connections and its database
    connections): the busiest worker is the one to kill."""
    try:
        return sum(1 for fd in Path(f"/proc/{pid}/fd").iterdir() if "socket:" in _link(fd))
    except OSError:
        return 0


def _link(fd: Path) -> str:
    try:
        return os.readlink(fd)
    except OSError:
        return ""


def says_unknown(body: str) -> bool:
    """Whether a 503's body says the outcome is unknown (not "nothing was recorded")."""
    try:
        problem = json.loads(body)
    except ValueError:
        return False
    text = json.dumps(problem).lower()
    return "unknown" in text and "nothing was recorded" not in text


def recovery(
    answers: list[Answer], readiness: list[float], back: float, until: float
) -> dict[str, Any]:
    """How long after PostgreSQL was back until every request succeeded and /readyz answered
    200: the requests sent after it was back and answered before the next fault."""
    after = [a for a in answers if back <= a.started and a.ended < until]
    failed = [a for a in after if not 200 <= a.status < 300]
    ok = [a.ended for a in after if 200 <= a.status < 300]
    ready = [t for t in readiness if back <= t < until]
    details: dict[str, int] = {}
    for a in failed:
        detail = _detail(a)
        details[detail] = details.get(detail, 0) + 1
    return {
        "requests_after": len(after),
        "failed_after": len(failed),
        "seconds_to_full_recovery": round(max((a.ended for a in failed), default=back) - back, 3),
        "seconds_to_first_2xx": round(min(ok) - back, 3) if ok else None,
        "seconds_to_ready": round(min(ready) - back, 3) if ready else None,  # if polled
        "failures_after": details,
        "failed_at_s": [round(a.started - back, 3) for a in failed][:20],
    }


def _detail(answer: Answer) -> str:
    if answer.status == NO_ANSWER:
        return "no answer"
    try:
        return f"{answer.status} {json.loads(answer.body).get('detail')}"
    except (ValueError, AttributeError):
        return f"{answer.status} {answer.body[:80]}"


def check_log(url: str, name: str, answers: list[Answer]) -> dict[str, Any]:
    """Ask the log about every answer; verify the audit chain; replay every decision."""
    db = Database(url)
    try:
        with db.session() as s:
            rows = dict(s.execute(select(Decision.request_id, Decision.id)).all())
            verified = audit.verify(s)
            replays = [r.identical for r in decisions.replay_all(s, name)]
    finally:
        db.dispose()
    ok = [a for a in answers if 200 <= a.status < 300]
    unavailable = [a for a in answers if a.status == 503]
    unknown = [a for a in unavailable if says_unknown(a.body)]
    said_not = [a for a in unavailable if not says_unknown(a.body)]
    no_answer = [a for a in answers if a.status == NO_ANSWER]
    other = sorted({a.status for a in answers} - {NO_ANSWER, 503} - set(range(200, 300)))
    return {
        "requests_sent": len(answers),
        "ok_2xx": len(ok),
        "lost_2xx": sum(1 for a in ok if rows.get(a.request_id) != a.decision_id),
        "status_503": len(unavailable),
        "status_503_outcome_unknown": len(unknown),
        "status_503_outcome_unknown_recorded": sum(1 for a in unknown if a.request_id in rows),
        "status_503_said_not_recorded": len(said_not),
        "recorded_though_503_said_not": sum(1 for a in said_not if a.request_id in rows),
        "no_answer": len(no_answer),
        "no_answer_recorded": sum(1 for a in no_answer if a.request_id in rows),
        "other_statuses": other,
        "decisions_in_log": len(rows),
        "audit_verify": {"ok": verified.ok, "events": verified.events},
        "replay": {
            "replayed": len(replays),
            "identical": sum(replays),
            "all_identical": all(replays),
        },
    }


def run(args: argparse.Namespace, pg: PgCluster, home: Path) -> dict[str, Any]:
    name, key = _prepare(pg.url)
    timeline: dict[str, float] = {}
    log = Path(args.out).with_suffix(".server.log") if args.keep_log else home / "serve.log"
    with serving(pg.url, home, workers=args.workers, log=log) as (proc, port):
        load, readiness = Load(port, name, key, args.clients), Readiness(port)
        t0, wall = time.monotonic(), time.time()
        load.start()
        readiness.start()
        time.sleep(args.phase)
        killed = max(workers(proc.pid, args.workers), key=sockets)  # one serving clients
        os.kill(killed, signal.SIGKILL)
        timeline["worker_sigkilled"] = time.monotonic()
        for mode in ("fast", "immediate"):
            time.sleep(args.phase)
            timeline[f"stop_{mode}"] = time.monotonic()
            pg.stop(mode)
            time.sleep(args.down)
            pg.start()
            timeline[f"back_{mode}"] = time.monotonic()
        time.sleep(args.phase)
        timeline["load_stopped"] = time.monotonic()
        load.stop()
        readiness.stop()
        # The case: PostgreSQL restarted while the server idles (no request, not even
        # /readyz, so every connection it keeps goes stale), then /readyz once and decisions
        # one at a time: all must succeed at once.
        time.sleep(args.down)
        pg.stop("fast")
        pg.start()
        timeline["back_idle"] = time.monotonic()
        first_ready = get(port, "/readyz")[0]
        probe = load.sequential(args.sequential)
        timeline["probe_done"] = time.monotonic()
        answers = load.answers
    report = check_log(pg.url, name, answers)
    report["recovery"] = {
        mode: recovery(answers, readiness.ready, timeline[f"back_{mode}"], timeline[until])
        for mode, until in (("fast", "stop_immediate"), ("immediate", "load_stopped"))
    }
    report["idle_restart_then_sequential"] = {
        "first_readyz_status": first_ready,
        "sent": len(probe),
        "ok_2xx": sum(1 for a in probe if 200 <= a.status < 300),
        **recovery(answers, [], timeline["back_idle"], timeline["probe_done"]),
    }
    report["timeline_s"] = {k: round(v - t0, 3) for k, v in timeline.items()}
    report["started_at_utc"] = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(wall))
    report["load_seconds"] = round(max(a.ended for a in answers) - t0, 3)
    return report


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="bench/results/faults.json")
    parser.add_argument("--workers", type=int, default=3, help="rulebook serve --workers")
    parser.add_argument("--clients", type=int, default=8, help="concurrent client threads")
    parser.add_argument("--phase", type=float, default=5.0, help="seconds between faults")
    parser.add_argument("--down", type=float, default=2.0, help="seconds PostgreSQL is down")
    parser.add_argument(
        "--keep-log", action="store_true", help="keep the server's log next to --out"
    )
    parser.add_argument(
        "--sequential", type=int, default=60, help="decisions one at a time after an idle restart"
    )
    parser.add_argument("--short", action="store_true", help="a few seconds (the suite's run)")
    args = parser.parse_args(argv)
    if args.short:
        args.workers, args.clients, args.phase, args.down, args.sequential = 2, 4, 1.5, 0.5, 20
    reason = missing_reason()
    if reason:
        sys.exit(f"the fault script needs a PostgreSQL cluster of its own: {reason}")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    with own_cluster() as pg, tempfile.TemporaryDirectory(prefix="rb-faults-") as home:
        report = run(args, pg, Path(home))
    report = {
        "benchmark": "decisions under a worker SIGKILL and PostgreSQL stop -m fast/immediate",
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "settings": {
            "workers": args.workers,
            "clients": args.clients,
            "phase_s": args.phase,
            "down_s": args.down,
            "postgres": "own cluster (initdb, pg_ctl) on 127.0.0.1, fsync on",
        },
        **report,
    }
    report["invariants_held"] = (
        report["lost_2xx"] == 0
        and report["recorded_though_503_said_not"] == 0
        and report["audit_verify"]["ok"]
        and report["replay"]["all_identical"]
    )
    Path(args.out).write_text(json.dumps(report, indent=2) + "\n")
    rec = report["recovery"]
    print(
        f"{report['requests_sent']} requests, {report['ok_2xx']} 2xx, "
        f"{report['lost_2xx']} 2xx lost, {report['status_503']} 503 "
        f"({report['recorded_though_503_said_not']} recorded though said not), "
        f"recovery fast {rec['fast']['seconds_to_full_recovery']} s / immediate "
        f"{rec['immediate']['seconds_to_full_recovery']} s, after an idle restart "
        f"{report['idle_restart_then_sequential']['ok_2xx']}/"
        f"{report['idle_restart_then_sequential']['sent']} sequential 2xx, audit "
        f"{'ok' if report['audit_verify']['ok'] else 'BROKEN'}, replay "
        f"{report['replay']['identical']}/{report['replay']['replayed']} identical -> {args.out}"
    )
    return report


if __name__ == "__main__":
    main()

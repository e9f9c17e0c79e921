"""HTTP benchmark: the decision endpoint under gunicorn, every decision durably logged to
PostgreSQL, against a bare Flask JSON endpoint under the same gunicorn settings (the target's
baseline), and against a bare endpoint that also makes one durable INSERT (a floor: what the
database write alone costs on this machine; see bench/bare.py). With ``--servers`` naming it,
``bare_flask_wait`` is a bound: the bare endpoint waiting 1 ms with no database, what a
request thread's wait for its commit alone costs the server. Each round also reports the CPU a
request under the load of the server's processes (``server_cpu_us``) and of PostgreSQL's
(``postgres_cpu_us``: every postgres process of the machine, from /proc; run it on a quiet
database); ``wrk``'s own is not counted.

    make bench          # runs this after the engine benchmark
    .venv/bin/python -m bench.http --out bench/results/http.json [--duration 10]

Rulebook is measured twice: with group commit (the default) and with one commit per decision
(``RULEBOOK_GROUP_COMMIT_MS=0``), the before and after of issue 13; and, with
``--low-load-duration``, each with a single connection, for what the group's window costs a
lone client.

The load generator is ``wrk`` (Debian's package; installed here with apt-get when missing),
in its own process, with keep-alive connections and a Lua script that cycles through 1,000
different fact sets. The two servers are measured alternately, ``--rounds`` times each, and the
best round of each is compared (on a shared two-core machine noise only ever slows a round down).
After each Rulebook round the decisions table is counted: every 2xx answer must be in the log.

Shadow mode is measured in the same run: ``rulebook_shadow`` is the same server with version 2
running in shadow (``rulebook shadow start``), measured next to ``rulebook`` (no shadow), and
``shadow_ratio`` is its best round over ``rulebook``'s (target: at least 0.85, i.e. within
15%); ``shadowed`` counts the shadow results stored for the decisions of its round, and
``all_shadowed`` says whether every one of them has one.

    .venv/bin/python -m bench.http --servers rulebook,rulebook_shadow --rounds 3 \
        --out bench/results/http_shadow.json
"""

from __future__ import annotations

import argparse
import atexit
import json
import os
import platform
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url

from bench.schema import pg_schema_url

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.bare import LOG_TABLE  # noqa: E402
from bench.proc import process_cpu  # noqa: E402
from review_app.commands import DEFAULT_THREADS, default_workers  # noqa: E402
from rules.core.document import load_document  # noqa: E402
from rules.store import Database, accounts, upgrade, versions  # noqa: E402  # noqa: E402
from rules.store.models import Decision, ShadowResult  # noqa: E402
from rules.store.shadow import running_shadow, start_shadow, stop_shadow  # noqa: E402

# A schema of this run's own (two runs at once on one PostgreSQL must not drop each other's),
# dropped at the end.
SCHEMA = f"rb_bench_http_{os.getpid()}"
LUA_DONE = """
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests": %d, "duration_us": %d, "non_2xx": %d, "socket_errors": %d, '
    .. '"p50_us": %d, "p90_us": %d, "p99_us": %d, "mean_us": %.1f}\\n',
    summary.requests, summary.duration, e.status, e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.mean))
end
"""


def _pg_url(base: str) -> str:
    url = pg_schema_url(base, SCHEMA, create=True)
    atexit.register(pg_schema_url, base, SCHEMA, create=False)  # dropped however the run ends
    return url


def _facts(n: int) -> list[dict[str, Any]]:
    rng = random.Random(7)
    return [
        {
            "pirat": round(rng.uniform(0.05, 0.8), 3),
            "hirat": round(rng.uniform(0.05, 0.6), 3),
            "lvrat": round(rng.uniform(0.2, 1.2), 3),
            "chist": rng.randint(1, 6),
            "mhist": rng.randint(1, 4),
            "phist": rng.random() < 0.1,
            "insurance": rng.random() < 0.03,
        }
        for _ in range(n)
    ]


def _lua(path: Path, name: str, key: str | None) -> None:
    bodies = [json.dumps({"facts": f}) for f in _facts(1000)]
    lines = ["local bodies = {"]
    lines += [f"  {json.dumps(b)}," for b in bodies]
    lines.append("}")
    lines.append("local i = 0")
    lines.append('wrk.method = "POST"')
    lines.append('wrk.headers["Content-Type"] = "application/json"')
    if key:
        lines.append(f'wrk.headers["Authorization"] = "Bearer {key}"')
    lines.append(f'local path = "/api/v1/rulesets/{name}/decisions"')
    lines.append("request = function()")
    lines.append("  i = i % #bodies + 1")
    lines.append('  return wrk.format("POST", path, nil, bodies[i])')
    lines.append("end")
    path.write_text("\n".join(lines) + LUA_DONE)


def _wrk() -> str:
    found = shutil.which("wrk")
    if found:
        return found
    if os.geteuid() == 0 and shutil.which("apt-get"):
        subprocess.run(["apt-get", "install", "-y", "-q", "wrk"], check=True, capture_output=True)
        found = shutil.which("wrk")
    if not found:
        sys.exit("wrk is needed for the HTTP benchmark: apt-get install wrk")
    return found


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start(target: str, port: int, workers: int, threads: int, env: dict[str, str]) -> Any:
    cmd = [
        str(ROOT / ".venv" / "bin" / "gunicorn"),
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(workers),
        "--worker-class",
        "gthread",
        "--threads",
        str(threads),
        "--keep-alive",
        "30",
        "--log-level",
        "warning",
        target,
    ]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, start_new_session=True)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1)
            return proc
        except OSError as exc:
            if getattr(exc, "code", None) == 404:  # the bare app has no /healthz: it is up
                return proc
            time.sleep(0.2)
    _stop(proc)
    raise RuntimeError(f"{target} did not start on port {port}")


def _stop(proc: Any) -> None:
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def _load(wrk: str, port: int, script: Path, connections: int, duration: float) -> dict[str, Any]:
    out = subprocess.run(
        [
            wrk,
            f"-t{min(2, connections)}",  # wrk needs a connection per thread at least
            f"-c{connections}",
            f"-d{max(1, round(duration))}s",
            "-s",
            str(script),
            f"http://127.0.0.1:{port}/",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    line = next(ln for ln in out.splitlines() if ln.startswith("WRKJSON "))
    data: dict[str, Any] = json.loads(line[len("WRKJSON ") :])
    ok = data["requests"] - data["non_2xx"]
    data["ok"] = ok
    data["rps"] = round(ok / (data["duration_us"] / 1e6), 1)
    return data


def _prepare(url: str) -> tuple[str, str]:
    upgrade(url)
    admin = create_engine(url)
    with admin.begin() as conn:
        conn.execute(text(LOG_TABLE))
    admin.dispose()
    doc = load_document((ROOT / "examples" / "mortgage.yaml").read_bytes())
    db = Database(url)
    with db.session() as s:
        versions.create_ruleset(s, doc, "bench")
        _, key = accounts.create_api_key(s, "bench", ["decide"], "bench")
        wider = load_document(
            (ROOT / "examples" / "mortgage.yaml").read_text().replace("value: 0.30", "value: 0.35")
        )
        versions.create_version(s, doc.name, wider, base=1, actor="bench", proposal_id=None)
    db.dispose()
    return doc.name, key


def _shadow(url: str, name: str, on: bool) -> None:
    """Version 2 in shadow (on), or no shadow (off)."""
    db = Database(url)
    with db.session() as s:
        if running_shadow(s, name) is not None:
            stop_shadow(s, name, actor="bench")
        if on:
            start_shadow(s, name, version=2, actor="bench")
    db.dispose()


def _shadowed(url: str, after: int) -> tuple[int, int]:
    """The decisions recorded after decision ``after``, and how many of them the shadow
    stored a result for."""
    db = Database(url)
    with db.session() as s:
        made = int(s.scalar(select(func.count()).where(Decision.id > after)) or 0)
        shadowed = int(s.scalar(select(func.count()).where(ShadowResult.decision_id > after)) or 0)
    db.dispose()
    return made, shadowed


def _rounded(value: float) -> float | None:
    return None if value != value else round(value, 3)  # NaN: not measured


def paired(rounds: dict[str, list[dict[str, Any]]], top: str, bottom: str) -> list[float]:
    """``top``'s answers/s over ``bottom``'s, round by round (both measured in each round, the
    order reversed every other round): steadier than best over best on a shared machine, whose
    speed drifts between rounds."""
    return [
        a["rps"] / b["rps"]
        for a, b in zip(rounds.get(top, []), rounds.get(bottom, []), strict=False)
        if b["rps"]
    ]


def _count(url: str) -> tuple[int, int]:
    """How many decisions are logged, and the last one's id."""
    db = Database(url)
    with db.session() as s:
        n, last = s.execute(select(func.count(), func.max(Decision.id))).one()
    db.dispose()
    return int(n or 0), int(last or 0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="bench/results/http.json")
    parser.add_argument("--duration", type=float, default=8.0)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument(
        "--low-load-duration",
        type=float,
        default=4.0,
        help="seconds of one connection at a time on each Rulebook server (0: skip)",
    )
    # What `rulebook serve` runs with by default, for both servers.
    parser.add_argument("--workers", type=int, default=default_workers())
    parser.add_argument("--threads", type=int, default=DEFAULT_THREADS)
    parser.add_argument(
        "--servers",
        default="bare_flask,bare_flask_insert,rulebook,rulebook_commit_each,rulebook_shadow",
        help="which servers to measure (comma-separated)",
    )
    parser.add_argument(
        "--postgres",
        default=os.environ.get("RULEBOOK_TEST_POSTGRES_URL")
        or "postgresql+psycopg://postgres@127.0.0.1:5432/test",
    )
    args = parser.parse_args()
    wrk = _wrk()
    url = _pg_url(args.postgres)
    name, key = _prepare(url)
    tmp = Path(tempfile.mkdtemp(prefix="rb-bench-http-"))
    bare_lua, rb_lua = tmp / "bare.lua", tmp / "rulebook.lua"
    _lua(bare_lua, name, None)
    _lua(rb_lua, name, key)
    dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    env = dict(
        os.environ, RULEBOOK_DATABASE_URL=url, RULEBOOK_SECRET_KEY="bench", BENCH_LOG_DSN=dsn
    )
    rb = "review_app:serve_app()"  # as `rulebook serve` builds each worker's app
    servers: dict[str, tuple[str, Path, dict[str, str]]] = {
        "bare_flask": ("bench.bare:create_app()", bare_lua, {}),
        "bare_flask_insert": ("bench.bare:create_insert_app()", bare_lua, {}),
        # Not in the default list: the bare endpoint waiting 1 ms, no database (a bound).
        "bare_flask_wait": ("bench.bare:create_wait_app()", bare_lua, {}),
        # Group commit (the default) and, for comparison, one commit per decision.
        "rulebook": (rb, rb_lua, {}),
        "rulebook_commit_each": (rb, rb_lua, {"RULEBOOK_GROUP_COMMIT_MS": "0"}),
        # The default server with version 2 running in shadow.
        "rulebook_shadow": (rb, rb_lua, {}),
        # Not in the default list: four groups committing at once per worker (the default
        # before 2026-12-07; groups form only when more than four threads decide at once).
        "rulebook_four_leaders": (rb, rb_lua, {"RULEBOOK_GROUP_COMMIT_CONNECTIONS": "4"}),
    }
    chosen = args.servers.split(",")
    servers = {k: v for k, v in servers.items() if k in chosen}
    rounds: dict[str, list[dict[str, Any]]] = {k: [] for k in servers}
    low: dict[str, dict[str, Any]] = {}
    logged_ok = True

    def measure(label: str, connections: int, duration: float) -> dict[str, Any]:
        nonlocal logged_ok
        target, script, extra = servers[label]
        metrics_dir = tempfile.mkdtemp(prefix="rb-prom-", dir=tmp)
        port = _free_port()
        proc = _start(
            target,
            port,
            args.workers,
            args.threads,
            dict(env, PROMETHEUS_MULTIPROC_DIR=metrics_dir, **extra),
        )
        rulebook = label.startswith("rulebook")
        if rulebook:
            _shadow(url, name, label == "rulebook_shadow")
        try:
            _load(wrk, port, script, connections, 2.0)  # warm-up: compile the version
            before, last = _count(url) if rulebook else (0, 0)
            # CPU under the load: the server's processes (its own session) and PostgreSQL's.
            server0, pg0 = process_cpu(session=proc.pid), process_cpu(comm="postgres")
            result = _load(wrk, port, script, connections, duration)
            server1, pg1 = process_cpu(session=proc.pid), process_cpu(comm="postgres")
            done = max(1, result["requests"])
            result["server_cpu_us"] = round((server1 - server0) / done * 1e6)
            result["postgres_cpu_us"] = round((pg1 - pg0) / done * 1e6)
            if label == "rulebook_shadow":
                time.sleep(1.0)  # the shadow worker's last batch
                made, result["shadowed"] = _shadowed(url, last)
                result["all_shadowed"] = result["shadowed"] == made
        finally:
            _stop(proc)
        if rulebook:
            result["logged"] = _count(url)[0] - before
            # in-flight requests at the end were logged but not counted by wrk
            logged_ok &= result["logged"] >= result["ok"]
        print(
            f"{label:21} c={connections:<3} {result['rps']:>8.0f}/s  "
            f"p50 {result['p50_us'] / 1000:.2f} ms  p99 {result['p99_us'] / 1000:.2f} ms  "
            f"non-2xx {result['non_2xx']}  CPU a request: server {result['server_cpu_us']} µs, "
            f"PostgreSQL {result['postgres_cpu_us']} µs"
        )
        return result

    for number in range(args.rounds):
        # Odd rounds go in reverse order, so that no server always follows the same one.
        order = list(servers) if number % 2 == 0 else list(reversed(servers))
        for label in order:
            rounds[label].append(measure(label, args.connections, args.duration))
    if args.low_load_duration > 0:  # one client at a time: what the group's window costs
        for label in ("rulebook", "rulebook_commit_each"):
            if label in servers:
                low[label] = measure(label, 1, args.low_load_duration)
    best = {k: max(v, key=lambda r: r["rps"]) for k, v in rounds.items()}
    rps = {k: v["rps"] for k, v in best.items()}
    nan = float("nan")  # a server not measured in this run
    bare = rps.get("bare_flask") or nan
    ratio = rps.get("rulebook", nan) / bare
    ratio_each = rps.get("rulebook_commit_each", nan) / bare
    floor = rps.get("bare_flask_insert", nan) / bare
    wait = rps.get("bare_flask_wait", nan) / bare
    vs_insert = rps.get("rulebook", nan) / (rps.get("bare_flask_insert") or nan)
    shadow_ratio = rps["rulebook_shadow"] / rps["rulebook"] if "rulebook_shadow" in rps else None
    all_shadowed = all(r.get("all_shadowed") for r in rounds.get("rulebook_shadow", []))
    by_round = paired(rounds, "rulebook", "bare_flask")
    shadow_by_round = paired(rounds, "rulebook_shadow", "rulebook")  # shadow on over off
    report = {
        "benchmark": "decision endpoint vs bare Flask endpoint, gunicorn gthread, PostgreSQL log",
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "settings": {
            "workers": args.workers,
            "threads": args.threads,
            "connections": args.connections,
            "duration_s": args.duration,
            "rounds": args.rounds,
            "load_generator": "wrk -t2 (second process), 1,000 distinct fact sets",
        },
        "rounds": rounds,
        "best": best,
        "low_load": low,
        "throughput_ratio": _rounded(ratio),
        "commit_each_ratio": _rounded(ratio_each),
        "bare_insert_ratio": _rounded(floor),
        "bare_wait_ratio": _rounded(wait),
        "rulebook_vs_bare_insert": _rounded(vs_insert),
        # Not the target's measure (best round over best round): how far single rounds spread.
        "throughput_ratio_per_round": [round(r, 3) for r in by_round],
        "throughput_ratio_median": round(statistics.median(by_round), 3) if by_round else None,
        "every_2xx_logged": logged_ok,
        "target": ">= 0.5 of the bare endpoint's throughput with every decision logged",
        "met": ratio >= 0.5 and logged_ok,
        "shadow_ratio": None if shadow_ratio is None else round(shadow_ratio, 3),
        "shadow_ratio_per_round": [round(r, 3) for r in shadow_by_round],
        "shadow_ratio_median": (
            round(sorted(shadow_by_round)[len(shadow_by_round) // 2], 3)
            if shadow_by_round
            else None
        ),
        "shadow_target": "rulebook_shadow >= 0.85 of rulebook (shadow on within 15% of off)",
        "every_decision_shadowed": None if shadow_ratio is None else all_shadowed,
        "shadow_met": None if shadow_ratio is None else shadow_ratio >= 0.85 and all_shadowed,
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(report, indent=2) + "\n")
    print(
        f"rulebook / bare {ratio:.2f} (target >= 0.5; one commit per decision "
        f"{ratio_each:.2f}); bare+insert / bare {floor:.2f}; "
        f"rulebook / bare+insert {vs_insert:.2f}; every 2xx logged: {logged_ok} -> {args.out}"
    )
    if by_round:
        print(
            f"rulebook / bare round by round {[round(r, 2) for r in by_round]}, median "
            f"{statistics.median(by_round):.2f} (the spread; the target is best over best)"
        )
    if "bare_flask_wait" in rps:
        print(f"bare waiting 1 ms / bare {wait:.2f} (no database: the wait alone)")
    if shadow_ratio is not None:
        print(
            f"shadow on / off {shadow_ratio:.3f} (target >= 0.85); per round "
            f"{[round(r, 3) for r in shadow_by_round]}; every decision shadowed: {all_shadowed}"
        )
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()

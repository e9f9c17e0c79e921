"""HTTP benchmark: the decision endpoint under gunicorn, every decision durably logged to
PostgreSQL, against a bare Flask JSON endpoint under the same gunicorn settings (the target's
baseline), and against a bare endpoint that also makes one durable INSERT (a floor: what the
database write alone costs on this machine; see bench/bare.py).

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
from review_app.commands import DEFAULT_THREADS, default_workers  # noqa: E402
from rules.core.document import load_document  # noqa: E402
from rules.store import Database, accounts, upgrade, versions  # noqa: E402  # noqa: E402
from rules.store.models import Decision  # noqa: E402

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
    db.dispose()
    return doc.name, key


def _count(url: str) -> int:
    db = Database(url)
    with db.session() as s:
        n = int(s.scalar(select(func.count()).select_from(Decision)) or 0)
    db.dispose()
    return n


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
    rb = "review_app:create_app()"
    servers: dict[str, tuple[str, Path, dict[str, str]]] = {
        "bare_flask": ("bench.bare:create_app()", bare_lua, {}),
        "bare_flask_insert": ("bench.bare:create_insert_app()", bare_lua, {}),
        # Group commit (the default) and, for comparison, one commit per decision.
        "rulebook": (rb, rb_lua, {}),
        "rulebook_commit_each": (rb, rb_lua, {"RULEBOOK_GROUP_COMMIT_MS": "0"}),
    }
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
        try:
            _load(wrk, port, script, connections, 2.0)  # warm-up: compile the version
            before = _count(url) if rulebook else 0
            result = _load(wrk, port, script, connections, duration)
        finally:
            _stop(proc)
        if rulebook:
            result["logged"] = _count(url) - before
            # in-flight requests at the end were logged but not counted by wrk
            logged_ok &= result["logged"] >= result["ok"]
        print(
            f"{label:21} c={connections:<3} {result['rps']:>8.0f}/s  "
            f"p50 {result['p50_us'] / 1000:.2f} ms  p99 {result['p99_us'] / 1000:.2f} ms  "
            f"non-2xx {result['non_2xx']}"
        )
        return result

    for _ in range(args.rounds):
        for label in servers:
            rounds[label].append(measure(label, args.connections, args.duration))
    if args.low_load_duration > 0:  # one client at a time: what the group's window costs
        for label in ("rulebook", "rulebook_commit_each"):
            low[label] = measure(label, 1, args.low_load_duration)
    best = {k: max(v, key=lambda r: r["rps"]) for k, v in rounds.items()}
    ratio = best["rulebook"]["rps"] / best["bare_flask"]["rps"]
    ratio_each = best["rulebook_commit_each"]["rps"] / best["bare_flask"]["rps"]
    floor = best["bare_flask_insert"]["rps"] / best["bare_flask"]["rps"]
    vs_insert = best["rulebook"]["rps"] / best["bare_flask_insert"]["rps"]
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
        "throughput_ratio": round(ratio, 3),
        "commit_each_ratio": round(ratio_each, 3),
        "bare_insert_ratio": round(floor, 3),
        "rulebook_vs_bare_insert": round(vs_insert, 3),
        "every_2xx_logged": logged_ok,
        "target": ">= 0.5 of the bare endpoint's throughput with every decision logged",
        "met": ratio >= 0.5 and logged_ok,
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(report, indent=2) + "\n")
    print(
        f"rulebook / bare {ratio:.2f} (target >= 0.5; one commit per decision "
        f"{ratio_each:.2f}); bare+insert / bare {floor:.2f}; "
        f"rulebook / bare+insert {vs_insert:.2f}; every 2xx logged: {logged_ok} -> {args.out}"
    )
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()

"""Keeps the HTTP benchmark's baselines (bench/bare.py) and fact generator from rotting."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from bench import bare
from bench import http as bench
from bench.proc import process_cpu
from rules.core.document import load_document
from rules.core.engine import Engine
from tests.rules.store.storecases import MORTGAGE


def test_the_bench_facts_are_valid_for_the_mortgage_ruleset() -> None:
    doc = load_document(MORTGAGE.read_bytes())
    engine = Engine()
    outcomes = {engine.evaluate(doc, f).outputs["outcome"] for f in bench._facts(200)}  # type: ignore[index]
    assert outcomes == {"approve", "refer", "decline"}


def test_the_bare_endpoint_parses_the_body() -> None:
    client = bare.create_app().test_client()
    r = client.post("/api/v1/rulesets/x/decisions", json={"facts": {"a": 1, "b": 2}})
    assert (r.status_code, r.get_json()) == (201, {"ruleset": "x", "facts": 2})


def test_the_wait_bound_waits_then_answers_as_the_bare_endpoint(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("BENCH_WAIT_MS", "30")
    client = bare.create_wait_app().test_client()
    started = time.perf_counter()
    r = client.post("/api/v1/rulesets/x/decisions", json={"facts": {"a": 1}})
    waited = time.perf_counter() - started
    assert (r.status_code, r.get_json()) == (201, {"ruleset": "x", "facts": 1})
    assert waited >= 0.03


def test_process_cpu_counts_a_sessions_processes_only() -> None:
    """bench.http's CPU a request: the server's processes are its session's (gunicorn starts
    in a session of its own), and no other process counts."""
    burn = (
        "import sys, time\nend = time.process_time() + 0.3\n"
        "while time.process_time() < end: pass\nprint('burnt', flush=True)\nsys.stdin.read()"
    )
    child = subprocess.Popen(
        [sys.executable, "-c", burn],
        start_new_session=True,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdin is not None
    assert child.stdout is not None
    try:
        assert child.stdout.readline() == "burnt\n"
        seen = process_cpu(session=child.pid)
    finally:
        child.stdin.close()
        child.wait()
        child.stdout.close()
    assert 0.15 <= seen <= 1.0
    assert process_cpu(session=child.pid) == 0  # it has exited: nothing of that session left
    assert process_cpu(comm="no-such-command-") == 0


@pytest.mark.postgres
def test_the_insert_baseline_commits_one_row_per_request(
    pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = create_engine(pg_url)
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE IF EXISTS bench_log"))
        conn.execute(text(bare.LOG_TABLE))
    dsn = make_url(pg_url).set(drivername="postgresql").render_as_string(hide_password=False)
    monkeypatch.setenv("BENCH_LOG_DSN", dsn)
    app = bare.create_insert_app()
    client = app.test_client()
    for i in range(3):
        r = client.post("/api/v1/rulesets/x/decisions", json={"facts": {"i": i}})
        assert r.status_code == 201
    for conn in app.extensions["bench_log_connections"]:
        conn.close()
    with engine.begin() as conn:
        bodies = [json.dumps(b) for (b,) in conn.execute(text("SELECT body FROM bench_log"))]
        conn.execute(text("DROP TABLE bench_log"))
    engine.dispose()
    assert sorted(bodies) == [json.dumps({"facts": {"i": i}}) for i in range(3)]


def test_paired_ratios_are_taken_round_by_round() -> None:
    rounds = {
        "bare_flask": [{"rps": 2000.0}, {"rps": 1000.0}, {"rps": 4000.0}],
        "rulebook": [{"rps": 1000.0}, {"rps": 700.0}, {"rps": 1000.0}],
    }
    assert bench.paired(rounds, "rulebook", "bare_flask") == [0.5, 0.7, 0.25]
    # Best over best would say 0.25; the median of the pairs says 0.5.
    assert bench.paired(rounds, "rulebook", "missing") == []
    assert bench.paired({"a": [{"rps": 1.0}], "b": [{"rps": 0.0}]}, "a", "b") == []

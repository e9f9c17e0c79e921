"""Keeps the HTTP benchmark's baselines (bench/bare.py) and fact generator from rotting."""

from __future__ import annotations

import json
import time

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from bench import bare
from bench import http as bench
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

"""/healthz, /readyz and /metrics, including prometheus_client's multiprocess mode."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from rules.store import Database, accounts, versions
from tests.rules.api.conftest import APPROVE, NAME, REFER, Api, db_of, fields, make_app, mortgage

ROOT = Path(__file__).resolve().parents[3]


def sample(api: Api, name: str, **labels: str) -> float:
    """The value of one sample on /metrics (0 when absent)."""
    r = api.get("/metrics", key=None)
    assert r.status_code == 200
    assert r.mimetype == "text/plain"
    for family in text_string_to_metric_families(r.get_data(as_text=True)):
        for s in family.samples:
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
                return float(s.value)
    return 0.0


def test_liveness_and_readiness(api: Api) -> None:
    assert api.get("/healthz", key=None).get_json() == {"status": "ok"}
    r = api.get("/readyz", key=None)
    assert r.status_code == 200
    assert r.get_json()["status"] == "ready"


def test_an_unmigrated_database_is_not_ready(tmp_path: Path) -> None:
    app = make_app(f"sqlite:///{tmp_path / 'empty.sqlite3'}")
    try:
        r = app.test_client().get("/readyz")
    finally:
        db_of(app).dispose()
    assert r.status_code == 503
    fields(r)
    assert "rulebook db upgrade" in r.get_json()["detail"]


def test_metrics_count_decisions_exceptions_latency_and_responses(api: Api) -> None:
    automated = {"ruleset": NAME, "version": "1", "outcome": "automated"}
    exception = {"ruleset": NAME, "version": "1", "outcome": "exception"}
    before = {
        "automated": sample(api, "rulebook_decisions_total", **automated),
        "exception": sample(api, "rulebook_decisions_total", **exception),
        "exceptions": sample(api, "rulebook_decision_exceptions_total", ruleset=NAME),
        "latency": sample(api, "rulebook_decision_seconds_count", endpoint="decision"),
        "422": sample(api, "rulebook_http_responses_total", status="422"),
    }
    assert api.decide({"facts": APPROVE, "request_id": "m"}).status_code == 201
    assert api.decide({"facts": APPROVE, "request_id": "m"}).status_code == 200  # a repeat
    assert api.decide({"facts": REFER}).status_code == 201
    assert api.decide({"facts": {}}).status_code == 422
    assert sample(api, "rulebook_decisions_total", **automated) == before["automated"] + 1
    assert sample(api, "rulebook_decisions_total", **exception) == before["exception"] + 1
    exceptions = sample(api, "rulebook_decision_exceptions_total", ruleset=NAME)
    assert exceptions == before["exceptions"] + 1
    latency = sample(api, "rulebook_decision_seconds_count", endpoint="decision")
    assert latency == before["latency"] + 3
    assert sample(api, "rulebook_http_responses_total", status="422") == before["422"] + 1


WORKER = textwrap.dedent(
    """
    import sys
    from prometheus_client.parser import text_string_to_metric_families
    from review_app import create_app
    from rules.api.metrics import child_exit

    url, token, request_id = sys.argv[1:]
    app = create_app({"TESTING": True, "DATABASE_URL": url, "SECRET_KEY": "t"})
    client = app.test_client()
    facts = {"pirat": 0.25, "hirat": 0.2, "lvrat": 0.8, "chist": 1, "mhist": 1,
             "phist": False, "insurance": False}
    r = client.post("/api/v1/rulesets/mortgage-approval/decisions",
                    json={"facts": facts, "request_id": request_id},
                    headers={"Authorization": "Bearer " + token})
    assert r.status_code == 201, r.get_json()
    text = client.get("/metrics").get_data(as_text=True)
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == "rulebook_decisions_total":
                print(int(s.value))
    child_exit(None, type("Worker", (), {"pid": __import__("os").getpid()})())
    """
)


def test_multiprocess_mode_adds_up_every_worker(sqlite_url: str, tmp_path: Path) -> None:
    db = Database(sqlite_url)
    with db.session() as s:
        versions.create_ruleset(s, mortgage(), "cli:test")
        token = accounts.create_api_key(s, "app", ["decide"], "cli:test")[1]
    db.dispose()
    folder = tmp_path / "prometheus"
    folder.mkdir()
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(folder)}
    seen = []
    for worker in ("w1", "w2"):
        proc = subprocess.run(
            [sys.executable, "-c", WORKER, sqlite_url, token, worker],
            capture_output=True,
            text=True,
            cwd=ROOT,
            env=env,
            check=False,
            timeout=120,
        )
        assert proc.returncode == 0, proc.stderr
        seen.append(proc.stdout.split())
    # The second worker's /metrics includes the first worker's decision.
    assert seen == [["1"], ["2"]]
    assert any(folder.iterdir())

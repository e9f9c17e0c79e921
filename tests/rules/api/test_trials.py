"""The scenarios and shadow API (DESIGN §4), on SQLite and PostgreSQL."""

from __future__ import annotations

from flask import Flask

from rules.store import versions
from rules.store.extension import DECISIONS_EXTENSION
from rules.store.shadow import start_shadow
from tests.rules.api.conftest import APPROVE, NAME, REFER, Api, db_of, fields, mortgage_v2

SCENARIOS = f"/api/v1/rulesets/{NAME}/scenarios"


def test_scenarios_are_added_listed_and_run(api: Api, app: Flask) -> None:
    added = api.post(SCENARIOS, {"id": "clean", "facts": APPROVE, "expect": {"outcome": "approve"}})
    assert added.status_code == 201, added.data
    assert added.get_json()["updated_by"].startswith("api:") or added.get_json()["updated_by"]
    listed = api.get(SCENARIOS).get_json()["items"]
    assert [s["id"] for s in listed] == ["clean"]
    ran = api.post(SCENARIOS + "/run", {}).get_json()
    assert (ran["passed"], ran["failed"]) == (1, 0)
    candidate = mortgage_v2().to_dict()
    candidate["rules"][1]["then"]["outcome"] = "refer"
    failed = api.post(SCENARIOS + "/run", {"candidate": candidate}).get_json()
    assert failed["failed"] == 1
    assert failed["results"][0]["actual"] == {"outcome": "refer"}
    assert failed["results"][0]["rule_ids"] == ["approve-clean-low-debt"]


def test_bad_scenarios_are_422_naming_each_field(api: Api) -> None:
    bad = api.post(SCENARIOS, {"facts": {**APPROVE, "pirt": 1}, "expect": {"outcome": 3}, "x": 1})
    assert bad.status_code == 422
    assert "x" in fields(bad)
    bad = api.post(SCENARIOS, {"facts": {**APPROVE, "pirt": 1}, "expect": {"outcome": 3}})
    assert bad.status_code == 422
    assert {"facts.pirt", "expect.outcome"} <= set(fields(bad))
    assert api.post(SCENARIOS, {"facts": APPROVE, "expect": {}}, key="read").status_code == 403
    both = api.post(SCENARIOS + "/run", {"version": 1, "candidate": {}})
    assert both.status_code == 422


def test_the_shadow_report(api: Api, app: Flask) -> None:
    assert api.get(f"/api/v1/rulesets/{NAME}/shadow").status_code == 404
    with db_of(app).session() as s:
        versions.create_version(s, NAME, mortgage_v2(), base=1, actor="user:a", proposal_id=None)
        start_shadow(s, NAME, version=2, actor="user:a")
    for facts in (APPROVE, REFER):
        answer = api.decide({"facts": facts})
        assert answer.status_code == 201
        assert "shadow" not in answer.get_json()
    app.extensions[DECISIONS_EXTENSION].shadow.drain()
    report = api.get(f"/api/v1/rulesets/{NAME}/shadow").get_json()
    assert report["version"] == 2
    assert report["running"]
    assert report["decisions_seen"] == 2
    assert report["differences"] == 1  # v2 raises the limit: 0.33 approves
    assert report["transitions"]["outcome"]["refer"] == {"approve": 1}

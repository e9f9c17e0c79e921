"""Stored decisions: reading one, recording a person's resolution, replaying it."""

from __future__ import annotations

from flask import Flask

from rules import audit
from rules.store.models import Resolution
from tests.rules.api.conftest import APPROVE, REFER, Api, count, db_of, fields


def _decided(api: Api, facts: dict[str, object]) -> int:
    r = api.decide({"facts": facts})
    assert r.status_code == 201
    return int(r.get_json()["decision_id"])


def test_a_resolution_is_recorded_and_visible_on_the_decision(api: Api, app: Flask) -> None:
    decision_id = _decided(api, REFER)
    before = api.get(f"/api/v1/decisions/{decision_id}").get_json()
    assert before["exception"] is True
    assert before["resolution"] is None
    r = api.post(
        f"/api/v1/decisions/{decision_id}/resolution",
        {"outputs": {"outcome": "approve"}, "note": "checked the file"},
        key="resolve",
    )
    assert r.status_code == 201
    assert r.get_json()["resolved_by"] == "apikey:only-resolve"
    after = api.get(f"/api/v1/decisions/{decision_id}", key="read").get_json()
    assert after["resolution"]["outputs"] == {"outcome": "approve"}
    assert after["resolution"]["note"] == "checked the file"
    assert after["outputs"] == before["outputs"]  # the decision itself never changes
    with db_of(app).session() as s:
        assert audit.verify(s).ok


def test_overriding_an_automated_decision_is_marked(api: Api) -> None:
    decision_id = _decided(api, APPROVE)
    r = api.post(f"/api/v1/decisions/{decision_id}/resolution", {"outputs": {"outcome": "decline"}})
    assert r.get_json()["override"] is True


def test_a_resolution_outside_the_outputs_schema_is_a_422(api: Api, app: Flask) -> None:
    decision_id = _decided(api, REFER)
    path = f"/api/v1/decisions/{decision_id}/resolution"
    r = api.post(path, {"outputs": {"outcome": "aprove"}})
    assert r.status_code == 422
    assert fields(r)["outputs.outcome"]["suggestion"] == "approve"
    r = api.post(path, {"outputs": {"outcom": "approve"}, "notes": "x"})
    errors = fields(r)
    assert errors["notes"]["suggestion"] == "note"
    r = api.post(path, {"outputs": {"outcom": "approve"}})
    assert fields(r)["outputs.outcom"]["suggestion"] == "outcome"
    assert "outputs" in fields(api.post(path, {"outputs": "approve"}))
    assert "note" in fields(api.post(path, {"outputs": {"outcome": "refer"}, "note": 5}))
    assert count(app, Resolution) == 0
    assert api.get(f"/api/v1/decisions/{decision_id}").get_json()["resolution"] is None


def test_replay_reproduces_a_stored_decision(api: Api) -> None:
    decision_id = _decided(api, APPROVE)
    r = api.post(f"/api/v1/decisions/{decision_id}/replay", key="read")
    assert r.status_code == 200
    body = r.get_json()
    assert body["identical"] is True
    assert body["differences"] == []
    assert body["stored"] == body["replayed"]
    assert body["stored"]["outputs"]["outcome"] == "approve"


def test_unknown_decisions_are_404_problems(api: Api) -> None:
    for r in (
        api.get("/api/v1/decisions/999"),
        api.post("/api/v1/decisions/999/replay"),
        api.post("/api/v1/decisions/999/resolution", {"outputs": {"outcome": "refer"}}),
        api.get(f"/api/v1/decisions/{2**70}"),  # beyond any stored id: not a database error
    ):
        assert r.status_code == 404
        fields(r)

"""POST /api/v1/rulesets/{name}/decisions[/batch]: recorded, idempotent, strict, pinnable."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from rules.store import versions
from rules.store.models import ApiKey, Decision
from tests.rules.api.conftest import APPROVE, NAME, REFER, Api, count, db_of, fields, mortgage_v2

BATCH = f"/api/v1/rulesets/{NAME}/decisions/batch"


def test_a_decision_is_recorded_with_its_caller_and_located(api: Api, app: Flask) -> None:
    r = api.decide({"facts": APPROVE, "request_id": "r-1"}, key="decide")
    assert r.status_code == 201
    body = r.get_json()
    assert body["outputs"] == {"outcome": "approve", "reason": "Low debt ratio and clean credit"}
    assert body["rule_ids"] == ["approve-clean-low-debt"]
    assert (body["ruleset"], body["version"], body["exception"]) == (NAME, 1, False)
    assert body["request_id"] == "r-1"
    assert r.headers["Location"] == f"/api/v1/decisions/{body['decision_id']}"
    stored = api.get(r.headers["Location"]).get_json()
    assert stored["facts"] == APPROVE
    assert stored["caller"] == "apikey:only-decide"
    with db_of(app).session() as s:
        row = s.get(Decision, body["decision_id"])
        key_id = s.scalar(select(ApiKey.id).where(ApiKey.name == "only-decide"))
        assert row is not None
        assert row.api_key_id == key_id


def test_a_repeated_request_id_returns_the_stored_decision(api: Api, app: Flask) -> None:
    first = api.decide({"facts": APPROVE, "request_id": "same"})
    again = api.decide({"facts": APPROVE, "request_id": "same"})
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.get_json() == first.get_json()
    assert count(app, Decision) == 1


def test_a_request_id_reused_with_other_facts_is_a_conflict(api: Api, app: Flask) -> None:
    assert api.decide({"facts": APPROVE, "request_id": "r"}).status_code == 201
    r = api.decide({"facts": REFER, "request_id": "r"})
    assert r.status_code == 409
    assert "request_id" in fields(r)
    assert count(app, Decision) == 1


def test_bad_facts_are_a_422_naming_each_field(api: Api, app: Flask) -> None:
    facts: dict[str, Any] = {**APPROVE, "pirat": "high", "chist": 9, "phsit": True}
    del facts["mhist"]
    r = api.decide({"facts": facts})
    assert r.status_code == 422
    errors = fields(r)
    assert set(errors) == {"facts.pirat", "facts.chist", "facts.phsit", "facts.mhist"}
    assert errors["facts.phsit"]["suggestion"] == "phist"
    assert count(app, Decision) == 0


@pytest.mark.parametrize(
    ("body", "field", "suggestion"),
    [
        ({"facts": APPROVE, "verison": 1}, "verison", "version"),
        ({"fact": APPROVE}, "fact", "facts"),
        ({"fact": APPROVE}, "facts", None),  # ... and facts is then missing
        ({"facts": [1, 2]}, "facts", None),
        ({"facts": APPROVE, "version": 0}, "version", None),
        ({"facts": APPROVE, "version": -3}, "version", None),
        ({"facts": APPROVE, "version": "2"}, "version", None),
        ({"facts": APPROVE, "version": True}, "version", None),
        ({"facts": APPROVE, "version": 1.5}, "version", None),
        ({"facts": APPROVE, "request_id": ""}, "request_id", None),
        ({"facts": APPROVE, "request_id": 7}, "request_id", None),
    ],
)
def test_a_bad_body_field_is_a_422_naming_it(
    api: Api, body: dict[str, Any], field: str, suggestion: str | None
) -> None:
    r = api.decide(body)
    assert r.status_code == 422
    errors = fields(r)
    assert field in errors, errors
    assert errors[field].get("suggestion") == suggestion


@pytest.mark.parametrize(
    ("kwargs", "status"),
    [
        ({"data": "pirat=0.2", "content_type": "text/plain"}, 415),
        ({"data": '{"facts": {"pirat": 0.2', "content_type": "application/json"}, 400),
        ({"data": "[1, 2]", "content_type": "application/json"}, 422),
    ],
)
def test_a_body_that_is_not_a_json_object_is_refused(
    api: Api, app: Flask, kwargs: dict[str, str], status: int
) -> None:
    r = api.post(f"/api/v1/rulesets/{NAME}/decisions", **kwargs)
    assert r.status_code == status
    fields(r)
    assert count(app, Decision) == 0


def test_unknown_ruleset_and_version_are_404_problems(api: Api) -> None:
    r = api.decide({"facts": APPROVE}, name="mortgage-aproval")
    assert r.status_code == 404
    fields(r)
    assert "mortgage-approval" in r.get_json()["detail"]  # did you mean
    assert api.decide({"facts": APPROVE, "version": 9}).status_code == 404


def test_unpinned_decisions_follow_activation_and_pinned_ones_do_not(api: Api, app: Flask) -> None:
    with db_of(app).session() as s:
        versions.create_version(s, NAME, mortgage_v2(), base=1, actor="user:a", proposal_id=None)

    def decided(version: int | None) -> tuple[int, str]:
        body = {"facts": REFER} if version is None else {"facts": REFER, "version": version}
        r = api.decide(body)
        assert r.status_code == 201, r.get_json()
        return r.get_json()["version"], r.get_json()["outputs"]["outcome"]

    assert decided(None) == (1, "refer")
    assert decided(2) == (2, "approve")
    with db_of(app).session() as s:
        versions.activate(s, NAME, 2, "user:b")
    assert decided(None) == (2, "approve")
    assert decided(1) == (1, "refer")


def test_a_batch_is_decided_in_order(api: Api, app: Flask) -> None:
    items = [
        {"facts": APPROVE, "request_id": "b-1"},
        {"facts": REFER},
        {"facts": {**APPROVE, "insurance": True}, "request_id": "b-3"},
    ]
    r = api.post(BATCH, {"items": items}, key="decide")
    assert r.status_code == 201
    got = r.get_json()["items"]
    assert [d["outputs"]["outcome"] for d in got] == ["approve", "refer", "decline"]
    assert [d["request_id"] for d in got][::2] == ["b-1", "b-3"]
    assert got[1]["request_id"]  # generated by the server: a retry of the batch is safe
    assert [d["exception"] for d in got] == [False, True, False]
    assert count(app, Decision) == 3
    for d in got:
        assert (
            api.get(f"/api/v1/decisions/{d['decision_id']}").get_json()["outputs"] == d["outputs"]
        )
    repeat = api.post(BATCH, {"items": [items[0], items[2]]})
    assert repeat.status_code == 200
    assert [d["decision_id"] for d in repeat.get_json()["items"]] == [
        got[0]["decision_id"],
        got[2]["decision_id"],
    ]
    assert count(app, Decision) == 3


def test_a_batch_with_one_bad_item_records_nothing(api: Api, app: Flask) -> None:
    items = [
        {"facts": APPROVE, "request_id": "ok-1"},
        {"facts": {**APPROVE, "pirat": "low"}},
        {"factz": APPROVE},
    ]
    r = api.post(BATCH, {"items": items})
    assert r.status_code == 422
    errors = fields(r)
    assert "items[1].facts.pirat" in errors
    assert errors["items[2].factz"]["suggestion"] == "facts"
    assert count(app, Decision) == 0


def test_a_batch_can_be_pinned_and_is_checked_strictly(api: Api, app: Flask) -> None:
    with db_of(app).session() as s:
        versions.create_version(s, NAME, mortgage_v2(), base=1, actor="user:a", proposal_id=None)
    r = api.post(BATCH, {"items": [{"facts": REFER}], "version": 2})
    assert [d["version"] for d in r.get_json()["items"]] == [2]
    assert "itemz" in fields(api.post(BATCH, {"itemz": []}))
    assert "items" in fields(api.post(BATCH, {"items": []}))
    assert "version" in fields(api.post(BATCH, {"items": [{"facts": REFER}], "version": "2"}))
    assert count(app, Decision) == 1


def _keyed(api: Api, body: dict[str, Any], key: str) -> Any:
    headers = {**api.headers("all"), "Idempotency-Key": key}
    return api.client.post(f"/api/v1/rulesets/{NAME}/decisions", json=body, headers=headers)


@pytest.mark.parametrize("sent", ['"order-7"', "order-7"])  # RFC 8941 string, or bare
def test_the_idempotency_key_header_is_the_request_id(api: Api, app: Flask, sent: str) -> None:
    first = _keyed(api, {"facts": APPROVE}, sent)
    assert first.status_code == 201
    assert first.get_json()["request_id"] == "order-7"
    again = _keyed(api, {"facts": APPROVE}, sent)
    assert again.status_code == 200
    assert again.get_json()["decision_id"] == first.get_json()["decision_id"]
    by_body = api.decide({"facts": APPROVE, "request_id": "order-7"})
    assert by_body.get_json()["decision_id"] == first.get_json()["decision_id"]
    same = _keyed(api, {"facts": APPROVE, "request_id": "order-7"}, sent)
    assert same.status_code == 200
    assert count(app, Decision) == 1


def test_an_idempotency_key_that_contradicts_request_id_is_a_422(api: Api, app: Flask) -> None:
    r = _keyed(api, {"facts": APPROVE, "request_id": "a"}, '"b"')
    assert r.status_code == 422
    (error,) = r.get_json()["errors"]
    assert error["field"] == "request_id"
    assert "Idempotency-Key" in error["message"]
    assert "request_id" in error["message"]
    assert count(app, Decision) == 0


def test_an_empty_or_long_idempotency_key_is_a_422_naming_the_header(api: Api) -> None:
    for key in ('""', "k" * 201):
        r = _keyed(api, {"facts": APPROVE}, key)
        assert r.status_code == 422
        assert fields(r)["Idempotency-Key"]


def test_the_idempotency_key_header_is_in_the_openapi_document(api: Api) -> None:
    op = api.get("/api/v1/openapi.json").get_json()["paths"]["/api/v1/rulesets/{name}/decisions"][
        "post"
    ]
    assert {"name": "Idempotency-Key", "in": "header"}.items() <= next(
        p for p in op["parameters"] if p["name"] == "Idempotency-Key"
    ).items()

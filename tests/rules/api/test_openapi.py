"""The OpenAPI document is valid, matches the routes both ways, and describes real answers."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import jsonschema
import pytest
from flask import Flask
from openapi_spec_validator import validate

from rules.api.auth import required_scope
from rules.api.openapi import document
from tests.rules.api.conftest import APPROVE, NAME, REFER, Api, db_of, make_app

METHODS = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}
API_BLUEPRINTS = {"api", "ops"}


def api_rules(app: Flask) -> dict[tuple[str, str], str]:
    """(method, OpenAPI path) → endpoint, for the routes the API owns: its blueprints' and any
    under /api/ (the review UI's pages are not part of the API)."""
    out = {}
    for rule in app.url_map.iter_rules():
        if rule.endpoint.split(".")[0] not in API_BLUEPRINTS and not rule.rule.startswith("/api"):
            continue
        path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule)
        for method in (rule.methods or set()) - {"HEAD", "OPTIONS"}:
            out[(method.lower(), path)] = rule.endpoint
    return out


def documented(doc: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {
        (method, path): op
        for path, item in doc["paths"].items()
        for method, op in item.items()
        if method in METHODS
    }


@pytest.fixture
def plain_app(sqlite_url: str) -> Iterator[Flask]:
    app = make_app(sqlite_url)
    yield app
    db_of(app).dispose()


def test_the_document_is_valid_openapi_3_1(api: Api) -> None:
    served = api.get("/api/v1/openapi.json", key=None).get_json()
    assert served == document()
    assert served["openapi"].startswith("3.1")
    validate(served)


def test_documented_operations_are_exactly_the_routes(plain_app: Flask) -> None:
    assert set(documented(document())) == set(api_rules(plain_app))


def test_the_route_check_would_notice_an_undocumented_route(plain_app: Flask) -> None:
    plain_app.add_url_rule("/api/v1/extra/<int:n>", "extra", lambda n: "", methods=["PUT"])
    assert set(api_rules(plain_app)) - set(documented(document())) == {("put", "/api/v1/extra/{n}")}


def test_each_documented_scope_is_the_one_the_view_enforces(plain_app: Flask) -> None:
    ops = documented(document())
    for route, endpoint in api_rules(plain_app).items():
        security = ops[route]["security"]
        declared = security[0]["apiKey"][0] if security else None
        assert declared == required_scope(plain_app.view_functions[endpoint]), route


def _check(instance: Any, schema_name: str) -> None:
    doc = document()
    schema = {"$ref": f"#/components/schemas/{schema_name}", "components": doc["components"]}
    jsonschema.Draft202012Validator(schema).validate(instance)


def test_answers_follow_the_documented_schemas(api: Api) -> None:
    decision = api.decide({"facts": APPROVE, "request_id": "x"}).get_json()
    _check(decision, "Decision")
    decision_id = decision["decision_id"]
    batch = api.post(f"/api/v1/rulesets/{NAME}/decisions/batch", {"items": [{"facts": REFER}]})
    _check(batch.get_json(), "BatchResponse")
    resolution = api.post(
        f"/api/v1/decisions/{decision_id}/resolution", {"outputs": {"outcome": "refer"}}
    )
    _check(resolution.get_json(), "Resolution")
    _check(api.get(f"/api/v1/decisions/{decision_id}").get_json(), "DecisionDetail")
    _check(api.post(f"/api/v1/decisions/{decision_id}/replay").get_json(), "Replay")
    _check(api.get("/api/v1/rulesets").get_json(), "RulesetList")
    at = {"at": "2030-01-01T00:00:00Z"}
    _check(api.get(f"/api/v1/rulesets/{NAME}", query_string=at).get_json(), "RulesetDetail")
    _check(api.get(f"/api/v1/rulesets/{NAME}/versions").get_json(), "VersionList")
    _check(api.get(f"/api/v1/rulesets/{NAME}/versions/1").get_json(), "VersionDetail")
    _check(api.get("/readyz").get_json(), "Ready")
    _check(api.decide({"facts": {}}).get_json(), "Problem")


def test_the_schema_check_would_notice_a_wrong_answer() -> None:
    with pytest.raises(jsonschema.ValidationError):
        _check({"decision_id": "1"}, "Decision")


@pytest.mark.parametrize(
    ("body", "valid"),
    [
        ({"facts": APPROVE}, True),
        ({"facts": APPROVE, "version": 2, "request_id": "a"}, True),
        ({"facts": APPROVE, "verison": 2}, False),
        ({"facts": APPROVE, "version": 0}, False),
    ],
)
def test_the_request_schema_agrees_with_the_server(
    api: Api, body: dict[str, Any], valid: bool
) -> None:
    try:
        _check(body, "DecisionRequest")
        schema_ok = True
    except jsonschema.ValidationError:
        schema_ok = False
    assert schema_ok is valid
    status = api.decide(body).status_code
    assert (status != 422) is valid

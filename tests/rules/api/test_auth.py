"""Bearer keys and scopes, for every operation the OpenAPI document says needs one."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask

from rules.api.openapi import document
from rules.store import accounts
from rules.store.extension import KEYS_EXTENSION
from tests.rules.api.conftest import APPROVE, NAME, Api, db_of, fields

SAMPLE = {"{name}": NAME, "{decision_id}": "1", "{number}": "1"}
SECURED = [
    (method, path, op["security"][0]["apiKey"][0])
    for path, item in document()["paths"].items()
    for method, op in item.items()
    if op["security"]
]


def _call(api: Api, method: str, path: str, headers: dict[str, str]) -> Any:
    for key, value in SAMPLE.items():
        path = path.replace(key, value)
    return api.client.open(path, method=method.upper(), headers=headers, json={})


@pytest.mark.parametrize(("method", "path", "scope"), SECURED)
def test_every_secured_operation_needs_a_valid_key_with_its_scope(
    api: Api, method: str, path: str, scope: str
) -> None:
    for headers in (
        {},
        {"Authorization": "Bearer rbk_000000000000_not-a-key"},
        {"Authorization": f"Basic {api.tokens['all']}"},
    ):
        r = _call(api, method, path, headers)
        assert r.status_code == 401, headers
        assert r.headers["WWW-Authenticate"].startswith("Bearer")
        fields(r)
    other = next(s for s in ("decide", "resolve", "read") if s != scope)
    r = _call(api, method, path, api.headers(other))
    assert r.status_code == 403
    assert repr(scope) in r.get_json()["detail"]
    assert f'scope="{scope}"' in r.headers["WWW-Authenticate"]
    assert _call(api, method, path, api.headers(scope)).status_code not in (401, 403)


def test_every_scope_is_required_somewhere() -> None:
    assert {scope for _, _, scope in SECURED} == {"decide", "resolve", "read"}


def test_a_revoked_key_is_refused(api: Api, app: Flask) -> None:
    app.extensions[KEYS_EXTENSION].ttl = 0  # see the revocation at once
    assert api.decide({"facts": APPROVE}).status_code == 201
    prefix = api.tokens["all"].split("_")[1]
    with db_of(app).session() as s:
        accounts.revoke_api_key(s, prefix, "user:admin")
    r = api.decide({"facts": APPROVE})
    assert r.status_code == 401
    assert 'error="invalid_token"' in r.headers["WWW-Authenticate"]


@pytest.mark.parametrize("path", ["/healthz", "/metrics", "/api/v1/openapi.json"])
def test_operations_endpoints_need_no_key(api: Api, path: str) -> None:
    assert api.get(path, key=None).status_code == 200


def test_a_decision_with_a_read_only_key_records_nothing(api: Api) -> None:
    assert api.decide({"facts": APPROVE}, key="read").status_code == 403
    assert api.get(f"/api/v1/rulesets/{NAME}").get_json()["latest_version"] == 1
    assert api.get("/api/v1/decisions/1").status_code == 404

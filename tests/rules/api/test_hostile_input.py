"""Hostile input is a clear problem naming the field, the same on SQLite and PostgreSQL, and
nothing is recorded: deep nesting, lone surrogates, NUL characters, out-of-range times and
ids, repeated keys, bodies past the size limit (issue 12: 1-4, 10, 12, 13)."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import event
from sqlalchemy.exc import DataError

from rules.api.limits import MAX_DEPTH
from rules.store.models import Decision, Resolution
from tests.rules.api.conftest import APPROVE, NAME, REFER, Api, count, db_of, fields

DECIDE = f"/api/v1/rulesets/{NAME}/decisions"
BATCH = f"{DECIDE}/batch"


def raw(api: Api, path: str, text: str | bytes, **kw: Any) -> Any:
    return api.post(path, data=text, content_type="application/json", **kw)


def nested(depth: int, inner: str = "1") -> str:
    return "[" * depth + inner + "]" * depth


@pytest.mark.parametrize(
    "text",
    [
        nested(10_000),  # the top level
        '{"facts": ' + nested(10_000, "{}") + "}",  # inside the facts
        '{"facts": {"pirat": ' + nested(MAX_DEPTH + 5) + "}}",  # under Python's recursion limit
        '{"facts": ' + '{"a": ' * 10_000 + "1" + "}" * 10_001,
    ],
    ids=["top", "facts", "shallow-but-too-deep", "objects"],
)
def test_deeply_nested_json_is_a_400_not_a_500(api: Api, app: Flask, text: str) -> None:
    r = raw(api, DECIDE, text)
    assert r.status_code == 400, r.data[:300]
    errors = fields(r)
    assert errors[""]["code"] == "RB435"
    assert f"deeper than {MAX_DEPTH} levels" in r.get_json()["detail"]
    assert count(app, Decision) == 0


def test_nesting_within_the_limit_is_judged_by_the_schema(api: Api) -> None:
    r = raw(api, DECIDE, '{"facts": ' + nested(MAX_DEPTH - 2, "{}") + "}")
    assert r.status_code == 422
    assert fields(r)["facts"]["code"] == "RB433"


SURROGATE = "x\ud800"  # json.dumps writes it as the escape "x\\ud800"
NUL = "a\x00b"


@pytest.mark.parametrize("text", [SURROGATE, NUL], ids=["surrogate", "nul"])
@pytest.mark.parametrize(
    ("body", "field"),
    [
        (lambda t: {"facts": APPROVE, "request_id": t}, "request_id"),
        (lambda t: {"facts": {**APPROVE, "pirat": t}}, "facts.pirat"),
        (lambda t: {"items": [{"facts": APPROVE}, {"facts": APPROVE, "request_id": t}]}, None),
    ],
    ids=["request_id", "fact", "batch-item"],
)
def test_unstorable_text_in_a_decision_is_a_422_naming_the_field(
    api: Api, app: Flask, text: str, body: Any, field: str | None
) -> None:
    payload = body(text)
    path = BATCH if "items" in payload else DECIDE
    r = raw(api, path, json.dumps(payload))
    assert r.status_code == 422, r.data
    errors = fields(r)
    name = field or "items[1].request_id"
    assert errors[name]["code"] == "RB436"
    assert ("NUL" if text == NUL else "surrogate") in errors[name]["message"]
    assert count(app, Decision) == 0


@pytest.mark.parametrize("key", [NUL, SURROGATE], ids=["nul", "surrogate"])
def test_unstorable_text_in_a_key_is_named_escaped(api: Api, app: Flask, key: str) -> None:
    r = raw(api, DECIDE, json.dumps({"facts": {**APPROVE, key: 1}}))
    assert r.status_code == 422
    shown = json.dumps(key)[1:-1]  # a\u0000b, x\ud800
    assert fields(r)[f"facts.{shown}"]["code"] == "RB436"
    assert count(app, Decision) == 0


def _refer(api: Api) -> int:
    r = api.decide({"facts": REFER})
    assert r.status_code == 201
    return int(r.get_json()["decision_id"])


@pytest.mark.parametrize("text", [SURROGATE, NUL], ids=["surrogate", "nul"])
@pytest.mark.parametrize("where", ["note", "outputs.reason"])
def test_unstorable_text_in_a_resolution_is_a_422(
    api: Api, app: Flask, text: str, where: str
) -> None:
    decision_id = _refer(api)
    body: dict[str, Any] = {"outputs": {"outcome": "approve"}, "note": "fine"}
    if where == "note":
        body["note"] = text
    else:
        body["outputs"]["reason"] = text
    r = raw(api, f"/api/v1/decisions/{decision_id}/resolution", json.dumps(body))
    assert r.status_code == 422, r.data
    assert fields(r)[where]["code"] == "RB436"
    assert count(app, Resolution) == 0


@pytest.mark.parametrize(
    "path",
    [
        f"/api/v1/rulesets/{NAME}%00x",
        f"/api/v1/rulesets/{NAME}%00x/versions",
        f"/api/v1/rulesets/{NAME}?at=2025-01-01T00:00:00Z%00",
    ],
)
def test_a_nul_in_the_address_is_a_422(api: Api, path: str) -> None:
    r = api.get(path)
    assert r.status_code == 422, r.data
    assert {e["code"] for e in fields(r).values()} == {"RB436"}


def test_a_nul_in_a_ruleset_name_of_a_decision_is_a_422(api: Api, app: Flask) -> None:
    r = api.post(f"/api/v1/rulesets/{NAME}%00/decisions", {"facts": APPROVE})
    assert r.status_code == 422
    assert fields(r)["name"]["code"] == "RB436"
    assert count(app, Decision) == 0


@pytest.mark.parametrize(
    "at", ["9999-12-31T23:59:59-14:00", "0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-00:01"]
)
def test_a_time_outside_the_representable_range_is_a_422(api: Api, at: str) -> None:
    r = api.get(f"/api/v1/rulesets/{NAME}", query_string={"at": at})
    assert r.status_code == 422, r.data
    assert "outside the years" in fields(r)["at"]["message"]


def test_the_extreme_times_that_do_exist_are_answered(api: Api) -> None:
    for at in ("9999-12-31T23:59:59+00:00", "0001-01-01T00:00:00+00:00"):
        r = api.get(f"/api/v1/rulesets/{NAME}", query_string={"at": at})
        assert r.status_code == 200, r.data


HUGE = "99999999999999999999"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", f"/api/v1/decisions/{HUGE}"),
        ("post", f"/api/v1/decisions/{HUGE}/replay"),
        ("post", f"/api/v1/decisions/{HUGE}/resolution"),
        ("get", f"/api/v1/rulesets/{NAME}/versions/{HUGE}"),
        ("get", f"/api/v1/rulesets/{NAME}/versions/{2**31}"),
        ("get", f"/api/v1/decisions/{2**63}"),
        ("get", f"/api/v1/decisions/{2**63 - 1}"),
    ],
)
def test_ids_beyond_the_columns_are_404s(api: Api, method: str, path: str) -> None:
    kw = {"json": {"outputs": {"outcome": "approve"}}} if path.endswith("resolution") else {}
    r = getattr(api, method)(path, **kw)
    assert r.status_code == 404, r.data
    fields(r)


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ('{"facts": {}, "facts": {"pirat": 0.2}}', "facts"),
        ('{"facts": {"pirat": 0.2, "pirat": 0.9}}', "pirat"),
        ('{"items": [{"facts": {}, "request_id": "a", "request_id": "b"}]}', "request_id"),
    ],
)
def test_a_repeated_key_is_a_400_naming_it(api: Api, app: Flask, text: str, key: str) -> None:
    path = BATCH if "items" in text else DECIDE
    r = raw(api, path, text)
    assert r.status_code == 400, r.data
    errors = fields(r)
    assert errors[key]["code"] == "RB437"
    assert repr(key) in r.get_json()["detail"]
    assert count(app, Decision) == 0


@pytest.mark.parametrize("text", ["NaN", "Infinity", "-Infinity", "1e999"])
def test_numbers_json_cannot_carry_are_a_400(api: Api, app: Flask, text: str) -> None:
    facts = json.dumps(APPROVE).replace("0.25", text)
    r = raw(api, DECIDE, '{"facts": ' + facts + "}")
    assert r.status_code == 400, r.data
    fields(r)
    assert count(app, Decision) == 0


@pytest.mark.parametrize("version", ["1.0", "1e0", "10e-1"])
def test_an_integral_number_is_an_integer_as_the_schema_says(
    api: Api, app: Flask, version: str
) -> None:
    r = raw(api, DECIDE, '{"facts": ' + json.dumps(APPROVE) + ', "version": ' + version + "}")
    assert r.status_code == 201, r.data
    assert r.get_json()["version"] == 1
    r = raw(api, BATCH, '{"items": [{"facts": ' + json.dumps(REFER) + '}], "version": 1.0}')
    assert r.status_code == 201, r.data
    assert count(app, Decision) == 2


def test_a_chunked_body_over_the_limit_is_a_413(api: Api, app: Flask) -> None:
    app.config["MAX_CONTENT_LENGTH"] = 1000
    body = json.dumps({"facts": {**APPROVE, "padding": "x" * 2000}}).encode()
    r = api.client.post(
        DECIDE,
        input_stream=io.BytesIO(body),
        content_type="application/json",
        headers={**api.headers("all"), "Transfer-Encoding": "chunked"},
        environ_overrides={"wsgi.input_terminated": True},
    )
    assert r.status_code == 413, r.data
    fields(r)
    assert count(app, Decision) == 0
    small = json.dumps({"facts": APPROVE}).encode()
    r = api.client.post(
        DECIDE,
        input_stream=io.BytesIO(small),
        content_type="application/json",
        headers={**api.headers("all"), "Transfer-Encoding": "chunked"},
        environ_overrides={"wsgi.input_terminated": True},
    )
    assert r.status_code == 201, r.data


def test_a_resolution_without_the_review_output_is_a_422(api: Api, app: Flask) -> None:
    decision_id = _refer(api)
    path = f"/api/v1/decisions/{decision_id}/resolution"
    r = api.post(path, {"outputs": {"reason": "looked fine"}})
    assert r.status_code == 422, r.data
    assert "outcome" in fields(r)["outputs.outcome"]["message"]
    assert count(app, Resolution) == 0
    r = api.post(path, {"outputs": {"reason": "looked fine", "outcome": "approve"}})
    assert r.status_code == 201


@pytest.mark.parametrize("encoding", ["utf-16", "utf-32", "latin-1"])
def test_a_body_that_is_not_utf8_is_a_400(api: Api, app: Flask, encoding: str) -> None:
    text = json.dumps({"facts": {**APPROVE, "x": "caf\u00e9\u0000"}}, ensure_ascii=False)
    r = raw(api, DECIDE, text.encode(encoding))
    assert r.status_code == 400, r.data
    fields(r)
    assert count(app, Decision) == 0


def test_a_value_the_database_refuses_is_a_422_not_an_outage(api: Api, app: Flask) -> None:
    """A gap in the checks above would reach the database: its DataError is the request's
    fault, so a 422, never a 503 that a client would retry forever."""
    engine = db_of(app).engine

    def refuse(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if "rulesets" in statement.lower():
            raise DataError(statement, None, Exception("value out of range"))

    event.listen(engine, "before_cursor_execute", refuse)
    try:
        r = api.get("/api/v1/rulesets")
    finally:
        event.remove(engine, "before_cursor_execute", refuse)
    assert r.status_code == 422, r.data
    assert "Retry-After" not in r.headers
    fields(r)

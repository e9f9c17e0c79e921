"""The decision hot path (rules.api.hot_path) answers plain decisions outside Flask's request
context, and answers everything exactly as the Flask view does: compared here path by path,
status, headers and body, for successes, repeats and each kind of error."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask, request, request_started
from sqlalchemy import event
from werkzeug.test import Client, TestResponse

from rules.api import hot_path
from rules.api.hot_path import AFTER_HOOKS, BEFORE_HOOKS, DecisionHotPath
from rules.store.extension import DECISIONS_EXTENSION, KEYS_EXTENSION
from rules.store.models import Decision
from tests.rules.api.conftest import APPROVE, NAME, REFER, Api, count, db_of, fields, make_app

PATH = f"/api/v1/rulesets/{NAME}/decisions"
# What differs between two decisions of the same facts: their ids and times.
VOLATILE = {"decision_id", "decided_at", "request_id"}


def _hot(app: Flask) -> DecisionHotPath:
    wsgi: Any = app.wsgi_app
    while not isinstance(wsgi, DecisionHotPath):
        wsgi = wsgi.app  # the request-id middleware (and ProxyFix) in front of it
    return wsgi


@pytest.fixture
def flask_requests(app: Flask) -> Iterator[list[str]]:
    """The paths of the requests that went through Flask's request machinery."""
    seen: list[str] = []

    def started(sender: Flask, **extra: Any) -> None:
        seen.append(request.path)

    request_started.connect(started, app)
    yield seen
    request_started.disconnect(started, app)


def test_a_plain_decision_never_reaches_flasks_request_machinery(
    api: Api, app: Flask, flask_requests: list[str]
) -> None:
    r = api.decide({"facts": APPROVE, "request_id": "hot-1"}, key="decide")
    assert r.status_code == 201
    assert r.get_json()["request_id"] == "hot-1"
    assert r.headers["X-Request-Id"]  # the request-id middleware is in front of it
    again = api.decide({"facts": APPROVE, "request_id": "hot-1"}, key="decide")
    assert again.status_code == 200
    assert again.get_json() == r.get_json()
    charset = api.client.post(
        PATH,
        data=json.dumps({"facts": APPROVE}),
        content_type="application/json; charset=utf-8",
        headers=api.headers("decide"),
    )
    assert charset.status_code == 201
    assert flask_requests == []
    assert count(app, Decision) == 2


@pytest.mark.parametrize(
    ("label", "send"),
    [
        ("a key without the decide scope", {"key": "read"}),
        ("no key", {"key": None}),
        ("a body with a misspelt field", {"body": {"facts": APPROVE, "verison": 1}}),
        ("a body that is not JSON", {"data": b"{facts", "content_type": "application/json"}),
        ("a query string", {"query_string": "debug=1"}),
        ("a +json content type", {"content_type": "application/vnd.rulebook+json"}),
        ("an Idempotency-Key that differs", {"headers": {"Idempotency-Key": "other"}}),
    ],
)
def test_other_requests_are_left_to_flask_and_answered_as_before(
    api: Api, app: Flask, flask_requests: list[str], label: str, send: dict[str, Any]
) -> None:
    key = send.get("key", "all")
    kw: dict[str, Any] = {"headers": {**api.headers(key), **send.get("headers", {})}}
    if "data" in send:
        kw["data"] = send["data"]
    else:
        kw["data"] = json.dumps(send.get("body", {"facts": APPROVE, "request_id": "r"}))
    kw["content_type"] = send.get("content_type", "application/json")
    if "query_string" in send:
        kw["query_string"] = send["query_string"]
    r = api.client.post(PATH, **kw)
    assert flask_requests == [PATH], label
    if label in ("a query string", "a +json content type"):
        assert r.status_code == 201  # valid all the same: Flask decides it
        assert count(app, Decision) == 1
    else:
        assert r.status_code in (400, 401, 403, 422), (label, r.status_code)
        fields(r)
        assert count(app, Decision) == 0


def _compare(hot: TestResponse, flask: TestResponse) -> None:
    """The same answer but for what differs between any two decisions."""
    assert hot.status == flask.status
    assert hot.mimetype == flask.mimetype
    skip = {"Content-Length", "Location", "X-Request-Id"}
    assert {k: v for k, v in hot.headers.items() if k not in skip} == {
        k: v for k, v in flask.headers.items() if k not in skip
    }
    assert ("Location" in hot.headers) == ("Location" in flask.headers)
    a, b = hot.get_json(), flask.get_json()
    if "decision_id" in a:
        assert hot.headers["Location"] == f"/api/v1/decisions/{a['decision_id']}"
        assert flask.headers["Location"] == f"/api/v1/decisions/{b['decision_id']}"
        a = {k: v for k, v in a.items() if k not in VOLATILE}
        b = {k: v for k, v in b.items() if k not in VOLATILE}
    assert a == b


def _both(app: Flask, key: str, body: Any, headers: dict[str, str] | None = None) -> Any:
    """The same request sent to the hot path and to the Flask app behind it."""
    hot = _hot(app)
    sent = {
        "data": json.dumps(body),
        "content_type": "application/json",
        "headers": {"Authorization": f"Bearer {key}", **(headers or {})},
    }
    return Client(hot).post(PATH, **sent), Client(hot.flask).post(PATH, **sent)


@pytest.mark.parametrize(
    ("label", "body", "headers"),
    [
        ("a new decision", {"facts": APPROVE}, None),
        ("an exception routed to a person", {"facts": REFER, "version": 1}, None),
        ("by Idempotency-Key", {"facts": APPROVE}, {"Idempotency-Key": '"idem-1"'}),
        ("a repeat", {"facts": APPROVE, "request_id": "seen"}, None),
        ("a request id reused with other facts", {"facts": REFER, "request_id": "seen"}, None),
        ("facts the version refuses", {"facts": {**APPROVE, "pirat": "high"}}, None),
        ("a version that does not exist", {"facts": APPROVE, "version": 9}, None),
    ],
)
def test_the_hot_path_answers_as_the_flask_view(
    app: Flask,
    tokens: dict[str, str],
    label: str,
    body: dict[str, Any],
    headers: dict[str, str] | None,
) -> None:
    if label.startswith(("a repeat", "a request id reused")):
        first = Client(_hot(app)).post(
            PATH, json={"facts": APPROVE, "request_id": "seen"}, headers=_auth(tokens)
        )
        assert first.status_code == 201
    if label == "by Idempotency-Key":  # each path its own key, else the second is a repeat
        hot = Client(_hot(app)).post(PATH, json=body, headers={**_auth(tokens), **headers})
        flask = Client(_hot(app).flask).post(
            PATH, json=body, headers={**_auth(tokens), "Idempotency-Key": "idem-2"}
        )
        assert (hot.get_json()["request_id"], flask.get_json()["request_id"]) == (
            "idem-1",
            "idem-2",
        )
    else:
        hot, flask = _both(app, tokens["decide"], body, headers)
    expected = {
        "a new decision": 201,
        "an exception routed to a person": 201,
        "by Idempotency-Key": 201,
        "a repeat": 200,
        "a request id reused with other facts": 409,
        "facts the version refuses": 422,
        "a version that does not exist": 404,
    }[label]
    assert hot.status_code == expected, hot.get_json()
    _compare(hot, flask)


def _auth(tokens: dict[str, str]) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens['decide']}"}


def test_an_unknown_ruleset_is_the_views_404(app: Flask, tokens: dict[str, str]) -> None:
    hot = _hot(app)
    sent = {"json": {"facts": APPROVE}, "headers": _auth(tokens)}
    path = "/api/v1/rulesets/no-such-ruleset/decisions"
    a, b = Client(hot).post(path, **sent), Client(hot.flask).post(path, **sent)
    assert a.status_code == 404
    _compare(a, b)


def test_hsts_is_on_the_hot_paths_answers_as_on_the_views(db_url: str) -> None:
    from rules.store import accounts, versions
    from tests.rules.api.conftest import db_of, mortgage

    app = make_app(db_url, HSTS="max-age=31536000; includeSubDomains")
    try:
        with db_of(app).session() as s:
            versions.create_ruleset(s, mortgage(), "cli:test")
            key = accounts.create_api_key(s, "k", ["decide"], "cli:test")[1]
        hot, flask = _both(app, key, {"facts": APPROVE})
        assert hot.status_code == 201
        assert hot.headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"
        _compare(hot, flask)
    finally:
        db_of(app).dispose()


def test_an_error_in_the_decision_is_the_views_500_and_logged(
    app: Flask,
    tokens: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    app.testing = False  # as served: an unexpected error is a 500, not raised to the test
    service = app.extensions[DECISIONS_EXTENSION]

    def broken(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("a defect in the engine")

    monkeypatch.setattr(service, "decide", broken)
    hot, flask = _both(app, tokens["decide"], {"facts": APPROVE})
    assert hot.status_code == 500
    fields(hot)
    assert "a defect" not in hot.get_data(as_text=True)
    _compare(hot, flask)
    logged = [r for r in caplog.records if r.exc_info and "a defect" in str(r.exc_info[1])]
    assert len(logged) == 2  # once for each path, with the traceback
    assert count(app, Decision) == 0


def _name(func: Any) -> str:
    return f"{func.__module__}.{func.__qualname__}"


def test_every_hook_a_decision_skips_is_accounted_for(app: Flask) -> None:
    """A new before- or after-request hook on the app (or the API blueprint) fails this test
    until hot_path says why skipping it for a plain decision changes no answer (or does what
    it does: see AFTER_HOOKS)."""
    before = {_name(f) for bp in (None, "api") for f in app.before_request_funcs.get(bp, [])}
    after = {_name(f) for bp in (None, "api") for f in app.after_request_funcs.get(bp, [])}
    assert before == set(BEFORE_HOOKS)
    assert after == set(AFTER_HOOKS)
    teardown = {_name(f) for bp in (None, "api") for f in app.teardown_request_funcs.get(bp, [])}
    assert teardown == set()  # none to skip
    preprocessors = [app.url_value_preprocessors.get(bp) for bp in (None, "api")]
    assert preprocessors == [None, None]


def test_it_is_installed_once_in_front_of_the_app(app: Flask) -> None:
    hot = _hot(app)
    hot_path.init_app(app)  # again: a no-op
    assert _hot(app) is hot
    assert not isinstance(hot.flask, DecisionHotPath)


@pytest.mark.parametrize(
    ("label", "authorization", "status"),
    [
        ("a key no one was given", "Bearer rbk_nosuchkey_0123456789abcdef", 401),
        ("a known key's prefix with a wrong secret", "wrong secret", 401),
        ("a key without the decide scope", None, 403),
    ],
)
def test_a_refused_key_is_looked_up_once(
    api: Api,
    app: Flask,
    flask_requests: list[str],
    label: str,
    authorization: str | None,
    status: int,
) -> None:
    """The hot path hands a refused key to Flask with what it found: one lookup in all, as
    before the hot path (a flood of bad keys costs the database no more than it did)."""
    engine = db_of(app).engine
    lookups: list[str] = []

    def seen(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if "FROM api_keys" in statement:
            lookups.append(statement)

    headers = {"Authorization": authorization} if authorization else api.headers("read")
    if authorization == "wrong secret":
        prefix = api.tokens["decide"].rsplit("_", 1)[0]
        headers = {"Authorization": f"Bearer {prefix}_{'0' * 32}"}
    if authorization is None:  # the read key's lookup is cached once it is seen: clear it
        app.extensions[KEYS_EXTENSION]._keys.clear()
    event.listen(engine, "before_cursor_execute", seen)
    try:
        r = api.client.post(PATH, json={"facts": APPROVE}, headers=headers)
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    assert r.status_code == status, label
    assert flask_requests == [PATH]  # Flask answered it
    assert len(lookups) == 1, lookups
    assert count(app, Decision) == 0

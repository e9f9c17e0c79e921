"""A request id on every log line of a request, echoed in ``X-Request-Id``; a 500 is logged
with its traceback and that id; a failed sign-in is logged with it too."""

from __future__ import annotations

import re

import pytest
from flask import Flask
from flask.testing import FlaskClient

from rules.api import health, request_id
from tests.logcapture import Lines
from tests.review_app.conftest import Browser, ensure_user


def test_a_sane_request_id_is_echoed_and_others_are_replaced(client: FlaskClient) -> None:
    given = "0b6f0c4e-trace.7:span"
    assert client.get("/healthz", headers={"X-Request-Id": given}).headers["X-Request-Id"] == given
    for bad in ("", "has space", "x" * 129, "-leading-dash", 'quote"d'):
        answered = client.get("/healthz", headers={"X-Request-Id": bad}).headers["X-Request-Id"]
        assert re.fullmatch(r"[0-9a-f]{32}", answered), bad
    first = client.get("/login").headers["X-Request-Id"]
    assert first != client.get("/login").headers["X-Request-Id"]  # new for each request


@pytest.mark.parametrize("header", [None, "rid-500"])
def test_a_500_is_logged_with_its_traceback_and_request_id(
    client: FlaskClient, json_logs: Lines, monkeypatch: pytest.MonkeyPatch, header: str | None
) -> None:
    def broken(_db: object) -> frozenset[str]:
        raise RuntimeError("readiness exploded")

    monkeypatch.setattr(health, "ready_revisions", broken)
    response = client.get("/readyz", headers={"X-Request-Id": header} if header else {})
    assert response.status_code == 500
    rid = response.headers["X-Request-Id"]
    assert rid == header or header is None
    (line,) = [line for line in json_logs() if line["level"] == "ERROR"]
    assert line["request_id"] == rid
    assert line["message"] == "unexpected error on GET /readyz"
    assert "RuntimeError: readiness exploded" in line["traceback"]


def test_a_failed_sign_in_is_logged_with_the_request_id(
    app: Flask, anonymous: Browser, json_logs: Lines
) -> None:
    ensure_user(app, "ann", "analyst")
    anonymous.token()
    json_logs()  # only the sign-in's own lines from here
    response = anonymous.sign_in("ann", "not the password", headers={"X-Request-Id": "login-1"})
    assert response.status_code == 422
    warned = [line for line in json_logs() if line["level"] == "WARNING"]
    assert any("ann" in line["message"] for line in warned), warned
    assert {line["request_id"] for line in warned} == {"login-1"}
    assert "not the password" not in str(warned)


def test_the_middleware_is_installed_once(app: Flask) -> None:
    request_id.init_app(app)
    assert isinstance(app.wsgi_app, request_id.RequestIdMiddleware)
    assert not isinstance(app.wsgi_app.app, request_id.RequestIdMiddleware)

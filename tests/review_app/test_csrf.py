"""CSRF: every POST of the review UI without a valid token is refused with 400 and changes
nothing; the same request with the token goes through. The JSON API takes bearer keys, no
cookies, and is exempt."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from review_app import access
from rules.store import accounts, settings, versions
from rules.store.models import ApiKey, Setting, User
from tests.review_app.conftest import (
    PASSWORD,
    Browser,
    audit_seq,
    build_path,
    count,
    db_of,
    ensure_user,
)
from tests.review_app.test_authz import ui_routes
from tests.rules.api.conftest import APPROVE, NAME, mortgage


def _state(app: Flask) -> tuple[int, int, int, int, bool]:
    """What a POST could change: the audit chain, users, keys, settings, revocations."""
    with db_of(app).session() as s:
        revoked = any(k.revoked for k in accounts.list_api_keys(s))
        disabled = any(u.disabled for u in accounts.list_users(s))
    return (
        audit_seq(app),
        count(app, User),
        count(app, ApiKey),
        count(app, Setting),
        revoked or disabled,
    )


def _browser_for(endpoint: str, login: Callable[..., Browser], anonymous: Browser) -> Browser:
    roles = sorted(access.ACCESS[endpoint] - {access.ANONYMOUS})
    if access.ANONYMOUS in access.ACCESS[endpoint]:
        return anonymous
    return login(roles[0])


# A request each POST would accept with a token: proof the refusal is the missing token's.
GOOD: dict[str, dict[str, Any]] = {
    "auth.login": {"username": "admin", "password": PASSWORD},
    "admin.create_user": {
        "username": "newcomer",
        "role": "analyst",
        "password": PASSWORD,
        "confirm": PASSWORD,
    },
    "admin.create_apikey": {"name": "app", "scopes": ["read"]},
    "admin.change_role": {"role": "auditor"},
    "admin.set_kill_switch": {"state": "on"},
    "admin.reset_password": {},
    "auth.change_password": {
        "current": PASSWORD,
        "password": "a new passphrase",
        "confirm": "a new passphrase",
    },
}
# The answer to each, when not 201 or 302: a temporary password is shown on the response.
GOOD_STATUS = {"admin.reset_password": 200}


@pytest.mark.parametrize("token", ["missing", "wrong"])
def test_every_post_without_a_valid_token_is_refused(
    app: Flask,
    login: Callable[..., Browser],
    anonymous: Browser,
    route_values: dict[str, Any],
    token: str,
) -> None:
    posts = [(rule, m) for rule, m in ui_routes(app) if m == "POST"]
    assert len(posts) >= 10
    login("admin")  # the user GOOD["auth.login"] signs in as
    for rule, _ in posts:
        browser = _browser_for(rule.endpoint, login, anonymous)
        path = build_path(app, rule, route_values)
        before = _state(app)
        data = dict(GOOD.get(rule.endpoint, {}))
        if token == "wrong":
            data["csrf_token"] = "IjAwMDAi.forged.token"
        response = browser.post(path, data, csrf=False)
        assert response.status_code == 400, (rule.endpoint, response.status_code)
        assert "security token is missing, wrong or expired" in response.get_data(as_text=True)
        assert _state(app) == before, rule.endpoint


@pytest.mark.parametrize("endpoint", sorted(GOOD))
def test_with_the_token_the_same_posts_go_through(
    endpoint: str,
    app: Flask,
    login: Callable[..., Browser],
    anonymous: Browser,
    route_values: dict[str, Any],
) -> None:
    login("admin")
    rule = next(r for r, m in ui_routes(app) if r.endpoint == endpoint and m == "POST")
    browser = _browser_for(endpoint, login, anonymous)
    before = audit_seq(app)
    response = browser.post(build_path(app, rule, route_values), GOOD[endpoint])
    expected = (GOOD_STATUS[endpoint],) if endpoint in GOOD_STATUS else (201, 302)
    assert response.status_code in expected, response.get_data(as_text=True)
    if endpoint == "auth.login":
        home = browser.get("/")
        assert home.status_code in (200, 302)
        assert not (home.location or "").startswith("/login")
    else:
        assert audit_seq(app) == before + 1


def test_a_token_from_another_session_is_refused(app: Flask, login: Callable[..., Browser]) -> None:
    admin, other = login("admin"), login("admin", username="root")
    response = admin.post("/admin/llm", {"state": "on", "csrf_token": other.token()}, csrf=False)
    assert response.status_code == 400
    with db_of(app).session() as s:
        assert settings.kill_switch(s, environ={}).on is False
    # The same form with its own session's token works.
    assert admin.post("/admin/llm", {"state": "on"}).status_code == 302
    with db_of(app).session() as s:
        assert settings.kill_switch(s, environ={}).on is True


def test_sign_in_without_a_token_does_not_sign_in(app: Flask, anonymous: Browser) -> None:
    login_data = {"username": "admin", "password": PASSWORD}
    ensure_user(app, "admin", "admin")
    assert anonymous.post("/login", login_data, csrf=False).status_code == 400
    assert anonymous.get("/").location == "/login?next=%2F"


def test_the_json_api_needs_no_csrf_token_and_sets_no_cookie(app: Flask) -> None:
    with db_of(app).session() as s:
        versions.create_ruleset(s, mortgage(), "cli:test")
        _, token = accounts.create_api_key(s, "app", ["decide"], "cli:test")
    client = app.test_client()
    response = client.post(
        f"/api/v1/rulesets/{NAME}/decisions",
        json={"facts": APPROVE},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 201, response.get_data(as_text=True)
    assert "Set-Cookie" not in response.headers
    # API errors stay problem+json, never an HTML page.
    missing = client.get("/api/v1/nowhere", headers={"Authorization": f"Bearer {token}"})
    assert missing.status_code == 404
    assert missing.mimetype == "application/problem+json"
    with db_of(app).session() as s:
        assert s.scalar(select(ApiKey.name)) == "app"

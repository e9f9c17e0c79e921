"""The authorization matrix: every route of the review UI, as every role and as a signed-out
visitor, against the one table in ``review_app/access.py``.

Expected: an allowed principal reaches the view (GET: 200 or a redirect that is not to the
sign-in page; POST with a valid CSRF token and an empty form: not 400/401/403, not 5xx); a
signed-out visitor is redirected to ``/login?next=<page>`` (to ``/login`` after a POST); a
signed-in user without the role gets 403. A route the table does not list fails these tests (and stops ``create_app``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from flask import Flask
from werkzeug.routing import Rule
from werkzeug.test import TestResponse

from review_app import access
from rules.store.models import ROLES
from tests.review_app.conftest import Browser, build_path

PRINCIPALS = (*ROLES, access.ANONYMOUS)
# Sent last: signing out ends the session the rest of the matrix runs in (and rightly answers
# with the sign-in page).
LAST = {"auth.logout"}


def ui_routes(app: Flask) -> Iterator[tuple[Rule, str]]:
    """Every (rule, method) of the UI: all but the API, health, metrics and static files."""
    for rule in app.url_map.iter_rules():
        if rule.endpoint in access.OUTSIDE or rule.endpoint.split(".")[0] in access.OUTSIDE:
            continue
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            yield rule, method


def _order(case: tuple[Rule, str]) -> tuple[bool, bool, str, str]:
    rule, method = case
    return (rule.endpoint in LAST, method != "GET", rule.endpoint, rule.rule)


def _to_login(response: TestResponse) -> bool:
    return response.status_code in (301, 302, 303) and urlsplit(response.location).path == "/login"


def verdict(
    response: TestResponse, method: str, path: str, who: str, allowed: bool, endpoint: str
) -> str | None:
    """What is wrong with ``response``, or None."""
    status = response.status_code
    if allowed:
        signed_out = _to_login(response) and not (endpoint in LAST and method == "POST")
        if status >= 500 or status in (400, 401, 403) or signed_out:
            return f"allowed, but answered {status} {response.location or ''}"
        if method == "GET" and status != 200 and not 300 <= status < 400:
            return f"allowed GET answered {status}"
        return None
    if who == access.ANONYMOUS:
        if not _to_login(response):
            return f"expected a redirect to /login, got {status} {response.location or ''}"
        target = parse_qs(urlsplit(response.location).query).get("next")
        expected = [path] if method == "GET" else None  # a POST cannot be replayed by a GET
        return None if target == expected else f"next= is {target}, expected {expected}"
    return None if status == 403 else f"expected 403, got {status}"


def test_every_ui_route_is_in_the_table(app: Flask) -> None:
    endpoints = {rule.endpoint for rule, _ in ui_routes(app)}
    assert access.missing_endpoints(app) == []
    assert endpoints <= set(access.ACCESS)
    # ... and the table names no route that does not exist (a renamed view, a typo).
    assert set(access.ACCESS) - endpoints == set()


def test_the_table_only_names_known_principals() -> None:
    for endpoint, who in access.ACCESS.items():
        assert who, endpoint
        assert who <= set(PRINCIPALS), endpoint


def test_an_unlisted_route_stops_the_app_and_is_refused(
    app: Flask, login: Callable[..., Browser]
) -> None:
    app.add_url_rule("/sneaky", "sneaky", lambda: "secret")
    with pytest.raises(RuntimeError, match="sneaky"):
        access.check_complete(app)
    # Added after start-up anyway: refused for everyone, never served.
    response = login("admin").get("/sneaky")
    assert response.status_code == 403
    assert "secret" not in response.get_data(as_text=True)


@pytest.mark.parametrize("who", PRINCIPALS)
def test_every_route_as(
    who: str,
    app: Flask,
    login: Callable[..., Browser],
    anonymous: Browser,
    route_values: dict[str, Any],
) -> None:
    browser = anonymous if who == access.ANONYMOUS else login(who)
    failures, visited = [], 0
    for rule, method in sorted(ui_routes(app), key=_order):
        path = build_path(app, rule, route_values)
        allowed = access.allowed(rule.endpoint, who)
        response = browser.get(path) if method == "GET" else browser.post(path, {})
        visited += 1
        problem = verdict(response, method, path, who, allowed, rule.endpoint)
        if problem is not None:
            failures.append(f"{method} {path} ({rule.endpoint}) as {who}: {problem}")
    assert visited >= 17  # the routes of auth, home, audit and admin at least
    assert failures == []


def test_a_refusal_is_a_page_that_says_why(login: Callable[..., Browser]) -> None:
    response = login("analyst").get("/admin/users")
    assert response.status_code == 403
    assert response.mimetype == "text/html"
    text = response.get_data(as_text=True)
    assert "Your role does not allow this page" in text
    assert "Add a user" not in text


def test_links_and_buttons_follow_the_table(login: Callable[..., Browser]) -> None:
    """The nav offers each role what it may open, and nothing it may not."""
    expected = {
        "analyst": set(),
        "approver": set(),
        "auditor": {"/audit"},
        "admin": {"/audit", "/admin/users"},
    }
    for role, links in expected.items():
        html = login(role).get("/", follow_redirects=True).get_data(as_text=True)
        nav = html.split('aria-label="Main"', 1)[1].split("</nav>", 1)[0]
        for path in ("/audit", "/admin/users"):
            assert (f'href="{path}"' in nav) == (path in links), (role, path)


# The policy of DESIGN §6 for the foundation's pages, pinned here so that widening a role in
# the table is a visible change to a test, not a quiet edit.
POLICY = {
    "auth.login": set(PRINCIPALS),
    "auth.logout": set(ROLES),
    "auth.change_password": set(ROLES),
    "home.index": set(ROLES),
    "audit.index": {"auditor", "admin"},
    "audit.verify": {"auditor", "admin"},
    "audit.export": {"auditor", "admin"},
    **{
        f"admin.{view}": {"admin"}
        for view in (
            "users",
            "create_user",
            "disable_user",
            "enable_user",
            "change_role",
            "reset_password",
            "apikeys",
            "create_apikey",
            "revoke_apikey",
            "llm",
            "set_kill_switch",
        )
    },
}


@pytest.mark.parametrize("endpoint", sorted(POLICY))
def test_the_table_follows_the_policy(endpoint: str) -> None:
    assert set(access.ACCESS[endpoint]) == POLICY[endpoint]


def test_an_auditor_can_change_nothing(app: Flask) -> None:
    """Every route open to auditors is a GET, but signing in and out, verifying the chain (a
    POST because it is expensive and locks appends; it writes nothing) and changing their own
    password (which changes nothing of the product's record)."""
    reading_posts = {"audit.verify", "auth.login", "auth.logout", "auth.change_password"}
    posts = {
        rule.endpoint
        for rule, method in ui_routes(app)
        if method != "GET" and access.allowed(rule.endpoint, "auditor")
    }
    assert posts <= reading_posts

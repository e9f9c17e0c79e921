"""Signing in and out: the real form with its CSRF token, sessions renewed at sign-in, cookie
flags and HSTS, safe ``next`` redirects, throttling by (username, address) shared by every
worker through the database and audited, and sessions that end when the user is disabled or
the session is too old. Sessions ended on the server (a replayed cookie): test_sessions.py."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import pytest
from flask import Flask
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import delete, select

from review_app import HSTS, session_config
from review_app.auth.routes import WRONG, safe_next
from review_app.auth.session import SESSION_TOKEN
from rules import audit
from rules.store import accounts
from rules.store.models import LoginThrottle
from tests.review_app.conftest import (
    PASSWORD,
    Browser,
    csrf_token,
    db_of,
    ensure_user,
    make_app,
)


class Clock:
    """A clock the test moves (the app reads ``config["CLOCK"]``)."""

    def __init__(self) -> None:
        self.at = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.at

    def advance(self, **delta: float) -> None:
        self.at += timedelta(**delta)


@pytest.fixture
def clock(app: Flask) -> Clock:
    clock = Clock()
    app.config["CLOCK"] = clock
    return clock


def signed_in(browser: Browser) -> bool:
    """Whether the home page opens (it may send a role on to its landing page)."""
    response = browser.get("/")
    if response.status_code in (302, 303):
        return urlsplit(response.location).path != "/login"
    return response.status_code == 200


def test_the_login_page_labels_its_fields(anonymous: Browser) -> None:
    html = anonymous.get("/login").get_data(as_text=True)
    assert '<label for="username">Username</label>' in html
    assert '<label for="password">Password</label>' in html
    assert 'name="username"' in html
    assert 'name="password"' in html
    assert 'autocomplete="current-password"' in html


def test_sign_in_and_out(app: Flask, anonymous: Browser) -> None:
    ensure_user(app, "ann", "analyst")
    assert not signed_in(anonymous)
    response = anonymous.sign_in("ann")
    assert response.status_code == 302
    assert response.location == "/"
    page = anonymous.get("/", follow_redirects=True).get_data(as_text=True)
    assert "Signed in as ann (analyst)." in page
    # GET /logout only offers the button; the POST signs out.
    assert "Sign out of Rulebook" in anonymous.get("/logout").get_data(as_text=True)
    assert signed_in(anonymous)
    response = anonymous.post("/logout")
    assert response.status_code == 302
    assert response.location == "/login"
    assert not signed_in(anonymous)
    assert "You are signed out." in anonymous.get("/login").get_data(as_text=True)


@pytest.mark.parametrize("username", ["ann", "nobody"])
def test_a_wrong_password_or_unknown_user_gets_the_same_answer(
    app: Flask, anonymous: Browser, username: str
) -> None:
    ensure_user(app, "ann", "analyst")
    response = anonymous.sign_in(username, "not the password")
    assert response.status_code == 422
    text = response.get_data(as_text=True)
    assert WRONG in text
    assert 'value="' + username + '"' in text  # the username is kept, the password is not
    assert "not the password" not in text
    assert not signed_in(anonymous)


def test_missing_fields_are_named(anonymous: Browser) -> None:
    response = anonymous.post("/login", {"username": "", "password": ""})
    assert response.status_code == 422
    text = response.get_data(as_text=True)
    assert "Enter your username." in text
    assert "Enter your password." in text
    assert 'aria-describedby="username-error"' in text
    assert 'aria-invalid="true"' in text


def test_a_disabled_user_cannot_sign_in(app: Flask, anonymous: Browser) -> None:
    ensure_user(app, "ann", "analyst")
    ensure_user(app, "root", "admin")
    with db_of(app).session() as s:
        accounts.set_user_disabled(s, "ann", True, "user:root")
    assert anonymous.sign_in("ann").status_code == 422
    assert not signed_in(anonymous)


def test_a_signed_out_visitor_returns_to_the_page_asked_for(app: Flask, anonymous: Browser) -> None:
    ensure_user(app, "audrey", "auditor")
    response = anonymous.get("/audit?action=user.created")
    assert response.status_code == 302
    assert response.location == "/login?next=%2Faudit%3Faction%3Duser.created"
    login_page = anonymous.get(response.location).get_data(as_text=True)
    action = login_page.split('<form method="post" action="', 1)[1].split('"', 1)[0]
    assert action == "/login?next=/audit?action%3Duser.created"  # the form keeps next
    response = anonymous.sign_in("audrey", path=action)
    assert response.location == "/audit?action=user.created"


def test_a_form_sent_after_the_session_ended_asks_to_sign_in_again(
    login: Callable[..., Browser],
) -> None:
    admin = login("admin")
    token = admin.token()
    with admin.client.session_transaction() as sess:
        sess.pop(SESSION_TOKEN)  # the session ended (expired, or signed out in another tab)
    response = admin.post("/admin/llm", {"state": "on", "csrf_token": token})
    assert response.status_code == 302
    assert response.location == "/login"
    page = admin.get("/login").get_data(as_text=True)
    assert "Your session has ended. Sign in, then send the form again." in page


@pytest.mark.parametrize(
    "target",
    [
        "https://evil.example/",
        "//evil.example/path",
        "/\\evil.example",
        "javascript:alert(1)",
        "http:/evil.example",
        "evil.example",
        "/\t/evil.example",
    ],
)
def test_next_never_leaves_the_site(app: Flask, anonymous: Browser, target: str) -> None:
    ensure_user(app, "ann", "analyst")
    response = anonymous.client.post(
        "/login",
        query_string={"next": target},
        data={"username": "ann", "password": PASSWORD, "csrf_token": anonymous.token()},
    )
    assert response.status_code == 302
    assert response.location == "/"


@given(st.text(max_size=40))
def test_safe_next_only_returns_paths_on_this_site(target: str) -> None:
    app = Flask(__name__)
    app.add_url_rule("/", "home.index", lambda: "")
    with app.test_request_context():
        result = safe_next(target)
    parts = urlsplit(result)
    assert not parts.scheme
    assert not parts.netloc
    assert result.startswith("/")
    assert not result.startswith("//")
    assert "\\" not in result


def _session_cookie(response_headers: list[str], name: str) -> str:
    found = [h for h in response_headers if h.startswith(name + "=")]
    assert found, response_headers
    return found[-1]


def test_session_cookie_flags(app: Flask, anonymous: Browser) -> None:
    ensure_user(app, "ann", "analyst")
    response = anonymous.sign_in("ann")
    cookie = _session_cookie(response.headers.getlist("Set-Cookie"), "rulebook_session")
    flags = [part.strip().lower() for part in cookie.split(";")]
    assert "httponly" in flags
    assert "samesite=lax" in flags
    assert "path=/" in flags
    assert "secure" not in flags  # off by default, so http://127.0.0.1 works
    assert any(f.startswith("expires=") for f in flags)  # a lifetime, not a browser session


def test_secure_cookies_when_configured(db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    assert session_config({})["SESSION_COOKIE_SECURE"] is False
    monkeypatch.setenv("RULEBOOK_SECURE_COOKIES", "1")
    app = make_app(db_url)
    try:
        assert app.config["SESSION_COOKIE_SECURE"] is True
        ensure_user(app, "ann", "analyst")
        client = app.test_client()
        # The token page is fetched over https too, as a browser would with Secure cookies.
        token = csrf_token(
            client.get("/login", base_url="https://localhost").get_data(as_text=True)
        )
        response = client.post(
            "/login",
            base_url="https://localhost",
            headers={"Referer": "https://localhost/login"},
            data={"username": "ann", "password": PASSWORD, "csrf_token": token},
        )
        assert response.status_code == 302, response.get_data(as_text=True)
        cookie = _session_cookie(response.headers.getlist("Set-Cookie"), "__Host-rulebook")
        flags = [part.strip().lower() for part in cookie.split(";")]
        assert "secure" in flags
        assert "httponly" in flags
        assert "samesite=lax" in flags
        assert not any(f.startswith("domain=") for f in flags)
    finally:
        db_of(app).dispose()


def test_signing_in_starts_a_new_session(app: Flask, anonymous: Browser) -> None:
    """Session fixation: nothing set before sign-in survives it, the CSRF token included."""
    ensure_user(app, "ann", "analyst")
    token_before = anonymous.token()
    with anonymous.client.session_transaction() as sess:
        sess["planted"] = "by an attacker"
        raw_before = sess["csrf_token"]
    cookie_before = anonymous.client.get_cookie("rulebook_session")
    assert cookie_before is not None
    anonymous.sign_in("ann")
    with anonymous.client.session_transaction() as sess:
        assert "planted" not in sess
        assert sess.get("csrf_token") != raw_before
        assert isinstance(sess[SESSION_TOKEN], str)
    cookie_after = anonymous.client.get_cookie("rulebook_session")
    assert cookie_after is not None
    assert cookie_after.value != cookie_before.value
    # The token from before sign-in no longer works.
    response = anonymous.post("/logout", {"csrf_token": token_before})
    assert response.status_code == 400
    assert signed_in(anonymous)


def test_a_disabled_user_is_signed_out_at_the_next_click(
    app: Flask, login: Callable[..., Browser]
) -> None:
    ann = login("analyst", username="ann")
    admin = login("admin")
    assert signed_in(ann)
    assert admin.post("/admin/users/ann/disable").status_code == 302
    response = ann.get("/")
    assert response.status_code == 302
    assert response.location.startswith("/login")


def test_a_role_change_applies_at_the_next_click(app: Flask, login: Callable[..., Browser]) -> None:
    ann = login("analyst", username="ann")
    admin = login("admin")
    assert ann.get("/audit").status_code == 403
    admin.post("/admin/users/ann/role", {"role": "auditor"})
    assert ann.get("/audit").status_code == 200


def test_a_session_ends_twelve_hours_after_sign_in(
    app: Flask, login: Callable[..., Browser], clock: Clock
) -> None:
    ann = login("analyst", username="ann")
    clock.advance(hours=6)
    assert signed_in(ann)  # a click within the idle limit (8 h) ...
    clock.advance(hours=5, minutes=59)
    assert signed_in(ann)  # each click refreshes the idle timeout, not the hard limit
    clock.advance(minutes=2)
    response = ann.get("/")
    assert response.status_code == 302
    assert response.location.startswith("/login")


def test_a_session_ends_after_eight_idle_hours(
    app: Flask, login: Callable[..., Browser], clock: Clock
) -> None:
    ann = login("analyst", username="ann")
    clock.advance(hours=3)
    assert signed_in(ann)
    clock.advance(hours=7, minutes=59)  # last active 7:59 ago: still in
    assert signed_in(ann)
    bob = login("analyst", username="bob")
    clock.advance(hours=1)
    assert signed_in(bob)
    clock.advance(hours=8, minutes=1)  # 9:01 after sign-in, well within 12 hours
    assert not signed_in(bob)


@pytest.mark.parametrize("secure", [True, False])
def test_hsts_on_every_response_only_over_https(
    db_url: str, monkeypatch: pytest.MonkeyPatch, secure: bool
) -> None:
    """With RULEBOOK_SECURE_COOKIES=1 every response — pages, the sign-in redirect, the API,
    its errors, health and static files — carries HSTS; on plain-HTTP development, none."""
    monkeypatch.setenv("RULEBOOK_SECURE_COOKIES", "1" if secure else "0")
    app = make_app(db_url)
    try:
        client = app.test_client()
        base = "https://localhost" if secure else "http://localhost"
        responses = {
            path: client.get(path, base_url=base)
            for path in (
                "/login",
                "/",
                "/nowhere",
                "/api/v1/openapi.json",
                "/api/v1/rulesets",
                "/healthz",
                "/static/app.css",
            )
        }
        assert responses["/"].status_code == 302
        assert responses["/nowhere"].status_code == 404
        assert responses["/api/v1/rulesets"].status_code == 401
        for path, response in responses.items():
            response.close()  # the static file's
            found = response.headers.get("Strict-Transport-Security")
            assert found == (HSTS if secure else None), path
        assert HSTS == "max-age=31536000; includeSubDomains"
    finally:
        db_of(app).dispose()


class TestThrottling:
    """3 free failures per (username, address) here, then 1 s, 2 s, 4 s...; 6 per address."""

    @pytest.fixture(autouse=True)
    def _limits(self, app: Flask, clock: Clock) -> None:
        app.config.update(LOGIN_MAX_FAILURES=3, LOGIN_MAX_FAILURES_PER_ADDRESS=6)
        ensure_user(app, "ann", "analyst")
        ensure_user(app, "bob", "approver")

    def test_delays_grow_after_the_free_failures(self, anonymous: Browser, clock: Clock) -> None:
        for _ in range(3):
            assert anonymous.sign_in("ann", "wrong password").status_code == 422
        # Paused now: even the right password is refused, without being checked.
        response = anonymous.sign_in("ann")
        assert response.status_code == 429
        text = response.get_data(as_text=True)
        assert "Too many failed sign-ins for this username from your network address" in text
        assert "try again in 1 second." in text
        assert response.headers["Retry-After"] == "1"
        for wait in (1, 2, 4):
            clock.advance(seconds=wait)
            assert anonymous.sign_in("ann", "wrong password").status_code == 422
            refused = anonymous.sign_in("ann")
            assert refused.status_code == 429
            assert refused.headers["Retry-After"] == str(wait * 2)
        clock.advance(seconds=7.5)
        assert anonymous.sign_in("ann").status_code == 429  # refusals do not extend it
        clock.advance(seconds=0.5)
        assert anonymous.sign_in("ann").status_code == 302

    def test_the_delay_stops_at_its_cap(self, app: Flask, anonymous: Browser, clock: Clock) -> None:
        app.config.update(LOGIN_MAX_DELAY_SECONDS=150, LOGIN_MAX_FAILURES_PER_ADDRESS=100)
        for _ in range(12):  # 2 ** (12 - 3) s would be 512 s
            assert anonymous.sign_in("ann", "wrong password").status_code == 422
            clock.advance(seconds=150)
        clock.advance(seconds=-150)
        refused = anonymous.sign_in("ann")
        assert refused.status_code == 429
        assert refused.headers["Retry-After"] == "150"
        assert "try again in 3 minutes." in refused.get_data(as_text=True)
        clock.advance(seconds=150)
        assert anonymous.sign_in("ann").status_code == 302

    def test_an_attacker_cannot_lock_anyone_out(self, app: Flask) -> None:
        """Issue 12.11: failures for ann from the attacker's address refuse the attacker, not
        ann elsewhere; nor bob, whose pair has no failures, at the attacker's own address."""
        attacker = Browser(app.test_client())
        at = {"environ_base": {"REMOTE_ADDR": "203.0.113.66"}}
        statuses = [attacker.sign_in("ann", f"guess {n}", **at).status_code for n in range(10)]
        assert statuses == [422] * 3 + [429] * 7
        ann = Browser(app.test_client())
        assert ann.sign_in("ann", environ_base={"REMOTE_ADDR": "198.51.100.7"}).status_code == 302
        bob = Browser(app.test_client())
        assert bob.sign_in("bob", **at).status_code == 302

    def test_spraying_from_one_address_is_slowed(self, app: Flask, clock: Clock) -> None:
        sprayer = Browser(app.test_client())
        for n in range(6):
            assert sprayer.sign_in(f"user{n}", "Winter2026!").status_code == 422
        response = sprayer.sign_in("user0", "Spring2026!")  # a second guess for a failed pair
        assert response.status_code == 429
        assert "Too many failed sign-ins from your network address" in response.get_data(
            as_text=True
        )
        assert response.headers["Retry-After"] == "1"
        # A different client behind the same address signs in with its own password.
        same_nat = Browser(app.test_client())
        assert same_nat.sign_in("bob").status_code == 302
        clock.advance(seconds=1)
        assert sprayer.sign_in("user0", "Spring2026!").status_code == 422

    def test_a_success_clears_the_pair(self, app: Flask, anonymous: Browser) -> None:
        for _ in range(2):
            anonymous.sign_in("ann", "wrong password")
        assert anonymous.sign_in("ann").status_code == 302
        with db_of(app).session() as s:
            assert s.scalars(select(LoginThrottle.username)).all() == [""]  # the address's row
        second = Browser(app.test_client())
        for _ in range(3):
            assert second.sign_in("ann", "wrong password").status_code == 422
        assert second.sign_in("ann").status_code == 429

    def test_workers_share_the_count(self, app: Flask, db_url: str, clock: Clock) -> None:
        """Two apps on one database stand for two gunicorn workers."""
        other = make_app(db_url, CLOCK=clock, LOGIN_MAX_FAILURES=3)
        try:
            first, second = Browser(app.test_client()), Browser(other.test_client())
            for n in range(3):
                browser = first if n % 2 else second
                assert browser.sign_in("ann", "wrong password").status_code == 422
            with db_of(app).session() as s:
                failures = s.scalar(
                    select(LoginThrottle.failures).where(LoginThrottle.username == "ann")
                )
            assert failures == 3
            assert first.sign_in("ann").status_code == 429
            assert second.sign_in("ann").status_code == 429
        finally:
            db_of(other).dispose()

    def test_old_counts_are_pruned(self, app: Flask, anonymous: Browser, clock: Clock) -> None:
        for _ in range(3):
            anonymous.sign_in("ann", "wrong password")
        clock.advance(hours=25)
        anonymous.sign_in("bob", "wrong password")
        with db_of(app).session() as s:
            assert sorted(s.scalars(select(LoginThrottle.username))) == ["", "bob"]

    def test_failures_and_pauses_go_into_the_audit_chain(
        self, app: Flask, anonymous: Browser
    ) -> None:
        for n in range(3):
            anonymous.sign_in("ann", f"secret guess {n}")
        for _ in range(5):
            assert anonymous.sign_in("ann", "secret guess 9").status_code == 429
        with db_of(app).session() as s:
            found = [e for e in audit.events(s) if e.action.startswith("auth.")]
            exported = audit.export(s)
            assert audit.verify(s).ok
        assert [e.action for e in found] == ["auth.sign_in_failed"] * 3 + ["auth.throttled"]
        assert {(e.actor, e.subject) for e in found} == {("anonymous", "user:ann")}
        assert found[0].payload == {
            "username": "ann",
            "address": "127.0.0.1",
            "form": "sign-in",
            "failures": 1,
        }
        assert found[3].payload == {
            "username": "ann",
            "address": "127.0.0.1",
            "form": "sign-in",
            "scope": "pair",
            "failures": 3,
            "retry_after_seconds": 1,
        }
        assert "secret guess" not in exported


def test_behind_a_proxy_the_throttle_counts_the_client_address(db_url: str) -> None:
    """With RULEBOOK_PROXY_HOPS=1 (here PROXY_HOPS), X-Forwarded-For names the client."""
    app = make_app(db_url, PROXY_HOPS=1)
    try:
        ensure_user(app, "ann", "analyst")
        browser = Browser(app.test_client())
        forwarded = {"X-Forwarded-For": "203.0.113.5"}
        browser.sign_in("nobody", "wrong password", headers=forwarded)
        with db_of(app).session() as s:
            assert set(s.scalars(select(LoginThrottle.address))) == {"203.0.113.5"}
    finally:
        with db_of(app).session() as s:
            s.execute(delete(LoginThrottle))
        db_of(app).dispose()
